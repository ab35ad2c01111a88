namespace EnergyFs.Papers.DualTraining

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Energies
open Plotly.NET

/// The reproduction of Domingo-Enrich, Bietti, Gabrié, Bruna & Vanden-Eijnden 2021, "Dual
/// Training of Energy-Based Models with Overparametrized Shallow Neural Networks" (arXiv
/// 2107.05134): the teacher–student experiment on S¹⁴ (d = 15, n = 1000). Its qualitative
/// headlines: feature learning beats the lazy (random-feature) regime, and gradient descent–ascent
/// works best with similar time scales for particles and neurons (step ratio α/η near 1).
[<RequireQualifiedAccess>]
module DualPaper =

    /// Feature-to-particle step ratios of the time-scale comparison.
    let ratios = [ 0.1; 1.0; 10.0 ]

    let private ratioId (r: float) = if r = 1.0 then "dual-feature" else sprintf "dual-ratio-%g" r

    /// The configuration with neuron steps (feature α_z and mass α_w) at `ratio` times the particle
    /// step η: α_z = α_w = ratio · η.
    let atRatio (ratio: float) (config: TeacherStudentConfig) : TeacherStudentConfig =
        let o = config.Options
        { config with Options = { o with FeatureStep = ratio * o.ParticleStep; MassStep = ratio * o.ParticleStep } }

    /// The configuration with the particle step set so that α_z / η = `ratio` at the fixed feature
    /// step α_z: η = α_z / ratio.
    let atParticleRatio (ratio: float) (config: TeacherStudentConfig) : TeacherStudentConfig =
        { config with Options = { config.Options with ParticleStep = config.Options.FeatureStep / ratio } }

    /// The lazy (random-feature) regime of a configuration: features fixed, masses trained.
    let lazyRegime (config: TeacherStudentConfig) : TeacherStudentConfig =
        { config with Options = { config.Options with Regime = Lazy } }

    /// Ratios α/η of the full sweep (`sweep`).
    let sweepRatios = [ 0.1; 0.3; 1.0; 3.0; 10.0 ]

    /// The full sweep of `energyfs dual teacher --sweep`, in sections (title, labelled runs): the
    /// neuron-to-particle step ratio at the configuration's η (`atRatio`, each of `sweepRatios`),
    /// the ratio at its fixed neuron step (`atParticleRatio`, ratio 1 left out: the first section
    /// has it), the restart period (1, 10, 100 iterations), then the lazy regime, score matching
    /// and PCD-10. The reproduction's experiments (`experiments`) are a subset of it.
    let sweep (config: TeacherStudentConfig) : (string * (string * TeacherStudentConfig) list) list =
        let c = config
        [ sprintf "Ratio of feature to particle step (eta = %g), no restarts" c.Options.ParticleStep,
          [ for r in sweepRatios -> sprintf "alpha_z/eta = %g" r, atRatio r c ]
          sprintf "Ratio at a fixed neuron step (alpha_z = alpha_w = %g): the particle step varies" c.Options.FeatureStep,
          [ for r in sweepRatios |> List.filter ((<>) 1.0) -> sprintf "alpha_z/eta = %g (eta = %g)" r (c.Options.FeatureStep / r), atParticleRatio r c ]
          "Restart period (equal time scales)",
          [ for period in [ 1; 10; 100 ] -> sprintf "restart every %d" period, { c with Options = { c.Options with Restart = Every period } } ]
          "Regime and method",
          [ "lazy", lazyRegime c; "score matching", { c with Method = ScoreMatchingMethod }; "PCD-10", { c with Method = Pcd 10 } ] ]

    /// One teacher–student run: `DualTeacherStudent.metrics` (final and best KL, Fisher divergence,
    /// TV norm, angle) and the KL curve as a series.
    let teacherStudent (id: string) (title: string) (config: TeacherStudentConfig) : ExperimentSpec =
        config |> Experiment.ofSettings [ "config" ] (fun config ->
            { Id = id
              Title = title
              Config = ResultCache.describe (box config)
              Run = fun ctx seed report ->
                  let r = DualTeacherStudent.run ctx { config with Seed = int64 seed } report
                  try
                      let iterations, kl = DualTeacherStudent.klCurve r
                      { Metrics = DualTeacherStudent.metrics r; Series = [ { Name = "kl"; X = iterations; Y = kl } ] }
                  finally DualTeacherStudent.dispose r
              Settings = None })

    /// The experiments from a base configuration (feature learning, equal steps).
    let experiments (baseConfig: TeacherStudentConfig) : ExperimentSpec list =
        [ for r in ratios do
            yield teacherStudent (ratioId r) (sprintf "GDA, feature learning, α/η = %g" r) (atRatio r baseConfig)
          yield teacherStudent "dual-lazy" "GDA, lazy regime (features fixed), α/η = 1" (lazyRegime baseConfig) ]

    /// The two headline checks (see the module comment).
    let checks (results: ExperimentResult list) : HeadlineCheck list =
        [ Results.check "feature learning reaches a lower KL than the lazy regime"
              [ "dual-feature", "kl"; "dual-lazy", "kl" ] (fun xs -> xs[0] < xs[1])
              (fun xs -> sprintf "KL %.4f vs %.4f" xs[0] xs[1]) results
          Results.check "the best feature/particle step ratio is near 1 (lowest final KL among α/η = 0.1, 1, 10)"
              [ for r in ratios -> ratioId r, "kl" ]
              (fun xs -> let best = List.indexed xs |> List.minBy snd |> fst in ratios[best] = 1.0)
              (fun xs -> String.Join(", ", List.map2 (fun r x -> sprintf "α/η = %g: %.4f" r x) ratios xs)) results ]

    /// The results table, the checks and the KL curves.
    let summarize (results: ExperimentResult list) : PaperSummary =
        let ids = [ for r in ratios -> ratioId r ] @ [ "dual-lazy" ]
        let rows =
            [ for id in ids ->
                let e = Results.find id results
                [ (e |> Option.map (fun e -> e.Spec.Title) |> Option.defaultValue id); Results.cell 4 "kl" e; Results.cell 4 "best_kl" e
                  Results.cell 3 "fisher" e; Results.cell 2 "tv" e; Results.cell 1 "angle_degrees" e ] ]
        let curves =
            [ for id in ids do
                match Results.series "kl" (Results.find id results) with
                | Some s -> yield id, s.X, s.Y |> Array.map (fun v -> max 1e-6 v)
                | None -> () ]
        let chart () =
            Charts.lines "Teacher–student on S¹⁴: KL(teacher ‖ student) over iterations" "iteration" "KL" curves
            |> Chart.withYAxis (LayoutObjects.LinearAxis.init (AxisType = StyleParam.AxisType.Log))
        { Tables =
            [ { Caption = "Teacher–student, d = 15, n = 1000 (the paper reports curves, not numbers: its headlines are checked below)"
                Columns = [ "run"; "final KL"; "best KL"; "Fisher"; "TV"; "angle to teacher (°)" ]
                Rows = rows } ]
          Checks = checks results
          Charts = (if curves.IsEmpty then [] else [ "kl-curves", chart () ])
          Notes = [ "Teacher: 2 ReLU neurons with c = −1, w = β = 10; student: 64 neurons; η = 0.02 particle step; KL by reweighting teacher samples." ] }

    /// The paper in the catalogue: the quick configuration (4000 iterations, 500 particles, 2·10⁴
    /// evaluation samples) or the full one (20 000 iterations, 2000 particles, 10⁵ samples).
    let spec (quick: bool) : PaperSpec =
        let c = if quick then DualTeacherStudent.quick 15 1000 else DualTeacherStudent.full 15 1000
        { Id = "dual"
          Title = "Dual training of shallow EBMs (Domingo-Enrich et al. 2021)"
          Reference = "Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden. Dual Training of Energy-Based Models with Overparametrized Shallow Neural Networks. arXiv 2107.05134."
          Experiments = experiments c
          Summarize = summarize }
