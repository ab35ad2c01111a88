module EnergyFs.Tests.Training.FitTests

open System
open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Tests.Training.TrainingFixtures
open EnergyFs.Tests.Expectations

exception Killed

let tempFile name = Path.Combine(Path.GetTempPath(), sprintf "energyfs-%s-%s" name (Guid.NewGuid().ToString("N")))

/// The strongly convex–concave saddle f(x, y) = ½‖x‖² + xᵀAy − ½‖y‖² − bᵀx on R² × R², whose
/// unique saddle point is x* = (I + AAᵀ)⁻¹b, y* = Aᵀx*: x and y are two groups with their own
/// optimizers, x descending f and y ascending it, alternately (one step of each per batch).
let saddleA = array2D [ [ 1.0; 0.5 ]; [ -0.3; 0.8 ] ]
let saddleB = [| 1.0; -2.0 |]

let saddleSolution () =
    let ctx = Context.cpu64
    use a = Tensor.ofArray2D ctx saddleA
    use b = Tensor.ofArray ctx saddleB
    use m = torch.eye (2L, dtype = ctx.DType) + a.matmul (a.t ())
    use x = torch.linalg.solve (m, b)
    use y = a.t().matmul x
    Tensor.toArray x, Tensor.toArray y

let saddleParameters (x0: float[]) (y0: float[]) =
    let ctx = Context.cpu64
    torch.nn.Parameter (Tensor.ofArray ctx x0), torch.nn.Parameter (Tensor.ofArray ctx y0)

/// The saddle as a step task: `batches` unit batches per epoch; `poison` may turn a step's loss
/// into NaN (by step index).
let saddleTask (options: OptimizerOptions) (batches: int) (poison: int -> bool) (x: TorchSharp.Modules.Parameter) (y: TorchSharp.Modules.Parameter) : StepTask<unit> =
    let ctx = Context.cpu64
    let a = Tensor.ofArray2D ctx saddleA
    let b = Tensor.ofArray ctx saddleB
    let f () = (x.dot (a.matmul y)) + Tensor.sum (Tensor.square x) * 0.5 - Tensor.sum (Tensor.square y) * 0.5 - x.dot b
    { Groups = [ ParameterGroup.ofParameters "x" options [ x ]; ParameterGroup.ofParameters "y" options [ y ] ]
      Batches = fun _ _ -> Seq.replicate batches ()
      BatchesPerEpoch = batches
      Step =
        fun ctx () ->
            let loss = if poison ctx.Step then f () * nan else f ()
            let fx, _ = Step.descend ctx "x" loss
            let fy, norm = Step.ascend ctx "y" (f ())
            [ "f_x", fx; "f_y", fy; "grad_norm_y", norm ]
      Validate = None
      ValidateStart = false }

