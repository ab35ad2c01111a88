namespace EnergyFs.CSharp;

/// <summary>Options of <see cref="EnergyMultilabelClassifier"/>.</summary>
public sealed class EnergyMultilabelOptions
{
    /// <summary>Use the quadratic energy (generalized FY loss); false: independent sigmoid baseline.</summary>
    public bool QuadraticEnergy { get; init; } = true;
    /// <summary>Regularizer on the box: <see cref="FyRegularizer.FermiDirac"/> (default) or <see cref="FyRegularizer.SquaredNormBox"/>.</summary>
    public FyRegularizer Regularizer { get; init; } = FyRegularizer.FermiDirac;
    /// <summary>Hidden units of the unary network (0: linear).</summary>
    public int Hidden { get; init; }
    /// <summary>Maximum epochs (early stopping on a validation split carved from the training data).</summary>
    public int Epochs { get; init; } = 200;
    /// <summary>Epochs without validation improvement before stopping.</summary>
    public int Patience { get; init; } = 20;
    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Seed of the split, the initialization and the batches.</summary>
    public int Seed { get; init; }
    /// <summary>Where to train.</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;
}

/// <summary>A multilabel classifier trained with the generalized Fenchel-Young loss of a quadratic energy
/// (Blondel et al. 2022, §5.1), predicting p̂ = argmax_p Φ(x, p) − Ω(p) thresholded at 0.5.</summary>
public sealed class EnergyMultilabelClassifier : IDisposable
{
    private readonly EnergyMultilabelOptions options;
    private EnergyFs.Experiments.FittedMultilabel? fitted;

    /// <summary>An untrained classifier.</summary>
    public EnergyMultilabelClassifier(EnergyMultilabelOptions? options = null) => this.options = options ?? new EnergyMultilabelOptions();

    private EnergyFs.Experiments.MultilabelOptions FSharpOptions() =>
        new(options.QuadraticEnergy ? EnergyFs.Experiments.MultilabelLoss.QuadraticEnergy : EnergyFs.Experiments.MultilabelLoss.Independent,
            options.Regularizer.Inner, options.Hidden, options.Epochs, options.Patience, options.BatchSize, options.LearningRate,
            Microsoft.FSharp.Collections.ListModule.OfArray(new[] { options.WeightDecay }),
            EnergyFs.Experiments.MultilabelOptionsModule.defaults.ValidationFraction,
            EnergyFs.Experiments.MultilabelOptionsModule.defaults.Inner, EnergyFs.Experiments.MultilabelOptionsModule.defaults.Solver,
            EnergyFs.Experiments.MultilabelOptionsModule.defaults.Refit, options.Context.Inner);

    /// <summary>Trains on feature rows and 0/1 label rows.</summary>
    public EnergyMultilabelClassifier Fit(double[][] features, double[][] labels)
    {
        if (features.Length != labels.Length)
            throw new ArgumentException($"features has {features.Length} rows but labels has {labels.Length}", nameof(labels));
        if (labels.Length == 0) throw new ArgumentException("no training rows", nameof(features));
        var names = Enumerable.Range(0, labels[0].Length).Select(i => $"label{i}").ToArray();
        var data = new EnergyFs.Experiments.MultilabelData("data", features, labels, names);
        fitted?.Net.Dispose();
        fitted = EnergyFs.Experiments.Multilabel.fit(FSharpOptions(), options.Seed, options.WeightDecay, data);
        return this;
    }

    /// <summary>0/1 predictions for feature rows.</summary>
    public double[][] Predict(double[][] features)
    {
        if (fitted is null) throw new InvalidOperationException("call Fit before Predict");
        return EnergyFs.Experiments.Multilabel.predictLabels(fitted, features);
    }

    /// <summary>Hamming accuracy, example F1, micro F1 and macro F1 of the predictions against 0/1 labels.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(double[][] features, double[][] labels) =>
        EnergyFs.Experiments.MultilabelMetrics.all(Predict(features), labels).ToDictionary(t => t.Item1, t => t.Item2);

    /// <inheritdoc />
    public void Dispose() => fitted?.Net.Dispose();
}
