/// Sweeps: settings changed by path, sweep files parsed and expanded, selection on the validation
/// metric only, and sharded sweeps equal to one process.
module EnergyFs.Tests.Reproduction.SweepsTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open EnergyFs
open EnergyFs.Training
open EnergyFs.Papers.Reproduction
open EnergyFs.Tests.Reproduction.Fixtures

type TinyMode = Fast | Careful
type TinyStage = { Steps: int; Optimizer: OptimizerOptions }
type TinyMethod =
    | Plain
    | Staged of stage: TinyStage * extra: TinyStage option
type TinySettings = { Width: int; Rate: float; Mode: TinyMode; Hidden: int list; Method: TinyMethod; Callback: int -> int }

let private tinySettings =
    { Width = 4; Rate = 0.5; Mode = Fast; Hidden = [ 3; 3 ]
      Method = Staged ({ Steps = 10; Optimizer = OptimizerOptions.adam 1e-3 }, None); Callback = id }

/// dev = −(width − 8)² − rate (best at width 8), test = width (best at the largest width): a sweep
/// that looked at test would pick the wrong one.
let private tiny (calls: int ref) (settings: TinySettings) : ExperimentSpec =
    ("tiny-data", settings) |> Experiment.ofSettings [ "data"; "settings" ] (fun (data, s) ->
        { Id = "tiny-" + data; Title = "tiny"
          Config = ResultCache.describe (box (data, s))
          Run = fun _ seed _ ->
              lock calls (fun () -> calls.Value <- calls.Value + 1)
              let w = float s.Width
              { Metrics = [ "dev_score", -((w - 8.0) ** 2.0) - s.Rate + 0.01 * float seed; "test_score", w ]; Series = [] }
          Settings = None })

let private json (text: string) : JsonNode = JsonNode.Parse text

let private parts spec = (Option.get spec.Settings).Parts

