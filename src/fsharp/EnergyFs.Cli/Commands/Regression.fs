/// `energyfs regression toy1|toy2|uci`: the experiments of Gustafsson, Danelljan & Schön,
/// "Learning Proposals for Practical Energy-Based Regression", AISTATS 2022 (arXiv 2110.11948).
module EnergyFs.Cli.Commands.Regression

open System
open System.Collections.Generic
open System.Text.Json
open Argu
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies

/// Arguments of `energyfs regression`.
type RegressionArgs =
    | [<MainCommand; ExactlyOnce; First>] Task of task: string
    | Data of dir: string
    | Method of method: string
    | Seed of seed: int
    | Epochs of epochs: int
    | Samples of samples: int
    | Components of k: int
    | Hidden of width: int
    | Architecture of name: string
    | Splits of splits: string
    | Steps of steps: int
    | First_Split of first: int
    | Quick
    | Validation of fraction: float
    | Dequantize
    | Plot of html: string
    | Paper
    | Log_Epochs
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Task _ -> "toy1, toy2 or uci"
            | Data _ -> "the UCI data set folder (data.txt, index_*.txt) for uci; without it, a synthetic stand-in"
            | Method _ -> "joint (default), mdn, nce or teacher; uci also takes all (one table of every method)"
            | Seed _ -> "seed of the model, batches and samples (default 0)"
            | Epochs _ -> "training epochs (default: 60 toy; uci: 40, raised to reach 2000 steps on small sets)"
            | Samples _ -> "proposal samples M per example (default: 256; 1024 with --paper)"
            | Components _ -> "mixture components K (default 4)"
            | Hidden _ -> "width of the hidden layers (default 32; toy1/toy2 --paper: 10, the authors' width)"
            | Architecture _ -> "paper (the authors' networks: residual energy head, three two-layer proposal networks) or compact (EnergyFs's earlier, one linear proposal layer); default compact, toy1/toy2 --paper: paper"
            | Splits _ -> "uci: how many of the train/test splits to run, a number or all (default all: the folder's 20)"
            | Steps _ -> "uci: optimizer steps per split (sets the epochs from the training size; default: 40 epochs, at least 2000 steps)"
            | First_Split _ -> "uci: start at this split (default 0): --first-split 10 --splits 10 runs splits 10..19, with the seeds a full run gives them"
            | Quick -> "uci: a quick per-split configuration (M = 64, 1000 steps) for runs on all splits on a CPU"
            | Validation _ -> "uci: fraction of the training rows held out to select every method's step (default 0.1; 0: keep the last step)"
            | Dequantize -> "uci: add uniform noise of the quantization width to the targets when they take few distinct values (see the warning)"
            | Plot _ -> "toy1/toy2: write heatmaps and fixed-x slices of the true and learned densities (EBM by quadrature, MDN exact) into this folder (or to this .html file and its -slices.html)"
            | Paper -> "the paper's scale (M = 1024, 75 epochs; toy1/toy2 also the authors' networks at width 10); slower"
            | Log_Epochs -> "toy1/toy2: print each epoch's history row (mean training loss, …) on stderr: the training curve"
            | Json -> "print the metrics as one JSON object on the last line"

let private printJson (fields: (string * obj) list) = printfn "%s" (RunMetrics.json fields)

