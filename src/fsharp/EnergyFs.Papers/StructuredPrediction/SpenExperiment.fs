namespace EnergyFs.Papers.StructuredPrediction

open System
open System.Diagnostics
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Metrics
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Learners

/// The outcome of one run.
type SpenResult =
    { /// The method's name from `SpenExperiment.methodName`: "mlp", "spen", "infnet", "implicit" or "infnet-ssvm".
      Method: string
      /// The training seed of the run (`SpenSetup.Seed`; the split seed is separate).
      Seed: int
      /// Example F1 ×100 on dev at the chosen threshold.
      DevF1: float
      /// Example F1 ×100 on test at the threshold chosen on dev.
      TestF1: float
      /// The decision threshold chosen on dev.
      Threshold: float
      /// Dev F1 ×100 of the pretrained classifier.
      PretrainDevF1: float
      /// Wall time of the whole run in seconds.
      Seconds: float
      /// Extra numbers (solver statistics of implicit training).
      Extra: (string * float) list }

/// The multilabel experiments of Shankar & Piratla 2022 (arXiv 2211.11649, Table 1) and of the
/// papers it compares with: MLP, SPEN (Belanger & McCallum 2016, Table 1), inference networks
/// (Tu & Gimpel 2018, Table 2) and implicit training, with example F1 and a dev-chosen threshold.
[<RequireQualifiedAccess>]
module SpenExperiment =

    /// Feature network 2 × 150 ReLU (Belanger & McCallum 2016 use 150-unit layers on bibtex), energy
    /// global term h = 16, dev 20% of train, 40 pretraining epochs.
    let setup : SpenSetup =
        { Seed = 0; SplitSeed = 0; DevFraction = 0.2; Hidden = [ 150; 150 ]; PretrainEpochs = 40
          PretrainOptimizer = OptimizerOptions.adam 1e-3 |> OptimizerOptions.withWeightDecay 1e-5
          EnergyHidden = 16; Context = Context.cpu }

    /// The structured SVM: 10 epochs of Adam 1e-3, the local term trained.
    let ssvmStage : SsvmStage =
        { Ssvm = { StructuredSvm.defaults with Epochs = 10; Optimizer = OptimizerOptions.adam 1e-3 }; ClampLocalEnergy = false }

    /// End-to-end fine-tuning: 5 epochs, features Adam 1e-5 (`SpenEndToEnd.defaults`), energy Adam 1e-4.
    let fineTuneStage : FineTuneStage =
        { FeatureOptimizer = SpenEndToEnd.defaults.FeatureOptimizer; FineTuneEpochs = 5; FineTuneEnergyOptimizer = OptimizerOptions.adam 1e-4 }

    /// Inference networks: 10 epochs, 3 retuning epochs, entropy smoothing τ = −1 inside the hinge (so
    /// that, at the start, the classifier is the optimum of the local energy, as with entropic mirror
    /// descent for the SPEN), the local energy clamped at the classifier (only the global term
    /// trains; chosen on dev), retuning on the evaluation inputs.
    let infNetStage : InfNetStage =
        { InfNet = { InferenceNetworks.defaults with Epochs = 10; RetuneEpochs = 3; EntropyWeight = -1.0; EntropyInHinge = true }
          ClampLocalTerm = true; RetuneOnEvaluation = true }

    /// Implicit training: 10 epochs, τ = −1, and a well-posed inner problem (λ = 1 pull toward the
    /// pretrained weights, 10 refinement steps, CG K = 30 on H + 2λI: every solve converges on
    /// bibtex, see docs/papers/spen.md).
    let implicitOptions : ImplicitTrainingOptions =
        { ImplicitStructured.defaults with Epochs = 10; EntropyWeight = -1.0 } |> ImplicitStructured.wellPosed 1.0 10 30

    /// Retuning an inference network on the SSVM energy: the inference networks' options
    /// (`infNetStage`), on the evaluation inputs.
    let retuneStage : RetuneStage = { Retune = infNetStage.InfNet; RetuneOnEvaluationInputs = true }

    /// The default settings of a method (the stages above; SPEN without fine-tuning).
    let settings (m: SpenMethod) : SpenMethodSettings =
        match m with
        | Mlp -> MlpSettings
        | Spen -> SpenSettings (ssvmStage, None)
        | InfNet -> InfNetSettings infNetStage
        | Implicit -> ImplicitSettings implicitOptions
        | InfNetSsvm -> InfNetSsvmSettings (ssvmStage, retuneStage)

    /// A setup that runs in well under 3 minutes on one core on bibtex with `quickSettings`: 15
    /// pretraining epochs.
    let quickSetup : SpenSetup = { setup with PretrainEpochs = 15 }

    /// The quick settings of a method: 3 epochs of each method, 1 retuning epoch.
    let quickSettings (m: SpenMethod) : SpenMethodSettings =
        let ssvm = { ssvmStage with Ssvm = { ssvmStage.Ssvm with Epochs = 3 } }
        let infNet = { infNetStage.InfNet with Epochs = 3; RetuneEpochs = 1 }
        match m with
        | Mlp -> MlpSettings
        | Spen -> SpenSettings (ssvm, None)
        | InfNet -> InfNetSettings { infNetStage with InfNet = infNet }
        | Implicit -> ImplicitSettings { implicitOptions with Epochs = 3 }
        | InfNetSsvm -> InfNetSsvmSettings (ssvm, { retuneStage with Retune = infNet })

    /// The method a settings value runs.
    let methodOf (settings: SpenMethodSettings) : SpenMethod =
        match settings with
        | MlpSettings -> Mlp
        | SpenSettings _ -> Spen
        | InfNetSettings _ -> InfNet
        | ImplicitSettings _ -> Implicit
        | InfNetSsvmSettings _ -> InfNetSsvm

    /// The settings with every method's training epochs set to `epochs` (pretraining, retuning and
    /// fine-tuning excluded).
    let withEpochs (epochs: int) (settings: SpenMethodSettings) : SpenMethodSettings =
        match settings with
        | MlpSettings -> MlpSettings
        | SpenSettings (ssvm, fineTune) -> SpenSettings ({ ssvm with Ssvm = { ssvm.Ssvm with Epochs = epochs } }, fineTune)
        | InfNetSettings s -> InfNetSettings { s with InfNet = { s.InfNet with Epochs = epochs } }
        | ImplicitSettings o -> ImplicitSettings { o with Epochs = epochs }
        | InfNetSsvmSettings (ssvm, retune) -> InfNetSsvmSettings ({ ssvm with Ssvm = { ssvm.Ssvm with Epochs = epochs } }, { retune with Retune = { retune.Retune with Epochs = epochs } })

    /// Parses "mlp", "spen", "infnet" or "implicit".
    let parseMethod (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "mlp" -> Mlp
        | "spen" -> Spen
        | "infnet" -> InfNet
        | "implicit" -> Implicit
        | "infnet-ssvm" -> InfNetSsvm
        | other -> invalidArg "method" (sprintf "unknown method '%s' (expected mlp, spen, infnet, implicit or infnet-ssvm)" other)

    /// The method's name as the CLI spells it.
    let methodName (m: SpenMethod) =
        match m with Mlp -> "mlp" | Spen -> "spen" | InfNet -> "infnet" | Implicit -> "implicit" | InfNetSsvm -> "infnet-ssvm"

    /// Scores the classifier: σ(MLP(x)).
    let private classifierScores (classifier: Tensor list) (x: Tensor) =
        Diff.noGrad (fun () -> InferenceNetwork.predict classifier x)

    /// Features [F(x), 1] of the classifier (the constant column carries the label biases).
    let private featuresOf (classifier: Tensor list) (x: Tensor) =
        Diff.noGrad (fun () ->
            let h = FunctionalMlp.features classifier x
            Tensor.cat 1 [ h; torch.ones ([| h.shape[0]; 1L |], dtype = h.dtype, device = h.device) ])

    /// Dev F1 (×100) of scores at the best threshold of the default grid.
    let private devScore (scores: Tensor) (gold: Tensor) =
        100.0 * snd (MultilabelMetrics.selectThreshold MultilabelMetrics.defaultGrid scores gold)

    /// Pretrains the classifier with binary cross-entropy (Fit.run, early stopping on dev F1).
    let pretrain (options: SpenSetup) (rng: Rng) (train: Tensor * Tensor) (dev: Tensor * Tensor) : Parameter list =
        let ctx = options.Context
        let x, y = train
        let xDev, yDev = dev
        let sizes = [ int x.shape[1] ] @ options.Hidden @ [ int y.shape[1] ]
        let classifier = FunctionalMlp.create rng ctx sizes
        let ps = FunctionalMlp.tensors classifier
        // Not disposed: disposing a module frees its parameters, which the caller keeps.
        let model = new ParameterModule("classifier", classifier)
        let task : TrainingTask<Tensor> =
            { Model = model
              Batches = fun r _ -> Batches.shuffled r ctx.Device 32 x.shape[0]
              BatchesPerEpoch = Batches.count 32 x.shape[0]
              Loss = fun idx -> torch.nn.functional.binary_cross_entropy_with_logits (FunctionalMlp.forward ps (Tensor.selectRows idx x), Tensor.selectRows idx y)
              Validate = Some (fun () -> [ "dev_f1", devScore (classifierScores ps xDev) yDev ]) }
        let fitOptions =
            { FitOptions.defaults with
                Epochs = options.PretrainEpochs; Optimizer = options.PretrainOptimizer; Seed = int64 options.Seed
                EarlyStopping = Some { Metric = "dev_f1"; Goal = Maximize; Patience = 5 }; RestoreBest = true }
        Fit.run fitOptions task |> ignore
        classifier

    /// What every method starts from: the data as tensors, the pretrained classifier, its features.
    type private Prepared =
        { Setup: SpenSetup
          Rng: Rng
          Labels: int
          Classifier: Parameter list
          /// The classifier's tensors.
          Cls: Tensor list
          XDev: Tensor
          YDev: Tensor
          XTest: Tensor
          /// Training inputs, features and labels.
          Data: MultilabelExamples
          FDev: Tensor
          FTest: Tensor
          /// Dev F1 ×100 of the pretrained classifier.
          PretrainDev: float
          Progress: float * string -> unit }

    /// Progress of the method's own training: fraction f of the share `a` of the 80% after pretraining.
    let private sub (p: Prepared) (a: float) (f, s) = p.Progress (0.2 + 0.8 * f * a, s)

    /// A fresh SPEN energy whose local term starts at the classifier's output layer; its local term
    /// B gets no gradient when `clampLocal` (the optimizers skip a parameter without requires_grad).
    let private newEnergy (p: Prepared) (clampLocal: bool) =
        let last = p.Cls[p.Cls.Length - 2]
        let bias = p.Cls[p.Cls.Length - 1]
        let theta = Spen.createFromClassifier p.Rng p.Setup.Context (Tensor.cat 1 [ last.detach (); (Tensor.unsqueeze 1 bias).detach () ]) p.Setup.EnergyHidden
        if clampLocal then theta.Head.requires_grad <- false
        theta

    /// The structured-SVM stage on the fixed features; returns θ and its predictor on features.
    let private trainSsvm (p: Prepared) (stage: SsvmStage) (share: float) =
        let theta = newEnergy p stage.ClampLocalEnergy
        let th = Structured.tensors theta
        let ssvm = { stage.Ssvm with Seed = int64 p.Setup.Seed }
        let predict f = StructuredSvm.predict ssvm th f p.Labels
        StructuredSvm.train ssvm (fun () -> devScore (predict p.FDev) p.YDev) (sub p share) theta p.Data |> ignore
        theta, predict

    /// Test-time retuning of an inference network started from the pretrained classifier (Tu &
    /// Gimpel 2018, §3.3, also start A_Ψ from pretrained weights) on the energy θ; returns the dev
    /// and test scores and which retuning epoch model selection kept (0: the pretrained start) with
    /// the dev F1 it had — the diagnosis of "the column equals the MLP".
    let private retune (p: Prepared) (o: InferenceNetworkOptions) (onEvaluationInputs: bool) (theta: Parameter list) =
        let psi = FunctionalMlp.copy p.Classifier
        let retuneData =
            if onEvaluationInputs then
                let xs = Tensor.cat 0 [ p.XDev; p.XTest ]
                { Inputs = xs; Features = Tensor.cat 0 [ p.FDev; p.FTest ]; Labels = torch.zeros ([| xs.shape[0]; int64 p.Labels |], dtype = xs.dtype, device = xs.device); Mask = None }
            else p.Data
        let psiTensors = Structured.tensors psi
        let validate () = devScore (classifierScores psiTensors p.XDev) p.YDev
        let retuned = InferenceNetworks.retune o validate (Structured.tensors theta) p.Cls psi retuneData
        p.Progress (1.0, sprintf "retuned %d epoch(s), dev F1 by epoch %s" retuned.Length
                            (retuned |> List.map (fun r -> sprintf "%.2f" r.Validation) |> String.concat " "))
        let ps = Structured.tensors psi
        let best = retuned |> List.fold (fun (e, v) r -> if r.Validation > v then r.Epoch, r.Validation else e, v) (0, p.PretrainDev)
        classifierScores ps p.XDev, classifierScores ps p.XTest,
        [ "retune_selected_epoch", float (fst best); "retune_dev_f1_selected", snd best
          "retune_dev_f1_last", (match List.tryLast retuned with Some r -> r.Validation | None -> nan) ]

    /// The shared frame of every method: checks the splits, pretrains the classifier (the first 20%
    /// of `progress`), runs `train` (the method: dev scores, test scores, extra numbers) and
    /// evaluates — the threshold chosen on dev, example F1 on dev and test.
    let private evaluateMethod (setup: SpenSetup) (m: SpenMethod) (progress: float * string -> unit)
                               (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet)
                               (method': Prepared -> Tensor * Tensor * (string * float) list) : SpenResult =
        let labels = train.LabelCount
        for name, (split: MultilabelSet) in [ "dev", dev; "test", test ] do
            if split.Count = 0 then invalidArg name (sprintf "the %s split is empty" name)
            if split.LabelCount <> labels then
                invalidArg name (sprintf "label count mismatch: train has %d labels, %s has %d" labels name split.LabelCount)
            if split.FeatureCount <> train.FeatureCount then
                invalidArg name (sprintf "feature count mismatch: train has %d inputs, %s has %d" train.FeatureCount name split.FeatureCount)
        let watch = Stopwatch.StartNew ()
        let ctx = setup.Context
        use rng = new Rng(int64 setup.Seed, ctx.Device)
        Scope.run (fun () ->
            let onContext (set: MultilabelSet) = let s = MultilabelSet.toContext ctx set in s.Features, s.Labels
            let x, y = onContext train
            let xDev, yDev = onContext dev
            let xTest, yTest = onContext test
            progress (0.0, "pretraining the feature network")
            let classifier = pretrain setup rng (x, y) (xDev, yDev)
            let cls = FunctionalMlp.tensors classifier
            let pretrainDev = devScore (classifierScores cls xDev) yDev
            progress (0.2, sprintf "pretrained: dev F1 %.2f" pretrainDev)
            let prepared =
                { Setup = setup; Rng = rng; Labels = labels; Classifier = classifier; Cls = cls; XDev = xDev; YDev = yDev; XTest = xTest
                  Data = { Inputs = x; Features = featuresOf cls x; Labels = y; Mask = None }; FDev = featuresOf cls xDev; FTest = featuresOf cls xTest
                  PretrainDev = pretrainDev; Progress = progress }
            let scoresDev, scoresTest, extra = method' prepared
            let threshold, devF1 = MultilabelMetrics.selectThreshold MultilabelMetrics.defaultGrid scoresDev yDev
            let testF1 = MultilabelMetrics.exampleF1At threshold scoresTest yTest
            { Method = methodName m; Seed = setup.Seed; DevF1 = 100.0 * devF1; TestF1 = 100.0 * testF1
              Threshold = threshold; PretrainDevF1 = pretrainDev; Seconds = watch.Elapsed.TotalSeconds; Extra = extra })

    /// The MLP baseline: the pretrained feature network as an independent-sigmoid classifier.
    /// `progress` receives (fraction, text).
    let runMlp (setup: SpenSetup) (progress: float * string -> unit)
               (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        evaluateMethod setup Mlp progress train dev test (fun p ->
            classifierScores p.Cls p.XDev, classifierScores p.Cls p.XTest, [])

    /// SPEN (Belanger & McCallum 2016): the energy trained with the structured SVM on the fixed
    /// features (their second stage, §7), predictions by gradient-based inference; with `fineTune`,
    /// their third stage: φ (a copy of the classifier's hidden layers) and θ jointly, model selection
    /// on dev F1 (extra numbers `fine_tune_selected_epoch`, `stage2_dev_f1`).
    let runSpen (setup: SpenSetup) (ssvm: SsvmStage) (fineTune: FineTuneStage option) (progress: float * string -> unit)
                (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        evaluateMethod setup Spen progress train dev test (fun p ->
            match fineTune with
            | None ->
                let _, predict = trainSsvm p ssvm 1.0
                predict p.FDev, predict p.FTest, []
            | Some stage ->
                let theta, _ = trainSsvm p ssvm 0.5
                let th = Structured.tensors theta
                let options = { ssvm.Ssvm with Seed = int64 setup.Seed }
                // The output layer (already copied into B) is only there for FunctionalMlp.features,
                // which drops it.
                let phi = FunctionalMlp.copy p.Classifier |> List.take (p.Cls.Length - 2)
                let outputLayer = p.Cls |> List.skip (p.Cls.Length - 2) |> List.map Tensor.detach
                let featureMap (ps: Tensor list) (inputs: Tensor) =
                    let h = FunctionalMlp.features (ps @ outputLayer) inputs
                    Tensor.cat 1 [ h; torch.ones ([| h.shape[0]; 1L |], dtype = h.dtype, device = h.device) ]
                let ph = Structured.tensors phi
                let predict (xs: Tensor) = StructuredSvm.predict options th (Diff.noGrad (fun () -> featureMap ph xs)) p.Labels
                let endToEnd : EndToEndOptions = { FineTuneFeatures = true; FeatureOptimizer = stage.FeatureOptimizer }
                let stage3 = { options with Epochs = stage.FineTuneEpochs; Optimizer = stage.FineTuneEnergyOptimizer }
                let startDev = devScore (predict p.XDev) p.YDev
                let records = SpenEndToEnd.train stage3 endToEnd featureMap (fun () -> devScore (predict p.XDev) p.YDev) (fun (f, t) -> sub p 1.0 (0.5 + 0.5 * f, t)) theta phi p.Data
                let best = records |> List.fold (fun (e, v) r -> if r.Validation > v then r.Epoch, r.Validation else e, v) (0, startDev)
                predict p.XDev, predict p.XTest, [ "fine_tune_selected_epoch", float (fst best); "stage2_dev_f1", startDev ])

    /// Inference networks (Tu & Gimpel 2018): the energy and the cost-augmented network Φ trained
    /// jointly (min-max), then a test-time network retuned on the energy (extra numbers
    /// `retune_selected_epoch`, `retune_dev_f1_selected`, `retune_dev_f1_last`).
    let runInfNet (setup: SpenSetup) (stage: InfNetStage) (progress: float * string -> unit)
                  (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        evaluateMethod setup InfNet progress train dev test (fun p ->
            let theta = newEnergy p stage.ClampLocalTerm
            let phi = InferenceNetwork.initFrom p.Classifier
            let o = { stage.InfNet with Seed = int64 setup.Seed }
            let ph = Structured.tensors phi
            InferenceNetworks.train o (fun () -> devScore (classifierScores ph p.XDev) p.YDev) (sub p 0.8) theta phi p.Data |> ignore
            retune p o stage.RetuneOnEvaluation theta)

    /// Implicit training (Shankar & Piratla 2022): the energy trained through the inference network
    /// ψ by implicit differentiation of its inner problem (extra numbers: the linear solver's and the
    /// inner problem's statistics, `ImplicitStructured.train`).
    let runImplicit (setup: SpenSetup) (options: ImplicitTrainingOptions) (progress: float * string -> unit)
                    (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        evaluateMethod setup Implicit progress train dev test (fun p ->
            let theta = newEnergy p false
            let psi = InferenceNetwork.initFrom p.Classifier
            let ps = Structured.tensors psi
            let o = { options with Seed = int64 setup.Seed }
            let _, stats = ImplicitStructured.train o (fun () -> devScore (classifierScores ps p.XDev) p.YDev) (sub p 1.0) theta psi p.Data
            classifierScores ps p.XDev, classifierScores ps p.XTest,
            [ "solves", float stats.Solves; "not_converged", float stats.NotConverged
              "mean_relative_residual", stats.MeanRelativeResidual; "max_relative_residual", stats.MaxRelativeResidual
              "hvp_count", float stats.HvpCount
              "mean_inner_gradient_norm", stats.MeanInnerGradientNorm; "max_inner_gradient_norm", stats.MaxInnerGradientNorm
              "mean_inner_gradient_ratio", stats.MeanInnerGradientRatio ])

    /// An inference network retuned on the energy of a SPEN trained with the structured SVM,
    /// replacing gradient-based inference (Tu & Gimpel 2018, §4's first use); extra numbers as
    /// `runInfNet`'s.
    let runInfNetSsvm (setup: SpenSetup) (ssvm: SsvmStage) (stage: RetuneStage) (progress: float * string -> unit)
                      (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        evaluateMethod setup InfNetSsvm progress train dev test (fun p ->
            let theta, _ = trainSsvm p ssvm 0.8
            retune p { stage.Retune with Seed = int64 setup.Seed } stage.RetuneOnEvaluationInputs theta)

    /// Runs one method with its settings on (train, dev, test) and scores it (`runMlp`, `runSpen`,
    /// `runInfNet`, `runImplicit` or `runInfNetSsvm`). `progress` receives (fraction, text).
    let run (setup: SpenSetup) (settings: SpenMethodSettings) (progress: float * string -> unit)
            (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        match settings with
        | MlpSettings -> runMlp setup progress train dev test
        | SpenSettings (ssvm, fineTune) -> runSpen setup ssvm fineTune progress train dev test
        | InfNetSettings stage -> runInfNet setup stage progress train dev test
        | ImplicitSettings options -> runImplicit setup options progress train dev test
        | InfNetSsvmSettings (ssvm, stage) -> runInfNetSsvm setup ssvm stage progress train dev test

    /// The metrics of a run, as the reproduction cache stores them and `energyfs spen --json`
    /// summarises them over seeds: `test_f1`, `dev_f1` (example F1 ×100), the dev-chosen
    /// `threshold`, `pretrain_dev_f1`, then the method's extra numbers (`SpenResult.Extra`).
    let metrics (r: SpenResult) : (string * float) list =
        [ "test_f1", r.TestF1; "dev_f1", r.DevF1; "threshold", r.Threshold; "pretrain_dev_f1", r.PretrainDevF1 ] @ r.Extra

    /// Loads a MULAN folder (float64), carves the dev split off train with `Rng(setup.SplitSeed)`
    /// (`Mulan.validationSplit`, fraction `setup.DevFraction`), standardises dense inputs with the
    /// remaining training rows' statistics (binary inputs such as bibtex's are kept), and runs.
    let runOnFolder (setup: SpenSetup) (settings: SpenMethodSettings) (progress: float * string -> unit) (dir: string) : SpenResult =
        use data = Mulan.loadFrom Context.cpu64 dir
        use rng = new Rng(int64 setup.SplitSeed, data.Train.Features.device)
        use split = Mulan.validationSplit rng setup.DevFraction data
        let runOn (d: MultilabelSplits) = run setup settings progress d.Train d.Validation.Value d.Test
        if MultilabelSet.hasBinaryFeatures split.Train then runOn split
        else
            use scaled = Mulan.standardize split
            runOn scaled
