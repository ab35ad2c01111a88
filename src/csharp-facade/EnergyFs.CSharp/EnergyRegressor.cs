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

/// <summary>Options of <see cref="EnergyRegressor.Fit"/>; the defaults are those of the F# <c>RegressionOptions.defaults</c>
/// (Gustafsson, Danelljan &amp; Schön 2022: joint training, K = 4, hidden 32, M = 1024, σ = (0.1, 0.8), 75 epochs of batch 32, Adam 1e-3).</summary>
public sealed record EnergyRegressorOptions
{
    private static readonly RegressionOptions Defaults = RegressionOptionsModule.defaults;

    /// <summary>The training method (default <see cref="RegressionMethod.Joint"/>).</summary>
    public RegressionMethod Method { get; init; } = FromFSharp(Defaults.Method);
    /// <summary>Mixture components K of the proposal / MDN, ≥ 1 (default 4).</summary>
    public int Components { get; init; } = Defaults.Components;
    /// <summary>Width of every hidden layer (default 32).</summary>
    public int Hidden { get; init; } = Defaults.Hidden;
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
    /// <summary>Seed of initialisation, batch order and sampling (default 0).</summary>
    public long Seed { get; init; } = Defaults.Seed;

    internal static RegressionMethod FromFSharp(EnergyFs.Learners.RegressionMethod m) =>
        m.IsJoint ? RegressionMethod.Joint : m.IsMdnAlone ? RegressionMethod.Mdn : m.IsNceFixedNoise ? RegressionMethod.Nce : RegressionMethod.Teacher;

    internal static EnergyFs.Learners.RegressionMethod ToFSharp(RegressionMethod m) => m switch
    {
        RegressionMethod.Joint => EnergyFs.Learners.RegressionMethod.Joint,
        RegressionMethod.Mdn => EnergyFs.Learners.RegressionMethod.MdnAlone,
        RegressionMethod.Nce => EnergyFs.Learners.RegressionMethod.NceFixedNoise,
        RegressionMethod.Teacher => EnergyFs.Learners.RegressionMethod.Teacher,
        _ => throw new ArgumentOutOfRangeException(nameof(Method), m, "unknown regression method"),
    };

    internal RegressionOptions ToFSharp()
    {
        Positive(Samples, nameof(Samples));
        Positive(Epochs, nameof(Epochs));
        Positive(BatchSize, nameof(BatchSize));
        Positive(LearningRate, nameof(LearningRate));
        Positive(NoiseStd1, nameof(NoiseStd1));
        Positive(NoiseStd2, nameof(NoiseStd2));
        return new RegressionOptions(ToFSharp(Method), Components, Hidden, Samples,
            Tuple.Create(NoiseStd1, NoiseStd2), Epochs, BatchSize, LearningRate, Seed, Defaults.Monitor);
    }
}

/// <summary>Options of <see cref="EnergyRegressor.PredictMode"/>.</summary>
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
/// Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948). Owns its networks: dispose it.</summary>
public sealed class EnergyRegressor : IDisposable
{
    private readonly RegressionModel _model;
    private readonly EnergyFs.Context _context;
    private bool _disposed;

    private EnergyRegressor(RegressionModel model, EnergyFs.Context context)
    {
        _model = model;
        _context = context;
    }

    private RegressionModel Model
    {
        get { NotDisposed(_disposed, this); return _model; }
    }

    /// <summary>Trains a regressor on x [N, Dx] and y [N, D]. Mismatched row counts, non-finite values or invalid
    /// options throw ArgumentException naming the argument.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D] (standardize them first: the defaults assume unit scale).</param>
    /// <param name="options">Method and training settings (default: <see cref="EnergyRegressorOptions"/>'s defaults).</param>
    /// <param name="context">Where to train (default <see cref="DeviceContext.Cpu"/>).</param>
    public static EnergyRegressor Fit(torch.Tensor x, torch.Tensor y, EnergyRegressorOptions? options = null, DeviceContext? context = null)
    {
        var ctx = (context ?? DeviceContext.Cpu).Inner;
        var fsOptions = (options ?? new EnergyRegressorOptions()).ToFSharp();
        var model = ScopedWith(() => Regression.train(ctx, fsOptions, NotNull(x), NotNull(y)).Item1, m => m.parameters().Cast<torch.Tensor>().Concat(m.buffers()));
        return new EnergyRegressor(model, ctx);
    }

    /// <summary>The training method.</summary>
    public RegressionMethod Method => EnergyRegressorOptions.FromFSharp(Model.Method);

