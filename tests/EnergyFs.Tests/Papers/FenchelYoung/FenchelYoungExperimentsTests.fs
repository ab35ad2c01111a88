module EnergyFs.Tests.Experiments.FenchelYoungExperimentsTests

open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Energies

let rows (a: float list list) = a |> List.map Array.ofList |> Array.ofList

[<Tests>]
let tests =
    testList "Experiments.FenchelYoung" [
        testCase "multilabel metrics on a hand-checked example" <| fun () ->
            use truth = Tensor.ofRows Context.cpu64 (rows [ [ 1.; 0.; 1. ]; [ 0.; 0.; 0. ]; [ 1.; 1.; 0. ] ])
            use pred = Tensor.ofRows Context.cpu64 (rows [ [ 1.; 1.; 1. ]; [ 0.; 0.; 0. ]; [ 0.; 1.; 0. ] ])
            Expect.floatClose Accuracy.high (MultilabelMetrics.hammingAccuracy pred truth) (7.0 / 9.0) "7 of 9 entries right"
            // example F1: 2·2/(3+2) = 0.8; empty/empty = 1; 2·1/(1+2) = 2/3
            Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1 pred truth) ((0.8 + 1.0 + 2.0 / 3.0) / 3.0) "example F1"
            // pooled: tp 3, fp 1, fn 1
            Expect.floatClose Accuracy.high (MultilabelMetrics.microF1 pred truth) (6.0 / 8.0) "micro F1"
            // label 0: tp1 fn1 → 2/3; label 1: tp1 fp1 → 2/3; label 2: tp1 → 1
            Expect.floatClose Accuracy.high (MultilabelMetrics.macroF1 pred truth) ((2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0) "macro F1"

        testCase "the MULAN reader reads a small file and names the line of a bad value" <| fun () ->
            let dir = Path.Combine (Path.GetTempPath (), sprintf "fy-mulan-%d" (System.Random().Next ()), "tiny")
            Directory.CreateDirectory dir |> ignore
            try
                File.WriteAllText (Path.Combine (dir, "tiny.xml"), "<labels xmlns=\"http://mulan.sourceforge.net/labels\"><label name=\"a\"></label><label name=\"b\"></label></labels>")
                let header = "@relation t\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute a {0,1}\n@attribute b {0,1}\n@data\n"
                File.WriteAllText (Path.Combine (dir, "tiny-train.arff"), header + "0.5,1.5,1,0\n-1,2,0,1\n")
                File.WriteAllText (Path.Combine (dir, "tiny-test.arff"), header + "0.5,x,1,0\n")
                let e = EnergyFs.Tests.Expectations.raisesOf<DataFormatException> (fun () -> Mulan.loadFrom Context.cpu64 dir |> ignore)
                Expect.equal e.Line 7 "the line of the bad value"
                File.WriteAllText (Path.Combine (dir, "tiny-test.arff"), header + "0.5,3,1,1\n")
                use data = Mulan.loadFrom Context.cpu64 dir
                Expect.equal data.Name "tiny" "the folder's name"
                Expect.equal (data.Train.Count, data.FeatureCount, data.LabelCount) (2, 2, 2) "shape"
                Expect.equal (Tensor.toRows data.Train.Labels).[1] [| 0.0; 1.0 |] "labels are the last attributes"
                Expect.equal (Tensor.toRows data.Test.Features).[0] [| 0.5; 3.0 |] "features"
            finally
                Directory.Delete (Path.GetDirectoryName dir, true)

        testCase "reacher: the expert reaches the goal by either mode; averaging the two modes hits the obstacle" <| fun () ->
            let ctx = Context.cpu64
            let settings = Reacher.defaults
            use rng = new Rng (1L, ctx.Device)
            use start = Reacher.reset settings rng ctx 8
            let run policy =
                let returns, stuck, distance, s, a = Reacher.rollout settings policy start
                Scope.disposeAll s
                Scope.disposeAll a
                Array.average returns, stuck, distance
            use up = Tensor.ones ctx [ 8L ]
            use down = Tensor.full ctx [ 8L ] -1.0
            for mode in [ up; down ] do
                let _, stuck, distance = run (Reacher.expert settings mode)
                Expect.isFalse (Array.exists id stuck) "the expert never touches the obstacle"
                Expect.isTrue (distance |> Array.forall (fun d -> d < 0.3)) (sprintf "the expert reaches the goal: %A" distance)
            let average (s: Tensor) =
                Scope.tensor (fun () -> (Reacher.expert settings up s + Reacher.expert settings down s) * 0.5)
            let _, stuck, _ = run average
            Expect.isTrue (Array.forall id stuck) "the average of the two modes drives into the obstacle"

        testCase "imitation regularizer (λ/2)‖p − c‖²: prediction is the argmax over a fine grid, gradient and Fenchel-Young inequality" <| fun () ->
            let ctx = Context.cpu64
            use rng = new Rng (3L, ctx.Device)
            let g = 201
            use grid = Scope.tensor (fun () ->
                let axis = torch.linspace (0.0, 1.0, int64 g, dtype = ctx.DType)
                torch.stack ([| axis.view(int64 g, 1L).expand(int64 g, int64 g).reshape (-1L); axis.view(1L, int64 g).expand(int64 g, int64 g).reshape (-1L) |], 1L))
            for weight, centre in [ 1.0, 0.0; 0.25, 0.5; 4.0, 0.5; 2.0, 0.0 ] do
                let r = Imitation.regularizer weight centre
                Scope.run (fun () ->
                    let theta = Tensor.randn rng ctx [ 5L; 2L ] * 2.0
                    let p = r.Predict theta
                    for i in 0L .. 4L do
                        let th = theta[i].unsqueeze 0L
                        let objective = (grid * th).sum(1L) - r.Value grid
                        let best = grid[objective.argmax ()]
                        Expect.isLessThan ((p[i] - best).abs().max().ToDouble ()) (1.0 / float (g - 1) + 1e-9) (sprintf "λ %g, c %g: prediction = grid argmax" weight centre)
                        let attained = ((p[i].unsqueeze 0L * th).sum(1L) - r.Value (p[i].unsqueeze 0L)).ToDouble ()
                        Expect.isGreaterThanOrEqual (attained + 1e-9) (objective.max().ToDouble ()) "the prediction's objective ≥ every grid point's"
                    let q = Tensor.rand rng ctx [ 5L; 2L ]
                    let y = Tensor.rand rng ctx [ 5L; 2L ]
                    let fy = r.Conjugate theta + r.Value y - (theta * y).sum (1L)
                    Expect.isGreaterThanOrEqual (fy.min().ToDouble ()) -1e-9 "Fenchel-Young inequality Ω*(θ) + Ω(y) ≥ ⟨θ, y⟩"
                    let h = 1e-6
                    let e0 = torch.tensor ([| 1.0; 0.0 |], dtype = ctx.DType)
                    let fd = (r.Value (q + e0 * h) - r.Value (q - e0 * h)) / (2.0 * h)
                    Expect.isLessThan ((fd - (r.Gradient q).select (1L, 0L)).abs().max().ToDouble ()) 1e-6 "gradient = finite difference")
            Expect.equal (Imitation.regularizer 1.0 0.0).Name "sqnorm-box" "λ = 1, c = 0 is SquaredNorm.box"
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> Imitation.regularizer -1.0 0.0 |> ignore) |> ignore

        testCase "imitation trace: demonstration fit is 0 for the expert's own mode, the landscape is Φ − Ω on the grid" <| fun () ->
            let ctx = Context.cpu64
            let options = { ImitationOptions.defaults with Demonstrations = 6; Bimodal = false; Context = ctx }
            use rng = new Rng (2L, ctx.Device)
            let states, actions = Imitation.demonstrations options rng
            use states = states
            use actions = actions
            use up = Tensor.ones ctx [ states.shape[0] ]
            let fit = ImitationTrace.demonstrationFit 6 6 (Reacher.expert options.Reacher up) states actions
            Expect.equal (fit |> List.sumBy (fun (_, n, _) -> n)) (6 * options.Reacher.Horizon) "every demonstration state is in one phase"
            for phase, n, e in fit do
                Expect.isGreaterThan n 0 (sprintf "phase %s has states" phase)
                Expect.floatClose Accuracy.high e 0.0 (sprintf "the expert fits its own demonstrations (%s)" phase)
            use down = Tensor.full ctx [ states.shape[0] ] -1.0
            let _, _, startError = ImitationTrace.demonstrationFit 6 6 (Reacher.expert options.Reacher down) states actions |> List.head
            Expect.isGreaterThan startError 0.5 "the other mode does not fit the start"
            // A concave energy Φ(s, p) = ⟨w, p⟩ with a known maximizer of Φ − Ω on the grid.
            let energy : EnergyFs.Energies.Energy<Tensor> =
                { Name = "linear"; Value = (fun _ p -> Scope.tensor (fun () -> (p * torch.tensor ([| 0.3; 0.8 |], dtype = ctx.DType)).sum (1L)))
                  GradP = (fun _ p -> torch.tensor([| 0.3; 0.8 |], dtype = ctx.DType).expand_as p); Detach = id; Shape = (fun s -> s.shape[0], 2L)
                  Like = id; Curvature = (fun _ -> Some 0.0); Calibrated = true; Quadratic = None }
            Scope.run (fun () ->
                let f, phi = ImitationTrace.landscape energy EnergyFs.Regularizers.SquaredNorm.box 11 (states.narrow (0L, 0L, 3L))
                Expect.equal f.shape [| 3L; 11L; 11L |] "[n, g, g]"
                Expect.floatClose Accuracy.high (phi[1L, 10L, 5L].ToDouble ()) (0.3 + 0.8 * 0.5) "index [i, j] ↔ p = (i, j)/(g − 1)"
                let best = f[0L].reshape(-1L).argmax().ToInt64 ()
                Expect.equal (best / 11L, best % 11L) (3L, 8L) "argmax of ⟨w, p⟩ − ½‖p‖² = w on the grid")

        testCase "calibration: the task excess risk goes down with the FY excess risk" <| fun () ->
            let options = { CalibrationOptions.defaults with TrainSize = 300; EvalSize = 300; Steps = 20; Every = 10; Inner = { CalibrationOptions.defaults.Inner with Tolerance = 1e-5 } }
            let points, spearman = Calibration.run options
            let first, last = List.head points, List.last points
            Expect.isLessThan last.FyExcess first.FyExcess "FY excess risk decreases"
            Expect.isLessThan last.TaskExcess first.TaskExcess "task excess risk decreases"
            Expect.isGreaterThanOrEqual (points |> List.map (fun p -> p.FyExcess) |> List.min) 0.0 "FY excess risk ≥ 0"
            Expect.isGreaterThan spearman 0.0 "positively rank-correlated"
    
        testCase "multilabel: selection on validation then refit on all training rows learns a separable problem with either loss" <| fun () ->
            // Labels: y₀ = [x₀ > 0], y₁ = [x₁ > 0], y₂ = y₀ (perfectly correlated with y₀).
            let make seed n =
                let rnd = System.Random (seed: int)
                let x = Array.init n (fun _ -> Array.init 4 (fun _ -> rnd.NextDouble () * 2.0 - 1.0))
                let y = x |> Array.map (fun r -> let a = (if r[0] > 0.0 then 1.0 else 0.0) in [| a; (if r[1] > 0.0 then 1.0 else 0.0); a |])
                MultilabelSet.ofRows Context.cpu64 x y
            use data =
                { Name = "toy"; FeatureNames = [| "x0"; "x1"; "x2"; "x3" |]; LabelNames = [| "a"; "b"; "c" |]
                  Train = make 1 160; Validation = None; Test = make 2 80; Standardizer = None }
            for loss in [ Independent; QuadraticEnergy ] do
                let options =
                    { MultilabelOptions.defaults with
                        Loss = loss; Hidden = 8; Epochs = 30; Patience = 5; BatchSize = 32; LearningRate = 1e-2
                        WeightDecays = [ 1e-4 ]; Refit = true; Context = Context.cpu }
                let run = MultilabelExperiment.runSeed options data 0 ignore
                let acc = run.Test |> List.find (fst >> (=) "hamming_accuracy") |> snd
                Expect.isGreaterThan acc 0.9 (sprintf "%A: test Hamming accuracy" loss)
                Expect.isTrue (run.Epochs >= 1 && run.Epochs <= 30) "refit epochs = the selected epoch count"
    ]
