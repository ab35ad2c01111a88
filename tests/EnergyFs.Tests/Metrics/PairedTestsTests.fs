/// `PairedTests` against values R prints (`wilcox.test(x, y, paired = TRUE)` and `t.test(x, y, paired
/// = TRUE)` on Hollander & Wolfe's depression data, the example of R's help page), exact p-values
/// counted by hand, a hand-computed normal approximation with ties and a zero, and brute force over
/// all 2ⁿ sign flips.
module EnergyFs.Tests.Metrics.PairedTestsTests

open System
open Expecto
open EnergyFs.Metrics
open EnergyFs.Tests.Generators

let private near (tolerance: float) (expected: float) (actual: float) (what: string) =
    Expect.isLessThanOrEqual (abs (actual - expected)) tolerance (sprintf "%s: %.17g, expected %.17g" what actual expected)

/// Hollander & Wolfe (1973), p. 29: Hamilton depression scale before (x) and after (y) a tranquilizer.
let private x = [ 1.83; 0.50; 1.62; 2.48; 1.68; 1.88; 1.55; 3.06; 1.30 ]
let private y = [ 0.878; 0.647; 0.598; 2.05; 1.06; 1.29; 1.06; 3.14; 1.29 ]

/// The two-sided p-value by enumeration: the share of the 2ⁿ sign patterns of |d| whose V is at
/// least as far from n(n+1)/4 as the observed one (the null distribution being symmetric).
let private bruteForceP (d: float[]) =
    let ranks, _ = PairedTests.averageRanks (d |> Array.map abs)
    let n = d.Length
    let mean = float (n * (n + 1)) / 4.0
    let observed = Array.fold2 (fun acc x r -> if x > 0.0 then acc + r else acc) 0.0 d ranks
    let extreme =
        [ for mask in 0 .. (1 <<< n) - 1 ->
            let v = Seq.sum [ for i in 0 .. n - 1 do if mask &&& (1 <<< i) <> 0 then yield ranks[i] ]
            abs (v - mean) >= abs (observed - mean) - 1e-9 ]
        |> List.filter id |> List.length
    float extreme / float (1 <<< n)

