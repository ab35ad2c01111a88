namespace EnergyFs.Learners

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Losses

/// Options of SPEN training with the structured SVM loss.
type StructuredSvmOptions =
    { /// Passes over the training examples.
      Epochs: int
      /// Examples per step.
      BatchSize: int
      /// Optimizer of the energy parameters θ.
      Optimizer: OptimizerOptions
      /// The minimiser used for (loss-augmented) inference: f ↦ ȳ₀ ↦ ȳ ≈ argmin Σ f(ȳ) (for
      /// example `MirrorDescent.entropicBoxInference τ o` or `ProjectedGradient.boxInference o`).
      Inference: (Tensor -> Tensor) -> Tensor -> Tensor
      /// τ: inference minimises E(x, ȳ) − τH(ȳ) and the hinge uses that smoothed energy (0 for the
      /// plain energy; then use a projected-gradient minimiser).
      Entropy: float
      /// The hinge's margin.
      Margin: Margin
      /// Seed of the batch order.
      Seed: int64
      /// The energy E_θ(F(x), ȳ) whose parameters θ are trained (default `StructuredEnergy.spen`).
      Energy: StructuredEnergy
      /// The output structure: start, cost and entropy of ȳ (default `StructuredOutputs.multilabel`;
      /// `StructuredOutputs.sequence` with a `SequenceInference` minimiser for label sequences).
      Outputs: StructuredOutputs }

