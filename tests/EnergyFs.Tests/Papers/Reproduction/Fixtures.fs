/// Fake experiment results and tiny catalogues for the reproduction tests.
module EnergyFs.Tests.Reproduction.Fixtures

open System
open System.IO
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies

/// A result of one successful seed with the given metrics (the experiment is never run).
let resultOf (id: string) (metrics: (string * float) list) : ExperimentResult =
    { Spec = { Id = id; Title = id; Config = "fake"; Run = (fun _ _ _ -> failwith "not run"); Settings = None }
      Runs = [ { Seed = 0; Outcome = Some { Metrics = metrics; Series = [] }; Seconds = 1.0; CpuSeconds = 1.0; Cached = false; Error = None } ] }

/// A fresh temporary folder.
let tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "energyfs-reproduce-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

/// An experiment that counts its runs and returns metric "value" = scale · (seed + 1).
let counting (id: string) (scale: float) (calls: int ref) : ExperimentSpec =
    { Id = id; Title = id; Config = ResultCache.describe (box {| Scale = scale |})
      Run = fun _ seed report ->
          calls.Value <- calls.Value + 1
          report (1.0, "done")
          { Metrics = [ "value", scale * float (seed + 1); "nan", nan ]
            Series = [ { Name = "curve"; X = [| 0.0; 1.0 |]; Y = [| scale; 2.0 * scale |] } ] }
      Settings = None }

/// A paper of the given experiments whose one check is "value of the first experiment > 1".
let paperOf (experiments: ExperimentSpec list) : PaperSpec =
    { Id = "tiny"; Title = "A tiny paper"; Reference = "Nobody 2026."
      Experiments = experiments
      Summarize = fun results ->
          let first = experiments.Head.Id
          { Tables = [ { Caption = "values"; Columns = [ "experiment"; "published"; "value" ]
                         Rows = [ for e in experiments -> [ e.Id; "1.50"; Results.cell 2 "value" (Results.find e.Id results) ] ] } ]
            Checks = [ Results.check "value exceeds 1" [ first, "value" ] (fun xs -> xs[0] > 1.0) (fun xs -> sprintf "%.2f" xs[0]) results ]
            Charts =
              [ match Results.series "curve" (Results.find first results) with
                | Some s -> yield "curve", Charts.lines "curve" "x" "y" [ s.Name, s.X, s.Y ]
                | None -> () ]
            Notes = [ "a note" ] } }
