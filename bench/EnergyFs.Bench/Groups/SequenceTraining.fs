/// One training step of inference networks on label sequences (Tu & Gimpel 2018, arXiv
/// 1803.03376, §3 and §7; the energy of Tu, Pang & Gimpel 2020, arXiv 2005.04231, §3), as the
/// part-of-speech experiments take it (`PosTaggingEnergies.runOnFolder`, Infnet): the step of
/// `InferenceNetworks.task` on a batch of 32 sentences padded to 25 words (lengths 5 … 25 as in
/// `Sequences.lengthOf`), 17 labels. The cost-augmented network Φ is a BiLSTM tagger
/// (`BiLstmTagger` over `FunctionalLstm` blocks: 180 inputs — the tagger defaults' word 100 +
/// shape 20 + three suffixes of 20 —, 100 units per direction, a linear layer to the labels, a
/// per-position softmax); the energy E_θ is the linear chain on features F(x) [B, T, 2·100 + 1]
/// plus the convolutional label term with 50 filters of width 3 (`SequenceEnergy.sum`); Adam for
/// both groups (learning rates 1e-3 for θ and 5e-4 for Φ, the experiments' setup), τ = 0.1,
/// λ = 1e-3, margin-rescaled hinge with the Hamming cost. One call is one step: the batch selected
/// (`Structured.select`), Φ descends −mean violation + τ mean entropy + λ‖Φ − Φ₀‖² (`Step.descend`:
/// zero the gradients, finite check of the loss, backward, the loss read back, gradient norm,
/// Adam), then θ descends the mean hinge at ȳ = A_Φ(x) under no_grad. Parameters keep training
/// from call to call on both sides.
///
/// The problem is drawn from one generator seeded 0, in this order, on both sides (float32,
/// uniform draws as `Tensor.uniform`: rand · (high − low) + low): Φ as `BiLstmTagger.create`
/// draws it (forward LSTM W_ih, W_hh, b in ±1/√100, backward LSTM likewise, output W and b in
/// ±1/√200), θ as `LinearChainEnergy.create` (B in ±1/√201, W in ±0.1) and
/// `ConvolutionalLabelEnergy.create` (C, b in ±1/√51, u in ±1/√50), then the inputs x = randn
/// [32, 25, 180] zeroed at padding, the features [uniform(−1, 1) [32, 25, 200]; 1] and the gold
/// tags randint(17) [32, 25] (one-hot, zero at padding). The PyTorch twin
/// (bench/pytorch/sequence_training.py, `infnet_step`) writes out the same step with the same
/// arithmetic; `first_steps` there and `firstSteps` here give the metrics of the first steps of both.
module EnergyFs.Bench.Groups.SequenceTraining

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Learners
open EnergyFs.Models
open EnergyFs.Training
open EnergyFs.Bench

/// Sentences, padded length, labels, input width (word 100 + shape 20 + 3 suffixes × 20), hidden
/// units per direction, convolutional filters and their width.
let private batch, words, labels, inputs, hidden, filters, width = 32, 25, 17, 180, 100, 50, 3

/// The experiments' options (`PosTaggingEnergies.setup`): Adam 1e-3 for θ, 5e-4 for Φ; τ = 0.1,
/// λ = 1e-3, margin-rescaled (the `InferenceNetworks` defaults).
let private options =
    let energy = SequenceEnergy.structured (SequenceEnergy.sum [ 1.0, LinearChainEnergy.term; 1.0, ConvolutionalLabelEnergy.term ])
    { InferenceNetworks.sequence energy with
        BatchSize = batch
        EnergyOptimizer = OptimizerOptions.adam 1e-3
        NetworkOptimizer = OptimizerOptions.adam 5e-4 }

