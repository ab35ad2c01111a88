namespace EnergyFs.CSharp;

/// <summary>The argument checks of the sequence tagger's sentences and tags, and their conversion to the F# library's
/// CoNLL-U sentences (the tags go into the XPOS column, which the facade's vocabulary reads).</summary>
internal static class TaggedSentences
{
    /// <summary>Throws ArgumentException naming <paramref name="name"/> and the sentence unless every sentence is a non-empty
    /// array of non-empty words.</summary>
    internal static void CheckSentences(IReadOnlyList<string[]>? sentences, string name)
    {
        if (sentences is null) throw new ArgumentNullException(name);
        if (sentences.Count == 0) throw new ArgumentException($"{name} holds no sentence", name);
        for (var i = 0; i < sentences.Count; i++) CheckSentence(sentences[i], $"{name}[{i}]", name);
    }

    /// <summary>Throws ArgumentException naming <paramref name="name"/> (the sentence written <paramref name="label"/>)
    /// unless <paramref name="sentence"/> is a non-empty array of non-empty words.</summary>
    internal static void CheckSentence(string[]? sentence, string label, string name)
    {
        if (sentence is null) throw new ArgumentException($"{label} is null", name);
        if (sentence.Length == 0) throw new ArgumentException($"{label} is empty: every sentence needs at least one word", name);
        for (var j = 0; j < sentence.Length; j++)
            if (string.IsNullOrEmpty(sentence[j]))
                throw new ArgumentException($"{label}[{j}] is {(sentence[j] is null ? "null" : "empty")}: every word needs at least one character", name);
    }

    /// <summary>Checks sentences and tags (as many tag arrays as sentences, one non-null tag per word) and returns them as
    /// F# sentences named "<paramref name="sentencesName"/>[i]".</summary>
    internal static EnergyFs.Data.ConlluSentence[] Of(IReadOnlyList<string[]>? sentences, IReadOnlyList<string[]>? tags, string sentencesName, string tagsName)
    {
        CheckSentences(sentences, sentencesName);
        if (tags is null) throw new ArgumentNullException(tagsName);
        if (tags.Count != sentences!.Count)
            throw new ArgumentException($"{sentencesName} has {sentences.Count} sentences but {tagsName} has {tags.Count} tag arrays", tagsName);
        var result = new EnergyFs.Data.ConlluSentence[sentences.Count];
        for (var i = 0; i < sentences.Count; i++)
        {
            var words = sentences[i];
            var t = tags[i] ?? throw new ArgumentException($"{tagsName}[{i}] is null", tagsName);
            if (t.Length != words.Length)
                throw new ArgumentException($"{sentencesName}[{i}] has {words.Length} words but {tagsName}[{i}] has {t.Length} tags", tagsName);
            var row = new EnergyFs.Data.ConlluWord[words.Length];
            for (var j = 0; j < words.Length; j++)
                row[j] = new EnergyFs.Data.ConlluWord(j + 1, words[j], "_", t[j] ?? throw new ArgumentException($"{tagsName}[{i}][{j}] is null", tagsName));
            result[i] = new EnergyFs.Data.ConlluSentence($"{sentencesName}[{i}]", 0, row);
        }
        return result;
    }

    /// <summary>Throws ArgumentException naming <paramref name="name"/> when a sentence of <paramref name="sentences"/> has
    /// a tag that no sentence of <paramref name="training"/> has (the model could never predict it).</summary>
    internal static void RequireKnownTags(EnergyFs.Data.ConlluSentence[] sentences, EnergyFs.Data.ConlluSentence[] training, string name)
    {
        var known = training.SelectMany(s => s.Words).Select(w => w.Xpos).ToHashSet(StringComparer.Ordinal);
        foreach (var s in sentences)
            foreach (var w in s.Words)
                if (!known.Contains(w.Xpos))
                    throw new ArgumentException($"the tag '{w.Xpos}' of {s.SentenceId}, word {w.Id - 1}, is not among the {known.Count} tags of the training sentences", name);
    }
}
