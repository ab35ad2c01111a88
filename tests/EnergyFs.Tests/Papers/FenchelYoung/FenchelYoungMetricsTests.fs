/// One front door for the Fenchel-Young paper: the metrics functions `energyfs fy ... --json` and
/// the reproduction specs both use have snake_case names, and the specs store exactly them.
module EnergyFs.Tests.Papers.FenchelYoungMetricsTests

open Expecto
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Tests.Reproduction.RunMetricsTests

[<Tests>]
let tests =
    testList "Papers.FenchelYoung.Metrics" [
        testCase "multilabel: the spec stores MultilabelExperiment.metrics (×100 test metrics first)" <| fun () ->
            let options = { MultilabelOptions.defaults with Epochs = 2; Hidden = 8; WeightDecays = [ 1e-3 ]; Patience = 1 }
            let spec = FenchelYoungPaper.multilabel "emotions" options
            let stored = cachedMetrics spec
            use data = EnergyFs.Data.Mulan.loadFrom Context.cpu64 "emotions"
            let run = MultilabelExperiment.runSeed options data 0 ignore
            let metrics = MultilabelExperiment.metrics run
            expectSameKeys "fy multilabel" metrics stored
            Expect.equal (List.map fst metrics |> List.take 4) [ "hamming_accuracy"; "example_f1"; "micro_f1"; "macro_f1" ] "Table 1's metrics first"
            Expect.floatClose Accuracy.veryHigh (snd metrics.Head) (100.0 * snd run.Test.Head) "×100"
            Expect.equal (snd stored.Head) (snd metrics.Head) "same seed, same number"

        testCase "imitation: Imitation.metrics names every policy's scores" <| fun () ->
            let score p = { Policy = p; MeanReturn = -1.0; NormalizedReturn = 0.5; SuccessRate = 0.25; CollisionRate = 0.0 }
            let metrics = Imitation.metrics [ score "expert"; score "mse"; score "energy" ]
            Expect.isEmpty (RunMetrics.invalidNames metrics) "snake_case"
            Expect.equal metrics.Length 12 "four numbers per policy"
            for name in [ "energy_normalized"; "mse_normalized"; "energy_collision"; "mse_collision"; "energy_success" ] do
                Expect.isTrue (metrics |> List.exists (fst >> (=) name)) (sprintf "the checks read %s" name)

        testCase "calibration: the spec stores Calibration.metrics" <| fun () ->
            let options = { FenchelYoungPaper.quickCalibration with TrainSize = 40; EvalSize = 40; Steps = 4; Every = 2 }
            let stored = cachedMetrics (FenchelYoungPaper.calibration options)
            let metrics = Calibration.metrics (Calibration.run options)
            expectSameKeys "fy calibration" metrics stored
            Expect.equal stored metrics "same seed, same numbers"

        testCase "bench: FenchelYoungThroughput.metrics keys are snake_case" <| fun () ->
            let r name = { Name = name; PerSecond = 10.0; Iterations = 3.0; Seconds = 1.0 }
            let solves = [ r "solve coordinate k=14 batch=1024"; r "solve parallel k=14 batch=1024" ]
            let steps = [ 14, [ r "train step Independent d=103 k=14 batch=1024"; r "train step QuadraticEnergy d=103 k=14 batch=1024" ] ]
            let metrics = FenchelYoungThroughput.metrics (solves, steps)
            Expect.isEmpty (RunMetrics.invalidNames metrics) "snake_case"
            Expect.equal (metrics |> List.map fst)
                [ "solve_coordinate_k_14_batch_1024"; "solve_parallel_k_14_batch_1024"; "train_step_independent_d_103_k_14_batch_1024"
                  "train_step_quadratic_energy_d_103_k_14_batch_1024"; "fy_step_cost_ratio"; "fy_step_cost_ratio_k14" ] "names"
            Expect.equal (FenchelYoungThroughput.costRatios steps) [ 14, 1.0 ] "logistic / FY steps per second"
    ]
