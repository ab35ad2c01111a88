/// Implicit hypergradients of SPEN training by implicit differentiation (Shankar & Piratla 2022,
/// arXiv 2211.11649; energy of Belanger & McCallum 2016, arXiv 1511.06350) at bibtex's size: 1836
/// inputs, 159 labels, inference network ψ = MLP 1836-150-150-159, energy θ = (B 159×151, C₁ 16×159,
/// c₂), batch 32, entropy weight −1, pull weight 1e-2 — the set-up of Experiments.SpenCost. One
/// hypergradient (Hypergradient.implicit) with a Neumann series of K = 10 (α = 0.01; K − 1 series
/// HVPs + 1 residual check = 10 HVPs) and with CG of K = 10 iterations (damping 10, tolerance 0,
/// so exactly 10 HVPs), and one Hessian-vector product ∂²g/∂ψ² v alone (Diff.hvpParams).
module EnergyFs.Bench.Groups.Spen

open TorchSharp
open EnergyFs
open EnergyFs.Implicit
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies
open EnergyFs.Bench

/// K: Neumann terms and CG iterations.
let private k = 10

/// Damping δ of CG (H + δI). SpenCost uses 0.01, but on this random set-up the damped Hessian is
/// indefinite along the Krylov path and CG stops at non-positive curvature after 3 iterations (on
/// both sides); δ = 10 keeps all K = 10 iterations, which is what this benchmark times.
let private cgDamping = 10.0

/// The SpenCost set-up; returns θ, ψ (as tensors), the bilevel problem and everything to free.
let private setup () =
    let theta, psi, problem, (_, psi0, inner, outer) = SpenCost.setup Context.cpu 0L
    let owned : System.IDisposable list =
        [ for t in Structured.tensors theta @ Structured.tensors psi @ psi0 -> t
          for e in [ inner; outer ] do
              yield e.Inputs
              yield e.Features
              yield e.Labels ]
    Structured.tensors theta, Structured.tensors psi, problem, owned

let private solverOf (name: string) : LinearSolver =
    match name with
    | "neumann" -> LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = k; Alpha = 0.01; CheckResidual = true }
    | _ -> LinearSolvers.damped cgDamping (LinearSolvers.conjugateGradient { Iterations = k; Tolerance = 0.0 })

let private hypergradientCase (name: string) () =
    let th, ps, problem, owned = setup ()
    let solver = solverOf name
    let hvps =
        Scope.run (fun () ->
            let r = Hypergradient.implicit solver problem th ps
            Scope.disposeAll r.Gradient
            r.Diagnostics.Value.HvpCount)
    if hvps <> k then failwithf "the %s hypergradient used %d Hessian-vector products instead of %d" name hvps k
    // The gradient blocks are owned by the caller (moved out of every scope): free them.
    Benchmark.case owned (fun () -> Scope.disposeAll (Hypergradient.implicit solver problem th ps).Gradient)

/// ∇_ψ g (with its graph) is built once in the set-up, as in SpenCost.hypergradients; the step is
/// one double-backward pass through it.
let private hvpCase () =
    let th, ps, problem, owned = setup ()
    let g = Diff.gradients { CreateGraph = true; RetainGraph = true; Unused = FailOnUnused } (problem.Inner th ps) ps
    let vs = ps |> List.map torch.ones_like
    Benchmark.case (owned @ [ for t in g @ vs -> t ]) (fun () -> Diff.hvpParams g ps vs |> ignore)

let private args = [ "inputs", 1836; "labels", 159; "hidden", 150; "global_hidden", 16; "batch", 32; "k", k ]

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "spen" "spen-hypergradient-neumann" "implicit hypergradient, SPEN at bibtex size (1836-150-150-159, batch 32), Neumann K = 10 (10 HVPs)" (hypergradientCase "neumann")
      |> Benchmark.versus "spen.hypergradient_neumann" args
      |> Benchmark.direct (SpenDirect.hypergradientNeumann k)
      Benchmark.create "spen" "spen-hypergradient-cg" "the same with CG, K = 10 iterations, damping 10, no early stop (10 HVPs)" (hypergradientCase "cg")
      |> Benchmark.versus "spen.hypergradient_cg" args
      |> Benchmark.direct (SpenDirect.hypergradientCg k)
      Benchmark.create "spen" "spen-hvp" "one Hessian-vector product of the inner objective in psi (double backward through a retained gradient graph)" hvpCase
      |> Benchmark.versus "spen.hvp" args
      |> Benchmark.direct SpenDirect.hvp ]
