namespace EnergyFs.Metrics

open System
open EnergyFs

/// The special functions behind the p-values of `PairedTests`: log Γ, the regularized incomplete
/// gamma and beta functions, and from them the tail probabilities of the standard normal and of
/// Student's t. Double precision, written from the series and continued fractions of Abramowitz &
/// Stegun (1964) §6.5 and §26.5 with the modified Lentz method (Lentz 1976; Thompson & Barnett 1986)
/// for the continued fractions; relative accuracy about 1e-13 over the ranges the tests use.
[<RequireQualifiedAccess>]
module SpecialFunctions =

    // Lanczos (1964) approximation with g = 7 and nine coefficients (Godfrey's set): for x ≥ 1/2,
    //   Γ(x) = √(2π) t^(x − 1/2) e^(−t) A(x),  t = x + g − 1/2,  A(x) = c₀ + Σₖ cₖ / (x − 1 + k);
    // the reflection formula Γ(x) Γ(1 − x) = π / sin(πx) covers x < 1/2.
    let private lanczos =
        [| 0.99999999999980993; 676.5203681218851; -1259.1392167224028; 771.32342877765313
           -176.61502916214059; 12.507343278686905; -0.13857109526572012; 9.9843695780195716e-6
           1.5056327351493116e-7 |]

    /// ln |Γ(x)| for x > 0 (Lanczos approximation, relative error below 1e-14). Raises
    /// ArgumentException ("x") for x ≤ 0 or NaN.
    let rec logGamma (x: float) : float =
        Checks.require "x" (x > 0.0) (sprintf "logGamma is defined here for x > 0, got %g" x)
        if x < 0.5 then log (Math.PI / abs (sin (Math.PI * x))) - logGamma (1.0 - x)
        else
            let x = x - 1.0
            let mutable a = lanczos[0]
            let t = x + 7.5
            for k in 1 .. 8 do a <- a + lanczos[k] / (x + float k)
            0.5 * log (2.0 * Math.PI) + (x + 0.5) * log t - t + log a

    let private epsilon = 1e-15
    let private tiny = 1e-300
    let private maxIterations = 10000

    /// The continued fraction b₀ + a₁/(b₁ + a₂/(b₂ + …)) by the modified Lentz method, with
    /// coefficient k ≥ 1 given by `term k = (aₖ, bₖ)`.
    let private lentz (b0: float) (term: int -> float * float) : float =
        let mutable f = if b0 = 0.0 then tiny else b0
        let mutable c = f
        let mutable d = 0.0
        let mutable k = 1
        let mutable fin = false
        while not fin do
            let a, b = term k
            d <- b + a * d
            if abs d < tiny then d <- tiny
            c <- b + a / c
            if abs c < tiny then c <- tiny
            d <- 1.0 / d
            let delta = c * d
            f <- f * delta
            if abs (delta - 1.0) < epsilon then fin <- true
            elif k >= maxIterations then failwithf "continued fraction did not converge in %d terms" maxIterations
            k <- k + 1
        f

    /// The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a) = (1/Γ(a)) ∫₀ˣ t^(a−1) e^(−t) dt
    /// and its complement Q = 1 − P, as (P, Q), each computed directly where it is small (A&S 6.5.29
    /// series for x < a + 1, the continued fraction 6.5.31 for Q otherwise). a > 0, x ≥ 0.
    let incompleteGamma (a: float) (x: float) : float * float =
        Checks.require "a" (a > 0.0) (sprintf "the incomplete gamma function needs a > 0, got %g" a)
        Checks.require "x" (x >= 0.0) (sprintf "the incomplete gamma function needs x ≥ 0, got %g" x)
        if x = 0.0 then 0.0, 1.0
        elif Double.IsPositiveInfinity x then 1.0, 0.0
        else
            let front = exp (a * log x - x - logGamma a)
            if x < a + 1.0 then
                // P = e^(−x) x^a / Γ(a + 1) · Σₙ xⁿ / ((a + 1)…(a + n)).
                let mutable term = 1.0 / a
                let mutable sum = term
                let mutable n = 1
                while abs term > abs sum * epsilon && n < maxIterations do
                    term <- term * x / (a + float n)
                    sum <- sum + term
                    n <- n + 1
                let p = front * sum
                p, 1.0 - p
            else
                // Q = e^(−x) x^a / Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − 2·(2 − a)/(x + 5 − a − …))).
                let cf = lentz (x + 1.0 - a) (fun k -> -(float k) * (float k - a), x + 1.0 - a + 2.0 * float k)
                let q = front / cf
                1.0 - q, q

    /// The continued fraction of the incomplete beta function (A&S 26.5.8), valid for
    /// x < (a + 1) / (a + b + 2): I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · 1/(1 + d₁/(1 + d₂/(1 + …))).
    let private betaFraction (a: float) (b: float) (x: float) : float =
        let coefficient k =
            let m = float (k / 2)
            if k % 2 = 0 then m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
            else -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        // 1/(1 + d₁/(1 + d₂/…)): the fraction 0 + 1/(1 + d₁/(1 + …)) with a₁ = 1, aₖ = dₖ₋₁.
        lentz 0.0 (fun k -> (if k = 1 then 1.0 else coefficient (k - 1)), 1.0)

    /// The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b) =
    /// (1/B(a, b)) ∫₀ˣ t^(a−1) (1 − t)^(b−1) dt, for a, b > 0 and 0 ≤ x ≤ 1 (the continued fraction
    /// where it converges fast, I_x(a, b) = 1 − I_(1−x)(b, a) elsewhere).
    let incompleteBeta (a: float) (b: float) (x: float) : float =
        Checks.require "a" (a > 0.0) (sprintf "the incomplete beta function needs a > 0, got %g" a)
        Checks.require "b" (b > 0.0) (sprintf "the incomplete beta function needs b > 0, got %g" b)
        Checks.require "x" (x >= 0.0 && x <= 1.0) (sprintf "the incomplete beta function needs 0 ≤ x ≤ 1, got %g" x)
        if x = 0.0 then 0.0
        elif x = 1.0 then 1.0
        else
            let logFront = logGamma (a + b) - logGamma a - logGamma b + a * log x + b * log (1.0 - x)
            if x < (a + 1.0) / (a + b + 2.0) then exp logFront / a * betaFraction a b x
            else 1.0 - exp logFront / b * betaFraction b a (1.0 - x)

    /// P(Z > z) for a standard normal Z: erfc(z/√2)/2, with erfc(u) = Q(1/2, u²) for u ≥ 0.
    let normalUpperTail (z: float) : float =
        Checks.require "z" (not (Double.IsNaN z)) "the normal tail of NaN"
        let q = snd (incompleteGamma 0.5 (z * z / 2.0))
        if z >= 0.0 then 0.5 * q else 1.0 - 0.5 * q

    /// Φ(z) = P(Z ≤ z) for a standard normal Z.
    let normalCdf (z: float) : float = normalUpperTail (-z)

    /// The two-sided tail of Student's t with ν degrees of freedom: P(|T| ≥ |t|) = I_(ν/(ν + t²))(ν/2, 1/2)
    /// (A&S 26.7.1 through 26.5.27); 1 at t = 0, 0 at |t| = ∞. ν > 0 (need not be an integer).
    let studentTwoSided (degreesOfFreedom: float) (t: float) : float =
        Checks.require "degreesOfFreedom" (degreesOfFreedom > 0.0) (sprintf "Student's t needs ν > 0, got %g" degreesOfFreedom)
        Checks.require "t" (not (Double.IsNaN t)) "the t tail of NaN"
        if Double.IsInfinity t then 0.0
        else incompleteBeta (degreesOfFreedom / 2.0) 0.5 (degreesOfFreedom / (degreesOfFreedom + t * t))
