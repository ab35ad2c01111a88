module EnergyFs.Tests.Learners.SequenceTrainersTests

open System
open Expecto
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Implicit
open EnergyFs.Learners

/// A hidden-Markov tagging task: 3 labels that mostly cycle (ℓ → ℓ + 1 mod 3 with probability
/// 0.9), each token equal to its label with probability 0.5, else the uninformative token 3. A
/// tagger that reads one token at a time is right about 1/2 + 1/2 · 1/3 of the time; one that
/// uses the transitions tags most uninformative tokens from their neighbours.
type HmmTask =
    { /// Token inputs and features: one-hot token (4 tokens) and a constant 1, [B, T, 5].
      Examples: LabelledExamples
      /// Gold tags [B, T] (0 at padding).
      Tags: int[,]
      /// Tokens [B, T].
      Tokens: int[,]
      /// Sentence lengths.
      Lengths: int[] }

let labels = 3
let steps = 8
/// One-hot over the 4 tokens and a constant.
let features = 5

/// `count` sentences of lengths 4 … 8 from seed `seed`, as float32 CPU tensors.
let hmm (seed: int) (count: int) : HmmTask =
    let random = Random seed
    let lengths = Array.init count (fun _ -> random.Next (4, steps + 1))
    let tags = Array2D.zeroCreate count steps
    let tokens = Array2D.zeroCreate count steps
    for b in 0 .. count - 1 do
        for t in 0 .. lengths[b] - 1 do
            let tag =
                if t = 0 then random.Next labels
                elif random.NextDouble () < 0.9 then (tags[b, t - 1] + 1) % labels
                else (tags[b, t - 1] + 1 + random.Next (1, labels)) % labels
            tags[b, t] <- tag
            tokens[b, t] <- if random.NextDouble () < 0.5 then tag else labels
    let ctx = Context.cpu
    let x = Array.init (count * steps * features) (fun i ->
        let b, t, k = i / (steps * features), (i / features) % steps, i % features
        if t >= lengths[b] then 0.0 elif k = features - 1 then 1.0 elif tokens[b, t] = k then 1.0 else 0.0)
    let inputs = (Tensor.ofArray ctx x).reshape [| int64 count; int64 steps; int64 features |]
    let mask = (torch.arange (0L, int64 steps)).unsqueeze(0L).lt ((Tensor.indices torch.CPU (lengths |> Array.map int64)).unsqueeze 1L)
    let tagTensor = (Tensor.indices torch.CPU [| for b in 0 .. count - 1 do for t in 0 .. steps - 1 -> int64 tags[b, t] |]).reshape [| int64 count; int64 steps |]
    let y = SequenceInference.oneHot (int64 labels) mask tagTensor inputs
    { Examples = { Inputs = inputs; Features = inputs; Labels = y; Mask = Some mask }; Tags = tags; Tokens = tokens; Lengths = lengths }

/// Token accuracy of predicted tags [B, T] over the real tokens.
let accuracy (task: HmmTask) (predicted: Tensor) =
    let p = Tensor.toArray predicted
    let mutable right, total = 0, 0
    for b in 0 .. task.Lengths.Length - 1 do
        for t in 0 .. task.Lengths[b] - 1 do
            total <- total + 1
            if int p[b * steps + t] = task.Tags[b, t] then right <- right + 1
    float right / float total

/// The best unary-only tagger: each token's most frequent tag in the training set (no model that
/// reads one token at a time does better on this distribution), scored on `test`.
let unaryBaseline (train: HmmTask) (test: HmmTask) =
    let counts = Array2D.zeroCreate (labels + 1) labels
    for b in 0 .. train.Lengths.Length - 1 do
        for t in 0 .. train.Lengths[b] - 1 do
            counts[train.Tokens[b, t], train.Tags[b, t]] <- counts[train.Tokens[b, t], train.Tags[b, t]] + 1
    let best token = [ 0 .. labels - 1 ] |> List.maxBy (fun l -> counts[token, l])
    let mutable right, total = 0, 0
    for b in 0 .. test.Lengths.Length - 1 do
        for t in 0 .. test.Lengths[b] - 1 do
            total <- total + 1
            if best test.Tokens[b, t] = test.Tags[b, t] then right <- right + 1
    float right / float total

let energy = SequenceEnergy.structured LinearChainEnergy.term