/// The problem of the recipe above: (Φ, θ, examples).
let problem () : Parameter list * Parameter list * LabelledExamples =
    use rng = new Rng(0L, torch.CPU)
    let ctx = Context.cpu
    let phi = BiLstmTagger.create rng ctx inputs hidden labels
    let theta = LinearChainEnergy.create rng ctx labels (2 * hidden + 1) @ ConvolutionalLabelEnergy.create rng ctx labels filters width
    let b, t = int64 batch, int64 words
    let data =
        Scope.run (fun () ->
            let positions = torch.arange(t, dtype = torch.ScalarType.Int64).unsqueeze 0L
            let lengths = torch.tensor(Array.init batch (int64 << Sequences.lengthOf)).unsqueeze 1L
            let mask = positions.lt lengths
            let real = mask.to_type(torch.ScalarType.Float32).unsqueeze -1L
            let x = Tensor.randn rng ctx [ b; t; int64 inputs ] * real
            let features = torch.cat (ResizeArray [ Tensor.uniform rng ctx (-1.0) 1.0 [ b; t; 2L * int64 hidden ]; torch.ones ([| b; t; 1L |]) ], 2L)
            let tags = torch.randint(int64 labels, [| b; t |], dtype = torch.ScalarType.Int64, generator = rng.Generator)
            let y = torch.nn.functional.one_hot(tags, int64 labels).to_type(torch.ScalarType.Float32) * real
            { Inputs = x.MoveToOuterDisposeScope (); Features = features.MoveToOuterDisposeScope ()
              Labels = y.MoveToOuterDisposeScope (); Mask = Some (mask.MoveToOuterDisposeScope ()) })
    phi, theta, data

/// A prepared step: the task's step on the whole batch (indices 0 … 31, in order), its context
/// (both optimizers, finite checks on as in every fit), and everything the set-up owns.
let private prepare () =
    let phi, theta, data = problem ()
    let phi0 = Snapshot.take phi
    let task = InferenceNetworks.task options (fun () -> nan) phi0 theta phi data
    let thetaOptimizer = Optimizer.ofParameters options.EnergyOptimizer theta
    let phiOptimizer = Optimizer.ofParameters options.NetworkOptimizer phi
    let ctx =
        { Epoch = 0; Step = 0; Optimizers = [ "theta", thetaOptimizer; "phi", phiOptimizer ]
          Named = [ "theta", Structured.named "theta" theta; "phi", Structured.named "phi" phi ]; CheckFinite = true }
    let idx = torch.arange (int64 batch, dtype = torch.ScalarType.Int64)
    let owned : System.IDisposable list =
        [ yield thetaOptimizer; yield phiOptimizer; yield idx; yield data.Inputs; yield data.Features; yield data.Labels; yield data.Mask.Value
          for t in Structured.tensors phi @ Structured.tensors theta @ phi0 -> t ]
    (fun () -> task.Step ctx idx), owned

/// The metrics (hinge, network_loss, grad_norm of θ) of the first `n` steps from the recipe's
/// problem, for comparison with the twin's `first_steps`.
let firstSteps (n: int) : (string * float) list list =
    let step, owned = prepare ()
    try List.init n (fun _ -> Scope.run step)
    finally for d in owned do d.Dispose ()

let private infnetStep () =
    let step, owned = prepare ()
    Benchmark.case owned (fun () -> step () |> ignore)

let private args = [ "batch", batch; "words", words; "labels", labels; "inputs", inputs; "hidden", hidden; "filters", filters; "width", width ]

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "sequences" "infnet-step"
        "one step of InferenceNetworks.task on label sequences, batch 32, lengths 5..25, 17 labels: BiLSTM inference network (FunctionalLstm blocks, 180 inputs, 100 units per direction, softmax per position) descends -mean margin-rescaled hinge violation (Hamming cost) + 0.1 mean entropy + 1e-3 |Phi - Phi0|^2, then the energy (linear chain on features [32, 25, 201] + convolutional label term, 50 filters of width 3) descends the mean hinge at the detached network output; Adam on both (Step.descend: finite check, loss read back, gradient norm). Twin: the same step written out in torch (sequence_training.infnet_step: LSTM loop, energies, losses and Adam with the same arithmetic; the same problem from one generator seeded 0); first-step metrics of both compared (see bench/README.md)"
        infnetStep
      |> Benchmark.versus "sequence_training.infnet_step" args ]
