using Microsoft.FSharp.Core;
using TorchSharp;
using EnergyFs.Learners;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Test metrics of a trained <see cref="EnergyRegressionModel"/> (Gustafsson, Danelljan &amp; Schön 2022,
/// arXiv 2110.11948, Sec. 5: NLL; plus the errors of the mean predictions).</summary>
/// <param name="Nll">Mean negative log-likelihood −mean log p(y | x): of the EBM with log Z(x) estimated by importance
/// sampling from the proposal (<see cref="RegressionMethod.Joint"/>, <see cref="RegressionMethod.Teacher"/>), or the
/// exact NLL of the MDN (<see cref="RegressionMethod.Mdn"/>).</param>
/// <param name="ProposalNll">Exact mean NLL −mean log q(y | x) of the proposal / MDN.</param>
/// <param name="Rmse">Root mean squared error of the mean predictions E[y | x], over all examples and target dimensions.</param>
/// <param name="Mae">Mean absolute error of the mean predictions.</param>
public sealed record RegressionMetrics(double Nll, double ProposalNll, double Rmse, double Mae);

/// <summary>A trained probabilistic regressor p(y | x) = exp(f(x, y)) / Z(x) (an EBM with its learned proposal, or an
/// MDN), returned by <see cref="EnergyRegressor"/>'s Fit or by <see cref="Load"/> (Gustafsson, Danelljan &amp; Schön,
/// "Learning Proposals for Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948). Predictions and
/// evaluations that sample take a <see cref="RandomGenerator"/>; without one they use a fresh generator seeded with
/// <see cref="EnergyRegressorOptions.Seed"/>, so repeated calls give identical results. Tensor inputs are converted to
/// the model's device and type; results live there. Owns its networks: dispose it.</summary>
public sealed class EnergyRegressionModel : IDisposable
{
    private readonly RegressionModel model;
    private readonly EnergyFs.Context context;
    private readonly EnergyFs.Training.TrainingHistory fsHistory;
    private bool disposed;

    internal EnergyRegressionModel(RegressionModel model, EnergyRegressorOptions options, EnergyFs.Context context, EnergyFs.Training.TrainingHistory history)
    {
        this.model = model;
        this.context = context;
        fsHistory = history;
        Options = options;
        History = TrainingHistory.FromFSharp(history, null, EnergyFs.Training.StopReason.Completed);
    }

    private RegressionModel Model
    {
        get { NotDisposed(disposed, this); return model; }
    }

    /// <summary>The settings the model was trained with (for a loaded model: the saved ones, with the context and energy
    /// factory given to <see cref="Load"/>).</summary>
    public EnergyRegressorOptions Options { get; }

    /// <summary>The training history: one row per epoch (train_loss, grad_norm, lr, seconds).</summary>
    public TrainingHistory History { get; }

    /// <summary>The training method.</summary>
    public RegressionMethod Method => EnergyRegressorOptions.FromFSharp(Model.Method);

    /// <summary>Whether the model has an EBM f (every method but <see cref="RegressionMethod.Mdn"/>).</summary>
    public bool HasEnergy => Model.HasEbm;

    /// <summary>Dimension Dx of the inputs.</summary>
    public int InputDimension => Model.XDim;

    /// <summary>Dimension D of the targets.</summary>
    public int TargetDimension => Model.YDim;

    private torch.Tensor Inputs(torch.Tensor x, string name)
    {
        Rank(x, 2, "inputs [N, Dx]", name);
        if (x.shape[1] != model.XDim) throw new ArgumentException($"{name} must have {model.XDim} columns (the model's Dx), got shape {Shape(x)}", name);
        Finite(x, name);
        return x.to(context.DType, context.Device);
    }

    private torch.Tensor Targets(torch.Tensor y, torch.Tensor x, string name)
    {
        Rank(y, 2, "targets [N, D]", name);
        if (y.shape[1] != model.YDim) throw new ArgumentException($"{name} must have {model.YDim} columns (the model's D), got shape {Shape(y)}", name);
        if (y.shape[0] != x.shape[0]) throw new ArgumentException($"x {Shape(x)} and {name} {Shape(y)} must have the same number of rows", name);
        Finite(y, name);
        return y.to(context.DType, context.Device);
    }

    /// <summary>Runs <paramref name="f"/> with the given generator, or with a fresh one seeded with Options.Seed.</summary>
    private T WithRng<T>(RandomGenerator? rng, Func<EnergyFs.Rng, T> f)
    {
        if (rng is not null) return f(rng.Inner);
        using var own = new EnergyFs.Rng(Options.Seed, context.Device);
        return f(own);
    }

    /// <summary>f(x_i, y_m), the unnormalized log-density, for x [B, Dx] and candidates y [B, M, D] → [B, M];
    /// throws InvalidOperationException for <see cref="RegressionMethod.Mdn"/>.</summary>
    /// <param name="x">Inputs [B, Dx].</param>
    /// <param name="y">Candidates [B, M, D].</param>
    public torch.Tensor Score(torch.Tensor x, torch.Tensor y)
    {
        if (!Model.HasEbm) throw new InvalidOperationException("method Mdn has no energy-based model");
        Rank(x, 2, "inputs [B, Dx]");
        Rank(y, 3, "candidates [B, M, D]");
        SameRows(x, y);
        if (y.shape[2] != model.YDim) throw new ArgumentException($"y must have {model.YDim} values per candidate, got shape {Shape(y)}", nameof(y));
        return Scoped(() => Guard(() => model.Score(Inputs(x, nameof(x)), y.to(context.DType, context.Device))));
    }

    /// <summary>The proposal q(· | x) for x [B, Dx] (owned by the caller: dispose it); null for <see cref="RegressionMethod.Nce"/>.</summary>
    /// <param name="x">Inputs [B, Dx].</param>
    public MixtureDensityProposal? Proposal(torch.Tensor x)
    {
        var m = Model;
        var q = ScopedWith(() => ValueOrNull(m.Proposal(Inputs(x, nameof(x)))), r => r is null ? Array.Empty<torch.Tensor>() : new[] { r.LogWeights, r.Means, r.LogStds });
        return q is null ? null : new MixtureDensityProposal(q);
    }

    /// <summary>Mean test NLL −mean log p(y | x) of the EBM with log Z(x) estimated by importance sampling from the
    /// proposal (<paramref name="samples"/> per example).</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D].</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Importance samples per example.</param>
    public double NllImportanceSampling(torch.Tensor x, torch.Tensor y, RandomGenerator? rng = null, int samples = 4096)
    {
        var m = Model;
        Positive(samples);
        if (!m.HasEbm) throw new InvalidOperationException("method Mdn has no energy-based model: use ProposalNll");
        if (m.Method.IsNceFixedNoise) throw new InvalidOperationException("method Nce has no proposal to sample from: use NllQuadrature");
        return ScopedValue(() => WithRng(rng, r => Guard(() => Regression.ebmNllImportance(r, samples, m, Inputs(x, nameof(x)), Targets(y, x, nameof(y))))));
    }

    /// <summary>Mean test NLL of the EBM of a 1-D y with log Z(x) by trapezoidal quadrature on [low, high].</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, 1].</param>
    /// <param name="low">Lower end of the quadrature range (wide enough to hold the model's mass).</param>
    /// <param name="high">Upper end.</param>
    /// <param name="points">Quadrature points.</param>
    public double NllQuadrature(torch.Tensor x, torch.Tensor y, double low, double high, int points = 4096)
    {
        var m = Model;
        if (!(high > low)) throw new ArgumentException($"the quadrature range needs low < high, got [{low}, {high}]", nameof(high));
        Positive(points);
        if (!m.HasEbm) throw new InvalidOperationException("method Mdn has no energy-based model: use ProposalNll");
        return ScopedValue(() => Guard(() => Regression.ebmNllQuadrature(context, low, high, points, m, Inputs(x, nameof(x)), Targets(y, x, nameof(y)))));
    }

    /// <summary>Exact mean test NLL −mean log q(y | x) of the proposal / MDN; InvalidOperationException for
    /// <see cref="RegressionMethod.Nce"/>.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D].</param>
    public double ProposalNll(torch.Tensor x, torch.Tensor y)
    {
        var m = Model;
        if (m.Method.IsNceFixedNoise) throw new InvalidOperationException("method Nce has no proposal");
        return ScopedValue(() => Guard(() => Regression.proposalNll(m, Inputs(x, nameof(x)), Targets(y, x, nameof(y)))));
    }

    /// <summary>Mean predictions [N, D]: E_p[y | x] by self-normalized importance sampling from the proposal (the
    /// mixture mean for <see cref="RegressionMethod.Mdn"/>); InvalidOperationException for <see cref="RegressionMethod.Nce"/>.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example.</param>
    public torch.Tensor PredictMean(torch.Tensor x, RandomGenerator? rng = null, int samples = 1024)
    {
        var m = Model;
        Positive(samples);
        if (m.Method.IsNceFixedNoise) throw new InvalidOperationException("method Nce has no proposal, so no importance-sampling mean: use a model trained with Joint or Teacher");
        return Scoped(() => WithRng(rng, r => Guard(() => Regression.predictMean(r, samples, m, Inputs(x, nameof(x))))));
    }

    /// <summary>Mean predictions [N][D] for input rows [N][Dx]; see <see cref="PredictMean(torch.Tensor, RandomGenerator?, int)"/>.</summary>
    /// <param name="x">Input rows with Dx columns.</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example.</param>
    public double[][] PredictMean(double[][] x, RandomGenerator? rng = null, int samples = 1024)
    {
        using var xs = RowTables.Matrix(x, Model.XDim);
        using var mean = PredictMean(xs, rng, samples);
        return RowTables.Rows(mean);
    }

    /// <summary>Mean predictions [N][D] for float input rows [N][Dx]; see <see cref="PredictMean(torch.Tensor, RandomGenerator?, int)"/>.</summary>
    /// <param name="x">Input rows with Dx columns.</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example.</param>
    public float[][] PredictMean(float[][] x, RandomGenerator? rng = null, int samples = 1024)
    {
        using var xs = RowTables.Matrix(x, Model.XDim);
        using var mean = PredictMean(xs, rng, samples);
        return RowTables.FloatRows(mean);
    }

    /// <summary>Mode predictions argmax_y f(x, y), [N, D]: the best proposal sample, refined by gradient ascent on f;
    /// InvalidOperationException for <see cref="RegressionMethod.Mdn"/> and <see cref="RegressionMethod.Nce"/>.</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="options">Samples and refinement steps.</param>
    public torch.Tensor PredictMode(torch.Tensor x, RandomGenerator? rng = null, ModePredictionOptions? options = null)
    {
        var m = Model;
        var o = options ?? new ModePredictionOptions();
        Positive(o.Samples, nameof(o.Samples));
        NonNegative(o.Steps, nameof(o.Steps));
        if (!m.HasEbm) throw new InvalidOperationException("method Mdn has no energy-based model to maximize: use PredictMean");
        if (m.Method.IsNceFixedNoise) throw new InvalidOperationException("method Nce has no proposal to start the search from");
        return Scoped(() => WithRng(rng, r => Guard(() => Regression.predictMode(r, o.Samples, o.Steps, o.StepSize, m, Inputs(x, nameof(x))))));
    }

    /// <summary>Mode predictions [N][D] for input rows [N][Dx]; see <see cref="PredictMode(torch.Tensor, RandomGenerator?, ModePredictionOptions?)"/>.</summary>
    /// <param name="x">Input rows with Dx columns.</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="options">Samples and refinement steps.</param>
    public double[][] PredictMode(double[][] x, RandomGenerator? rng = null, ModePredictionOptions? options = null)
    {
        using var xs = RowTables.Matrix(x, Model.XDim);
        using var mode = PredictMode(xs, rng, options);
        return RowTables.Rows(mode);
    }

    /// <summary>The test metrics of the model on x [N, Dx], y [N, D]: NLL, proposal NLL, and the RMSE and MAE of the mean
    /// predictions (one generator, drawn in that order). InvalidOperationException for <see cref="RegressionMethod.Nce"/>,
    /// which has no proposal (use <see cref="NllQuadrature"/>).</summary>
    /// <param name="x">Inputs [N, Dx].</param>
    /// <param name="y">Targets [N, D].</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example for the importance-sampling NLL and the mean predictions.</param>
    public RegressionMetrics Evaluate(torch.Tensor x, torch.Tensor y, RandomGenerator? rng = null, int samples = 1024)
    {
        var m = Model;
        Positive(samples);
        if (m.Method.IsNceFixedNoise)
            throw new InvalidOperationException("method Nce has no proposal, so no importance-sampling NLL or mean prediction: use NllQuadrature for a 1-D y");
        return ScopedValue(() => WithRng(rng, r => Guard(() =>
        {
            var xs = Inputs(x, nameof(x));
            var ys = Targets(y, x, nameof(y));
            var proposal = Regression.proposalNll(m, xs, ys);
            var nll = m.HasEbm ? Regression.ebmNllImportance(r, samples, m, xs, ys) : proposal;
            var error = Regression.predictMean(r, samples, m, xs) - ys;
            var rmse = error.square().mean().sqrt().ToDouble();
            var mae = error.abs().mean().ToDouble();
            return new RegressionMetrics(nll, proposal, rmse, mae);
        })));
    }

    /// <summary>The test metrics for input rows [N][Dx] and target rows [N][D]; see
    /// <see cref="Evaluate(torch.Tensor, torch.Tensor, RandomGenerator?, int)"/>.</summary>
    /// <param name="x">Input rows with Dx columns.</param>
    /// <param name="y">Target rows with D columns.</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example.</param>
    public RegressionMetrics Evaluate(double[][] x, double[][] y, RandomGenerator? rng = null, int samples = 1024)
    {
        using var xs = RowTables.Matrix(x, Model.XDim);
        using var ys = RowTables.Matrix(y, Model.YDim);
        return Evaluate(xs, ys, rng, samples);
    }

    /// <summary>The test metrics for float input rows [N][Dx] and target rows [N][D]; see
    /// <see cref="Evaluate(torch.Tensor, torch.Tensor, RandomGenerator?, int)"/>.</summary>
    /// <param name="x">Input rows with Dx columns.</param>
    /// <param name="y">Target rows with D columns.</param>
    /// <param name="rng">The sampling generator (default: a fresh one seeded with Options.Seed).</param>
    /// <param name="samples">Proposal samples per example.</param>
    public RegressionMetrics Evaluate(float[][] x, float[][] y, RandomGenerator? rng = null, int samples = 1024)
    {
        using var xs = RowTables.Matrix(x, Model.XDim);
        using var ys = RowTables.Matrix(y, Model.YDim);
        return Evaluate(xs, ys, rng, samples);
    }

    /// <summary>Writes the model to <paramref name="path"/> in the EnergyFs model file format (kind "energy-regressor":
    /// shapes, method, options and history in the JSON header, the networks' state dict as tensors), atomically,
    /// creating the folder when needed.</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        var m = Model;
        NotNull(path);
        var options = Options.ToFSharp();
        Guard(() => { RegressionFile.save(path, m, options, fsHistory); return 0; });
    }

    /// <summary>Loads a model written by <see cref="Save"/> onto <paramref name="context"/>'s device, in the saved
    /// floating-point type. A model trained with a custom energy needs the same <paramref name="energy"/> factory (a
    /// module of the same name and parameter shapes). A missing file throws FileNotFoundException; a file of another
    /// model kind, a newer format version, a truncated file, or a custom-energy model loaded without its energy throw
    /// InvalidDataException naming the file.</summary>
    /// <param name="path">The file to read.</param>
    /// <param name="context">Where to load it (default <see cref="DeviceContext.Cpu"/>; the saved dtype is kept).</param>
    /// <param name="energy">The custom energy factory the model was trained with, if any.</param>
    public static EnergyRegressionModel Load(string path, DeviceContext? context = null, Func<int, int, ConditionalEnergyModule>? energy = null)
    {
        NotNull(path);
        var ctx = (context ?? DeviceContext.Cpu).Inner;
        var fsEnergy = energy is null ? null
            : FSharpOption<FSharpFunc<int, FSharpFunc<int, Tuple<torch.nn.Module, FSharpFunc<torch.Tensor, FSharpFunc<torch.Tensor, torch.Tensor>>>>>>.Some(ConditionalEnergyModule.ToFSharp(energy));
        var loaded = ScopedWith(() => Guard(() => RegressionFile.load(path, ctx, fsEnergy)),
                                r => r.Item1.parameters().Cast<torch.Tensor>().Concat(r.Item1.buffers()));
        var model = loaded.Item1;
        var dtype = model.parameters().First().dtype;
        var loadedContext = new EnergyFs.Context(ctx.Device, dtype);
        var options = EnergyRegressorOptions.FromFSharp(loaded.Item2, new DeviceContext(loadedContext), energy);
        return new EnergyRegressionModel(model, options, loadedContext, loaded.Item3);
    }

    /// <summary>Frees the networks; later use throws ObjectDisposedException naming this type.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        model.Dispose();
    }
}
