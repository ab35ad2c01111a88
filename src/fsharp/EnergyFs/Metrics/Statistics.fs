namespace EnergyFs.Metrics

open EnergyFs

/// Summary statistics of repeated measurements (seeds, splits): the one mean ± standard deviation
/// every table, report and JSON of EnergyFs uses.
[<RequireQualifiedAccess>]
module Statistics =

    /// Mean and **sample** standard deviation of the values:
    ///
    ///   m = (1/n) Σᵢ xᵢ,   s = √( Σᵢ (xᵢ − m)² / (n − 1) )   (Bessel's correction, n − 1),
    ///
    /// and s = 0 for a single value (n = 1). This is the unbiased-variance estimate, the
    /// convention of results reported as "mean ± std over seeds" (and of numpy's `std(ddof=1)`);
    /// it is √(n / (n − 1)) times the population standard deviation (divisor n). The values are
    /// summed in order, as `List.average` does, so the mean is bit-identical to it.
    /// Raises ArgumentException ("values") when there are none.
    let meanStd (values: float seq) : float * float =
        let xs = Array.ofSeq values
        if xs.Length = 0 then Checks.fail "values" "meanStd needs at least one value (got an empty sequence)"
        let n = xs.Length
        let mutable sum = 0.0
        for x in xs do sum <- sum + x
        let m = sum / float n
        if n = 1 then m, 0.0
        else
            let mutable squares = 0.0
            for x in xs do squares <- squares + (x - m) ** 2.0
            m, sqrt (squares / float (n - 1))
