/// The metrics convention shared by the reproduction cache, the report and the CLI's `--json`:
/// snake_case names, the summary over runs (mean, `<name>_std`), the JSON writer; and a helper
/// the papers' tests use to read what a spec stores in the cache.
module EnergyFs.Tests.Reproduction.RunMetricsTests

open System.Text.Json
open Expecto
open EnergyFs
open EnergyFs.Papers.Reproduction

/// The metrics a spec stores in the result cache for seed 0: its run, written as a cache entry and
/// read back (`ResultCache.toJson` / `ofJson`).
let cachedMetrics (spec: ExperimentSpec) : (string * float) list =
    let outcome = spec.Run Context.cpu 0 ignore
    let entry = ResultCache.toJson spec 0 { Outcome = outcome; Seconds = 1.0; CpuSeconds = 1.0 }
    (ResultCache.ofJson entry).Outcome.Metrics

/// Checks that a paper's metrics follow the convention and are exactly what its spec stores.
let expectSameKeys (what: string) (metrics: (string * float) list) (stored: (string * float) list) =
    Expect.isNonEmpty metrics (sprintf "%s: some metrics" what)
    Expect.isEmpty (RunMetrics.invalidNames metrics) (sprintf "%s: snake_case names" what)
    Expect.equal (List.map fst stored) (List.map fst metrics) (sprintf "%s: the cache stores the metrics function's names, in order" what)

[<Tests>]
let tests =
    testList "Papers.Reproduction.RunMetrics" [
        test "snake_case: lower-case words joined by single underscores" {
            for ok in [ "kl"; "angle_degrees"; "hamming_accuracy"; "test_nll"; "fy_step_cost_ratio_k14"; "val_hamming_accuracy_std" ] do
                Expect.isTrue (RunMetrics.isSnakeCase ok) ok
            for bad in [ ""; "angleDegrees"; "wallSeconds"; "test-nll"; "_kl"; "kl_"; "a__b"; "1st"; "solve_k=14"; "Kl" ] do
                Expect.isFalse (RunMetrics.isSnakeCase bad) bad
        }
        test "snakeCase turns labels into keys" {
            Expect.equal (RunMetrics.snakeCase "solve coordinate k=14 batch=1024") "solve_coordinate_k_14_batch_1024" "spaces and ="
            Expect.equal (RunMetrics.snakeCase "train step QuadraticEnergy d=103 k=14 batch=1024") "train_step_quadratic_energy_d_103_k_14_batch_1024" "camel case"
            Expect.equal (RunMetrics.snakeCase "CUDA available") "cuda_available" "acronym"
            Expect.equal (RunMetrics.snakeCase "angleDegrees") "angle_degrees" "camel"
            Expect.isTrue (RunMetrics.isSnakeCase (RunMetrics.snakeCase "  --Weird  Label!! 2 ")) "always a valid key"
            Expect.throwsT<System.ArgumentException> (fun () -> RunMetrics.snakeCase " - " |> ignore) "nothing to make a key of"
        }
        test "summarize: mean and sample std per name, first-seen order, missing values skipped" {
            let s = RunMetrics.summarize [ [ "a", 1.0; "b", 10.0 ]; [ "a", 3.0 ]; [ "c", 5.0; "a", 2.0; "b", 20.0 ] ]
            Expect.equal (s |> List.map (fun (n, _, _) -> n)) [ "a"; "b"; "c" ] "order"
            let _, ma, sa = s[0]
            Expect.equal (ma, sa) (2.0, 1.0) "a: 1, 3, 2"
            let _, mb, sb = s[1]
            Expect.equal mb 15.0 "b: 10, 20"
            Expect.floatClose Accuracy.veryHigh sb (sqrt 50.0) "b's sample std"
            Expect.equal s[2] ("c", 5.0, 0.0) "c: one value"
            Expect.equal (RunMetrics.withStd [ s[2] ]) [ "c", 5.0; "c_std", 0.0 ] "flattened"
        }
        test "json: fields in order, NaN as null, nested objects and arrays of objects" {
            let text = RunMetrics.json [ "a", box 1.5; "b", box nan; "m", box [ "x", 2.0; "y", infinity ]; "runs", box [ [ "seed", box 0 ]; [ "seed", box 1 ] ] ]
            Expect.equal text """{"a":1.5,"b":null,"m":{"x":2,"y":null},"runs":[{"seed":0},{"seed":1}]}""" "JSON"
            JsonDocument.Parse text |> ignore
        }
    ]
