namespace EnergyFs.Metrics

open System
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Samplers

/// How far a shallow energy on the sphere (a student) is from a reference one (a teacher), both as
/// densities p ∝ e^{−f} on S^(d−1): the measures of Domingo-Enrich et al. 2021 (arXiv 2107.05134,
/// numerical experiments).
type SphereDivergences =
    { /// KL(teacher ‖ student), estimated on teacher samples.
      Kl: float
      /// Fisher divergence E_teacher‖∇_T f_teacher − ∇_T f_student‖².
      Fisher: float
      /// Total-variation norm mean(w) of the student.
      Tv: float
      /// Mean over teacher neurons of the angle (degrees) to the nearest student neuron of the same sign.
      AngleDegrees: float }

/// Divergences between shallow energies on the sphere, estimated on samples of the first one.
[<RequireQualifiedAccess>]
module ShallowSphereDivergence =

    /// KL(p_T ‖ p_S) for p ∝ e^{−f} from teacher samples xⱼ ~ p_T:
    ///   KL = E_T[f_S − f_T] + log E_T[e^{f_T − f_S}]   (log Z_S/Z_T by importance reweighting).
    let kl (teacher: ShallowSphere) (student: ShallowSphere) (teacherSamples: Tensor) =
        Scope.run (fun () ->
            let diff = Shallow.energy teacher teacherSamples - Shallow.energy student teacherSamples
            let n = float teacherSamples.shape[0]
            Tensor.toScalar (Tensor.mean (-diff)) + Tensor.toScalar (Tensor.logsumexp 0 diff) - log n)

    /// The Fisher divergence E_T‖∇_T log p_T − ∇_T log p_S‖² = E_T‖∇_T f_T − ∇_T f_S‖² (tangent
    /// gradients on the sphere).
    let fisher (teacher: ShallowSphere) (student: ShallowSphere) (teacherSamples: Tensor) =
        Scope.run (fun () ->
            let d = Shallow.tangentGradient teacher teacherSamples - Shallow.tangentGradient student teacherSamples
            Tensor.toScalar (Tensor.mean (Tensor.sumDim 1 (Tensor.square d))))

    /// Mean over teacher neurons of the angle (degrees) to the nearest student neuron of the same
    /// sign among those holding at least 10% of the largest such mass (180 when there is none).
    let nearestAngle (teacher: ShallowSphere) (student: ShallowSphere) =
        let tz = Tensor.toArray2D teacher.Features
        let tc = Tensor.toArray teacher.Signs
        let sz = Tensor.toArray2D student.Features
        let sc = Tensor.toArray student.Signs
        let sw = Tensor.toArray student.Masses
        let d = Array2D.length2 tz
        [ for i in 0 .. tc.Length - 1 ->
            let candidates = [ for j in 0 .. sc.Length - 1 do if sc[j] = tc[i] then yield j ]
            let top = candidates |> List.map (fun j -> sw[j]) |> List.fold max 0.0
            candidates
            |> List.filter (fun j -> sw[j] >= 0.1 * top)
            |> List.map (fun j ->
                let dot = Seq.sum (seq { for k in 0 .. d - 1 -> tz[i, k] * sz[j, k] })
                acos (max -1.0 (min 1.0 dot)) * 180.0 / Math.PI)
            |> List.fold min 180.0 ]
        |> List.average

    /// All four measures of a student against a teacher, on teacher samples [n, d].
    let all (teacher: ShallowSphere) (teacherSamples: Tensor) (student: ShallowSphere) : SphereDivergences =
        { Kl = kl teacher student teacherSamples; Fisher = fisher teacher student teacherSamples
          Tv = Shallow.totalVariation student; AngleDegrees = nearestAngle teacher student }

    /// n exact samples of p ∝ e^{−f} for a shallow energy, by rejection from the uniform measure
    /// (batches of 10⁵ proposals, at most 2·10¹⁰ in all; `SphereSampling.rejection`).
    let sample (rng: Rng) (ctx: Context) (energy: ShallowSphere) (n: int) : Tensor =
        SphereSampling.rejection rng ctx (Shallow.energy energy) (Shallow.lowerBound energy) n energy.Dim 100_000 20_000_000_000L
