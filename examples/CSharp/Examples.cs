// The C# examples of README.md. Each region between `// readme:begin NAME` and `// readme:end`
// appears verbatim in the README (a test checks it), and each example is run by a test.
using EnergyFs.CSharp;
using TorchSharp;
using TorchSharp.Modules;

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

    /// <summary>Implicit training of a SPEN and of an energy written in C# (<see cref="LabelPairEnergy"/>), each with an
    /// inference network (Shankar &amp; Piratla), then a save/load round trip; returns the example F1 of the SPEN, of the
    /// C# energy and of the reloaded SPEN on the training rows.</summary>
    public static (double Spen, double Pairwise, double Loaded) StructuredPrediction()
    {
        // readme:begin csharp-spen
        using var scope = torch.NewDisposeScope();
        using var rng = new RandomGenerator(seed: 2);
        var inputs = rng.Normal(DeviceContext.Cpu, 128, 4);
        var labels = (inputs.matmul(rng.Normal(DeviceContext.Cpu, 4, 3)) > 0).to_type(torch.float32);
        var data = new StructuredExamples(Inputs: inputs, Features: inputs, Labels: labels);
        var options = new ImplicitTrainingOptions { Epochs = 10, BatchSize = 16, InnerSteps = 2, InnerLearningRate = 3e-2, OuterLearningRate = 0.1,
                                                    EntropyWeight = -1, Energy = new SpenEnergy(hidden: 8), NetworkHidden = new[] { 16 }, Seed = 2 };
        using var spen = new ImplicitTrainer(options).Fit(data, validation: data);  // keeps the best epoch
        using var pairwise = new ImplicitTrainer(options with { Energy = new LabelPairEnergy() }).Fit(data, validation: data);
        var path = Path.Combine(Path.GetTempPath(), "energyfs-readme-spen.efs");
        spen.Save(path);
        using var loaded = StructuredModel.Load(path);  // identical predictions
        double f1 = spen.Evaluate(data).ExampleF1, f1Pairwise = pairwise.Evaluate(data).ExampleF1, f1Loaded = loaded.Evaluate(data).ExampleF1;
        Console.WriteLine($"example F1: SPEN {f1:F3} (best epoch {spen.History.BestEpoch}, {spen.Statistics.Solves} implicit solves), " +
                          $"C# pairwise energy {f1Pairwise:F3}, reloaded SPEN {f1Loaded:F3}");
        // readme:end
        File.Delete(path);
        return (f1, f1Pairwise, f1Loaded);
    }

    /// <summary>Part-of-speech tagging of English (UD English EWT) with a BiLSTM-CRF, then a save/load round trip; returns
    /// the UPOS token accuracy on 500 sentences of the test split, the tags of one sentence, and whether the reloaded model tags the test
    /// split identically.</summary>
    public static (double Accuracy, string[] Tags, bool Reloaded) PartOfSpeechTagging()
    {
        // readme:begin csharp-tagger
        var ewt = DataPaths.Find("ud_english_ewt");
        var train = Conllu.ReadSplit(ewt, "train").Take(1000).ToArray();  // a subset: seconds on one core
        var dev = Conllu.ReadSplit(ewt, "dev").Take(200).ToArray();
        var test = Conllu.ReadSplit(ewt, "test").Take(500).ToArray();
        var options = new SequenceTaggerOptions { Loss = SequenceTaggerLoss.Crf, Epochs = 3, LearningRate = 1e-2, WordDimension = 50, Hidden = 50 };
        using var tagger = new SequenceTagger(options).Fit(train.Select(s => s.Forms).ToArray(), train.Select(s => s.Upos).ToArray(),
                                                           dev.Select(s => s.Forms).ToArray(), dev.Select(s => s.Upos).ToArray(),
                                                           new Progress<TrainingEpoch>(Console.WriteLine));
        var metrics = tagger.Evaluate(test);  // against the UPOS column
        string[] tags = tagger.Predict(new[] { "I", "saw", "her", "duck", "under", "the", "table", "." });
        var path = Path.Combine(Path.GetTempPath(), "energyfs-readme-tagger.efs");
        tagger.Save(path);
        using var loaded = SequenceTaggerModel.Load(path);  // identical predictions
        bool same = loaded.Evaluate(test) == metrics;
        Console.WriteLine($"UPOS accuracy on EWT test sentences: {metrics.TokenAccuracy:P2} ({metrics.Tokens} words, best epoch {tagger.History.BestEpoch}); " +
                          $"tags: {string.Join(" ", tags)}; reloaded identical: {same}");
        // readme:end
        File.Delete(path);
        return (metrics.TokenAccuracy, tags, same);
    }
}

// readme:begin csharp-structured-energy
/// <summary>E(x, ȳ) = −⟨ȳ, W F(x) + b⟩ + ½‖Sᵀȳ‖²: per-label scores and a low-rank interaction between labels.</summary>
public sealed class LabelPairEnergy : IStructuredEnergy
{
    public string Name => "label-pair";

    public IReadOnlyList<Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context)
    {
        using var w = rng.Normal(context, labels, featureDim);
        using var s = rng.Normal(context, labels, 2);
        return new[] { new Parameter(w / Math.Sqrt(featureDim)), new Parameter(torch.zeros(labels, dtype: context.DType, device: context.Device)),
                       new Parameter(s * 0.1) };
    }

    public torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels) =>
        -(labels * (features.matmul(theta[0].t()) + theta[1])).sum(-1) + 0.5 * labels.matmul(theta[2]).square().sum(-1);
}
// readme:end