    /// <summary>Whether the model has an EBM f (every method but <see cref="RegressionMethod.Mdn"/>).</summary>
    public bool HasEnergy => OptionModule.IsSome(Model.Ebm);

    /// <summary>f(x_i, y_m), the unnormalized log-density, for x [B, Dx] and candidates y [B, M, D] → [B, M];
    /// throws InvalidOperationException for <see cref="RegressionMethod.Mdn"/>.</summary>
    /// <param name="x">Inputs [B, Dx].</param>
    /// <param name="y">Candidates [B, M, D].</param>
    public torch.Tensor Score(torch.Tensor x, torch.Tensor y)
    {
        var ebm = ValueOrNull(Model.Ebm) ?? throw new InvalidOperationException("method Mdn has no energy-based model");
        Rank(x, 2, "inputs [B, Dx]");
        Rank(y, 3, "candidates [B, M, D]");
        SameRows(x, y);
        return Scoped(() => ebm.forward(x, y));
    }

    /// <summary>The proposal q(· | x) for x [B, Dx] (owned by the caller: dispose it); null for <see cref="RegressionMethod.Nce"/>.</summary>
    /// <param name="x">Inputs [B, Dx].</param>
    public MixtureDensityProposal? Proposal(torch.Tensor x)
    {
        Rank(x, 2, "inputs [B, Dx]");
        var q = ScopedWith(() => ValueOrNull(Model.Proposal(x)), m => m is null ? Array.Empty<torch.Tensor>() : new[] { m.LogWeights, m.Means, m.LogStds });
        return q is null ? null : new MixtureDensityProposal(q);
    }

    /// <summary>Mean test NLL −mean log p(y | x) of the EBM with log Z(x) estimated by importance sampling from the
    /// proposal (<paramref name="samples"/> per example).</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D].</param>
    /// <param name="rng">The sampling generator.</param>
    /// <param name="samples">Importance samples per example.</param>
    public double NllImportanceSampling(torch.Tensor x, torch.Tensor y, RandomGenerator rng, int samples = 4096) =>
        ScopedValue(() => Regression.ebmNllImportance(NotNull(rng).Inner, Positive(samples), Model, NotNull(x), NotNull(y)));

    /// <summary>Mean test NLL of the EBM of a 1-D y with log Z(x) by trapezoidal quadrature on [low, high].</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, 1].</param>
    /// <param name="low">Lower end of the quadrature range (wide enough to hold the model's mass).</param>
    /// <param name="high">Upper end.</param>
    /// <param name="points">Quadrature points.</param>
    public double NllQuadrature(torch.Tensor x, torch.Tensor y, double low, double high, int points = 4096)
    {
        if (!(high > low)) throw new ArgumentException($"the quadrature range needs low < high, got [{low}, {high}]", nameof(high));
        return ScopedValue(() => Regression.ebmNllQuadrature(_context, low, high, Positive(points), Model, NotNull(x), NotNull(y)));
    }

    /// <summary>Exact mean test NLL −mean log q(y | x) of the proposal / MDN.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D].</param>
    public double ProposalNll(torch.Tensor x, torch.Tensor y) => ScopedValue(() => Regression.proposalNll(Model, NotNull(x), NotNull(y)));

    /// <summary>Mean predictions [N, D]: E_p[y | x] by self-normalized importance sampling from the proposal (the
    /// mixture mean for <see cref="RegressionMethod.Mdn"/>).</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="rng">The sampling generator.</param>
    /// <param name="samples">Proposal samples per example.</param>
    public torch.Tensor PredictMean(torch.Tensor x, RandomGenerator rng, int samples = 1024) =>
        Scoped(() => Regression.predictMean(NotNull(rng).Inner, Positive(samples), Model, Rank(x, 2, "inputs [N, Dx]")));

    /// <summary>Mode predictions argmax_y f(x, y), [N, D]: the best proposal sample, refined by gradient ascent on f.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="rng">The sampling generator.</param>
    /// <param name="options">Samples and refinement steps.</param>
    public torch.Tensor PredictMode(torch.Tensor x, RandomGenerator rng, ModePredictionOptions? options = null)
    {
        var o = options ?? new ModePredictionOptions();
        return Scoped(() => Regression.predictMode(NotNull(rng).Inner, Positive(o.Samples, nameof(o.Samples)), NonNegative(o.Steps, nameof(o.Steps)),
            o.StepSize, Model, Rank(x, 2, "inputs [N, Dx]")));
    }

    /// <summary>Frees the networks; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }
}
