using Microsoft.FSharp.Core;
using TorchSharp;
using EnergyFs.Learners;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>How an <see cref="EnergyRegressor"/> is trained (Gustafsson, Danelljan &amp; Schön 2022, arXiv 2110.11948).</summary>
public enum RegressionMethod
{
    /// <summary>The EBM f(x, y) trained by ranking NCE with samples of a mixture-density proposal q(y | x) learned jointly
    /// by minimizing an importance-sampling estimate of KL(p ‖ q) (the paper's method, Sec. 3.1).</summary>
    Joint,
    /// <summary>A mixture density network alone (maximum likelihood), no EBM.</summary>
    Mdn,
    /// <summary>The EBM trained by ranking NCE with the fixed noise ½N(y, σ₁²) + ½N(y, σ₂²) around the true y
    /// (Gustafsson et al., BMVC 2020, arXiv 2005.01698); no learned proposal.</summary>
    Nce,
    /// <summary>A separate EBM (NCE with samples from the MDN) teaching a stand-alone MDN trained on ½ KL(p ‖ q) + ½ NLL
    /// (Sec. 4).</summary>
    Teacher,
}

/// <summary>Which networks an <see cref="EnergyRegressor"/> builds (Gustafsson, Danelljan &amp; Schön 2022).</summary>
public enum RegressionArchitecture
{
    /// <summary>EnergyFs's earlier networks (the default): energy head relu(W[h; e] + b) → relu(A z + a) → f, and a
    /// proposal of one linear layer from the features h to the mixture's logits, means and log σ.</summary>
    Compact,
    /// <summary>The networks of the authors' released code: a residual energy head (z ← relu(A z + a) + z) and a
    /// proposal of three separate two-layer networks on h (means, log σ², mixture logits); they use width 10 on the
    /// 1-D toy sets.</summary>
    Paper,
}

/// <summary>Options of <see cref="EnergyRegressor"/>; the defaults are those of the F# <c>RegressionOptions.defaults</c>
/// (Gustafsson, Danelljan &amp; Schön 2022: joint training, K = 4, hidden 32, M = 1024, σ = (0.1, 0.8), 75 epochs of batch 32, Adam 1e-3).</summary>
public sealed record EnergyRegressorOptions
{
    private static readonly RegressionOptions Defaults = RegressionOptionsModule.defaults;

    /// <summary>The training method (default <see cref="RegressionMethod.Joint"/>).</summary>
    public RegressionMethod Method { get; init; } = FromFSharp(Defaults.Method);
    /// <summary>Mixture components K of the proposal / MDN, ≥ 1 (default 4).</summary>
    public int Components { get; init; } = Defaults.Components;
    /// <summary>Width of every hidden layer (default 32; the authors' toy networks use 10).</summary>
    public int Hidden { get; init; } = Defaults.Hidden;
    /// <summary>The networks of the built-in energy and proposal / MDN (default <see cref="RegressionArchitecture.Compact"/>).</summary>
    public RegressionArchitecture Architecture { get; init; } = FromFSharp(Defaults.Architecture);
    /// <summary>Proposal (or noise) samples M per example and step (default 1024).</summary>
    public int Samples { get; init; } = Defaults.Samples;
    /// <summary>σ₁ of the fixed NCE noise of <see cref="RegressionMethod.Nce"/> (default 0.1).</summary>
    public double NoiseStd1 { get; init; } = Defaults.NoiseStds.Item1;
    /// <summary>σ₂ of the fixed NCE noise of <see cref="RegressionMethod.Nce"/> (default 0.8).</summary>
    public double NoiseStd2 { get; init; } = Defaults.NoiseStds.Item2;
    /// <summary>Training epochs (default 75).</summary>
    public int Epochs { get; init; } = Defaults.Epochs;
    /// <summary>Minibatch size (default 32).</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;
    /// <summary>Adam learning rate (default 1e-3).</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;
    /// <summary>Seed of initialisation, batch order and sampling; also the seed of the generator the trained model's
    /// predictions and evaluations use when none is given (default 0).</summary>
    public long Seed { get; init; } = Defaults.Seed;
    /// <summary>A conditional energy of your own: a factory (Dx, D) ↦ <see cref="ConditionalEnergyModule"/> in place of
    /// the built-in network f(x, y) (default null: the built-in, whose width is <see cref="Hidden"/>). With
    /// <see cref="RegressionMethod.Joint"/> the proposal is then a stand-alone mixture density network on x trained
    /// jointly; <see cref="RegressionMethod.Mdn"/> trains no energy and refuses one (ArgumentException).</summary>
    public Func<int, int, ConditionalEnergyModule>? Energy { get; init; }
    /// <summary>Where to train (default <see cref="DeviceContext.Cpu"/>, float32); data are converted to its device and type.</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;

