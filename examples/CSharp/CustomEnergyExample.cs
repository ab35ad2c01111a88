// A multilabel energy written in C#, trained on real data beside the built-in quadratic energy.
// The region between `// readme:begin` and `// readme:end` appears verbatim in README.md; a test runs it.
using EnergyFs.CSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace EnergyFs.Examples.CSharp;

// readme:begin csharp-custom-energy
/// <summary>Φ_θ(x, p) = ⟨u(x), p⟩ + ½⟨p, Â p⟩ − Σⱼ cⱼ softplus(⟨wⱼ, p⟩ + vⱼ(x)): the paper's quadratic energy (unary
/// network u, pairwise interactions Â = sym(A) with zero diagonal) plus a global term over the labels whose offsets
/// depend on the input, in the style of a SPEN (Belanger &amp; McCallum 2016), with weights cⱼ = softplus(γⱼ) ≥ 0.
/// A = 0 and small cⱼ at the start: training begins near the independent model, as the built-in one does.</summary>
public sealed class GlobalTermEnergy : MultilabelEnergyModule
{
    private readonly nn.Module<Tensor, Tensor> unary;
    private readonly TorchSharp.Modules.Linear global, offsets;
    private readonly TorchSharp.Modules.Parameter pairwise, gamma;
    private readonly Tensor offDiagonal;

    public GlobalTermEnergy(int features, int labels, int hidden = 64, int terms = 8) : base("global-term-energy", labels)
    {
        unary = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, labels));
        global = nn.Linear(labels, terms, hasBias: false);
        offsets = nn.Linear(features, terms);
        pairwise = new TorchSharp.Modules.Parameter(zeros(labels, labels));
        gamma = new TorchSharp.Modules.Parameter(full(terms, -3.0));
        offDiagonal = ones(labels, labels) - eye(labels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor p)
    {
        var a = 0.5 * (pairwise + pairwise.t()) * offDiagonal.to(pairwise.dtype);
        var quadratic = (unary.forward(x) * p).sum(1) + 0.5 * (p.matmul(a) * p).sum(1);
        var penalty = nn.functional.softplus(global.forward(p) + offsets.forward(x)) * nn.functional.softplus(gamma);
        return quadratic - penalty.sum(1);
    }
}
// readme:end

/// <summary>The custom-energy example of the README.</summary>
public static class CustomEnergyExample
{
    /// <summary>Trains the built-in quadratic energy and <see cref="GlobalTermEnergy"/> on the emotions benchmark
    /// (MULAN, 391 training and 202 test songs, 72 features, 6 labels) and returns both test Hamming accuracies.</summary>
    public static (double BuiltIn, double Custom) Emotions()
    {
        // readme:begin csharp-custom-energy-fit
        using var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions");
        var builtIn = new EnergyMultilabelOptions { Epochs = 60, Patience = 10, Hidden = 64 };
        var custom = builtIn with { Energy = (features, labels) => new GlobalTermEnergy(features, labels) };
        using var quadratic = new EnergyMultilabelClassifier(builtIn).Fit(data);
        using var mine = new EnergyMultilabelClassifier(custom).Fit(data);
        double a = quadratic.Evaluate(data).HammingAccuracy, b = mine.Evaluate(data).HammingAccuracy;
        Console.WriteLine($"emotions, test Hamming accuracy: built-in quadratic energy {a:P2}, custom energy {b:P2}");
        mine.Save("emotions-global-term.efs");  // reload with Load(path, energy: (d, l) => new GlobalTermEnergy(d, l))
        // readme:end
        File.Delete("emotions-global-term.efs");
        return (a, b);
    }
}
