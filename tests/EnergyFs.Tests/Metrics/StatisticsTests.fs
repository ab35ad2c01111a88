/// `Statistics.meanStd` against closed forms (n = 1, n = 2, constant values, a hand-computed
/// case) and FsCheck properties: the std is invariant to shifts and scales with |c|.
module EnergyFs.Tests.Metrics.StatisticsTests

open System
open Expecto
open EnergyFs.Metrics
open EnergyFs.Tests.Generators

/// Close in relative terms (for values that went through a shift or a scale).
let private close (expected: float) (actual: float) =
    abs (actual - expected) <= 1e-9 * (1.0 + abs expected)

[<Tests>]
let tests =
    testList "Metrics.Statistics" [
        test "one value: the value, std 0" {
            Expect.equal (Statistics.meanStd [ 3.25 ]) (3.25, 0.0) "n = 1"
        }
        test "two values: the midpoint, std |a − b| / √2 (sample, n − 1)" {
            let m, s = Statistics.meanStd [ 1.0; 4.0 ]
            Expect.equal m 2.5 "mean"
            Expect.floatClose Accuracy.veryHigh s (3.0 / sqrt 2.0) "sample std"
        }
        test "constant values: std 0" {
            Expect.equal (Statistics.meanStd (List.replicate 7 0.25)) (0.25, 0.0) "exactly representable"
            let m, s = Statistics.meanStd (List.replicate 7 0.1)
            Expect.floatClose Accuracy.veryHigh m 0.1 "mean of 0.1s"
            Expect.isLessThan s 1e-15 "std of 0.1s: 0 up to rounding of the mean"
        }
        test "2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32 / 7 (population 4)" {
            let m, s = Statistics.meanStd [ 2.0; 4.0; 4.0; 4.0; 5.0; 5.0; 7.0; 9.0 ]
            Expect.equal m 5.0 "mean"
            Expect.floatClose Accuracy.veryHigh s (sqrt (32.0 / 7.0)) "n − 1 divisor, not n"
        }
        test "the mean is List.average's, bit for bit" {
            let xs = [ 0.1; 0.7; 1e-3; 12.5; 3.3 ]
            Expect.equal (fst (Statistics.meanStd xs)) (List.average xs) "same summation order"
        }
        test "no values: an ArgumentException naming the argument" {
            Expect.throwsT<ArgumentException> (fun () -> Statistics.meanStd [] |> ignore) "empty"
        }
        test "NaN propagates" {
            let m, s = Statistics.meanStd [ 1.0; nan ]
            Expect.isTrue (Double.IsNaN m && Double.IsNaN s) "NaN mean and std"
        }
        property "shifting every value by c shifts the mean by c and leaves the std" <| fun (values: int list) (shift: int) ->
            let xs = 1.5 :: (values |> List.map (fun v -> float v / 7.0))
            let c = float shift / 3.0
            let m, s = Statistics.meanStd xs
            let m2, s2 = Statistics.meanStd (xs |> List.map ((+) c))
            close (m + c) m2 && abs (s2 - s) <= 1e-9 * (1.0 + s + abs c)
        property "scaling every value by c scales the mean by c and the std by |c|" <| fun (values: int list) (scale: int) ->
            let xs = -0.5 :: (values |> List.map (fun v -> float v / 7.0))
            let c = float scale / 3.0
            let m, s = Statistics.meanStd xs
            let m2, s2 = Statistics.meanStd (xs |> List.map ((*) c))
            close (c * m) m2 && close (abs c * s) s2
        property "the std is √(n / (n − 1)) times the population std" <| fun (values: int list) ->
            let xs = 2.0 :: 3.0 :: (values |> List.map float)
            let n = float xs.Length
            let m, s = Statistics.meanStd xs
            let population = sqrt (xs |> List.averageBy (fun x -> (x - m) ** 2.0))
            close (population * sqrt (n / (n - 1.0))) s
    ]
