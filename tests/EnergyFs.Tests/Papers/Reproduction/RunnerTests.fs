module EnergyFs.Tests.Reproduction.RunnerTests

open System.IO
open Expecto
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners
open EnergyFs.Energies
open EnergyFs.Tests.Reproduction.Fixtures

let private optionsIn dir seeds = { RunnerOptions.defaults with CacheDir = dir; Seeds = seeds }

[<Tests>]
let tests =
    testList "Reproduction.Runner" [
        testCase "a second run answers from the cache; a changed configuration or seed recomputes" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls; counting "b" 2.0 calls ]
                let first = Runner.run (optionsIn dir [ 0 ]) [ paper ]
                Expect.equal calls.Value 2 "first run computes both"
                Expect.isFalse (first.Head.Experiments |> List.exists (fun e -> e.Runs.Head.Cached)) "nothing cached yet"
                let second = Runner.run (optionsIn dir [ 0 ]) [ paper ]
                Expect.equal calls.Value 2 "second run computes nothing"
                Expect.isTrue (second.Head.Experiments |> List.forall (fun e -> e.Runs.Head.Cached)) "all cached"
                Expect.equal (Results.meanOf "b" "value" second.Head.Experiments) (Some 2.0) "cached metrics"
                // Experiment "a" with another configuration (same id): recomputed; "b" still cached.
                let changed = paperOf [ counting "a" 5.0 calls; counting "b" 2.0 calls ]
                let third = Runner.run (optionsIn dir [ 0 ]) [ changed ]
                Expect.equal calls.Value 3 "only the changed experiment recomputes"
                Expect.equal (Results.meanOf "a" "value" third.Head.Experiments) (Some 5.0) "new value"
                // A new seed: computed for both; seed 0 still cached.
                let fourth = Runner.run (optionsIn dir [ 0; 1 ]) [ changed ]
                Expect.equal calls.Value 5 "seed 1 computed for both experiments"
                Expect.equal (Results.stat "value" (Results.find "b" fourth.Head.Experiments).Value) (Some (3.0, sqrt 2.0)) "mean ± sample std over seeds 0, 1"
            finally Directory.Delete(dir, true)

        testCase "another device or dtype is another key" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls ]
                Runner.run (optionsIn dir [ 0 ]) [ paper ] |> ignore
                Runner.run { optionsIn dir [ 0 ] with Context = EnergyFs.Context.cpu64 } [ paper ] |> ignore
                Expect.equal calls.Value 2 "float64 recomputes"
                Runner.run { optionsIn dir [ 0 ] with Context = EnergyFs.Context.cpu64 } [ paper ] |> ignore
                Expect.equal calls.Value 2 "and is cached in turn"
            finally Directory.Delete(dir, true)

        testCase "an interrupted run keeps what finished: the next run computes only the rest" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let boom = { counting "b" 2.0 calls with Run = fun _ _ _ -> raise (System.OperationCanceledException "interrupted") }
                let first = Runner.run (optionsIn dir [ 0 ]) [ paperOf [ counting "a" 1.0 calls; boom ] ]
                Expect.equal calls.Value 1 "a computed"
                Expect.isTrue (Runner.anyFailure first) "the interruption is a failure"
                Runner.run (optionsIn dir [ 0 ]) [ paperOf [ counting "a" 1.0 calls; counting "b" 2.0 calls ] ] |> ignore
                Expect.equal calls.Value 2 "only b computed the second time"
            finally Directory.Delete(dir, true)

        testCase "a failing experiment does not stop the others and is reported" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let broken = { counting "broken" 1.0 calls with Run = fun _ _ _ -> invalidArg "data" "no such folder" }
                let results = Runner.run (optionsIn dir [ 0 ]) [ paperOf [ broken; counting "fine" 1.0 calls ] ]
                Expect.equal calls.Value 1 "the next experiment ran"
                Expect.isTrue (Runner.anyFailure results) "failure flagged"
                let failures = Report.failures results
                Expect.equal (failures |> List.map fst) [ "broken seed 0" ] "which failed"
                Expect.stringContains (snd failures.Head) "no such folder" "why"
                Expect.isFalse (File.Exists (ResultCache.path dir (Runner.keyed (optionsIn dir [ 0 ]) broken) 0)) "a failure is not cached"
                Expect.isTrue (File.Exists (ResultCache.path dir (Runner.keyed (optionsIn dir [ 0 ]) (counting "fine" 1.0 calls)) 0)) "a success is"
                let check = match results.Head.Summary with Ok s -> s.Checks.Head | Error e -> failtest e
                Expect.isNone check.Passed "a check on a failed experiment is undecided"
            finally Directory.Delete(dir, true)
    ]
