namespace EnergyFs.Papers.LearnedProposals

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
open EnergyFs.Data
open EnergyFs.Learners
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

    /// The id of a run: regression-<data>-<method>.
    let experimentId (data: string) (m: RegressionMethod) = sprintf "regression-%s-%s" data (RegressionMethod.name m)

    /// A UCI run over the given splits of `data/uci_<data>`: `UciExperiment.metrics` of the splits'
    /// summary (mean test NLL and RMSE in original units, their std over splits, the step each split
    /// kept on its validation rows, `UciProtocol.defaults`, and whether the target is quantized);
    /// `nll` is the MDN's for mdn and teacher, the EBM's (quadrature) for joint.
    let uci (data: string) (options: RegressionOptions) (minSteps: int) (splits: int list) : ExperimentSpec =
        (data, options, minSteps, splits) |> Experiment.ofSettings [ "data"; "options"; "minSteps"; "splits" ] (fun (data, options, minSteps, splits) ->
            let protocol = UciProtocol.defaults
            { Id = experimentId data options.Method
              Title = sprintf "UCI %s, %s, splits %s" data (methodTitle options.Method) (String.Join(",", splits))
              Config = ResultCache.describe (box (data, options, minSteps, splits, protocol))
              Run = fun ctx seed report ->
                  let folder = Data.Paths.find ("uci_" + data)
                  let results =
                      splits |> List.mapi (fun i split ->
                          let s = UciExperiment.loadSplit ctx folder split
                          try
                              let progress (p: Training.Progress) = report ((float i + p.Fraction) / float splits.Length, sprintf "split %d  loss %.4f" split p.Loss)
                              UciExperiment.runSplitWith ctx protocol { options with Seed = int64 seed + int64 split; Monitor = EnergyFs.Training.FitMonitor.ofProgress progress } minSteps s
                          finally Scope.disposeAll [ s.XTrain; s.YTrain; s.XTest; s.YTest ])
                  { Metrics = UciExperiment.metrics (UciExperiment.summarize options.Method results); Series = [] }
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

    /// The headline on one data set: teacher MDN < MDN alone, and joint EBM < both (test NLL).
    let check (data: string) (results: ExperimentResult list) : HeadlineCheck =
        Results.check (sprintf "%s: teacher MDN NLL < MDN alone, joint EBM NLL < both" data)
            [ for m in methods -> experimentId data m, "nll" ]
            (fun xs -> xs[1] < xs[0] && xs[2] < xs[0] && xs[2] < xs[1])
            (fun xs -> sprintf "MDN %.3f, teacher MDN %.3f, joint EBM %.3f" xs[0] xs[1] xs[2]) results

    let private summarizeOn (datasets: string list) (results: ExperimentResult list) : PaperSummary =
        let rows =
            [ for d in datasets ->
                d :: [ for m in methods -> Results.cell 3 "nll" (Results.find (experimentId d m) results) ]
                @ [ Results.cell 3 "rmse" (Results.find (experimentId d Joint) results) ] ]
        let nlls =
            [ for m in methods ->
                Chart.Column(values = [ for d in datasets -> Results.meanOf (experimentId d m) "nll" results |> Option.defaultValue nan ],
                                        Keys = datasets, Name = methodTitle m) ]
            |> Chart.combine |> Chart.withTitle "Test NLL (lower is better)" |> Chart.withYAxisStyle "NLL"
        { Tables =
            [ { Caption = "Test NLL (the paper reports the ordering on its own tasks, not UCI numbers: the ordering is checked below)"
                Columns = [ "data" ] @ (methods |> List.map (fun m -> "NLL, " + methodTitle m)) @ [ "RMSE, joint EBM" ]
                Rows = rows } ]
          Checks = datasets |> List.map (fun d -> check d results)
          Charts = [ "nll", nlls ]
          Notes =
            [ "UCI: standard splits of Hernández-Lobato & Adams 2015, NLL in the target's original units; EBM NLL by quadrature on [−8, 8] (standardised y). Every method keeps the step with the lowest NLL on 10% of the training rows held out for validation (never the test rows); the step kept is in each experiment's metrics (selected_step of steps). Targets are not dequantized. Toy sets: Sec. 5.1 (toy 2 is this project's four-zone construction), the authors' networks at width 10, 75 epochs, no validation (as the authors train)." ]
            @ [ for d in datasets do
                  match Results.meanOf (experimentId d MdnAlone) "target_quantized" results, Results.meanOf (experimentId d MdnAlone) "target_distinct" results with
                  | Some q, Some n when q > 0.5 ->
                      yield sprintf "Warning: the %s target takes %.0f distinct values (quantized): densities can put spikes on them, so its NLLs are not comparable with continuous-target figures (`energyfs regression uci --dequantize` adds uniform noise of the quantization width)." d n
                  | _ -> () ] }

    /// Quick: UCI yacht, split 0; M = 256, ≥ 2000 steps (40 epochs, raised for the small set).
    let quickExperiments =
        [ for m in methods -> uci "yacht" { UciExperiment.defaults with Method = m } UciExperiment.minSteps [ 0 ] ]

    /// Full: the toy sets at the paper's scale (M = 1024, 75 epochs) and UCI yacht, energy and
    /// concrete on all 20 splits (M = 1024, 75 epochs, ≥ 2000 steps).
    let fullExperiments =
        let o = UciExperiment.paperScale UciExperiment.defaults
        [ for set in [ Toy1; Toy2 ] do
            for m in methods do yield toy set { ToyOptions.paper with Regression = { ToyOptions.paper.Regression with Method = m } }
          for d in [ "yacht"; "energy"; "concrete" ] do
            for m in methods do yield uci d { o with Method = m } UciExperiment.minSteps [ 0 .. 19 ] ]

    /// The paper in the catalogue.
    let spec (quick: bool) : PaperSpec =
        let datasets = if quick then [ "yacht" ] else [ "toy1"; "toy2"; "yacht"; "energy"; "concrete" ]
        { Id = "regression"
          Title = "Learned proposals for energy-based regression (Gustafsson et al. 2022)"
          Reference = "Gustafsson, Danelljan, Schön. Learning Proposals for Practical Energy-Based Regression. AISTATS 2022, arXiv 2110.11948."
          Experiments = if quick then quickExperiments else fullExperiments
          Summarize = summarizeOn datasets }
