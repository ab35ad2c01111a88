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

/// <summary>A structured energy E_θ(x, ȳ) over relaxed labels ȳ ∈ [0,1]ᴸ with features F(x) given by the caller, its
/// parameters θ, and gradient-based inference ŷ ≈ argmin_ȳ E(x, ȳ): by default the structured prediction energy network
/// (SPEN) of Belanger &amp; McCallum 2016 ("Structured Prediction Energy Networks", ICML, arXiv 1511.06350)
/// E(x, ȳ) = −Σᵢ ȳᵢ bᵢᵀF(x) + c₂ᵀ softplus(C₁ȳ) (<see cref="SpenEnergy"/>), or any <see cref="IStructuredEnergy"/> of
/// your own. Saved and loaded on its own (<see cref="Save"/>, kind "structured-energy") or inside a
/// <see cref="StructuredModel"/>. Owns its parameters: dispose it.</summary>
public sealed class StructuredEnergyModel : IDisposable
{
    internal const string Kind = "structured-energy";

    private readonly FSharpList<Parameter> _parameters;
    private readonly int _labels, _featureDim;
    private bool _disposed;

    /// <summary>A SPEN initialised from <paramref name="rng"/>; non-positive sizes throw ArgumentException.</summary>
    /// <param name="labels">Number of labels L.</param>
    /// <param name="featureDim">Dimension of the features F(x).</param>
    /// <param name="hidden">Global (label-interaction) hidden units, the rows of C₁.</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and type (default <see cref="DeviceContext.Cpu"/>).</param>
    public StructuredEnergyModel(int labels, int featureDim, int hidden, RandomGenerator rng, DeviceContext? context = null)
        : this(new SpenEnergy(Positive(hidden)), labels, featureDim, rng, context)
    {
    }

    /// <summary>A model of the energy <paramref name="energy"/> (built-in <see cref="SpenEnergy"/> or your own) with
    /// parameters from its <see cref="IStructuredEnergy.CreateParameters"/>; non-positive sizes throw
    /// ArgumentException.</summary>
    /// <param name="energy">The energy E_θ(F(x), ȳ).</param>
    /// <param name="labels">Number of labels L.</param>
    /// <param name="featureDim">Dimension of the features F(x).</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and type (default <see cref="DeviceContext.Cpu"/>).</param>
    public StructuredEnergyModel(IStructuredEnergy energy, int labels, int featureDim, RandomGenerator rng, DeviceContext? context = null)
    {
        Definition = NotNull(energy);
        _labels = Positive(labels);
        _featureDim = Positive(featureDim);
        NotNull(rng);
        Context = context ?? DeviceContext.Cpu;
        Library = StructuredEnergyAdapter.ToFSharp(energy);
        _parameters = StructuredEnergyAdapter.Create(energy, labels, featureDim, rng, Context);
    }

    private StructuredEnergyModel(IStructuredEnergy energy, int labels, int featureDim, DeviceContext context, FSharpList<Parameter> parameters)
    {
        Definition = energy;
        _labels = labels;
        _featureDim = featureDim;
        Context = context;
        Library = StructuredEnergyAdapter.ToFSharp(energy);
        _parameters = parameters;
    }

    internal FSharpList<Parameter> Inner
    {
        get { NotDisposed(_disposed, this); return _parameters; }
    }

    /// <summary>The library's form of the energy (the SPEN itself, or a wrapper of the C# energy).</summary>
    internal EnergyFs.Energies.StructuredEnergy Library { get; }

    /// <summary>The energy function E_θ(F(x), ȳ) (a <see cref="SpenEnergy"/> unless you gave your own).</summary>
    public IStructuredEnergy Definition { get; }

    /// <summary>Number of labels L.</summary>
    public int Labels
    {
        get { NotDisposed(_disposed, this); return _labels; }
    }

    /// <summary>Dimension of the features F(x).</summary>
    public int FeatureDim
    {
        get { NotDisposed(_disposed, this); return _featureDim; }
    }

    /// <summary>Device and floating-point type the parameters were created in.</summary>
    public DeviceContext Context { get; }

    /// <summary>The parameters θ (for the SPEN [B, C₁, c₂]; owned by the model; give them to an optimizer to train).</summary>
    public IReadOnlyList<Parameter> Parameters => Inner.ToList();

    private FSharpList<torch.Tensor> Theta => List(Inner.Select(p => (torch.Tensor)p));

    private void CheckFeatures(torch.Tensor features)
    {
        Rank(features, 2, "features [n, featureDim]");
        if (features.shape[1] != FeatureDim)
            throw new ArgumentException($"features must have {FeatureDim} columns (featureDim), got shape {Shape(features)}", nameof(features));
    }

