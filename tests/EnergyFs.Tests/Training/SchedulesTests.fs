module EnergyFs.Tests.Training.SchedulesTests

open Expecto
open EnergyFs.Training

[<Tests>]
let tests =
    testList "Training.Schedules" [
        testCase "constant" <| fun () -> Expect.equal (Schedule.constant 0.1 |> Schedule.at 1000) 0.1 "constant"
        testCase "step decay halves every 10 steps" <| fun () ->
            let s = (Schedule.stepDecay 1.0 0.5 10).Rate
            Expect.equal [ s 0; s 9; s 10; s 25 ] [ 1.0; 1.0; 0.5; 0.25 ] "values"
        testCase "cosine decay goes from lr to final" <| fun () ->
            let s = (Schedule.cosineDecay 1.0 100 0.1).Rate
            Expect.floatClose Accuracy.veryHigh (s 0) 1.0 "start"
            Expect.floatClose Accuracy.veryHigh (s 50) 0.55 "middle"
            Expect.floatClose Accuracy.veryHigh (s 100) 0.1 "end"
            Expect.floatClose Accuracy.veryHigh (s 500) 0.1 "after the end"
        testCase "warm-up ramps linearly then follows the schedule" <| fun () ->
            let s = (Schedule.warmup 4 (Schedule.constant 2.0)).Rate
            Expect.equal [ s 0; s 1; s 3; s 4; s 10 ] [ 0.5; 1.0; 2.0; 2.0; 2.0 ] "values"
        testCase "bad arguments are named" <| fun () ->
            let ex = Expect.throwsC (fun () -> Schedule.stepDecay 1.0 0.5 0 |> ignore) id
            Expect.stringContains ex.Message "every" "names the argument"
        testCase "the description carries the numbers: configurations that differ only in a rate print differently" <| fun () ->
            let a, b = OptimizerOptions.adam 1e-3, OptimizerOptions.adam 1e-4
            Expect.notEqual (sprintf "%A" a) (sprintf "%A" b) "printed configurations"
            Expect.stringContains (sprintf "%A" a) "constant 0.001" "the rule is printed"
            Expect.equal (Schedule.constant 0.5) (Schedule.constant 0.5) "equal by description"
            Expect.notEqual (Schedule.warmup 2 (Schedule.constant 0.5)) (Schedule.warmup 3 (Schedule.constant 0.5)) "combinators describe their arguments"
    ]
