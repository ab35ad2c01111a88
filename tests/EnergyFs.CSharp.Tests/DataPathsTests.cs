namespace EnergyFs.CSharp.Tests;

public class DataPathsTests
{
    [Fact]
    public void FindsTheDataFolderAndADataset()
    {
        var root = DataPaths.Root();
        Assert.True(File.Exists(Path.Combine(root, "SOURCES.md")));
        var emotions = DataPaths.Find("emotions");
        Assert.Equal(Path.Combine(root, "emotions"), emotions.TrimEnd(Path.DirectorySeparatorChar));
    }

    [Fact]
    public void MissingDatasetNamesIt()
    {
        var e = Assert.ThrowsAny<IOException>(() => DataPaths.Find("no-such-dataset"));
        Assert.Contains("no-such-dataset", e.Message);
    }
}
