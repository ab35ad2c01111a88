using System.Reflection;
using TorchSharp;

namespace EnergyFs.CSharp.Tests;

/// <summary>Calls every public method of the facade's stateless classes and of a few ready-made instances with
/// misshapen tensors (a scalar, a rank-3 block) and asserts that what comes back is either a result or an exception
/// a C# caller can act on (ArgumentException, InvalidOperationException): never libtorch's ExternalException, an F#
/// MatchFailureException, a NullReferenceException, an IndexOutOfRangeException or an InvalidCastException.</summary>
public class BadInputTests
{
    private static readonly Type[] Acceptable = { typeof(ArgumentException), typeof(InvalidOperationException) };

    private static object? Argument(ParameterInfo p, torch.Tensor bad, RandomGenerator rng)
    {
        var t = p.ParameterType;
        if (t == typeof(torch.Tensor)) return bad;
        if (t == typeof(Func<torch.Tensor, torch.Tensor>)) return (Func<torch.Tensor, torch.Tensor>)(x => x.sum());
        if (t == typeof(Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor>))
            return (Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor>)((a, b) => (a[0] * b[0]).sum());
        if (t == typeof(Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>>))
            return (Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>>)(v => v);
        if (t == typeof(IReadOnlyList<torch.Tensor>)) return new[] { bad };
        if (t == typeof(RandomGenerator)) return rng;
        if (t == typeof(DeviceContext)) return DeviceContext.Cpu64;
        if (t == typeof(int)) return 2;
        if (t == typeof(long)) return 2L;
        if (t == typeof(double)) return 0.5;
        if (t == typeof(double[])) return new[] { 1.0, 2.0, 0.5 };
        if (t == typeof(IEnumerable<double>)) return null;
        if (p.HasDefaultValue) return p.DefaultValue;
        if (!t.IsValueType) return null;
        throw new NotSupportedException($"no sample argument for {t.Name} ({p.Member.DeclaringType!.Name}.{p.Member.Name})");
    }

    private static IEnumerable<(object? Target, MethodInfo Method)> Calls(RandomGenerator rng, List<IDisposable> owned)
    {
        var statics = new[] { typeof(Autodiff), typeof(GradientChecker), typeof(LangevinSampler), typeof(ImplicitTrainer), typeof(MultilabelMetrics) };
        foreach (var s in statics)
            foreach (var m in s.GetMethods(BindingFlags.Public | BindingFlags.Static))
                if (m.GetParameters().Any(p => p.ParameterType == typeof(torch.Tensor) || p.ParameterType == typeof(IReadOnlyList<torch.Tensor>)))
                    yield return (null, m);
        var energy = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu64, 3, 3);
        var proposal = MixtureDensityProposal.FromMoments(torch.full(new long[] { 1, 2 }, 0.5, dtype: torch.float64),
            torch.zeros(1, 2, 1, dtype: torch.float64), torch.ones(1, 2, 1, dtype: torch.float64));
        var spen = new StructuredEnergyModel(3, 2, 2, rng, DeviceContext.Cpu64);
        var network = new InferenceNetwork(new[] { 2, 3 }, rng, DeviceContext.Cpu64);
        using var rx = torch.linspace(0, 1, 16, dtype: torch.float64).reshape(16, 1);
        var regressor = new EnergyRegressor(new EnergyRegressorOptions { Epochs = 1, Samples = 4, Hidden = 4 }).Fit(rx, rx);
        var (examples, tensors) = StructuredTestData.Examples(3, 16);
        var structured = new ImplicitTrainer(StructuredTestData.Quick(1)).Fit(examples);
        foreach (var t in tensors) t.Dispose();
        var data = EnergyMultilabelClassifierTests.Synthetic(7, 20, 2, 2);
        var classifier = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 1, Hidden = 2 }).Fit(data.Features, data.Labels);
        owned.AddRange(new IDisposable[] { energy, proposal, spen, network, regressor, structured, classifier });
        var instances = new object[]
        {
            FyRegularizer.Shannon, FyRegularizer.FermiDirac, new FenchelYoungLoss(FyRegularizer.Sparsemax),
            new GeneralizedConjugate(FyRegularizer.FermiDirac), energy, proposal, spen, network, regressor, structured, new SpenEnergy(2),
            classifier,
        };
        foreach (var i in instances)
            foreach (var m in i.GetType().GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                if (m.GetParameters().Any(p => p.ParameterType == typeof(torch.Tensor)))
                    yield return (i, m);
    }

    [Fact]
    public void MisshapenTensorsGiveActionableExceptions()
    {
        RuntimeInfo.Threads = 1;
        using var rng = new RandomGenerator(1, DeviceContext.Cpu64);
        var owned = new List<IDisposable>();
        var bad = new List<string>();
        var calls = 0;
        try
        {
            using var scope = torch.NewDisposeScope();
            var samples = new[] { torch.tensor(1.5, dtype: torch.float64), torch.ones(2, 3, 4, dtype: torch.float64) };
            foreach (var (target, method) in Calls(rng, owned).ToList())
                foreach (var sample in samples)
                {
                    calls++;
                    var args = method.GetParameters().Select(p => Argument(p, sample, rng)).ToArray();
                    try { method.Invoke(target, args); }
                    catch (TargetInvocationException e) when (e.InnerException is { } inner)
                    {
                        if (!Acceptable.Any(a => a.IsInstanceOfType(inner)))
                            bad.Add($"{method.DeclaringType!.Name}.{method.Name} with shape [{string.Join(", ", sample.shape)}]: {inner.GetType().Name}: {inner.Message.Split('\n')[0]}");
                    }
                }
        }
        finally { owned.ForEach(o => o.Dispose()); }
        Assert.True(calls > 40, $"only {calls} calls made");
        Assert.True(bad.Count == 0, $"{bad.Count} of {calls} calls threw what a caller cannot act on:\n" + string.Join("\n", bad));
    }
}