    private void CheckLabels(torch.Tensor features, torch.Tensor labels)
    {
        Rank(labels, 2, "relaxed labels [n, L]");
        if (labels.shape[1] != Labels)
            throw new ArgumentException($"label count mismatch: the energy has {Labels} labels, labels has shape {Shape(labels)}", nameof(labels));
        SameRows(features, labels);
    }

    /// <summary>E(x, ȳ) per example, [n], differentiable in θ and ȳ.</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L].</param>
    public torch.Tensor Energy(torch.Tensor features, torch.Tensor labels)
    {
        CheckFeatures(features);
        CheckLabels(features, labels);
        return Scoped(() => EnergyFs.Energies.StructuredEnergyModule.value(Library, Theta, features, labels));
    }

    /// <summary>∇_ȳ E(x, ȳ), [n, L]: for the SPEN in closed form, −BF(x) + C₁ᵀ(c₂ ⊙ σ(C₁ȳ)); for other energies by
    /// autograd.</summary>
    /// <param name="features">Features F(x) [n, featureDim].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L].</param>
    public torch.Tensor LabelGradient(torch.Tensor features, torch.Tensor labels)
    {
        CheckFeatures(features);
        CheckLabels(features, labels);
        if (Definition is SpenEnergy) return Scoped(() => EnergyFs.Energies.Spen.gradLabels(Theta, features, labels));
        var theta = Theta;
        return Autodiff.Grad(y => EnergyFs.Energies.StructuredEnergyModule.value(Library, theta, features, y).sum(), labels);
    }

