/// One front door for the dual-training paper: `energyfs dual teacher --json` and the reproduction
/// spec share `DualTeacherStudent.metrics`, and the sweep is defined once (`DualPaper.sweep`, of
/// which the spec's experiments are a subset).
module EnergyFs.Tests.Papers.DualPaperTests

open Expecto
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.DualTraining
open EnergyFs.Tests.Reproduction.RunMetricsTests

/// A small teacher–student run: S², 100 samples, 30 iterations, 64 particles.
let private tiny =
    let c = DualTeacherStudent.quick 3 100
    { c with EvalSamples = 500; Iterations = 30; EvalEvery = 10; Options = { c.Options with Particles = 64 } }

[<Tests>]
let tests =
    testList "Papers.DualTraining.DualPaper" [
        testCase "the spec stores DualTeacherStudent.metrics, snake_case" <| fun () ->
            let stored = cachedMetrics (DualPaper.teacherStudent "dual-tiny" "tiny" tiny)
            let r = DualTeacherStudent.run Context.cpu tiny ignore
            let metrics = DualTeacherStudent.metrics r
            DualTeacherStudent.dispose r
            expectSameKeys "dual teacher" metrics stored
            Expect.equal (List.map fst metrics) [ "kl"; "best_kl"; "fisher"; "tv"; "angle_degrees" ] "names"
            Expect.equal stored metrics "same seed, same numbers"

        test "the spec's experiments are runs of the sweep" {
            let c = DualTeacherStudent.quick 15 1000
            let swept = DualPaper.sweep c |> List.collect snd |> List.map (snd >> box >> ResultCache.describe) |> Set.ofList
            for e in DualPaper.experiments c do
                Expect.isTrue (swept.Contains e.Config) (sprintf "%s is in the sweep" e.Id)
        }

        test "the sweep's ratios: α/η at the particle step, then at the neuron step" {
            let c = DualTeacherStudent.quick 15 1000
            let sections = DualPaper.sweep c
            Expect.equal sections.Length 4 "ratio, ratio at a fixed neuron step, restarts, regime and method"
            let first = snd sections[0] |> List.map snd
            Expect.equal (first |> List.map (fun x -> x.Options.FeatureStep / x.Options.ParticleStep)) DualPaper.sweepRatios "α_z/η"
            let second = snd sections[1] |> List.map snd
            Expect.isTrue (second |> List.forall (fun x -> x.Options.FeatureStep = c.Options.FeatureStep)) "fixed neuron step"
            Expect.equal (DualPaper.atRatio 1.0 c) c "ratio 1 is the base configuration"
        }

        test "throughput keys are snake_case" {
            // At 8 particles and 1 timed step the measurement takes milliseconds.
            let metrics = DualThroughput.metrics Context.cpu 8 1
            Expect.equal (List.map fst metrics) [ "langevin_particle_steps_per_second"; "gda_iterations_per_second" ] "names"
            Expect.isEmpty (RunMetrics.invalidNames metrics) "snake_case"
        }
    ]
