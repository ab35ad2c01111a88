/// `SpecialFunctions` against closed forms (factorials, 1 − e^(−x), xᵃ, the t distribution with 1
/// and 2 degrees of freedom), the binomial tail, and tabulated values (t critical values; values of
/// mpmath 1.3 at 30 digits for the rest).
module EnergyFs.Tests.Metrics.SpecialFunctionsTests

open System
open Expecto
open EnergyFs.Metrics
open EnergyFs.Tests.Generators

let private near (tolerance: float) (expected: float) (actual: float) (what: string) =
    Expect.isLessThanOrEqual (abs (actual - expected)) (tolerance * max 1.0 (abs expected)) (sprintf "%s: %.17g, expected %.17g" what actual expected)

/// k mod m in [0, m) for any k (no abs: abs Int32.MinValue overflows).
let private modulo (m: int) (k: int) = ((k % m) + m) % m

/// A probability in (0, 1) from an integer.
let private probability (k: int) = (float (modulo 997 k) + 0.5) / 998.0

[<Tests>]
let tests =
    testList "Metrics.SpecialFunctions" [
        test "log Γ: factorials, √π, and two tabulated values" {
            for n in 1 .. 25 do
                let logFactorial = Seq.sum [ for k in 1 .. n - 1 -> log (float k) ]
                near 1e-13 logFactorial (SpecialFunctions.logGamma (float n)) (sprintf "ln Γ(%d) = ln %d!" n (n - 1))
            near 1e-14 (0.5 * log Math.PI) (SpecialFunctions.logGamma 0.5) "ln Γ(1/2) = ln √π"
            near 1e-14 359.13420536957539878 (SpecialFunctions.logGamma 100.0) "ln Γ(100)"
            near 1e-14 2.2527126517342059599 (SpecialFunctions.logGamma 0.1) "ln Γ(0.1) (reflection)"
            Expect.throwsT<ArgumentException> (fun () -> SpecialFunctions.logGamma 0.0 |> ignore) "x = 0"
        }
        test "incomplete gamma: P(1, x) = 1 − e^(−x), tabulated values, P + Q = 1" {
            for x in [ 0.0; 0.01; 0.5; 1.0; 2.0; 7.5; 40.0 ] do
                let p, q = SpecialFunctions.incompleteGamma 1.0 x
                near 1e-14 (1.0 - exp (-x)) p (sprintf "P(1, %g)" x)
                near 1e-14 1.0 (p + q) "P + Q"
            near 1e-13 0.22022259152428407907 (fst (SpecialFunctions.incompleteGamma 3.5 2.0)) "P(3.5, 2) (series)"
            near 1e-13 0.93014633930059023231 (fst (SpecialFunctions.incompleteGamma 10.0 15.0)) "P(10, 15) (continued fraction)"
            near 1e-13 0.11246291601828489337 (fst (SpecialFunctions.incompleteGamma 0.5 0.01)) "P(1/2, 0.01) = erf 0.1"
        }
        test "incomplete beta: closed forms and tabulated values" {
            for x in [ 0.0; 0.001; 0.3; 0.5; 0.92; 1.0 ] do
                near 1e-14 x (SpecialFunctions.incompleteBeta 1.0 1.0 x) (sprintf "I_%g(1, 1) = x" x)
                near 1e-13 (x ** 3.7) (SpecialFunctions.incompleteBeta 3.7 1.0 x) (sprintf "I_%g(3.7, 1) = x^3.7" x)
                near 1e-13 (1.0 - (1.0 - x) ** 2.2) (SpecialFunctions.incompleteBeta 1.0 2.2 x) (sprintf "I_%g(1, 2.2)" x)
            near 1e-14 0.5 (SpecialFunctions.incompleteBeta 4.5 4.5 0.5) "I_(1/2)(a, a) = 1/2"
            near 1e-13 0.31900317528430869850 (SpecialFunctions.incompleteBeta 2.5 3.7 0.3) "I_0.3(2.5, 3.7)"
            near 1e-13 0.17821754497024134616 (SpecialFunctions.incompleteBeta 30.0 0.5 0.97) "I_0.97(30, 1/2)"
            near 1e-13 0.020135041633377491182 (SpecialFunctions.incompleteBeta 0.5 0.5 0.001) "I_0.001(1/2, 1/2)"
        }
        property "incomplete beta: the binomial tail P(Bin(n, p) ≥ k) = I_p(k, n − k + 1)" <| fun (n0: int) (k0: int) (p0: int) ->
            let n = 1 + modulo 40 n0
            let k = 1 + modulo n k0
            let p = probability p0
            let choose n j = exp (SpecialFunctions.logGamma (float n + 1.0) - SpecialFunctions.logGamma (float j + 1.0) - SpecialFunctions.logGamma (float (n - j) + 1.0))
            let tail = Seq.sum [ for j in k .. n -> choose n j * p ** float j * (1.0 - p) ** float (n - j) ]
            abs (SpecialFunctions.incompleteBeta (float k) (float (n - k + 1)) p - tail) <= 1e-11
        property "incomplete beta: I_x(a, b) = 1 − I_(1−x)(b, a)" <| fun (a0: int) (b0: int) (x0: int) ->
            let a, b, x = 0.1 + float (modulo 300 a0) / 10.0, 0.1 + float (modulo 300 b0) / 10.0, probability x0
            abs (SpecialFunctions.incompleteBeta a b x - (1.0 - SpecialFunctions.incompleteBeta b a (1.0 - x))) <= 1e-12
        test "normal tails: Φ(0) = 1/2, Φ(1.959964) = 0.975, P(Z > √2) = erfc(1)/2, symmetry" {
            near 1e-15 0.5 (SpecialFunctions.normalCdf 0.0) "Φ(0)"
            near 1e-12 0.975 (SpecialFunctions.normalCdf 1.959963984540054) "the 97.5% quantile"
            near 1e-14 0.078649603525142565329 (SpecialFunctions.normalUpperTail (sqrt 2.0)) "erfc(1) / 2"
            for z in [ 0.3; 1.0; 2.5; 6.0 ] do
                near 1e-15 1.0 (SpecialFunctions.normalCdf z + SpecialFunctions.normalCdf (-z)) (sprintf "Φ(%g) + Φ(−%g)" z z)
        }
        property "Student's t: closed forms for ν = 1 (Cauchy) and ν = 2" <| fun (t0: int) ->
            let t = float (t0 % 2000) / 37.0
            let cauchy = 1.0 - 2.0 / Math.PI * atan (abs t)
            let two = 1.0 - abs t / sqrt (2.0 + t * t)
            abs (SpecialFunctions.studentTwoSided 1.0 t - cauchy) <= 1e-13 && abs (SpecialFunctions.studentTwoSided 2.0 t - two) <= 1e-13
        test "Student's t: tabulated two-sided critical values and other values" {
            near 1e-7 0.05 (SpecialFunctions.studentTwoSided 8.0 2.306004) "t(8), 5%: 2.306004"
            near 1e-7 0.05 (SpecialFunctions.studentTwoSided 19.0 2.093024) "t(19), 5%: 2.093024"
            near 1e-7 0.01 (SpecialFunctions.studentTwoSided 10.0 3.169273) "t(10), 1%: 3.169273"
            near 1e-13 0.0500000105529334582 (SpecialFunctions.studentTwoSided 8.0 2.306004) "t(8) at 2.306004 (mpmath)"
            near 1e-13 0.32530861542602989123 (SpecialFunctions.studentTwoSided 30.0 1.0) "t(30) at 1"
            near 1e-13 0.65144796484815099444 (SpecialFunctions.studentTwoSided 3.0 -0.5) "t(3) at −0.5"
            Expect.equal (SpecialFunctions.studentTwoSided 5.0 0.0) 1.0 "t = 0"
            Expect.equal (SpecialFunctions.studentTwoSided 5.0 infinity) 0.0 "t = ∞"
        }
    ]
