using Microsoft.FSharp.Core;
using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>A trainable conditional energy f_θ(x, y) of your own for <see cref="EnergyRegressor"/>: a TorchSharp module
/// whose <c>forward(x, y)</c> takes inputs x [B, Dx] and candidate targets y [B, M, D] and returns the unnormalized
/// log-density f(xᵢ, y_im) as [B, M], so that p(y | x) = exp f(x, y) / Z(x) (Gustafsson, Danelljan &amp; Schön,
/// "Learning Proposals for Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948, eq. 1). Give a factory
/// (Dx, D) ↦ module to <see cref="EnergyRegressorOptions.Energy"/>: the regressor trains θ by NCE with its proposal,
/// and with <see cref="RegressionMethod.Joint"/> the proposal is a stand-alone mixture density network on x trained
/// jointly. Register your layers as fields and call <c>RegisterComponents()</c> in your constructor, as for any
/// TorchSharp module; keep every tensor the module holds a parameter or a buffer (the regressor re-draws the
/// parameters of its Linear and other standard layers from its seed, moves them to its device and saves them).
/// The module's name (the constructor's <c>name</c>) is recorded in saved models and checked when loading.</summary>
public abstract class ConditionalEnergyModule : torch.nn.Module<torch.Tensor, torch.Tensor, torch.Tensor>
{
    /// <summary>A module named <paramref name="name"/>.</summary>
    /// <param name="name">The module's name (recorded in saved models; Load checks it).</param>
    protected ConditionalEnergyModule(string name) : base(NotNull(name)) { }

    /// <summary>The library's energy factory of a C# factory; checks what the C# code returns.</summary>
    internal static FSharpFunc<int, FSharpFunc<int, Tuple<torch.nn.Module, FSharpFunc<torch.Tensor, FSharpFunc<torch.Tensor, torch.Tensor>>>>>
        ToFSharp(Func<int, int, ConditionalEnergyModule> factory)
    {
        NotNull(factory);
        return FuncConvert.FromFunc<int, int, Tuple<torch.nn.Module, FSharpFunc<torch.Tensor, FSharpFunc<torch.Tensor, torch.Tensor>>>>((xDim, yDim) =>
        {
            var module = factory(xDim, yDim) ?? throw new InvalidOperationException($"the Energy factory returned null for xDim {xDim}, yDim {yDim}");
            var forward = FuncConvert.FromFunc<torch.Tensor, torch.Tensor, torch.Tensor>((x, y) =>
                module.forward(x, y) ?? throw new InvalidOperationException($"the conditional energy '{module.GetName()}' returned null from forward"));
            return Tuple.Create<torch.nn.Module, FSharpFunc<torch.Tensor, FSharpFunc<torch.Tensor, torch.Tensor>>>(module, forward);
        });
    }
}
