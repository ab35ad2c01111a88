using System.IO;
using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(ShallowActivation))]
public class ShallowSphereEnergyTests
{
    [Fact]
    public void EnergyMatchesTheFormulaOnAHandMadeCase()
    {
        // f(x) = (1/m) Σ cᵢ wᵢ relu(⟨x, zᵢ⟩), m = 2.
        using var z = torch.tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        using var c = torch.tensor(new[] { 1.0, -1.0 });
        using var w = torch.tensor(new[] { 2.0, 3.0 });
        using var e = ShallowSphereEnergy.FromTensors(z, c, w);
        using var x = torch.tensor(new[,] { { Math.Sqrt(0.5), Math.Sqrt(0.5) }, { -1.0, 0.0 } });
        using var f = e.Energy(x);
        Assert.Equal(0.5 * (2 * Math.Sqrt(0.5) - 3 * Math.Sqrt(0.5)), f[0].ToDouble(), 12);
        Assert.Equal(0.0, f[1].ToDouble(), 12);
        Assert.Equal(2.5, e.TotalVariation, 12);
        Assert.Equal((2, 2), (e.Neurons, e.Dim));
    }

    [Fact]
    public void GradientsMatchAutodiffAndTheTangentPartIsOrthogonal()
    {
        using var rng = new RandomGenerator(1, DeviceContext.Cpu64);
        using var e = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu64, 8, 5, activation: ShallowActivation.Softplus);
        using var x = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 10, 5);
        using var g = e.Gradient(x);
        using var auto = Autodiff.Grad(t => e.Energy(t).sum(), x);
        Assert.True(g.allclose(auto, 1e-10, 1e-12));
        using var tg = e.TangentGradient(x);
        using var dots = (tg * x).sum(1);
        Assert.True(dots.abs().max().ToDouble() < 1e-12);
        using var lb = e.Energy(x).min();
        Assert.True(e.LowerBound <= lb.ToDouble());
    }

    [Fact]
    public void TeacherHasNegativeWeightsAndScoreMatchingIsFinite()
    {
        using var rng = new RandomGenerator(2, DeviceContext.Cpu64);
        using var teacher = ShallowSphereEnergy.Teacher(rng, DeviceContext.Cpu64, 3, 4, beta: 5.0);
        using var cw = teacher.Signs * teacher.Masses;
        Assert.True(cw.allclose(torch.full(3, -5.0, dtype: torch.float64)));
        using var x = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 50, 4);
        using var lap = teacher.LaplaceBeltrami(x);
        Assert.Equal(new long[] { 50 }, lap.shape);
        Assert.True(double.IsFinite(teacher.ScoreMatchingLoss(x)));
    }

    [Fact]
    public void BadShapesAreNamed()
    {
        using var z = torch.ones(2, 3, dtype: torch.float64);
        using var c = torch.ones(3, dtype: torch.float64);
        using var w = torch.ones(2, dtype: torch.float64);
        var e = Assert.ThrowsAny<ArgumentException>(() => ShallowSphereEnergy.FromTensors(z, c, w));
        Assert.Contains("signs", e.Message);
        using var rng = new RandomGenerator(1);
        Assert.Contains("dim", Assert.ThrowsAny<ArgumentException>(() => ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 3, 1)).Message);
    }

    [Fact]
    public void DisposeFreesTheNeurons() =>
        Native.AssertFreesEverything(() =>
        {
            using var rng = new RandomGenerator(3);
            var e = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 4, 3);
            var features = e.Features;
            e.Dispose();
            e.Dispose();
            Assert.True(features.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => e.TotalVariation);
        });

    [Fact]
    public void SaveThenLoadGivesTheSameEnergyAndDamagedFilesNameThemselves()
    {
        using var files = new ModelFileFaults();
        using var rng = new RandomGenerator(3, DeviceContext.Cpu64);
        using var e = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu64, 5, 4, mass: 2.0, activation: ShallowActivation.SquaredRelu);
        var path = files.PathOf("energies/e.model");
        e.Save(path);
        using var loaded = ShallowSphereEnergy.Load(path);
        using var x = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 7, 4);
        using var fa = e.Energy(x);
        using var fb = loaded.Energy(x);
        Assert.True(fa.allclose(fb, 0, 0), "the loaded energy differs");
        Assert.Equal(torch.ScalarType.Float64, loaded.Features.dtype);
        Assert.Equal((5, 4, e.TotalVariation), (loaded.Neurons, loaded.Dim, loaded.TotalVariation));
        var newer = files.NewerVersion(path);
        var v = Assert.Throws<InvalidDataException>(() => ShallowSphereEnergy.Load(newer));
        Assert.Contains(newer, v.Message);
        Assert.Contains("newer", v.Message);
        var truncated = files.Truncated(path);
        var t = Assert.Throws<InvalidDataException>(() => ShallowSphereEnergy.Load(truncated));
        Assert.Contains(truncated, t.Message);
        var notAModel = files.PathOf("text.model");
        File.WriteAllText(notAModel, "hello");
        Assert.Contains("not an EnergyFs model file", Assert.Throws<InvalidDataException>(() => ShallowSphereEnergy.Load(notAModel)).Message);
        Assert.Throws<FileNotFoundException>(() => ShallowSphereEnergy.Load(files.PathOf("missing.model")));
        Native.AssertFreesEverything(() => ShallowSphereEnergy.Load(path).Dispose());
    }
}
