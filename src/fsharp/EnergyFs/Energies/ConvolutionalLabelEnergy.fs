namespace EnergyFs.Energies

open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// The convolutional energy over per-position label distributions (the "CNN" global energy of
/// Tu, Pang & Gimpel 2020, arXiv 2005.04231, §3): h filters spanning k consecutive positions, a
/// softplus, and a weight vector u,
///   E(ȳ) = Σ_w uᵀ softplus(Σ_{j<k} C_{·,·,j} ȳ_{w−k+1+j} + b),
/// over the windows w that touch a real position of the sentence, with ȳ taken as 0 outside the
/// sentence (before its start and from its length on). It reads ȳ at real positions only, and not
/// the features. θ = [C (h × L × k); b (h); u (h)]. With k = 2 it can express label-bigram
/// preferences; larger k reach the higher-order label patterns a linear chain cannot.
[<RequireQualifiedAccess>]
module ConvolutionalLabelEnergy =

    /// Parameters for L labels, h filters of width k, drawn from `rng` (C and b as a Conv1d layer's,
    /// u uniform in ±1/√h).
    let create (rng: Rng) (ctx: Context) (labels: int) (filters: int) (width: int) : Parameter list =
        Checks.positiveInt "labels" labels
        Checks.positiveInt "filters" filters
        Checks.positiveInt "width" width
        let bound = 1.0 / sqrt (float (labels * width))
        let ub = 1.0 / sqrt (float filters)
        [ new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 filters; int64 labels; int64 width ], true)
          new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 filters ], true)
          new Parameter (Tensor.uniform rng ctx (-ub) ub [ int64 filters ], true) ]

    /// E(ȳ) per sentence, [B], for θ = [C; b; u], features [B, T, d] (only their shape is checked),
    /// mask [B, T] and ȳ [B, T, L].
    let energy (theta: Tensor list) (features: Tensor) (mask: Tensor) (y: Tensor) : Tensor =
        match theta with
        | [ c; b; u ] ->
            SequenceShapes.check features mask y
            Checks.rank "theta[0]" 3 c
            if c.shape[1] <> y.shape[2] then
                invalidArg "y" (sprintf "the filters read %d labels, y has shape %s" c.shape[1] (Checks.shapeText y.shape))
            let k = c.shape[2]
            // ȳ with the padding zeroed, then k − 1 zeros on both sides of the time axis: window w
            // covers positions w − k + 1 … w, for w = 0 … T + k − 2. The windows are unfolded and
            // multiplied with the filters (a matmul, not conv1d: libtorch 2.10's CPU conv1d
            // backward returned NaN at random on these shapes, [B, L, T] inputs with L = 17).
            let padded = torch.nn.functional.pad (SequenceShapes.masked mask y, [| 0L; 0L; k - 1L; k - 1L |])
            let windows = padded.unfold (1L, k, 1L)
            let flat = windows.reshape ([| windows.shape[0]; windows.shape[1]; c.shape[1] * k |])
            let responses = Tensor.matmul flat (Tensor.transpose (c.reshape ([| c.shape[0]; c.shape[1] * k |]))) + b
            let perWindow = Tensor.matmul (Tensor.softplus responses) u
            // Window w touches the sentence iff w − k + 1 < n, i.e. w < n + k − 1.
            let window = (torch.arange (0L, perWindow.shape[1], dtype = torch.ScalarType.Int64, device = y.device)).unsqueeze 0L
            let live = window.lt ((SequenceShapes.lengths mask).unsqueeze 1L + (k - 1L))
            Tensor.sumDim 1 (perWindow * live.to_type y.dtype)
        | _ -> invalidArg "theta" (sprintf "convolutional energy parameters are [C; b; u], got %d blocks" theta.Length)

    /// The term (3 blocks) for composition (`SequenceEnergy`).
    let term : SequenceEnergyTerm = { Name = "conv"; Blocks = 3; Energy = energy }
