namespace EnergyFs.Papers.StructuredPrediction

open System
open System.Diagnostics
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Metrics
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Inference
open EnergyFs.Learners

/// The methods compared in the multilabel experiments.
type SpenMethod =
    /// The pretrained feature network used as a classifier (independent sigmoids).
    | Mlp
    /// SPEN trained with the structured SVM and gradient-based inference (Belanger & McCallum 2016).
    | Spen
    /// SPEN trained jointly with inference networks, then test-time retuning (Tu & Gimpel 2018).
    | InfNet
    /// Implicit training of the energy through the inference network (Shankar & Piratla 2022).
    | Implicit
    /// An inference network trained to minimise (retuned on) the energy of a SPEN trained with the
    /// structured SVM, replacing gradient-based inference (Tu & Gimpel 2018, §4's first use).
    | InfNetSsvm

/// Options of one multilabel experiment run.
type SpenExperimentOptions =
    { /// Which method to train and evaluate.
      Method: SpenMethod
      /// Seed of initialisation and batch order (the dev split uses SplitSeed).
      Seed: int
      /// Seed of the train/dev split (fixed across runs so that seeds vary only the training).
      SplitSeed: int
      /// Fraction of the training file held out as the development split.
      DevFraction: float
      /// Hidden layer sizes of the feature network / classifier.
      Hidden: int list
      /// Maximum pretraining epochs of the classifier (early stopping on dev F1, patience 5).
      PretrainEpochs: int
      /// Optimizer of the feature network's pretraining as an independent-sigmoid classifier (default
      /// Adam 1e-3 with weight decay 1e-5).
      PretrainOptimizer: OptimizerOptions
      /// Hidden units h of the SPEN global term.
      EnergyHidden: int
      /// SPEN + structured SVM options.
      Ssvm: StructuredSvmOptions
      /// Inference-network options of InfNet and InfNetSsvm: joint min-max epochs, retuning epochs,
      /// entropy smoothing (Tu & Gimpel 2018; defaults: 10 epochs, 3 retuning epochs, τ = −1 inside
      /// the hinge).
      InfNet: InferenceNetworkOptions
      /// Options of implicit training through the inference network (Shankar & Piratla 2022;
      /// defaults: 10 epochs, τ = −1, made well-posed by `ImplicitStructured.wellPosed 1.0 10 30`).
      Implicit: ImplicitTrainingOptions
      /// Test-time retuning of the inference network on the unlabelled dev and test inputs
      /// (transductive; energy minimisation needs no labels; the number of epochs is chosen on dev
      /// F1) rather than on the training inputs.
      RetuneOnEvaluationInputs: bool
      /// Inference networks (InfNet): keep the local term B clamped at the pretrained classifier's
      /// output layer and train only the global term (C₁, c₂) in the joint min-max — Belanger &
      /// McCallum 2016 (§7) train the local energy as a classifier first and then the global energy
      /// with the local one clamped. Without it the joint game moves B so that retuning lowers dev F1
      /// (docs/papers/spen.md).
      ClampLocalEnergy: bool
      /// The same for the structured-SVM energy (Spen and InfNetSsvm). Off by default: on bibtex dev
      /// F1 is higher with B trained (40.75 vs 40.64, seeds 0–2).
      ClampLocalEnergySsvm: bool
      /// SPEN (SSVM): Belanger & McCallum's third stage — after the SSVM epochs on fixed features,
      /// fine-tune the feature network F(x) end to end through the energy with the structured SVM,
      /// jointly with θ (`SpenEndToEnd.train`); model selection on dev F1 restores the best of the
      /// second stage's result and every end-to-end epoch. Off by default: on bibtex dev F1 ties
      /// (40.77 vs 40.75, seeds 0–2; docs/papers/spen.md) at the cost of 5 more epochs.
      FineTuneFeatures: bool
      /// Optimizer of the feature network when `FineTuneFeatures` (a smaller learning rate than θ's).
      FeatureOptimizer: OptimizerOptions
      /// Epochs of the end-to-end stage (run after the SSVM epochs on fixed features).
      FineTuneEpochs: int
      /// Optimizer of the energy θ during the end-to-end stage.
      FineTuneEnergyOptimizer: OptimizerOptions
      /// Device and dtype of the networks and data tensors (default CPU float32).
      Context: Context }