    internal static RegressionMethod FromFSharp(EnergyFs.Learners.RegressionMethod m) =>
        m.IsJoint ? RegressionMethod.Joint : m.IsMdnAlone ? RegressionMethod.Mdn : m.IsNceFixedNoise ? RegressionMethod.Nce : RegressionMethod.Teacher;

    internal static RegressionArchitecture FromFSharp(EnergyFs.Models.RegressionArchitecture a) =>
        a.IsPaper ? RegressionArchitecture.Paper : RegressionArchitecture.Compact;

    internal static EnergyFs.Models.RegressionArchitecture ToFSharp(RegressionArchitecture a) => a switch
    {
        RegressionArchitecture.Compact => EnergyFs.Models.RegressionArchitecture.Compact,
        RegressionArchitecture.Paper => EnergyFs.Models.RegressionArchitecture.Paper,
        _ => throw new ArgumentOutOfRangeException(nameof(Architecture), a, "unknown regression architecture"),
    };

    internal static EnergyFs.Learners.RegressionMethod ToFSharp(RegressionMethod m) => m switch
    {
        RegressionMethod.Joint => EnergyFs.Learners.RegressionMethod.Joint,
        RegressionMethod.Mdn => EnergyFs.Learners.RegressionMethod.MdnAlone,
        RegressionMethod.Nce => EnergyFs.Learners.RegressionMethod.NceFixedNoise,
        RegressionMethod.Teacher => EnergyFs.Learners.RegressionMethod.Teacher,
        _ => throw new ArgumentOutOfRangeException(nameof(Method), m, "unknown regression method"),
    };

    internal RegressionOptions ToFSharp() => ToFSharp(Defaults.Monitor);

    internal RegressionOptions ToFSharp(EnergyFs.Training.FitMonitor monitor)
    {
        NotNull(Context, nameof(Context));
        Positive(Components, nameof(Components));
        Positive(Hidden, nameof(Hidden));
        Positive(Samples, nameof(Samples));
        Positive(Epochs, nameof(Epochs));
        Positive(BatchSize, nameof(BatchSize));
        Positive(LearningRate, nameof(LearningRate));
        Positive(NoiseStd1, nameof(NoiseStd1));
        Positive(NoiseStd2, nameof(NoiseStd2));
        if (Energy is not null && Method == RegressionMethod.Mdn)
            throw new ArgumentException("method Mdn trains no energy-based model: a custom Energy needs Joint, Nce or Teacher", nameof(Energy));
        var energy = Energy is { } factory
            ? FSharpOption<FSharpFunc<int, FSharpFunc<int, Tuple<torch.nn.Module, FSharpFunc<torch.Tensor, FSharpFunc<torch.Tensor, torch.Tensor>>>>>>.Some(ConditionalEnergyModule.ToFSharp(factory))
            : null;
        return new RegressionOptions(ToFSharp(Method), Components, Hidden, ToFSharp(Architecture), Samples,
            Tuple.Create(NoiseStd1, NoiseStd2), Epochs, BatchSize, LearningRate, Seed, energy, monitor);
    }

    /// <summary>The options of a loaded model: the saved F# options with the context and energy factory given.</summary>
    internal static EnergyRegressorOptions FromFSharp(RegressionOptions o, DeviceContext context, Func<int, int, ConditionalEnergyModule>? energy) => new()
    {
        Method = FromFSharp(o.Method), Components = o.Components, Hidden = o.Hidden, Architecture = FromFSharp(o.Architecture), Samples = o.Samples,
        NoiseStd1 = o.NoiseStds.Item1, NoiseStd2 = o.NoiseStds.Item2, Epochs = o.Epochs, BatchSize = o.BatchSize,
        LearningRate = o.LearningRate, Seed = o.Seed, Energy = energy, Context = context,
    };
}

/// <summary>Options of <see cref="EnergyRegressionModel.PredictMode(torch.Tensor, RandomGenerator?, ModePredictionOptions?)"/>.</summary>
public sealed record ModePredictionOptions
{
    /// <summary>Proposal samples per example; the best one under f starts the refinement (default 1024).</summary>
    public int Samples { get; init; } = 1024;
    /// <summary>Gradient-ascent steps y ← y + η∇_y f(x, y) after the best sample (default 0: none).</summary>
    public int Steps { get; init; }
    /// <summary>Step size η of the refinement (default 0.01).</summary>
    public double StepSize { get; init; } = 0.01;
}

