using System.Text.Json.Nodes;
using Microsoft.FSharp.Collections;
using TorchSharp;
using TorchSharp.Modules;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Multilabel examples as rows of doubles, for <see cref="ImplicitTrainer"/>'s table overload: inputs x [n][d]
/// (read by the inference network), 0/1 labels [n][L], and features F(x) [n][featureDim] (read by the energy; null: the
/// inputs themselves). Holds no native memory.</summary>
/// <param name="Inputs">Input rows x, all of the same length.</param>
/// <param name="Labels">Label rows of 0/1 values, all of the same length.</param>
/// <param name="Features">Feature rows F(x), or null to use the inputs.</param>
public sealed record StructuredRows(double[][] Inputs, double[][] Labels, double[][]? Features = null)
{
    /// <summary>The rows as tensors of the context (added to <paramref name="owned"/>; the caller frees them). Ragged,
    /// empty, mismatched or non-finite rows throw ArgumentException naming the argument.</summary>
    internal StructuredExamples ToExamples(DeviceContext context, string name, List<torch.Tensor> owned)
    {
        var inputs = RowTables.OnContext(Inputs, $"{name}.{nameof(Inputs)}", context, owned);
        var labels = RowTables.OnContext(Labels, $"{name}.{nameof(Labels)}", context, owned);
        var features = Features is null ? inputs : RowTables.OnContext(Features, $"{name}.{nameof(Features)}", context, owned);
        return new StructuredExamples(inputs, features, labels);
    }
}

/// <summary>Multilabel metrics of a <see cref="StructuredModel"/>'s 0/1 predictions against gold labels (Tsoumakas,
/// Katakis &amp; Vlahavas 2010; the SPEN papers report the example F1 ×100).</summary>
/// <param name="ExampleF1">Mean over examples of 2|ŷ ∩ y| / (|ŷ| + |y|) (1 for an example with no true and no predicted
/// label).</param>
/// <param name="HammingAccuracy">Fraction of correct (example, label) entries.</param>
/// <param name="MicroF1">F1 of the pooled counts over all labels.</param>
/// <param name="MacroF1">Mean over labels of the per-label F1 (0 for a label never present nor predicted).</param>
public sealed record StructuredMetrics(double ExampleF1, double HammingAccuracy, double MicroF1, double MacroF1);

/// <summary>A trained structured predictor: an energy E_θ(x, ȳ) (<see cref="Energy"/>) and an inference network
/// A_ψ(x) ≈ argmin_ȳ E_θ(x, ȳ) (<see cref="Network"/>) trained together by <see cref="ImplicitTrainer"/> (Shankar &amp;
/// Piratla 2022, arXiv 2211.11649). Predictions are one forward pass of A_ψ: label marginals in (0, 1) and 0/1 labels at
/// <see cref="Threshold"/>. Saved and loaded with <see cref="Save"/> and <see cref="Load(string, DeviceContext?)"/>
/// (kind "structured-model"). Owns θ and ψ: dispose it (which also disposes <see cref="Energy"/> and
/// <see cref="Network"/>).</summary>
public sealed class StructuredModel : IDisposable
{
    internal const string Kind = "structured-model";

    private readonly StructuredEnergyModel _energy;
    private readonly InferenceNetwork _network;
    private bool _disposed;

    internal StructuredModel(StructuredEnergyModel energy, InferenceNetwork network, ImplicitTrainingOptions options,
                             TrainingHistory history, double threshold, HypergradientStatistics statistics)
    {
        _energy = energy;
        _network = network;
        Options = options;
        History = history;
        Threshold = threshold;
        Statistics = statistics;
    }

    /// <summary>The trained energy E_θ (owned by this model: do not dispose it yourself).</summary>
    public StructuredEnergyModel Energy
    {
        get { NotDisposed(_disposed, this); return _energy; }
    }

    /// <summary>The trained inference network A_ψ (owned by this model: do not dispose it yourself).</summary>
    public InferenceNetwork Network
    {
        get { NotDisposed(_disposed, this); return _network; }
    }

    /// <summary>The options the model was trained with (its energy and context those of the model).</summary>
    public ImplicitTrainingOptions Options { get; }

    /// <summary>The training history: one row per epoch (outer_bce, grad_norm, inner_residual, lr, seconds, validation);
    /// <see cref="TrainingHistory.BestEpoch"/> is the epoch kept when Fit had validation data.</summary>
    public TrainingHistory History { get; }

    /// <summary>The threshold of <see cref="Predict(torch.Tensor)"/>: chosen on the validation examples (the best example
    /// F1 among 0.05, 0.10, …, 0.95), or 0.5 without them.</summary>
    public double Threshold { get; }

    /// <summary>What the linear solves of the training run did.</summary>
    public HypergradientStatistics Statistics { get; }

    /// <summary>Number of labels L.</summary>
    public int Labels => Energy.Labels;

    /// <summary>Input width of the inference network.</summary>
    public int Inputs => Network.Inputs;