/// The outcome of one run.
type SpenResult =
    { /// The method's name from `SpenExperiment.methodName`: "mlp", "spen", "infnet", "implicit" or "infnet-ssvm".
      Method: string
      /// The training seed of the run (`SpenExperimentOptions.Seed`; the split seed is separate).
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
    /// global term h = 16, dev 20% of train; per-method settings from the trainers' defaults, except
    /// entropy smoothing τ = −1 for the inference networks (so that, at the start, the classifier
    /// is the optimum of the local energy, as with entropic mirror descent for the SPEN), that
    /// smoothing inside the inference networks' hinge, the local energy clamped at the classifier
    /// for the inference networks (only the global term trains; chosen on dev), and a well-posed inner problem for implicit
    /// training (λ = 1 pull toward the pretrained weights, 10 refinement steps, CG K = 30 on
    /// H + 2λI: every solve converges on bibtex, see docs/papers/spen.md).
    let defaults =
        { Method = Spen; Seed = 0; SplitSeed = 0; DevFraction = 0.2; Hidden = [ 150; 150 ]; PretrainEpochs = 40
          PretrainOptimizer = OptimizerOptions.adam 1e-3 |> OptimizerOptions.withWeightDecay 1e-5
          EnergyHidden = 16
          Ssvm = { StructuredSvm.defaults with Epochs = 10; Optimizer = OptimizerOptions.adam 1e-3 }
          InfNet = { InferenceNetworks.defaults with Epochs = 10; RetuneEpochs = 3; EntropyWeight = -1.0; EntropyInHinge = true }
          Implicit = { ImplicitStructured.defaults with Epochs = 10; EntropyWeight = -1.0 } |> ImplicitStructured.wellPosed 1.0 10 30
          RetuneOnEvaluationInputs = true
          ClampLocalEnergy = true
          ClampLocalEnergySsvm = false
          FineTuneFeatures = false
          FeatureOptimizer = SpenEndToEnd.defaults.FeatureOptimizer
          FineTuneEpochs = 5
          FineTuneEnergyOptimizer = OptimizerOptions.adam 1e-4
          Context = Context.cpu }

    /// A configuration that runs in well under 3 minutes on one core on bibtex: fewer epochs.
    let quick =
        { defaults with
            PretrainEpochs = 15
            Ssvm = { defaults.Ssvm with Epochs = 3 }
            InfNet = { defaults.InfNet with Epochs = 3; RetuneEpochs = 1 }
            Implicit = { defaults.Implicit with Epochs = 3 } }

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
    let pretrain (options: SpenExperimentOptions) (rng: Rng) (train: Tensor * Tensor) (dev: Tensor * Tensor) : Parameter list =
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

    /// Runs one method on (train, dev, test) and scores it. `progress` receives (fraction, text).
    /// The sets are not disposed; they are copied into the options' context.
    let run (options: SpenExperimentOptions) (progress: float * string -> unit)
            (train: MultilabelSet) (dev: MultilabelSet) (test: MultilabelSet) : SpenResult =
        let labels = train.LabelCount
        for name, (split: MultilabelSet) in [ "dev", dev; "test", test ] do
            if split.Count = 0 then invalidArg name (sprintf "the %s split is empty" name)
            if split.LabelCount <> labels then
                invalidArg name (sprintf "label count mismatch: train has %d labels, %s has %d" labels name split.LabelCount)
            if split.FeatureCount <> train.FeatureCount then
                invalidArg name (sprintf "feature count mismatch: train has %d inputs, %s has %d" train.FeatureCount name split.FeatureCount)
        let watch = Stopwatch.StartNew ()
        let ctx = options.Context
        use rng = new Rng(int64 options.Seed, ctx.Device)
        Scope.run (fun () ->
            let onContext (set: MultilabelSet) = let s = MultilabelSet.toContext ctx set in s.Features, s.Labels
            let x, y = onContext train
            let xDev, yDev = onContext dev
            let xTest, yTest = onContext test
            progress (0.0, "pretraining the feature network")
            let classifier = pretrain options rng (x, y) (xDev, yDev)
            let cls = FunctionalMlp.tensors classifier
            let pretrainDev = devScore (classifierScores cls xDev) yDev
            progress (0.2, sprintf "pretrained: dev F1 %.2f" pretrainDev)
            let data = { Inputs = x; Features = featuresOf cls x; Labels = y }
            let fDev, fTest = featuresOf cls xDev, featuresOf cls xTest
            let sub (a: float) (f, s) = progress (0.2 + 0.8 * f * a, s)
            let newEnergy () =
                let last = cls[cls.Length - 2]
                let bias = cls[cls.Length - 1]
                let theta = Spen.createFromClassifier rng ctx (Tensor.cat 1 [ last.detach (); (Tensor.unsqueeze 1 bias).detach () ]) options.EnergyHidden
                // A parameter without requires_grad gets no gradient, and the optimizers skip it.
                let clamp =
                    match options.Method with
                    | InfNet -> options.ClampLocalEnergy
                    | Spen | InfNetSsvm -> options.ClampLocalEnergySsvm
                    | Mlp | Implicit -> false
                if clamp then theta.Head.requires_grad <- false
                theta
            let scoresDev, scoresTest, extra =
                match options.Method with
                | Mlp -> classifierScores cls xDev, classifierScores cls xTest, []
                | Spen when options.FineTuneFeatures ->
                    let theta = newEnergy ()
                    let th = Structured.tensors theta
                    let ssvm = { options.Ssvm with Seed = int64 options.Seed }
                    // Second stage (Belanger & McCallum 2016, §7): the energy on the fixed features.
                    let predictFixed f = StructuredSvm.predict ssvm th f labels
                    StructuredSvm.train ssvm (fun () -> devScore (predictFixed fDev) yDev) (sub 0.5) theta data |> ignore
                    // Third stage: φ (a copy of the classifier's hidden layers) and θ jointly. The
                    // output layer (already copied into B) is only there for FunctionalMlp.features,
                    // which drops it.
                    let phi = FunctionalMlp.copy classifier |> List.take (cls.Length - 2)
                    let outputLayer = cls |> List.skip (cls.Length - 2) |> List.map Tensor.detach
                    let featureMap (ps: Tensor list) (inputs: Tensor) =
                        let h = FunctionalMlp.features (ps @ outputLayer) inputs
                        Tensor.cat 1 [ h; torch.ones ([| h.shape[0]; 1L |], dtype = h.dtype, device = h.device) ]
                    let ph = Structured.tensors phi
                    let predict (xs: Tensor) = StructuredSvm.predict ssvm th (Diff.noGrad (fun () -> featureMap ph xs)) labels
                    let endToEnd = { FineTuneFeatures = true; FeatureOptimizer = options.FeatureOptimizer }
                    let stage3 = { ssvm with Epochs = options.FineTuneEpochs; Optimizer = options.FineTuneEnergyOptimizer }
                    let startDev = devScore (predict xDev) yDev
                    let records = SpenEndToEnd.train stage3 endToEnd featureMap (fun () -> devScore (predict xDev) yDev) (fun (f, t) -> sub 1.0 (0.5 + 0.5 * f, t)) theta phi data
                    let best = records |> List.fold (fun (e, v) r -> if r.Validation > v then r.Epoch, r.Validation else e, v) (0, startDev)
                    predict xDev, predict xTest, [ "fine_tune_selected_epoch", float (fst best); "stage2_dev_f1", startDev ]
                | Spen ->
                    let theta = newEnergy ()
                    let th = Structured.tensors theta
                    let ssvm = { options.Ssvm with Seed = int64 options.Seed }
                    let predict f = StructuredSvm.predict ssvm th f labels
                    StructuredSvm.train ssvm (fun () -> devScore (predict fDev) yDev) (sub 1.0) theta data |> ignore
                    predict fDev, predict fTest, []
                | InfNet | InfNetSsvm ->
                    let theta = newEnergy ()
                    let phi = InferenceNetwork.initFrom classifier
                    let o = { options.InfNet with Seed = int64 options.Seed }
                    let ph = Structured.tensors phi
                    let validateWith (ps: Tensor list) () = devScore (classifierScores ps xDev) yDev
                    if options.Method = InfNet then
                        InferenceNetworks.train o (validateWith ph) (sub 0.8) theta phi data |> ignore
                    else
                        let ssvm = { options.Ssvm with Seed = int64 options.Seed }
                        let th = Structured.tensors theta
                        let predict f = StructuredSvm.predict ssvm th f labels
                        StructuredSvm.train ssvm (fun () -> devScore (predict fDev) yDev) (sub 0.8) theta data |> ignore
                    // Test-time network started from the pretrained classifier (Tu & Gimpel 2018, §3.3,
                    // also start A_Ψ from pretrained weights); Φ is cost-augmented.
                    let psi = FunctionalMlp.copy classifier
                    let retuneData =
                        if options.RetuneOnEvaluationInputs then
                            let xs = Tensor.cat 0 [ xDev; xTest ]
                            { Inputs = xs; Features = Tensor.cat 0 [ fDev; fTest ]; Labels = torch.zeros ([| xs.shape[0]; int64 labels |], dtype = xs.dtype, device = xs.device) }
                        else data
                    let retuned = InferenceNetworks.retune o (validateWith (Structured.tensors psi)) (Structured.tensors theta) cls psi retuneData
                    progress (1.0, sprintf "retuned %d epoch(s), dev F1 by epoch %s" retuned.Length
                                        (retuned |> List.map (fun r -> sprintf "%.2f" r.Validation) |> String.concat " "))
                    let ps = Structured.tensors psi
                    // Which retuning epoch model selection kept (0: the pretrained start) and the dev
                    // F1 it had: the diagnosis of "the column equals the MLP".
                    let best = retuned |> List.fold (fun (e, v) r -> if r.Validation > v then r.Epoch, r.Validation else e, v) (0, pretrainDev)
                    classifierScores ps xDev, classifierScores ps xTest,
                    [ "retune_selected_epoch", float (fst best); "retune_dev_f1_selected", snd best
                      "retune_dev_f1_last", (match List.tryLast retuned with Some r -> r.Validation | None -> nan) ]
                | Implicit ->
                    let theta = newEnergy ()
                    let psi = InferenceNetwork.initFrom classifier
                    let ps = Structured.tensors psi
                    let o = { options.Implicit with Seed = int64 options.Seed }
                    let _, stats = ImplicitStructured.train o (fun () -> devScore (classifierScores ps xDev) yDev) (sub 1.0) theta psi data
                    classifierScores ps xDev, classifierScores ps xTest,
                    [ "solves", float stats.Solves; "not_converged", float stats.NotConverged
                      "mean_relative_residual", stats.MeanRelativeResidual; "max_relative_residual", stats.MaxRelativeResidual
                      "hvp_count", float stats.HvpCount
                      "mean_inner_gradient_norm", stats.MeanInnerGradientNorm; "max_inner_gradient_norm", stats.MaxInnerGradientNorm
                      "mean_inner_gradient_ratio", stats.MeanInnerGradientRatio ]
            let threshold, devF1 = MultilabelMetrics.selectThreshold MultilabelMetrics.defaultGrid scoresDev yDev
            let testF1 = MultilabelMetrics.exampleF1At threshold scoresTest yTest
            { Method = methodName options.Method; Seed = options.Seed; DevF1 = 100.0 * devF1; TestF1 = 100.0 * testF1
              Threshold = threshold; PretrainDevF1 = pretrainDev; Seconds = watch.Elapsed.TotalSeconds; Extra = extra })

    /// Loads a MULAN folder (float64), carves the dev split off train with `Rng(options.SplitSeed)`
    /// (`Mulan.validationSplit`, fraction `options.DevFraction`), standardises dense inputs with the
    /// remaining training rows' statistics (binary inputs such as bibtex's are kept), and runs.
    let runOnFolder (options: SpenExperimentOptions) (progress: float * string -> unit) (dir: string) : SpenResult =
        use data = Mulan.loadFrom Context.cpu64 dir
        use rng = new Rng(int64 options.SplitSeed, data.Train.Features.device)
        use split = Mulan.validationSplit rng options.DevFraction data
        let runOn (d: MultilabelSplits) = run options progress d.Train d.Validation.Value d.Test
        if MultilabelSet.hasBinaryFeatures split.Train then runOn split
        else
            use scaled = Mulan.standardize split
            runOn scaled
