/// Whole epochs of each paper's main trainer, through the library's real training entry points (the
/// functions the paper experiments call, which run `Fit.run` / `Fit.runSteps` or, for dual training,
/// `Dual.run`), so that a regression anywhere in a training loop (batching, the fit loop's checks,
/// optimizer set-up, validation) shows in `bench --compare`. Each set-up loads its data from `data/`
/// and prepares it outside the timed region; each timed call starts from the same state — fresh
/// parameters drawn from a fixed seed (or restored from a snapshot taken at set-up), a fresh
/// optimizer and the same batch order — so that calls and runs time the same work. These benchmarks
/// are EnergyFs-only: the step twins in bench/pytorch are not these experiments' loops.
///
/// - Fenchel-Young (Blondel et al. 2022, arXiv 2205.09589, §5.1): one epoch of one weight-decay
///   candidate of `MultilabelExperiment.runSeed` — `Multilabel.trainRun` with the generalized FY loss
///   of the quadratic energy on yeast, one of the paper's sets (validation split and standardization
///   as `runSeed` makes them; 29 ms per epoch on the shared 2-core VM), and on bibtex (k = 159, the
///   size of the `fy-train-step-k159` step), whose epoch lasts long enough to time on a loaded machine.
/// - Dual training (Domingo-Enrich et al. 2021, arXiv 2107.05134): `Dual.run` for a fixed number of
///   GDA iterations of the teacher–student experiment's quick configuration (`DualTeacherStudent.quick
///   15 1000`: d = 15, n = 1000 teacher samples, 500 particles, 64 ReLU neurons).
/// - SPEN (Belanger & McCallum 2016, arXiv 1511.06350, as `SpenExperiment` trains it): one epoch of
///   `StructuredSvm.train` with `SpenExperiment.ssvmStage` on features of a bibtex subset, with the
///   experiment's dev-F1 validation after the epoch.
/// - Sequence labelling: one epoch of `SequenceTagger.fit` (BiLSTM-CRF, the tagger defaults) on the
///   first sentences of UD English EWT with a dev set, as `PosTagging.runOnFolder` calls it; and one
///   epoch of `InferenceNetworks.train` on label sequences as `PosTaggingEnergies.runOnFolder` (Infnet)
///   runs it.
module EnergyFs.Bench.Groups.Epochs

open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Energies
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Models
open EnergyFs.Training
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Bench

// ---------------------------------------------------------------------------------------------
// Fenchel-Young: multilabel classification with the generalized FY loss.

/// The weight decay of the timed candidate (the first of the grid).
let private fyDecay = MultilabelOptions.defaults.WeightDecays.Head

/// Loads the MULAN set in float64, carves the 20 % validation split with Rng(0), standardizes with
/// the remaining training rows and moves to CPU float32, as `MultilabelExperiment.runSeed` does.
let private fyMultilabelEpoch (dataset: string) () =
    let options = { MultilabelOptions.defaults with Epochs = 1 }
    use data = Mulan.loadNamed Context.cpu64 dataset
    use rng = new Rng(0L, torch.CPU)
    use split = Mulan.validationSplit rng options.ValidationFraction data
    use scaled = Mulan.standardize split
    let prepared = Mulan.toContext options.Context scaled
    Benchmark.case [ prepared ] (fun () ->
        let net, _ = Multilabel.trainRun options 0L fyDecay prepared.Train prepared.Validation.Value ignore
        (net :> System.IDisposable).Dispose ())

// ---------------------------------------------------------------------------------------------
// Dual training: GDA iterations of the teacher–student experiment.

/// GDA iterations per timed call (a tenth of the quick configuration's 4000).
let private dualIterations = 400

/// The quick teacher–student configuration on S^14 with n = 1000 (the paper's d and n).
let private dualConfig = DualTeacherStudent.quick 15 1000

/// Teacher, its samples and the student's initial state drawn as `DualTeacherStudent.run` draws them
/// (one generator split into teacher, data, student and training streams); each call runs
/// `Dual.run` from that state (which it leaves intact) with a fresh training generator.
let private dualGdaEpoch () =
    let ctx = Context.cpu
    let c = dualConfig
    use rng = new Rng(c.Seed, ctx.Device)
    use teacherRng = rng.Split ()
    use dataRng = rng.Split ()
    use studentRng = rng.Split ()
    use trainRng = rng.Split ()
    let teacher = Shallow.teacher teacherRng ctx c.TeacherNeurons c.Dim c.Beta
    let data = DualTeacherStudent.teacherSamples dataRng ctx teacher c.Samples
    let student = Shallow.random studentRng ctx Relu c.StudentNeurons c.Dim c.InitialMass
    let initial = Dual.init trainRng c.Options data student
    Shallow.dispose student
    Shallow.dispose teacher
    let owned : System.IDisposable list = [ data; initial.Particles; initial.Energy.Features; initial.Energy.Signs; initial.Energy.Masses ]
    Benchmark.case owned (fun () ->
        use stream = new Rng(c.Seed + 1L, ctx.Device)
        Dual.run stream c.Options data dualIterations ignore initial |> Dual.dispose)

