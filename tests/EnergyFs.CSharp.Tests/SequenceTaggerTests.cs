namespace EnergyFs.CSharp.Tests;

[Covers(typeof(SequenceTaggerOptions), typeof(SequenceTaggerLoss), typeof(SequenceTaggerModel), typeof(SequenceTaggingMetrics))]
public class SequenceTaggerTests
{
    public SequenceTaggerTests() => RuntimeInfo.Threads = 1;

    /// <summary>A toy language: DET (ADJ) NOUN VERB (DET (ADJ) NOUN) (ADV) "." where "fish", "run" and "walk" are nouns
    /// after a determiner or adjective and verbs after a noun, so their tag depends on the context.</summary>
    internal static (string[][] Sentences, string[][] Tags) ToyLanguage(int seed, int n)
    {
        var random = new Random(seed);
        string[] dets = { "the", "a" }, adjs = { "big", "small", "red" }, nouns = { "dog", "cat", "bird", "fish", "run", "walk" },
                 verbs = { "sees", "likes", "chases", "fish", "run", "walk" }, advs = { "quickly", "slowly" };
        var sentences = new string[n][];
        var tags = new string[n][];
        for (var i = 0; i < n; i++)
        {
            var words = new List<(string Word, string Tag)>();
            void NounPhrase()
            {
                words.Add((dets[random.Next(dets.Length)], "DET"));
                if (random.Next(2) == 0) words.Add((adjs[random.Next(adjs.Length)], "ADJ"));
                words.Add((nouns[random.Next(nouns.Length)], "NOUN"));
            }
            NounPhrase();
            words.Add((verbs[random.Next(verbs.Length)], "VERB"));
            if (random.Next(3) > 0) NounPhrase();
            if (random.Next(3) == 0) words.Add((advs[random.Next(advs.Length)], "ADV"));
            words.Add((".", "PUNCT"));
            sentences[i] = words.Select(w => w.Word).ToArray();
            tags[i] = words.Select(w => w.Tag).ToArray();
        }
        return (sentences, tags);
    }

    private static readonly SequenceTaggerOptions Small = new()
    {
        WordDimension = 12, FeatureDimension = 4, Hidden = 12, Dropout = 0.0, Epochs = 12, BatchSize = 16, LearningRate = 2e-2, Seed = 3,
    };

    [Theory]
    [InlineData(SequenceTaggerLoss.Crf)]
    [InlineData(SequenceTaggerLoss.Softmax)]
    public void LearnsAToyLanguage(SequenceTaggerLoss loss)
    {
        var (train, trainTags) = ToyLanguage(1, 120);
        var (test, testTags) = ToyLanguage(2, 40);
        using var model = new SequenceTagger(Small with { Loss = loss }).Fit(train, trainTags);
        var metrics = model.Evaluate(test, testTags);
        Assert.True(metrics.TokenAccuracy > 0.97, $"{loss}: test token accuracy {metrics.TokenAccuracy}");
        Assert.Equal((40, testTags.Sum(t => t.Length)), (metrics.Sentences, metrics.Tokens));
        Assert.InRange(metrics.SentenceAccuracy, 0.0, metrics.TokenAccuracy);
        Assert.Equal(new[] { "ADJ", "ADV", "DET", "NOUN", "PUNCT", "VERB" }, model.Tags);
        var predicted = model.Predict(test);
        Assert.Equal(test.Select(s => s.Length), predicted.Select(p => p.Length));
        Assert.Equal(predicted[3], model.Predict(test[3]));
        // The context decides: "fish" after a noun is a verb, after a determiner a noun; an unseen word gets a tag too.
        Assert.Equal(new[] { "DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT" }, model.Predict(new[] { "the", "dog", "fish", "a", "fish", "." }));
        Assert.Equal(3, model.Predict(new[] { "the", "zebra", "." }).Length);
        Assert.Equal(12, model.History.EpochsRun);
        Assert.Null(model.History.BestEpoch);
        Assert.Equal(loss, model.Options.Loss);
        Assert.True(model.KnownWords > 2);
    }

