/// The energyfs command-line program.
module EnergyFs.Cli.Program

open System
open Argu
open EnergyFs

/// Arguments of `energyfs info`.
type InfoArgs =
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Json -> "print one JSON object"

/// The command line of energyfs: global options (device, threads) and one subcommand per paper.
type CliArgs =
    | [<AltCommandLine("-d")>] Device of string
    | Threads of int
    | [<CliPrefix(CliPrefix.None)>] Info of ParseResults<InfoArgs>
    | [<CliPrefix(CliPrefix.None)>] Dual of ParseResults<Commands.Dual.DualArgs>
    | [<CliPrefix(CliPrefix.None)>] Regression of ParseResults<Commands.Regression.RegressionArgs>
    | [<CliPrefix(CliPrefix.None)>] Fy of ParseResults<Commands.Fy.FyArgs>
    | [<CliPrefix(CliPrefix.None)>] Spen of ParseResults<Commands.Spen.SpenArgs>
    | [<CliPrefix(CliPrefix.None)>] Seq of ParseResults<Commands.Tagging.TagArgs>
    | [<CliPrefix(CliPrefix.None)>] Reproduce of ParseResults<Commands.Reproduce.ReproduceArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<Commands.Sweep.SweepArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ -> "cpu (default), cuda, cuda:N or auto"
            | Threads _ -> "libtorch intra-op threads (default: libtorch's choice; ENERGYFS_THREADS also sets it)"
            | Info _ -> "versions of EnergyFs, TorchSharp and libtorch; device; threads; runtime"
            | Dual _ -> "dual training of shallow EBMs (Domingo-Enrich et al. 2021): teacher-student experiment"
            | Regression _ -> "learned proposals for energy-based regression (Gustafsson et al. 2022): toy1|toy2|uci"
            | Fy _ -> "generalized Fenchel-Young losses (Blondel et al. 2022): multilabel and imitation experiments"
            | Spen _ -> "multilabel SPEN / inference networks / implicit training on a MULAN folder"
            | Seq _ -> "sequence labelling (UD part-of-speech tags): BiLSTM, CRF or SparseMAP tagger; SPEN, inference networks or implicit training of a structured energy"
            | Reproduce _ -> "the main job: run every paper's experiments (cached) and write report.md and report.html"
            | Sweep _ -> "a hyperparameter sweep (grid or random, from a JSON file) over an experiment of the catalogue, selected on validation data"

/// Entry point: parses the command line (Argu prints usage and exits on errors), applies the thread
/// and device options, and runs the subcommand; returns its exit code.
[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<CliArgs>(programName = "energyfs", errorHandler = ProcessExiter())
    let args = parser.ParseCommandLine argv
    try
        Runtime.applyThreadsFromEnvironment ()
        args.TryGetResult Threads |> Option.iter Runtime.setThreads
        let ctx = args.TryGetResult Device |> Option.map Context.parse |> Option.defaultValue Context.cpu
        match args.TryGetSubCommand () with
        | Some (Info info) -> Commands.Info.run ctx (info.Contains Json)
        | Some (Dual dual) -> Commands.Dual.run ctx dual
        | Some (Regression r) -> Commands.Regression.run ctx r
        | Some (Fy fy) -> Commands.Fy.run ctx fy
        | Some (Spen spen) -> Commands.Spen.run ctx spen
        | Some (Seq t) -> Commands.Tagging.run ctx t
        | Some (Reproduce r) -> Commands.Reproduce.run ctx r
        | Some (Sweep s) -> Commands.Sweep.run ctx s
        | _ -> Commands.Info.run ctx false
    with
    | :? ArgumentException as e ->
        eprintfn "energyfs: %s" e.Message
        2
    | :? DataFormatException as e ->
        eprintfn "energyfs: %s" e.Message
        2
    | :? IO.IOException as e ->
        eprintfn "energyfs: %s" e.Message
        2