    private torch.Tensor Marginals(torch.Tensor inputs)
    {
        var network = Network;
        Rank(inputs, 2, "inputs [n, d]");
        if (inputs.shape[1] != network.Inputs)
            throw new ArgumentException($"inputs must have {network.Inputs} columns (the inference network's input width), got shape {Shape(inputs)}", nameof(inputs));
        Finite(inputs);
        var ctx = _energy.Context;
        using var noGrad = torch.no_grad();
        return EnergyFs.Models.InferenceNetwork.predict(List(network.Inner.Select(p => (torch.Tensor)p)), inputs.to(ctx.DType, ctx.Device));
    }

    /// <summary>Label marginals A_ψ(x) ∈ (0, 1), [n, L], in the model's device and type (a new tensor the caller owns).
    /// Wrong widths or non-finite inputs throw ArgumentException.</summary>
    /// <param name="inputs">Inputs x [n, Inputs] of any floating-point type.</param>
    public torch.Tensor PredictMarginals(torch.Tensor inputs) => Scoped(() => Marginals(inputs));

    /// <summary>0/1 labels [n, L]: 1 where the marginal is ≥ <see cref="Threshold"/> (compared in float64, as the
    /// threshold was chosen), in the model's device and type (a new tensor the caller owns).</summary>
    /// <param name="inputs">Inputs x [n, Inputs].</param>
    public torch.Tensor Predict(torch.Tensor inputs) =>
        Scoped(() => EnergyFs.Metrics.MultilabelMetrics.thresholded(Threshold, Marginals(inputs)).to_type(_energy.Context.DType));

    /// <summary>Label marginals [n][L] for input rows [n][d].</summary>
    /// <param name="inputs">Input rows with the network's input width.</param>
    public double[][] PredictMarginals(double[][] inputs) =>
        ScopedValue(() => RowTables.Rows(PredictMarginals(RowTables.OnContext(inputs, nameof(inputs), _energy.Context, null, Inputs))));

    /// <summary>0/1 labels [n][L] for input rows [n][d], at <see cref="Threshold"/>.</summary>
    /// <param name="inputs">Input rows with the network's input width.</param>
    public double[][] Predict(double[][] inputs) =>
        ScopedValue(() => RowTables.Rows(Predict(RowTables.OnContext(inputs, nameof(inputs), _energy.Context, null, Inputs))));

    /// <summary>Example F1, Hamming accuracy, micro and macro F1 of <see cref="Predict(torch.Tensor)"/> against 0/1
    /// labels [n, L]; mismatched shapes or non-finite values throw ArgumentException.</summary>
    /// <param name="inputs">Inputs x [n, Inputs].</param>
    /// <param name="labels">Gold labels [n, L] of 0/1 values.</param>
    public StructuredMetrics Evaluate(torch.Tensor inputs, torch.Tensor labels)
    {
        Rank(labels, 2, "labels [n, L]");
        Finite(labels);
        return ScopedValue(() =>
        {
            var predicted = Predict(inputs);
            if (!labels.shape.SequenceEqual(predicted.shape))
                throw new ArgumentException($"labels has shape {Shape(labels)} but the predictions have shape {Shape(predicted)}", nameof(labels));
            var m = EnergyFs.Metrics.MultilabelMetrics.all(predicted, labels).ToDictionary(t => t.Item1, t => t.Item2);
            return new StructuredMetrics(m["example_f1"], m["hamming_accuracy"], m["micro_f1"], m["macro_f1"]);
        });
    }

    /// <summary>The metrics of <see cref="Evaluate(torch.Tensor, torch.Tensor)"/> for input and 0/1 label rows.</summary>
    /// <param name="inputs">Input rows with the network's input width.</param>
    /// <param name="labels">Gold label rows of 0/1 values.</param>
    public StructuredMetrics Evaluate(double[][] inputs, double[][] labels) =>
        ScopedValue(() => Evaluate(RowTables.OnContext(inputs, nameof(inputs), _energy.Context, null, Inputs),
                                   RowTables.OnContext(labels, nameof(labels), _energy.Context, null, Labels)));

    /// <summary>The metrics of <see cref="Evaluate(torch.Tensor, torch.Tensor)"/> on examples' inputs and labels (the
    /// features are not read).</summary>
    /// <param name="data">The examples.</param>
    public StructuredMetrics Evaluate(StructuredExamples data) => Evaluate(NotNull(data).Inputs, data.Labels);

    /// <summary>Writes the model to <paramref name="path"/> (kind "structured-model"): a JSON header with the energy
    /// (name, sizes, type), the network's layer widths, the threshold, the options, the history and the solver
    /// statistics, then θ ("energy.i") and ψ ("network.i").</summary>
    /// <param name="path">The file to write (its folder is created when needed).</param>
    public void Save(string path)
    {
        var header = new JsonObject
        {
            ["energy"] = Energy.Header(),
            ["network"] = Network.Header(),
            ["threshold"] = StructuredFiles.Number(Threshold),
            ["options"] = Options.ToJson(),
            ["history"] = HistoryJson(History),
            ["statistics"] = Statistics.ToJson(),
        };
        SavedModels.Save(path, Kind, header, Energy.Named("energy").Concat(Network.Named("network")));
    }

