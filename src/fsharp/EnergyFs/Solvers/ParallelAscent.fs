namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies

/// Parallel (Jacobi) closed-form ascent for the quadratic energy, made monotone by a
/// minorization step: every coordinate of every row moves at once, so one iteration is one
/// matrix product p Â (BLAS 3) instead of the k sequential column updates of a Gauss-Seidel sweep.
///
///   max_{p ∈ C} F(p) = ⟨u, p⟩ + ½⟨p, Â p⟩ − Ω(p),   Â symmetric.
///
/// With L ≥ max(0, −λ_min(Â)), ½⟨q, Â q⟩ ≥ ½⟨p, Â p⟩ + ⟨Â p, q − p⟩ − (L/2)‖q − p‖², and since Ω
/// is μ-strongly convex (μ = the regularizer's `Modulus`), (L/2)‖q − p‖² ≤ (L/μ) D_Ω(q, p). So
///   G_p(q) = ⟨u + Â p, q⟩ − Ω(q) − (L/μ) D_Ω(q, p) + const
/// minorizes F with equality at q = p, and its maximizer is closed-form:
///   p⁺ = ∇Ω*(z⁺),   z⁺ = η (u + Â p) + (1 − η) ∇Ω(p),   η = μ / (μ + L).
/// Hence F(p⁺) ≥ G_p(p⁺) ≥ G_p(p) = F(p): every iteration ascends, with no concavity needed
/// (a minorize-maximize method; Lange 2016, "MM Optimization Algorithms", ch. 1; the Bregman
/// form is the mirror-descent step of Beck and Teboulle 2003). For Fermi-Dirac, ∇Ω* = sigmoid and
/// ∇Ω = logit, so z is carried as the iterate's logits (a damped mean-field update, exactly the
/// undamped one when Â ⪰ 0); for the squared norm on the box ∇Ω(p) = p and p⁺ = clip(z⁺).
/// When F is strictly concave (λ_max(Â) < μ) the fixed point is the unique maximizer and the
/// iteration contracts (rate ≤ 1 − η(1 − λ_max(Â)/μ)). Used for the multilabel energy of
/// Blondel et al. 2022 (arXiv 2205.09589, §5.1) in place of the sequential coordinate ascent.
///
/// L comes from `eigvalsh` for a shared Â [k, k]; for one Â per example [n, k, k] it is the
/// cheaper bound min(‖Â‖_F, max row ℓ₁ norm) per row. Starts (without a warm start) from the
/// independent solution p = ∇Ω*(u). The optimality measure (`Gap`) is max over rows of
/// ‖p⁺ − p‖_∞ / η, the largest coordinate change of the undamped map.
[<RequireQualifiedAccess>]
module ParallelAscent =

    /// L ≥ max(0, −λ_min(Â)) as a tensor of shape [1, 1] (shared Â [k, k]: exact, by eigvalsh) or
    /// [n, 1] (Â [n, k, k]: min of the Frobenius norm and the largest row ℓ₁ norm, which bound
    /// the spectral radius). Detached.
    let curvatureDeficit (ahat: Tensor) : Tensor =
        Scope.tensor (fun () ->
            Diff.noGrad (fun () ->
                if ahat.dim () = 2L then
                    (torch.linalg.eigvalsh ahat).min().neg().clamp_min(Pinned.scalar 0.0).reshape (1L, 1L)
                else
                    let frobenius = ahat.square().sum([| 1L; 2L |]).sqrt ()
                    let rowSum = ahat.abs().sum(2L).amax([| 1L |])
                    torch.minimum(frobenius, rowSum).unsqueeze (1L)))

    /// The minorization step η = μ / (μ + L) for a regularizer of modulus μ, shape [1, 1] or [n, 1].
    let stepSizes (r: Regularizer) (ahat: Tensor) : Tensor =
        if r.Modulus <= 0.0 then
            Checks.fail "regularizer" (sprintf "parallel ascent needs a strongly convex regularizer (Modulus > 0), got '%s' with modulus %g" r.Name r.Modulus)
        Scope.tensor (fun () ->
            let l = curvatureDeficit ahat
            (l + r.Modulus).reciprocal () * r.Modulus)

    /// Solves the inner problem; fails unless the energy is quadratic (unary plus pairwise).
    /// Works on the box and on the simplex (any regularizer with a positive modulus).
    let solve : InnerSolver<'V> = fun options energy r v init ->
        InnerProblem.checkOptions options
        let quadratic =
            match energy.Quadratic with
            | Some q -> q
            | None -> Checks.fail "energy" (sprintf "parallel ascent needs a quadratic energy (unary plus pairwise), got '%s'" energy.Name)
        Diff.noGrad (fun () ->
            let v = energy.Detach v
            let u, ahat = quadratic v
            use eta = stepSizes r ahat
            let shared = ahat.dim () = 2L
            // The carried state: p and (for barrier regularizers) z with p = ∇Ω*(z), z = ∇Ω(p).
            let mutable p, z =
                match init with
                | None ->
                    let z = u.clone ()
                    r.Predict z, z
                | Some _ ->
                    let p = InnerProblem.start energy r v init
                    p, (if r.Barrier then r.Gradient p else null)
            let mutable it = 0
            let mutable gap = System.Double.PositiveInfinity
            while gap > options.Tolerance && it < options.MaxIterations do
                let pNext, zNext, change =
                    Scope.keeping (fun (pn: Tensor, zn: Tensor, _) -> Seq.filter (isNull >> not) [ pn :> System.IDisposable; zn ]) (fun () ->
                        let c = if shared then torch.addmm (u, p, ahat, 1.0f, 1.0f) else u + Quadratic.apply ahat p
                        let zNext =
                            if r.Barrier then torch.lerp (z, c, eta)
                            else torch.lerp (r.Gradient p, c, eta)
                        let pNext = r.Predict zNext
                        let change = ((pNext - p).abs().amax([| 1L |], true) / eta).max().ToDouble ()
                        pNext, (if r.Barrier then zNext else null), change)
                p.Dispose ()
                if not (isNull z) then z.Dispose ()
                p <- pNext
                z <- zNext
                gap <- change
                it <- it + 1
            if not (isNull z) then z.Dispose ()
            u.Dispose ()
            ahat.Dispose ()
            InnerProblem.finish energy r v p it gap options.Tolerance)