// ---------------------------------------------------------------------------------------------
// SPEN: the structured SVM on fixed features.

/// Training and dev rows of the bibtex subset (the first rows of each split).
let private spenTrainRows, spenDevRows = 1024, 256

/// bibtex as `SpenExperiment.runOnFolder` prepares it (float64, 20 % dev split with Rng(0), binary
/// inputs not standardized), the first rows of train and dev in float32, and their features
/// [F(x), 1] from a feature network of the experiment's shape (1836-150-150-159) drawn from Rng(0):
/// not pretrained, which leaves the cost of an epoch unchanged (inference runs its fixed 30 steps).
let private spenSsvmEpoch () =
    let setup = SpenExperiment.setup
    let ctx = setup.Context
    use data = Mulan.loadNamed Context.cpu64 "bibtex"
    use splitRng = new Rng(int64 setup.SplitSeed, torch.CPU)
    use split = Mulan.validationSplit splitRng setup.DevFraction data
    let rows (n: int) (set: MultilabelSet) =
        Scope.tensor2 (fun () ->
            let k = min (int64 n) set.Features.shape[0]
            let take (t: Tensor) = (Tensor.toContext ctx (t.narrow (0L, 0L, k))).clone ()
            take set.Features, take set.Labels)
    let x, y = rows spenTrainRows split.Train
    let xDev, yDev = rows spenDevRows split.Validation.Value
    use netRng = new Rng(int64 setup.Seed, ctx.Device)
    let classifier = FunctionalMlp.create netRng ctx ([ int x.shape[1] ] @ setup.Hidden @ [ int y.shape[1] ])
    let cls = FunctionalMlp.tensors classifier
    let featuresOf (inputs: Tensor) =
        Scope.tensor (fun () ->
            Diff.noGrad (fun () ->
                let h = FunctionalMlp.features cls inputs
                Tensor.cat 1 [ h; torch.ones ([| h.shape[0]; 1L |], dtype = h.dtype, device = h.device) ]))
    let f, fDev = featuresOf x, featuresOf xDev
    // The local term starts at the classifier's output layer [W | b], as SpenExperiment's newEnergy.
    let local =
        Scope.tensor (fun () -> Tensor.cat 1 [ cls[cls.Length - 2].detach (); (Tensor.unsqueeze 1 cls[cls.Length - 1]).detach () ])
    let labels = int y.shape[1]
    let ssvm = { SpenExperiment.ssvmStage.Ssvm with Epochs = 1; Seed = int64 setup.Seed }
    let examples = Structured.multilabel x f y
    let owned = [ x; y; xDev; yDev; f; fDev; local ] @ cls |> List.map (fun t -> t :> System.IDisposable)
    Benchmark.case owned (fun () ->
        use rng = new Rng(int64 setup.Seed, ctx.Device)
        let theta = Spen.createFromClassifier rng ctx local setup.EnergyHidden
        let th = Structured.tensors theta
        let validate () =
            Scope.run (fun () ->
                100.0 * snd (MultilabelMetrics.selectThreshold MultilabelMetrics.defaultGrid (StructuredSvm.predict ssvm th fDev labels) yDev))
        try StructuredSvm.train ssvm validate ignore theta examples |> ignore
        finally Scope.disposeAll th)

// ---------------------------------------------------------------------------------------------
// Sequence labelling: the BiLSTM-CRF tagger and inference networks on label sequences.

/// Training and dev sentences: the first ones of UD English EWT's train and dev splits.
let private taggerTrain, taggerDev = 500, 200

let private ewt (split: string) (count: int) = Conllu.readSplit (Conllu.englishEwt ()) split |> Array.truncate count

/// One epoch of `SequenceTagger.fit` (vocabularies, a fresh network from seed 0, bucketed batches of
/// 32, Adam with clipping, the dev accuracy after the epoch), the sentences read at set-up.
let private crfTaggerEpoch () =
    let train, dev = ewt "train" taggerTrain, ewt "dev" taggerDev
    let options = { SequenceTaggerOptions.defaults with Epochs = 1 }
    Benchmark.case [] (fun () ->
        use tagger = SequenceTagger.fit options train (Some dev)
        ())

/// The quick energy configuration of the part-of-speech experiments (convolutional term, sentences
/// of at most 25 words, batch 32, Adam 1e-3 / 5e-4, τ = 0.1).
let private posSetup = PosTaggingEnergies.quickSetup

