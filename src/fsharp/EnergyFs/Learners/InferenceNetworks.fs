namespace EnergyFs.Learners

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Losses

/// Options of joint training of a SPEN and an inference network (Tu & Gimpel 2018).
type InferenceNetworkOptions =
    { /// Passes over the training examples.
      Epochs: int
      /// Examples per step.
      BatchSize: int
      /// Optimizer of the energy θ.
      EnergyOptimizer: OptimizerOptions
      /// Optimizer of the cost-augmented inference network Φ (and of Ψ when retuning).
      NetworkOptimizer: OptimizerOptions
      /// The hinge's margin.
      Margin: Margin
      /// τ, weight of the entropy term on the network's outputs (> 0: penalty; < 0: smoothing).
      EntropyWeight: float
      /// λ, weight of ‖Φ − Φ₀‖², the pull toward the pretrained weights.
      PullWeight: float
      /// Epochs of test-time retuning of Ψ with θ fixed (0: use Φ at test time).
      RetuneEpochs: int
      /// When true, the hinge compares the smoothed energy E_θ(x, ȳ) + τH(ȳ) (τ the entropy
      /// weight) of the network's relaxed output with the energy of the gold labels (whose entropy
      /// is 0), and Φ gets no separate entropy term: θ then learns the same smoothed energy that
      /// test-time retuning minimises (as the structured SVM does with its entropy-smoothed
      /// inference). When false, the plain energy goes into the hinge and τH is a separate term of
      /// Φ's loss (the original formulation, eq. 9).
      EntropyInHinge: bool
      /// Seed of the batch order.
      Seed: int64
      /// The energy E_θ(F(x), ȳ) whose parameters θ are trained (default `StructuredEnergy.spen`).
      Energy: StructuredEnergy
      /// The output structure: the networks (an MLP with sigmoid outputs, or a BiLSTM tagger with
      /// per-position softmax outputs), cost and entropy (default `StructuredOutputs.multilabel`).
      Outputs: StructuredOutputs }