    [Fact]
    public void SaveAndLoadGiveIdenticalPredictions()
    {
        var (train, tags) = ToyLanguage(4, 40);
        var options = Small with { Epochs = 2, Loss = SequenceTaggerLoss.SparseMap };
        using var model = new SequenceTagger(options).Fit(train, tags, devSentences: train, devTags: tags);
        using var faults = new ModelFileFaults();
        var path = faults.PathOf(Path.Combine("sub", "tagger.efs"));
        model.Save(path);
        using var loaded = SequenceTaggerModel.Load(path);
        Assert.Equal(model.Predict(train), loaded.Predict(train));
        Assert.Equal(model.Tags, loaded.Tags);
        Assert.Equal(options with { Patience = loaded.Options.Patience, Context = loaded.Options.Context }, loaded.Options);
        Assert.Equal(options.Context.ToString(), loaded.Options.Context.ToString());
        Assert.Equal(model.History.Column("dev_accuracy"), loaded.History.Column("dev_accuracy"));
        Assert.Equal(model.History.BestEpoch, loaded.History.BestEpoch);
        Assert.InRange(model.History.BestEpoch ?? 0, 1, 2);
        // Same seed, same model.
        using var again = new SequenceTagger(options).Fit(train, tags, devSentences: train, devTags: tags);
        Assert.Equal(model.Predict(train), again.Predict(train));
        ModelFileFaults.AssertRejectsCorruptCopies(path, p => SequenceTaggerModel.Load(p).Dispose(), "sequence-tagger");
        Assert.Throws<FileNotFoundException>(() => SequenceTaggerModel.Load(faults.PathOf("absent.efs")));
    }

