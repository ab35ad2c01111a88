module EnergyFs.Tests.Reproduction.ResultCacheTests

open System.IO
open Expecto
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Energies
open EnergyFs.Tests.Reproduction.Fixtures

type private Config = { Epochs: int; Rate: float; Names: string list; OnProgress: int -> unit }

[<Tests>]
let tests =
    testList "Reproduction.ResultCache" [
        testCase "the configuration text and hash are stable and ignore closures' compiler names" <| fun () ->
            let a = { Epochs = 3; Rate = 0.5; Names = [ "x"; "y" ]; OnProgress = ignore }
            let b = { a with OnProgress = fun i -> printfn "%d" i }
            let ta, tb = ResultCache.describe (box a), ResultCache.describe (box b)
            Expect.equal ta tb "function-valued fields do not take part"
            Expect.stringContains ta "Epochs = 3" "data fields do"
            Expect.equal (ResultCache.hash "e" ta 0) (ResultCache.hash "e" tb 0) "same key"
            // A fixed value: the key must not change between builds or machines.
            Expect.equal (ResultCache.hash "exp" "config" 7) (ResultCache.hash "exp" "config" 7) "deterministic"
            Expect.equal (ResultCache.hash "exp" "config" 7).Length 16 "16 hex digits"
            Expect.equal (ResultCache.hash "exp" "config" 7) "ebd1d095a1626193" "pinned value"

        testCase "a changed field, seed or experiment changes the key" <| fun () ->
            let t = ResultCache.describe (box { Epochs = 3; Rate = 0.5; Names = []; OnProgress = ignore })
            let t2 = ResultCache.describe (box { Epochs = 4; Rate = 0.5; Names = []; OnProgress = ignore })
            let keys = [ ResultCache.hash "e" t 0; ResultCache.hash "e" t2 0; ResultCache.hash "e" t 1; ResultCache.hash "f" t 0 ]
            Expect.equal (List.distinct keys).Length 4 "all different"

        testCase "store then load round-trips metrics (NaN and infinities included) and series" <| fun () ->
            let dir = tempDir ()
            try
                let spec = counting "exp" 1.0 (ref 0)
                let outcome = { Metrics = [ "a", 1.25; "nan", nan; "inf", infinity; "neg", -infinity ]
                                Series = [ { Name = "s"; X = [| 0.0; 1.0 |]; Y = [| 2.0; nan |] } ] }
                Expect.isNone (ResultCache.tryLoad dir spec 0) "empty cache: a miss"
                ResultCache.store dir spec 0 { Outcome = outcome; Seconds = 3.5; CpuSeconds = 2.5 }
                let back = (ResultCache.tryLoad dir spec 0).Value
                Expect.equal back.Seconds 3.5 "seconds"
                Expect.equal back.CpuSeconds 2.5 "CPU seconds"
                Expect.equal (back.Outcome.Metrics |> List.map fst) [ "a"; "nan"; "inf"; "neg" ] "names in order"
                let v k = back.Outcome.Metrics |> List.find (fst >> (=) k) |> snd
                Expect.equal (v "a") 1.25 "finite"
                Expect.isTrue (System.Double.IsNaN (v "nan")) "NaN"
                Expect.equal (v "inf") infinity "+inf"
                Expect.equal (v "neg") -infinity "-inf"
                Expect.equal back.Outcome.Series.Head.X [| 0.0; 1.0 |] "series x"
                Expect.isNone (ResultCache.tryLoad dir spec 1) "another seed: a miss"
                Expect.equal (Directory.GetFiles dir |> Array.map Path.GetFileName) [| Path.GetFileName (ResultCache.path dir spec 0) |] "one file, no temporary left"
                Expect.stringStarts (Path.GetFileName (ResultCache.path dir spec 0)) "exp-" "named <experiment>-<hash>.json"
            finally Directory.Delete(dir, true)

        testCase "a corrupt or foreign file is not a hit" <| fun () ->
            let dir = tempDir ()
            try
                let spec = counting "exp" 1.0 (ref 0)
                File.WriteAllText(ResultCache.path dir spec 0, "{ truncated")
                Expect.isNone (ResultCache.tryLoad dir spec 0) "corrupt: miss"
                // An entry stored for another configuration, copied under this key.
                let other = counting "exp" 2.0 (ref 0)
                ResultCache.store dir other 0 { Outcome = { Metrics = [ "value", 1.0 ]; Series = [] }; Seconds = 1.0; CpuSeconds = 1.0 }
                File.Copy(ResultCache.path dir other 0, ResultCache.path dir spec 0, true)
                Expect.isNone (ResultCache.tryLoad dir spec 0) "configuration differs: miss"
            finally Directory.Delete(dir, true)
    ]
