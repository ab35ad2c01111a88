using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>One sentence of a CoNLL-U file (Universal Dependencies, https://universaldependencies.org/format.html): the
/// columns a tagger needs, one entry per syntactic word (multiword-token ranges such as "don't" = "do" + "n't" and empty
/// nodes are left out, as the format says). Train a <see cref="SequenceTagger"/> on <see cref="Forms"/> and
/// <see cref="Upos"/> (or <see cref="Xpos"/>).</summary>
/// <param name="SentenceId">The value of the sentence's <c># sent_id = …</c> comment ("" when it has none).</param>
/// <param name="Line">The 1-based line of the sentence's first word in its file.</param>
/// <param name="Forms">FORM: the words as they appear in the text.</param>
/// <param name="Upos">UPOS: the universal part-of-speech tag of each word (one of the 17 of <see cref="Conllu.UposTags"/>).</param>
/// <param name="Xpos">XPOS: the language-specific tag of each word (for English EWT the Penn Treebank tag), "_" when absent.</param>
public sealed record ConlluSentence(string SentenceId, int Line, string[] Forms, string[] Upos, string[] Xpos)
{
    internal static ConlluSentence FromFSharp(EnergyFs.Data.ConlluSentence s) =>
        new(s.SentenceId, s.Line, s.Words.Select(w => w.Form).ToArray(), s.Words.Select(w => w.Upos).ToArray(), s.Words.Select(w => w.Xpos).ToArray());
}

/// <summary>Reading CoNLL-U treebanks (Universal Dependencies) for part-of-speech tagging: plain or gzip-compressed
/// (<c>.gz</c>) files. A missing file throws FileNotFoundException; a malformed line (a column count other than 10, an ID
/// that is not an integer, a range or a decimal, IDs out of order, an empty FORM, a UPOS outside the 17 universal tags)
/// throws FormatException whose message starts with "file:line:".</summary>
public static class Conllu
{
    /// <summary>The 17 universal part-of-speech tags of Universal Dependencies v2, in alphabetical order (ADJ … X).</summary>
    public static IReadOnlyList<string> UposTags { get; } = EnergyFs.Data.Upos.tags;

    /// <summary>The sentences of the CoNLL-U file at <paramref name="path"/>.</summary>
    /// <param name="path">A <c>.conllu</c> or <c>.conllu.gz</c> file.</param>
    public static IReadOnlyList<ConlluSentence> Read(string path)
    {
        NotNull(path);
        return Guard(() => EnergyFs.Data.Conllu.read(path)).Select(ConlluSentence.FromFSharp).ToArray();
    }

    /// <summary>The sentences of split <paramref name="split"/> ("train", "dev" or "test") of the UD treebank in
    /// <paramref name="folder"/>: the file whose name ends in <c>-ud-&lt;split&gt;.conllu</c> or <c>.conllu.gz</c>
    /// (for example <c>DataPaths.Find("ud_english_ewt")</c>). FileNotFoundException naming the folder and its files when
    /// there is none.</summary>
    /// <param name="folder">The treebank's folder.</param>
    /// <param name="split">"train", "dev" or "test".</param>
    public static IReadOnlyList<ConlluSentence> ReadSplit(string folder, string split)
    {
        NotNull(folder);
        NotNull(split);
        return Read(EnergyFs.Data.Conllu.splitFile(folder, split));
    }
}
