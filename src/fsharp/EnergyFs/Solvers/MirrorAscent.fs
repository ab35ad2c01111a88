namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies

/// Mirror ascent in the entropic geometry for max_{p ∈ C} F(p) = Φ(v, p) − Ω(p) (Nemirovski and
/// Yudin 1983; Beck and Teboulle 2003). The mirror map ψ is the Shannon negentropy on the simplex
/// and the Fermi-Dirac negentropy on the box; the iteration runs on dual variables θ = ∇ψ(p):
///   θ⁺ = θ + η ∇F(p),   p⁺ = ∇ψ*(θ⁺)   (softmax on the simplex, sigmoid on the box),
/// with η halved per row until F(p⁺) ≥ F(p) + ⟨∇F(p), p⁺ − p⟩ − D_ψ(p⁺, p)/η, where the Bregman
/// divergence is computed stably from the duals: D_ψ(p⁺, p) = ⟨θ⁺ − θ, p⁺⟩ − ψ*(θ⁺) + ψ*(θ).
/// With Ω = ψ and η = 1 one step is the fixed-point (mean-field) update p⁺ = ∇ψ*(∇_pΦ(v, p)).
/// Stops when ‖p − proj_C(p + ∇F(p))‖ ≤ tolerance. Needs F concave for a certified maximum.
[<RequireQualifiedAccess>]
module MirrorAscent =

    let private mirror (domain: Domain) =
        match domain with
        | Simplex -> Shannon.predict, Shannon.conjugate, Shannon.gradient
        | Box -> FermiDirac.predict, FermiDirac.conjugateThresholded, FermiDirac.gradient

    /// Solves the inner problem (see the module doc).
    let solve : InnerSolver<'V> = fun options energy r v init ->
        InnerProblem.checkOptions options
        InnerProblem.requireConcave "mirror ascent" options energy r v
        Diff.noGrad (fun () ->
            let v = energy.Detach v
            let toPrimal, psiStar, toDual = mirror r.Domain
            let selfMirror =
                (r.Domain = Box && r.Name = FermiDirac.regularizer.Name) || (r.Domain = Simplex && r.Name = Shannon.regularizer.Name)
            let p0 = InnerProblem.start energy r v init
            let theta0 =
                Scope.tensor (fun () ->
                    let q =
                        match r.Domain with
                        | Box -> p0.clamp (Pinned.scalar (InnerProblem.interiorMargin p0), Pinned.scalar (1.0 - InnerProblem.interiorMargin p0))
                        | Simplex -> p0.clamp_min (Pinned.scalar (InnerProblem.interiorMargin p0))
                    toDual q)
            let eta0 = torch.full ([| p0.shape[0]; 1L |], Pinned.scalar options.StepSize, dtype = p0.dtype, device = p0.device)
            let f = InnerProblem.objective energy r v
            let p, it, gap =
                InnerProblem.loop options [ p0; theta0; eta0 ] (fun _ state ->
                    let p, theta, eta = state[0], state[1], state[2]
                    // When Ω is the mirror map itself, ∇Ω(p) is the dual variable θ (up to a constant that
                    // the simplex projection ignores): using θ avoids recomputing logit p from a rounded p,
                    // which in float32 loses all precision for saturated entries.
                    let g = if selfMirror then energy.GradP v p - theta else InnerProblem.gradient energy r v p
                    let measure = InnerProblem.stationarity r.Domain p g
                    measure, fun () ->
                        let psiTheta = psiStar theta
                        let propose (eta: Tensor) =
                            let thetaNext = theta + eta * g
                            let q = toPrimal thetaNext
                            q, (Tensor.dot (thetaNext - theta) q - psiStar thetaNext + psiTheta).clamp_min (Pinned.scalar 0.0)
                        let pNext, etaNext = InnerProblem.backtrack f (f p) p g eta propose
                        [ pNext; theta + etaNext * g; (etaNext * Pinned.scalar 1.25).clamp_max (Pinned.scalar (1e6 * options.StepSize)) ])
            InnerProblem.finish energy r v p it gap options.Tolerance)
