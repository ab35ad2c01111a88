using TorchSharp;
using Microsoft.FSharp.Core;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Locates the repository's <c>data/</c> folder: the <c>ENERGYFS_DATA</c> environment variable (which the
/// repository's <c>build.sh</c> sets to its own <c>data/</c> when it is not set), else the first <c>data/</c> folder
/// holding SOURCES.md found walking up from the current directory, then from the executable's. An app outside the
/// repository sets <c>ENERGYFS_DATA</c> or runs through <c>build.sh</c>.</summary>
public static class DataPaths
{
    /// <summary>The data folder; throws DirectoryNotFoundException listing where it looked and saying how to set
    /// <c>ENERGYFS_DATA</c> (or that it names no folder, when it is set).</summary>
    public static string Root() => EnergyFs.Data.Paths.root();

    /// <summary>The folder of dataset <paramref name="name"/> (for example "yeast" or "uci_concrete"); a missing one
    /// throws DirectoryNotFoundException naming it, the data folder and the datasets it holds.</summary>
    /// <param name="name">The dataset's folder name under <c>data/</c>.</param>
    public static string Find(string name) => EnergyFs.Data.Paths.find(NotNull(name));
}

/// <summary>A MULAN multilabel benchmark (<c>name-train.arff</c>, <c>name-test.arff</c>, <c>name.xml</c>; the labels are
/// the last attributes), as used by Blondel et al. 2022 (arXiv 2205.09589) and the SPEN papers. Owns its tensors:
/// dispose it. A malformed file throws FormatException naming the file and line.</summary>
public sealed class MultilabelDataset : IDisposable
{
    private readonly EnergyFs.Data.MultilabelSplits data;
    private bool disposed;

    private MultilabelDataset(EnergyFs.Data.MultilabelSplits inner) => data = inner;

    private EnergyFs.Data.MultilabelSplits inner
    {
        get { NotDisposed(disposed, this); return data; }
    }

    /// <summary>Loads <paramref name="name"/> from <paramref name="directory"/> into tensors of the context. A folder that
    /// does not exist throws DirectoryNotFoundException naming it as given; a missing file FileNotFoundException naming
    /// the file and what the folder holds.</summary>
    /// <param name="directory">The folder holding the ARFF and XML files (see <see cref="DataPaths.Find"/>).</param>
    /// <param name="name">The dataset's name, for example "emotions" or "yeast".</param>
    /// <param name="context">Device and type (default: CPU, float32).</param>
    public static MultilabelDataset Load(string directory, string name, DeviceContext? context = null)
    {
        if (string.IsNullOrWhiteSpace(NotNull(directory))) throw new ArgumentException("the dataset folder is empty", nameof(directory));
        if (string.IsNullOrWhiteSpace(NotNull(name))) throw new ArgumentException("the dataset name is empty", nameof(name));
        try
        {
            return new(EnergyFs.Data.Mulan.load((context ?? DeviceContext.Cpu).Inner, NotNull(directory), NotNull(name)));
        }
        catch (EnergyFs.DataFormatException e)
        {
            throw new FormatException(e.Message, e);
        }
    }

    /// <summary>A new dataset whose validation set holds round(<paramref name="fraction"/> · n) training rows drawn with
    /// <paramref name="generator"/>; the test set is never touched. This dataset is not disposed.</summary>
    /// <param name="generator">The generator of the split.</param>
    /// <param name="fraction">Fraction of training rows moved to validation, in (0, 1).</param>
    public MultilabelDataset WithValidationSplit(RandomGenerator generator, double fraction) =>
        new(EnergyFs.Data.Mulan.validationSplit(NotNull(generator).Inner, fraction, inner));

    /// <summary>A new dataset with features standardized as (x − mean)/std by statistics of the training rows (constant
    /// columns get std 1); validation and test rows use the training statistics. This dataset is not disposed.</summary>
    public MultilabelDataset Standardize() => new(EnergyFs.Data.Mulan.standardize(inner));

