/// `energyfs fy ...`: the experiments of Blondel et al. 2022, generalized Fenchel-Young losses.
module EnergyFs.Cli.Commands.Fy

open System
open System.Text.Json
open Argu
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies

open TorchSharp

/// Arguments of `fy multilabel` (paper §5.1).
type MultilabelArgs =
    | [<Mandatory>] Data of dir: string
    | Energy of string
    | Regularizer of string
    | Seed of int
    | Seeds of int
    | Epochs of int
    | Hidden of int
    | Lr of float
    | Batch_Size of int
    | Patience of int
    | Weight_Decays of float list
    | Solver of string
    | No_Refit
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Weight_Decays _ -> "weight-decay grid searched on the validation split (default 1e-4 1e-3 1e-2 3e-2)"
            | Solver _ -> "inner solver of the quadratic energy: parallel (default) or coordinate"
            | No_Refit -> "report the model selected on validation instead of retraining on all training rows for the selected epochs (the default)"
            | Lr _ -> "Adam learning rate (default 1e-3)"
            | Batch_Size _ -> "minibatch size (default 64)"
            | Patience _ -> "early-stopping patience in epochs (default 20)"
            | Data _ -> "MULAN folder holding <name>-train.arff, <name>-test.arff, <name>.xml (yeast, scene, emotions)"
            | Energy _ -> "quadratic (generalized FY, default) or independent (sigmoid baseline)"
            | Regularizer _ -> "fermi-dirac (default) or sqnorm (squared norm on the box)"
            | Seed _ -> "first seed (default 0)"
            | Seeds _ -> "number of seeds (default 5)"
            | Epochs _ -> "maximum epochs (default 200, early stopping on validation)"
            | Hidden _ -> "hidden units of u(x) (default 128; 0: linear)"
            | Json -> "print the metrics as one JSON object on the last line"

/// Arguments of `fy imitation` (paper §5.2).
type ImitationArgs =
    | Seed of int
    | Imitation_Epochs of int
    | Starts of int
    | Modes of int
    | Switch_Margin of float
    | Demonstrations of int
    | Unimodal
    | Trace of path: string
    | Reg_Weight of float
    | Imitation_Hidden of int
    | Reg_Centre of float
    | Rollout_Reg_Scale of float
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seed _ -> "seed (default 0)"
            | Imitation_Hidden _ -> "hidden units of both policy networks (default 64)"
            | Reg_Weight _ -> "weight λ of the regularizer (λ/2)‖p − c‖² on p = (a + 1)/2 (default 64)"
            | Reg_Centre _ -> "centre c of the regularizer: 0 (default, pulls toward a = −1) or 0.5 (the box centre, a = 0)"
            | Rollout_Reg_Scale _ -> "regularizer weight at rollout relative to training (default 1; 0 = unregularized argmax of the energy)"
            | Trace _ -> "instead of scoring: train the energy policy, roll out 4 episodes and write a per-step CSV (state, action, expert actions, energy landscape on a 21 x 21 action grid) to this file"
            | Imitation_Epochs _ -> "training epochs of both policies (default 30)"
            | Starts _ -> "random starts of the inner solver at rollout (default 8)"
            | Modes _ -> "energy network: 0 = MLP energy (default), M > 0 = mixture energy with M modes"
            | Demonstrations _ -> "expert demonstration episodes (default 64)"
            | Switch_Margin _ -> "rollout mode persistence: keep the previous action's local maximum unless another is better by this margin (default 0: off)"
            | Unimodal -> "the expert always passes above the obstacle (default: a fair coin between above and below)"
            | Json -> "print the metrics as one JSON object on the last line"

/// Arguments of `fy calibration` (paper §4.3).
type CalibrationArgs =
    | Seed of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seed _ -> "seed (default 0)"
            | Json -> "print the metrics as one JSON object on the last line"

/// Arguments of `fy bench`.
type BenchArgs =
    | Seconds of float
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seconds _ -> "minimum seconds per measurement (default 2)"
            | Json -> "print the metrics as one JSON object on the last line"

