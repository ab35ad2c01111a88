namespace EnergyFs.Papers.StructuredPrediction

open EnergyFs
open EnergyFs.Training
open EnergyFs.Learners

// The settings of the multilabel experiments (`SpenExperiment`): what every method shares
// (`SpenSetup`) and each method's own (`SpenMethodSettings`), so that one method's flag never sits in
// another's options. The defaults are `SpenExperiment.setup` and `SpenExperiment.settings`.

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

/// Settings every method shares: the seeds, the dev split, the feature network and its
/// pretraining, the energy's size and the device.
type SpenSetup =
    { /// Seed of initialisation and batch order (the dev split uses SplitSeed).
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
      /// Device and dtype of the networks and data tensors (default CPU float32).
      Context: Context }

/// The structured-SVM training of a SPEN energy (Belanger & McCallum 2016), used by Spen and
/// InfNetSsvm.
type SsvmStage =
    { /// Structured-SVM options (epochs, optimizer, inference; the seed is the setup's).
      Ssvm: StructuredSvmOptions
      /// Keep the local energy term B clamped at the pretrained classifier and train only the
      /// global term. Off by default: on bibtex dev F1 is higher with B trained (40.75 vs 40.64,
      /// seeds 0–2).
      ClampLocalEnergy: bool }

/// Belanger & McCallum's third stage for Spen: after the SSVM epochs on fixed features, the feature
/// network F(x) fine-tuned end to end through the energy with the structured SVM, jointly with θ
/// (`SpenEndToEnd.train`); model selection on dev F1 restores the best of the second stage's
/// result and every end-to-end epoch. Not used by default: on bibtex dev F1 ties (40.77 vs 40.75,
/// seeds 0–2; docs/papers/spen.md) at the cost of 5 more epochs.
type FineTuneStage =
    { /// Optimizer of the feature network (a smaller learning rate than θ's; default Adam 1e-5).
      FeatureOptimizer: OptimizerOptions
      /// Epochs of the end-to-end stage (default 5).
      FineTuneEpochs: int
      /// Optimizer of the energy θ during the end-to-end stage (default Adam 1e-4).
      FineTuneEnergyOptimizer: OptimizerOptions }

/// Inference networks trained jointly with the energy (Tu & Gimpel 2018), then retuned at test time.
type InfNetStage =
    { /// Joint min-max epochs, retuning epochs, entropy smoothing (defaults: 10 epochs, 3 retuning
      /// epochs, τ = −1 inside the hinge); also the retuning's options.
      InfNet: InferenceNetworkOptions
      /// Keep the local term B clamped at the pretrained classifier's output layer and train only the
      /// global term (C₁, c₂) in the joint min-max — Belanger & McCallum 2016 (§7) train the local
      /// energy as a classifier first and then the global energy with the local one clamped. Without
      /// it the joint game moves B so that retuning lowers dev F1 (docs/papers/spen.md). On by default.
      ClampLocalTerm: bool
      /// Retune on the unlabelled dev and test inputs (see `RetuneStage`). On by default.
      RetuneOnEvaluation: bool }

/// Test-time retuning of an inference network on a fixed energy (Tu & Gimpel 2018, §3.3), for
/// InfNetSsvm.
type RetuneStage =
    { /// Options of the retuning (its epochs `RetuneEpochs`, optimizer, entropy smoothing).
      Retune: InferenceNetworkOptions
      /// Retune on the unlabelled dev and test inputs (transductive; energy minimisation needs no
      /// labels; the number of epochs is chosen on dev F1) rather than on the training inputs.
      RetuneOnEvaluationInputs: bool }

/// A method with its own settings (one case per `SpenMethod`).
type SpenMethodSettings =
    /// The pretrained feature network as the classifier: nothing more to set.
    | MlpSettings
    /// SPEN with the structured SVM, optionally followed by end-to-end fine-tuning.
    | SpenSettings of ssvm: SsvmStage * fineTune: FineTuneStage option
    /// Inference networks.
    | InfNetSettings of InfNetStage
    /// Implicit training (Shankar & Piratla 2022; defaults: 10 epochs, τ = −1, made well-posed by
    /// `ImplicitStructured.wellPosed 1.0 10 30`).
    | ImplicitSettings of ImplicitTrainingOptions
    /// An inference network retuned on the energy of a SPEN trained with the structured SVM.
    | InfNetSsvmSettings of ssvm: SsvmStage * retune: RetuneStage
