using TorchSharp;
using System.Text.Json.Nodes;
using Microsoft.FSharp.Core;
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
    public long Seed { get; init; }
    /// <summary>An energy of your own: a factory (features d, labels L) ↦ a <see cref="MultilabelEnergyModule"/> whose
    /// parameters the classifier trains with the generalized FY loss (default null: the built-in quadratic or
    /// independent model chosen by <see cref="QuadraticEnergy"/>; <see cref="Hidden"/> is then unused).</summary>
    public Func<int, int, MultilabelEnergyModule>? Energy { get; init; }
    /// <summary>Where to train (default <see cref="DeviceContext.Cpu"/>).</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;

    internal EnergyFs.Learners.MultilabelOptions ToFSharp() => ToFSharp(EnergyFs.Training.FitMonitorModule.none);

    internal EnergyFs.Learners.MultilabelOptions ToFSharp(EnergyFs.Training.FitMonitor monitor)
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
        var loss = Energy is { } factory ? EnergyFs.Learners.MultilabelLoss.NewCustomEnergy(CustomEnergy(factory))
                   : QuadraticEnergy ? EnergyFs.Learners.MultilabelLoss.QuadraticEnergy : EnergyFs.Learners.MultilabelLoss.Independent;
        return new(loss,
            Regularizer.Inner, Hidden, Epochs, Patience, BatchSize, LearningRate, List(new[] { WeightDecay }),
            ValidationFraction, Defaults.Inner, Defaults.Solver, Defaults.Refit, NotNull(Context, nameof(Context)).Inner, monitor);
    }

    /// <summary>The library's custom energy of a factory; the energy is named after the module (<c>GetName()</c>), which
    /// a saved model records and Load checks.</summary>
    internal static EnergyFs.Learners.CustomMultilabelEnergy CustomEnergy(Func<int, int, MultilabelEnergyModule> factory) =>
        new("custom", FuncConvert.FromFunc<int, int, Tuple<torch.nn.Module, EnergyFs.Energies.Energy<torch.Tensor>>>((d, l) =>
        {
            var module = factory(d, l) ?? throw new InvalidOperationException("the Energy factory returned null");
            if (module.Outputs != l)
                throw new InvalidOperationException($"the Energy factory was asked for {l} labels but its module has Outputs = {module.Outputs}");
            return Tuple.Create<torch.nn.Module, EnergyFs.Energies.Energy<torch.Tensor>>(module, EnergyAdapter.ToFSharp(module, module.GetName()));
        }));
}


/// <summary>The four multilabel metrics of a prediction against 0/1 labels, each in [0, 1].</summary>
/// <param name="HammingAccuracy">Fraction of correct label entries.</param>
/// <param name="ExampleF1">Mean over examples of the F1 of the predicted against the true label set.</param>
/// <param name="MicroF1">F1 of all label entries pooled.</param>
/// <param name="MacroF1">Mean over labels of the per-label F1.</param>
public sealed record MultilabelEvaluation(double HammingAccuracy, double ExampleF1, double MicroF1, double MacroF1)
{
    internal static MultilabelEvaluation FromPairs(IEnumerable<Tuple<string, double>> pairs)
    {
        var d = pairs.ToDictionary(t => t.Item1, t => t.Item2);
        return new(d["hamming_accuracy"], d["example_f1"], d["micro_f1"], d["macro_f1"]);
    }
}

/// <summary>A multilabel classifier trained with the generalized Fenchel-Young loss of an energy Φ(x, p) on the unit box
/// (Blondel, Llinares-López, Dadashi, Hussenot, Geist 2022, arXiv 2205.09589, multilabel experiment): by default the
/// quadratic energy ⟨u(x), p⟩ + ½⟨p, A p⟩, or an energy of your own (<see cref="EnergyMultilabelOptions.Energy"/>).
/// The estimator: it holds the options and owns no native memory; <c>Fit</c> returns a trained
/// <see cref="MultilabelClassifierModel"/>.</summary>
public sealed class EnergyMultilabelClassifier
{
    /// <summary>An estimator with <paramref name="options"/> (default: <see cref="EnergyMultilabelOptions"/>'s defaults).</summary>
    /// <param name="options">Training settings.</param>
    public EnergyMultilabelClassifier(EnergyMultilabelOptions? options = null) => Options = options ?? new EnergyMultilabelOptions();

