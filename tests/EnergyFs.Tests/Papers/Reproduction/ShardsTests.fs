/// Work units and shards of a reproduction: every unit in exactly one shard, and a sharded run into a
/// shared cache reported with --report-only equals a single-process run.
module EnergyFs.Tests.Reproduction.ShardsTests

open System
open System.IO
open Expecto
open EnergyFs.Papers.Reproduction
open EnergyFs.Tests.Reproduction.Fixtures

let private optionsIn dir seeds = { RunnerOptions.defaults with CacheDir = dir; Seeds = seeds }

let private metrics (results: PaperResult list) =
    [ for p in results do
        for e in p.Experiments do
            for r in e.Runs -> e.Spec.Id, r.Seed, (r.Outcome |> Option.map (fun o -> o.Metrics |> List.filter (fun (_, v) -> Double.IsFinite v))) ]

[<Tests>]
let tests =
    testList "Reproduction.Shards" [
        testCase "K/N parses; anything else is an ArgumentException naming the argument" <| fun () ->
            Expect.equal (Shards.parse "shard" "2/8") { Index = 2; Count = 8 } "2/8"
            Expect.equal (Shards.parse "shard" " 1 / 1 ") { Index = 1; Count = 1 } "spaces"
            for bad in [ "0/4"; "5/4"; "2"; "a/b"; "1/0"; ""; "1/2/3" ] do
                let message =
                    try Shards.parse "shard" bad |> ignore; "accepted"
                    with :? ArgumentException as e -> e.Message
                Expect.stringContains message "shard" (sprintf "'%s' refused, naming --shard" bad)
                Expect.stringContains message "K/N" (sprintf "'%s': the expected form" bad)

        testPropertyWithConfig { FsCheckConfig.defaultConfig with replay = Some (7UL, 11UL, None) } "every unit belongs to exactly one shard, in catalogue order" <| fun (experiments: byte) (seeds: byte) (count: byte) ->
            let experiments, seeds, count = int experiments % 7 + 1, int seeds % 4 + 1, int count % 9 + 1
            let calls = ref 0
            let paper = paperOf [ for i in 1 .. experiments -> counting (sprintf "e%d" i) 1.0 calls ]
            let units = Shards.units [ paper ] [ 0 .. seeds - 1 ]
            let shards = [ for k in 1 .. count -> Shards.select { Index = k; Count = count } units ]
            let union = shards |> List.concat |> List.sortBy (fun u -> u.Position)
            let key (u: WorkUnit) = u.Spec.Id, u.Seed, u.Position
            List.map key union = List.map key units
            && units.Length = experiments * seeds
            && (units |> List.map (fun u -> u.Spec.Id, u.Seed)) = [ for i in 1 .. experiments do for s in 0 .. seeds - 1 -> sprintf "e%d" i, s ]
            && shards |> List.forall (fun s -> s.Length >= units.Length / count && s.Length <= units.Length / count + 1)

        testCase "shards 1/2 and 2/2 into one cache, then --report-only, give the single-process results" <| fun () ->
            let single, shared = tempDir (), tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls; counting "b" 2.0 calls; counting "c" 3.0 calls ]
                let expected = Runner.run (optionsIn single [ 0; 1 ]) [ paper ]
                Expect.equal calls.Value 6 "three experiments × two seeds"
                calls.Value <- 0
                let first = Runner.runShard (optionsIn shared [ 0; 1 ]) { Index = 1; Count = 2 } [ paper ]
                let second = Runner.runShard (optionsIn shared [ 0; 1 ]) { Index = 2; Count = 2 } [ paper ]
                Expect.equal (first.Length, second.Length) (3, 3) "three units each"
                Expect.equal calls.Value 6 "each unit computed once, by its shard"
                let reported = Runner.run { optionsIn shared [ 0; 1 ] with CacheOnly = true } [ paper ]
                Expect.equal calls.Value 6 "--report-only computes nothing"
                Expect.equal (metrics reported) (metrics expected) "the same numbers"
                Expect.equal (reported.Head.Summary |> Result.map (fun s -> s.Checks |> List.map (fun c -> c.Passed))) (expected.Head.Summary |> Result.map (fun s -> s.Checks |> List.map (fun c -> c.Passed))) "the same checks"
            finally
                Directory.Delete(single, true)
                Directory.Delete(shared, true)

        testCase "--report-only reports a unit missing from the cache as failed, naming the cache" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls; counting "b" 2.0 calls ]
                Runner.runShard (optionsIn dir [ 0 ]) { Index = 1; Count = 2 } [ paper ] |> ignore
                let reported = Runner.run { optionsIn dir [ 0 ] with CacheOnly = true } [ paper ]
                let b = (Results.find "b" reported.Head.Experiments).Value.Runs.Head
                Expect.isNone b.Outcome "b was not computed"
                Expect.stringContains b.Error.Value "not in the cache" "why"
                Expect.isTrue (Runner.anyFailure reported) "the run counts as failed"
                Expect.equal calls.Value 1 "only shard 1/2's unit was computed"
            finally Directory.Delete(dir, true)
    
        testCase "workers claiming units from one cache compute each unit once, and the report equals one process" <| fun () ->
            let single, shared = tempDir (), tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls; counting "b" 2.0 calls; counting "c" 3.0 calls ]
                let one = Runner.run (optionsIn single [ 0; 1 ]) [ paper ]
                let units = Shards.units [ paper ] [ 0; 1 ]
                let options = optionsIn shared [ 0; 1 ]
                let workers = [| for _ in 1 .. 3 -> System.Threading.Tasks.Task.Run(fun () -> Runner.runClaimed options units) |]
                let records = workers |> Array.collect (fun w -> Array.ofList w.Result)
                let computed = records |> Array.filter (fun (_, r) -> not r.Cached) |> Array.map (fun (u, _) -> u.Position) |> Array.sort
                Expect.equal computed [| 0 .. units.Length - 1 |] "every unit computed by exactly one worker"
                let again = Runner.runClaimed options units
                Expect.isTrue (again |> List.forall (fun (_, r) -> r.Cached)) "a later worker finds everything in the cache"
                let fromCache = Runner.run { options with CacheOnly = true } [ paper ]
                Expect.equal (metrics fromCache) (metrics one) "same results"
            finally
                Directory.Delete(single, true)
                Directory.Delete(shared, true)
    ]
