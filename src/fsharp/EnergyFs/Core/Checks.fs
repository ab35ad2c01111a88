namespace EnergyFs

open System
open TorchSharp

/// Raised when a file cannot be read as the format it claims to be. The message names the file and
/// the line, and says what was expected there. It is a System.FormatException, so .NET callers can
/// catch it without referring to EnergyFs.
type DataFormatException(file: string, line: int, message: string) =
    inherit FormatException(if line > 0 then sprintf "%s:%d: %s" file line message else sprintf "%s: %s" file message)
    /// The file that failed to parse.
    member _.File = file
    /// The 1-based line where the problem is (0 when it concerns the whole file).
    member _.Line = line
    /// What went wrong, without the location prefix.
    member _.Reason = message

/// Argument and shape checks that fail with messages naming the argument and the shapes involved,
/// so that bad input never reaches libtorch (whose errors name neither).
module Checks =

    /// Formats a shape as [a, b, c].
    let shapeText (shape: int64[]) = "[" + String.Join(", ", shape) + "]"

    /// Fails with ArgumentException naming `argument`.
    let fail argument (message: string) : 'a = raise (ArgumentException(message, (argument: string)))

    /// Requires `condition`, else fails naming `argument`.
    let require argument condition message = if not condition then fail argument message

    /// Requires a strictly positive, finite number.
    let positive argument (value: float) =
        if not (value > 0.0) || Double.IsInfinity value then
            fail argument (sprintf "%s must be a positive finite number, got %g" argument value)

    /// Requires a finite number that is ≥ 0.
    let nonNegative argument (value: float) =
        if not (value >= 0.0) || Double.IsInfinity value then
            fail argument (sprintf "%s must be a finite number ≥ 0, got %g" argument value)

    /// Requires an integer ≥ 1.
    let positiveInt argument (value: int) =
        if value < 1 then fail argument (sprintf "%s must be ≥ 1, got %d" argument value)

    /// Requires the tensor to have exactly `rank` dimensions.
    let rank argument (expected: int) (t: torch.Tensor) =
        if int (t.dim()) <> expected then
            fail argument (sprintf "%s must have %d dimension(s), got shape %s" argument expected (shapeText t.shape))

    /// Requires the tensor's size along `dim` to equal `size`.
    let dimSize argument (dim: int) (size: int64) (t: torch.Tensor) =
        let d = if dim < 0 then int (t.dim()) + dim else dim
        if d < 0 || d >= int (t.dim()) || t.shape[d] <> size then
            fail argument (sprintf "%s must have size %d along dimension %d, got shape %s" argument size dim (shapeText t.shape))

    /// Requires two tensors to have the same shape.
    let sameShape (argA: string) (a: torch.Tensor) (argB: string) (b: torch.Tensor) =
        if a.shape <> b.shape then
            fail argB (sprintf "%s has shape %s but %s has shape %s; they must match" argA (shapeText a.shape) argB (shapeText b.shape))

    /// Requires two tensors to have the same number of rows (size of dimension 0).
    let sameRows (argA: string) (a: torch.Tensor) (argB: string) (b: torch.Tensor) =
        if a.dim() = 0L || b.dim() = 0L || a.shape[0] <> b.shape[0] then
            fail argB (sprintf "%s (shape %s) and %s (shape %s) must have the same number of rows" argA (shapeText a.shape) argB (shapeText b.shape))

    /// Where the first non-finite entry of `t` is and what it is, e.g. "the first, NaN, is at row 2,
    /// column 0" (row-major order; "at index [i, j, l]" beyond two dimensions). Only for messages:
    /// it reads the tensor back, so call it once a cheap check has failed.
    let firstNonFinite (t: torch.Tensor) : string =
        use fin = torch.isfinite t
        use notFinite = fin.logical_not ()
        use positions = notFinite.nonzero ()
        if positions.shape[0] = 0L then "every entry is finite"
        else
            use onHost = positions.cpu ()
            let index = onHost.data<int64>().ToArray() |> Array.truncate (int (t.dim ()))
            let offset = Array.fold2 (fun acc i (size: int64) -> acc * size + i) 0L index t.shape
            use detached = t.detach ()
            use flat = detached.reshape ([| -1L |])
            use entry = flat[offset]
            use entryOnHost = entry.cpu ()
            use entry64 = entryOnHost.to_type torch.ScalarType.Float64
            let value = entry64.item<float> ()
            let what = if Double.IsNaN value then "NaN" elif value > 0.0 then "+Inf" else "-Inf"
            let where =
                match index with
                | [||] -> "the scalar"
                | [| i |] -> sprintf "position %d" i
                | [| i; j |] -> sprintf "row %d, column %d" i j
                | _ -> sprintf "index %s" (shapeText index)
            sprintf "the first, %s, is at %s" what where

    /// Requires every entry of the tensor to be finite (no NaN, no ±Inf): one sum and one
    /// read-back (a NaN or an infinity makes the sum non-finite; a finite sum proves every entry
    /// finite), and only when the sum is not finite (a bad entry, or finite entries whose sum
    /// overflows) isfinite().all(); the message says how many entries are not finite, the shape,
    /// and where the first is and what it is (NaN, +Inf or -Inf). The sum is one vectorized pass:
    /// 0.32 → 0.1 ms on a [1024, 159] float32 batch.
    let finite argument (t: torch.Tensor) =
        let sumIsFinite () =
            use _ = torch.no_grad()
            use s = t.sum()
            System.Double.IsFinite (s.ToDouble())
        if t.is_floating_point() && not (sumIsFinite ()) then
            use fin = torch.isfinite t
            use ok = fin.all()
            if not (ok.item<bool>()) then
                use notFinite = fin.logical_not()
                use bad = notFinite.sum()
                fail argument (sprintf "%s contains %d non-finite value(s) (NaN or Inf); shape %s; %s" argument (bad.item<int64>()) (shapeText t.shape) (firstNonFinite t))

    /// `finite` for several tensors with one read-back when all are finite (the common case): the
    /// sum of their sums is finite only if every entry is; otherwise `finite` on each names the
    /// first argument with a non-finite entry.
    let allFinite (arguments: (string * torch.Tensor) list) =
        let floating = arguments |> List.filter (fun (_, t) -> t.is_floating_point ())
        let sumsAreFinite () =
            use _ = torch.no_grad ()
            use _ = torch.NewDisposeScope ()
            let total = floating |> List.map (fun (_, t) -> t.sum ()) |> List.reduce (fun a b -> a + b)
            System.Double.IsFinite (total.ToDouble ())
        if not floating.IsEmpty && not (sumsAreFinite ()) then
            for argument, t in floating do finite argument t

    /// Requires a tensor with at least one entry and no dimension of size 0 (an empty batch, or
    /// rows of length 0, would otherwise reach libtorch reductions that fail without naming it).
    let nonEmpty argument (t: torch.Tensor) =
        if t.shape |> Array.exists (fun s -> s = 0L) then
            fail argument (sprintf "%s is empty (shape %s); every dimension needs size ≥ 1" argument (shapeText t.shape))
