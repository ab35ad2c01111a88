using System.Runtime.CompilerServices;
using TorchSharp;

namespace EnergyFs.CSharp.Tests;

/// <summary>Marks a test class as the one exercising the given public facade types (besides the type its name says:
/// <c>FooTests</c> covers <c>Foo</c>). <see cref="FacadeRulesTests"/> requires every public type to be covered.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class CoversAttribute(params Type[] types) : Attribute
{
    public Type[] Types { get; } = types;
}

/// <summary>Native-memory accounting for the tests: TorchSharp's count of live tensors created on this thread.</summary>
public static class Native
{
    public static long LiveTensors => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

    /// <summary>Runs <paramref name="body"/> and asserts that every tensor it created was freed again (the body disposes
    /// what it owns: the facade objects and the tensors they returned).</summary>
    public static void AssertFreesEverything(Action body, [CallerMemberName] string? caller = null)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = LiveTensors;
        body();
        var after = LiveTensors;
        Assert.True(after == before, $"{caller}: {after - before} tensor(s) still alive after disposal");
    }
}
