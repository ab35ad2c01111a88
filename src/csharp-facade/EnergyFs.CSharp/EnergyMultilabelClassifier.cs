using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;
using FsMultilabel = EnergyFs.Learners.MultilabelOptionsModule;

namespace EnergyFs.CSharp;

/// <summary>Options of <see cref="EnergyMultilabelClassifier"/>; the defaults are those of the F#
/// <c>MultilabelOptions.defaults</c> (the paper's multilabel setting), except the weight decay, which the F# experiment
/// searches on a grid {1e-4, 1e-3, 1e-2, 3e-2} and this class takes as one value (default 1e-4). As in F#, the inner
/// maximization uses parallel minorized ascent, and after early stopping the network is refit on all training rows for the
/// selected number of epochs.</summary>
public sealed record EnergyMultilabelOptions
{
    private static readonly EnergyFs.Learners.MultilabelOptions Defaults = FsMultilabel.defaults;

    /// <summary>Use the quadratic energy Φ(x, p) = ⟨u(x), p⟩ + ½⟨p, A p⟩ with the generalized FY loss (default true);
    /// false: the independent sigmoid baseline (A = 0).</summary>
    public bool QuadraticEnergy { get; init; } = Defaults.Loss.IsQuadraticEnergy;
    /// <summary>Regularizer on the box: <see cref="FyRegularizer.FermiDirac"/> (default) or <see cref="FyRegularizer.SquaredNormBox"/>;
    /// simplex regularizers throw ArgumentException.</summary>
    public FyRegularizer Regularizer { get; init; } = new(Defaults.Regularizer);
    /// <summary>Hidden ReLU units of the unary network u(x) (default 128; 0: linear).</summary>
    public int Hidden { get; init; } = Defaults.Hidden;
    /// <summary>Maximum epochs (default 200; early stopping on a validation split carved from the training rows).</summary>
    public int Epochs { get; init; } = Defaults.Epochs;
    /// <summary>Epochs without validation improvement before stopping (default 20).</summary>
    public int Patience { get; init; } = Defaults.Patience;
    /// <summary>Minibatch size (default 64).</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;
    /// <summary>Adam learning rate (default 1e-3).</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;
    /// <summary>L2 weight decay (default 1e-4).</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Fraction of the training rows held out for early stopping (default 0.2).</summary>
    public double ValidationFraction { get; init; } = Defaults.ValidationFraction;
    /// <summary>Seed of the split, the initialization and the batches (default 0).</summary>
    public int Seed { get; init; }
    /// <summary>Where to train (default <see cref="DeviceContext.Cpu"/>).</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;

