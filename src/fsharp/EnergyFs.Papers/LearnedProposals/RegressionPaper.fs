namespace EnergyFs.Papers.LearnedProposals

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
open EnergyFs.Data
open EnergyFs.Metrics
open EnergyFs.Energies
open Plotly.NET

/// The reproduction of Gustafsson, Danelljan & Schön 2022, "Learning Proposals for Practical
/// Energy-Based Regression" (AISTATS 2022, arXiv 2110.11948). Its headline: an MDN trained with an
/// EBM as teacher has a lower test NLL than the MDN trained alone, and the EBM trained jointly with
/// its learned proposal is lower than both. Checked on the UCI sets (this project's CPU-scale
/// stand-in for the paper's computer-vision tasks) and, in the full run, on the 1-D toy sets.
[<RequireQualifiedAccess>]
module RegressionPaper =

    /// The three methods of the headline, in table order.
    let methods = [ MdnAlone; Teacher; Joint ]

    let private methodTitle m =
        match m with
        | MdnAlone -> "MDN alone"
        | Teacher -> "MDN with EBM teacher"
        | Joint -> "EBM, joint training with learned proposal"
        | NceFixedNoise -> "EBM, NCE with fixed noise"

    /// The id of a toy-set run: regression-<data>-<method>.
    let experimentId (data: string) (m: RegressionMethod) = sprintf "regression-%s-%s" data (RegressionMethod.name m)

    /// The id of one UCI split's run: regression-<data>-<method>-s<split, two digits> (split from 0).
    let splitExperimentId (data: string) (m: RegressionMethod) (split: int) = sprintf "%s-s%02d" (experimentId data m) split

    /// One split of `data/uci_<data>` trained with one method: the unit the reproduction caches,
    /// resumes and shards (one per set, method and split). `UciExperiment.metrics` of the split
    /// (test NLL and RMSE in original units, the step kept on the validation rows,
    /// `UciProtocol.defaults`, whether the target is quantized); `nll` is the MDN's for mdn and
    /// teacher, the EBM's (quadrature) for joint. The split is part of the unit (its id and
    /// configuration); the run's seed s trains split k with seed s + k, so seed 0 gives split k the
    /// seed `energyfs regression uci` gives it.
    let uciSplit (data: string) (options: RegressionOptions) (minSteps: int) (split: int) : ExperimentSpec =
        Checks.require "split" (split >= 0 && split < 100) (sprintf "a UCI split index is in 0 … 99, got %d" split)
        (data, options, minSteps, split) |> Experiment.ofSettings [ "data"; "options"; "minSteps"; "split" ] (fun (data, options, minSteps, split) ->
            let protocol = UciProtocol.defaults
            { Id = splitExperimentId data options.Method split
              Title = sprintf "UCI %s split %d, %s" data split (methodTitle options.Method)
              Config = ResultCache.describe (box (data, options, minSteps, split, protocol))
              Run = fun ctx seed report ->
                  let s = UciExperiment.loadSplit ctx (Data.Paths.find ("uci_" + data)) split
                  try
                      let progress (p: Training.Progress) = report (p.Fraction, sprintf "split %d  loss %.4f" split p.Loss)
                      let r = UciExperiment.runSplitWith ctx protocol { options with Seed = int64 seed + int64 split; Monitor = EnergyFs.Training.FitMonitor.ofProgress progress } minSteps s
                      { Metrics = UciExperiment.metrics (UciExperiment.summarize options.Method [ r ]); Series = [] }
                  finally Scope.disposeAll [ s.XTrain; s.YTrain; s.XTest; s.YTest ]
              Settings = None })

    /// A toy-set run: `ToyRegression.run`'s metrics (KL to the truth on the grid, test NLLs, and the
    /// headline `nll` and `kl` of `ToyRegression.headline`).
    let toy (set: ToySet) (options: ToyOptions) : ExperimentSpec =
        (set, options) |> Experiment.ofSettings [ "set"; "options" ] (fun (set, options) ->
            let data = match set with Toy1 -> "toy1" | Toy2 -> "toy2"
            let m = options.Regression.Method
            { Id = experimentId data m
              Title = sprintf "%s, %s" data (methodTitle m)
              Config = ResultCache.describe (box (data, options))
              Run = fun ctx seed report ->
                  let progress (p: Training.Progress) = report (p.Fraction, sprintf "loss %.4f" p.Loss)
                  let metrics, model = ToyRegression.run ctx set { options with Regression = { options.Regression with Seed = int64 seed; Monitor = EnergyFs.Training.FitMonitor.ofProgress progress } }
                  model.Dispose ()
                  { Metrics = metrics; Series = [] }
              Settings = None })

    /// The data sets of a configuration: toy sets (one unit per method) and UCI sets with the
    /// splits the configuration runs (one unit per method and split).
    type Layout =
        { /// Toy sets by name (toy1, toy2).
          Toys: string list
          /// UCI sets by name (yacht, …) with the splits they run.
          Uci: (string * int list) list }

    /// The three comparisons of the headline, (first, second): the first should have the lower NLL.
    let comparisons = [ Teacher, MdnAlone; Joint, Teacher; Joint, MdnAlone ]

    let private shortName m =
        match m with
        | MdnAlone -> "MDN alone"
        | Teacher -> "teacher MDN"
        | Joint -> "joint EBM"
        | NceFixedNoise -> "NCE EBM"

    /// Metric `name` of every split of (data, m) that has it, as (split, mean over the run's seeds):
    /// a split missing from the results, or whose every seed failed, is absent.
    let splitValues (data: string) (m: RegressionMethod) (splits: int list) (name: string) (results: ExperimentResult list) : (int * float) list =
        splits |> List.choose (fun k -> Results.meanOf (splitExperimentId data m k) name results |> Option.map (fun v -> k, v))

    /// The test NLLs of two methods on the splits both have, in split order.
    let paired (data: string) (splits: int list) (first: RegressionMethod) (second: RegressionMethod) (results: ExperimentResult list) : (int * float * float) list =
        let a, b = Map (splitValues data first splits "nll" results), Map (splitValues data second splits "nll" results)
        splits |> List.choose (fun k -> match a.TryFind k, b.TryFind k with Some x, Some y -> Some (k, x, y) | _ -> None)

    let private pValue (p: float) =
        if Double.IsNaN p then "—"
        elif p < 0.001 then
            // "3.8e-06", not .NET's three-digit exponent "3.8e-006".
            let e = int (floor (log10 p))
            let m = p / 10.0 ** float e
            let m, e = if Math.Round (m, 1) >= 10.0 then m / 10.0, e + 1 else m, e
            sprintf "%.1fe-%02d" m (-e)
        else sprintf "%.3f" p

    /// The headline on one toy set: teacher MDN < MDN alone, and joint EBM < both (test NLL, means over seeds).
    let check (data: string) (results: ExperimentResult list) : HeadlineCheck =
        Results.check (sprintf "%s: teacher MDN NLL < MDN alone, joint EBM NLL < both" data)
            [ for m in methods -> experimentId data m, "nll" ]
            (fun xs -> xs[1] < xs[0] && xs[2] < xs[0] && xs[2] < xs[1])
            (fun xs -> sprintf "MDN %.3f, teacher MDN %.3f, joint EBM %.3f" xs[0] xs[1] xs[2]) results

    /// The headline on one UCI set, decided on the mean test NLL over the splits that all three
    /// methods have (the evidence says how many of the configuration's splits that is, and gives the
    /// Wilcoxon signed-rank p-value of each comparison on them); undecided when no split has all three.
    let checkSplits (data: string) (splits: int list) (results: ExperimentResult list) : HeadlineCheck =
        let claim = sprintf "%s: teacher MDN NLL < MDN alone, joint EBM NLL < both" data
        let values = methods |> List.map (fun m -> Map (splitValues data m splits "nll" results))
        let common = splits |> List.filter (fun k -> values |> List.forall (fun v -> v.ContainsKey k))
        if common.IsEmpty then
            let counts = List.zip methods values |> List.map (fun (m, v) -> sprintf "%s %d" (shortName m) v.Count)
            { Claim = claim; Passed = None
              Evidence = sprintf "not measured: no split of %d has all three methods (%s)" splits.Length (String.Join(", ", counts)) }
        else
            let means = values |> List.map (fun v -> common |> List.averageBy (fun k -> v[k]))
            let mdn, teacher, joint = means[0], means[1], means[2]
            let passed = teacher < mdn && joint < mdn && joint < teacher
            let tests =
                if common.Length < 2 then ""
                else
                    let p (a: RegressionMethod) (b: RegressionMethod) =
                        let va, vb = values[List.findIndex ((=) a) methods], values[List.findIndex ((=) b) methods]
                        (PairedTests.compare [ for k in common -> va[k] ] [ for k in common -> vb[k] ]).Wilcoxon.P
                    let ps = [ "teacher vs MDN", p Teacher MdnAlone; "joint vs teacher", p Joint Teacher; "joint vs MDN", p Joint MdnAlone ]
                    // The check is on the means; say when a comparison in the claimed direction is not
                    // significant, so that a ✓ is not read as more than it is.
                    let weak = ps |> List.filter (fun (_, v) -> not (v < 0.05)) |> List.map fst
                    let significance =
                        if not passed then ""
                        elif weak.IsEmpty then "; every comparison significant at 0.05"
                        else sprintf "; in order by the means, not significant at 0.05 (Wilcoxon) for %s" (String.Join (", ", weak))
                    sprintf "; Wilcoxon p: %s%s" (String.Join (", ", ps |> List.map (fun (name, v) -> sprintf "%s %s" name (pValue v)))) significance
            { Claim = claim
              Passed = Some passed
              Evidence = sprintf "MDN %.3f, teacher MDN %.3f, joint EBM %.3f: means over %d of %d splits (those with all three methods)%s" mdn teacher joint common.Length splits.Length tests }

    /// The paired comparisons of one UCI set as table rows: for each of `comparisons`, the splits
    /// both methods have ("n of N"), the mean NLL difference first − second over them (negative:
    /// the first is better), how many splits favour each, and the two-sided p-values of the Wilcoxon
    /// signed-rank test and the paired t-test.
    let comparisonRows (data: string) (splits: int list) (results: ExperimentResult list) : string list list =
        [ for first, second in comparisons ->
            let pairs = paired data splits first second results
            let label = sprintf "%s vs %s" (shortName first) (shortName second)
            let n = sprintf "%d of %d" pairs.Length splits.Length
            if pairs.IsEmpty then [ data; label; n; "—"; "—"; "—"; "—"; "—" ]
            else
                let c = PairedTests.compare [ for _, a, _ in pairs -> a ] [ for _, _, b in pairs -> b ]
                let wilcoxon = pValue c.Wilcoxon.P + (if c.Wilcoxon.Exact || Double.IsNaN c.Wilcoxon.P then "" else " (normal approx.)")
                [ data; label; n; sprintf "%+.3f" c.MeanDifference
                  sprintf "%d" c.Negative + (if c.Zero > 0 then sprintf " (%d tied)" c.Zero else "")
                  sprintf "%d" c.Positive; wilcoxon; pValue c.T.P ] ]

    /// "m ± s" of a metric over the splits that have it (sample std; just "m" for one split), "—" for none.
    let private splitCell (digits: int) (values: (int * float) list) =
        match values |> List.map snd with
        | [] -> "—"
        | [ v ] -> sprintf "%.*f" digits v
        | vs -> let m, s = Statistics.meanStd vs in sprintf "%.*f ± %.*f" digits m digits s

    /// How many of the configuration's splits each method has: "n of N" when all agree, else per method.
    let private splitCounts (data: string) (splits: int list) (results: ExperimentResult list) =
        let counts = methods |> List.map (fun m -> m, (splitValues data m splits "nll" results).Length)
        match counts |> List.map snd |> List.distinct with
        | [ n ] -> sprintf "%d of %d" n splits.Length
        | _ -> sprintf "%s of %d" (String.Join(", ", counts |> List.map (fun (m, n) -> sprintf "%s %d" (RegressionMethod.name m) n))) splits.Length

    /// The paper's summary for a layout: the NLL table (toy sets over seeds, UCI sets over the splits
    /// measured, with how many of the configuration's splits that is), the paired comparisons over
    /// splits, the headline check per set, the NLL chart and the notes.
    let summarize (layout: Layout) (results: ExperimentResult list) : PaperSummary =
        let toyRows =
            [ for d in layout.Toys ->
                d :: "—" :: [ for m in methods -> Results.cell 3 "nll" (Results.find (experimentId d m) results) ]
                @ [ Results.cell 3 "rmse" (Results.find (experimentId d Joint) results) ] ]
        let uciRows =
            [ for d, splits in layout.Uci ->
                d :: splitCounts d splits results :: [ for m in methods -> splitCell 3 (splitValues d m splits "nll" results) ]
                @ [ splitCell 3 (splitValues d Joint splits "rmse" results) ] ]
        let meanNll d m =
            match layout.Uci |> List.tryFind (fst >> (=) d) with
            | Some (_, splits) ->
                match splitValues d m splits "nll" results with
                | [] -> nan
                | vs -> vs |> List.averageBy snd
            | None -> Results.meanOf (experimentId d m) "nll" results |> Option.defaultValue nan
        let datasets = layout.Toys @ (layout.Uci |> List.map fst)
        let nlls =
            [ for m in methods ->
                Chart.Column(values = [ for d in datasets -> meanNll d m ], Keys = datasets, Name = methodTitle m) ]
            |> Chart.combine |> Chart.withTitle "Test NLL (lower is better)" |> Chart.withYAxisStyle "NLL"
        let comparisonTable =
            [ if not layout.Uci.IsEmpty then
                { Caption = "Paired comparisons over splits (test NLL, lower is better): the mean difference first − second over the splits both methods have (negative: the first is better), how many splits favour each, and two-sided p-values of the Wilcoxon signed-rank test (exact without ties for n < 50, as R's wilcox.test) and the paired t-test"
                  Columns = [ "data"; "comparison"; "splits"; "mean difference"; "first better"; "second better"; "Wilcoxon p"; "paired t p" ]
                  Rows = layout.Uci |> List.collect (fun (d, splits) -> comparisonRows d splits results) } ]
        let quantizedNotes =
            [ for d, splits in layout.Uci do
                match splitValues d MdnAlone splits "target_quantized" results, splitValues d MdnAlone splits "target_distinct" results with
                | q, n when q |> List.exists (fun (_, v) -> v > 0.5) && not n.IsEmpty ->
                    yield sprintf "Warning: the %s target takes %.0f distinct values (quantized): densities can put spikes on them, so its NLLs are not comparable with continuous-target figures (`energyfs regression uci --dequantize` adds uniform noise of the quantization width)." d (n |> List.map snd |> List.min)
                | _ -> () ]
        { Tables =
            [ { Caption = "Test NLL (the paper reports the ordering on its own tasks, not UCI numbers: the ordering is checked below); UCI: mean ± std over the splits measured"
                Columns = [ "data"; "splits" ] @ (methods |> List.map (fun m -> "NLL, " + methodTitle m)) @ [ "RMSE, joint EBM" ]
                Rows = toyRows @ uciRows } ]
            @ comparisonTable
          Checks = (layout.Toys |> List.map (fun d -> check d results)) @ (layout.Uci |> List.map (fun (d, splits) -> checkSplits d splits results))
          Charts = [ "nll", nlls ]
          Notes =
            [ "UCI: standard splits of Hernández-Lobato & Adams 2015, NLL in the target's original units; EBM NLL by quadrature on [−8, 8] (standardised y). One unit per (set, method, split); a run with seed s trains split k with seed s + k, and a split's value is its mean over the run's seeds. Every method keeps the step with the lowest NLL on 10% of the training rows held out for validation (never the test rows); the step kept is in each unit's metrics (selected_step of steps). Targets are not dequantized. Toy sets: Sec. 5.1 (toy set 2 is the authors' second set, after Brando et al. 2019), the authors' networks at width 10, 75 epochs, no validation (as the authors train)." ]
            @ quantizedNotes }

    /// Quick: UCI yacht, split 0; M = 256, ≥ 2000 steps (40 epochs, raised for the small set).
    let quickLayout = { Toys = []; Uci = [ "yacht", [ 0 ] ] }

    /// Full: the toy sets at the paper's scale and UCI yacht, energy, concrete and power-plant on all 20 splits.
    let fullLayout = { Toys = [ "toy1"; "toy2" ]; Uci = [ for d in [ "yacht"; "energy"; "concrete"; "power-plant" ] -> d, [ 0 .. 19 ] ] }

    /// The units of the UCI sets of a layout, split by split (the three methods of a split next to
    /// each other, so that an interrupted run leaves complete pairs for the paired tests).
    let private uciUnits (layout: Layout) (options: RegressionOptions) =
        [ for d, splits in layout.Uci do
            for k in splits do
                for m in methods -> uciSplit d { options with Method = m } UciExperiment.minSteps k ]

    /// Quick: UCI yacht, split 0; M = 256, ≥ 2000 steps (40 epochs, raised for the small set).
    let quickExperiments = uciUnits quickLayout UciExperiment.defaults

    /// Full: the toy sets at the paper's scale (M = 1024, 75 epochs) and UCI yacht, energy,
    /// concrete and power-plant on all 20 splits (M = 1024, 75 epochs, ≥ 2000 steps), one unit per
    /// split (power-plant's 9568 rows make 75 epochs about 18,000 steps: ≈ 7 CPU minutes per EBM unit).
    let fullExperiments =
        [ for set in [ Toy1; Toy2 ] do
            for m in methods do yield toy set { ToyOptions.paper with Regression = { ToyOptions.paper.Regression with Method = m } }
          yield! uciUnits fullLayout (UciExperiment.paperScale UciExperiment.defaults) ]

    /// The paper in the catalogue.
    let spec (quick: bool) : PaperSpec =
        { Id = "regression"
          Title = "Learned proposals for energy-based regression (Gustafsson et al. 2022)"
          Reference = "Gustafsson, Danelljan, Schön. Learning Proposals for Practical Energy-Based Regression. AISTATS 2022, arXiv 2110.11948."
          Experiments = if quick then quickExperiments else fullExperiments
          Summarize = summarize (if quick then quickLayout else fullLayout) }
