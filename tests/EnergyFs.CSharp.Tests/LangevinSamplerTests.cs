using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(LangevinSamplerOptions))]
public class LangevinSamplerTests
{
    public LangevinSamplerTests() => RuntimeInfo.Threads = 1;

    [Fact]
    public void MalaIsExactOnAGaussianWhereUlaIsBiased()
    {
        using var rng = new RandomGenerator(2, DeviceContext.Cpu64);
        using var x0 = rng.Normal(DeviceContext.Cpu64, 3000, 2);
        var options = new LangevinSamplerOptions { Step = 0.3 };
        var (samples, acceptance) = LangevinSampler.Mala(rng, x => x.square().sum(1) * 0.5, x => x.clone(), 150, x0, options);
        using (samples)
        {
            Assert.InRange(samples.square().mean().ToDouble(), 0.93, 1.07);
            Assert.InRange(acceptance, 0.8, 1.0);
        }
        // ULA at this step has stationary variance 1/(1 − η/2) = 1.18.
        using var ula = LangevinSampler.Ula(rng, x => x.clone(), 150, x0, options);
        Assert.InRange(ula.square().mean().ToDouble(), 1.1, 1.26);
    }

    [Fact]
    public void SphereChainStaysOnTheSphereAndLeavesItsInputAlone()
    {
        using var rng = new RandomGenerator(3, DeviceContext.Cpu64);
        using var e = ShallowSphereEnergy.Teacher(rng, DeviceContext.Cpu64, 2, 3);
        using var x = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 100, 3);
        using var before = x.clone();
        using var y = LangevinSampler.SphereChain(rng, e, 20, x, new LangevinSamplerOptions { Step = 0.01, Antithetic = true });
        using var norms = y.norm(1);
        Assert.True((norms - 1).abs().max().ToDouble() < 1e-9);
        Assert.True(x.allclose(before, 0.0, 0.0));
        Assert.False(y.allclose(x, 0.0, 0.0));
    }

    [Fact]
    public void RejectionSamplesConcentrateNearTheTeacherFeatures()
    {
        using var rng = new RandomGenerator(4);
        using var e = ShallowSphereEnergy.Teacher(rng, DeviceContext.Cpu, 1, 3, beta: 20.0);
        using var s = LangevinSampler.Rejection(rng, DeviceContext.Cpu, e, 300);
        using var uniform = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 300, 3);
        // p ∝ exp(20·relu⟨x, z⟩): samples lean towards z, uniform ones do not.
        using var cosS = s.matmul(e.Features.t()).mean();
        using var cosU = uniform.matmul(e.Features.t()).mean();
        Assert.True(cosS.ToDouble() > 0.6 && Math.Abs(cosU.ToDouble()) < 0.15, $"{cosS.ToDouble()} vs {cosU.ToDouble()}");
    }

    [Fact]
    public void EffectiveSampleSizeOfIndependentAndStickyChains()
    {
        var r = new Random(1);
        var iid = Enumerable.Range(0, 2000).Select(_ => r.NextDouble()).ToArray();
        var sticky = new double[2000];
        for (var i = 1; i < sticky.Length; i++) sticky[i] = 0.95 * sticky[i - 1] + r.NextDouble() - 0.5;
        Assert.InRange(LangevinSampler.EffectiveSampleSize(iid), 1500, 2600);
        Assert.True(LangevinSampler.EffectiveSampleSize(sticky) < 200);
    }

    [Fact]
    public void OffSphereParticlesAndBadStepsAreRefused()
    {
        using var rng = new RandomGenerator(5, DeviceContext.Cpu64);
        using var e = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu64, 4, 3);
        using var off = torch.ones(5, 3, dtype: torch.ScalarType.Float64);
        Assert.Contains("unit sphere", Assert.ThrowsAny<ArgumentException>(() => LangevinSampler.SphereChain(rng, e, 1, off)).Message);
        using var on = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 2, 3);
        Assert.ThrowsAny<ArgumentException>(() => LangevinSampler.SphereChain(rng, e, 1, on, new LangevinSamplerOptions { Step = -1 }));
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => LangevinSampler.Ula(rng, x => x, -1, on)).ParamName);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults() =>
        Assert.Equal(EnergyFs.Samplers.Langevin.defaults, new LangevinSamplerOptions().ToFSharp());

    [Fact]
    public void ChainsFreeTheirIntermediates() =>
        Native.AssertFreesEverything(() =>
        {
            using var rng = new RandomGenerator(6);
            using var x = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 10, 3);
            using var e = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 4, 3);
            using var y = LangevinSampler.SphereChain(rng, e, 10, x);
            using var z = LangevinSampler.Ula(rng, t => t.clone(), 10, x);
        });
}
