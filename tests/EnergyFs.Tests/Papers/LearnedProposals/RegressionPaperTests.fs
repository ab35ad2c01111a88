/// One front door for the learned-proposals paper: `energyfs regression ... --json` and the
/// reproduction specs share `ToyRegression.run`'s metrics and `UciExperiment.metrics`.
module EnergyFs.Tests.Papers.RegressionPaperTests

open Expecto
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Tests.Reproduction.RunMetricsTests

let private split nll rmse second = { Nll = nll; Rmse = rmse; ProposalNll = second; Seconds = 2.0; SelectedStep = 100.0; Steps = 200; Dequantized = false; TargetDistinct = 300; TargetQuantized = false }

[<Tests>]
let tests =
    testList "Papers.LearnedProposals.RegressionPaper" [
        testCase "uci: the spec stores UciExperiment.metrics of its splits' summary" <| fun () ->
            let options = { UciExperiment.defaults with Method = Joint; Samples = 8; Epochs = 1; Components = 2; Hidden = 8 }
            let stored = cachedMetrics (RegressionPaper.uci "yacht" options 0 [ 0 ])
            let metrics = UciExperiment.metrics (UciExperiment.summarize Joint [ split 1.0 2.0 3.0 ])
            expectSameKeys "regression uci" metrics stored
            let names =
                [ "nll"; "nll_std"; "rmse"; "rmse_std"; "second_nll"; "second_nll_std"; "train_seconds"
                  "selected_step"; "selected_step_min"; "selected_step_max"; "steps"
                  "target_distinct"; "target_quantized"; "dequantized" ]
            Expect.equal (List.map fst metrics) names "names"

        test "uci metrics: means over splits, sample std, training seconds per split" {
            let m = Map (UciExperiment.metrics (UciExperiment.summarize Teacher [ split 1.0 2.0 3.0; split 3.0 4.0 5.0; split 2.0 3.0 4.0 ]))
            Expect.equal m["nll"] 2.0 "mean NLL"
            Expect.equal m["nll_std"] 1.0 "sample std (population: √(2/3))"
            Expect.equal m["train_seconds"] 2.0 "per split"
        }

        testCase "toy: the spec stores ToyRegression.run's metrics, headline nll and kl last" <| fun () ->
            let options =
                { ToyOptions.quick with
                    TrainPoints = 64; TestPoints = 32; Grid = 16
                    Regression = { ToyOptions.quick.Regression with Method = MdnAlone; Epochs = 1; Samples = 8; Hidden = 8 } }
            let stored = cachedMetrics (RegressionPaper.toy Toy1 options)
            let metrics, model = ToyRegression.run Context.cpu Toy1 options
            model.Dispose ()
            expectSameKeys "regression toy1" metrics stored
            let m = Map metrics
            Expect.equal (metrics |> List.rev |> List.take 2 |> List.map fst) [ "kl"; "nll" ] "headline last"
            Expect.equal m["nll"] m["test_nll_proposal"] "the MDN is judged by its own NLL"
            Expect.equal (ToyRegression.headline Joint [ "test_nll_ebm", 1.0; "kl_ebm", 2.0 ]) [ "nll", 1.0; "kl", 2.0 ] "the EBM's for joint"
    ]
