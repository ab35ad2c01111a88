namespace EnergyFs.Learners

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Losses

/// Options of the end-to-end stage of SPEN training (the feature network trained through the energy).
type EndToEndOptions =
    { /// Train the feature network's parameters φ through the energy together with θ. When false,
      /// φ stays fixed (bit-identical) and training is exactly `StructuredSvm.train` on the features
      /// F_φ(x) computed once.
      FineTuneFeatures: bool
      /// Optimizer of the feature network φ (a smaller learning rate than θ's: φ starts from a
      /// trained classifier).
      FeatureOptimizer: OptimizerOptions }

/// End-to-end SPEN training, Belanger & McCallum 2016 (arXiv 1511.06350, §7, third stage): after
/// pretraining the feature network F_φ as a classifier and training the energy with F fixed, all
/// parameters are trained jointly with the margin-rescaled structured SVM (§6, eq. 8)
///   min_{θ, φ} Σ_examples [ max_ȳ (Δ(ȳ, y) − E_θ(F_φ(x), ȳ)) + E_θ(F_φ(x), y) ]₊,
/// where E_θ(F, ȳ) = −Σ_i ȳ_i b_iᵀF + c₂ᵀ softplus(C₁ȳ) (`Spen.energy`, the default; any
/// `StructuredEnergy` in the options' Energy works the same way). Loss-augmented inference
/// runs on the detached features (ȳ̂ is treated as fixed, the subgradient of the max by Danskin's
/// theorem), and the gradient of the hinge flows into φ through both energy terms' features.
[<RequireQualifiedAccess>]
module SpenEndToEnd =

    /// Fine-tuning on, the feature network trained with Adam 1e-5 (1e-5 and 1e-4 tie on bibtex dev
    /// F1, 40.77 vs 40.78 over seeds 0–2; the smaller step is kept: docs/papers/spen.md).
    let defaults = { FineTuneFeatures = true; FeatureOptimizer = OptimizerOptions.adam 1e-5 }

    /// The mean structured hinge at a fixed loss-augmented labelling ȳ̂:
    ///   mean [ Δ(ȳ̂, y) − Ẽ(F, ȳ̂) + Ẽ(F, y) ]₊ (margin-rescaled; the other margins as in
    /// `StructuredHinge.hinge`), Ẽ = E − τH the smoothed energy. Differentiable in θ and in the
    /// features F (and so in the parameters that produced them).
    let hingeAt (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (mask: Tensor option) (yHat: Tensor) (gold: Tensor) : Tensor =
        let cost = options.Outputs.Cost mask yHat gold
        let energy = StructuredSvm.smoothedEnergy options theta features mask
        Tensor.mean (StructuredHinge.hinge options.Margin cost (energy yHat) (energy gold))

    /// The batch loss of end-to-end training: features F_φ(x) = `featureMap phi inputs` (with their
    /// graph), loss-augmented inference on the detached features, then `hingeAt`.
    let batchLoss (options: StructuredSvmOptions) (featureMap: Tensor list -> Tensor -> Tensor)
                  (theta: Tensor list) (phi: Tensor list) (inputs: Tensor) (mask: Tensor option) (gold: Tensor) : Tensor =
        let features = featureMap phi inputs
        let yHat = Scope.tensor (fun () -> (StructuredSvm.lossAugmentedInference options theta (features.detach ()) mask gold).detach ())
        hingeAt options theta features mask yHat gold

    /// The fit-loop task of fine-tuning: groups "theta" (options.Optimizer) and "phi"
    /// (FeatureOptimizer); a step = one backward pass of the end-to-end hinge and an update of
    /// each group (metrics hinge, grad_norm of θ, grad_norm_phi); the starting point is validated
    /// too.
    let task (options: StructuredSvmOptions) (endToEnd: EndToEndOptions) (featureMap: Tensor list -> Tensor -> Tensor)
             (validate: unit -> float) (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : StepTask<Tensor> =
        let ts, ph = Structured.tensors theta, Structured.tensors phi
        let n = Structured.count data
        { Groups = [ ParameterGroup.ofParameters "theta" options.Optimizer theta; ParameterGroup.ofParameters "phi" endToEnd.FeatureOptimizer phi ]
          Batches = fun rng _ -> Batches.shuffled rng data.Labels.device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Step =
            fun ctx idx ->
                let b = Structured.select idx data
                let loss = batchLoss options featureMap ts ph b.Inputs b.Mask b.Labels
                Step.zeroGrad ctx "theta"
                Step.zeroGrad ctx "phi"
                Step.checkLoss ctx loss
                loss.backward ()
                let thetaNorm = Step.update ctx "theta"
                let phiNorm = Step.update ctx "phi"
                [ "hinge", Tensor.toScalar loss; "grad_norm", thetaNorm; "grad_norm_phi", phiNorm ]
          Validate = Structured.validation validate
          ValidateStart = true }

    /// Trains θ (and φ when `FineTuneFeatures`) in place under explicit fit options (checkpoints,
    /// early stopping on "validation", per-step progress); with fine-tuning off this is
    /// `StructuredSvm.fit` on the features computed once. `progress` receives (fraction done,
    /// description) after each epoch.
    let fit (fit: FitOptions) (options: StructuredSvmOptions) (endToEnd: EndToEndOptions) (featureMap: Tensor list -> Tensor -> Tensor)
            (validate: unit -> float) (progress: float * string -> unit)
            (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : FitResult =
        Checks.positiveInt "Epochs" fit.Epochs
        Structured.check "data" data
        if not endToEnd.FineTuneFeatures then
            Scope.run (fun () ->
                let features = Diff.noGrad (fun () -> featureMap (Structured.tensors phi) data.Inputs)
                StructuredSvm.fit fit options validate progress theta { data with Features = features })
        else
            let describe epoch row =
                sprintf "epoch %d  hinge %.4f  dev %.4f (end to end)" epoch (Structured.value "hinge" row) (Structured.value "validation" row)
            Fit.runSteps (Structured.withEpochText progress describe fit) (task options endToEnd featureMap validate theta phi data)

    /// Trains θ (and φ when `FineTuneFeatures`) in place on `data.Inputs` and `data.Labels`
    /// (`data.Features` is not read: the features are F_φ(x) = `featureMap phi x`); after each epoch
    /// `validate` scores the current parameters (higher is better; it must compute the features
    /// from the current φ) and the best θ and φ — among the starting point and every epoch — are
    /// restored at the end. With fine-tuning off this
    /// is `StructuredSvm.train` on the features computed once, and φ is untouched.
    let train (options: StructuredSvmOptions) (endToEnd: EndToEndOptions) (featureMap: Tensor list -> Tensor -> Tensor)
              (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (phi: Parameter list) (data: LabelledExamples) : EpochRecord list =
        Checks.positiveInt "Epochs" options.Epochs
        fit (Structured.fitOptions options.Epochs options.Seed true) options endToEnd featureMap validate progress theta phi data
        |> Structured.records "hinge"
