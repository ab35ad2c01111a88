using Microsoft.FSharp.Collections;

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
        Assert.Contains(DataPaths.Root(), e.Message);
    }

    private static string TemporaryFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "energyfs-datapaths-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static FSharpList<string> Starts(params string[] folders) => ListModule.OfSeq(folders);

    [Fact]
    public void LocateWalksUpFromEachStartFolder()
    {
        var folder = TemporaryFolder();
        try
        {
            var data = Directory.CreateDirectory(Path.Combine(folder, "clone", "data")).FullName;
            File.WriteAllText(Path.Combine(data, "SOURCES.md"), "# Data sources\n");
            var app = Directory.CreateDirectory(Path.Combine(folder, "clone", "apps", "MyApp", "bin")).FullName;
            var elsewhere = Directory.CreateDirectory(Path.Combine(folder, "elsewhere")).FullName;
            Assert.Equal(data, EnergyFs.Data.Paths.locate(null, Starts(elsewhere, app)));
            // A folder named data without SOURCES.md is not taken.
            Directory.CreateDirectory(Path.Combine(app, "data"));
            Assert.Equal(data, EnergyFs.Data.Paths.locate("", Starts(app)));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void LocateSaysWhereItLookedAndHowToFixIt()
    {
        var folder = TemporaryFolder();
        try
        {
            var app = Directory.CreateDirectory(Path.Combine(folder, "MyApp")).FullName;
            var e = Assert.Throws<DirectoryNotFoundException>(() => EnergyFs.Data.Paths.locate(null, Starts(app)));
            Assert.Contains("ENERGYFS_DATA is not set", e.Message);
            Assert.Contains(Path.Combine(app, "data"), e.Message);
            Assert.Contains(Path.Combine(folder, "data"), e.Message);
            Assert.Contains("export ENERGYFS_DATA=", e.Message);
            Assert.Contains("build.sh", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void LocateTakesEnergyFsDataAndNamesItWhenItIsNoFolder()
    {
        var folder = TemporaryFolder();
        try
        {
            Assert.Equal(folder, EnergyFs.Data.Paths.locate(folder, Starts("/")));
            var missing = Path.Combine(folder, "no-such-data");
            var e = Assert.Throws<DirectoryNotFoundException>(() => EnergyFs.Data.Paths.locate(missing, Starts(folder)));
            Assert.Contains($"ENERGYFS_DATA is set to '{missing}'", e.Message);
            Assert.Contains("which is not a folder", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void LoadingAMissingMulanFolderNamesTheFolderAsGiven()
    {
        var given = Path.Combine("no-such-parent", "yeast");
        var e = Assert.Throws<DirectoryNotFoundException>(() => MultilabelDataset.Load(given, "yeast"));
        Assert.Contains($"'{given}'", e.Message);
        Assert.Contains("yeast.xml, yeast-train.arff and yeast-test.arff", e.Message);
        Assert.DoesNotContain("Could not find a part of the path", e.Message);
    }

    [Fact]
    public void LoadingAFolderWithoutTheFilesNamesTheMissingFile()
    {
        var folder = TemporaryFolder();
        try
        {
            File.Copy(Path.Combine(DataPaths.Find("yeast"), "yeast.xml"), Path.Combine(folder, "yeast.xml"));
            var e = Assert.Throws<FileNotFoundException>(() => MultilabelDataset.Load(folder, "yeast"));
            Assert.Equal(Path.Combine(folder, "yeast-train.arff"), e.FileName);
            Assert.Contains("yeast-train.arff not found", e.Message);
            Assert.Contains("it holds: yeast.xml", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void LoadingWithAnEmptyFolderOrNameThrowsArgumentException()
    {
        Assert.Equal("directory", Assert.Throws<ArgumentException>(() => MultilabelDataset.Load(" ", "yeast")).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => MultilabelDataset.Load(DataPaths.Find("yeast"), "")).ParamName);
    }
}
