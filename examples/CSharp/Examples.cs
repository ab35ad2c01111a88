// The C# examples of README.md. Each region between `// readme:begin NAME` and `// readme:end`
// appears verbatim in the README (a test checks it), and each example is run by a test.
using EnergyFs.CSharp;
using TorchSharp;

namespace EnergyFs.Examples.CSharp;

/// <summary>Examples shown in the README.</summary>
public static class Examples
{
    /// <summary>Gradient and Hessian-vector product from C#; returns whether the finite-difference check passed.</summary>
    public static bool Differentiation()
    {
        // readme:begin csharp-diff
        Func<torch.Tensor, torch.Tensor> f = x => x.exp().sum() + x.pow(3).sum();
        using var x = torch.tensor(new[] { 0.5, -1.0, 2.0 });
        using var v = torch.tensor(new[] { 1.0, 0.0, 0.0 });
        using var g = Autodiff.Grad(f, x);
        using var hv = Autodiff.Hvp(f, x, v);
        var check = GradientChecker.CheckGrad(f, x);
        Console.WriteLine($"grad = [{string.Join(", ", g.data<double>().ToArray())}], check passed: {check.Passed}");
        // readme:end
        return check.Passed;
    }

    /// <summary>The sparsemax Fenchel-Young loss (Blondel et al.); returns the loss, 1 in closed form.</summary>
    public static double FenchelYoung()
    {
        // readme:begin csharp-fy
        using var theta = torch.tensor(new[,] { { 2.0, 1.0, -1.0 } });
        using var y = torch.tensor(new[,] { { 0.0, 1.0, 0.0 } });
        var loss = new FenchelYoungLoss(FyRegularizer.Sparsemax);
        using var l = loss.Loss(theta, y);                     // Ω*(θ) + Ω(y) − ⟨θ, y⟩ = 1
        using var p = FyRegularizer.Sparsemax.Predict(theta);  // sparsemax(θ) = [1, 0, 0]
        using var g = loss.Gradient(theta, y);                 // p − y, without differentiating the argmax
        Console.WriteLine($"loss {l.ToDouble()}, prediction [{string.Join(", ", p.data<double>().ToArray())}]");
        // readme:end
        return l.ToDouble();
    }

    /// <summary>Dual (GDA) training of a shallow energy on the sphere (Domingo-Enrich et al.); returns the mean
    /// energy of the data before and after.</summary>
    public static (double Before, double After) DualTraining()
    {
        // readme:begin csharp-dual
        using var scope = torch.NewDisposeScope();  // frees every tensor of this block at its end
        using var rng = new RandomGenerator(seed: 0);
        using var teacher = ShallowSphereEnergy.Teacher(rng, DeviceContext.Cpu, neurons: 2, dim: 3);
        var data = LangevinSampler.Rejection(rng, DeviceContext.Cpu, teacher, n: 500);  // exact samples on S²
        using var student = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, neurons: 16, dim: 3);
        var options = new DualTrainerOptions { Particles = 200, ParticleStep = 0.02, FeatureStep = 0.02, MassStep = 0.02 };
        using var trainer = new DualEbmTrainer(rng, student, data, options);
        trainer.Run(iterations: 200);
        using var trained = trainer.CurrentEnergy();
        double before = student.Energy(data).mean().ToDouble(), after = trained.Energy(data).mean().ToDouble();
        Console.WriteLine($"mean energy of the data: {before:F3} -> {after:F3}");
        // readme:end
        return (before, after);
    }

    /// <summary>Energy-based regression with a learned proposal (Gustafsson et al.); returns the NLL of the EBM
    /// and of its proposal on the training data, and whether the saved and reloaded model predicts the same.</summary>
    public static (double Ebm, double Proposal, bool Reloaded) Regression()
    {
        // readme:begin csharp-regression
        using var scope = torch.NewDisposeScope();
        using var rng = new RandomGenerator(seed: 1);
        var x = rng.Uniform(DeviceContext.Cpu, 300, 1) * 6 - 3;
        var y = x.sin() + rng.Normal(DeviceContext.Cpu, 300, 1) * 0.1 * x.abs();  // heteroscedastic noise
        var options = new EnergyRegressorOptions { Method = RegressionMethod.Joint, Epochs = 10, Samples = 64, Hidden = 16, LearningRate = 3e-3 };
        using var model = new EnergyRegressor(options).Fit(x, y);
        double ebm = model.NllQuadrature(x, y, low: -5, high: 5), proposal = model.ProposalNll(x, y);
        var mean = model.PredictMean(x);  // E[y | x] by self-normalized importance sampling (generator seeded with options.Seed)
        var path = Path.Combine(Path.GetTempPath(), "energyfs-regressor.model");
        model.Save(path);
        using var loaded = EnergyRegressionModel.Load(path);
        bool same = loaded.PredictMean(x).allclose(mean, 0, 0);  // the same seed gives the same predictions
        Console.WriteLine($"NLL: EBM {ebm:F3}, proposal {proposal:F3}; RMSE {model.Evaluate(x, y).Rmse:F3}; reloaded predictions identical: {same}");
        // readme:end
        return (ebm, proposal, same);
    }

    /// <summary>Implicit training of a SPEN with an inference network (Shankar &amp; Piratla); returns the example F1 on
    /// the training rows before and after.</summary>
    public static (double Before, double After) StructuredPrediction()
    {
        // readme:begin csharp-spen
        using var scope = torch.NewDisposeScope();
        using var rng = new RandomGenerator(seed: 2);
        var inputs = rng.Normal(DeviceContext.Cpu, 128, 4);
        var labels = (inputs.matmul(rng.Normal(DeviceContext.Cpu, 4, 3)) > 0).to_type(torch.float32);
        var data = new StructuredExamples(Inputs: inputs, Features: inputs, Labels: labels);
        using var energy = new StructuredEnergyModel(labels: 3, featureDim: 4, hidden: 8, rng);
        using var network = new InferenceNetwork(new[] { 4, 16, 3 }, rng);
        double F1() => MultilabelMetrics.ExampleF1(network.Predict(inputs), labels, threshold: 0.5);
        var options = new ImplicitTrainingOptions { Epochs = 5, BatchSize = 16, InnerSteps = 2, InnerLearningRate = 1e-2, OuterLearningRate = 1e-2 };
        double before = F1();
        var report = ImplicitTrainer.Train(energy, network, data, options, validate: F1);  // restores the best epoch
        Console.WriteLine($"example F1 {before:F3} -> {F1():F3} after {report.Epochs.Count} epochs, {report.Solves} implicit solves");
        // readme:end
        return (before, F1());
    }
}