/// SPENs (or any `StructuredEnergy`, the options' Energy) trained with inference networks (Tu &
/// Gimpel 2018, arXiv 1803.03376, §3, eq. 9): the min-max game
///   min_θ max_Φ Σ [ m(Δ(F_Φ(x), y)) − E_θ(x, F_Φ(x)) + E_θ(x, y) ]₊ − τ H(F_Φ(x)) − λ‖Φ − Φ₀‖²
/// by alternating gradient steps (Φ ascends the hinge's argument, θ descends the hinge), followed
/// by test-time retuning (§3.3): a test inference network A_Ψ, started from Φ, minimises
///   mean E_θ(x, A_Ψ(x)) + τ H(A_Ψ(x)) + λ‖Ψ − Φ₀‖² with θ fixed.
[<RequireQualifiedAccess>]
module InferenceNetworks =

    /// 20 epochs, batch 32, Adam 1e-3 for θ and 1e-4 for Φ, margin-rescaled, τ = 0.1, λ = 1e-3,
    /// 5 retuning epochs, the SPEN energy.
    let defaults =
        { Epochs = 20; BatchSize = 32; EnergyOptimizer = OptimizerOptions.adam 1e-3; NetworkOptimizer = OptimizerOptions.adam 1e-4
          Margin = MarginRescaled; EntropyWeight = 0.1; PullWeight = 1e-3; RetuneEpochs = 5; EntropyInHinge = false; Seed = 0L
          Energy = StructuredEnergy.spen; Outputs = StructuredOutputs.multilabel }

    /// Label-sequence training (Tu & Gimpel 2018, arXiv 1803.03376, §7): BiLSTM inference networks
    /// with per-position softmax outputs (`StructuredOutputs.sequence`), the Hamming cost, and the
    /// given energy (for example `SequenceEnergy.structured`).
    let sequence (energy: StructuredEnergy) = { defaults with Energy = energy; Outputs = StructuredOutputs.sequence }

    /// The energy the hinge sees for relaxed outputs ȳ: E_θ(x, ȳ) + τH(ȳ) when EntropyInHinge, else
    /// E_θ(x, ȳ) (per example).
    let hingeEnergy (options: InferenceNetworkOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (y: Tensor) : Tensor =
        if options.EntropyInHinge && options.EntropyWeight <> 0.0 then
            options.Energy.Energy theta features mask y + options.Outputs.Entropy mask y * options.EntropyWeight
        else options.Energy.Energy theta features mask y

    /// The loss of Φ on a batch (to minimise): −mean violation + τ mean H + λ‖Φ − Φ₀‖², θ fixed
    /// (with EntropyInHinge the τH term sits inside the violation instead).
    let networkLoss (options: InferenceNetworkOptions) (theta: Tensor list) (phi0: Tensor list) (phi: Tensor list) (b: LabelledExamples) =
        let th = theta |> List.map Tensor.detach
        let y = StructuredOutputs.predict options.Outputs phi b.Mask b.Inputs
        let violation =
            StructuredHinge.violation options.Margin (options.Outputs.Cost b.Mask y b.Labels) (hingeEnergy options th b.Features b.Mask y)
                (options.Energy.Energy th b.Features b.Mask b.Labels)
        let loss = -(Tensor.mean violation) + InferenceNetwork.pullToward phi0 phi * options.PullWeight
        if options.EntropyInHinge then loss else loss + Tensor.mean (options.Outputs.Entropy b.Mask y) * options.EntropyWeight

    /// The loss of θ on a batch (to minimise): the mean hinge at ȳ = F_Φ(x), Φ fixed.
    let energyLoss (options: InferenceNetworkOptions) (theta: Tensor list) (phi: Tensor list) (b: LabelledExamples) =
        let y = Diff.noGrad (fun () -> StructuredOutputs.predict options.Outputs phi b.Mask b.Inputs)
        Tensor.mean (StructuredHinge.hinge options.Margin (options.Outputs.Cost b.Mask y b.Labels) (hingeEnergy options theta b.Features b.Mask y)
                         (options.Energy.Energy theta b.Features b.Mask b.Labels))

    /// The fit-loop task of test-time retuning: Ψ the one group "psi" (NetworkOptimizer), θ fixed,
    /// a step = one descent step on the inference objective (metrics objective, grad_norm); the
    /// starting Ψ is validated too.
    let retuneTask (options: InferenceNetworkOptions) (validate: unit -> float) (theta: Tensor list) (psi0: Tensor list)
                   (psi: Parameter list) (data: LabelledExamples) : StepTask<Tensor> =
        let th = theta |> List.map Tensor.detach
        let ps = Structured.tensors psi
        let n = Structured.count data
        { Groups = [ ParameterGroup.ofParameters "psi" options.NetworkOptimizer psi ]
          Batches = fun rng _ -> Batches.shuffled rng data.Labels.device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Step =
            fun ctx idx ->
                let b = Structured.select idx data
                let loss =
                    StructuredOutputs.networkObjective options.Outputs options.EntropyWeight options.PullWeight psi0 b.Mask
                        (options.Energy.Energy th b.Features b.Mask) ps b.Inputs
                let objective, norm = Step.descend ctx "psi" loss
                [ "objective", objective; "grad_norm", norm ]
          Validate = Structured.validation validate
          ValidateStart = true }

    /// Test-time retuning of Ψ in place with θ fixed; keeps the Ψ of the best validation score.
    /// Only the inputs and features of `data` are read (the labels are not): retuning may run on
    /// unlabelled evaluation inputs.
    let retune (options: InferenceNetworkOptions) (validate: unit -> float) (theta: Tensor list) (psi0: Tensor list)
               (psi: Parameter list) (data: LabelledExamples) : EpochRecord list =
        if options.RetuneEpochs <= 0 then
            // No epoch: the starting Ψ is scored and kept.
            Scope.run validate |> ignore
            []
        else
            Fit.runSteps (Structured.fitOptions options.RetuneEpochs (options.Seed + 1L) true) (retuneTask options validate theta psi0 psi data)
            |> Structured.records "objective"

    /// The fit-loop task of the min–max game: groups "theta" (EnergyOptimizer) and "phi"
    /// (NetworkOptimizer); a step = one step of Φ on its loss (ascending the hinge's argument),
    /// then one step of θ descending the hinge at the updated Φ (metrics hinge, network_loss,
    /// grad_norm of θ). Φ₀ are the pretrained weights of the pull term.
    let task (options: InferenceNetworkOptions) (validate: unit -> float) (phi0: Tensor list)
             (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : StepTask<Tensor> =
        let th, ph = Structured.tensors theta, Structured.tensors phi
        let n = Structured.count data
        { Groups = [ ParameterGroup.ofParameters "theta" options.EnergyOptimizer theta; ParameterGroup.ofParameters "phi" options.NetworkOptimizer phi ]
          Batches = fun rng _ -> Batches.shuffled rng data.Labels.device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Step =
            fun ctx idx ->
                let b = Structured.select idx data
                let networkLoss, _ = Step.descend ctx "phi" (networkLoss options th phi0 ph b)
                let hinge, norm = Step.descend ctx "theta" (energyLoss options th ph b)
                [ "hinge", hinge; "network_loss", networkLoss; "grad_norm", norm ]
          Validate = Structured.validation validate
          ValidateStart = false }

    /// Trains θ and Φ in place by alternating steps under explicit fit options (checkpoints hold
    /// both groups and both optimizers; per-step progress); `progress` receives (fraction done,
    /// description) after each epoch.
    let fit (fit: FitOptions) (options: InferenceNetworkOptions) (validate: unit -> float) (progress: float * string -> unit)
            (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : FitResult =
        Checks.positiveInt "Epochs" fit.Epochs
        Checks.nonNegative "PullWeight" options.PullWeight
        Structured.check "data" data
        let phi0 = Snapshot.take phi
        try
            let describe epoch row =
                sprintf "epoch %d  hinge %.4f  dev (cost-augmented Φ) %.4f" epoch (Structured.value "hinge" row) (Structured.value "validation" row)
            Fit.runSteps (Structured.withEpochText progress describe fit) (task options validate phi0 theta phi data)
        finally
            Scope.disposeAll phi0

    /// Trains θ and Φ in place by alternating steps; `validate` scores the current (θ, Φ) after each
    /// epoch, for the record only (Φ is the cost-augmented network, not the test-time one, so its
    /// score does not select θ; the final pair is kept). Φ₀ are the pretrained weights Φ starts from.
    let train (options: InferenceNetworkOptions) (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : EpochRecord list =
        Checks.positiveInt "Epochs" options.Epochs
        fit (Structured.fitOptions options.Epochs options.Seed false) options validate progress theta phi data
        |> Structured.records "hinge"
