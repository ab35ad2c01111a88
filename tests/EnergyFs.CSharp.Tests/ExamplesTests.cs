using ReadmeExamples = EnergyFs.Examples.CSharp.Examples;

namespace EnergyFs.CSharp.Tests;

/// <summary>Runs the README's C# examples and checks what each one claims.</summary>
public class ExamplesTests
{
    public ExamplesTests() => RuntimeInfo.Threads = 1;

    [Fact]
    public void ReadmeDifferentiationExampleRuns() => Assert.True(ReadmeExamples.Differentiation());

    [Fact]
    public void FenchelYoungExampleGivesTheClosedFormLoss() => Assert.Equal(1.0, ReadmeExamples.FenchelYoung(), 12);

    [Fact]
    public void DualExampleLowersTheEnergyOfTheData()
    {
        var (before, after) = ReadmeExamples.DualTraining();
        Assert.True(after < before - 0.2, $"{before} -> {after}");
    }

    [Fact]
    public void RegressionExampleEbmBeatsItsProposal()
    {
        // The paper's headline effect: the EBM's NLL is below that of the proposal it was trained with.
        var (ebm, proposal, reloaded) = ReadmeExamples.Regression();
        Assert.True(double.IsFinite(ebm) && ebm < proposal, $"EBM {ebm}, proposal {proposal}");
        Assert.True(reloaded, "the reloaded model's mean predictions differ");
    }

    [Fact]
    public void StructuredPredictionExampleLearns()
    {
        var (spen, pairwise, loaded) = ReadmeExamples.StructuredPrediction();
        Assert.Equal(spen, loaded);
        Assert.True(spen > 0.7 && pairwise > 0.7, $"example F1: SPEN {spen}, C# pairwise energy {pairwise}");
    }

    [Fact]
    public void TaggerExampleTagsEnglish()
    {
        var (accuracy, tags, reloaded) = ReadmeExamples.PartOfSpeechTagging();
        Assert.True(accuracy > 0.85, $"UPOS test accuracy {accuracy}");
        Assert.Equal(8, tags.Length);
        Assert.Equal(("PRON", "VERB", "DET", "PUNCT"), (tags[0], tags[1], tags[5], tags[7]));
        Assert.True(reloaded, "the reloaded tagger's predictions differ");
    }

    [Fact]
    public void CustomEnergyExampleMatchesOrBeatsTheBuiltInEnergy()
    {
        var (builtIn, custom) = EnergyFs.Examples.CSharp.CustomEnergyExample.Emotions();
        Assert.InRange(builtIn, 0.70, 1.0);
        Assert.True(custom >= builtIn - 0.005, $"custom energy {custom:P2} vs built-in quadratic {builtIn:P2}");
    }
}