    /// <summary>The training settings.</summary>
    public EnergyMultilabelOptions Options { get; }

    /// <summary>Trains on feature rows [n][d] and 0/1 label rows [n][L]: a validation split of
    /// <see cref="EnergyMultilabelOptions.ValidationFraction"/> for early stopping (the best epoch is kept), features
    /// standardized with the remaining training rows. Ragged rows, mismatched row counts, non-finite values, labels
    /// outside {0, 1} or fewer than 2 rows throw ArgumentException naming the argument.</summary>
    /// <param name="features">Feature rows, all of the same length.</param>
    /// <param name="labels">Label rows of 0/1 values, all of the same length.</param>
    /// <param name="progress">Receives each completed epoch (train_loss, val_hamming, …), or null.</param>
    /// <param name="cancellationToken">Cancels before the next optimizer step: OperationCanceledException.</param>
    public MultilabelClassifierModel Fit(double[][] features, double[][] labels, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        RowTables.Check(features, nameof(features), null);
        RowTables.Check(labels, nameof(labels), null);
        Finite(features);
        if (features.Length != labels.Length)
            throw new ArgumentException($"features has {features.Length} rows but labels has {labels.Length}", nameof(labels));
        for (var i = 0; i < labels.Length; i++)
            if (labels[i].Any(v => v != 0.0 && v != 1.0))
                throw new ArgumentException($"labels[{i}] holds a value other than 0 or 1", nameof(labels));
        var fsOptions = Options.ToFSharp(Monitor(progress, cancellationToken, Options.Epochs));
        using var data = EnergyFs.Data.MultilabelSetModule.ofRows(EnergyFs.ContextModule.cpu64, features, labels);
        return FitSet(fsOptions, data);
    }

    /// <summary><see cref="Fit(double[][], double[][], IProgress{TrainingEpoch}?, CancellationToken)"/> for float rows.</summary>
    /// <param name="features">Feature rows, all of the same length.</param>
    /// <param name="labels">Label rows of 0/1 values, all of the same length.</param>
    /// <param name="progress">Receives each completed epoch, or null.</param>
    /// <param name="cancellationToken">Cancels before the next optimizer step.</param>
    public MultilabelClassifierModel Fit(float[][] features, float[][] labels, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default) =>
        Fit(RowTables.ToDoubles(features), RowTables.ToDoubles(labels), progress, cancellationToken);

    /// <summary>Trains on a raw feature tensor [n, d] and a 0/1 label tensor [n, L] on the same device, for example
    /// <see cref="MultilabelDataset.TrainFeatures"/> and <see cref="MultilabelDataset.TrainLabels"/>; the tensors are not
    /// disposed. Wrong ranks, mismatched rows, non-finite features, labels outside {0, 1} or fewer than 2 rows throw
    /// ArgumentException naming the argument and its shape.</summary>
    /// <param name="features">Features [n, d].</param>
    /// <param name="labels">Labels in {0, 1} [n, L].</param>
    /// <param name="progress">Receives each completed epoch, or null.</param>
    /// <param name="cancellationToken">Cancels before the next optimizer step.</param>
    public MultilabelClassifierModel Fit(torch.Tensor features, torch.Tensor labels, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        Finite(features);
        NotNull(labels);
        var fsOptions = Options.ToFSharp(Monitor(progress, cancellationToken, Options.Epochs));
        Guard(() => { EnergyFs.Data.MultilabelSetModule.check(features, labels); return 0; });
        // Not disposed: the set only wraps the caller's tensors.
        return FitSet(fsOptions, new EnergyFs.Data.MultilabelSet(features, labels));
    }

    /// <summary>Trains on the training rows of a loaded dataset (its validation rows, if any, are not used: the
    /// classifier makes its own split).</summary>
    /// <param name="data">A dataset from <see cref="MultilabelDataset.Load"/>.</param>
    /// <param name="progress">Receives each completed epoch, or null.</param>
    /// <param name="cancellationToken">Cancels before the next optimizer step.</param>
    public MultilabelClassifierModel Fit(MultilabelDataset data, IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default) =>
        Fit(NotNull(data).TrainFeatures, data.TrainLabels, progress, cancellationToken);

    private MultilabelClassifierModel FitSet(EnergyFs.Learners.MultilabelOptions fsOptions, EnergyFs.Data.MultilabelSet data) =>
        // Training temporaries are freed on return; only the network's tensors and the standardizer survive.
        new(Guard(() => ScopedWith(() => EnergyFs.Learners.Multilabel.fit(fsOptions, Options.Seed, Options.WeightDecay, data),
                                    MultilabelClassifierModel.Survivors)), Options);
}