/// SSVM training of the linear chain for `epochs` epochs; returns θ and the test accuracy of
/// relaxed inference rounded per position.
let trainSsvm (epochs: int) (train: HmmTask) (test: HmmTask) =
    use rng = new Rng(1L, torch.CPU)
    let theta = LinearChainEnergy.create rng Context.cpu labels features
    let options = { StructuredSvm.sequence 0.0 energy with Epochs = epochs; BatchSize = 10; Optimizer = OptimizerOptions.adam 0.1 }
    StructuredSvm.train options (fun () -> nan) ignore theta train.Examples |> ignore
    let t = test.Examples
    let yHat = Diff.noGrad (fun () -> StructuredSvm.predictMasked options (Structured.tensors theta) t.Features t.Mask labels)
    theta, accuracy test (SequenceInference.tags yHat)

[<Tests>]
let tests =
    testList "Learners.SequenceTrainers" [
        testCase "the structured SVM on the linear chain beats the unary-only baseline; same seed, same θ" <| fun () ->
            Scope.run (fun () ->
                let train, test = hmm 1 150, hmm 2 150
                let baseline = unaryBaseline train test
                let _, acc = trainSsvm 10 train test
                Expect.isGreaterThan acc (baseline + 0.1) (sprintf "SSVM %.3f vs unary-only %.3f" acc baseline)
                let theta, first = trainSsvm 1 train test
                let theta2, again = trainSsvm 1 train test
                Expect.equal again first "same accuracy"
                List.iter2 (fun (a: Parameter) (b: Parameter) -> Expect.equal (Tensor.toArray b) (Tensor.toArray a) "same θ") theta theta2)

        testCase "inference networks (BiLSTM, cost-augmented, retuned) beat the unary-only baseline" <| fun () ->
            Scope.run (fun () ->
                let train, test = hmm 3 150, hmm 4 150
                let baseline = unaryBaseline train test
                use rng = new Rng(2L, torch.CPU)
                let theta = LinearChainEnergy.create rng Context.cpu labels features
                let phi = BiLstmTagger.create rng Context.cpu features 8 labels
                let options =
                    { InferenceNetworks.sequence energy with
                        Epochs = 8; BatchSize = 10; EnergyOptimizer = OptimizerOptions.adam 0.05; NetworkOptimizer = OptimizerOptions.adam 0.02
                        PullWeight = 0.0; RetuneEpochs = 10 }
                InferenceNetworks.train options (fun () -> nan) ignore theta phi train.Examples |> ignore
                let psi = FunctionalMlp.copy phi
                let phiNow = Structured.tensors phi
                let t = test.Examples
                let predict () = Diff.noGrad (fun () -> SequenceInference.tags (StructuredOutputs.predict options.Outputs (Structured.tensors psi) t.Mask t.Inputs))
                InferenceNetworks.retune options (fun () -> accuracy test (predict ())) (Structured.tensors theta) phiNow psi t |> ignore
                let acc = accuracy test (predict ())
                Expect.isGreaterThan acc (baseline + 0.1) (sprintf "inference network %.3f vs unary-only %.3f" acc baseline))

        testCase "implicit training (BiLSTM inner network, CG hypergradient) beats the unary-only baseline" <| fun () ->
            Scope.run (fun () ->
                let train, test = hmm 5 150, hmm 6 150
                let baseline = unaryBaseline train test
                use rng = new Rng(3L, torch.CPU)
                let theta = LinearChainEnergy.create rng Context.cpu labels features
                let psi = BiLstmTagger.create rng Context.cpu features 8 labels
                let options =
                    { ImplicitStructured.sequence energy with
                        Epochs = 10; BatchSize = 10; InnerSteps = 2; InnerOptimizer = OptimizerOptions.adam 0.02
                        OuterOptimizer = OptimizerOptions.adam 0.05; EntropyWeight = -1.0 }
                    |> ImplicitStructured.wellPosed 1e-2 0 10
                ImplicitStructured.train options (fun () -> nan) ignore theta psi train.Examples |> ignore
                let t = test.Examples
                let tags = Diff.noGrad (fun () -> SequenceInference.tags (StructuredOutputs.predict options.Outputs (Structured.tensors psi) t.Mask t.Inputs))
                let acc = accuracy test tags
                Expect.isGreaterThan acc (baseline + 0.1) (sprintf "implicit %.3f vs unary-only %.3f" acc baseline))

        testCase "the implicit hypergradient of the sequence problem matches finite differences of the outer loss" <| fun () ->
            Scope.run (fun () ->
                let ctx = Context.cpu64
                use rng = new Rng(7L, ctx.Device)
                let x = Tensor.randn rng ctx [ 2L; 3L; 2L ]
                let mask = (Tensor.ofRows ctx [| [| 1.0; 1.0; 1.0 |]; [| 1.0; 1.0; 0.0 |] |]).gt (Tensor.scalar ctx 0.5)
                let tags = (Tensor.indices ctx.Device [| 0L; 1L; 1L; 1L; 0L; 0L |]).reshape [| 2L; 3L |]
                let y = SequenceInference.oneHot 2L mask tags x
                let examples = { Inputs = x; Features = x; Labels = y; Mask = Some mask }
                let theta = LinearChainEnergy.create rng ctx 2 2 |> List.map (fun p -> Tensor.copy p * 3.0)
                let psi0 = BiLstmTagger.create rng ctx 2 2 2 |> List.map Tensor.copy
                let options = { ImplicitStructured.sequence energy with EntropyWeight = -1.0; PullWeight = 1.0 }
                let problem = ImplicitStructured.problem options psi0 examples examples
                let solveInner (th: Tensor list) =
                    let mutable psi = psi0
                    for _ in 1 .. 200 do
                        let g = Diff.gradN (fun ps -> problem.Inner th ps) psi
                        psi <- List.map2 (fun (p: Tensor) (gi: Tensor) -> (p - gi * 0.2).detach ()) psi g
                    psi
                let psiStar = solveInner theta
                let residual = Diff.gradN (fun ps -> problem.Inner theta ps) psiStar |> List.sumBy (fun g -> Tensor.toScalar (Tensor.sum (Tensor.square g))) |> sqrt
                Expect.isLessThan residual 1e-10 "the inner problem is solved"
                let r = Hypergradient.implicit (LinearSolvers.conjugateGradient { Iterations = 200; Tolerance = 1e-12 }) problem theta psiStar
                Expect.isTrue r.Diagnostics.Value.Converged "CG converged"
                // Along a random direction v of θ (both blocks): ⟨dL/dθ, v⟩ against central differences
                // of θ ↦ L(θ, ψ*(θ)), re-solving the inner problem at θ ± εv.
                let v = theta |> List.map (fun t -> Tensor.randn rng ctx (Tensor.shape t))
                let along (eps: float) = List.map2 (fun (t: Tensor) (d: Tensor) -> t + d * eps) theta v
                let lossAt (th: Tensor list) = Tensor.toScalar (problem.Outer th (solveInner th))
                let numeric = (lossAt (along 1e-5) - lossAt (along -1e-5)) / 2e-5
                let analytic = List.map2 (fun (g: Tensor) (d: Tensor) -> Tensor.toScalar (Tensor.sum (g * d))) r.Gradient v |> List.sum
                Expect.floatClose { absolute = 1e-8; relative = 1e-5 } analytic numeric "⟨hypergradient, v⟩ = finite difference")

        testCase "selecting sequence examples cuts them to the longest selected sentence, and the energy does not change" <| fun () ->
            Scope.run (fun () ->
                let task = hmm 10 6
                let d = task.Examples
                let pad (t: Tensor) = torch.nn.functional.pad (t, [| 0L; 0L; 0L; 5L |])
                let longMask = torch.nn.functional.pad (d.Mask.Value.to_type torch.ScalarType.Int64, [| 0L; 5L |])
                let padded = { Inputs = pad d.Inputs; Features = pad d.Features; Labels = pad d.Labels; Mask = Some (longMask.gt (Pinned.intScalar 0L)) }
                let idx = Tensor.indices torch.CPU [| 1L; 3L |]
                let picked = Structured.select idx padded
                let longest = max task.Lengths[1] task.Lengths[3]
                Expect.equal picked.Labels.shape[1] (int64 longest) "cut to the longest selected sentence"
                use rng = new Rng(4L, torch.CPU)
                let theta = LinearChainEnergy.create rng Context.cpu labels features |> Structured.tensors
                let whole = Structured.select idx d
                let e1 = energy.Energy theta picked.Features picked.Mask picked.Labels
                let e2 = energy.Energy theta whole.Features whole.Mask whole.Labels
                Expect.isLessThan (Tensor.maxAbsDiff e1 e2) 1e-5 "the same energies")

        testCase "sequence examples with a mask of the wrong shape are refused naming the mask" <| fun () ->
            Scope.run (fun () ->
                let task = hmm 9 4
                let bad = { task.Examples with Mask = Some (task.Examples.Mask.Value.narrow (1L, 0L, 5L)) }
                let e = Expect.throwsC (fun () -> Structured.check "data" bad) id :?> ArgumentException
                Expect.equal e.ParamName "data.Mask" "names the mask")
    ]