    /// <summary>The dataset's name.</summary>
    public string Name => inner.Name;
    /// <summary>The feature names, in column order.</summary>
    public IReadOnlyList<string> FeatureNames => inner.FeatureNames;
    /// <summary>The label names, in column order (the ARFF's order).</summary>
    public IReadOnlyList<string> LabelNames => inner.LabelNames;
    /// <summary>Training features [n, d].</summary>
    public torch.Tensor TrainFeatures => inner.Train.Features;
    /// <summary>Training labels in {0, 1} [n, L].</summary>
    public torch.Tensor TrainLabels => inner.Train.Labels;
    /// <summary>Validation features, or null when no validation split was made.</summary>
    public torch.Tensor? ValidationFeatures => ValueOrNull(inner.Validation)?.Features;
    /// <summary>Validation labels, or null when no validation split was made.</summary>
    public torch.Tensor? ValidationLabels => ValueOrNull(inner.Validation)?.Labels;
    /// <summary>Test features [n, d].</summary>
    public torch.Tensor TestFeatures => inner.Test.Features;
    /// <summary>Test labels in {0, 1} [n, L].</summary>
    public torch.Tensor TestLabels => inner.Test.Labels;

    /// <summary>Frees every tensor of the dataset; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable)data).Dispose();
    }
}

/// <summary>One split of a UCI regression benchmark (<c>data.txt</c> and the index files of Hernández-Lobato &amp; Adams),
/// standardized with statistics of its training rows (the protocol of Gustafsson et al. 2022, arXiv 2110.11948).
/// Owns its tensors: dispose it. A malformed file throws FormatException naming the file and line.</summary>
public sealed class UciRegressionDataset : IDisposable
{
    private readonly EnergyFs.Data.UciRegressionSplit data;
    private bool disposed;

    private UciRegressionDataset(EnergyFs.Data.UciRegressionSplit inner) => data = inner;

    private EnergyFs.Data.UciRegressionSplit inner
    {
        get { NotDisposed(disposed, this); return data; }
    }

    /// <summary>Loads split <paramref name="split"/> of the dataset in <paramref name="directory"/>; inputs and targets are
    /// standardized with training statistics unless <paramref name="standardize"/> is false. A missing split throws
    /// FileNotFoundException saying how many splits exist.</summary>
    /// <param name="directory">The dataset's folder (see <see cref="DataPaths.Find"/>).</param>
    /// <param name="split">The split index, 0 … SplitCount − 1.</param>
    /// <param name="context">Device and type (default: CPU, float32).</param>
    /// <param name="standardize">Standardize inputs and targets with training statistics (default true).</param>
    public static UciRegressionDataset Load(string directory, int split, DeviceContext? context = null, bool standardize = true)
    {
        try
        {
            return new(EnergyFs.Data.UciRegression.loadWith(new EnergyFs.Data.UciRegression.Options(standardize, standardize),
                (context ?? DeviceContext.Cpu).Inner, NotNull(directory), NonNegative(split)));
        }
        catch (EnergyFs.DataFormatException e)
        {
            throw new FormatException(e.Message, e);
        }
    }

    /// <summary>The dataset's folder name.</summary>
    public string Name => inner.Name;
    /// <summary>The split index.</summary>
    public int Split => inner.Split;
    /// <summary>How many splits the dataset has.</summary>
    public int SplitCount => inner.SplitCount;
    /// <summary>Training inputs [n, d].</summary>
    public torch.Tensor TrainX => inner.Train.X;
    /// <summary>Training targets [n, 1].</summary>
    public torch.Tensor TrainY => inner.Train.Y;
    /// <summary>Test inputs [n, d].</summary>
    public torch.Tensor TestX => inner.Test.X;
    /// <summary>Test targets [n, 1].</summary>
    public torch.Tensor TestY => inner.Test.Y;
    /// <summary>Mean of the training targets in original units.</summary>
    public double YMean => inner.YMean;
    /// <summary>Standard deviation of the training targets in original units (multiply a standardized RMSE by it).</summary>
    public double YStd => inner.YStd;

    /// <summary>Standardized targets or predictions back in original units: y·YStd + YMean (a new tensor).</summary>
    /// <param name="standardized">Targets or predictions in standardized units.</param>
    public torch.Tensor ToOriginalUnits(torch.Tensor standardized) => Scoped(() => EnergyFs.Data.UciRegression.toOriginalUnits(inner, NotNull(standardized)));

    /// <summary>Frees every tensor of the split; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable)data).Dispose();
    }
}
