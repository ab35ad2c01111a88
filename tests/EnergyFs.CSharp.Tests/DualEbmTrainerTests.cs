using System.IO;
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

    [Fact]
    public void RunReportsEveryNIterationsAndCancelsBetweenIterations()
    {
        using var rng = new RandomGenerator(7);
        using var data = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 60, 3);
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 6, 3);
        using var trainer = new DualEbmTrainer(rng, student, data, new DualTrainerOptions { Particles = 20, ReportEvery = 5 });
        var reports = new List<TrainingEpoch>();
        trainer.Run(23, new ImmediateProgress<TrainingEpoch>(reports.Add));
        Assert.Equal(new[] { 5, 10, 15, 20, 23 }, reports.Select(r => r.Epoch));
        Assert.All(reports, r => Assert.Equal(23, r.Epochs));
        Assert.Equal(new[] { "iteration", "total_variation", "data_energy", "particle_energy" }, reports[^1].Metrics.Keys);
        Assert.Equal(23.0, reports[^1].Metrics["iteration"]);
        using var cts = new CancellationTokenSource();
        var later = new List<int>();
        var progress = new ImmediateProgress<TrainingEpoch>(r => { later.Add(r.Epoch); if (later.Count == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Run(100, progress, cts.Token));
        Assert.Equal(new[] { 28, 33 }, later);
        Assert.Equal(33, trainer.Iteration);  // the state of the last completed iteration is kept
        Assert.Equal(new long[] { 20, 3 }, trainer.Particles.shape);
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Run(5, null, cts.Token));
        Assert.Equal(33, trainer.Iteration);
        trainer.Run(2);
        Assert.Equal(35, trainer.Iteration);
    }

    [Fact]
    public void NonFiniteDataIsRefusedUpFront()
    {
        using var rng = new RandomGenerator(8);
        using var data = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 10, 3);
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 4, 3);
        data[2, 1] = torch.tensor(float.NaN);
        var e = Assert.Throws<ArgumentException>(() => new DualEbmTrainer(rng, student, data));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("non-finite", e.Message);
    }

    [Fact]
    public void SavedStateResumesIdenticallyAndDamagedFilesNameThemselves()
    {
        using var files = new ModelFileFaults();
        using var rng = new RandomGenerator(9);
        using var data = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 80, 3);
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 6, 3);
        var options = new DualTrainerOptions { Particles = 30, RestartEvery = 4, Lazy = true, ReportEvery = 3 };
        using var trainer = new DualEbmTrainer(rng, student, data, options);
        trainer.Run(10);
        var path = files.PathOf("trainer.model");
        trainer.Save(path);
        using var rngB = new RandomGenerator(100);
        using var rngC = new RandomGenerator(100);
        using var b = DualEbmTrainer.Load(path, rngB, data);
        using var c = DualEbmTrainer.Load(path, rngC, data);
        Assert.Equal(options, b.Options);
        Assert.Equal(10, b.Iteration);
        Assert.True(b.Particles.allclose(trainer.Particles, 0, 0));
        using (var e0 = trainer.CurrentEnergy())
        using (var eb = b.CurrentEnergy())
            Assert.True(eb.Masses.allclose(e0.Masses, 0, 0) && eb.Features.allclose(e0.Features, 0, 0));
        b.Run(5);
        c.Run(5);
        using (var eb = b.CurrentEnergy())
        using (var ec = c.CurrentEnergy())
            Assert.True(eb.Masses.allclose(ec.Masses, 0, 0) && b.Particles.allclose(c.Particles, 0, 0), "same generator seed, same run");
        using var wide = LangevinSampler.UniformSphere(rng, DeviceContext.Cpu, 5, 4);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => DualEbmTrainer.Load(path, rngB, wide)).ParamName);
        var energyPath = files.PathOf("energy.model");
        student.Save(energyPath);
        Assert.Contains("shallow-sphere-energy", Assert.Throws<InvalidDataException>(() => DualEbmTrainer.Load(energyPath, rngB, data)).Message);
        var newer = files.NewerVersion(path);
        Assert.Contains(newer, Assert.Throws<InvalidDataException>(() => DualEbmTrainer.Load(newer, rngB, data)).Message);
        var truncated = files.Truncated(path);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => DualEbmTrainer.Load(truncated, rngB, data)).Message);
    }
}