[<Tests>]
let tests =
    testList "Training.Fit" [
        testCase "fits a regression and records a history per epoch" <| fun () ->
            let x, y = data 1L
            use m = model 2L
            let validate () = [ "val_mse", Scope.run (fun () -> Tensor.toScalar (Tensor.mean (Tensor.square (m.forward x - y)))) ]
            let result = Fit.run { FitOptions.defaults with Epochs = 60; Optimizer = OptimizerOptions.adam 0.02 } (task m x y (Some validate))
            Expect.equal (result.History.Epochs) 60 "one row per epoch"
            Expect.containsAll result.History.Columns [ "train_loss"; "grad_norm"; "lr"; "seconds"; "val_mse" ] "columns"
            let mse = result.History.Column "val_mse"
            Expect.isLessThan mse[59] (mse[0] / 10.0) "validation error fell tenfold"
            Expect.equal result.Stopped Completed "ran to the end"

        testCase "the same seed gives bit-identical parameters" <| fun () ->
            let run () =
                let x, y = data 3L
                use m = model 4L
                Fit.run { FitOptions.defaults with Epochs = 3; Seed = 9L } (task m x y None) |> ignore
                parameters m
            Expect.sequenceEqual (run ()) (run ()) "identical"

        testCase "a run killed mid-way and resumed ends with the same parameters" <| fun () ->
            let x, y = data 5L
            let options = { FitOptions.defaults with Epochs = 6; Seed = 11L; Optimizer = OptimizerOptions.adam 0.01 }
            let uninterrupted =
                use m = model 6L
                Fit.run options (task m x y None) |> ignore
                parameters m
            let path = tempFile "resume"
            try
                // First attempt: killed during epoch 4 (after three checkpoints).
                do
                    use m = model 6L
                    let kill (p: Progress) = if p.Epoch = 3 && p.BatchInEpoch = 2 then raise Killed
                    Expect.throwsT<Killed> (fun () -> Fit.run { options with Checkpoint = Some path; Monitor = FitMonitor.ofProgress kill } (task m x y None) |> ignore) "killed"
                // Second attempt: a fresh process would build the model anew (here from another seed,
                // to show the checkpoint restores everything) and resume.
                use m = model 99L
                let result = Fit.run { options with Checkpoint = Some path } (task m x y None)
                Expect.equal result.History.Epochs 6 "history carried over"
                Expect.sequenceEqual (parameters m) uninterrupted "bit-identical parameters"
            finally
                File.Delete path

        testCase "cancelling mid-epoch restores the last completed epoch and raises OperationCanceledException" <| fun () ->
            let x, y = data 12L
            use m = model 13L
            use cts = new Threading.CancellationTokenSource()
            let mutable atEpochEnd = [||]
            let mutable epochsSeen = 0
            // Cancel during epoch 3 (0-based 2), after its second step; keep the parameters at the end of epoch 2.
            let onEpoch (e: int) _ = epochsSeen <- epochsSeen + 1; if e = 1 then atEpochEnd <- parameters m
            let onStep (p: Progress) = if p.Epoch = 2 && p.BatchInEpoch = 2 then cts.Cancel()
            let options =
                { FitOptions.defaults with
                    Epochs = 6; Optimizer = OptimizerOptions.adam 0.05
                    Monitor = { OnProgress = onStep; OnEpoch = onEpoch; Cancellation = cts.Token } }
            let e = Expect.throwsC (fun () -> Fit.run options (task m x y None) |> ignore) id
            Expect.isTrue (e :? OperationCanceledException) (sprintf "OperationCanceledException, got %s" (e.GetType().Name))
            Expect.stringContains e.Message "2 epochs completed" "says how far it got"
            Expect.equal epochsSeen 2 "two epochs reported"
            Expect.sequenceEqual (parameters m) atEpochEnd "the parameters of the last completed epoch"
            // An already-cancelled token stops before the first step, leaving the initial parameters.
            use m2 = model 13L
            let initial = parameters m2
            Expect.throwsT<OperationCanceledException> (fun () -> Fit.run options (task m2 x y None) |> ignore) "cancelled at once"
            Expect.sequenceEqual (parameters m2) initial "untouched"

        testCase "a NaN loss stops training, names the step and keeps the last good parameters" <| fun () ->
            let x, y = data 7L
            use m = model 8L
            let mutable calls = 0
            let mutable before = [||]
            let t = task m x y None
            let poisoned =
                { t with
                    Loss = fun idx ->
                        calls <- calls + 1
                        if calls = 10 then before <- parameters m
                        let l = t.Loss idx
                        if calls = 10 then l * nan else l }
            let ex = raisesOf<TrainingDivergedException> (fun () -> Fit.run { FitOptions.defaults with Epochs = 5 } poisoned |> ignore)
            Expect.equal ex.Step 9 "the tenth step (0-based 9)"
            Expect.equal ex.Tensor "loss" "names the loss"
            Expect.stringContains ex.Message "step 9" "message names the step"
            Expect.sequenceEqual (parameters m) before "parameters are the last good ones"

        testCase "an infinite gradient names the parameter" <| fun () ->
            let x, y = data 7L
            use m = model 8L
            let t = task m x y None
            // sqrt at 0 has an infinite derivative: a finite loss with a non-finite gradient.
            let bad = { t with Loss = fun idx -> t.Loss idx + Tensor.sum (Tensor.sqrt (Tensor.abs (m.parameters () |> Seq.head) * 0.0)) }
            let ex = raisesOf<TrainingDivergedException> (fun () -> Fit.run { FitOptions.defaults with Epochs = 1 } bad |> ignore)
            Expect.stringContains ex.Tensor "gradient of" "names a gradient"
            Expect.stringContains ex.Tensor "weight" "names the parameter"

        testCase "early stopping stops after the patience and restores the best parameters" <| fun () ->
            let x, y = data 12L
            use m = model 13L
            // A validation metric that is best at epoch 2 and then gets worse.
            let values = [| 5.0; 4.0; 3.0; 3.5; 4.5; 6.0; 7.0; 8.0 |]
            let mutable epoch = 0
            let mutable atBest = [||]
            let validate () =
                let v = values[epoch]
                if epoch = 2 then atBest <- parameters m
                epoch <- epoch + 1
                [ "val", v ]
            let options =
                { FitOptions.defaults with
                    Epochs = 8
                    EarlyStopping = Some { Metric = "val"; Goal = Minimize; Patience = 3 }
                    RestoreBest = true }
            let result = Fit.run options (task m x y (Some validate))
            Expect.equal result.Stopped (EarlyStopped 5) "stopped three epochs after the best"
            Expect.equal result.State.BestEpoch 2 "best epoch"
            Expect.sequenceEqual (parameters m) atBest "restored"

        testCase "an unknown monitored metric is named" <| fun () ->
            let x, y = data 1L
            use m = model 1L
            let options = { FitOptions.defaults with Epochs = 2; EarlyStopping = Some { Metric = "acc"; Goal = Maximize; Patience = 1 } }
            let ex = Expect.throwsC (fun () -> Fit.run options (task m x y (Some (fun () -> [ "loss", 1.0 ]))) |> ignore) id
            Expect.stringContains ex.Message "'acc'" "names the metric"

        testCase "training holds native tensors flat across epochs" <| fun () ->
            let x, y = data 14L
            use m = model 15L
            let counts = ResizeArray()
            let options = { FitOptions.defaults with Epochs = 1 }
            for i in 1 .. 5 do
                Fit.run { options with Seed = int64 i } (task m x y None) |> ignore
                counts.Add (NativeMemory.liveTensors ())
            Expect.equal (Seq.distinct (Seq.skip 1 counts) |> Seq.length) 1 (sprintf "live tensors per run: %A" counts)
        testCase "a two-optimizer min–max task (x descends, y ascends) converges to the saddle point" <| fun () ->
            let xStar, yStar = saddleSolution ()
            let x, y = saddleParameters [| 0.0; 0.0 |] [| 0.0; 0.0 |]
            let result = Fit.runSteps { FitOptions.defaults with Epochs = 30 } (saddleTask (OptimizerOptions.sgd 0.1 0.0) 20 (fun _ -> false) x y)
            Expect.equal result.History.Columns [| "f_x"; "f_y"; "grad_norm_y"; "lr"; "seconds" |] "the step metrics are history columns"
            Expect.equal result.State.Step 600 "one fit step per batch"
            for got, want in Array.zip (Tensor.toArray x) xStar do Expect.floatClose { absolute = 1e-8; relative = 1e-8 } got want "x*"
            for got, want in Array.zip (Tensor.toArray y) yStar do Expect.floatClose { absolute = 1e-8; relative = 1e-8 } got want "y*"

        testCase "a multi-optimizer task killed mid-way and resumed from its checkpoint ends bit-identical" <| fun () ->
            let options = { FitOptions.defaults with Epochs = 5; Seed = 4L }
            let adam = OptimizerOptions.adam 0.05
            let uninterrupted =
                let x, y = saddleParameters [| 0.3; -0.2 |] [| 0.1; 0.4 |]
                Fit.runSteps options (saddleTask adam 7 (fun _ -> false) x y) |> ignore
                Array.append (Tensor.toArray x) (Tensor.toArray y)
            let path = tempFile "resume-groups"
            try
                do
                    let x, y = saddleParameters [| 0.3; -0.2 |] [| 0.1; 0.4 |]
                    let kill (p: Progress) = if p.Epoch = 2 && p.BatchInEpoch = 3 then raise Killed
                    Expect.throwsT<Killed> (fun () -> Fit.runSteps { options with Checkpoint = Some path; Monitor = FitMonitor.ofProgress kill } (saddleTask adam 7 (fun _ -> false) x y) |> ignore) "killed"
                // Fresh parameters elsewhere: the checkpoint restores both groups and both Adams.
                let x, y = saddleParameters [| 9.0; 9.0 |] [| -9.0; 9.0 |]
                let result = Fit.runSteps { options with Checkpoint = Some path } (saddleTask adam 7 (fun _ -> false) x y)
                Expect.equal result.History.Epochs 5 "history carried over"
                Expect.equal result.State.Step 35 "steps carried over"
                Expect.sequenceEqual (Array.append (Tensor.toArray x) (Tensor.toArray y)) uninterrupted "bit-identical parameters"
            finally
                File.Delete path

        testCase "a NaN injected into a structured step raises TrainingDivergedException naming the step and the loss" <| fun () ->
            let x, y = saddleParameters [| 0.3; -0.2 |] [| 0.1; 0.4 |]
            let ex = raisesOf<TrainingDivergedException> (fun () -> Fit.runSteps { FitOptions.defaults with Epochs = 3 } (saddleTask (OptimizerOptions.sgd 0.1 0.0) 5 ((=) 7) x y) |> ignore)
            Expect.equal (ex.Epoch, ex.Step, ex.Tensor) (1, 7, "loss") "epoch 1, step 7, the loss"
            Expect.stringContains ex.Message "step 7" "the message names the step"
            // A finite loss but a NaN metric is caught too.
            let x, y = saddleParameters [| 0.3; -0.2 |] [| 0.1; 0.4 |]
            let t = saddleTask (OptimizerOptions.sgd 0.1 0.0) 5 (fun _ -> false) x y
            let bad = { t with Step = fun ctx b -> t.Step ctx b |> List.map (fun (n, v) -> n, (if n = "f_y" && ctx.Step = 3 then nan else v)) }
            let ex = raisesOf<TrainingDivergedException> (fun () -> Fit.runSteps { FitOptions.defaults with Epochs = 3 } bad |> ignore)
            Expect.equal (ex.Step, ex.Tensor) (3, "step metric f_y") "names the metric"

        testCase "a step task: unknown groups are named, duplicate group names refused, ValidateStart lets the start win RestoreBest" <| fun () ->
            let x, y = saddleParameters [| 0.3; -0.2 |] [| 0.1; 0.4 |]
            let t = saddleTask (OptimizerOptions.sgd 0.1 0.0) 2 (fun _ -> false) x y
            let ex = Expect.throwsC (fun () -> Fit.runSteps FitOptions.defaults { t with Step = fun ctx _ -> [ "f", fst (Step.descend ctx "z" (Tensor.sum (x * 1.0))) ] } |> ignore) id
            Expect.stringContains ex.Message "'z'" "names the group"
            Expect.stringContains ex.Message "x, y" "and the available ones"
            let ex = Expect.throwsC (fun () -> Fit.runSteps FitOptions.defaults { t with Groups = [ t.Groups.Head; t.Groups.Head ] } |> ignore) id
            Expect.stringContains ex.Message "distinct" "duplicate names"
            let start = Array.append (Tensor.toArray x) (Tensor.toArray y)
            let mutable calls = 0
            // The start scores best (0), every epoch worse.
            let validate () = calls <- calls + 1; [ "score", float (1 - calls) ]
            let options =
                { FitOptions.defaults with Epochs = 3; RestoreBest = true; EarlyStopping = Some { Metric = "score"; Goal = Maximize; Patience = 10 } }
            let result = Fit.runSteps options { t with Validate = Some validate; ValidateStart = true }
            Expect.equal calls 4 "the start and three epochs validated"
            Expect.equal result.State.BestEpoch -1 "the start is best"
            Expect.equal result.History.Epochs 3 "no history row for the start"
            Expect.sequenceEqual (Array.append (Tensor.toArray x) (Tensor.toArray y)) start "the start restored"
    ]
