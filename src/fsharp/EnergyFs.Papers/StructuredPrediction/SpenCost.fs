namespace EnergyFs.Papers.StructuredPrediction

open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Implicit
open EnergyFs.Learners

/// The measured cost of one implicit hypergradient.
type HypergradientCost =
    { /// "neumann" or "cg".
      Solver: string
      /// K: Neumann terms or CG iterations.
      K: int
      /// Hessian-vector products spent (residual check included).
      HvpCount: int
      /// Median wall time of one hypergradient, in milliseconds.
      Milliseconds: float
      /// Median wall time of one Hessian-vector product alone, in milliseconds.
      HvpMilliseconds: float
      /// The solver's relative residual.
      RelativeResidual: float }

/// Cost of the implicit hypergradient and of a training step of implicit training at bibtex's size
/// (1836 binary inputs, 159 labels, a 2 × 150 ReLU inference network, h = 16, batch 32), with
/// random data: the numbers the benchmark harness compares with PyTorch.
[<RequireQualifiedAccess>]
module SpenCost =

    let private median (xs: float list) = let s = List.sort xs in s[s.Length / 2]

    let private time (repeats: int) (f: unit -> unit) =
        f ()
        median [ for _ in 1 .. repeats -> (let w = Stopwatch.StartNew () in f (); w.Elapsed.TotalMilliseconds) ]

    /// The bibtex-sized set-up: θ, ψ, the bilevel problem, and (options, ψ₀, inner batch, outer
    /// batch). Everything it allocates belongs to the caller (or to the enclosing dispose scope).
    let setup (ctx: Context) (seed: int64) =
        use rng = new Rng(seed, ctx.Device)
        let inputs, labels, batch = 1836, 159, 32
        let psi = FunctionalMlp.create rng ctx [ inputs; 150; 150; labels ]
        let theta = Spen.create rng ctx labels 151 16
        let example () =
            let x = (Tensor.rand rng ctx [ int64 batch; int64 inputs ]).lt(Pinned.scalar 0.02).to_type ctx.DType
            let y = (Tensor.rand rng ctx [ int64 batch; int64 labels ]).lt(Pinned.scalar 0.02).to_type ctx.DType
            let f = Tensor.cat 1 [ Tensor.randn rng ctx [ int64 batch; 150L ] |> Tensor.relu; Tensor.ones ctx [ int64 batch; 1L ] ]
            { Inputs = x; Features = f; Labels = y; Mask = None }
        let inner, outer = example (), example ()
        let options = { ImplicitStructured.defaults with EntropyWeight = -1.0 }
        let psi0 = Snapshot.take psi
        theta, psi, ImplicitStructured.problem options psi0 inner outer, (options, psi0, inner, outer)

    /// Times one implicit hypergradient with Neumann (α = 0.01) and CG (damping 0.01) for each K,
    /// and one Hessian-vector product alone.
    let hypergradients (ctx: Context) (repeats: int) (ks: int list) : HypergradientCost list =
        Scope.run (fun () ->
            let theta, psi, problem, _ = setup ctx 0L
            let th, ps = Structured.tensors theta, Structured.tensors psi
            let hvpMs =
                Scope.run (fun () ->
                    let g = Diff.gradients { CreateGraph = true; RetainGraph = true; Unused = FailOnUnused } (problem.Inner th ps) ps
                    let vs = ps |> List.map torch.ones_like
                    time repeats (fun () -> Scope.run (fun () -> Diff.hvpParams g ps vs |> ignore)))
            [ for k in ks do
                for name, solver in
                    [ "neumann", LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = k; Alpha = 0.01 }
                      "cg", LinearSolvers.damped 0.01 (LinearSolvers.conjugateGradient { Iterations = k; Tolerance = 1e-8 }) ] do
                    let mutable last = None
                    let ms = time repeats (fun () -> Scope.run (fun () -> last <- (Hypergradient.implicit solver problem th ps).Diagnostics))
                    let d = last.Value
                    yield { Solver = name; K = k; HvpCount = d.HvpCount; Milliseconds = ms; HvpMilliseconds = hvpMs; RelativeResidual = d.RelativeResidual } ])

    /// Times one outer step of implicit training (5 inner Adam steps on ψ, one Neumann-K
    /// hypergradient, one Adam step on θ), in milliseconds (median over `repeats`).
    let trainingStep (ctx: Context) (repeats: int) (k: int) : float =
        Scope.run (fun () ->
            let theta, psi, problem, (options, psi0, inner, _) = setup ctx 1L
            let th, ps = Structured.tensors theta, Structured.tensors psi
            use innerOpt = Optimizer.ofParameters options.InnerOptimizer psi
            use outerOpt = Optimizer.ofParameters options.OuterOptimizer theta
            let solver = LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = k; Alpha = 0.01 }
            time repeats (fun () ->
                Scope.run (fun () ->
                    for _ in 1 .. options.InnerSteps do
                        innerOpt.ZeroGrad ()
                        (ImplicitStructured.innerObjective options psi0 inner th ps).backward ()
                        innerOpt.Step () |> ignore
                    let r = Hypergradient.implicit solver problem th ps
                    outerOpt.ZeroGrad ()
                    Hypergradient.accumulateInto th r.Gradient
                    outerOpt.Step () |> ignore)))

    /// The metrics of `energyfs spen --cost --json`: per solver `<solver>_hvps`, `<solver>_ms`
    /// (one hypergradient) and `<solver>_relative_residual`, then `hvp_ms` (one Hessian-vector
    /// product) and `training_step_ms` (`trainingStep`'s time).
    let metrics (costs: HypergradientCost list) (trainingStepMs: float) : (string * float) list =
        [ for c in costs do
            yield c.Solver + "_hvps", float c.HvpCount
            yield c.Solver + "_ms", c.Milliseconds
            yield c.Solver + "_relative_residual", c.RelativeResidual ]
        @ [ "hvp_ms", (List.head costs).HvpMilliseconds; "training_step_ms", trainingStepMs ]
