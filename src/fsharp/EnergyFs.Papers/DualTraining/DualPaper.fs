namespace EnergyFs.Papers.DualTraining

open System
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Models
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

    /// One teacher–student run; metrics: final and best KL, Fisher divergence, TV norm, angle; the
    /// KL curve as a series.
    let teacherStudent (id: string) (title: string) (config: TeacherStudentConfig) : ExperimentSpec =
        { Id = id
          Title = title
          Config = ResultCache.describe (box config)
          Run = fun ctx seed report ->
              let r = DualTeacherStudent.run ctx { config with Seed = int64 seed } report
              try
                  let f = r.Final
                  { Metrics =
                      [ "kl", f.Kl; "best_kl", (r.History |> List.map (fun m -> m.Kl) |> List.min); "fisher", f.Fisher
                        "tv", f.Tv; "angle_degrees", f.AngleDegrees ]
                    Series =
                      [ { Name = "kl"; X = r.History |> List.map (fun m -> float m.Iteration) |> Array.ofList
                          Y = r.History |> List.map (fun m -> m.Kl) |> Array.ofList } ] }
              finally DualTeacherStudent.dispose r }

    /// The experiments from a base configuration (feature learning, equal steps).
    let experiments (baseConfig: TeacherStudentConfig) : ExperimentSpec list =
        let o = baseConfig.Options
        [ for r in ratios do
            let c = { baseConfig with Options = { o with FeatureStep = r * o.ParticleStep; MassStep = r * o.ParticleStep } }
            yield teacherStudent (ratioId r) (sprintf "GDA, feature learning, α/η = %g" r) c
          yield teacherStudent "dual-lazy" "GDA, lazy regime (features fixed), α/η = 1" { baseConfig with Options = { o with Regime = Lazy } } ]

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