    // ŷ = solver(ȳ ↦ E(x, ȳ) with θ detached, ȳ₀ = ½); temporaries are freed, only ŷ survives.
    private torch.Tensor Minimize(torch.Tensor features, Func<Func<torch.Tensor, torch.Tensor>, torch.Tensor, torch.Tensor> solver)
    {
        CheckFeatures(features);
        using var scope = torch.NewDisposeScope();
        var theta = List(Theta.Select(t => t.detach()));
        var y0 = torch.full(new[] { features.shape[0], (long)Labels }, 0.5, dtype: features.dtype, device: features.device);
        return solver(y => EnergyFs.Energies.StructuredEnergyModule.value(Library, theta, features, y), y0).MoveToOuterDisposeScope();
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

    /// <summary>An independent copy (same energy, copied parameters); dispose it too.</summary>
    public StructuredEnergyModel Copy() =>
        new(Definition, Labels, FeatureDim, Context, ScopedWith(() => EnergyFs.Models.FunctionalMlp.copy(Inner), ps => ps));

    /// <summary>Writes the model to <paramref name="path"/> (kind "structured-energy"; the EnergyFs model file: a JSON
    /// header with the energy's name, sizes and type, then θ).</summary>
    /// <param name="path">The file to write (its folder is created when needed).</param>
    public void Save(string path) => SavedModels.Save(path, Kind, Header(), Named("theta"));

    /// <summary>Reads a SPEN saved by <see cref="Save"/>. A missing file throws FileNotFoundException; a file of another
    /// kind, a newer format version or a truncated file throws InvalidDataException naming the file; a file of an energy
    /// of your own throws ArgumentException (use <see cref="Load(string, IStructuredEnergy, DeviceContext?)"/>).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="context">Where to put the parameters (default: the CPU, in the type they were saved in).</param>
    public static StructuredEnergyModel Load(string path, DeviceContext? context = null) => LoadWith(path, null, context);

    /// <summary>Reads a model of <paramref name="energy"/> saved by <see cref="Save"/>: the file's energy name must be
    /// <paramref name="energy"/>'s (ArgumentException otherwise), its blocks those of
    /// <see cref="IStructuredEnergy.CreateParameters"/> (InvalidDataException naming the file otherwise).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="energy">The energy the file was saved with.</param>
    /// <param name="context">Where to put the parameters (default: the CPU, in the type they were saved in).</param>
    public static StructuredEnergyModel Load(string path, IStructuredEnergy energy, DeviceContext? context = null) =>
        LoadWith(path, NotNull(energy), context);

    private static StructuredEnergyModel LoadWith(string path, IStructuredEnergy? energy, DeviceContext? context)
    {
        var (header, tensors) = SavedModels.Load(path, Kind);
        try { return FromHeader(path, header, tensors, "theta", energy, context); }
        finally { StructuredFiles.Free(tensors); }
    }

    /// <summary>The header of the model: energy name, sizes, dtype, and h for the SPEN.</summary>
    internal System.Text.Json.Nodes.JsonObject Header()
    {
        var inner = Inner;
        var o = new System.Text.Json.Nodes.JsonObject
        {
            ["energy"] = Definition.Name,
            ["labels"] = Labels,
            ["featureDim"] = FeatureDim,
            ["blocks"] = inner.Length,
            ["dtype"] = inner.Head.dtype.ToString(),
        };
        if (Definition is SpenEnergy spen) o["hidden"] = spen.Hidden;
        return o;
    }

    /// <summary>θ as named tensors "prefix.0", "prefix.1", ….</summary>
    internal IEnumerable<(string Name, torch.Tensor Tensor)> Named(string prefix) =>
        Inner.Select((p, i) => ($"{prefix}.{i}", (torch.Tensor)p)).ToList();

    /// <summary>A model rebuilt from a header (<see cref="Header"/>) and the file's tensors "prefix.i" (not freed here).</summary>
    internal static StructuredEnergyModel FromHeader(string path, System.Text.Json.Nodes.JsonObject header,
                                                     IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors, string prefix,
                                                     IStructuredEnergy? energy, DeviceContext? context)
    {
        var name = SavedModels.Text(path, header, "energy");
        var labels = SavedModels.Int(path, header, "labels");
        var featureDim = SavedModels.Int(path, header, "featureDim");
        if (labels <= 0 || featureDim <= 0) throw StructuredFiles.Corrupt(path, $"invalid sizes: {labels} labels, {featureDim} features");
        if (energy is null)
        {
            if (name != "spen")
                throw new ArgumentException($"{path} holds a model of the structured energy '{name}', not the built-in SPEN: pass that energy to Load", nameof(energy));
            energy = new SpenEnergy(StructuredFiles.PositiveInt(path, header, "hidden"));
        }
        else if (energy.Name != name)
            throw new ArgumentException($"{path} holds a model of the structured energy '{name}', but the energy given is '{energy.Name}'", nameof(energy));
        var ctx = StructuredFiles.ContextFor(path, header, context);
        using var rng = new RandomGenerator(0, ctx);
        var parameters = StructuredEnergyAdapter.Create(energy, labels, featureDim, rng, ctx);
        try { StructuredFiles.CopyInto(path, tensors, prefix, parameters); }
        catch { foreach (var p in parameters) p.Dispose(); throw; }
        return new StructuredEnergyModel(energy, labels, featureDim, ctx, parameters);
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
/// arXiv 1803.03376). Saved and loaded on its own (<see cref="Save"/>, kind "inference-network") or inside a
/// <see cref="StructuredModel"/>. Owns its parameters: dispose it.</summary>
public sealed class InferenceNetwork : IDisposable
{
    internal const string Kind = "inference-network";

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

    /// <summary>The layer widths (input, hidden…, labels).</summary>
    public IReadOnlyList<int> LayerSizes =>
        new[] { Inputs }.Concat(Inner.Where((_, i) => i % 2 == 0).Select(w => (int)w.shape[0])).ToArray();

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

    /// <summary>Writes the network to <paramref name="path"/> (kind "inference-network"; the EnergyFs model file: a JSON
    /// header with the layer widths and type, then ψ).</summary>
    /// <param name="path">The file to write (its folder is created when needed).</param>
    public void Save(string path) => SavedModels.Save(path, Kind, Header(), Named("psi"));

    /// <summary>Reads a network saved by <see cref="Save"/>. A missing file throws FileNotFoundException; a file of
    /// another kind, a newer format version or a truncated file throws InvalidDataException naming the file.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="context">Where to put the parameters (default: the CPU, in the type they were saved in).</param>
    public static InferenceNetwork Load(string path, DeviceContext? context = null)
    {
        var (header, tensors) = SavedModels.Load(path, Kind);
        try { return FromHeader(path, header, tensors, "psi", context); }
        finally { StructuredFiles.Free(tensors); }
    }

    internal System.Text.Json.Nodes.JsonObject Header() => new()
    {
        ["layers"] = new System.Text.Json.Nodes.JsonArray(LayerSizes.Select(s => (System.Text.Json.Nodes.JsonNode?)s).ToArray()),
        ["dtype"] = Inner.Head.dtype.ToString(),
    };

    internal IEnumerable<(string Name, torch.Tensor Tensor)> Named(string prefix) =>
        Inner.Select((p, i) => ($"{prefix}.{i}", (torch.Tensor)p)).ToList();

    internal static InferenceNetwork FromHeader(string path, System.Text.Json.Nodes.JsonObject header,
                                                IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors, string prefix, DeviceContext? context)
    {
        var sizes = StructuredFiles.IntArray(path, header, "layers");
        if (sizes.Length < 2 || sizes.Any(s => s <= 0)) throw StructuredFiles.Corrupt(path, $"invalid layer widths [{string.Join(", ", sizes)}]");
        var ctx = StructuredFiles.ContextFor(path, header, context);
        using var rng = new RandomGenerator(0, ctx);
        var network = new InferenceNetwork(sizes, rng, ctx);
        try { StructuredFiles.CopyInto(path, tensors, prefix, network._parameters); }
        catch { network.Dispose(); throw; }
        return network;
    }

    /// <summary>Frees the parameters; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters) p.Dispose();
    }
}