/// Arguments of `energyfs fy`: one of its subcommands.
type FyArgs =
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Multilabel of ParseResults<MultilabelArgs>
    | [<CliPrefix(CliPrefix.None)>] Calibration of ParseResults<CalibrationArgs>
    | [<CliPrefix(CliPrefix.None)>] Imitation of ParseResults<ImitationArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Multilabel _ -> "multilabel classification: independent sigmoid versus the quadratic energy (paper §5.1)"
            | Bench _ -> "throughput: generalized conjugate solves per second (batch 1024, k = 14 and 159, each solver) and training-step cost versus logistic"
            | Calibration _ -> "empirical calibration check of a linear-concave energy on synthetic data (paper §4.3)"
            | Imitation _ -> "imitation learning on a pendulum: MSE behavioural cloning versus an energy policy (paper §5.2)"

let private regularizerOf (name: string) =
    match name.ToLowerInvariant () with
    | "fermi-dirac" | "fd" | "sigmoid" -> FermiDirac.regularizer
    | "sqnorm" | "squared-norm" | "clip" -> SquaredNorm.box
    | other -> Checks.fail "regularizer" (sprintf "unknown regularizer '%s' (expected fermi-dirac or sqnorm)" other)

let private lossOf (name: string) =
    match name.ToLowerInvariant () with
    | "quadratic" -> QuadraticEnergy
    | "independent" | "sigmoid" | "bilinear" -> Independent
    | other -> Checks.fail "energy" (sprintf "unknown energy '%s' (expected quadratic or independent)" other)

let private printJson (fields: (string * obj) list) = printfn "%s" (RunMetrics.json fields)

/// Runs `fy multilabel`: the independent sigmoid baseline or the quadratic energy with a generalized
/// Fenchel-Young loss on a MULAN data set, over several seeds; prints a results table (or JSON).
/// Returns the exit code.
let runMultilabel (ctx: Context) (args: ParseResults<MultilabelArgs>) =
    let options =
        { MultilabelOptions.defaults with
            Loss = args.TryGetResult Energy |> Option.map lossOf |> Option.defaultValue QuadraticEnergy
            Regularizer = args.TryGetResult Regularizer |> Option.map regularizerOf |> Option.defaultValue FermiDirac.regularizer
            Epochs = args.GetResult (Epochs, MultilabelOptions.defaults.Epochs)
            Hidden = args.GetResult (Hidden, MultilabelOptions.defaults.Hidden)
            LearningRate = args.GetResult (Lr, MultilabelOptions.defaults.LearningRate)
            BatchSize = args.GetResult (Batch_Size, MultilabelOptions.defaults.BatchSize)
            Patience = args.GetResult (Patience, MultilabelOptions.defaults.Patience)
            WeightDecays = args.GetResult (Weight_Decays, MultilabelOptions.defaults.WeightDecays)
            Solver = args.TryGetResult Solver |> Option.map EnergyFs.Solvers.SolverChoice.parse |> Option.defaultValue MultilabelOptions.defaults.Solver
            Refit = not (args.Contains No_Refit) && MultilabelOptions.defaults.Refit
            Context = ctx }
    let first = args.GetResult (MultilabelArgs.Seed, 0)
    let count = args.GetResult (Seeds, 5)
    Checks.positiveInt "seeds" count
    use data = Mulan.loadFrom Context.cpu64 (args.GetResult Data)
    let runs =
        EnergyFs.Cli.Progress.withBar (sprintf "fy multilabel %s" data.Name) (fun report ->
            [ for i in 0 .. count - 1 ->
                MultilabelExperiment.runSeed options data (first + i) (fun f -> report ((float i + f) / float count, sprintf "seed %d" (first + i))) ])
    let energyName = MultilabelLoss.name options.Loss
    for r in runs do
        let t = r.Test |> List.map (fun (k, v) -> sprintf "%s %.4f" k v) |> String.concat ", "
        printfn "seed %d: weight decay %g, %d epochs, %.1f s; test %s" r.Seed r.WeightDecay r.Epochs r.Seconds t
    // The paper's metrics of each seed, summarised over seeds (mean, sample std).
    let summary = RunMetrics.summarize (runs |> List.map MultilabelExperiment.metrics)
    let testNames = runs.Head.Test |> List.map fst
    printfn "%s, %s energy, %s regularizer, %d seeds (test, %%, mean ± std):" data.Name energyName options.Regularizer.Name count
    for n, m, s in summary do
        if List.contains n testNames then printfn "  %-18s %s" n (Tables.formatMeanStd 2 (m, s))
    if args.Contains MultilabelArgs.Json then
        printJson (
            [ "dataset", box data.Name; "energy", box energyName; "regularizer", box options.Regularizer.Name; "seeds", box count
              "refit", box options.Refit; "weight_decays", box (List.toArray options.WeightDecays)
              "seconds", box (runs |> List.sumBy (fun r -> r.Seconds)) ]
            @ RunMetrics.boxed (RunMetrics.withStd summary))
    0

