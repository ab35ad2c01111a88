using Microsoft.FSharp.Collections;
using TorchSharp;
using TorchSharp.Modules;
using static EnergyFs.CSharp.FSharpInterop;
using EnergyFs.Solvers;
using Emd = EnergyFs.Solvers.MirrorDescent;
using Pgd = EnergyFs.Solvers.ProjectedGradient;

namespace EnergyFs.CSharp;

/// <summary>Options of <see cref="StructuredEnergyModel.Infer"/> (entropic mirror descent); the defaults are those of the
/// F# <c>MirrorDescent.inferenceDefaults</c> with τ = 1.</summary>
public sealed record MirrorDescentOptions
{
    /// <summary>Mirror-descent steps (default 30).</summary>
    public int Steps { get; init; } = Emd.inferenceDefaults.MaxIterations;
    /// <summary>Step size η of the multiplicative update (default 0.5).</summary>
    public double StepSize { get; init; } = FixedStepOf(Emd.inferenceDefaults).size;
    /// <summary>Entropy weight τ of argmin E(x, ȳ) − τH(ȳ) (default 1).</summary>
    public double Entropy { get; init; } = 1.0;

    internal static StepRule.FixedStep FixedStepOf(FirstOrderOptions options) => (StepRule.FixedStep)options.Step;

    internal FirstOrderOptions ToFSharp() =>
        new(Direction.Minimize, StepRule.NewFixedStep(Positive(StepSize, nameof(StepSize)), 0.0), Positive(Steps, nameof(Steps)), null);
}

/// <summary>Options of <see cref="StructuredEnergyModel.InferProjected"/> (projected gradient descent with momentum); the
/// defaults are those of the F# <c>ProjectedGradient.inferenceDefaults</c>.</summary>
public sealed record ProjectedGradientOptions
{
    /// <summary>Gradient steps (default 30).</summary>
    public int Steps { get; init; } = Pgd.inferenceDefaults.MaxIterations;
    /// <summary>Step size η (default 0.1).</summary>
    public double StepSize { get; init; } = MirrorDescentOptions.FixedStepOf(Pgd.inferenceDefaults).size;
    /// <summary>Heavy-ball momentum in [0, 1) (default 0.5).</summary>
    public double Momentum { get; init; } = MirrorDescentOptions.FixedStepOf(Pgd.inferenceDefaults).momentum;

    internal FirstOrderOptions ToFSharp()
    {
        if (!(Momentum >= 0.0 && Momentum < 1.0)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1)");
        return new(Direction.Minimize, StepRule.NewFixedStep(Positive(StepSize, nameof(StepSize)), Momentum), Positive(Steps, nameof(Steps)), null);
    }
}

/// <summary>A structured prediction energy network (SPEN) for multilabel classification (Belanger &amp; McCallum 2016,
/// "Structured Prediction Energy Networks", ICML, arXiv 1511.06350):
/// E(x, ȳ) = −Σᵢ ȳᵢ bᵢᵀF(x) + c₂ᵀ softplus(C₁ȳ) over relaxed labels ȳ ∈ [0,1]ᴸ, with features F(x) given by the caller,
/// and its gradient-based inference ŷ ≈ argmin_ȳ E(x, ȳ). Owns its parameters: dispose it.</summary>
public sealed class StructuredEnergyModel : IDisposable
{
    private readonly FSharpList<Parameter> _parameters;
    private bool _disposed;

    /// <summary>A SPEN initialised from <paramref name="rng"/>; non-positive sizes throw ArgumentException.</summary>
    /// <param name="labels">Number of labels L.</param>
    /// <param name="featureDim">Dimension of the features F(x).</param>
    /// <param name="hidden">Global (label-interaction) hidden units, the rows of C₁.</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and type (default <see cref="DeviceContext.Cpu"/>).</param>
    public StructuredEnergyModel(int labels, int featureDim, int hidden, RandomGenerator rng, DeviceContext? context = null) =>
        _parameters = ScopedWith(() => EnergyFs.Energies.Spen.create(NotNull(rng).Inner, (context ?? DeviceContext.Cpu).Inner, labels, featureDim, hidden), ps => ps);

    internal FSharpList<Parameter> Inner
    {
        get { NotDisposed(_disposed, this); return _parameters; }
    }

    /// <summary>Number of labels L.</summary>
    public int Labels => (int)Inner.Head.shape[0];

    /// <summary>Dimension of the features F(x).</summary>
    public int FeatureDim => (int)Inner.Head.shape[1];

    /// <summary>The parameters θ = [B, C₁, c₂] (owned by the model; give them to an optimizer to train).</summary>
    public IReadOnlyList<Parameter> Parameters => Inner.ToList();

    private FSharpList<torch.Tensor> Theta => List(Inner.Select(p => (torch.Tensor)p));

    private void CheckFeatures(torch.Tensor features)
    {
        Rank(features, 2, "features [n, featureDim]");
        if (features.shape[1] != FeatureDim)
            throw new ArgumentException($"features must have {FeatureDim} columns (featureDim), got shape {Shape(features)}", nameof(features));
    }

