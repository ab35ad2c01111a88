using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(DualTrainerOptions), typeof(TeacherStudentOptions), typeof(TeacherStudentMetrics))]
public class DualEbmTrainerTests
{
    // One libtorch thread: the suite runs on 2 shared cores.
    public DualEbmTrainerTests() => RuntimeInfo.Threads = 1;

    [Fact]
    public void GdaLowersTheEnergyOfTheDataWithinTheTvBound()
    {
        using var rng = new RandomGenerator(4);
        using var teacher = ShallowSphereEnergy.Teacher(rng, DeviceContext.Cpu, 2, 3, 10.0);
        using var data = LangevinSampler.Rejection(rng, DeviceContext.Cpu, teacher, 500);
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 16, 3);
        using var trainer = new DualEbmTrainer(rng, student, data, new DualTrainerOptions { ParticleStep = 0.02, FeatureStep = 0.02, MassStep = 0.02, Particles = 200, TvBound = 3.0 });
        Assert.Equal(new long[] { 200, 3 }, trainer.Particles.shape);
        trainer.Run(300);
        using var trained = trainer.CurrentEnergy();
        using var before = student.Energy(data).mean();
        using var after = trained.Energy(data).mean();
        Assert.True(after.ToDouble() < before.ToDouble() - 0.25, $"mean energy of the data {before.ToDouble()} -> {after.ToDouble()}");
        Assert.Equal(300, trainer.Iteration);
        Assert.True(trained.TotalVariation <= 3.0 + 1e-6, $"TV {trained.TotalVariation}");
    }

    [Fact]
    public void LazyRegimeKeepsTheFeatures()
    {
        using var rng = new RandomGenerator(5);
        using var data = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 100, 3);
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 8, 3);
        using var trainer = new DualEbmTrainer(rng, student, data, new DualTrainerOptions { Lazy = true, Particles = 50, RestartEvery = 5 });
        trainer.Run(20);
        using var trained = trainer.CurrentEnergy();
        Assert.True(trained.Features.allclose(student.Features, 0.0, 0.0));
        Assert.False(trained.Masses.allclose(student.Masses, 0.0, 0.0));
    }

    [Fact]
    public void TeacherStudentReducesKl()
    {
        // The untrained 64-neuron student is at KL ≈ 0.86 on S² (see the F# teacher-student runs).
        var m = DualEbmTrainer.TeacherStudent(3, 300, new TeacherStudentOptions { Seed = 1, Iterations = 800 });
        Assert.True(m.Kl < 0.35, $"KL {m.Kl}");
        Assert.True(m.Fisher >= 0 && m.AngleDegrees is >= 0 and <= 180 && m.WallSeconds > 0);
    }

    [Fact]
    public void BadDataAndOptionsGiveClearMessages()
    {
        using var rng = new RandomGenerator(3, DeviceContext.Cpu64);
        using var energy = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu64, 4, 3);
        using var bad = torch.ones(5, 3, dtype: torch.ScalarType.Float64);
        Assert.Contains("unit sphere", Assert.ThrowsAny<ArgumentException>(() => new DualEbmTrainer(rng, energy, bad)).Message);
        using var good = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu64, 5, 3);
        Assert.Contains("Particles", Assert.ThrowsAny<ArgumentException>(() => new DualEbmTrainer(rng, energy, good, new DualTrainerOptions { Particles = 0 })).Message);
        Assert.Equal("RestartProbability", Assert.Throws<ArgumentException>(() => new DualTrainerOptions { RestartEvery = 2, RestartProbability = 0.1 }.ToFSharp()).ParamName);
        Assert.Equal("dim", Assert.Throws<ArgumentOutOfRangeException>(() => DualEbmTrainer.TeacherStudent(1, 10)).ParamName);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        Assert.Equal(EnergyFs.Learners.Dual.defaults, new DualTrainerOptions().ToFSharp());
        Assert.True(new DualTrainerOptions { ScoreMatchingBandwidth = 0.1 }.ToFSharp().Estimator.IsScoreMatching);
    }

    [Fact]
    public void DisposeFreesTheStateAndRunFreesOldStates() =>
        Native.AssertFreesEverything(() =>
        {
            using var rng = new RandomGenerator(6);
            using var data = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 50, 3);
            using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 4, 3);
            var trainer = new DualEbmTrainer(rng, student, data, new DualTrainerOptions { Particles = 20 });
            trainer.Run(10);
            var particles = trainer.Particles;
            trainer.Dispose();
            Assert.True(particles.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => trainer.Run(1));
        });
}
