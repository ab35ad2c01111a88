module EnergyFs.Tests.Learners.StructuredFitTests

open System
open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Implicit
open EnergyFs.Learners
open EnergyFs.Tests.Expectations
open EnergyFs.Tests.Learners.StructuredTrainersTests

exception Killed

let values (ps: TorchSharp.Modules.Parameter list) = ps |> List.collect (fun p -> List.ofArray (Tensor.toArray (p.detach ()))) |> Array.ofList

/// Counts the per-step progress reports of a run and checks that their step counter goes 1, 2, …
let counting () =
    let steps = ResizeArray<Progress>()
    steps, fun (fit: FitOptions) -> { fit with Monitor = FitMonitor.ofProgress steps.Add }

let expectPerStep (name: string) (expected: int) (metric: string) (steps: ResizeArray<Progress>) =
    Expect.equal steps.Count expected (sprintf "%s: one progress report per step" name)
    Expect.sequenceEqual (steps |> Seq.map (fun p -> p.Step)) [ 1 .. expected ] (sprintf "%s: steps counted" name)
    for p in steps do
        Expect.isTrue (List.exists (fst >> (=) metric) p.Metrics) (sprintf "%s: the step reports %s" name metric)
        Expect.isTrue (Double.IsFinite p.Loss) (sprintf "%s: a finite loss" name)

