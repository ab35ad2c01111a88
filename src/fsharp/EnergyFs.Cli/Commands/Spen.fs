/// `energyfs spen`: multilabel classification with SPENs, inference networks and implicit
/// training (Shankar & Piratla 2022) on a MULAN data folder.
module EnergyFs.Cli.Commands.Spen

open System
open System.Collections.Generic
open System.Text.Json
open Argu
open EnergyFs
open EnergyFs.Implicit
open EnergyFs.Training
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners
open EnergyFs.Energies

/// Arguments of `energyfs spen`.
type SpenArgs =
    | Data of dir: string
    | Method of string
    | Cost
    | Seed of int
    | Seeds of int
    | Quick
    | Epochs of int
    | Solver of string
    | Solver_Iterations of int
    | Alpha of float
    | Inner_Lr of float
    | Outer_Lr of float
    | Pull of float
    | Net_Lr of float
    | Energy_Lr of float
    | Retune_Epochs of int
    | Plain_Hinge
    | Train_Local
    | Clamp_Local_Ssvm
    | Fine_Tune
    | Feature_Lr of float
    | Fine_Tune_Epochs of int
    | Fine_Tune_Energy_Lr of float
    | Refine of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "MULAN folder <name>/ with <name>-train.arff, <name>-test.arff, <name>.xml"
            | Method _ -> "mlp | spen | infnet | implicit | infnet-ssvm"
            | Cost -> "instead of training: time one implicit hypergradient (Neumann vs CG) and a training step at bibtex's size"
            | Seed _ -> "first seed (default 0)"
            | Seeds _ -> "number of seeds to run, reporting mean ± std (default 1)"
            | Quick -> "the quick configuration (fewer epochs; < 3 minutes on one core)"
            | Epochs _ -> "training epochs of the method (pretraining excluded)"
            | Solver _ -> "implicit: linear solver, neumann or cg (default: CG on H + 2λI, K = 30); or unrolled (the unrolled-differentiation baseline, K steps of 1e-3)"
            | Solver_Iterations _ -> "implicit: Neumann terms / CG iterations K (default 10)"
            | Alpha _ -> "implicit: Neumann step α (default 0.01)"
            | Inner_Lr _ -> "implicit: Adam learning rate of the inference network ψ (default 1e-4)"
            | Outer_Lr _ -> "implicit: Adam learning rate of the energy θ (default 1e-3)"
            | Net_Lr _ -> "infnet: Adam learning rate of the inference networks Φ and Ψ (default 1e-4)"
            | Energy_Lr _ -> "infnet: Adam learning rate of the energy θ (default 1e-3)"
            | Retune_Epochs _ -> "infnet / infnet-ssvm: test-time retuning epochs (default 3)"
            | Plain_Hinge -> "infnet: the plain energy in the hinge and τH as a separate term of Φ's loss (Tu & Gimpel eq. 9 as written)"
            | Clamp_Local_Ssvm -> "spen / infnet-ssvm: clamp the local energy term at the pretrained classifier and train only the global term"
            | Fine_Tune -> "spen: fine-tune the feature network end to end through the energy (Belanger & McCallum's third stage), model selection on dev F1"
            | Feature_Lr _ -> "spen --fine-tune: Adam learning rate of the feature network (default 1e-5)"
            | Fine_Tune_Epochs _ -> "spen --fine-tune: epochs of the end-to-end stage after the SSVM epochs on fixed features (default 5)"
            | Fine_Tune_Energy_Lr _ -> "spen --fine-tune: Adam learning rate of the energy θ in the end-to-end stage (default 1e-4)"
            | Train_Local -> "infnet: train the local energy term B too (by default it stays clamped at the pretrained classifier and only the global term trains, Belanger & McCallum's second stage)"
            | Pull _ -> "implicit: a well-posed inner problem: pull weight λ toward the pretrained weights, CG on H + 2λI (see ImplicitStructured.wellPosed)"
            | Refine _ -> "implicit: extra inner steps on the differentiated batch before each hypergradient (default 0; 10 with --pull)"
            | Json -> "print the metrics as one JSON object on the last line"

