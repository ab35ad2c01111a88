using TorchSharp;
using EnergyFs.Energies;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>The activation σ of the neurons of a <see cref="ShallowSphereEnergy"/>.</summary>
public enum ShallowActivation
{
    /// <summary>σ(t) = max(t, 0): the paper's choice (Domingo-Enrich et al. 2021, arXiv 2107.05134).</summary>
    Relu,
    /// <summary>σ(t) = max(t, 0)² / 2: C¹ with bounded σ'', so exact score matching needs no smoothing.</summary>
    SquaredRelu,
    /// <summary>σ(t) = log(1 + eᵗ): smooth.</summary>
    Softplus,
}

/// <summary>A shallow energy on the sphere S^(d−1): f(x) = (1/m) Σᵢ cᵢ wᵢ σ(⟨x, zᵢ⟩) with unit features zᵢ,
/// signs cᵢ = ±1 and masses wᵢ ≥ 0; the density is ∝ exp(−f) w.r.t. the uniform measure
/// (Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden 2021, "Dual training of energy-based models with
/// overparametrized shallow neural networks", arXiv 2107.05134). Owns its tensors: dispose it.</summary>
public sealed class ShallowSphereEnergy : IDisposable
{
    private readonly ShallowSphere inner;
    private bool disposed;

    internal ShallowSphere Inner
    {
        get { NotDisposed(disposed, this); return inner; }
    }

    internal ShallowSphereEnergy(ShallowSphere inner) => this.inner = inner;

    internal static Activation ToFSharp(ShallowActivation activation) => activation switch
    {
        ShallowActivation.Relu => Activation.Relu,
        ShallowActivation.SquaredRelu => Activation.SquaredRelu,
        ShallowActivation.Softplus => Activation.Softplus,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };

    /// <summary>An energy from tensors (features [m, d] of unit rows, signs [m] of ±1, masses [m] ≥ 0); the tensors are
    /// copied, so the caller keeps ownership of its own. Bad shapes throw ArgumentException naming the tensor.</summary>
    /// <param name="features">Features zᵢ [m, d], unit rows.</param>
    /// <param name="signs">Signs cᵢ [m], ±1.</param>
    /// <param name="masses">Masses wᵢ [m], ≥ 0.</param>
    /// <param name="activation">The activation σ (default ReLU).</param>
    public static ShallowSphereEnergy FromTensors(torch.Tensor features, torch.Tensor signs, torch.Tensor masses, ShallowActivation activation = ShallowActivation.Relu) =>
        new(ScopedWith(() => Shallow.copy(Shallow.create(ToFSharp(activation), NotNull(features), NotNull(signs), NotNull(masses))), e => new[] { e.Features, e.Signs, e.Masses }));

    /// <summary><paramref name="neurons"/> random neurons: features uniform on S^(d−1), alternating signs +1, −1, all
    /// masses equal to <paramref name="mass"/>.</summary>
    /// <param name="rng">The generator of the features.</param>
    /// <param name="context">Device and type.</param>
    /// <param name="neurons">m &gt; 0.</param>
    /// <param name="dim">d ≥ 2.</param>
    /// <param name="mass">The initial mass of every neuron (≥ 0).</param>
    /// <param name="activation">The activation σ (default ReLU).</param>
    public static ShallowSphereEnergy Random(RandomGenerator rng, DeviceContext context, int neurons, int dim, double mass = 1.0, ShallowActivation activation = ShallowActivation.Relu) =>
        new(ScopedWith(() => Shallow.random(NotNull(rng).Inner, NotNull(context).Inner, ToFSharp(activation), neurons, dim, mass), e => new[] { e.Features, e.Signs, e.Masses }));

    /// <summary>The paper's teacher (arXiv 2107.05134): random ReLU features, every neuron with cᵢwᵢ = −β, so the
    /// density concentrates around the features.</summary>
    /// <param name="rng">The generator of the features.</param>
    /// <param name="context">Device and type.</param>
    /// <param name="neurons">Number of teacher neurons.</param>
    /// <param name="dim">d ≥ 2.</param>
    /// <param name="beta">β &gt; 0 (default 10).</param>
    public static ShallowSphereEnergy Teacher(RandomGenerator rng, DeviceContext context, int neurons, int dim, double beta = 10.0) =>
        new(ScopedWith(() => Shallow.teacher(NotNull(rng).Inner, NotNull(context).Inner, neurons, dim, beta), e => new[] { e.Features, e.Signs, e.Masses }));

