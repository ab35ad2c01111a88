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

    /// Requires every entry of the tensor to be finite (no NaN, no ±Inf).
    let finite argument (t: torch.Tensor) =
        use fin = torch.isfinite t
        use ok = fin.all()
        if not (ok.item<bool>()) then
            use notFinite = fin.logical_not()
            use bad = notFinite.sum()
            fail argument (sprintf "%s contains %d non-finite value(s) (NaN or Inf); shape %s" argument (bad.item<int64>()) (shapeText t.shape))
