namespace EnergyFs.Metrics

open System
open EnergyFs

/// The Wilcoxon signed-rank test of paired differences (two-sided, null: symmetric about 0).
type WilcoxonResult =
    { /// V: the sum of the ranks of |dᵢ| over the positive differences (average ranks for ties).
      Statistic: float
      /// Number of nonzero differences (zeros are dropped before ranking, as R does).
      NonZero: int
      /// The two-sided p-value; NaN when no difference is nonzero.
      P: float
      /// Whether P is from the exact null distribution (n < 50, no ties, no zeros) rather than the
      /// normal approximation with tie and continuity corrections.
      Exact: bool }

/// The paired t-test (two-sided): t = d̄ / (s_d / √n) with n − 1 degrees of freedom.
type PairedTResult =
    { /// The t statistic; NaN with fewer than two pairs or constant differences.
      Statistic: float
      /// n − 1.
      DegreesOfFreedom: int
      /// The two-sided p-value; NaN where the statistic is.
      P: float }

/// Two paired samples compared: the differences dᵢ = firstᵢ − secondᵢ, their signs and both tests.
type PairedComparison =
    { /// Number of pairs.
      Count: int
      /// The mean of dᵢ = firstᵢ − secondᵢ.
      MeanDifference: float
      /// Pairs with first > second.
      Positive: int
      /// Pairs with first < second.
      Negative: int
      /// Pairs with first = second.
      Zero: int
      /// The Wilcoxon signed-rank test of the differences.
      Wilcoxon: WilcoxonResult
      /// The paired t-test of the differences.
      T: PairedTResult }

