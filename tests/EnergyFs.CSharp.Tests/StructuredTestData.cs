using TorchSharp;
using TorchSharp.Modules;

namespace EnergyFs.CSharp.Tests;

/// <summary>Small data, energies written in C# and a synchronous progress sink for the structured-prediction tests.</summary>
internal static class StructuredTestData
{
    /// <summary>n examples with 4 inputs (also the features) and 3 labels, y = 1[xW &gt; 0]; the caller disposes Owned.</summary>
    internal static (StructuredExamples Data, torch.Tensor[] Owned) Examples(long seed, int n = 64)
    {
        using var scope = torch.NewDisposeScope();
        using var rng = new RandomGenerator(seed);
        var x = rng.Normal(DeviceContext.Cpu, n, 4);
        var w = torch.tensor(new float[,] { { 1, -1, 0 }, { 0, 1, 1 }, { -1, 0, 1 }, { 1, 1, -1 } });
        var y = (x.matmul(w) > 0).to_type(torch.float32);
        x.MoveToOuterDisposeScope();
        y.MoveToOuterDisposeScope();
        return (new StructuredExamples(x, x, y), new[] { x, y });
    }

    /// <summary>The examples as rows of doubles (inputs = features).</summary>
    internal static StructuredRows Rows(StructuredExamples data) =>
        new(ToRows(data.Inputs), ToRows(data.Labels));

    internal static double[][] ToRows(torch.Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        var flat = t.detach().to_type(torch.ScalarType.Float64).contiguous().data<double>().ToArray();
        var (n, k) = ((int)t.shape[0], (int)t.shape[1]);
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * k, k).ToArray()).ToArray();
    }

    /// <summary>Small, fast training settings.</summary>
    internal static ImplicitTrainingOptions Quick(int epochs = 3) => new()
    {
        Epochs = epochs, BatchSize = 16, InnerSteps = 1, InnerLearningRate = 1e-2, OuterLearningRate = 1e-2,
        NetworkHidden = new[] { 8 }, Energy = new SpenEnergy(4), Seed = 5,
        Solver = new LinearSolverOptions { Iterations = 5, Damping = 0.02, Tolerance = 1e-3 },
    };

    /// <summary>Element-wise equality of two lists of tensors.</summary>
    internal static bool Same(IReadOnlyList<torch.Tensor> a, IReadOnlyList<torch.Tensor> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.shape.SequenceEqual(p.Second.shape) && p.First.allclose(p.Second, 0.0, 0.0));
}

/// <summary>The SPEN written in C# from its formula, E = −Σᵢ ȳᵢ bᵢᵀF(x) + c₂ᵀ softplus(C₁ȳ), with the same parameter
/// draws as the built-in one.</summary>
internal sealed class CSharpSpen(int hidden) : IStructuredEnergy
{
    public string Name => "csharp-spen";

    public IReadOnlyList<Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context)
    {
        torch.Tensor Uniform(double low, double high, params long[] shape)
        {
            using var u = rng.Uniform(context, shape);
            return u * (high - low) + low;
        }
        var b = Uniform(-1.0 / Math.Sqrt(featureDim), 1.0 / Math.Sqrt(featureDim), labels, featureDim);
        var c1 = Uniform(-1.0 / Math.Sqrt(labels), 1.0 / Math.Sqrt(labels), hidden, labels);
        var c2 = Uniform(-0.1, 0.1, hidden);
        return new[] { new Parameter(b), new Parameter(c1), new Parameter(c2) };
    }

    public torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels) =>
        -(labels * features.matmul(theta[0].t())).sum(-1) + torch.nn.functional.softplus(labels.matmul(theta[1].t())).matmul(theta[2]);
}

/// <summary>A different energy: unary scores plus a pairwise term, E = −Σᵢ ȳᵢ (wᵢᵀF(x) + bᵢ) + ½‖Sᵀȳ‖² − ⟨ȳ, u⟩ with
/// θ = [W (L × d), b (L), S (L × 2), u (L)].</summary>
internal sealed class PairwiseEnergy : IStructuredEnergy
{
    public string Name => "pairwise";

    public IReadOnlyList<Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context)
    {
        using var w = rng.Normal(context, labels, featureDim);
        using var s = rng.Normal(context, labels, 2);
        return new[]
        {
            new Parameter(w * (1.0 / Math.Sqrt(featureDim))), new Parameter(torch.zeros(labels, dtype: context.DType)),
            new Parameter(s * 0.1), new Parameter(torch.zeros(labels, dtype: context.DType)),
        };
    }

    public torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels)
    {
        var unary = features.matmul(theta[0].t()) + theta[1];
        var pair = labels.matmul(theta[2]);
        return -(labels * unary).sum(-1) + 0.5 * pair.square().sum(-1) - labels.matmul(theta[3]);
    }
}

/// <summary>An IProgress that runs its action synchronously on the training thread (Progress&lt;T&gt; posts to the
/// thread pool, so a count read right after Fit could miss reports).</summary>
internal sealed class SyncProgress(Action<TrainingEpoch> report) : IProgress<TrainingEpoch>
{
    public List<TrainingEpoch> Reports { get; } = new();

    public void Report(TrainingEpoch value)
    {
        Reports.Add(value);
        report(value);
    }
}
