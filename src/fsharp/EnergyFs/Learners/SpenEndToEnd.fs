namespace EnergyFs.Learners

open System.Diagnostics
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
/// where E_θ(F, ȳ) = −Σ_i ȳ_i b_iᵀF + c₂ᵀ softplus(C₁ȳ) (`Spen.energy`). Loss-augmented inference
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
    let hingeAt (options: StructuredSvmOptions) (theta: Tensor list) (features: Tensor) (yHat: Tensor) (gold: Tensor) : Tensor =
        let cost = StructuredHinge.l1Cost yHat gold
        let energy = StructuredSvm.smoothedEnergy options.Entropy theta features
        Tensor.mean (StructuredHinge.hinge options.Margin cost (energy yHat) (energy gold))

    /// The batch loss of end-to-end training: features F_φ(x) = `featureMap phi inputs` (with their
    /// graph), loss-augmented inference on the detached features, then `hingeAt`.
    let batchLoss (options: StructuredSvmOptions) (featureMap: Tensor list -> Tensor -> Tensor)
                  (theta: Tensor list) (phi: Tensor list) (inputs: Tensor) (gold: Tensor) : Tensor =
        let features = featureMap phi inputs
        let yHat = Scope.tensor (fun () -> (StructuredSvm.lossAugmentedInference options theta (features.detach ()) gold).detach ())
        hingeAt options theta features yHat gold

    /// Trains θ (and φ when `FineTuneFeatures`) in place on `data.Inputs` and `data.Labels`
    /// (`data.Features` is not read: the features are F_φ(x) = `featureMap phi x`); after each epoch
    /// `validate` scores the current parameters (higher is better; it must compute the features
    /// from the current φ) and the best θ and φ — among the starting point and every epoch — are
    /// restored at the end. With fine-tuning off this
    /// is `StructuredSvm.train` on the features computed once, and φ is untouched.
    let train (options: StructuredSvmOptions) (endToEnd: EndToEndOptions) (featureMap: Tensor list -> Tensor -> Tensor)
              (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (phi: Parameter list) (data: MultilabelExamples) : EpochRecord list =
        Checks.positiveInt "Epochs" options.Epochs
        Structured.check "data" data
        let ph = Structured.tensors phi
        if not endToEnd.FineTuneFeatures then
            Scope.run (fun () ->
                let features = Diff.noGrad (fun () -> featureMap ph data.Inputs)
                StructuredSvm.train options validate progress theta { data with Features = features })
        else
            use rng = new Rng(options.Seed, data.Labels.device)
            use energyOptimizer = Optimizer.ofParameters options.Optimizer theta
            use featureOptimizer = Optimizer.ofParameters endToEnd.FeatureOptimizer phi
            use keeper = new BestKeeper(theta @ phi)
            let namedTheta = Structured.named "theta" theta
            let namedPhi = Structured.named "phi" phi
            let ts = Structured.tensors theta
            let n = Structured.count data
            // The starting point competes too (with the third stage run after the second, it is the
            // energy trained on fixed features): selection never ends below it on validation.
            keeper.Offer (Scope.run validate)
            [ for epoch in 1 .. options.Epochs do
                let watch = Stopwatch.StartNew ()
                let losses =
                    [ for idx in Batches.shuffled rng data.Labels.device options.BatchSize n ->
                        Scope.run (fun () ->
                            let loss = batchLoss options featureMap ts ph (Tensor.selectRows idx data.Inputs) (Tensor.selectRows idx data.Labels)
                            energyOptimizer.ZeroGrad ()
                            featureOptimizer.ZeroGrad ()
                            Divergence.checkLoss (epoch - 1) energyOptimizer.Steps loss
                            loss.backward ()
                            let thetaNorm = energyOptimizer.Step ()
                            Divergence.checkGradients (epoch - 1) energyOptimizer.Steps namedTheta thetaNorm
                            let phiNorm = featureOptimizer.Step ()
                            Divergence.checkGradients (epoch - 1) featureOptimizer.Steps namedPhi phiNorm
                            Tensor.toScalar loss) ]
                let score = Scope.run validate
                keeper.Offer score
                progress (float epoch / float options.Epochs, sprintf "epoch %d  hinge %.4f  dev %.4f (end to end)" epoch (List.average losses) score)
                yield { Epoch = epoch; Loss = List.average losses; Validation = score; Seconds = watch.Elapsed.TotalSeconds } ]
            |> fun records -> keeper.RestoreBest (); records