/// Runs `fy imitation`: MSE behavioural cloning versus an energy policy trained with a generalized
/// Fenchel-Young loss on the reacher with an obstacle, scored by rollouts (return, success and
/// collision rates); prints the scores (or JSON). Returns the exit code.
let runImitation (ctx: Context) (args: ParseResults<ImitationArgs>) : int =
    let options =
        { ImitationOptions.defaults with
            Seed = args.GetResult (ImitationArgs.Seed, 0)
            Context = ctx
            Bimodal = not (args.Contains Unimodal)
            Epochs = args.GetResult (Imitation_Epochs, ImitationOptions.defaults.Epochs)
            RolloutStarts = args.GetResult (Starts, ImitationOptions.defaults.RolloutStarts)
            Modes = args.GetResult (Modes, ImitationOptions.defaults.Modes)
            SwitchMargin = args.GetResult (Switch_Margin, ImitationOptions.defaults.SwitchMargin)
            Demonstrations = args.GetResult (Demonstrations, ImitationOptions.defaults.Demonstrations)
            Hidden = args.GetResult (Imitation_Hidden, ImitationOptions.defaults.Hidden)
            RegularizerWeight = args.GetResult (Reg_Weight, ImitationOptions.defaults.RegularizerWeight)
            RegularizerCentre = args.GetResult (Reg_Centre, ImitationOptions.defaults.RegularizerCentre)
            RolloutRegularizerScale = args.GetResult (Rollout_Reg_Scale, ImitationOptions.defaults.RolloutRegularizerScale) }
    let watch = Diagnostics.Stopwatch.StartNew ()
    match args.TryGetResult Trace with
    | Some path ->
        let steps, fit = EnergyFs.Cli.Progress.withBar "fy imitation trace" (fun report -> ImitationTrace.run options 4 21 (fun f -> report (f, "training")))
        IO.File.WriteAllLines (path, ImitationTrace.toCsv steps)
        for phase, count, error in fit do printfn "fit on demonstrations, phase %-5s (%4d states): mean |a - a_expert| = %.3f" phase count error
        printfn "wrote %d steps to %s (%.1f s)" steps.Length path watch.Elapsed.TotalSeconds
        0
    | None ->
    let scores = EnergyFs.Cli.Progress.withBar "fy imitation" (fun report -> Imitation.run options (fun f -> report (f, "training")))
    printfn "reacher with an obstacle, %s demonstrations (%d episodes), seed %d, %.1f s:" (if options.Bimodal then "bimodal" else "unimodal") options.Demonstrations options.Seed watch.Elapsed.TotalSeconds
    printfn "  %-8s %12s %12s %10s %10s" "policy" "return" "normalized" "success" "collision"
    for s in scores do printfn "  %-8s %12.3f %12.3f %10.2f %10.2f" s.Policy s.MeanReturn s.NormalizedReturn s.SuccessRate s.CollisionRate
    if args.Contains ImitationArgs.Json then
        printJson (
            [ "bimodal", box options.Bimodal; "seed", box options.Seed; "modes", box options.Modes; "switch_margin", box options.SwitchMargin; "demonstrations", box options.Demonstrations; "epochs", box options.Epochs; "hidden", box options.Hidden; "reg_weight", box options.RegularizerWeight; "reg_centre", box options.RegularizerCentre; "rollout_reg_scale", box options.RolloutRegularizerScale; "seconds", box watch.Elapsed.TotalSeconds ]
            @ RunMetrics.boxed (Imitation.metrics scores))
    0

