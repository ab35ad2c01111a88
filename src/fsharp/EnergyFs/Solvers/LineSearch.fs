namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs

/// Backtracking line search for the first-order solvers (projected gradient, mirror descent,
/// Frank-Wolfe), row by row.
[<RequireQualifiedAccess>]
module LineSearch =

    /// Round-off allowance of the sufficient-change test: a few ulps of |f| (a looser slack lets
    /// steps that do not ascend through and stalls the method at the slack's level).
    let private slack (p: Tensor) = if p.dtype = torch.ScalarType.Float64 then 1e-14 else 2e-7

    /// From p (values fp [n], gradient g) with per-row steps η [n, 1], `propose η` returns a
    /// candidate p⁺ and a divergence D(p⁺, p) [n] (½‖p⁺ − p‖², or a Bregman divergence); η is
    /// halved, row by row, until the sufficient-change condition holds (Beck and Teboulle 2009,
    /// §1.5; Pedregosa et al. 2020 for Frank-Wolfe, arXiv 1806.05123):
    ///   maximize:  f(p⁺) ≥ f(p) + ⟨g, p⁺ − p⟩ − D(p⁺, p)/η,
    ///   minimize:  f(p⁺) ≤ f(p) + ⟨g, p⁺ − p⟩ + D(p⁺, p)/η,
    /// up to a round-off slack of a few ulps of |f(p)|, or 40 tries. Returns the accepted point and steps.
    let backtrack (direction: Direction) (f: Tensor -> Tensor) (fp: Tensor) (p: Tensor) (g: Tensor) (eta: Tensor)
                  (propose: Tensor -> Tensor * Tensor) : Tensor * Tensor =
        Scope.tensor2 (fun () ->
            let slack = slack p
            let mutable eta = eta
            let mutable candidate = propose eta
            let mutable tries = 0
            let mutable accepted = false
            while not accepted do
                let pNext, d = candidate
                let ok =
                    match direction with
                    | Maximize ->
                        let lower = fp + Tensor.dot g (pNext - p) - d / eta.squeeze (1L)
                        (f pNext).ge (lower - (fp.abs () + Pinned.scalar 1.0) * Pinned.scalar slack)
                    | Minimize ->
                        let upper = fp + Tensor.dot g (pNext - p) + d / eta.squeeze (1L)
                        (f pNext).le (upper + (fp.abs () + Pinned.scalar 1.0) * Pinned.scalar slack)
                tries <- tries + 1
                if ok.all().item<bool> () || tries >= 40 then accepted <- true
                else
                    eta <- torch.where (ok.unsqueeze 1L, eta, eta * Pinned.scalar 0.5)
                    candidate <- propose eta
            fst candidate, eta)

    /// The next initial step after an accepted one: η·growth, capped at 10⁶ η₀.
    let grow (growth: float) (initialStep: float) (eta: Tensor) : Tensor =
        (eta * Pinned.scalar growth).clamp_max (Pinned.scalar (1e6 * initialStep))