/// <summary>A trained multilabel classifier (from <see cref="EnergyMultilabelClassifier"/>.Fit or <see cref="Load"/>):
/// probabilities p̂ = argmax_{p ∈ [0,1]ᴸ} Φ(x, p) − Ω(p), labels p̂ &gt; threshold, metrics, history, Save/Load. Owns
/// its network: dispose it.</summary>
public sealed class MultilabelClassifierModel : IDisposable
{
    /// <summary>The kind string of its model files.</summary>
    private const string Kind = "multilabel-classifier";

    private readonly EnergyFs.Learners.FittedMultilabel model;
    private bool disposed;

    internal MultilabelClassifierModel(EnergyFs.Learners.FittedMultilabel model, EnergyMultilabelOptions options)
    {
        this.model = model;
        Options = options;
        History = TrainingHistory.FromFSharp(model.History, model.BestEpoch + 1, model.Stopped);
    }

    internal static IEnumerable<torch.Tensor> Survivors(EnergyFs.Learners.FittedMultilabel m) =>
        m.Net.Module.parameters().Cast<torch.Tensor>().Concat(m.Net.Module.buffers()).Concat(new[] { m.Standardizer.Mean, m.Standardizer.Std });

    private EnergyFs.Learners.FittedMultilabel Model
    {
        get { NotDisposed(disposed, this); return model; }
    }

    /// <summary>The options it was trained with (after <see cref="Load"/>: the defaults with the saved shapes, loss,
    /// regularizer and solver).</summary>
    public EnergyMultilabelOptions Options { get; }

    /// <summary>The training run's per-epoch history (train_loss, grad_norm, lr, seconds, val_hamming) and best epoch.</summary>
    public TrainingHistory History { get; }

    /// <summary>The number of input features d.</summary>
    public int Features => Model.Inputs;

    /// <summary>The number of labels L.</summary>
    public int Labels => Model.Labels;

    /// <summary>Label probabilities (marginals) p̂ ∈ [0,1]ᴸ, [n, L] float64 on the model's device (a new tensor the caller
    /// owns), for raw features [n, d]; use them to tune the decision threshold.</summary>
    /// <param name="features">Raw features [n, d] with the training width.</param>
    public torch.Tensor PredictProbabilities(torch.Tensor features) =>
        Scoped(() => Guard(() => EnergyFs.Learners.Multilabel.predictProbabilities(Model, Finite(features))));

    /// <summary>Label probabilities p̂ [n][L] for feature rows [n][d].</summary>
    /// <param name="features">Feature rows with the training width.</param>
    public double[][] PredictProbabilities(double[][] features)
        => ScopedValue(() => RowTables.Rows(EnergyFs.Learners.Multilabel.predictProbabilities(Model, RowTables.Matrix(features, Features))));

    /// <summary>0/1 predictions 1[p̂ &gt; <paramref name="threshold"/>], [n, L] float64 (a new tensor the caller owns).</summary>
    /// <param name="features">Raw features [n, d] with the training width.</param>
    /// <param name="threshold">The decision threshold in [0, 1] (default 0.5).</param>
    public torch.Tensor Predict(torch.Tensor features, double threshold = 0.5) =>
        Scoped(() => Guard(() => EnergyFs.Learners.Multilabel.predictLabelsAt(threshold, Model, Finite(features))));

    /// <summary>0/1 predictions [n][L] for feature rows [n][d].</summary>
    /// <param name="features">Feature rows with the training width.</param>
    /// <param name="threshold">The decision threshold in [0, 1] (default 0.5).</param>
    public double[][] Predict(double[][] features, double threshold = 0.5)
        => ScopedValue(() => RowTables.Rows(Guard(() => EnergyFs.Learners.Multilabel.predictLabelsAt(threshold, Model, RowTables.Matrix(features, Features)))));

    /// <summary>0/1 predictions [n][L] for float feature rows.</summary>
    /// <param name="features">Feature rows with the training width.</param>
    /// <param name="threshold">The decision threshold in [0, 1] (default 0.5).</param>
    public double[][] Predict(float[][] features, double threshold = 0.5) => Predict(RowTables.ToDoubles(features), threshold);