/// <summary>A probabilistic regressor p(y | x) = exp(f(x, y)) / Z(x): a conditional energy-based model trained by NCE
/// with a learned mixture-density proposal, or an MDN (Gustafsson, Danelljan &amp; Schön, "Learning Proposals for
/// Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948). The estimator holds only its options (no native
/// memory); <see cref="Fit(torch.Tensor, torch.Tensor, IProgress{TrainingEpoch}?, CancellationToken)"/> returns a
/// trained <see cref="EnergyRegressionModel"/>, which owns its networks.</summary>
public sealed class EnergyRegressor
{
    /// <summary>A regressor with the given settings.</summary>
    /// <param name="options">Method and training settings (default: <see cref="EnergyRegressorOptions"/>'s defaults).</param>
    public EnergyRegressor(EnergyRegressorOptions? options = null) => Options = options ?? new EnergyRegressorOptions();

    /// <summary>The settings.</summary>
    public EnergyRegressorOptions Options { get; }

    /// <summary>Trains a model on x [N, Dx] and y [N, D] (converted to the options' device and type; the tensors stay
    /// the caller's). Wrong ranks, mismatched row counts, non-finite values or invalid options throw ArgumentException
    /// naming the argument; a diverged run throws InvalidOperationException. Cancelling stops before the next step,
    /// frees what was built and throws OperationCanceledException.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D] (standardize them first: the defaults assume unit scale).</param>
    /// <param name="progress">Receives a <see cref="TrainingEpoch"/> after every epoch (train_loss, grad_norm, lr, seconds).</param>
    /// <param name="cancellationToken">Stops the training.</param>
    public EnergyRegressionModel Fit(torch.Tensor x, torch.Tensor y, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        Rank(x, 2, "inputs [N, Dx]");
        Rank(y, 2, "targets [N, D]");
        SameRows(x, y);
        if (x.shape[0] < 1) throw new ArgumentException("x has no rows", nameof(x));
        Finite(x);
        Finite(y);
        var context = NotNull(Options.Context, nameof(Options.Context));
        var fsOptions = Options.ToFSharp(Monitor(progress, cancellationToken, Options.Epochs));
        var (model, result) = ScopedWith(
            () => Guard(() =>
            {
                var xs = x.to(context.DType, context.Device);
                var ys = y.to(context.DType, context.Device);
                var trained = Regression.train(context.Inner, fsOptions, xs, ys);
                return (trained.Item1, trained.Item2);
            }),
            r => r.Item1.parameters().Cast<torch.Tensor>().Concat(r.Item1.buffers()));
        return new EnergyRegressionModel(model, Options, context.Inner, result.History);
    }

    /// <summary>Trains a model on input rows x [N][Dx] and target rows y [N][D]; see
    /// <see cref="Fit(torch.Tensor, torch.Tensor, IProgress{TrainingEpoch}?, CancellationToken)"/>. Ragged rows or
    /// non-finite values throw ArgumentException naming the row and column.</summary>
    /// <param name="x">Input rows, all of the same length.</param>
    /// <param name="y">Target rows, all of the same length.</param>
    /// <param name="progress">Receives a <see cref="TrainingEpoch"/> after every epoch.</param>
    /// <param name="cancellationToken">Stops the training.</param>
    public EnergyRegressionModel Fit(double[][] x, double[][] y, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        using var xs = RowTables.Matrix(x);
        using var ys = RowTables.Matrix(y);
        return Fit(xs, ys, progress, cancellationToken);
    }

    /// <summary>Trains a model on float input rows x [N][Dx] and target rows y [N][D]; see
    /// <see cref="Fit(double[][], double[][], IProgress{TrainingEpoch}?, CancellationToken)"/>.</summary>
    /// <param name="x">Input rows, all of the same length.</param>
    /// <param name="y">Target rows, all of the same length.</param>
    /// <param name="progress">Receives a <see cref="TrainingEpoch"/> after every epoch.</param>
    /// <param name="cancellationToken">Stops the training.</param>
    public EnergyRegressionModel Fit(float[][] x, float[][] y, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        using var xs = RowTables.Matrix(x);
        using var ys = RowTables.Matrix(y);
        return Fit(xs, ys, progress, cancellationToken);
    }
}