[<Tests>]
let tests =
    testList "Metrics.PairedTests" [
        test "Hollander & Wolfe's data: R's V = 40, p = 0.03906 (exact) and t = 3.0354, df = 8, p = 0.01618" {
            let c = PairedTests.compare x y
            Expect.equal c.Wilcoxon.Statistic 40.0 "V"
            Expect.isTrue c.Wilcoxon.Exact "exact (9 differences, no ties, no zeros)"
            near 1e-15 0.0390625 c.Wilcoxon.P "p = 2 · 10/512"
            near 1e-12 3.0353754156485914 c.T.Statistic "t"
            Expect.equal c.T.DegreesOfFreedom 8 "df"
            near 1e-12 0.016176627434908097 c.T.P "p"
            Expect.equal (c.Count, c.Positive, c.Negative, c.Zero) (9, 7, 2, 0) "signs"
            near 1e-12 0.43188888888888889 c.MeanDifference "mean difference"
        }
        test "exact p by hand: n = 5 all positive 2/32; n = 10 with V = 8: 2 · 25/1024; V at the centre: 1" {
            near 1e-15 0.0625 (PairedTests.wilcoxonSignedRank [ 1.0; 2.0; 3.0; 4.0; 5.0 ]).P "n = 5"
            near 1e-15 0.0625 (PairedTests.wilcoxonSignedRank [ -1.0; -2.0; -3.0; -4.0; -5.0 ]).P "n = 5, all negative"
            // Ranks 1, 3, 4 negative → V = 55 − 8 = 47 ≥ 27.5: P(V ≥ 47) = P(V ≤ 8) = 25/1024.
            let r = PairedTests.wilcoxonSignedRank [ -1.0; 2.0; -3.0; -4.0; 5.0; 6.0; 7.0; 8.0; 9.0; 10.0 ]
            Expect.equal r.Statistic 47.0 "V"
            near 1e-15 (50.0 / 1024.0) r.P "the 5% critical value T = 8 of the tables (n = 10)"
            let lower = PairedTests.wilcoxonSignedRank [ 1.0; -2.0; 3.0; 4.0; -5.0; -6.0; -7.0; -8.0; -9.0; -10.0 ]
            near 1e-15 (50.0 / 1024.0) lower.P "the lower tail, V = 8"
            near 1e-15 1.0 (PairedTests.wilcoxonSignedRank [ 1.0; -2.0; -3.0; 4.0 ]).P "V = 5 = n(n+1)/4"
            near 1e-15 1.0 (PairedTests.wilcoxonSignedRank [ 0.7 ]).P "one difference (R: 1)"
        }
        test "normal approximation with ties and a zero, by hand (R's formula with its continuity correction)" {
            // Zero dropped: n = 5, |d| = 1 1 2 2 3 → ranks 1.5 1.5 3.5 3.5 5; V = 1.5 + 3.5 + 3.5 + 5 = 13.5.
            // σ² = 5·6·11/24 − (6 + 6)/48 = 13.5; z = (13.5 − 7.5 − 0.5)/√13.5; p = erfc(z/√2) (mpmath).
            let r = PairedTests.wilcoxonSignedRank [ 0.0; 1.0; -1.0; 2.0; 2.0; 3.0 ]
            Expect.equal (r.Statistic, r.NonZero, r.Exact) (13.5, 5, false) "V, n, approximate"
            near 1e-12 0.13441657417036026 r.P "p"
        }
        test "normal approximation for n ≥ 50: d = ±1 … ±60, every third negative" {
            // V = 1200, z = (1200 − 915 − 0.5)/√(60·61·121/24) = 2.0943760539627418; p = erfc(z/√2) (mpmath).
            let r = PairedTests.wilcoxonSignedRank [ for i in 1 .. 60 -> if i % 3 = 0 then -float i else float i ]
            Expect.equal (r.Statistic, r.Exact) (1200.0, false) "V, approximate"
            near 1e-12 0.036226494178786635 r.P "p"
        }
        property "exact p equals the share of the 2ⁿ sign flips at least as extreme" <| fun (signs: bool list) (shuffle: int) ->
            let n = 1 + (List.length signs % 12)
            let rng = Random shuffle
            let magnitudes = Array.init n (fun i -> 0.1 + 0.3 * float (i + 1)) |> Array.sortBy (fun _ -> rng.Next())
            let d = Array.init n (fun i -> if (List.tryItem i signs |> Option.defaultValue (i % 2 = 0)) then magnitudes[i] else -magnitudes[i])
            let r = PairedTests.wilcoxonSignedRank d
            r.Exact && abs (r.P - bruteForceP d) <= 1e-12
        test "the exact null distribution: P(V ≤ n(n+1)/2) = 1 and symmetric" {
            for n in [ 0; 1; 7; 20; 49 ] do
                let cdf = PairedTests.signedRankCdf n
                Expect.equal cdf[cdf.Length - 1] 1.0 (sprintf "n = %d: total" n)
                for v in 0 .. cdf.Length - 2 do
                    // P(V ≤ v) = P(V ≥ top − v) = 1 − P(V ≤ top − v − 1).
                    near 1e-12 cdf[v] (1.0 - cdf[cdf.Length - 2 - v]) (sprintf "n = %d, v = %d" n v)
        }
        test "degenerate inputs: no nonzero difference, one pair, constant differences; bad input names its argument" {
            let zeros = PairedTests.wilcoxonSignedRank [ 0.0; 0.0 ]
            Expect.isTrue (Double.IsNaN zeros.P && zeros.NonZero = 0) "all zero: no test"
            Expect.isTrue (Double.IsNaN (PairedTests.pairedT [ 1.0 ]).P) "t with one pair"
            Expect.isTrue (Double.IsNaN (PairedTests.pairedT [ 0.5; 0.5; 0.5 ]).P) "t with constant differences"
            let argumentOf f = try f () |> ignore; "" with :? ArgumentException as e -> e.ParamName
            Expect.equal (argumentOf (fun () -> PairedTests.compare [ 1.0 ] [ 1.0; 2.0 ])) "second" "lengths"
            Expect.equal (argumentOf (fun () -> PairedTests.compare [ nan ] [ 1.0 ])) "first" "NaN"
            Expect.equal (argumentOf (fun () -> PairedTests.wilcoxonSignedRank [ infinity ])) "differences" "infinity"
        }
        property "the t-test is invariant to scaling the differences; swapping the samples flips the signs" <| fun (values: int list) (scale: int) ->
            let a = 0.3 :: 1.7 :: (values |> List.map (fun v -> float v / 5.0))
            let b = a |> List.mapi (fun i v -> v * 0.5 + float (i % 3))
            let c = if scale = 0 then 2.0 else float scale / 3.0
            let p1 = PairedTests.compare a b
            let p2 = PairedTests.compare (a |> List.map ((*) c)) (b |> List.map ((*) c))
            let swapped = PairedTests.compare b a
            let sameP (u: float) (v: float) = (Double.IsNaN u && Double.IsNaN v) || abs (u - v) <= 1e-9
            sameP p1.T.P p2.T.P && sameP p1.Wilcoxon.P swapped.Wilcoxon.P
            && swapped.Positive = p1.Negative && swapped.Negative = p1.Positive
    ]
