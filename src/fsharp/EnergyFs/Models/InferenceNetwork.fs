namespace EnergyFs.Models

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Models

/// Inference networks (Tu & Gimpel 2018, arXiv 1803.03376, §2): amortised inference
/// A_ψ(x) ≈ argmin_{ȳ ∈ [0,1]^L} E_θ(x, ȳ), an MLP with a sigmoid output initialised from a
/// pretrained classifier, with its regularisers.
[<RequireQualifiedAccess>]
module InferenceNetwork =

    /// A_ψ(x) = σ(MLP_ψ(x)) ∈ (0,1)^{n×L}.
    let predict (psi: Tensor list) (x: Tensor) : Tensor = Tensor.sigmoid (FunctionalMlp.forward psi x)

    /// A new inference network started from a classifier's weights (independent copies).
    let initFrom (classifier: Parameter list) : Parameter list = FunctionalMlp.copy classifier

    /// Binary entropy H(ȳ) = −Σ_i [ȳ_i log ȳ_i + (1 − ȳ_i) log(1 − ȳ_i)] per example (0 at
    /// discrete outputs, L·log 2 at ȳ = ½). Penalising it pushes outputs toward {0,1}.
    let entropy (yBar: Tensor) : Tensor =
        let p = Tensor.clamp 1e-7 (1.0 - 1e-7) yBar
        -(Tensor.sumDim -1 (Tensor.xlogx p + Tensor.xlogx (1.0 - p)))

    /// ‖ψ − ψ₀‖² summed over blocks: the pull toward the pretrained weights ψ₀.
    let pullToward (psi0: Tensor list) (psi: Tensor list) : Tensor =
        if psi0.Length <> psi.Length then invalidArg "psi0" (sprintf "%d reference blocks for %d parameters" psi0.Length psi.Length)
        List.map2 (fun (p: Tensor) (p0: Tensor) -> Tensor.sum (Tensor.square (p - p0.detach ()))) psi psi0 |> List.reduce (+)

    /// The energy-minimisation objective of an inference network ȳ = A_ψ(x) = `predict ψ x` whose
    /// outputs have the per-example entropy `entropy ȳ` (Tu & Gimpel 2018, eq. 6, with their
    /// entropy and pretrained-weight regularisers):
    ///   mean_x E_θ(x, A_ψ(x)) + τ mean_x H(A_ψ(x)) + λ ‖ψ − ψ₀‖².
    /// The output structure is the caller's: sigmoid outputs with the binary entropy (`objective`)
    /// or per-position softmax outputs of a tagger with the Shannon entropy of each position.
    let objectiveWith (predict: Tensor list -> Tensor -> Tensor) (entropy: Tensor -> Tensor) (entropyWeight: float) (pullWeight: float)
                      (psi0: Tensor list) (energy: Tensor -> Tensor) (psi: Tensor list) (x: Tensor) : Tensor =
        let y = predict psi x
        let e = Tensor.mean (energy y)
        let withEntropy = if entropyWeight = 0.0 then e else e + Tensor.mean (entropy y) * entropyWeight
        if pullWeight = 0.0 then withEntropy else withEntropy + pullToward psi0 psi * pullWeight

    /// The objective of this module's sigmoid network (`objectiveWith predict entropy`):
    ///   mean_x E_θ(x, A_ψ(x)) + τ mean_x H(A_ψ(x)) + λ ‖ψ − ψ₀‖².
    /// τ > 0 penalises entropy (pushes outputs toward {0,1}); τ < 0 smooths, and τ = −1 makes the
    /// optimum of a purely local energy the classifier's sigmoid (as entropic mirror descent does).
    /// `energy` maps (examples' outputs ȳ) to per-example energies.
    let objective (entropyWeight: float) (pullWeight: float) (psi0: Tensor list) (energy: Tensor -> Tensor) (psi: Tensor list) (x: Tensor) : Tensor =
        objectiveWith predict entropy entropyWeight pullWeight psi0 energy psi x
