namespace EnergyFs.CSharp.Tests;

[Covers(typeof(ConlluSentence))]
public class ConlluTests
{
    private const string Header = "# sent_id = s1\n# text = I don't know.\n";

    private static string Line(string id, string form, string upos, string xpos) => $"{id}\t{form}\t_\t{upos}\t{xpos}\t_\t0\t_\t_\t_\n";

    [Fact]
    public void ReadsFormsAndTagsSkippingMultiwordTokensAndEmptyNodes()
    {
        using var folder = new ModelFileFaults();
        var path = folder.PathOf("tiny-ud-dev.conllu");
        File.WriteAllText(path, Header + Line("1", "I", "PRON", "PRP") + Line("2-3", "don't", "_", "_") + Line("2", "do", "AUX", "VBP")
                                + Line("3", "n't", "PART", "RB") + Line("3.1", "know", "VERB", "VB") + Line("4", "know", "VERB", "VB")
                                + Line("5", ".", "PUNCT", ".") + "\n" + Line("1", "Hi", "INTJ", "UH") + "\n");
        var sentences = Conllu.Read(path);
        Assert.Equal(2, sentences.Count);
        var s = sentences[0];
        Assert.Equal(("s1", 3), (s.SentenceId, s.Line));
        Assert.Equal(new[] { "I", "do", "n't", "know", "." }, s.Forms);
        Assert.Equal(new[] { "PRON", "AUX", "PART", "VERB", "PUNCT" }, s.Upos);
        Assert.Equal(new[] { "PRP", "VBP", "RB", "VB", "." }, s.Xpos);
        Assert.Equal(new[] { "Hi" }, sentences[1].Forms);
        Assert.Equal(sentences.Select(x => x.Forms), Conllu.ReadSplit(folder.Folder, "dev").Select(x => x.Forms));
        Assert.Contains("tiny-ud-dev.conllu", Assert.Throws<FileNotFoundException>(() => Conllu.ReadSplit(folder.Folder, "test")).Message);
        Assert.Equal(17, Conllu.UposTags.Count);
    }

    [Fact]
    public void MalformedLinesNameTheFileAndLine()
    {
        using var folder = new ModelFileFaults();
        var path = folder.PathOf("bad.conllu");
        File.WriteAllText(path, Header + Line("1", "I", "PRON", "PRP") + "2\tknow\t_\tVERB\n");
        var e = Assert.Throws<FormatException>(() => Conllu.Read(path));
        Assert.StartsWith($"{path}:4:", e.Message);
        Assert.Contains("10 tab-separated columns", e.Message);
        File.WriteAllText(path, Header + Line("1", "I", "NOPE", "PRP"));
        Assert.Contains("'NOPE' is not a UPOS tag", Assert.Throws<FormatException>(() => Conllu.Read(path)).Message);
        File.WriteAllText(path, Header + Line("x", "I", "PRON", "PRP"));
        Assert.StartsWith($"{path}:3:", Assert.Throws<FormatException>(() => Conllu.Read(path)).Message);
        Assert.Throws<FileNotFoundException>(() => Conllu.Read(folder.PathOf("absent.conllu")));
        Assert.Throws<ArgumentNullException>(() => Conllu.Read(null!));
    }

    [Fact]
    public void ReadsEnglishEwtAndATaggerTrainsOnIt()
    {
        RuntimeInfo.Threads = 1;
        var dev = Conllu.ReadSplit(DataPaths.Find("ud_english_ewt"), "dev");
        Assert.Equal(2001, dev.Count);
        Assert.All(dev, s => Assert.True(s.Forms.Length == s.Upos.Length && s.Forms.Length == s.Xpos.Length && s.Forms.Length > 0));
        var train = dev.Take(150).ToArray();
        var options = new SequenceTaggerOptions { WordDimension = 16, FeatureDimension = 8, Hidden = 16, Epochs = 3, LearningRate = 1e-2 };
        using var model = new SequenceTagger(options).Fit(train.Select(s => s.Forms).ToArray(), train.Select(s => s.Upos).ToArray());
        var metrics = model.Evaluate(dev.Skip(1900).ToArray());
        Assert.Equal(101, metrics.Sentences);
        Assert.True(metrics.TokenAccuracy > 0.3, $"UPOS token accuracy after 3 epochs on 150 sentences: {metrics.TokenAccuracy}");
    }
}
