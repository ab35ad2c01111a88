using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>One completed epoch (or, for iteration-based trainers, one reporting interval) of a training run, as reported
/// to an <see cref="IProgress{T}"/> passed to <c>Fit</c>, <c>Train</c> or <c>Run</c>.</summary>
/// <param name="Epoch">The epoch just completed, 1-based.</param>
/// <param name="Epochs">The planned number of epochs (early stopping may end the run before).</param>
/// <param name="Metrics">The epoch's history row: the epoch means of the step metrics (for example train_loss), lr,
/// seconds and the validation metrics, by name.</param>
/// <param name="Elapsed">Wall time since the run started.</param>
public sealed record TrainingEpoch(int Epoch, int Epochs, IReadOnlyDictionary<string, double> Metrics, TimeSpan Elapsed)
{
    /// <summary>Fraction of the planned epochs done, in [0, 1].</summary>
    public double Fraction => Epochs > 0 ? Math.Min(1.0, (double)Epoch / Epochs) : 1.0;

    /// <summary>"epoch 3/200: train_loss 0.4123, val_hamming 0.7954, …".</summary>
    public override string ToString() =>
        $"epoch {Epoch}/{Epochs}: " + string.Join(", ", Metrics.Select(kv => $"{kv.Key} {kv.Value:G4}"));
}

/// <summary>The history of a training run: one row per completed epoch, one column per metric (the epoch means of the
/// step metrics, lr, seconds, then the validation metrics; NaN where a metric was not computed).</summary>
public sealed class TrainingHistory
{
    private readonly string[] columns;
    private readonly double[][] rows;

    internal TrainingHistory(string[] columns, double[][] rows, int? bestEpoch, bool stoppedEarly)
    {
        this.columns = columns;
        this.rows = rows;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
    }

    internal static TrainingHistory FromFSharp(EnergyFs.Training.TrainingHistory h, int bestEpoch, EnergyFs.Training.StopReason stopped) =>
        new(h.Columns.ToArray(), h.Rows.Select(r => r.ToArray()).ToArray(), bestEpoch, stopped.IsEarlyStopped);

    /// <summary>The metric names, in column order.</summary>
    public IReadOnlyList<string> Columns => columns;

    /// <summary>Number of epochs run.</summary>
    public int EpochsRun => rows.Length;

    /// <summary>The epoch (1-based) whose parameters the model holds when the trainer selects the best epoch on
    /// validation data; null when it keeps the last epoch.</summary>
    public int? BestEpoch { get; }

    /// <summary>Whether early stopping ended the run before the planned epochs.</summary>
    public bool StoppedEarly { get; }

    /// <summary>The values of metric <paramref name="name"/> over the epochs; ArgumentException listing the columns
    /// when there is no such metric.</summary>
    /// <param name="name">A column name, for example "train_loss".</param>
    public IReadOnlyList<double> Column(string name)
    {
        var j = Array.IndexOf(columns, NotNull(name));
        if (j < 0) throw new ArgumentException($"no metric '{name}' in the history (columns: {string.Join(", ", columns)})", nameof(name));
        return rows.Select(r => r[j]).ToArray();
    }

    /// <summary>The row of epoch <paramref name="epoch"/> (1-based) by metric name.</summary>
    /// <param name="epoch">1 … <see cref="EpochsRun"/>.</param>
    public IReadOnlyDictionary<string, double> Row(int epoch)
    {
        if (epoch < 1 || epoch > rows.Length)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"epoch must be in 1 … {rows.Length}");
        return columns.Zip(rows[epoch - 1]).ToDictionary(p => p.First, p => p.Second);
    }
}
