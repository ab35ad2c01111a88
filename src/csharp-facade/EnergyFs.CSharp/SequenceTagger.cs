using static EnergyFs.CSharp.FSharpInterop;
using FsTagger = EnergyFs.Learners.SequenceTaggerOptionsModule;

namespace EnergyFs.CSharp;

/// <summary>The training loss of a <see cref="SequenceTagger"/> (all on the same BiLSTM feature network).</summary>
public enum SequenceTaggerLoss
{
    /// <summary>The linear-chain CRF loss log Z(θ) − s(y) (Lafferty, McCallum &amp; Pereira 2001), which is the Fenchel-Young
    /// loss of the Shannon entropy over the chain's marginal polytope (Blondel et al. 2020); decoded with Viterbi.</summary>
    Crf,
    /// <summary>The SparseMAP Fenchel-Young loss (the squared norm over the marginal polytope; Niculae et al. 2018, arXiv
    /// 1802.04223); decoded with Viterbi.</summary>
    SparseMap,
    /// <summary>Independent per-word softmax cross-entropy, no transitions (the BiLSTM baseline); decoded word by word.</summary>
    Softmax,
}

/// <summary>Options of <see cref="SequenceTagger"/>; the defaults are those of the F# <c>SequenceTaggerOptions.defaults</c>
/// (CRF loss, word embeddings 100, shape and suffix embeddings 20, 100 LSTM units per direction, dropout 0.25, at most 20
/// epochs with patience 3 on the dev accuracy, batches of 32 sentences, Adam 2e-3).</summary>
public sealed record SequenceTaggerOptions
{
    private static readonly EnergyFs.Learners.SequenceTaggerOptions Defaults = FsTagger.defaults;

    /// <summary>The training loss (default <see cref="SequenceTaggerLoss.Crf"/>).</summary>
    public SequenceTaggerLoss Loss { get; init; } = SequenceTaggerLoss.Crf;
    /// <summary>Width of the word embeddings (default 100).</summary>
    public int WordDimension { get; init; } = Defaults.WordDim;
    /// <summary>Width of the word-shape and suffix embeddings, the unknown-word features (default 20).</summary>
    public int FeatureDimension { get; init; } = Defaults.FeatureDim;
    /// <summary>LSTM hidden units per direction (default 100).</summary>
    public int Hidden { get; init; } = Defaults.Hidden;
    /// <summary>Dropout on the embeddings and the LSTM outputs, in [0, 1) (default 0.25).</summary>
    public double Dropout { get; init; } = Defaults.Dropout;
    /// <summary>Maximum training epochs (default 20).</summary>
    public int Epochs { get; init; } = Defaults.Epochs;
    /// <summary>Epochs without a better dev token accuracy before stopping (default 3); the best epoch is kept. Used only
    /// when dev sentences are given.</summary>
    public int Patience { get; init; } = Defaults.Patience;
    /// <summary>Sentences per batch, bucketed by length (default 32).</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;
    /// <summary>Adam learning rate (default 2e-3).</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;
    /// <summary>Seed of the initialization, the dropout and the batch order (default 0).</summary>
    public long Seed { get; init; } = Defaults.Seed;
    /// <summary>Where to train (default <see cref="DeviceContext.Cpu"/>, float32).</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;

    internal static EnergyFs.Learners.TaggerLoss ToFSharp(SequenceTaggerLoss loss) => loss switch
    {
        SequenceTaggerLoss.Crf => EnergyFs.Learners.TaggerLoss.Crf,
        SequenceTaggerLoss.SparseMap => EnergyFs.Learners.TaggerLoss.SparseMapLoss,
        SequenceTaggerLoss.Softmax => EnergyFs.Learners.TaggerLoss.Softmax,
        _ => throw new ArgumentOutOfRangeException(nameof(Loss), loss, "unknown sequence tagger loss"),
    };

    internal static SequenceTaggerLoss FromFSharp(EnergyFs.Learners.TaggerLoss loss) =>
        loss.IsCrf ? SequenceTaggerLoss.Crf : loss.IsSparseMapLoss ? SequenceTaggerLoss.SparseMap : SequenceTaggerLoss.Softmax;

    internal EnergyFs.Learners.SequenceTaggerOptions ToFSharp() => ToFSharp(Defaults.Monitor);

