namespace EnergyFs.Data

open System
open EnergyFs

/// What `TargetQuantization.analyze` finds in a set of regression targets.
type QuantizationReport =
    { /// Number of targets.
      Count: int
      /// Number of distinct values.
      Distinct: int
      /// The common step of the values, when every gap between consecutive distinct values is an
      /// integer multiple of the smallest gap (to 10⁻³ of it: float32 targets, standardised); None otherwise (or with one value).
      Step: float option
      /// Whether the targets are quantized enough to distort a density's NLL: at most
      /// `TargetQuantization.fewValues` distinct values, or a common step with ties (fewer distinct
      /// values than half the targets).
      Quantized: bool }

/// Targets that take few distinct values (integer ratings, rounded measurements): a continuous
/// density model fitted to them can put spikes on the values and reach NLLs far below any
/// continuous-data figure (issue #16: NLL ≈ −3 on a set whose target takes six values). The usual
/// remedy is dequantization (Theis, van den Oord & Bethge, "A note on the evaluation of generative
/// models", ICLR 2016, Sec. 3.1; Uria, Murray & Larochelle, RNADE, NeurIPS 2013): add uniform noise
/// of the quantization width, u ~ U(−Δ/2, Δ/2), so that the model's NLL is that of a continuous
/// variable, and −log Δ + NLL bounds the discrete NLL.
[<RequireQualifiedAccess>]
module TargetQuantization =

    /// At most this many distinct values is "few" (20).
    let fewValues = 20

    /// The distinct values, the common step and whether the targets count as quantized.
    let analyze (values: float[]) : QuantizationReport =
        Checks.require "values" (values.Length >= 1) "no targets"
        let distinct = values |> Array.distinct |> Array.sort
        let gaps = Array.pairwise distinct |> Array.map (fun (a, b) -> b - a)
        let step =
            if gaps.Length = 0 then None
            else
                let g = Array.min gaps
                let multiple (d: float) = let r = d / g in abs (r - Math.Round r) <= 1e-3
                if g > 0.0 && Array.forall multiple gaps then Some g else None
        { Count = values.Length
          Distinct = distinct.Length
          Step = step
          Quantized = distinct.Length <= fewValues || (step.IsSome && distinct.Length * 2 < values.Length) }

    /// The width Δ to dequantize with: the common step, else the smallest gap between distinct values
    /// (None for a single value).
    let width (report: QuantizationReport) (values: float[]) : float option =
        match report.Step with
        | Some s -> Some s
        | None ->
            let distinct = values |> Array.distinct |> Array.sort
            if distinct.Length < 2 then None else Some (Array.pairwise distinct |> Array.map (fun (a, b) -> b - a) |> Array.min)

    /// A one-line warning for a quantized report (None when not quantized).
    let warning (what: string) (report: QuantizationReport) : string option =
        if not report.Quantized then None
        else
            let step = match report.Step with Some s -> sprintf ", a common step of %g" s | None -> ""
            Some (sprintf "%s takes %d distinct values in %d rows%s: a continuous density can put spikes on them, and its NLL is not comparable with continuous-target figures (dequantize to compare)"
                      what report.Distinct report.Count step)

    /// y + u, u ~ U(−Δ/2, Δ/2) elementwise, drawn from `rng` (Δ = `width` in y's units).
    let dequantize (rng: Rng) (width: float) (y: Tensor) : Tensor =
        Checks.positive "width" width
        let ctx = { Device = y.device; DType = y.dtype }
        use u = Tensor.uniform rng ctx (-0.5 * width) (0.5 * width) (List.ofArray y.shape)
        y + u
