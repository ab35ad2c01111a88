namespace EnergyFs.Solvers

open EnergyFs
open EnergyFs.Regularizers

/// A mirror map ψ of mirror descent (Nemirovski and Yudin 1983; Beck and Teboulle 2003): a
/// Legendre function on a feasible set, with the dual coordinates θ = ∇ψ(p), the inverse map
/// p = ∇ψ*(θ) and the conjugate ψ*, batched over rows.
type MirrorMap =
    { /// A short name for messages ("shannon", "fermi-dirac").
      Name: string
      /// The set whose points the map returns.
      Set: FeasibleSet
      /// θ = ∇ψ(p) on the relative interior.
      ToDual: Tensor -> Tensor
      /// p = ∇ψ*(θ).
      ToPrimal: Tensor -> Tensor
      /// ψ*(θ) per row, shape [n] (for the Bregman divergence of the line search).
      Conjugate: Tensor -> Tensor }

/// The entropic mirror maps.
[<RequireQualifiedAccess>]
module MirrorMap =

    /// The Shannon negentropy ψ(p) = Σ pᵢ log pᵢ on the simplex: θ = log p + 1, p = softmax θ,
    /// ψ*(θ) = logsumexp θ. Mirror descent with it is the exponentiated-gradient method
    /// (Kivinen and Warmuth 1997; Beck and Teboulle 2003, §5).
    let shannon =
        { Name = "shannon"; Set = ProbabilitySimplex; ToDual = Shannon.gradient; ToPrimal = Shannon.predict; Conjugate = Shannon.conjugate }

    /// The Fermi-Dirac negentropy ψ(p) = Σ pᵢ log pᵢ + (1 − pᵢ) log(1 − pᵢ) on the box:
    /// θ = logit p, p = sigmoid θ, ψ*(θ) = Σ softplus θᵢ.
    let fermiDirac =
        { Name = "fermi-dirac"; Set = UnitBox; ToDual = FermiDirac.gradient; ToPrimal = FermiDirac.predict; Conjugate = FermiDirac.conjugateThresholded }

    /// The entropic mirror map of a set; the sphere has none (fails naming `set`: use projected gradient).
    let ofSet (set: FeasibleSet) =
        match set with
        | ProbabilitySimplex -> shannon
        | UnitBox -> fermiDirac
        | UnitSphere -> Checks.fail "set" "entropic mirror descent has no mirror map on the unit sphere; use projected gradient (ProjectedGradient.run) there"