    /// <summary>The F# options: the tags are whatever strings the caller gives (the tag set is the one of the training
    /// sentences), so the vocabulary reads them from the XPOS column of the sentences the facade builds.</summary>
    internal EnergyFs.Learners.SequenceTaggerOptions ToFSharp(EnergyFs.Training.FitMonitor monitor)
    {
        Positive(WordDimension, nameof(WordDimension));
        Positive(FeatureDimension, nameof(FeatureDimension));
        Positive(Hidden, nameof(Hidden));
        if (!(Dropout >= 0.0 && Dropout < 1.0)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1)");
        Positive(Epochs, nameof(Epochs));
        Positive(Patience, nameof(Patience));
        Positive(BatchSize, nameof(BatchSize));
        Positive(LearningRate, nameof(LearningRate));
        var vocabulary = new EnergyFs.Data.SequenceVocabularyOptions(Defaults.Vocabulary.MinWordCount, Defaults.Vocabulary.MinFeatureCount,
                                                                     Defaults.Vocabulary.SuffixLengths, EnergyFs.Data.TagColumn.XposTags);
        return new(ToFSharp(Loss), vocabulary, WordDimension, FeatureDimension, Hidden, Dropout, Epochs, Patience, BatchSize,
                   LearningRate, Defaults.ClipNorm, Seed, NotNull(Context, nameof(Context)).Inner, monitor);
    }

    /// <summary>The options of a loaded model: the saved ones, with the context it was loaded onto.</summary>
    internal static SequenceTaggerOptions FromFSharp(EnergyFs.Learners.SequenceTaggerOptions o) => new()
    {
        Loss = FromFSharp(o.Loss), WordDimension = o.WordDim, FeatureDimension = o.FeatureDim, Hidden = o.Hidden, Dropout = o.Dropout,
        Epochs = o.Epochs, Patience = o.Patience, BatchSize = o.BatchSize, LearningRate = o.LearningRate, Seed = o.Seed,
        Context = new DeviceContext(o.Context),
    };
}

/// <summary>A part-of-speech (or any sequence) tagger: a BiLSTM over word, word-shape and suffix embeddings (no pretrained
/// vectors needed) producing per-word scores, trained with the CRF loss on the linear chain (the strong baseline of Tu &amp;
/// Gimpel 2018, arXiv 1803.03376, and Tu, Pang &amp; Gimpel 2020, arXiv 2005.04231), the SparseMAP loss or an independent
/// softmax. The estimator holds only its options (no native memory); <c>Fit</c> returns a trained
/// <see cref="SequenceTaggerModel"/>, which owns its network.</summary>
public sealed class SequenceTagger
{
    /// <summary>A tagger with the given settings.</summary>
    /// <param name="options">Training settings (default: <see cref="SequenceTaggerOptions"/>'s defaults).</param>
    public SequenceTagger(SequenceTaggerOptions? options = null) => Options = options ?? new SequenceTaggerOptions();

    /// <summary>The settings.</summary>
    public SequenceTaggerOptions Options { get; }

    /// <summary>Trains a tagger on sentences (each an array of words) and their tags (one per word; any strings: the tag
    /// set is the one of the training sentences). With dev sentences, the dev token accuracy ("dev_accuracy") is computed
    /// after every epoch, early stopping watches it and the best epoch is kept. A null or empty list or sentence, a null
    /// or empty word, a null tag, tags of another length than their sentence, dev tags outside the training tag set or dev
    /// sentences without dev tags throw ArgumentException naming the argument and the sentence. Cancelling stops before the
    /// next step, frees what was built and throws OperationCanceledException.</summary>
    /// <param name="sentences">Training sentences, each an array of words.</param>
    /// <param name="tags">The tag of every word of every training sentence.</param>
    /// <param name="devSentences">Dev sentences for early stopping, or null.</param>
    /// <param name="devTags">Their tags (required with <paramref name="devSentences"/>).</param>
    /// <param name="progress">Receives a <see cref="TrainingEpoch"/> after every epoch (train_loss, grad_norm, lr, seconds, dev_accuracy).</param>
    /// <param name="cancellationToken">Stops the training.</param>
    public SequenceTaggerModel Fit(IReadOnlyList<string[]> sentences, IReadOnlyList<string[]> tags,
                                   IReadOnlyList<string[]>? devSentences = null, IReadOnlyList<string[]>? devTags = null,
                                   IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        var train = TaggedSentences.Of(sentences, tags, nameof(sentences), nameof(tags));
        EnergyFs.Data.ConlluSentence[]? dev = null;
        if (devSentences is not null || devTags is not null)
        {
            if (devSentences is null) throw new ArgumentException("devTags were given without devSentences", nameof(devSentences));
            if (devTags is null) throw new ArgumentException("devSentences were given without devTags", nameof(devTags));
            dev = TaggedSentences.Of(devSentences, devTags, nameof(devSentences), nameof(devTags));
            TaggedSentences.RequireKnownTags(dev, train, nameof(devTags));
        }
        var fsOptions = Options.ToFSharp(Monitor(progress, cancellationToken, Options.Epochs));
        var devOption = dev is null ? null : Microsoft.FSharp.Core.FSharpOption<EnergyFs.Data.ConlluSentence[]>.Some(dev);
        // Training temporaries are freed on return (or on cancellation); only the network's tensors survive.
        var fitted = ScopedWith(() => Guard(() => EnergyFs.Learners.SequenceTagger.fit(fsOptions, train, devOption)), SequenceTaggerModel.Survivors);
        return new SequenceTaggerModel(fitted, Options);
    }
}
