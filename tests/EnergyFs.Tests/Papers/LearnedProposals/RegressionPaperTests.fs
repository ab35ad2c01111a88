/// One front door for the learned-proposals paper: `energyfs regression ... --json` and the
/// reproduction specs share `ToyRegression.run`'s metrics and `UciExperiment.metrics`.
module EnergyFs.Tests.Papers.RegressionPaperTests

open Expecto
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Metrics
open EnergyFs.Tests.Reproduction.RunMetricsTests
open EnergyFs.Tests.Reproduction.Fixtures

let private split nll rmse second = { Nll = nll; Rmse = rmse; ProposalNll = second; Seconds = 2.0; SelectedStep = 100.0; Steps = 200; Dequantized = false; TargetDistinct = 300; TargetQuantized = false }

[<Tests>]
let tests =
    testList "Papers.LearnedProposals.RegressionPaper" [
        testCase "uciSplit: one unit per (set, method, split), storing UciExperiment.metrics of its split" <| fun () ->
            let options = { UciExperiment.defaults with Method = Joint; Samples = 8; Epochs = 1; Components = 2; Hidden = 8 }
            let spec = RegressionPaper.uciSplit "yacht" options 0 7
            Expect.equal spec.Id "regression-yacht-joint-s07" "the split in the id"
            Expect.notEqual (RegressionPaper.uciSplit "yacht" options 0 8).Config spec.Config "and in the configuration (the cache key)"
            let stored = cachedMetrics (RegressionPaper.uciSplit "yacht" options 0 0)
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
    
        test "summary over splits: n of N splits shown, paired comparisons and the check on the splits all methods have" {
            // Six splits; the MDN alone lacks split 4 and the joint EBM split 5 (not computed yet).
            let teacherMinusMdn = [| -0.1; -0.2; -0.3; 0.05; -0.4; -0.5 |]
            let mdn k = 1.0 + 0.1 * float k
            let teacher k = mdn k + teacherMinusMdn[k]
            let joint k = teacher k - 0.2 - 0.01 * float k
            let results =
                [ for k in 0 .. 5 do
                    if k <> 4 then yield resultOf (RegressionPaper.splitExperimentId "yacht" MdnAlone k) [ "nll", mdn k ]
                    yield resultOf (RegressionPaper.splitExperimentId "yacht" Teacher k) [ "nll", teacher k ]
                    if k <> 5 then yield resultOf (RegressionPaper.splitExperimentId "yacht" Joint k) [ "nll", joint k; "rmse", 0.5 ] ]
            let layout : RegressionPaper.Layout = { Toys = []; Uci = [ "yacht", [ 0 .. 5 ] ] }
            let summary = RegressionPaper.summarize layout results
            let nllRow = summary.Tables[0].Rows |> List.exactlyOne
            Expect.equal nllRow[1] "mdn 5, teacher 6, joint 5 of 6" "splits per method"
            let mdnMean, mdnStd = Statistics.meanStd [ for k in [ 0; 1; 2; 3; 5 ] -> mdn k ]
            Expect.equal nllRow[2] (sprintf "%.3f ± %.3f" mdnMean mdnStd) "the MDN over its five splits"
            let rows = summary.Tables[1].Rows
            Expect.equal (rows |> List.map (fun r -> r[1])) [ "teacher MDN vs MDN alone"; "joint EBM vs teacher MDN"; "joint EBM vs MDN alone" ] "three comparisons"
            // Teacher vs MDN on splits 0, 1, 2, 3, 5: d = −0.1 −0.2 −0.3 +0.05 −0.5; V = 1 (rank of 0.05), p = 2 · 2/32.
            Expect.equal (rows[0]) [ "yacht"; "teacher MDN vs MDN alone"; "5 of 6"; "-0.210"; "4"; "1"; "0.125"; sprintf "%.3f" (PairedTests.pairedT [ -0.1; -0.2; -0.3; 0.05; -0.5 ]).P ] "teacher vs MDN"
            // Joint vs teacher on splits 0 … 4: all five favour the joint EBM, p = 2/32.
            Expect.equal (rows[1][2 .. 6]) [ "5 of 6"; "-0.220"; "5"; "0"; sprintf "%.3f" 0.0625 ] "joint vs teacher"
            Expect.equal (rows[2][2]) "4 of 6" "joint vs MDN on splits 0 … 3"
            let check = summary.Checks |> List.exactlyOne
            // Means over splits 0 … 3: MDN 1.15, teacher 1.0125, joint 0.7975.
            Expect.equal check.Passed (Some true) "the ordering holds on the means over the common splits"
            Expect.stringContains check.Evidence "MDN 1.150" "the MDN's mean over the common splits (not over its five)"
            Expect.stringContains check.Evidence "4 of 6 splits" "says how many splits it used"
            // Four splits in the claimed direction give an exact Wilcoxon p of 2/16 at best.
            Expect.stringContains check.Evidence "not significant at 0.05 (Wilcoxon) for teacher vs MDN, joint vs teacher, joint vs MDN" "a ✓ on the means says which comparisons are not significant"
        }

        test "summary over splits: a ✓ with every comparison significant says so" {
            // Eight splits, each in the claimed order: exact Wilcoxon p = 2/256 for every comparison.
            let results =
                [ for k in 0 .. 7 do
                    let mdn = 1.0 + 0.1 * float k
                    yield resultOf (RegressionPaper.splitExperimentId "yacht" MdnAlone k) [ "nll", mdn ]
                    yield resultOf (RegressionPaper.splitExperimentId "yacht" Teacher k) [ "nll", mdn - 0.1 - 0.01 * float k ]
                    yield resultOf (RegressionPaper.splitExperimentId "yacht" Joint k) [ "nll", mdn - 0.3 - 0.02 * float k ] ]
            let check = (RegressionPaper.summarize { Toys = []; Uci = [ "yacht", [ 0 .. 7 ] ] } results).Checks |> List.exactlyOne
            Expect.equal check.Passed (Some true) "in order"
            Expect.stringContains check.Evidence "teacher vs MDN 0.008" "exact p"
            Expect.stringContains check.Evidence "every comparison significant at 0.05" "says so"
        }

        test "summary over splits: nothing in common is undecided, saying what each method has" {
            let results = [ resultOf (RegressionPaper.splitExperimentId "yacht" MdnAlone 0) [ "nll", 1.0 ]; resultOf (RegressionPaper.splitExperimentId "yacht" Joint 1) [ "nll", 0.0 ] ]
            let summary = RegressionPaper.summarize { Toys = []; Uci = [ "yacht", [ 0 .. 19 ] ] } results
            let check = summary.Checks |> List.exactlyOne
            Expect.isNone check.Passed "undecided"
            Expect.stringContains check.Evidence "MDN alone 1, teacher MDN 0, joint EBM 1" "counts per method"
            Expect.equal (summary.Tables[1].Rows[0][2 .. 3]) [ "0 of 20"; "—" ] "no pair"
        }
    ]
