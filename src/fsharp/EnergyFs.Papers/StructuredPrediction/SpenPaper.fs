namespace EnergyFs.Papers.StructuredPrediction

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies
open Plotly.NET

/// The reproduction of the multilabel experiments of Shankar & Piratla 2022, "Implicit Training of
/// Energy Model for Structure Prediction" (arXiv 2211.11649, Table 1) and the methods they compare
/// with: the feature MLP, SPEN (Belanger & McCallum 2016) and inference networks (Tu & Gimpel 2018)
/// on bibtex, example F1 with a dev-chosen threshold.
[<RequireQualifiedAccess>]
module SpenPaper =

    /// Published bibtex test example F1 (×100): MLP 38.9 and SPEN 42.2 (Belanger & McCallum 2016,
    /// Table 1), inference networks 42.2 (Tu & Gimpel 2018, Table 2).
    let published = [ Mlp, 38.9; Spen, 42.2; InfNet, 42.2 ]

    let private title m =
        match m with
        | Mlp -> "MLP (feature network)"
        | Spen -> "SPEN, structured SVM"
        | InfNet -> "inference networks"
        | Implicit -> "implicit training"
        | InfNetSsvm -> "inference network on the SSVM energy"

    /// The id of a run: spen-<data>-<method>.
    let experimentId (data: string) (m: SpenMethod) = sprintf "spen-%s-%s" data (SpenExperiment.methodName m)

    /// One method with its settings on a MULAN folder of data/: `SpenExperiment.metrics` (test and
    /// dev example F1 ×100, threshold, pretrained dev F1, the method's extra numbers).
    let experiment (data: string) (setup: SpenSetup) (settings: SpenMethodSettings) : ExperimentSpec =
        (data, setup, settings) |> Experiment.ofSettings [ "data"; "setup"; "settings" ] (fun (data, setup, settings) ->
            let m = SpenExperiment.methodOf settings
            { Id = experimentId data m
              Title = sprintf "%s, %s" data (title m)
              Config = ResultCache.describe (box (data, setup, settings))
              Run = fun ctx seed report ->
                  let r = SpenExperiment.runOnFolder { setup with Seed = seed; Context = ctx } settings report (Data.Paths.find data)
                  { Metrics = SpenExperiment.metrics r; Series = [] }
              Settings = None })

    /// The checks: the MLP baseline reproduces its published F1 (within 1.5 points), and the SPEN
    /// beats the MLP (the published gap is 3.3 points).
    let checks (results: ExperimentResult list) : HeadlineCheck list =
        [ Results.check "bibtex: the MLP's test example F1 is within 1.5 points of the published 38.9"
              [ experimentId "bibtex" Mlp, "test_f1" ] (fun xs -> abs (xs[0] - 38.9) <= 1.5) (fun xs -> sprintf "%.2f vs 38.9" xs[0]) results
          Results.check "bibtex: the SPEN's test example F1 is higher than the MLP's (published 42.2 vs 38.9)"
              [ experimentId "bibtex" Spen, "test_f1"; experimentId "bibtex" Mlp, "test_f1" ] (fun xs -> xs[0] > xs[1])
              (fun xs -> sprintf "%.2f vs %.2f" xs[0] xs[1]) results ]

    /// The table beside the published numbers, the checks, a bar chart.
    let summarize (methods: SpenMethod list) (results: ExperimentResult list) : PaperSummary =
        let rows =
            [ for m in methods ->
                let e = Results.find (experimentId "bibtex" m) results
                [ title m
                  (published |> List.tryFind (fst >> (=) m) |> Option.map (snd >> sprintf "%.1f") |> Option.defaultValue "—")
                  Results.cell 2 "test_f1" e; Results.cell 2 "dev_f1" e ] ]
        let keys = methods |> List.map title
        let chart =
            [ Chart.Column(values = [ for m in methods -> published |> List.tryFind (fst >> (=) m) |> Option.map snd |> Option.defaultValue nan ], Keys = keys, Name = "published")
              Chart.Column(values = [ for m in methods -> Results.meanOf (experimentId "bibtex" m) "test_f1" results |> Option.defaultValue nan ], Keys = keys, Name = "EnergyFs") ]
            |> Chart.combine |> Chart.withTitle "bibtex test example F1 (×100)" |> Chart.withYAxisStyle "example F1"
        { Tables =
            [ { Caption = "bibtex, test example F1 ×100 (threshold chosen on a 20% dev split of train)"
                Columns = [ "method"; "published"; "EnergyFs test F1"; "EnergyFs dev F1" ]
                Rows = rows } ]
          Checks = checks results
          Charts = [ "bibtex-f1", chart ]
          Notes = [ "Feature network 2 × 150 ReLU pretrained with binary cross-entropy and kept frozen; SPEN global term h = 16." ] }

    /// Quick: MLP and SPEN with the driver's quick pretraining (≤ 15 epochs, early-stopped) and the
    /// default 10 structured-SVM epochs (3 are too few for the SPEN to overtake the MLP).
    /// Full: the driver's defaults (40 pretraining epochs, 10 epochs per method), MLP, SPEN,
    /// inference networks and implicit training.
    let spec (quick: bool) : PaperSpec =
        let methods = if quick then [ Mlp; Spen ] else [ Mlp; Spen; InfNet; Implicit ]
        let setup = if quick then SpenExperiment.quickSetup else SpenExperiment.setup
        { Id = "spen"
          Title = "Implicit training of structured energies, SPENs, inference networks (Shankar & Piratla 2022)"
          Reference = "Shankar, Piratla. Implicit Training of Energy Model for Structure Prediction. arXiv 2211.11649; Belanger, McCallum. Structured Prediction Energy Networks. ICML 2016; Tu, Gimpel. Learning Approximate Inference Networks for Structured Prediction. ICLR 2018."
          Experiments = [ for m in methods -> experiment "bibtex" setup (SpenExperiment.settings m) ]
          Summarize = summarize methods }
