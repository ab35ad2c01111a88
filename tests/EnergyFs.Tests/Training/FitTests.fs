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
                    Expect.throwsT<Killed> (fun () -> Fit.run { options with Checkpoint = Some path; OnProgress = kill } (task m x y None) |> ignore) "killed"
                // Second attempt: a fresh process would build the model anew (here from another seed,
                // to show the checkpoint restores everything) and resume.
                use m = model 99L
                let result = Fit.run { options with Checkpoint = Some path } (task m x y None)
                Expect.equal result.History.Epochs 6 "history carried over"
                Expect.sequenceEqual (parameters m) uninterrupted "bit-identical parameters"
            finally
                File.Delete path

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
    ]
