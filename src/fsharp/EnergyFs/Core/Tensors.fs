namespace EnergyFs

open System
open TorchSharp

/// Short name for TorchSharp's tensor type.
type Tensor = torch.Tensor

/// Curried, data-last tensor functions that need no type annotations from F#: TorchSharp's
/// overloads (Scalar versus Tensor, long[] versus ReadOnlySpan) often leave F# unable to choose.
/// Every function returns a new tensor and never disposes its inputs.
[<RequireQualifiedAccess>]
module Tensor =

    // ---- creation -------------------------------------------------------------------------------

    // The creation functions call Runtime.ensureNative first: when libtorch cannot be loaded, the first
    // tensor fails with a DllNotFoundException that says why, not with TorchSharp's type-initialization error.

    /// A 0-dimensional tensor holding `value`.
    let scalar (ctx: Context) (value: float) = Runtime.ensureNative (); torch.tensor (value, dtype = ctx.DType, device = ctx.Device)

    /// A 1-D tensor of the values.
    let ofArray (ctx: Context) (values: float[]) = Runtime.ensureNative (); torch.tensor (values, dtype = ctx.DType, device = ctx.Device)

    /// A 2-D tensor of the rows (all of the same length).
    let ofArray2D (ctx: Context) (values: float[,]) = Runtime.ensureNative (); torch.tensor (values, dtype = ctx.DType, device = ctx.Device)

    /// A 2-D tensor from jagged rows; fails naming the first row whose length differs.
    let ofRows (ctx: Context) (rows: float[][]) =
        if rows.Length = 0 then invalidArg "rows" "ofRows needs at least one row"
        let width = rows[0].Length
        rows |> Array.iteri (fun i r ->
            if r.Length <> width then invalidArg "rows" (sprintf "row %d has %d values but row 0 has %d" i r.Length width))
        ofArray2D ctx (Array2D.init rows.Length width (fun i j -> rows[i][j]))

    /// Zeros of the given shape.
    let zeros (ctx: Context) (shape: int64 list) = Runtime.ensureNative (); torch.zeros (Array.ofList shape, dtype = ctx.DType, device = ctx.Device)

    /// Ones of the given shape.
    let ones (ctx: Context) (shape: int64 list) = Runtime.ensureNative (); torch.ones (Array.ofList shape, dtype = ctx.DType, device = ctx.Device)

    /// A tensor of the given shape filled with `value`.
    let full (ctx: Context) (shape: int64 list) (value: float) =
        Runtime.ensureNative ()
        Pinned.using value (fun v -> torch.full (Array.ofList shape, v, dtype = ctx.DType, device = ctx.Device))

    /// Standard normal samples drawn from `rng`.
    let randn (rng: Rng) (ctx: Context) (shape: int64 list) =
        torch.randn (Array.ofList shape, dtype = ctx.DType, device = ctx.Device, generator = rng.Generator)

    /// Uniform samples on [0, 1) drawn from `rng`.
    let rand (rng: Rng) (ctx: Context) (shape: int64 list) =
        torch.rand (Array.ofList shape, dtype = ctx.DType, device = ctx.Device, generator = rng.Generator)

    /// Uniform samples on [low, high) drawn from `rng`.
    let uniform (rng: Rng) (ctx: Context) (low: float) (high: float) (shape: int64 list) =
        use u = rand rng ctx shape
        u * (high - low) + low

    /// A random permutation of 0 .. n-1 (int64) drawn from `rng`.
    let randperm (rng: Rng) (device: torch.Device) (n: int64) =
        torch.randperm (n, generator = rng.Generator, dtype = torch.ScalarType.Int64, device = device)

    /// An int64 index tensor.
    let indices (device: torch.Device) (idx: int64[]) = Runtime.ensureNative (); torch.tensor (idx, dtype = torch.ScalarType.Int64, device = device)

    // ---- reading back ---------------------------------------------------------------------------

    /// The value of a one-element tensor as a float.
    let toScalar (t: Tensor) = t.ToDouble()

    /// All values, flattened in row-major order, as floats.
    let toArray (t: Tensor) : float[] =
        // TorchSharp's accessor fails on a tensor with no entries (a dimension of size 0).
        if t.numel () = 0L then [||] else
        use c = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous()
        c.data<float>().ToArray()

    /// The values of a 2-D tensor.
    let toArray2D (t: Tensor) : float[,] =
        if t.dim() <> 2L then invalidArg "t" (sprintf "toArray2D needs a 2-D tensor, got shape %s" (Checks.shapeText t.shape))
        let flat = toArray t
        let cols = int t.shape[1]
        Array2D.init (int t.shape[0]) cols (fun i j -> flat[i * cols + j])

    /// The rows of a 2-D tensor as jagged float arrays (the inverse of `ofRows`).
    let toRows (t: Tensor) : float[][] =
        let a = toArray2D t
        Array.init (Array2D.length1 a) (fun i -> Array.init (Array2D.length2 a) (fun j -> a[i, j]))

    /// The shape as an F# list.
    let shape (t: Tensor) = List.ofArray t.shape

    /// Size of dimension 0.
    let rows (t: Tensor) = t.shape[0]

    // ---- elementwise ----------------------------------------------------------------------------

    /// t^e elementwise.
    let pow (e: float) (t: Tensor) = Pinned.pow e t
    /// t² elementwise.
    let square (t: Tensor) = t.square ()
    /// √t elementwise.
    let sqrt (t: Tensor) = t.sqrt ()
    /// exp t elementwise.
    let exp (t: Tensor) = t.exp ()
    /// log t elementwise.
    let log (t: Tensor) = t.log ()
    /// |t| elementwise.
    let abs (t: Tensor) = t.abs ()
    /// max(t, 0) elementwise.
    let relu (t: Tensor) = torch.nn.functional.relu t
    /// 1 / (1 + e^−t) elementwise.
    let sigmoid (t: Tensor) = t.sigmoid ()
    /// log(1 + e^t) elementwise, computed stably.
    let softplus (t: Tensor) = torch.nn.functional.softplus t
    /// log(1 + e^t) elementwise with no cut-off, as logaddexp(t, 0) = max(t, 0) + log1p(e^−|t|):
    /// exact to rounding for every t (about 1e-16 relative in float64), and its autograd gradient
    /// is sigmoid t everywhere, t = 0 included. `softplus` is torch's, which returns t itself for
    /// t > 20 (an error of log1p(e^−t), up to 2.1e-9); it is kept for the energies and networks
    /// built on it, whose numbers must not move. Used where softplus is a value being reported,
    /// e.g. the Fermi-Dirac conjugate Ω*(θ) = Σ log(1 + e^θᵢ) (Blondel et al. 2020, Table 1).
    let softplusExact (t: Tensor) =
        // A 0-d zero broadcast against t: no [n, k] buffer of zeros per call.
        use zero = torch.zeros ([||], dtype = t.dtype, device = t.device)
        torch.logaddexp (t, zero)
    /// tanh t elementwise.
    let tanh (t: Tensor) = t.tanh ()
    /// min(max(t, low), high) elementwise.
    let clamp (low: float) (high: float) (t: Tensor) =
        Pinned.clamp low high t
    /// max(t, low) elementwise.
    let clampMin (low: float) (t: Tensor) = Pinned.clampMin low t
    /// x·log x with 0·log 0 = 0, elementwise, computed as x·log max(x, tiny), tiny the dtype's
    /// smallest normal number: the same value at x = 0 and for x ≥ tiny (below it, within
    /// x·|log x| < 1e-35), and the finite derivative log x + 1 down to tiny, where xlogy(x, x)
    /// differentiates to NaN at 0. Vectorized log and multiply: libtorch's xlogy is a scalar loop
    /// (the Fermi-Dirac Ω of a [1024, 159] batch: 1.8 → 0.25 ms). x < 0 is outside the domain
    /// (entropies check their arguments): it gives a finite number where xlogy gave NaN.
    let xlogx (t: Tensor) =
        let tiny =
            match t.dtype with
            | torch.ScalarType.Float64 -> 2.2250738585072014e-308
            | torch.ScalarType.Float16 -> 6.103515625e-05
            | _ -> 1.1754943508222875e-38
        t * (Pinned.clampMin tiny t).log ()

    // ---- reductions -----------------------------------------------------------------------------

    /// Sum of all entries (0-D).
    let sum (t: Tensor) = t.sum ()
    /// Sum over `dim` (the dimension is dropped).
    let sumDim (dim: int) (t: Tensor) = t.sum (int64 dim, false)
    /// Sum over `dim`, keeping it with size 1.
    let sumDimKeep (dim: int) (t: Tensor) = t.sum (int64 dim, true)
    /// Mean of all entries (0-D).
    let mean (t: Tensor) = t.mean ()
    /// Mean over `dim` (the dimension is dropped).
    let meanDim (dim: int) (t: Tensor) = t.mean ([| int64 dim |], false)
    /// Maximum over `dim` (values only).
    let maxDim (dim: int) (t: Tensor) =
        let struct (values, indices) = t.max (int64 dim, false)
        indices.Dispose ()
        values
    /// log Σ exp over `dim`, computed stably.
    let logsumexp (dim: int) (t: Tensor) = t.logsumexp (int64 dim, false)
    /// Euclidean norm over `dim`.
    let normDim (dim: int) (t: Tensor) = torch.linalg.vector_norm (t, 2.0, [| int64 dim |], false)

    // ---- linear algebra -------------------------------------------------------------------------

    /// Matrix product a · b (batched when either has more than 2 dimensions).
    let matmul (a: Tensor) (b: Tensor) = a.matmul b
    /// Inner product over the last dimension: ⟨a, b⟩ per row.
    let dot (a: Tensor) (b: Tensor) = (a * b).sum (-1L, false)
    /// Rows rescaled to unit Euclidean norm.
    let normalizeRows (t: Tensor) = torch.nn.functional.normalize (t, p = 2.0, dim = -1L)
    /// Transpose of a 2-D tensor.
    let transpose (t: Tensor) = t.t ()

    // ---- shape ----------------------------------------------------------------------------------

    /// Reshape (−1 infers one dimension).
    let reshape (shape: int64 list) (t: Tensor) = t.reshape (Array.ofList shape)
    /// Insert a dimension of size 1 at `dim`.
    let unsqueeze (dim: int) (t: Tensor) = t.unsqueeze (int64 dim)
    /// Concatenate along `dim`.
    let cat (dim: int) (ts: Tensor list) = torch.cat (ResizeArray ts, int64 dim)
    /// Stack along a new dimension `dim`.
    let stack (dim: int) (ts: Tensor list) = torch.stack (ResizeArray ts, int64 dim)
    /// Rows selected by int64 indices.
    let selectRows (idx: Tensor) (t: Tensor) = t.index_select (0L, idx)
    /// Rows start .. start+count−1 (a view).
    let sliceRows (start: int64) (count: int64) (t: Tensor) = t.narrow (0L, start, count)

    // ---- graph ----------------------------------------------------------------------------------

    /// A tensor sharing storage but outside the autograd graph.
    let detach (t: Tensor) = t.detach ()
    /// A detached copy with its own storage.
    let copy (t: Tensor) =
        use d = t.detach ()
        d.clone ()
    /// Moves to the context's device and dtype.
    let toContext (ctx: Context) (t: Tensor) = t.``to``(ctx.DType, ctx.Device)

    // ---- predicates -----------------------------------------------------------------------------

    /// True when every entry is finite.
    let isFinite (t: Tensor) =
        use f = torch.isfinite t
        use a = f.all ()
        a.item<bool> ()

    /// Largest absolute entrywise difference.
    let maxAbsDiff (a: Tensor) (b: Tensor) =
        use d = (a - b).abs().max()
        d.ToDouble()

    /// True when |a − b| ≤ atol + rtol·|b| entrywise.
    let allClose (rtol: float) (atol: float) (a: Tensor) (b: Tensor) = a.allclose (b, rtol, atol)