    internal EnergyFs.Learners.MultilabelOptions ToFSharp()
    {
        NotNull(Regularizer, nameof(Regularizer));
        if (Regularizer.OnSimplex)
            throw new ArgumentException($"Regularizer {Regularizer.Name} lives on the simplex; multilabel prediction needs a box regularizer (FermiDirac or SquaredNormBox)", nameof(Regularizer));
        NonNegative(Hidden, nameof(Hidden));
        Positive(Epochs, nameof(Epochs));
        Positive(Patience, nameof(Patience));
        Positive(BatchSize, nameof(BatchSize));
        Positive(LearningRate, nameof(LearningRate));
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be ≥ 0");
        if (!(ValidationFraction > 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in (0, 1)");
        return new(QuadraticEnergy ? EnergyFs.Learners.MultilabelLoss.QuadraticEnergy : EnergyFs.Learners.MultilabelLoss.Independent,
            Regularizer.Inner, Hidden, Epochs, Patience, BatchSize, LearningRate, List(new[] { WeightDecay }),
            ValidationFraction, Defaults.Inner, Defaults.Solver, Defaults.Refit, NotNull(Context, nameof(Context)).Inner, Defaults.Monitor);
    }
}

/// <summary>A multilabel classifier trained with the generalized Fenchel-Young loss of a quadratic energy
/// Φ(x, p) = ⟨u(x), p⟩ + ½⟨p, A p⟩ on the unit box (Blondel, Llinares-López, Dadashi, Hussenot, Geist 2022,
/// arXiv 2205.09589, multilabel experiment), predicting p̂ = argmax_{p ∈ [0,1]ᴸ} Φ(x, p) − Ω(p) thresholded at 0.5.
/// Features are standardized with the training rows' statistics. Owns its network once fitted: dispose it.</summary>
public sealed class EnergyMultilabelClassifier : IDisposable
{
    private readonly EnergyMultilabelOptions options;
    private EnergyFs.Learners.FittedMultilabel? fitted;
    private bool disposed;

    /// <summary>An untrained classifier.</summary>
    /// <param name="options">Training settings (default: <see cref="EnergyMultilabelOptions"/>'s defaults).</param>
    public EnergyMultilabelClassifier(EnergyMultilabelOptions? options = null) => this.options = options ?? new EnergyMultilabelOptions();

    /// <summary>The training settings.</summary>
    public EnergyMultilabelOptions Options => options;

    /// <summary>Whether <see cref="Fit(double[][], double[][])"/> has run.</summary>
    public bool IsFitted => fitted is not null;

    private static void CheckRows(double[][] rows, string name, int? width = null)
    {
        NotNull(rows, name);
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i] is null) throw new ArgumentException($"{name}[{i}] is null", name);
            if (rows[i].Length != (width ?? rows[0].Length))
                throw new ArgumentException($"{name}[{i}] has {rows[i].Length} columns but {(width is null ? $"{name}[0] has" : "the model expects")} {width ?? rows[0].Length}", name);
        }
    }

    /// <summary>Trains on feature rows [n][d] and 0/1 label rows [n][L] (a previous fit is discarded). Ragged rows,
    /// mismatched row counts, labels outside {0, 1} or fewer than 2 rows throw ArgumentException.</summary>
    /// <param name="features">Feature rows, all of the same length.</param>
    /// <param name="labels">Label rows of 0/1 values, all of the same length.</param>
    public EnergyMultilabelClassifier Fit(double[][] features, double[][] labels)
    {
        NotDisposed(disposed, this);
        CheckRows(features, nameof(features));
        CheckRows(labels, nameof(labels));
        if (features.Length != labels.Length)
            throw new ArgumentException($"features has {features.Length} rows but labels has {labels.Length}", nameof(labels));
        if (labels.Length < 2) throw new ArgumentException($"need at least 2 training rows, got {labels.Length}", nameof(features));
        for (var i = 0; i < labels.Length; i++)
            if (labels[i].Any(v => v != 0.0 && v != 1.0))
                throw new ArgumentException($"labels[{i}] holds a value other than 0 or 1", nameof(labels));
        var fsOptions = options.ToFSharp();
        using var data = EnergyFs.Data.MultilabelSetModule.ofRows(EnergyFs.ContextModule.cpu64, features, labels);
        return FitSet(fsOptions, data);
    }

    /// <summary>Trains on a feature tensor [n, d] and a 0/1 label tensor [n, L] on the same device and dtype, for example
    /// <see cref="MultilabelDataset.TrainFeatures"/> and <see cref="MultilabelDataset.TrainLabels"/> (raw features: the
    /// classifier standardizes them with its own training rows). A previous fit is discarded; the tensors are not
    /// disposed. Wrong ranks, mismatched rows, labels outside {0, 1} or fewer than 2 rows throw ArgumentException
    /// naming the argument and its shape.</summary>
    /// <param name="features">Features [n, d].</param>
    /// <param name="labels">Labels in {0, 1} [n, L].</param>
    public EnergyMultilabelClassifier Fit(torch.Tensor features, torch.Tensor labels)
    {
        NotDisposed(disposed, this);
        NotNull(features, nameof(features));
        NotNull(labels, nameof(labels));
        var fsOptions = options.ToFSharp();
        EnergyFs.Data.MultilabelSetModule.check(features, labels);
        // Not disposed: the set only wraps the caller's tensors.
        var data = new EnergyFs.Data.MultilabelSet(features, labels);
        return FitSet(fsOptions, data);
    }

    private EnergyMultilabelClassifier FitSet(EnergyFs.Learners.MultilabelOptions fsOptions, EnergyFs.Data.MultilabelSet data)
    {
        ((IDisposable?)fitted)?.Dispose();
        fitted = null;
        // Training temporaries are freed on return; only the network's tensors and the standardizer survive.
        fitted = ScopedWith(() => EnergyFs.Learners.Multilabel.fit(fsOptions, options.Seed, options.WeightDecay, data),
                            m => m.Net.Module.parameters().Cast<torch.Tensor>().Concat(m.Net.Module.buffers())
                                  .Concat(new[] { m.Standardizer.Mean, m.Standardizer.Std }));
        return this;
    }

    private EnergyFs.Learners.FittedMultilabel Fitted()
    {
        NotDisposed(disposed, this);
        return fitted ?? throw new InvalidOperationException("call Fit before Predict");
    }

    /// <summary>0/1 predictions [n][L] for feature rows [n][d]: argmax_p Φ(x, p) − Ω(p) thresholded at 0.5.
    /// Throws InvalidOperationException before <see cref="Fit(double[][], double[][])"/>.</summary>
    /// <param name="features">Feature rows with the training width.</param>
    public double[][] Predict(double[][] features)
    {
        var model = Fitted();
        CheckRows(features, nameof(features), model.Inputs);
        if (features.Length == 0) throw new ArgumentException("no rows to predict", nameof(features));
        return ScopedValue(() => Rows(EnergyFs.Learners.Multilabel.predictLabels(model, Matrix(features))));
    }

    /// <summary>0/1 predictions [n, L] (float64, on the model's device; a new tensor the caller owns) for raw features
    /// [n, d] of any dtype, such as <see cref="MultilabelDataset.TestFeatures"/>. Throws InvalidOperationException before
    /// Fit, ArgumentException naming <paramref name="features"/> and its shape when d differs.</summary>
    /// <param name="features">Features [n, d] with the training width.</param>
    public torch.Tensor Predict(torch.Tensor features)
    {
        var model = Fitted();
        NotNull(features, nameof(features));
        return Scoped(() => EnergyFs.Learners.Multilabel.predictLabels(model, features));
    }

    /// <summary>Rectangular rows (checked by the caller) as a float64 CPU tensor [n, width].</summary>
    private static torch.Tensor Matrix(double[][] rows)
    {
        var width = rows[0].Length;
        var flat = new double[rows.Length * width];
        for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * width);
        return torch.tensor(flat, new long[] { rows.Length, width }, torch.ScalarType.Float64);
    }

    private static double[][] Rows(torch.Tensor t)
    {
        using var c = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous();
        var flat = c.data<double>().ToArray();
        var (n, l) = ((int)t.shape[0], (int)t.shape[1]);
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * l, l).ToArray()).ToArray();
    }

    /// <summary>Hamming accuracy, example F1, micro F1 and macro F1 of the predictions against 0/1 labels, keyed
    /// "hamming_accuracy", "example_f1", "micro_f1", "macro_f1".</summary>
    /// <param name="features">Feature rows.</param>
    /// <param name="labels">The true 0/1 label rows.</param>
    public IReadOnlyDictionary<string, double> Evaluate(double[][] features, double[][] labels)
    {
        var predicted = Predict(features);
        CheckRows(labels, nameof(labels), predicted[0].Length);
        if (labels.Length != features.Length)
            throw new ArgumentException($"features has {features.Length} rows but labels has {labels.Length}", nameof(labels));
        return ScopedValue(() =>
            EnergyFs.Metrics.MultilabelMetrics.all(Matrix(predicted), Matrix(labels)).ToDictionary(t => t.Item1, t => t.Item2));
    }

    /// <summary>The four metrics of <see cref="Evaluate(double[][], double[][])"/> for a feature tensor [n, d] and a 0/1
    /// label tensor [n, L] (for example a <see cref="MultilabelDataset"/>'s test tensors); the tensors are not disposed.
    /// Mismatched shapes throw ArgumentException naming the argument.</summary>
    /// <param name="features">Raw features [n, d].</param>
    /// <param name="labels">The true 0/1 labels [n, L].</param>
    public IReadOnlyDictionary<string, double> Evaluate(torch.Tensor features, torch.Tensor labels)
    {
        var model = Fitted();
        NotNull(features, nameof(features));
        NotNull(labels, nameof(labels));
        return ScopedValue(() =>
        {
            var predicted = EnergyFs.Learners.Multilabel.predictLabels(model, features);
            if (labels.dim() != 2 || labels.shape[0] != predicted.shape[0] || labels.shape[1] != predicted.shape[1])
                throw new ArgumentException($"labels has shape [{string.Join(", ", labels.shape)}] but the predictions have shape [{string.Join(", ", predicted.shape)}]", nameof(labels));
            return EnergyFs.Metrics.MultilabelMetrics.all(predicted, labels).ToDictionary(t => t.Item1, t => t.Item2);
        });
    }

    /// <summary>Frees the network; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable?)fitted)?.Dispose();
        fitted = null;
    }
}
