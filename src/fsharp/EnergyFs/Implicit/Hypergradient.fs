namespace EnergyFs.Implicit

open TorchSharp
open EnergyFs

/// A bilevel problem over parameter blocks θ (outer) and ψ (inner):
/// min_θ L(θ, ψ*(θ))  subject to  ψ*(θ) = argmin_ψ g(θ, ψ).
type BilevelProblem =
    { /// g(θ, ψ): the inner objective (scalar).
      Inner: Tensor list -> Tensor list -> Tensor
      /// L(θ, ψ): the outer loss (scalar), evaluated at the inner solution.
      Outer: Tensor list -> Tensor list -> Tensor }

/// The result of a hypergradient computation.
type HypergradientResult =
    { /// dL/dθ, one tensor per block of θ (detached, owned by the caller).
      Gradient: Tensor list
      /// The linear solver's diagnostics (None for unrolled differentiation).
      Diagnostics: SolverDiagnostics option
      /// The outer loss L(θ, ψ) at the point of evaluation.
      OuterLoss: float }

/// Hypergradients dL(θ, ψ*(θ))/dθ of bilevel problems: by the implicit function theorem with a
/// pluggable linear solver (jaxopt style), and by unrolled differentiation as a baseline.
[<RequireQualifiedAccess>]
module Hypergradient =

    /// ∂output/∂inputs with zeros for inputs the output does not depend on (`Diff.gradients`,
    /// reaching every input).
    let private gradOrZeros (retainGraph: bool) (createGraph: bool) (output: Tensor) (inputs: Tensor list) : Tensor list =
        Diff.gradients { CreateGraph = createGraph; RetainGraph = retainGraph; Unused = ReachAll } output inputs

    let private variables (ts: Tensor list) =
        ts |> List.map (fun t -> if t.requires_grad then t else t.detach().requires_grad_ true)

    /// Implicit hypergradient (Lorraine et al. 2020, arXiv 1911.02590, eq. 4; Shankar & Piratla
    /// 2022, arXiv 2211.11649, §3). At a stationary point ψ of g(θ, ·),
    ///   dL/dθ = ∂L/∂θ − ∂²g/∂θ∂ψ · z,   z = [∂²g/∂ψ²]⁻¹ ∇_ψ L,
    /// with z from `solver` (Hessian-vector products by double backward through the graph of
    /// ∇_ψ g, kept for the repeated products) and the mixed term as ∇_θ ⟨∇_ψ g, z⟩. Costs one
    /// gradient of L, one of g, the solver's Hessian-vector products and one more backward pass.
    /// θ and ψ are usually parameters (leaves requiring grad); other tensors are differentiated
    /// through detached copies. Nothing is written to .grad.
    let implicit (solver: LinearSolver) (problem: BilevelProblem) (theta: Tensor list) (psi: Tensor list) : HypergradientResult =
        if theta.IsEmpty then invalidArg "theta" "the outer parameters θ are empty"
        if psi.IsEmpty then invalidArg "psi" "the inner parameters ψ are empty"
        let theta = variables theta
        let psi = variables psi
        let mutable diagnostics = None
        let mutable outerValue = nan
        let gradient =
            Scope.tensors (fun () ->
                let outer = problem.Outer theta psi
                outerValue <- Tensor.toScalar outer
                let grads = gradOrZeros false false outer (theta @ psi)
                let direct = List.take theta.Length grads
                let rhs = List.skip theta.Length grads
                let inner = problem.Inner theta psi
                let innerGrad = gradOrZeros true true inner psi
                let hvp (vs: Tensor list) = Diff.hvpParams innerGrad psi vs   // zeros for blocks it does not reach
                let z, d = solver hvp rhs
                diagnostics <- Some d
                let pairing = List.map2 (fun (g: Tensor) (zi: Tensor) -> (g * zi.detach ()).sum ()) innerGrad z |> List.reduce (+)
                let mixed = gradOrZeros false false pairing theta
                List.map2 (fun (a: Tensor) (m: Tensor) -> (a - m).detach ()) direct mixed)
        { Gradient = gradient; Diagnostics = diagnostics; OuterLoss = outerValue }

    /// Unrolled-differentiation hypergradient (Maclaurin, Duvenaud & Adams 2015, arXiv 1502.03492;
    /// Domke 2012): T steps of gradient descent ψ_{t+1} = ψ_t − η ∇_ψ g(θ, ψ_t) from ψ₀, kept in
    /// the autograd graph, then dL(θ, ψ_T)/dθ by backpropagation through all T steps. Memory grows
    /// with T. Returns the hypergradient and ψ_T (detached).
    let unrolled (steps: int) (learningRate: float) (problem: BilevelProblem) (theta: Tensor list) (psi0: Tensor list)
        : HypergradientResult * Tensor list =
        Checks.positiveInt "steps" steps
        Checks.positive "learningRate" learningRate
        if theta.IsEmpty then invalidArg "theta" "the outer parameters θ are empty"
        let theta = variables theta
        let mutable outerValue = nan
        let result =
            Scope.tensors (fun () ->
                let mutable psi = psi0 |> List.map (fun t -> t.detach().requires_grad_ true)
                for _ in 1 .. steps do
                    let g = gradOrZeros true true (problem.Inner theta psi) psi
                    psi <- List.map2 (fun (p: Tensor) (gi: Tensor) -> p - gi * learningRate) psi g
                let outer = problem.Outer theta psi
                outerValue <- Tensor.toScalar outer
                let grads = gradOrZeros false false outer theta |> List.map Tensor.detach
                grads @ (psi |> List.map Tensor.copy))
        { Gradient = List.take theta.Length result; Diagnostics = None; OuterLoss = outerValue },
        List.skip theta.Length result

    /// Writes a hypergradient into the .grad fields of the parameters (accumulating), so that an
    /// Optimizer can step on it: backward of Σ ⟨θ_i, h_i⟩ with h detached.
    let accumulateInto (parameters: Tensor list) (gradient: Tensor list) =
        if parameters.Length <> gradient.Length then
            invalidArg "gradient" (sprintf "%d gradient blocks for %d parameters" gradient.Length parameters.Length)
        Scope.run (fun () ->
            let surrogate = List.map2 (fun (p: Tensor) (h: Tensor) -> (p * h.detach ()).sum ()) parameters gradient |> List.reduce (+)
            surrogate.backward ())