    [Fact]
    public void ProgressReportsEveryEpochAndCancellationStopsTheFit()
    {
        var (train, tags) = ToyLanguage(5, 24);
        var tagger = new SequenceTagger(Small with { Epochs = 4, Patience = 100 });
        var epochs = new List<TrainingEpoch>();
        using (var model = tagger.Fit(train, tags, train, tags, new ImmediateProgress<TrainingEpoch>(epochs.Add)))
        {
            Assert.Equal(new[] { 1, 2, 3, 4 }, epochs.Select(e => e.Epoch));
            Assert.All(epochs, e => Assert.True(e.Metrics.ContainsKey("train_loss") && e.Metrics.ContainsKey("dev_accuracy") && e.Epochs == 4));
            Assert.Equal(epochs.Select(e => e.Metrics["dev_accuracy"]), model.History.Column("dev_accuracy"));
        }
        // Cancel from the callback after the second epoch: the fit stops at the next step and frees what it built.
        using var cts = new CancellationTokenSource();
        var seen = new List<int>();
        GC.Collect();
        var before = Native.LiveTensors;
        var e = Assert.ThrowsAny<OperationCanceledException>(() => tagger.Fit(train, tags,
            progress: new ImmediateProgress<TrainingEpoch>(p => { seen.Add(p.Epoch); if (p.Epoch == 2) cts.Cancel(); }), cancellationToken: cts.Token));
        Assert.Equal(new[] { 1, 2 }, seen);
        Assert.Contains("2 epochs completed", e.Message);
        Assert.Equal(cts.Token, e.CancellationToken);
        GC.Collect();
        Assert.Equal(before, Native.LiveTensors);
        // An already-cancelled token stops before the first step.
        Assert.ThrowsAny<OperationCanceledException>(() => tagger.Fit(train, tags, cancellationToken: cts.Token));
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var tagger = new SequenceTagger(Small with { Epochs = 1 });
        string[][] words = { new[] { "a", "dog" }, new[] { "runs" } }, tags = { new[] { "DET", "NOUN" }, new[] { "VERB" } };
        var mismatched = Assert.Throws<ArgumentException>(() => tagger.Fit(words, new[] { new[] { "DET" }, new[] { "VERB" } }));
        Assert.Equal("tags", mismatched.ParamName);
        Assert.Contains("sentences[0] has 2 words but tags[0] has 1", mismatched.Message);
        Assert.Equal("tags", Assert.Throws<ArgumentException>(() => tagger.Fit(words, tags.Take(1).ToArray())).ParamName);
        var empty = Assert.Throws<ArgumentException>(() => tagger.Fit(new[] { words[0], Array.Empty<string>() }, new[] { tags[0], Array.Empty<string>() }));
        Assert.Equal("sentences", empty.ParamName);
        Assert.Contains("sentences[1] is empty", empty.Message);
        Assert.Equal("sentences", Assert.Throws<ArgumentNullException>(() => tagger.Fit(null!, tags)).ParamName);
        Assert.Equal("tags", Assert.Throws<ArgumentNullException>(() => tagger.Fit(words, null!)).ParamName);
        Assert.Contains("sentences[0][1] is null", Assert.Throws<ArgumentException>(() => tagger.Fit(new[] { new[] { "a", null! }, words[1] }, tags)).Message);
        Assert.Contains("tags[1][0] is null", Assert.Throws<ArgumentException>(() => tagger.Fit(words, new[] { tags[0], new string[] { null! } })).Message);
        Assert.Equal("sentences", Assert.Throws<ArgumentException>(() => tagger.Fit(Array.Empty<string[]>(), Array.Empty<string[]>())).ParamName);
        Assert.Equal("devTags", Assert.Throws<ArgumentException>(() => tagger.Fit(words, tags, devSentences: words)).ParamName);
        var unknownTag = Assert.Throws<ArgumentException>(() => tagger.Fit(words, tags, words, new[] { tags[0], new[] { "ADV" } }));
        Assert.Equal("devTags", unknownTag.ParamName);
        Assert.Contains("'ADV'", unknownTag.Message);
        Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceTagger(Small with { Epochs = 0 }).Fit(words, tags)).ParamName);
        Assert.Equal("Dropout", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceTagger(Small with { Dropout = 1.0 }).Fit(words, tags)).ParamName);
        using var model = tagger.Fit(words, tags);
        Assert.Equal("sentences", Assert.Throws<ArgumentException>(() => model.Predict(new[] { Array.Empty<string>() })).ParamName);
        var one = Assert.Throws<ArgumentException>(() => model.Predict(new[] { "a", "" }));
        Assert.Equal("sentence", one.ParamName);
        Assert.Contains("sentence[1] is empty", one.Message);
        Assert.Equal("sentence", Assert.Throws<ArgumentNullException>(() => model.Predict((string[])null!)).ParamName);
        Assert.Equal("tags", Assert.Throws<ArgumentException>(() => model.Evaluate(words, new[] { tags[1], tags[0] })).ParamName);
        // A true tag the model does not know is an error of the prediction, not of the input.
        Assert.Equal(0.0, model.Evaluate(new[] { new[] { "dog" } }, new[] { new[] { "ADV" } }).TokenAccuracy);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.SequenceTaggerOptionsModule.defaults;
        var f = new SequenceTaggerOptions().ToFSharp();
        Assert.True(f.Loss.IsCrf && d.Loss.IsCrf);
        Assert.Equal((d.WordDim, d.FeatureDim, d.Hidden, d.Dropout, d.Epochs, d.Patience, d.BatchSize, d.LearningRate, d.ClipNorm, d.Seed),
                     (f.WordDim, f.FeatureDim, f.Hidden, f.Dropout, f.Epochs, f.Patience, f.BatchSize, f.LearningRate, f.ClipNorm, f.Seed));
        Assert.Equal(d.Context, f.Context);
        Assert.Equal((d.Vocabulary.MinWordCount, d.Vocabulary.MinFeatureCount, d.Vocabulary.SuffixLengths), (f.Vocabulary.MinWordCount, f.Vocabulary.MinFeatureCount, f.Vocabulary.SuffixLengths));
        foreach (var loss in Enum.GetValues<SequenceTaggerLoss>())
            Assert.Equal(loss, SequenceTaggerOptions.FromFSharp(SequenceTaggerOptions.ToFSharp(loss)));
    }

    [Fact]
    public void DisposeFreesTheNetwork()
    {
        var (train, tags) = ToyLanguage(6, 10);
        Native.AssertFreesEverything(() =>
        {
            var model = new SequenceTagger(Small with { Epochs = 1 }).Fit(train, tags);
            model.Predict(train);
            model.Dispose();
            model.Dispose();
            var e = Assert.Throws<ObjectDisposedException>(() => model.Predict(train));
            Assert.Contains(nameof(SequenceTaggerModel), e.Message);
        });
    }
}
