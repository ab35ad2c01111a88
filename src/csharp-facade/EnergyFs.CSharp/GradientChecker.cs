using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Step and tolerances of a finite-difference check; the defaults are those of the F# <c>GradCheck.defaults</c>.</summary>
public sealed record GradientCheckOptions
{
    private static readonly EnergyFs.GradCheck.Options Defaults = EnergyFs.GradCheck.defaults;

    /// <summary>Finite-difference step ε of the central difference (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε (default 1e-6).</summary>
    public double Epsilon { get; init; } = Defaults.Epsilon;
    /// <summary>Relative tolerance: an entry passes when |a − n| ≤ AbsoluteTolerance + RelativeTolerance·|n| (default 1e-4).</summary>
    public double RelativeTolerance { get; init; } = Defaults.RelativeTolerance;
    /// <summary>Absolute tolerance (default 1e-6).</summary>
    public double AbsoluteTolerance { get; init; } = Defaults.AbsoluteTolerance;

    internal EnergyFs.GradCheck.Options ToFSharp() =>
        new(Positive(Epsilon, nameof(Epsilon)), RelativeTolerance >= 0 ? RelativeTolerance : throw new ArgumentOutOfRangeException(nameof(RelativeTolerance)),
            AbsoluteTolerance >= 0 ? AbsoluteTolerance : throw new ArgumentOutOfRangeException(nameof(AbsoluteTolerance)));
}

/// <summary>The outcome of a finite-difference check.</summary>
/// <param name="Passed">Whether every entry is within tolerance.</param>
/// <param name="MaxAbsoluteError">Largest |analytic − numerical| over the entries.</param>
/// <param name="WorstIndex">Flat (row-major) index of the worst entry.</param>
/// <param name="Analytic">The analytic derivative at the worst entry.</param>
/// <param name="Numerical">The finite-difference derivative at the worst entry.</param>
public sealed record GradientCheckResult(bool Passed, double MaxAbsoluteError, int WorstIndex, double Analytic, double Numerical)
{
    internal static GradientCheckResult Of(EnergyFs.GradCheck.Report r) =>
        new(r.Passed, r.MaxAbsoluteError, r.WorstIndex, r.Analytic, r.Numerical);
}

/// <summary>Checks derivatives against central finite differences, entry by entry. Evaluate in float64
/// (<see cref="DeviceContext.Cpu64"/>): float32 round-off swamps the differences.</summary>
public static class GradientChecker
{
    /// <summary>Checks <see cref="Autodiff.Grad"/> of a scalar-valued <paramref name="f"/> at <paramref name="x"/>.</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="x">The point (float64).</param>
    /// <param name="options">Step and tolerances (default: <see cref="GradientCheckOptions"/>'s defaults).</param>
    public static GradientCheckResult CheckGrad(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x, GradientCheckOptions? options = null) =>
        ScopedValue(() => GradientCheckResult.Of(EnergyFs.GradCheck.grad((options ?? new()).ToFSharp(), Fn(NotNull(f)), NotNull(x))));

    /// <summary>Checks a hand-written gradient <paramref name="gradient"/> of <paramref name="f"/> at <paramref name="x"/>
    /// (for example a closed-form gradient that bypasses autograd).</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="gradient">The claimed ∇f, returning a tensor of the shape of x.</param>
    /// <param name="x">The point (float64).</param>
    /// <param name="options">Step and tolerances.</param>
    public static GradientCheckResult CheckGradient(Func<torch.Tensor, torch.Tensor> f, Func<torch.Tensor, torch.Tensor> gradient, torch.Tensor x, GradientCheckOptions? options = null) =>
        ScopedValue(() => GradientCheckResult.Of(EnergyFs.GradCheck.gradFunction((options ?? new()).ToFSharp(), Fn(NotNull(f)), Fn(NotNull(gradient)), NotNull(x))));

    /// <summary>Checks <see cref="Autodiff.Hvp"/> ∇²f(x) v against central differences of the gradient,
    /// (∇f(x + εv) − ∇f(x − εv)) / 2ε.</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="x">The point (float64).</param>
    /// <param name="v">The direction, with the shape of x.</param>
    /// <param name="options">Step and tolerances.</param>
    public static GradientCheckResult CheckHvp(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x, torch.Tensor v, GradientCheckOptions? options = null) =>
        ScopedValue(() => GradientCheckResult.Of(EnergyFs.GradCheck.hvp((options ?? new()).ToFSharp(), Fn(NotNull(f)), NotNull(x), NotNull(v))));
}