    /// <summary>Number of neurons m.</summary>
    public int Neurons => Inner.Neurons;
    /// <summary>Ambient dimension d.</summary>
    public int Dim => Inner.Dim;
    /// <summary>Features [m, d] (owned by the energy: do not dispose; invalid after <see cref="Dispose"/>).</summary>
    public torch.Tensor Features => Inner.Features;
    /// <summary>Signs [m] (owned by the energy).</summary>
    public torch.Tensor Signs => Inner.Signs;
    /// <summary>Masses [m] (owned by the energy).</summary>
    public torch.Tensor Masses => Inner.Masses;

    /// <summary>f(x) per row of x [n, d] → [n].</summary>
    /// <param name="x">Points [n, d].</param>
    public torch.Tensor Energy(torch.Tensor x) => Scoped(() => Shallow.energy(Inner, NotNull(x)));
    /// <summary>Euclidean gradient ∇f(x) = (1/m) Σᵢ cᵢwᵢ σ'(⟨x, zᵢ⟩) zᵢ per row, [n, d].</summary>
    /// <param name="x">Points [n, d].</param>
    public torch.Tensor Gradient(torch.Tensor x) => Scoped(() => Shallow.gradient(Inner, NotNull(x)));
    /// <summary>Riemannian gradient ∇_T f(x) = (I − xxᵀ)∇f(x) per row (orthogonal to x), [n, d].</summary>
    /// <param name="x">Points [n, d] on the sphere.</param>
    public torch.Tensor TangentGradient(torch.Tensor x) => Scoped(() => Shallow.tangentGradient(Inner, NotNull(x)));
    /// <summary>Laplace–Beltrami Δ_S f(x) per row, [n] (the absolutely continuous part for ReLU).</summary>
    /// <param name="x">Points [n, d] on the sphere.</param>
    public torch.Tensor LaplaceBeltrami(torch.Tensor x) => Scoped(() => Shallow.laplaceBeltrami(Inner, NotNull(x)));
    /// <summary>Total-variation norm mean(w) of the masses (the F₁ norm bounded by β in training).</summary>
    public double TotalVariation => Shallow.totalVariation(Inner);
    /// <summary>A lower bound of f on the sphere, −(1/m) Σᵢ wᵢ max σ (for rejection sampling).</summary>
    public double LowerBound => Shallow.lowerBound(Inner);

    /// <summary>Exact score-matching objective E_data[½‖∇_T f‖² − Δ_S f] on the sphere (Hyvärinen 2005; the ReLU kinks'
    /// circle term smoothed at <paramref name="bandwidth"/>).</summary>
    /// <param name="data">Samples [n, d] on the sphere.</param>
    /// <param name="bandwidth">Kernel bandwidth of the ReLU circle term (&gt; 0).</param>
    public double ScoreMatchingLoss(torch.Tensor data, double bandwidth = 0.05)
    {
        return ScopedValue(() => EnergyFs.Losses.ScoreMatching.sphereShallow(bandwidth, Inner, NotNull(data)).ToDouble());
    }

    /// <summary>Writes the energy to <paramref name="path"/> in the EnergyFs model file format (kind
    /// "shallow-sphere-energy": neurons, dimension and activation in the JSON header; features, signs and masses as
    /// tensors), atomically, creating the folder when needed.</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        var e = Inner;
        NotNull(path);
        Guard(() => { EnergyFs.Learners.DualFile.saveEnergy(path, e); return 0; });
    }

    /// <summary>Loads an energy written by <see cref="Save"/> onto <paramref name="context"/>'s device (in the saved
    /// type). A missing file throws FileNotFoundException; a file of another kind, a newer format version, a truncated
    /// file or an invalid energy throws InvalidDataException naming the file.</summary>
    /// <param name="path">The file to read.</param>
    /// <param name="context">Where to load it (default <see cref="DeviceContext.Cpu"/>).</param>
    public static ShallowSphereEnergy Load(string path, DeviceContext? context = null)
    {
        NotNull(path);
        var device = (context ?? DeviceContext.Cpu).Device;
        return new(ScopedWith(() => Guard(() => EnergyFs.Learners.DualFile.loadEnergy(path, device)), e => new[] { e.Features, e.Signs, e.Masses }));
    }

    /// <summary>Frees the features, signs and masses; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Shallow.dispose(inner);
    }
}