/// Training a SPEN (or any `StructuredEnergy`, the options' Energy) with the margin-rescaled
/// structured SVM (Belanger & McCallum 2016, arXiv 1511.06350, §6, eq. 8):
///   min_θ Σ_examples [ max_ȳ (Δ(ȳ, y) − E_θ(x, ȳ)) + E_θ(x, y) ]₊,
/// the inner max (loss-augmented inference) solved approximately by projected gradient descent,
/// then a (sub)gradient step on θ with ȳ fixed.
[<RequireQualifiedAccess>]
module StructuredSvm =

    /// 20 epochs, batch 32, Adam 1e-3, entropic mirror descent (30 steps, τ = 1), margin-rescaled,
    /// the SPEN energy.
    let defaults =
        { Epochs = 20; BatchSize = 32; Optimizer = OptimizerOptions.adam 1e-3
          Inference = Solvers.MirrorDescent.entropicBoxInference 1.0 Solvers.MirrorDescent.inferenceDefaults; Entropy = 1.0
          Margin = MarginRescaled; Seed = 0L; Energy = StructuredEnergy.spen; Outputs = StructuredOutputs.multilabel }

    /// Label-sequence training (Tu & Gimpel 2018, arXiv 1803.03376, §7): the sequence outputs
    /// (Hamming cost, per-position entropy), entropic mirror descent over the per-position
    /// simplices with τ = `entropy` (`SequenceInference.entropic`, 50 steps) and the given energy.
    let sequence (entropy: float) (energy: StructuredEnergy) =
        { defaults with
            Inference = Solvers.SequenceInference.entropic entropy Solvers.SequenceInference.entropicDefaults
            Entropy = entropy; Energy = energy; Outputs = StructuredOutputs.sequence }

    /// The smoothed energy E(x, ȳ) − τH(ȳ) per example (τ = options.Entropy) for the examples'
    /// mask (None for multilabel outputs).
    let smoothedEnergy (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (y: Tensor) : Tensor =
        if options.Entropy = 0.0 then options.Energy.Energy theta features mask y
        else options.Energy.Energy theta features mask y - options.Outputs.Entropy mask y * options.Entropy

    /// ȳ ≈ argmin_ȳ E_θ(x, ȳ) (− τH(ȳ) when τ > 0, H being added inside the minimiser for mirror
    /// descent) from the outputs' start (½ in the box, 1/L per position): ȳ of shape [n, labels]
    /// for features [n, d], [B, T, labels] for features [B, T, d] with the mask.
    let predictMasked (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (labels: int) : Tensor =
        let th = theta |> List.map Tensor.detach
        let shape = Array.append features.shape[.. features.shape.Length - 2] [| int64 labels |]
        use y0 = Scope.tensor (fun () -> options.Outputs.Start (torch.zeros (shape, dtype = features.dtype, device = features.device)))
        options.Inference (options.Energy.Energy th features mask) y0

    /// ȳ ≈ argmin_{ȳ ∈ [0,1]^L} E_θ(x, ȳ) for multilabel outputs (`predictMasked` without a mask).
    let predict (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (labels: int) : Tensor =
        predictMasked options theta features None labels

    /// Loss-augmented inference ȳ ≈ argmin_ȳ E_θ(x, ȳ) − Δ(ȳ, y) (for the margin-rescaled hinge;
    /// the other margins do not depend on ȳ through Δ), for the examples' mask.
    let lossAugmentedInference (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (gold: Tensor) : Tensor =
        let th = theta |> List.map Tensor.detach
        use y0 = Scope.tensor (fun () -> options.Outputs.Start gold)
        let objective (y: Tensor) =
            match options.Margin with
            | MarginRescaled -> options.Energy.Energy th features mask y - options.Outputs.Cost mask y gold
            | _ -> options.Energy.Energy th features mask y
        options.Inference objective y0

    /// The mean structured hinge of a batch, with loss-augmented inference inside.
    let batchLoss (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (gold: Tensor) : Tensor =
        let yHat = lossAugmentedInference options theta features mask gold
        let cost = options.Outputs.Cost mask yHat gold
        let energy = smoothedEnergy options theta features mask
        Tensor.mean (StructuredHinge.hinge options.Margin cost (energy yHat) (energy gold))

    /// The fit-loop task: θ the one group "theta" (options.Optimizer), shuffled batches of
    /// BatchSize, a step = one (sub)gradient step on the batch's hinge (metrics hinge, grad_norm),
    /// `validate` as the "validation" metric.
    let task (options: StructuredSvmOptions) (validate: unit -> float) (theta: Parameter list) (data: LabelledExamples) : StepTask<Tensor> =
        let ts = Structured.tensors theta
        let n = Structured.count data
        { Groups = [ ParameterGroup.ofParameters "theta" options.Optimizer theta ]
          Batches = fun rng _ -> Batches.shuffled rng data.Labels.device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Step =
            fun ctx idx ->
                let b = Structured.select idx data
                let hinge, norm = Step.descend ctx "theta" (batchLoss options ts b.Features b.Mask b.Labels)
                [ "hinge", hinge; "grad_norm", norm ]
          Validate = Structured.validation validate
          ValidateStart = false }

    /// Trains θ in place under explicit fit options (checkpoints, early stopping on "validation",
    /// per-step progress); `progress` receives (fraction done, description) after each epoch.
    let fit (fit: FitOptions) (options: StructuredSvmOptions) (validate: unit -> float) (progress: float * string -> unit)
            (theta: Parameter list) (data: LabelledExamples) : FitResult =
        Checks.positiveInt "Epochs" fit.Epochs
        Structured.check "data" data
        let describe epoch row = sprintf "epoch %d  hinge %.4f  dev %.4f" epoch (Structured.value "hinge" row) (Structured.value "validation" row)
        Fit.runSteps (Structured.withEpochText progress describe fit) (task options validate theta data)

    /// Trains θ in place; after each epoch `validate` scores the current θ (higher is better) and the
    /// best θ is restored at the end. `progress` receives (fraction done, description).
    let train (options: StructuredSvmOptions) (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (data: LabelledExamples) : EpochRecord list =
        Checks.positiveInt "Epochs" options.Epochs
        fit (Structured.fitOptions options.Epochs options.Seed true) options validate progress theta data
        |> Structured.records "hinge"