let private runCost (ctx: Context) (args: ParseResults<SpenArgs>) =
    let k = args.GetResult(Solver_Iterations, defaultValue = 10)
    let costs = SpenCost.hypergradients ctx 5 [ k ]
    let step = SpenCost.trainingStep ctx 5 k
    for c in costs do
        eprintfn "%-8s K=%d: %d HVPs, %.1f ms per hypergradient (%.1f ms per HVP), relative residual %.3e" c.Solver c.K c.HvpCount c.Milliseconds c.HvpMilliseconds c.RelativeResidual
    eprintfn "training step (5 inner steps + Neumann K=%d hypergradient + outer step): %.1f ms" k step
    if args.Contains Json then
        printfn "%s" (RunMetrics.json (RunMetrics.boxed (SpenCost.metrics costs step) @ [ "k", box k ]))
    0

/// Runs the command; returns the exit code.
let run (ctx: Context) (args: ParseResults<SpenArgs>) =
  if args.Contains Cost then runCost ctx args
  else
    let dir = match args.TryGetResult Data with Some d -> d | None -> invalidArg "data" "--data <dir> is required (a MULAN folder)"
    if not (args.Contains Method) then invalidArg "method" "--method is required (mlp, spen, infnet or implicit)"
    let methodValue = SpenExperiment.parseMethod (args.GetResult Method)
    let first = args.GetResult(Seed, defaultValue = 0)
    let seeds = args.GetResult(Seeds, defaultValue = 1)
    Checks.positiveInt "seeds" seeds
    let setup = if args.Contains Quick then SpenExperiment.quickSetup else SpenExperiment.setup
    let settings = (if args.Contains Quick then SpenExperiment.quickSettings else SpenExperiment.settings) methodValue
    let settings = match args.TryGetResult Epochs with Some e -> SpenExperiment.withEpochs e settings | None -> settings
    let k = args.GetResult(Solver_Iterations, defaultValue = 10)
    let solverName = args.GetResult(Solver, defaultValue = "neumann").ToLowerInvariant()
    // The implicit method's options from the command line (solver, learning rates, well-posedness).
    let implicitOf (o: ImplicitTrainingOptions) =
        let solver =
            match solverName with
            | "neumann" -> LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = k; Alpha = args.GetResult(Alpha, defaultValue = 0.01) }
            | "cg" -> LinearSolvers.damped o.PullWeight (LinearSolvers.conjugateGradient { LinearSolvers.cgDefaults with Iterations = k; Tolerance = 1e-3 })
            | "unrolled" -> o.Solver
            | other -> invalidArg "solver" (sprintf "unknown solver '%s' (expected neumann, cg or unrolled)" other)
        let o =
            { o with
                // Without --solver the configuration's own solver stays (CG on the damped Hessian).
                Solver = (if args.Contains Solver then solver else o.Solver)
                Hypergradient = (if solverName = "unrolled" then Learners.Unrolled (k, 1e-3) else Learners.ImplicitFunction)
                InnerOptimizer = OptimizerOptions.adam (args.GetResult(Inner_Lr, defaultValue = 1e-4))
                OuterOptimizer = OptimizerOptions.adam (args.GetResult(Outer_Lr, defaultValue = 1e-3)) }
        match args.TryGetResult Pull with
        | Some pull -> Learners.ImplicitStructured.wellPosed pull (args.GetResult(Refine, defaultValue = 10)) (args.GetResult(Solver_Iterations, defaultValue = 30)) o
        | None -> { o with RefineSteps = args.GetResult(Refine, defaultValue = o.RefineSteps) }
    // The inference networks' options from the command line (learning rates, retuning, hinge).
    let infNetOf (o: InferenceNetworkOptions) =
        { o with
            NetworkOptimizer = (match args.TryGetResult Net_Lr with Some lr -> OptimizerOptions.adam lr | None -> o.NetworkOptimizer)
            EnergyOptimizer = (match args.TryGetResult Energy_Lr with Some lr -> OptimizerOptions.adam lr | None -> o.EnergyOptimizer)
            RetuneEpochs = args.GetResult(Retune_Epochs, defaultValue = o.RetuneEpochs)
            EntropyInHinge = o.EntropyInHinge && not (args.Contains Plain_Hinge) }
    let ssvmOf (s: SsvmStage) = { s with ClampLocalEnergy = s.ClampLocalEnergy || args.Contains Clamp_Local_Ssvm }
    let fineTuneOf (f: FineTuneStage option) =
        if args.Contains Fine_Tune || f.IsSome then
            let f = defaultArg f SpenExperiment.fineTuneStage
            Some { f with
                    FeatureOptimizer = (match args.TryGetResult Feature_Lr with Some lr -> OptimizerOptions.adam lr | None -> f.FeatureOptimizer)
                    FineTuneEpochs = args.GetResult(Fine_Tune_Epochs, defaultValue = f.FineTuneEpochs)
                    FineTuneEnergyOptimizer = (match args.TryGetResult Fine_Tune_Energy_Lr with Some lr -> OptimizerOptions.adam lr | None -> f.FineTuneEnergyOptimizer) }
        else None
    let settings =
        match settings with
        | MlpSettings -> MlpSettings
        | SpenSettings (ssvm, fineTune) -> SpenSettings (ssvmOf ssvm, fineTuneOf fineTune)
        | InfNetSettings s -> InfNetSettings { s with InfNet = infNetOf s.InfNet; ClampLocalTerm = s.ClampLocalTerm && not (args.Contains Train_Local) }
        | ImplicitSettings o -> ImplicitSettings (implicitOf o)
        | InfNetSsvmSettings (ssvm, retune) -> InfNetSsvmSettings (ssvmOf ssvm, { retune with Retune = infNetOf retune.Retune })
    let results =
        [ for s in first .. first + seeds - 1 ->
            EnergyFs.Cli.Progress.withBar (sprintf "spen %s seed %d" (SpenExperiment.methodName methodValue) s) (fun report ->
                SpenExperiment.runOnFolder { setup with Seed = s; Context = ctx } settings report dir) ]
    for r in results do
        eprintfn "seed %d: dev F1 %.2f  test F1 %.2f  threshold %.2f  (pretrained dev F1 %.2f)  %.1f s%s"
            r.Seed r.DevF1 r.TestF1 r.Threshold r.PretrainDevF1 r.Seconds
            (r.Extra |> List.map (fun (k, v) -> sprintf "  %s %g" k v) |> String.concat "")
        match List.tryFind (fst >> (=) "not_converged") r.Extra with
        | Some (_, n) when n > 0.0 ->
            let res = r.Extra |> List.find (fst >> (=) "max_relative_residual") |> snd
            let solves = r.Extra |> List.find (fst >> (=) "solves") |> snd
            let inner = r.Extra |> List.tryFind (fst >> (=) "max_inner_gradient_norm") |> Option.map snd |> Option.defaultValue nan
            eprintfn "warning: the linear solver did not converge in %g of %g solve(s); largest relative residual %.3e, largest inner residual ‖∇ψ g‖ %.3e: the implicit hypergradient is approximate" n solves res inner
        | _ -> ()
    // The paper's metrics of each seed, summarised over seeds (mean, sample std).
    let perSeed = results |> List.map SpenExperiment.metrics
    let summary = RunMetrics.summarize perSeed
    let stat name = summary |> List.find (fun (n, _, _) -> n = name) |> fun (_, m, s) -> m, s
    let testMean, testStd = stat "test_f1"
    let devMean, devStd = stat "dev_f1"
    let name = IO.Path.GetFileName(IO.Path.GetFullPath(dir).TrimEnd(IO.Path.DirectorySeparatorChar))
    printfn "%s %s: test example F1 %.2f ± %.2f, dev %.2f ± %.2f over %d seed(s)" name (SpenExperiment.methodName methodValue) testMean testStd devMean devStd seeds
    if args.Contains Json then
        printfn "%s" (RunMetrics.json (
            [ "dataset", box name; "method", box (SpenExperiment.methodName methodValue)
              "seeds", box (results |> List.map (fun r -> r.Seed) |> Array.ofList)
              "seconds", box (results |> List.sumBy (fun r -> r.Seconds)) ]
            @ RunMetrics.boxed (RunMetrics.withStd summary)
            @ [ "runs", box [ for r, m in List.zip results perSeed -> ([ "seed", box r.Seed ] @ RunMetrics.boxed m) ] ]))
    0
