namespace EnergyFs.Papers.FenchelYoung

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies
open EnergyFs.Regularizers
open Plotly.NET

/// The reproduction of Blondel, Llinares-López, Dadashi, Hussenot & Geist 2022, "Learning
/// Energy Networks with Generalized Fenchel-Young Losses" (NeurIPS 2022, arXiv 2205.09589):
/// multilabel classification on yeast, scene and emotions (§5.1, Table 1: Hamming accuracy),
/// imitation learning (§5.2) and the calibration property (§4.3).
[<RequireQualifiedAccess>]
module FenchelYoungPaper =

    /// The published test Hamming accuracies (%) of the generalized FY loss (Table 1).
    let published = [ "yeast", 80.19; "scene", 91.58; "emotions", 80.56 ]

    /// The data sets in the order of the table.
    let datasets = published |> List.map fst

    /// A multilabel run: one data set of data/, one loss; `MultilabelExperiment.metrics` (×100 on
    /// the test split).
    let multilabel (data: string) (options: MultilabelOptions) : ExperimentSpec =
        (data, options) |> Experiment.ofSettings [ "data"; "options" ] (fun (data, options) ->
            let energy = MultilabelLoss.name options.Loss
            { Id = sprintf "fy-multilabel-%s-%s" data energy
              Title = sprintf "%s, %s energy, %s" data energy options.Regularizer.Name
              Config = ResultCache.describe (box (data, options))
              Run = fun ctx seed report ->
                  use loaded = Mulan.loadFrom Context.cpu64 data
                  let r = MultilabelExperiment.runSeed { options with Context = ctx } loaded seed (fun f -> report (f, sprintf "seed %d" seed))
                  { Metrics = MultilabelExperiment.metrics r; Series = [] }
              Settings = None })

    /// The imitation experiment (bimodal demonstrations): `Imitation.metrics`, the normalized
    /// return, success and collision rates of the expert, MSE and energy policies.
    let imitation (options: ImitationOptions) : ExperimentSpec =
        options |> Experiment.ofSettings [ "options" ] (fun options ->
            { Id = "fy-imitation"
              Title = "reacher with an obstacle, bimodal expert: MSE cloning vs energy policy"
              Config = ResultCache.describe (box options)
              Run = fun ctx seed report ->
                  let scores = Imitation.run { options with Seed = seed; Context = ctx } (fun f -> report (f, "training"))
                  { Metrics = Imitation.metrics scores; Series = [] }
              Settings = None })

    /// The calibration check: `Calibration.metrics` (the Spearman correlation, both excess risks at
    /// the start and the end) and both excess risks along training as series.
    let calibration (options: CalibrationOptions) : ExperimentSpec =
        options |> Experiment.ofSettings [ "options" ] (fun options ->
            { Id = "fy-calibration"
              Title = "calibration of a linear-concave energy (synthetic, exact excess risks)"
              Config = ResultCache.describe (box options)
              Run = fun _ seed report ->
                  report (0.0, "training")
                  let points, spearman = Calibration.run { options with Seed = seed }
                  let steps = points |> List.map (fun p -> float p.Step) |> Array.ofList
                  { Metrics = Calibration.metrics (points, spearman)
                    Series =
                      [ { Name = "fy_excess"; X = steps; Y = points |> List.map (fun p -> p.FyExcess) |> Array.ofList }
                        { Name = "task_excess"; X = steps; Y = points |> List.map (fun p -> p.TaskExcess) |> Array.ofList } ] }
              Settings = None })

    /// Quick calibration: 500 training and 500 evaluation points, 60 full-batch steps, both excess
    /// risks every 5 steps (13 points for the rank correlation).
    let quickCalibration = { CalibrationOptions.defaults with TrainSize = 500; EvalSize = 500; Steps = 60; Every = 5 }

    let private experiments (multilabelOptions: MultilabelOptions) (imitationOptions: ImitationOptions) (calibrationOptions: CalibrationOptions) =
        [ for d in datasets do
            yield multilabel d { multilabelOptions with Loss = QuadraticEnergy }
            yield multilabel d { multilabelOptions with Loss = Independent }
          yield imitation imitationOptions
          yield calibration calibrationOptions ]

    /// Checks of the paper's headlines computed from results (see `spec`).
    let checks (results: ExperimentResult list) : HeadlineCheck list =
        [ for data, paper in published do
            yield Results.check (sprintf "%s: Hamming accuracy within 1 point of the published %.2f" data paper)
                    [ sprintf "fy-multilabel-%s-quadratic" data, "hamming_accuracy" ]
                    (fun xs -> abs (xs[0] - paper) <= 1.0) (fun xs -> sprintf "%.2f vs %.2f" xs[0] paper) results
          yield Results.check "imitation, bimodal demonstrations: the energy policy has a higher normalized return and fewer collisions than MSE behavioural cloning"
              [ "fy-imitation", "energy_normalized"; "fy-imitation", "mse_normalized"; "fy-imitation", "energy_collision"; "fy-imitation", "mse_collision" ]
              (fun xs -> xs[0] > xs[1] && xs[2] < xs[3])
              (fun xs -> sprintf "normalized return %.3f vs %.3f, collision rate %.2f vs %.2f" xs[0] xs[1] xs[2] xs[3]) results
          yield Results.check "imitation, bimodal demonstrations: the energy policy reaches the goal (success rate > 0.5)"
              [ "fy-imitation", "energy_success" ] (fun xs -> xs[0] > 0.5) (fun xs -> sprintf "success rate %.2f" xs[0]) results
          yield Results.check "calibration: the task excess risk falls with the FY excess risk (Spearman ≥ 0.8, task excess reduced)"
              [ "fy-calibration", "spearman"; "fy-calibration", "task_excess_start"; "fy-calibration", "task_excess_end" ]
              (fun xs -> xs[0] >= 0.8 && xs[2] < xs[1]) (fun xs -> sprintf "Spearman %.3f, task excess %.4f → %.4f" xs[0] xs[1] xs[2]) results ]

    /// The results table, the checks and the charts.
    let summarize (results: ExperimentResult list) : PaperSummary =
        let find id = Results.find id results
        let rows =
            [ for data, paper in published ->
                let q, i = find (sprintf "fy-multilabel-%s-quadratic" data), find (sprintf "fy-multilabel-%s-independent" data)
                [ data; sprintf "%.2f" paper; Results.cell 2 "hamming_accuracy" q; Results.cell 2 "hamming_accuracy" i
                  Results.cell 2 "example_f1" q; Results.cell 2 "example_f1" i ] ]
        let imitation = find "fy-imitation"
        let policyRows =
            [ for p in [ "expert"; "mse"; "energy" ] ->
                [ p; Results.cell 3 (p + "_normalized") imitation; Results.cell 2 (p + "_success") imitation; Results.cell 2 (p + "_collision") imitation ] ]
        let bars =
            let measured = published |> List.map (fun (d, _) -> d, Results.meanOf (sprintf "fy-multilabel-%s-quadratic" d) "hamming_accuracy" results |> Option.defaultValue nan)
            [ Chart.Column(values = (published |> List.map snd), Keys = datasets, Name = "published (Blondel et al. 2022)")
              Chart.Column(values = (measured |> List.map snd), Keys = datasets, Name = "EnergyFs, quadratic energy") ]
            |> Chart.combine |> Chart.withTitle "Test Hamming accuracy (%)" |> Chart.withYAxisStyle "Hamming accuracy (%)"
        let calibrationChart =
            match Results.series "fy_excess" (find "fy-calibration"), Results.series "task_excess" (find "fy-calibration") with
            | Some fy, Some task ->
                [ "calibration",
                  Charts.lines "Calibration: excess risks along training" "Adam step" "excess risk"
                      [ "generalized FY excess", fy.X, fy.Y; "task (Hamming) excess", task.X, task.Y ] ]
            | _ -> []
        { Tables =
            [ { Caption = "Multilabel classification (test, %): the published number is the generalized FY loss's Hamming accuracy"
                Columns = [ "data"; "published Hamming acc."; "Hamming acc., generalized FY (quadratic)"; "Hamming acc., independent"
                            "example F1, quadratic"; "example F1, independent" ]
                Rows = rows }
              { Caption = "Imitation learning, bimodal demonstrations (normalized return: 1 = expert, 0 = idle)"
                Columns = [ "policy"; "normalized return"; "success rate"; "collision rate" ]
                Rows = policyRows } ]
          Checks = checks results
          Charts = [ "hamming-accuracy", bars ] @ calibrationChart
          Notes =
            [ "Multilabel: MULAN standard splits, test set, %; u(x) with one hidden layer of 128 ReLU units, quadratic energy ⟨u, p⟩ + ½⟨p, Â p⟩ with coordinate ascent, Fermi-Dirac Ω, early stopping on a 20% validation split. Imitation: a 2-D reacher with an obstacle stands in for the paper's MuJoCo tasks." ] }

    /// The paper in the catalogue; `quick` selects the short configuration.
    let spec (quick: bool) : PaperSpec =
        let exps =
            if quick then experiments MultilabelOptions.defaults ImitationOptions.defaults quickCalibration
            else experiments MultilabelOptions.defaults ImitationOptions.defaults CalibrationOptions.defaults
        { Id = "fy"
          Title = "Generalized Fenchel-Young losses (Blondel et al. 2022)"
          Reference = "Blondel, Llinares-López, Dadashi, Hussenot, Geist. Learning Energy Networks with Generalized Fenchel-Young Losses. NeurIPS 2022, arXiv 2205.09589."
          Experiments = exps
          Summarize = summarize }
