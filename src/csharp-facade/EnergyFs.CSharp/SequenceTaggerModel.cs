using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Tagging metrics of a <see cref="SequenceTaggerModel"/> on tagged sentences.</summary>
/// <param name="TokenAccuracy">Fraction of words whose predicted tag is the true one (a true tag the model does not know
/// counts as an error), in [0, 1].</param>
/// <param name="SentenceAccuracy">Fraction of sentences whose every word is tagged correctly, in [0, 1].</param>
/// <param name="Sentences">Number of sentences.</param>
/// <param name="Tokens">Number of words.</param>
public sealed record SequenceTaggingMetrics(double TokenAccuracy, double SentenceAccuracy, int Sentences, int Tokens);

/// <summary>A trained sequence tagger (from <see cref="SequenceTagger"/>.Fit or <see cref="Load"/>): a BiLSTM over words,
/// word shapes and suffixes with, for the chain losses, label-transition scores decoded exactly by Viterbi (Lafferty et al.
/// 2001; Tu &amp; Gimpel 2018, arXiv 1803.03376). Words never seen in training are tagged from their shape and suffixes.
/// Owns its network: dispose it.</summary>
public sealed class SequenceTaggerModel : IDisposable
{
    private readonly EnergyFs.Learners.FittedSequenceTagger model;
    private bool disposed;

    internal SequenceTaggerModel(EnergyFs.Learners.FittedSequenceTagger model, SequenceTaggerOptions options)
    {
        this.model = model;
        Options = options;
        var history = model.History;
        var withDev = history.Columns.Contains("dev_accuracy");
        var stopped = history.Epochs < model.Options.Epochs ? EnergyFs.Training.StopReason.NewEarlyStopped(history.Epochs - 1) : EnergyFs.Training.StopReason.Completed;
        History = TrainingHistory.FromFSharp(history, withDev ? model.BestEpoch + 1 : null, stopped);
    }

    /// <summary>The tensors a trained or loaded tagger keeps: its network's parameters and buffers.</summary>
    internal static IEnumerable<torch.Tensor> Survivors(EnergyFs.Learners.FittedSequenceTagger m) =>
        m.Net.parameters().Cast<torch.Tensor>().Concat(m.Net.buffers());

    private EnergyFs.Learners.FittedSequenceTagger Model
    {
        get { NotDisposed(disposed, this); return model; }
    }

    /// <summary>The settings it was trained with (after <see cref="Load"/>: the saved ones, with the context it was loaded
    /// onto and the default patience).</summary>
    public SequenceTaggerOptions Options { get; }

    /// <summary>The per-epoch history (train_loss, grad_norm, lr, seconds, and dev_accuracy when dev sentences were given);
    /// <see cref="TrainingHistory.BestEpoch"/> is the epoch kept when dev sentences were given, null otherwise.</summary>
    public TrainingHistory History { get; }

    /// <summary>The tag set, in the order of the network's outputs (the tags of the training sentences, sorted ordinally).</summary>
    public IReadOnlyList<string> Tags => Model.Vocabulary.Tags;

    /// <summary>The number of distinct (lowercased) training words the model has an embedding for, the two reserved
    /// entries (padding and unknown word) included.</summary>
    public int KnownWords => Model.Vocabulary.Words.Count;

    /// <summary>The tags of every word of every sentence. A null or empty list or sentence, or a null or empty word,
    /// throws ArgumentException naming <paramref name="sentences"/> and the sentence.</summary>
    /// <param name="sentences">Sentences, each an array of words.</param>
    public string[][] Predict(IReadOnlyList<string[]> sentences)
    {
        var m = Model;
        TaggedSentences.CheckSentences(sentences, nameof(sentences));
        return ScopedValue(() => Guard(() => EnergyFs.Learners.SequenceTagger.tag(m, sentences.ToArray())));
    }

    /// <summary>The tags of one sentence's words.</summary>
    /// <param name="sentence">The words of a sentence (at least one).</param>
    public string[] Predict(string[] sentence)
    {
        if (sentence is null) throw new ArgumentNullException(nameof(sentence));
        TaggedSentences.CheckSentence(sentence, nameof(sentence), nameof(sentence));
        return Predict(new[] { sentence })[0];
    }

    /// <summary>Token and sentence accuracy of the predictions against the true tags. The checks of <see cref="Predict(IReadOnlyList{string[]})"/>
    /// apply, and tags of another length than their sentence throw ArgumentException naming <paramref name="tags"/>.</summary>
    /// <param name="sentences">Sentences, each an array of words.</param>
    /// <param name="tags">The true tag of every word.</param>
    public SequenceTaggingMetrics Evaluate(IReadOnlyList<string[]> sentences, IReadOnlyList<string[]> tags)
    {
        TaggedSentences.Of(sentences, tags, nameof(sentences), nameof(tags));
        var predicted = Predict(sentences);
        int tokens = 0, correct = 0, perfect = 0;
        for (var i = 0; i < predicted.Length; i++)
        {
            var hits = predicted[i].Zip(tags[i]).Count(p => p.First == p.Second);
            tokens += predicted[i].Length;
            correct += hits;
            if (hits == predicted[i].Length) perfect++;
        }
        return new SequenceTaggingMetrics((double)correct / tokens, (double)perfect / predicted.Length, predicted.Length, tokens);
    }

    /// <summary>The metrics on CoNLL-U sentences against their UPOS tags (<paramref name="upos"/> true) or XPOS tags.</summary>
    /// <param name="sentences">Sentences from <see cref="Conllu.Read"/>.</param>
    /// <param name="upos">Compare with the UPOS column (default) or the XPOS column.</param>
    public SequenceTaggingMetrics Evaluate(IReadOnlyList<ConlluSentence> sentences, bool upos = true)
    {
        NotNull(sentences);
        if (sentences.Any(s => s is null)) throw new ArgumentException("sentences holds a null sentence", nameof(sentences));
        return Evaluate(sentences.Select(s => s.Forms).ToArray(), sentences.Select(s => upos ? s.Upos : s.Xpos).ToArray());
    }

    /// <summary>Writes the model to <paramref name="path"/> in the EnergyFs model file format (kind "sequence-tagger": the
    /// loss, the network's sizes, the vocabularies, the options and the history in the JSON header, then the network's
    /// state dict; see docs/model-files.md), atomically, creating the folder when needed.</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        var m = Model;
        NotNull(path);
        Guard(() => { EnergyFs.Learners.SequenceTaggerFile.save(path, m); return 0; });
    }

    /// <summary>Loads a model written by <see cref="Save"/> onto <paramref name="context"/>'s device, in the saved
    /// floating-point type. A missing file throws FileNotFoundException; a file of another model kind, a newer format
    /// version or a truncated file throws InvalidDataException naming the file.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="context">Where to load it (default <see cref="DeviceContext.Cpu"/>; the saved dtype is kept).</param>
    public static SequenceTaggerModel Load(string path, DeviceContext? context = null)
    {
        NotNull(path);
        var ctx = (context ?? DeviceContext.Cpu).Inner;
        var fitted = ScopedWith(() => Guard(() => EnergyFs.Learners.SequenceTaggerFile.load(path, ctx)), Survivors);
        return new SequenceTaggerModel(fitted, SequenceTaggerOptions.FromFSharp(fitted.Options));
    }

    /// <summary>Frees the network; later use throws ObjectDisposedException naming this class.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable)model).Dispose();
    }
}