let private thrown (f: unit -> 'a) : string =
    try f () |> ignore; "no error" with e -> e.Message

let private planText = """
{ // a grid over two settings
  "name": "tiny", "experiment": "tiny-tiny-data", "seeds": 2,
  "parameters": { "settings.Width": [2, 8, 16], "settings.Rate": [0.5, 0.1], },
  "select": { "metric": "dev_score", "goal": "max" },
  "report": [ "test_score" ] }
"""

[<Tests>]
let tests =
    testList "Reproduction.Sweeps" [
        testList "setting paths" [
            testCase "records, union fields, options, lists, schedules and case names are set by path" <| fun () ->
                let spec = tiny (ref 0) tinySettings
                let changed =
                    spec |> Experiment.withValues
                        [ "settings.width", json "8"; "settings.Mode", json "\"Careful\""; "settings.Hidden", json "[5, 6, 7]"
                          "settings.Method.stage.Optimizer.LearningRate", json "0.01"; "settings.Method.extra", json "null" ]
                let s = match (parts changed)[1] with _, _, v -> v :?> TinySettings
                Expect.equal (s.Width, s.Mode, s.Hidden) (8, Careful, [ 5; 6; 7 ]) "plain fields"
                match s.Method with
                | Staged (stage, extra) ->
                    Expect.equal (stage.Optimizer.LearningRate.Rate 0) 0.01 "the schedule from a number"
                    Expect.equal stage.Steps 10 "the rest of the record kept"
                    Expect.isNone extra "null is None"
                | Plain -> failtest "the case is kept"
                Expect.notEqual changed.Config spec.Config "a new configuration text (a new cache key)"
                Expect.stringContains changed.Config "constant 0.01" "the learning rate is in the key"
                Expect.equal (tiny (ref 0) tinySettings).Config spec.Config "unchanged settings, same key"
            testCase "the listing names every settable value with its type" <| fun () ->
                let leaves = Experiment.settings (tiny (ref 0) tinySettings)
                let find p = leaves |> List.find (fun l -> l.Path = p)
                Expect.equal (find "settings.Width").Type "int" "int"
                Expect.equal (find "settings.Mode").Type "one of Fast | Careful" "case names"
                Expect.equal (find "settings.Hidden").Type "int list" "list"
                Expect.equal (find "settings.Method.stage.Optimizer.LearningRate").Value "constant 0.001" "schedule"
                Expect.isFalse (leaves |> List.exists (fun l -> l.Path.EndsWith "Callback")) "functions are not settings"
            testCase "bad paths and values are refused, naming the path and what exists" <| fun () ->
                let spec = tiny (ref 0) tinySettings
                let set p v = thrown (fun () -> Experiment.withValues [ p, json v ] spec)
                let m = set "settings.Widht" "8"
                Expect.stringContains m "settings.Widht" "the path"
                Expect.stringContains m "Width" "the fields that exist"
                Expect.stringContains (set "settings.Width" "8.5") "integer" "an int takes integers"
                Expect.stringContains (set "settings.Mode" "\"Slow\"") "Fast | Careful" "the cases"
                Expect.stringContains (set "settings.Method.extra.Steps" "3") "None" "through a None option"
                Expect.stringContains (set "settings.Callback" "1") "function" "a function"
                Expect.stringContains (set "nothing.Width" "1") "data, settings" "the parts"
            testCase "a setting that does not reach the configuration text is refused" <| fun () ->
                let blind =
                    tinySettings |> Experiment.ofSettings [ "settings" ] (fun s ->
                        { Id = "blind"; Title = "blind"; Config = "always the same"; Run = (fun _ _ _ -> failwith "not run"); Settings = None })
                Expect.stringContains (thrown (fun () -> Experiment.withValues [ "settings.Width", json "9" ] blind)) "cache key" "refused"
                Expect.equal (Experiment.withValues [ "settings.Width", json "4" ] blind).Config "always the same" "setting the current value is fine"
            testCase "the catalogue's SPEN experiment takes its hidden size and learning rate from a sweep" <| fun () ->
                let spec = Catalogue.experiment false "spen-bibtex-spen"
                let changed = spec |> Experiment.withValues [ "setup.EnergyHidden", json "32"; "settings.ssvm.Ssvm.Optimizer.LearningRate", json "0.0003" ]
                Expect.stringContains changed.Config "EnergyHidden = 32" "hidden size"
                Expect.stringContains changed.Config "constant 0.0003" "learning rate"
                Expect.equal changed.Id spec.Id "same experiment"
                Expect.stringContains (thrown (fun () -> Catalogue.experiment false "spen-bibtex-nothing")) "spen-bibtex-spen" "unknown ids list the known ones"
        ]
        testList "sweep files" [
            testCase "a grid is every combination, first parameter slowest" <| fun () ->
                let plan = SweepPlan.parse "tiny.json" planText
                Expect.equal (plan.Seeds, plan.Goal, plan.Report) (2, Maximize, [ "test_score" ]) "plan"
                let configs = SweepPlan.configurations plan |> List.map (List.map (fun (p, v) -> p, v.ToJsonString()))
                Expect.equal configs.Length 6 "3 × 2"
                Expect.equal configs[0] [ "settings.Width", "2"; "settings.Rate", "0.5" ] "first"
                Expect.equal configs[1] [ "settings.Width", "2"; "settings.Rate", "0.1" ] "second varies the last parameter"
            testCase "random search draws in the ranges, the same for the same seed" <| fun () ->
                let text seed = sprintf """{ "experiment": "x", "search": { "random": 12, "seed": %d },
                    "parameters": { "a": { "log_uniform": [0.0001, 0.1] }, "b": { "int": [2, 5] }, "c": [ "x", "y" ] },
                    "select": { "metric": "dev_f1" } }""" seed
                let draw seed = SweepPlan.configurations (SweepPlan.parse "r.json" (text seed)) |> List.map (List.map (fun (p, v) -> p, v.ToJsonString()))
                Expect.equal (draw 3) (draw 3) "same seed, same draws"
                Expect.notEqual (draw 3) (draw 4) "another seed, other draws"
                for c in draw 3 do
                    let a = float (snd c[0]) in Expect.isTrue (a >= 1e-4 && a <= 0.1) "log-uniform in range"
                    let b = int (snd c[1]) in Expect.isTrue (b >= 2 && b <= 5) "int in range"
            testCase "bad files are refused naming the file, the key or the line" <| fun () ->
                let err text = thrown (fun () -> SweepPlan.parse "bad.json" text)
                let selectTest = err """{ "experiment": "x", "parameters": { "a": [1] }, "select": { "metric": "test_f1" } }"""
                Expect.stringContains selectTest "validation" "selecting on test is refused"
                Expect.stringContains selectTest "bad.json" "the file"
                Expect.stringContains (err """{ "experiment": "x", "parameters": { "a": [1] }, "select": { "metric": "dev" }, "sead": 1 }""") "sead" "an unknown key"
                Expect.stringContains (err """{ "experiment": "x", "parameters": { "a": { "uniform": [0, 1] } }, "select": { "metric": "dev" } }""") "grid" "ranges need random search"
                let malformed = try SweepPlan.parse "bad.json" "{\n \"experiment\": \"x\",\n oops }" |> ignore; None with :? DataFormatException as e -> Some e
                Expect.equal (malformed |> Option.map (fun e -> e.Line)) (Some 3) "the line of malformed JSON"
        ]
        testList "running" [
            testCase "the selection uses the validation metric, and the report shows the test metric beside it" <| fun () ->
                let dir = tempDir ()
                try
                    let calls = ref 0
                    let plan = SweepPlan.parse "tiny.json" planText
                    let configs = Sweeps.configurations plan (tiny calls tinySettings)
                    let result = Sweeps.run { RunnerOptions.defaults with CacheDir = dir } plan (tiny calls tinySettings) configs
                    Expect.equal calls.Value 12 "6 configurations × 2 seeds"
                    let selected = Option.get result.Selected
                    Expect.equal selected.Configuration.Index 4 "width 8, rate 0.1 (best dev), not width 16 (best test)"
                    let md = Sweeps.markdown result
                    Expect.stringContains md "**Selected: configuration 4**" "selected"
                    Expect.stringContains md "| 4 ★ | 8 | 0.1 |" "the row is marked"
                    Expect.stringContains md "test_score 8.000" "the test metric of the selected configuration"
                    let again = Sweeps.run { RunnerOptions.defaults with CacheDir = dir } plan (tiny calls tinySettings) configs
                    Expect.equal calls.Value 12 "a second run is answered from the cache"
                    Expect.equal (Sweeps.json again) (Sweeps.json result) "same report"
                finally Directory.Delete(dir, true)
            testCase "two shards into one cache, then the report from the cache, equal one process" <| fun () ->
                let single, sharded = tempDir (), tempDir ()
                try
                    let calls = ref 0
                    let plan = SweepPlan.parse "tiny.json" planText
                    let spec = tiny calls tinySettings
                    let configs = Sweeps.configurations plan spec
                    let one = Sweeps.run { RunnerOptions.defaults with CacheDir = single } plan spec configs
                    let options = { RunnerOptions.defaults with CacheDir = sharded; Seeds = Sweeps.seeds plan }
                    let a = Sweeps.runShard options { Index = 1; Count = 2 } plan configs
                    let b = Sweeps.runShard options { Index = 2; Count = 2 } plan configs
                    Expect.equal (a.Length + b.Length) 12 "every unit in one shard"
                    let fromCache = Sweeps.run { options with CacheOnly = true } plan spec configs
                    Expect.equal (Sweeps.json fromCache) (Sweeps.json one) "same table and selection"
                finally
                    Directory.Delete(single, true)
                    Directory.Delete(sharded, true)
        ]
    ]