/// Runs `fy calibration`: the empirical calibration check of a linear-concave energy on synthetic
/// data; prints the Fenchel-Young and task excess risks along training and their Spearman rank
/// correlation (or JSON). Returns the exit code.
let runCalibration (args: ParseResults<CalibrationArgs>) : int =
    let options = { CalibrationOptions.defaults with Seed = args.GetResult (CalibrationArgs.Seed, 0) }
    let watch = Diagnostics.Stopwatch.StartNew ()
    let points, spearman = Calibration.run options
    printfn "linear-concave energy ⟨u, p⟩ − g(p) (g input-convex), Fermi-Dirac, d = %d, k = %d, seed %d, %.1f s:" options.Inputs options.Labels options.Seed watch.Elapsed.TotalSeconds
    printfn "  %6s %14s %14s" "step" "FY excess" "task excess"
    for p in points do printfn "  %6d %14.6f %14.6f" p.Step p.FyExcess p.TaskExcess
    printfn "Spearman rank correlation between the two excess risks: %.3f" spearman
    if args.Contains CalibrationArgs.Json then
        printJson ([ "seed", box options.Seed ] @ RunMetrics.boxed (Calibration.metrics (points, spearman)) @ [ "seconds", box watch.Elapsed.TotalSeconds ])
    0

/// Runs `fy bench`: generalized-conjugate solves per second for each inner solver and the cost of a
/// training step versus the logistic loss; prints a table (or JSON). Returns the exit code.
let runBench (ctx: Context) (args: ParseResults<BenchArgs>) : int =
    let seconds = args.GetResult (Seconds, 2.0)
    let solves, steps = FenchelYoungThroughput.benchmark ctx seconds
    printfn "threads %d, %s" (Runtime.threads ()) (Context.describe ctx)
    for r in solves do printfn "  %-40s %12.0f rows/s  (%.1f iterations)" r.Name r.PerSecond r.Iterations
    for _, rs in steps do for r in rs do printfn "  %-40s %12.2f steps/s" r.Name r.PerSecond
    let ratios = FenchelYoungThroughput.costRatios steps
    for c in [ ctx; { ctx with DType = torch.ScalarType.Float64 } ] do
        for _, k in FenchelYoungThroughput.benchmarkSizes do
            for name, used, gap in FenchelYoungThroughput.achievableGaps c 1024 k 300 do
                printfn "  floor %-10s %-8A k=%-4d gap %.2e after %d iterations (tolerance 0)" name c.DType k gap used
    for k, ratio in ratios do printfn "k = %d: quadratic-energy FY step costs %.2f× a binary logistic step" k ratio
    if args.Contains BenchArgs.Json then
        printJson (RunMetrics.boxed (FenchelYoungThroughput.metrics (solves, steps)))
    0

/// Runs `energyfs fy`: dispatches to the subcommand given. Returns the exit code.
let run (ctx: Context) (args: ParseResults<FyArgs>) =
    match args.TryGetSubCommand () with
    | Some (Multilabel m) -> runMultilabel ctx m
    | Some (Imitation i) -> runImitation ctx i
    | Some (Calibration c) -> runCalibration c
    | Some (Bench b) -> runBench ctx b
    | None -> Checks.fail "fy" "expected a subcommand: multilabel, imitation or calibration"