/// Runs the command; returns the exit code.
let run (ctx: Context) (args: ParseResults<RegressionArgs>) =
    let task = args.GetResult(Task).Trim().ToLowerInvariant()
    let methodName = args.GetResult (Method, defaultValue = "joint")
    let allMethods = methodName.Trim().ToLowerInvariant () = "all"
    let method' = if allMethods then Joint else RegressionMethod.parse methodName
    let seed = int64 (args.GetResult (Seed, defaultValue = 0))
    let json = args.Contains Json
    let withOverrides (o: RegressionOptions) =
        { o with
            Method = method'
            Seed = seed
            Epochs = args.GetResult (Epochs, defaultValue = o.Epochs)
            Samples = args.GetResult (Samples, defaultValue = o.Samples)
            Components = args.GetResult (Components, defaultValue = o.Components)
            Hidden = args.GetResult (Hidden, defaultValue = o.Hidden)
            Architecture =
                match args.TryGetResult Architecture with
                | Some a -> EnergyFs.Models.RegressionArchitecture.parse a
                | None -> o.Architecture }
    match task with
    | "toy1" | "toy2" when allMethods -> invalidArg "method" "--method all is for uci; toy runs take one method"
    | "toy1" | "toy2" ->
        let set = if task = "toy1" then Toy1 else Toy2
        let baseOptions = if args.Contains Paper then ToyOptions.paper else ToyOptions.quick
        let options = { baseOptions with Regression = withOverrides baseOptions.Regression }
        let metrics, model =
            EnergyFs.Cli.Progress.withBar (sprintf "%s %s" task methodName) (fun report ->
                let monitor = EnergyFs.Training.FitMonitor.ofProgress (fun p -> report (p.Fraction, sprintf "loss %.4f" p.Loss))
                let monitor =
                    if args.Contains Log_Epochs then
                        { monitor with OnEpoch = fun epoch row -> eprintfn "epoch %d: %s" (epoch + 1) (String.Join(", ", row |> List.map (fun (k, v) -> sprintf "%s %.5g" k v))) }
                    else monitor
                ToyRegression.run ctx set { options with Regression = { options.Regression with Monitor = monitor } })
        args.TryGetResult Plot |> Option.iter (fun path ->
            // A folder (two files named after the task and method), or an .html file (its slices beside it).
            let heatPath, slicePath =
                if path.EndsWith (".html", StringComparison.OrdinalIgnoreCase) then path, path.Substring (0, path.Length - 5) + "-slices.html"
                else
                    IO.Directory.CreateDirectory path |> ignore
                    IO.Path.Combine (path, sprintf "%s-%s-heatmaps.html" task methodName), IO.Path.Combine (path, sprintf "%s-%s-slices.html" task methodName)
            let xAxis, yAxis, panels = ToyRegression.densityHeatmaps ctx set 200 model
            ToyRegression.heatmapChart (sprintf "%s, method %s" task methodName) xAxis yAxis panels |> Charts.saveHtml heatPath
            let slices = ToyRegression.densitySlices ctx set (ToyRegression.sliceXs set) 800 model
            ToyRegression.slicesChart (sprintf "%s, method %s: p(y | x) at fixed x" task methodName) slices |> Charts.saveHtml slicePath
            if not json then printfn "densities written to %s and %s" heatPath slicePath)
        model.Dispose ()
        if not json then
            printfn "%s, method %s, seed %d, M = %d, K = %d, %s networks of width %d, %d epochs" task methodName seed options.Regression.Samples options.Regression.Components
                (EnergyFs.Models.RegressionArchitecture.name options.Regression.Architecture) options.Regression.Hidden options.Regression.Epochs
            for k, v in metrics do printfn "  %-18s %.4f" k v
        printJson ([ "task", box task; "method", box methodName; "seed", box seed
                     "samples", box options.Regression.Samples; "epochs", box options.Regression.Epochs
                     "architecture", box (EnergyFs.Models.RegressionArchitecture.name options.Regression.Architecture); "hidden", box options.Regression.Hidden ]
                   @ RunMetrics.boxed metrics)
        0
    | "uci" ->
        let options = withOverrides UciExperiment.defaults
        let options = if args.Contains Paper then UciExperiment.paperScale options else options
        let options = if args.Contains Quick then { options with Samples = args.GetResult (Samples, defaultValue = 64) } else options
        // Steps per split: --steps N (or --quick: 1000) fixes them (epochs = ⌈N / batches⌉); otherwise
        // small sets get more epochs, at least 2000 optimizer steps unless --epochs is given.
        let options, minSteps =
            match args.TryGetResult Steps, args.Contains Quick with
            | Some n, _ -> Checks.positiveInt "steps" n; { options with Epochs = 1 }, n
            | None, true -> { options with Epochs = 1 }, 1000
            | None, false -> options, (if args.Contains Epochs then 0 else UciExperiment.minSteps)
        let load, splitCount, name =
            match args.TryGetResult Data with
            | Some dir ->
                // A folder, or a data set of the repository's data/ folder by name ("concrete" or "uci_concrete").
                let folder = EnergyFs.Data.UciRegression.resolve dir
                (fun i -> UciExperiment.loadSplit ctx folder i), UciExperiment.splitCount folder, IO.Path.GetFileName (IO.Path.TrimEndingDirectorySeparator (IO.Path.GetFullPath folder))
            | None -> (fun i -> UciExperiment.syntheticSplit ctx (1000L + int64 i) 1000), 20, "synthetic"
        let first = args.GetResult (First_Split, defaultValue = 0)
        if first < 0 || first >= splitCount then invalidArg "first-split" (sprintf "--first-split must be in 0..%d, got %d" (splitCount - 1) first)
        let splits =
            match args.TryGetResult Splits with
            | None -> splitCount - first
            | Some s when s.Trim().ToLowerInvariant () = "all" -> splitCount - first
            | Some s ->
                match Int32.TryParse s with
                | true, n when n >= 1 -> min (splitCount - first) n
                | _ -> invalidArg "splits" (sprintf "--splits takes a positive number or all, got '%s'" s)
        // Split first + i is trained with seed (seed + first + i), as in a run from split 0.
        let load = fun i -> load (first + i)
        let options = { options with Seed = options.Seed + int64 first }
        let methods = if allMethods then [ MdnAlone; Teacher; NceFixedNoise; Joint ] else [ method' ]
        let protocol =
            { UciProtocol.defaults with
                ValidationFraction = args.GetResult (Validation, defaultValue = UciProtocol.defaults.ValidationFraction)
                Dequantize = args.Contains Dequantize }
        // Targets with few distinct values: say so before training (on stderr, so --json stays one line).
        let quantization =
            let s = load 0
            // The step in the target's original units (the split's targets are standardised).
            try
                let q = EnergyFs.Data.TargetQuantization.analyze (Tensor.toArray s.YTrain)
                { q with Step = q.Step |> Option.map (fun step -> step * s.YStd) }
            finally Scope.disposeAll [ s.XTrain; s.YTrain; s.XTest; s.YTest ]
        EnergyFs.Data.TargetQuantization.warning (sprintf "warning: the target of %s" name) quantization
        |> Option.iter (fun w -> eprintfn "%s%s" w (if protocol.Dequantize then "; dequantizing (--dequantize)" else ""))
        let total = float (splits * methods.Length)
        let summaries =
            EnergyFs.Cli.Progress.withBar (sprintf "uci %s %s" name methodName) (fun report ->
                let mutable done' = 0
                UciExperiment.compareWith ctx protocol options minSteps load splits methods (fun m i r ->
                    done' <- done' + 1
                    report (float done' / total, sprintf "%s split %d NLL %.3f" (RegressionMethod.name m) (first + i) r.Nll)))
        if not json then
            printfn "uci %s, %d splits, seed %d, M = %d, %s" name splits seed options.Samples
                (if minSteps > 0 && options.Epochs = 1 then sprintf "%d steps per split" minSteps else sprintf "%d epochs (≥ %d steps)" options.Epochs minSteps)
            printfn "%s" (UciExperiment.markdownTable summaries)
        let head = [ "task", box "uci"; "data", box name; "method", box methodName; "seed", box seed; "first_split", box first; "splits", box splits
                     "samples", box options.Samples; "steps", box minSteps; "validation", box protocol.ValidationFraction
                     "architecture", box (EnergyFs.Models.RegressionArchitecture.name options.Architecture); "hidden", box options.Hidden ]
        match summaries with
        | [ s ] when not allMethods -> printJson (head @ RunMetrics.boxed (UciExperiment.metrics s))
        | _ ->
            // One object: the common settings, then one entry per method with its metrics.
            printJson (head @ [ for s in summaries -> RegressionMethod.name s.Method, box (UciExperiment.metrics s) ])
        0
    | other -> invalidArg "task" (sprintf "unknown regression task '%s' (expected toy1, toy2 or uci)" other)