    /// <summary>Reads a model with the built-in SPEN saved by <see cref="Save"/>; its predictions are identical. A missing
    /// file throws FileNotFoundException; a file of another kind, a newer format version or a truncated file throws
    /// InvalidDataException naming the file; a model of an energy of your own throws ArgumentException (use
    /// <see cref="Load(string, IStructuredEnergy, DeviceContext?)"/>).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="context">Where to put θ and ψ (default: the CPU, in the type they were saved in).</param>
    public static StructuredModel Load(string path, DeviceContext? context = null) => LoadWith(path, null, context);

    /// <summary>Reads a model of the energy <paramref name="energy"/> saved by <see cref="Save"/> (the file's energy name
    /// must be its name: ArgumentException otherwise).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="energy">The energy the model was trained with.</param>
    /// <param name="context">Where to put θ and ψ (default: the CPU, in the type they were saved in).</param>
    public static StructuredModel Load(string path, IStructuredEnergy energy, DeviceContext? context = null) =>
        LoadWith(path, NotNull(energy), context);

    private static StructuredModel LoadWith(string path, IStructuredEnergy? energy, DeviceContext? context)
    {
        var (header, tensors) = SavedModels.Load(path, Kind);
        try
        {
            var energyHeader = header["energy"] as JsonObject ?? throw StructuredFiles.Corrupt(path, "the header has no 'energy' object");
            var networkHeader = header["network"] as JsonObject ?? throw StructuredFiles.Corrupt(path, "the header has no 'network' object");
            var options = header["options"] as JsonObject ?? throw StructuredFiles.Corrupt(path, "the header has no 'options' object");
            var statistics = header["statistics"] as JsonObject ?? throw StructuredFiles.Corrupt(path, "the header has no 'statistics' object");
            var e = StructuredEnergyModel.FromHeader(path, energyHeader, tensors, "energy", energy, context);
            try
            {
                var n = InferenceNetwork.FromHeader(path, networkHeader, tensors, "network", e.Context);
                try
                {
                    if (n.Outputs != e.Labels || tensors.Count != e.Parameters.Count + n.Parameters.Count)
                        throw StructuredFiles.Corrupt(path, $"the network has {n.Outputs} outputs for {e.Labels} labels, or the file has tensors of neither");
                    return new StructuredModel(e, n, ImplicitTrainingOptions.FromJson(path, options, e.Definition, e.Context), ReadHistory(path, header),
                        StructuredFiles.ReadNumber(path, header, "threshold"), HypergradientStatistics.FromJson(path, statistics));
                }
                catch { n.Dispose(); throw; }
            }
            catch { e.Dispose(); throw; }
        }
        finally { StructuredFiles.Free(tensors); }
    }

    private static JsonObject HistoryJson(TrainingHistory h) => new()
    {
        ["columns"] = new JsonArray(h.Columns.Select(c => (JsonNode?)c).ToArray()),
        ["rows"] = new JsonArray(Enumerable.Range(1, h.EpochsRun)
            .Select(e => (JsonNode?)new JsonArray(h.Columns.Select(c => (JsonNode?)StructuredFiles.Number(h.Row(e)[c])).ToArray())).ToArray()),
        ["bestEpoch"] = h.BestEpoch,
        ["stoppedEarly"] = h.StoppedEarly,
    };

    private static TrainingHistory ReadHistory(string path, JsonObject header) =>
        StructuredFiles.Read(path, "history", () =>
        {
            var h = header["history"] as JsonObject ?? throw StructuredFiles.Corrupt(path, "the header has no 'history' object");
            var columns = (h["columns"] ?? throw StructuredFiles.Corrupt(path, "the history has no columns")).AsArray().Select(c => c!.GetValue<string>()).ToArray();
            var rows = (h["rows"] ?? throw StructuredFiles.Corrupt(path, "the history has no rows")).AsArray()
                .Select(r => r!.AsArray().Select(v => StructuredFiles.ReadNumber(path, v, "history")).ToArray()).ToArray();
            if (rows.Any(r => r.Length != columns.Length)) throw StructuredFiles.Corrupt(path, "a history row does not match the columns");
            return new TrainingHistory(columns, rows, h["bestEpoch"]?.GetValue<int>(), h["stoppedEarly"]?.GetValue<bool>() ?? false);
        });

    /// <summary>The threshold of the default grid with the best example F1 of A_ψ on the examples, and that F1.</summary>
    internal static (double Threshold, double F1) SelectThreshold(FSharpList<Parameter> psi, StructuredExamples examples) =>
        ScopedValue(() =>
        {
            using var noGrad = torch.no_grad();
            var scores = EnergyFs.Models.InferenceNetwork.predict(List(psi.Select(p => (torch.Tensor)p)), examples.Inputs);
            return EnergyFs.Metrics.MultilabelMetrics.selectThreshold(EnergyFs.Metrics.MultilabelMetrics.defaultGrid, scores, examples.Labels).ToValueTuple();
        });

    /// <summary>Frees θ and ψ; later use throws ObjectDisposedException naming this type.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _energy.Dispose();
        _network.Dispose();
    }
}