/// Set-up as `PosTaggingEnergies.runOnFolder` (Infnet) makes it, on the first sentences of EWT: a
/// CRF tagger fitted for one epoch gives the features F(x) (fixed), θ starts from its output layer
/// and transitions (`initialEnergy`), Φ from its BiLSTM (`BiLstmTaggerNetwork.blocks`). Each call
/// restores θ and Φ from snapshots and runs one epoch of `InferenceNetworks.train` (fresh optimizers,
/// the batch order of the seed).
let private infnetSequenceEpoch () =
    let ctx = posSetup.Pretrain.Tagger.Context
    let seed = posSetup.Pretrain.Tagger.Seed
    let train = ewt "train" taggerTrain
    use tagger = SequenceTagger.fit { posSetup.Pretrain.Tagger with Loss = Crf; Epochs = 1 } train None
    let encoded =
        train |> Array.map (SequenceVocabulary.encode tagger.Vocabulary) |> Array.filter (fun s -> s.Length <= posSetup.MaxTrainLength)
    let data = PosTaggingEnergies.examples ctx tagger.Net encoded
    use rng = new Rng(seed, ctx.Device)
    let theta = PosTaggingEnergies.initialEnergy rng ctx tagger.Net posSetup
    let phi = BiLstmTaggerNetwork.blocks tagger.Net
    let theta0, phi0 = Snapshot.take theta, Snapshot.take phi
    let svm = PosTaggingEnergies.svmOptions posSetup seed
    let options =
        { InferenceNetworks.sequence svm.Energy with
            Epochs = 1; BatchSize = posSetup.BatchSize; Seed = seed; RetuneEpochs = posSetup.RetuneEpochs
            EnergyOptimizer = OptimizerOptions.adam posSetup.EnergyLearningRate
            NetworkOptimizer = OptimizerOptions.adam posSetup.NetworkLearningRate }
    let owned : System.IDisposable list =
        [ data.Inputs; data.Features; data.Labels; data.Mask.Value ] @ Structured.tensors theta @ Structured.tensors phi @ theta0 @ phi0
        |> List.map (fun t -> t :> System.IDisposable)
    Benchmark.case owned (fun () ->
        Snapshot.restore theta theta0
        Snapshot.restore phi phi0
        InferenceNetworks.train options (fun () -> nan) ignore theta phi data |> ignore)

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "epochs" "fy-multilabel-epoch"
          (sprintf "one epoch of Multilabel.trainRun (Fit.run) as one weight-decay candidate of MultilabelExperiment.runSeed (Blondel et al. 2022, §5.1, Table 1): yeast (1200 training rows after the 20%% validation split: 19 batches of 64; 103 features, 14 labels), MLP d-128-k + learned A, generalized FY loss of the quadratic energy (parallel minorized ascent to 1e-4, at most 100 iterations), Adam 1e-3, weight decay %g, the validation Hamming accuracy after the epoch; a fresh network from seed 0 per call" fyDecay)
          (fyMultilabelEpoch "yeast")
      Benchmark.create "epochs" "fy-multilabel-epoch-bibtex"
          "the same epoch on bibtex (3904 training rows after the validation split: 61 batches of 64; 1836 features, 159 labels), the size of the fy-train-step-k159 step; `energyfs fy multilabel --data bibtex` runs the experiment on it"
          (fyMultilabelEpoch "bibtex")
      Benchmark.create "epochs" "dual-gda-epoch"
          (sprintf "%d GDA iterations of Dual.run (a tenth of the quick run) of the teacher-student experiment (DualTeacherStudent.quick 15 1000: S^14, n = 1000 teacher samples, %d particles, %d ReLU neurons, eta = alpha = %g): Langevin step of the particles + maximum-likelihood neuron update; from the same initial state and training seed per call" dualIterations dualConfig.Options.Particles dualConfig.StudentNeurons dualConfig.Options.ParticleStep)
          dualGdaEpoch
      Benchmark.create "epochs" "spen-ssvm-epoch"
          (sprintf "one epoch of StructuredSvm.train (Fit.runSteps) with SpenExperiment.ssvmStage (Belanger & McCallum 2016): the first %d training rows of bibtex (32 steps of batch 32), features [F(x), 1] of a 1836-150-150 network (fixed, drawn from seed 0), SPEN energy (159 labels, h = 16) started from the output layer, loss-augmented entropic mirror descent (30 steps), Adam 1e-3, then the experiment's dev example-F1 validation on %d dev rows; fresh theta from seed 0 per call" spenTrainRows spenDevRows)
          spenSsvmEpoch
      Benchmark.create "epochs" "crf-tagger-epoch"
          (sprintf "one epoch of SequenceTagger.fit (Fit.run) as PosTagging.runOnFolder calls it: the first %d sentences of UD English EWT train (16 bucketed batches of 32), BiLSTM-CRF with the tagger defaults (word 100, features 20, 100 units per direction, dropout 0.25, Adam 2e-3, clipping 5), vocabularies built in the call, dev token accuracy (Viterbi) on the first %d dev sentences after the epoch; a fresh network from seed 0 per call" taggerTrain taggerDev)
          crfTaggerEpoch
      Benchmark.create "epochs" "infnet-sequence-epoch"
          (sprintf "one epoch of InferenceNetworks.train (Fit.runSteps) as PosTaggingEnergies.runOnFolder (Infnet, quick setup) runs it: the sentences of at most %d words among the first %d of EWT train (313: 10 batches), features of a CRF tagger fitted for one epoch at set-up, linear chain + convolutional label energy (50 filters of width 3), BiLSTM inference network, batch %d, Adam %g / %g, tau = %g; theta and Phi restored from snapshots per call" posSetup.MaxTrainLength taggerTrain posSetup.BatchSize posSetup.EnergyLearningRate posSetup.NetworkLearningRate posSetup.Entropy)
          infnetSequenceEpoch ]