[<Tests>]
let tests =
    testList "Learners.StructuredFit" [
        testCase "progress is reported per step for every structured trainer" <| fun () ->
            Scope.run (fun () ->
                // 96 examples in batches of 16: 6 batches per epoch, 2 epochs.
                let cls, data = smallData 1
                use rng = new Rng(1L, torch.CPU)
                let epochTexts = ResizeArray<string>()
                let text (_: float, s: string) = epochTexts.Add s
                let ssvm = { StructuredSvm.defaults with Epochs = 2; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2 }
                let steps, withCount = counting ()
                StructuredSvm.fit (withCount (Structured.fitOptions 2 0L true)) ssvm (fun () -> nan) text (Spen.create rng Context.cpu 4 8 4) data |> ignore
                expectPerStep "SSVM" 12 "hinge" steps
                Expect.equal epochTexts.Count 2 "and the per-epoch text"
                let infnet = { InferenceNetworks.defaults with Epochs = 2; BatchSize = 16; EntropyWeight = -1.0 }
                let theta = Spen.create rng Context.cpu 4 8 4
                let steps, withCount = counting ()
                InferenceNetworks.fit (withCount (Structured.fitOptions 2 0L false)) infnet (fun () -> nan) ignore theta (InferenceNetwork.initFrom cls) data |> ignore
                expectPerStep "inference networks" 12 "network_loss" steps
                let steps, withCount = counting ()
                let psi = FunctionalMlp.copy cls
                Fit.runSteps (withCount (Structured.fitOptions 2 1L true))
                    (InferenceNetworks.retuneTask infnet (fun () -> nan) (Structured.tensors theta) (FunctionalMlp.tensors cls) psi data) |> ignore
                expectPerStep "retuning" 12 "objective" steps
                let phi, theta2, featureMap, data2 = SpenEndToEndTests.problem 5 Context.cpu
                let steps, withCount = counting ()
                SpenEndToEnd.fit (withCount (Structured.fitOptions 2 0L true)) ssvm SpenEndToEnd.defaults featureMap (fun () -> nan) ignore theta2 phi data2 |> ignore
                expectPerStep "SPEN end to end" 12 "grad_norm_phi" steps
                // Implicit: one step per outer step, 2 inner + 1 outer batches each: 2 per epoch.
                let implicitOptions =
                    { ImplicitStructured.defaults with
                        Epochs = 2; BatchSize = 16; InnerSteps = 2; EntropyWeight = -1.0
                        Solver = LinearSolvers.damped 0.02 (LinearSolvers.conjugateGradient { Iterations = 5; Tolerance = 1e-3 }) }
                let steps, withCount = counting ()
                let _, stats =
                    ImplicitStructured.fit (withCount (Structured.fitOptions 2 0L true)) implicitOptions (fun () -> nan) ignore
                        (Spen.create rng Context.cpu 4 8 4) (InferenceNetwork.initFrom cls) data
                expectPerStep "implicit" 4 "outer_bce" steps
                Expect.equal (steps |> Seq.map (fun p -> p.BatchesPerEpoch) |> Seq.distinct |> List.ofSeq) [ 2 ] "two outer steps per epoch"
                Expect.equal stats.Solves 4 "one solve per step")

        testCase "early stopping with RestoreBest on a structured trainer (SSVM) stops after the patience and restores the best θ" <| fun () ->
            Scope.run (fun () ->
                let _, data = smallData 1
                use rng = new Rng(6L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let scores = [| 0.1; 0.5; 0.3; 0.2; 0.0; 0.9; 0.9; 0.9 |]
                let mutable epoch = 0
                let mutable atBest = [||]
                let validate () =
                    if epoch = 1 then atBest <- values theta
                    epoch <- epoch + 1
                    scores[epoch - 1]
                let options = { StructuredSvm.defaults with Epochs = 8; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2 }
                let fit = { Structured.fitOptions 8 0L true with EarlyStopping = Some { Metric = "validation"; Goal = Maximize; Patience = 2 } }
                let result = StructuredSvm.fit fit options validate ignore theta data
                Expect.equal result.Stopped (EarlyStopped 3) "stopped two epochs after the best"
                Expect.equal result.State.BestEpoch 1 "best epoch"
                Expect.equal (Structured.records "hinge" result |> List.map (fun r -> r.Validation)) [ 0.1; 0.5; 0.3; 0.2 ] "records up to the stop"
                Expect.sequenceEqual (values theta) atBest "θ of the best epoch restored")

        testCase "a NaN in a structured step (inference networks) raises TrainingDivergedException with θ and Φ left finite" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 2
                use rng = new Rng(2L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let phi = InferenceNetwork.initFrom cls
                // One label of one example is NaN: the hinge's cost, so both losses, go NaN on its batch.
                let labels = data.Labels.clone ()
                Diff.noGrad (fun () -> labels[40L, 1L] <- torch.tensor nan)
                let options = { InferenceNetworks.defaults with Epochs = 2; BatchSize = 16; EntropyWeight = -1.0 }
                let ex = raisesOf<TrainingDivergedException> (fun () -> InferenceNetworks.train options (fun () -> nan) ignore theta phi { data with Labels = labels } |> ignore)
                Expect.equal ex.Epoch 0 "in the first epoch"
                Expect.equal ex.Tensor "loss" "names the loss"
                Expect.stringContains ex.Message "not finite" "a clear message"
                for p in theta @ phi do Expect.isTrue (Tensor.isFinite p) "parameters at their last good values")

        testCase "inference-network training (two optimizers) killed mid-way and resumed from its checkpoint ends bit-identical" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 2
                let options = { InferenceNetworks.defaults with Epochs = 3; BatchSize = 16; EntropyWeight = -1.0; NetworkOptimizer = OptimizerOptions.adam 1e-2 }
                let fresh (seed: int64) =
                    use rng = new Rng(seed, torch.CPU)
                    Spen.create rng Context.cpu 4 8 4, InferenceNetwork.initFrom cls
                let fit = Structured.fitOptions 3 5L false
                let uninterrupted =
                    let theta, phi = fresh 2L
                    InferenceNetworks.fit fit options (fun () -> nan) ignore theta phi data |> ignore
                    Array.append (values theta) (values phi)
                let path = Path.Combine(Path.GetTempPath(), sprintf "energyfs-infnet-%s" (Guid.NewGuid().ToString("N")))
                try
                    do
                        let theta, phi = fresh 2L
                        let kill (p: Progress) = if p.Epoch = 1 && p.BatchInEpoch = 2 then raise Killed
                        Expect.throwsT<Killed> (fun () -> InferenceNetworks.fit { fit with Checkpoint = Some path; Monitor = FitMonitor.ofProgress kill } options (fun () -> nan) ignore theta phi data |> ignore) "killed"
                    // θ from another seed: the checkpoint restores θ, Φ and both optimizers (Φ₀ is the
                    // pretrained network, rebuilt as a fresh process would).
                    let theta, phi = fresh 77L
                    let result = InferenceNetworks.fit { fit with Checkpoint = Some path } options (fun () -> nan) ignore theta phi data
                    Expect.equal result.History.Epochs 3 "history carried over"
                    Expect.sequenceEqual (Array.append (values theta) (values phi)) uninterrupted "bit-identical θ and Φ"
                finally
                    File.Delete path)
    ]