    /// <summary>The metrics of the predictions (threshold <paramref name="threshold"/>) on raw features [n, d] against
    /// 0/1 labels [n, L]; the tensors are not disposed. Mismatched shapes throw ArgumentException naming the argument.</summary>
    /// <param name="features">Raw features [n, d].</param>
    /// <param name="labels">The true 0/1 labels [n, L].</param>
    /// <param name="threshold">The decision threshold (default 0.5).</param>
    public MultilabelEvaluation Evaluate(torch.Tensor features, torch.Tensor labels, double threshold = 0.5)
    {
        NotNull(labels);
        return ScopedValue(() =>
        {
            var predicted = Guard(() => EnergyFs.Learners.Multilabel.predictLabelsAt(threshold, Model, Finite(features)));
            if (labels.dim() != 2 || labels.shape[0] != predicted.shape[0] || labels.shape[1] != predicted.shape[1])
                throw new ArgumentException($"labels has shape {Shape(labels)} but the predictions have shape {Shape(predicted)}", nameof(labels));
            return MultilabelEvaluation.FromPairs(EnergyFs.Metrics.MultilabelMetrics.all(predicted, labels));
        });
    }

    /// <summary>The metrics on feature rows [n][d] against 0/1 label rows [n][L].</summary>
    /// <param name="features">Feature rows.</param>
    /// <param name="labels">The true 0/1 label rows.</param>
    /// <param name="threshold">The decision threshold (default 0.5).</param>
    public MultilabelEvaluation Evaluate(double[][] features, double[][] labels, double threshold = 0.5)
    {
        RowTables.Check(features, nameof(features), Features);
        RowTables.Check(labels, nameof(labels), Labels);
        if (labels.Length != features.Length)
            throw new ArgumentException($"features has {features.Length} rows but labels has {labels.Length}", nameof(labels));
        using var scope = torch.NewDisposeScope();
        return Evaluate(RowTables.Matrix(features, Features), RowTables.Matrix(labels, Labels), threshold);
    }

    /// <summary>The metrics on a dataset's test rows.</summary>
    /// <param name="data">A dataset from <see cref="MultilabelDataset.Load"/>.</param>
    /// <param name="threshold">The decision threshold (default 0.5).</param>
    public MultilabelEvaluation Evaluate(MultilabelDataset data, double threshold = 0.5) =>
        Evaluate(NotNull(data).TestFeatures, data.TestLabels, threshold);

    /// <summary>Writes the model to <paramref name="path"/> in the EnergyFs model format (kind "multilabel-classifier":
    /// a JSON header with the shapes, loss, regularizer, solver and history, then the network's state dict and the
    /// standardizer; see docs/model-files.md).</summary>
    /// <param name="path">The file to write (its folder is created).</param>
    public void Save(string path) => EnergyFs.Learners.MultilabelFile.save(NotNull(path), Model);

    /// <summary>Loads a model written by <see cref="Save"/> onto <paramref name="context"/>'s device. A model trained
    /// with an energy of your own needs the same factory again in <paramref name="energy"/>. A missing file throws
    /// FileNotFoundException; a file of another kind, a newer format, a truncated file or a missing or different
    /// energy throws InvalidDataException naming the file.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="context">The device (default CPU; the saved floating-point type is kept).</param>
    /// <param name="energy">The factory of the custom energy the model was trained with, or null.</param>
    public static MultilabelClassifierModel Load(string path, DeviceContext? context = null, Func<int, int, MultilabelEnergyModule>? energy = null)
    {
        var ctx = (context ?? DeviceContext.Cpu).Inner;
        var custom = energy is null ? null : FSharpOption<EnergyFs.Learners.CustomMultilabelEnergy>.Some(EnergyMultilabelOptions.CustomEnergy(energy));
        var fitted = ScopedWith(() => EnergyFs.Learners.MultilabelFile.load(NotNull(path), ctx, custom), Survivors);
        var o = fitted.Options;
        var options = new EnergyMultilabelOptions
        {
            QuadraticEnergy = !o.Loss.IsIndependent,
            Regularizer = new FyRegularizer(o.Regularizer),
            Hidden = o.Hidden,
            Energy = energy,
            Context = new DeviceContext(o.Context),
        };
        return new MultilabelClassifierModel(fitted, options);
    }

    /// <summary>Frees the network; later use throws ObjectDisposedException naming this class.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable)model).Dispose();
    }
}