/// Paired two-sample tests, for comparing two methods on the same splits or seeds (issue #16: test
/// NLLs over the 20 UCI splits). Both tests are two-sided and follow R's `wilcox.test(x, y, paired =
/// TRUE)` and `t.test(x, y, paired = TRUE)`:
///
/// - Wilcoxon (1945) signed-rank: drop the zero differences, rank |dᵢ| (average ranks for ties),
///   V = Σ ranks of the positive dᵢ. Without ties or zeros and with n < 50 the p-value is exact:
///   under the null V is distributed as the sum of a random subset of {1, …, n}, counted by dynamic
///   programming, and p = min(1, 2 min(P(V ≤ v), P(V ≥ v))). Otherwise the normal approximation
///   z = (V − n(n+1)/4 − ½ sgn) / σ with σ² = n(n+1)(2n+1)/24 − Σⱼ (tⱼ³ − tⱼ)/48 over tie groups of
///   sizes tⱼ (Hollander & Wolfe 1973, §3.1).
/// - Student's paired t: t = d̄ √n / s_d (sample std), p = P(|T_(n−1)| ≥ |t|).
///
/// The normal and Student-t tail probabilities come from MathNet.Numerics (`Distributions.Normal`,
/// `Distributions.StudentT`); only the exact signed-rank distribution, which it lacks, is written here.
[<RequireQualifiedAccess>]
module PairedTests =

    /// Below this many nonzero differences (and without ties or zeros) the Wilcoxon p-value is exact (R's rule).
    let exactBelow = 50

    let private checkFinite (argument: string) (xs: float[]) =
        match xs |> Array.tryFindIndex (fun x -> not (Double.IsFinite x)) with
        | Some i -> Checks.fail argument (sprintf "value %d is %g: paired tests need finite values" i xs[i])
        | None -> ()

    /// Average ranks (1-based) of the values, ties sharing the mean of their positions, and the sizes
    /// of the tie groups (those of size ≥ 2).
    let averageRanks (values: float[]) : float[] * int list =
        let order = Array.init values.Length id |> Array.sortBy (fun i -> values[i])
        let ranks = Array.zeroCreate values.Length
        let mutable ties = []
        let mutable i = 0
        while i < order.Length do
            let mutable j = i
            while j + 1 < order.Length && values[order[j + 1]] = values[order[i]] do j <- j + 1
            let rank = float (i + j + 2) / 2.0
            for k in i .. j do ranks[order[k]] <- rank
            if j > i then ties <- (j - i + 1) :: ties
            i <- j + 1
        ranks, List.rev ties

    /// P(V ≤ v) for every v = 0 … n(n+1)/2 under the null: the number of subsets of {1, …, n} with
    /// sum ≤ v over 2ⁿ (exact in double precision for n < 53).
    let signedRankCdf (n: int) : float[] =
        Checks.require "n" (n >= 0 && n < 53) (sprintf "the exact signed-rank distribution is computed for 0 ≤ n < 53, got %d" n)
        let top = n * (n + 1) / 2
        let counts = Array.zeroCreate (top + 1)
        counts[0] <- 1.0
        for k in 1 .. n do
            // Add k to every subset of {1, …, k − 1}: descending so that each subset takes k once.
            for s in k * (k + 1) / 2 .. -1 .. k do counts[s] <- counts[s] + counts[s - k]
        let total = Math.Pow(2.0, float n)
        let cdf = Array.zeroCreate (top + 1)
        let mutable acc = 0.0
        for s in 0 .. top do
            acc <- acc + counts[s]
            cdf[s] <- acc / total
        cdf

    /// The two-sided Wilcoxon signed-rank test of the differences (see the module's comment).
    /// Raises ArgumentException ("differences") on a non-finite value.
    let wilcoxonSignedRank (differences: float seq) : WilcoxonResult =
        let d = Array.ofSeq differences
        checkFinite "differences" d
        let nonZero = d |> Array.filter (fun x -> x <> 0.0)
        let n = nonZero.Length
        let hasZeros = n < d.Length
        if n = 0 then { Statistic = 0.0; NonZero = 0; P = nan; Exact = false }
        else
            let ranks, ties = averageRanks (nonZero |> Array.map abs)
            let v = Array.fold2 (fun acc x r -> if x > 0.0 then acc + r else acc) 0.0 nonZero ranks
            let mean = float n * float (n + 1) / 4.0
            if n < exactBelow && ties.IsEmpty && not hasZeros then
                let cdf = signedRankCdf n
                let vi = int (Math.Round v)
                // The null distribution is symmetric about n(n+1)/4: P(V ≥ v) = P(V ≤ n(n+1)/2 − v).
                let tail = if v > mean then cdf[cdf.Length - 1 - vi] else cdf[vi]
                { Statistic = v; NonZero = n; P = min 1.0 (2.0 * tail); Exact = true }
            else
                let nf = float n
                let tieTerm = ties |> List.sumBy (fun t -> float t ** 3.0 - float t)
                let sigma = sqrt (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tieTerm / 48.0)
                let z0 = v - mean
                let z = (z0 - 0.5 * float (sign z0)) / sigma
                { Statistic = v; NonZero = n; P = min 1.0 (2.0 * MathNet.Numerics.Distributions.Normal.CDF (0.0, 1.0, -(abs z))); Exact = false }

    /// The two-sided paired t-test of the differences: NaN statistic and p with fewer than two
    /// differences or when they are all equal (R stops there: "data are essentially constant").
    /// Raises ArgumentException ("differences") on a non-finite value.
    let pairedT (differences: float seq) : PairedTResult =
        let d = Array.ofSeq differences
        checkFinite "differences" d
        let n = d.Length
        if n < 2 then { Statistic = nan; DegreesOfFreedom = max 0 (n - 1); P = nan }
        else
            let m, s = Statistics.meanStd d
            if s = 0.0 then { Statistic = nan; DegreesOfFreedom = n - 1; P = nan }
            else
                let t = m / (s / sqrt (float n))
                { Statistic = t; DegreesOfFreedom = n - 1; P = 2.0 * MathNet.Numerics.Distributions.StudentT.CDF (0.0, 1.0, float (n - 1), -(abs t)) }

    /// Compares paired samples: dᵢ = firstᵢ − secondᵢ, the mean difference, how many pairs favour
    /// each side, and both tests. Raises ArgumentException ("second") when the lengths differ,
    /// ("first"/"second") on a non-finite value, ("first") when there are no pairs.
    let compare (first: float seq) (second: float seq) : PairedComparison =
        let a, b = Array.ofSeq first, Array.ofSeq second
        Checks.require "second" (a.Length = b.Length) (sprintf "paired samples need equal lengths: first has %d values, second %d" a.Length b.Length)
        Checks.require "first" (a.Length > 0) "paired samples need at least one pair"
        checkFinite "first" a
        checkFinite "second" b
        let d = Array.map2 (-) a b
        { Count = d.Length
          MeanDifference = Array.average d
          Positive = d |> Array.filter (fun x -> x > 0.0) |> Array.length
          Negative = d |> Array.filter (fun x -> x < 0.0) |> Array.length
          Zero = d |> Array.filter (fun x -> x = 0.0) |> Array.length
          Wilcoxon = wilcoxonSignedRank d
          T = pairedT d }