    /// <summary>E(x, ȳ) per example, [n], differentiable in θ and ȳ.</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L].</param>
    public torch.Tensor Energy(torch.Tensor features, torch.Tensor labels)
    {
        CheckFeatures(features);
        return Scoped(() => EnergyFs.Energies.Spen.energy(Theta, features, NotNull(labels)));
    }

    /// <summary>∇_ȳ E(x, ȳ) = −BF(x) + C₁ᵀ(c₂ ⊙ σ(C₁ȳ)) in closed form, [n, L].</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L].</param>
    public torch.Tensor LabelGradient(torch.Tensor features, torch.Tensor labels)
    {
        CheckFeatures(features);
        return Scoped(() => EnergyFs.Energies.Spen.gradLabels(Theta, features, NotNull(labels)));
    }

    // ŷ = solver(ȳ ↦ E(x, ȳ) with θ detached, ȳ₀ = ½); temporaries are freed, only ŷ survives.
    private torch.Tensor Minimize(torch.Tensor features, Func<Func<torch.Tensor, torch.Tensor>, torch.Tensor, torch.Tensor> solver)
    {
        CheckFeatures(features);
        using var scope = torch.NewDisposeScope();
        var theta = List(Theta.Select(t => t.detach()));
        var y0 = torch.full(new[] { features.shape[0], (long)Labels }, 0.5, dtype: features.dtype, device: features.device);
        return solver(y => EnergyFs.Energies.Spen.energy(theta, features, y), y0).MoveToOuterDisposeScope();
    }

    /// <summary>ŷ ≈ argmin_{ȳ ∈ [0,1]ᴸ} E(x, ȳ) − τH(ȳ) by entropic mirror descent from ȳ = ½ (no gradient to θ), [n, L].</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="options">Steps, step size and entropy weight τ.</param>
    public torch.Tensor Infer(torch.Tensor features, MirrorDescentOptions? options = null)
    {
        var o = (options ?? new()).ToFSharp();
        var tau = (options ?? new()).Entropy;
        return Minimize(features, (f, y0) => Emd.entropicBoxInference(tau, o, Fn(f), y0));
    }

    /// <summary>ŷ ≈ argmin_{ȳ ∈ [0,1]ᴸ} E(x, ȳ) by projected gradient descent with momentum from ȳ = ½ (no gradient to θ), [n, L].</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="options">Steps, step size and momentum.</param>
    public torch.Tensor InferProjected(torch.Tensor features, ProjectedGradientOptions? options = null)
    {
        var o = (options ?? new()).ToFSharp();
        return Minimize(features, (f, y0) => Pgd.boxInference(o, Fn(f), y0));
    }

    /// <summary>Frees the parameters; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters) p.Dispose();
    }
}

/// <summary>An inference network A_ψ(x) = σ(MLP_ψ(x)) ∈ (0,1)ᴸ that replaces gradient-based SPEN inference by one
/// forward pass (Tu &amp; Gimpel 2018, "Learning Approximate Inference Networks for Structured Prediction", ICLR,
/// arXiv 1803.03376). Owns its parameters: dispose it.</summary>
public sealed class InferenceNetwork : IDisposable
{
    private readonly FSharpList<Parameter> _parameters;
    private bool _disposed;

    /// <summary>An MLP with ReLU hidden layers, initialised from <paramref name="rng"/>.</summary>
    /// <param name="layerSizes">Layer widths (input, hidden…, labels): at least two, all positive.</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and type (default <see cref="DeviceContext.Cpu"/>).</param>
    public InferenceNetwork(int[] layerSizes, RandomGenerator rng, DeviceContext? context = null) =>
        _parameters = ScopedWith(() => EnergyFs.Models.FunctionalMlp.create(NotNull(rng).Inner, (context ?? DeviceContext.Cpu).Inner, List(NotNull(layerSizes))), ps => ps);

    private InferenceNetwork(FSharpList<Parameter> parameters) => _parameters = parameters;

    internal FSharpList<Parameter> Inner
    {
        get { NotDisposed(_disposed, this); return _parameters; }
    }

    /// <summary>Input width.</summary>
    public int Inputs => (int)Inner.Head.shape[1];

    /// <summary>Output width (labels L).</summary>
    public int Outputs => (int)Inner[Inner.Length - 2].shape[0];

    /// <summary>An independent copy (for example, a test-time network started from a pretrained one); dispose it too.</summary>
    public InferenceNetwork Copy() => new(ScopedWith(() => EnergyFs.Models.InferenceNetwork.initFrom(Inner), ps => ps));

    /// <summary>The parameters ψ = [W₁, b₁, …] (owned by the network).</summary>
    public IReadOnlyList<Parameter> Parameters => Inner.ToList();

    /// <summary>A_ψ(x) = σ(MLP_ψ(x)) ∈ (0,1)^{n×L}.</summary>
    /// <param name="x">Inputs [n, Inputs].</param>
    public torch.Tensor Predict(torch.Tensor x)
    {
        Rank(x, 2, "inputs [n, d]");
        if (x.shape[1] != Inputs) throw new ArgumentException($"x must have {Inputs} columns, got shape {Shape(x)}", nameof(x));
        return Scoped(() => EnergyFs.Models.InferenceNetwork.predict(List(Inner.Select(p => (torch.Tensor)p)), x));
    }

    /// <summary>Frees the parameters; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters) p.Dispose();
    }
}
