namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies

/// Frank-Wolfe (conditional gradient) for max_{p ∈ C} F(p) = Φ(v, p) − Ω(p) on the simplex and
/// the box (Frank and Wolfe 1956; Jaggi 2013). The linear maximization oracle is
///   s = argmax_{s ∈ C} ⟨∇F(p), s⟩:  the vertex e_{argmax ∇F} on the simplex, 1[∇F > 0] on the box,
/// and the step p⁺ = p + γ (s − p) uses the adaptive short step of Pedregosa et al. 2020
/// (arXiv 1806.05123): γ = min(γmax, g_FW / (L‖s − p‖²)) with the local constant L doubled until
/// sufficient ascent holds. The Frank-Wolfe gap g_FW = ⟨∇F(p), s − p⟩ bounds the suboptimality
/// (for concave F) and is the stopping measure. For entropic Ω, γmax < 1 keeps p interior.
[<RequireQualifiedAccess>]
module FrankWolfe =

    /// s = argmax_{s ∈ C} ⟨g, s⟩ row by row.
    let linearOracle (domain: Domain) (g: Tensor) : Tensor =
        match domain with
        | Simplex ->
            Scope.tensor (fun () ->
                let idx = g.argmax (1L, true)
                torch.zeros_like(g).scatter_ (1L, idx, torch.ones_like (g, dtype = g.dtype)))
        | Box -> Scope.tensor (fun () -> g.gt(torch.zeros_like g).to_type g.dtype)

    /// Solves the inner problem (see the module doc).
    let solve : InnerSolver<'V> = fun options energy r v init ->
        InnerProblem.checkOptions options
        InnerProblem.requireConcave "Frank-Wolfe" options energy r v
        Diff.noGrad (fun () ->
            let v = energy.Detach v
            let p0 = InnerProblem.start energy r v init
            let gammaMax = if r.Barrier then 0.999 else 1.0
            let eta0 = torch.full ([| p0.shape[0]; 1L |], Pinned.scalar options.StepSize, dtype = p0.dtype, device = p0.device)
            let f = InnerProblem.objective energy r v
            let p, it, gap =
                IterationLoop.run options.MaxIterations (Some options.Tolerance) [ p0; eta0 ] (fun _ state ->
                    let p, eta = state[0], state[1]
                    let g = InnerProblem.gradient energy r v p
                    let d = linearOracle r.Domain g - p
                    let gaps = Tensor.dot g d
                    let measure = gaps.max().ToDouble ()
                    measure, fun () ->
                        let dd = Tensor.sumDim 1 (Tensor.square d) |> Pinned.clampMin 1e-30
                        let propose (eta: Tensor) =
                            // eta plays 1/L.
                            let gamma = (gaps.clamp_min (Pinned.scalar 0.0) * eta.squeeze (1L) / dd).clamp_max(Pinned.scalar gammaMax).unsqueeze 1L
                            p + gamma * d, gamma.squeeze(1L).square () * dd * Pinned.scalar 0.5
                        let pNext, etaNext = LineSearch.backtrack Maximize f (f p) p g eta propose
                        [ pNext; (etaNext * Pinned.scalar 1.5).clamp_max (Pinned.scalar (1e6 * options.StepSize)) ])
            InnerProblem.finish energy r v p it gap options.Tolerance)
