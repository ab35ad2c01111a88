using System.IO;
using TorchSharp;
using static TorchSharp.torch.nn;

namespace EnergyFs.CSharp.Tests;

public class ConditionalEnergyModuleTests
{
    public ConditionalEnergyModuleTests() => RuntimeInfo.Threads = 1;

    /// <summary>f(x, y) = MLP([x; y]): a simple network on the concatenation, evaluated for every candidate.</summary>
    private sealed class ConcatEnergy : ConditionalEnergyModule
    {
        private readonly Module<torch.Tensor, torch.Tensor> net;

        public ConcatEnergy(int xDim, int yDim, int hidden) : base("ConcatEnergy")
        {
            net = Sequential(Linear(xDim + yDim, hidden), ReLU(), Linear(hidden, hidden), ReLU(), Linear(hidden, 1));
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x, torch.Tensor y)
        {
            var xs = x.unsqueeze(1).expand(x.shape[0], y.shape[1], x.shape[1]);
            return net.forward(torch.cat(new[] { xs, y }, 2)).squeeze(-1);
        }
    }

    /// <summary>The built-in network's form written in C#: feature towers F(x), G(y) and a head g(W_h h + W_e e).</summary>
    private sealed class TwoTowerEnergy : ConditionalEnergyModule
    {
        private readonly Module<torch.Tensor, torch.Tensor> xNet, yNet, headX, headY, headOut;

        public TwoTowerEnergy(int xDim, int yDim, int hidden) : base("TwoTowerEnergy")
        {
            xNet = Sequential(Linear(xDim, hidden), ReLU(), Linear(hidden, hidden), ReLU());
            yNet = Sequential(Linear(yDim, hidden), ReLU(), Linear(hidden, hidden), ReLU());
            headX = Linear(hidden, hidden);
            headY = Linear(hidden, hidden, hasBias: false);
            headOut = Sequential(Linear(hidden, hidden), ReLU(), Linear(hidden, 1));
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x, torch.Tensor y)
        {
            var z = torch.nn.functional.relu(headX.forward(xNet.forward(x)).unsqueeze(1) + headY.forward(yNet.forward(y)));
            return headOut.forward(z).squeeze(-1);
        }
    }

    private sealed class WrongShape() : ConditionalEnergyModule("WrongShape")
    {
        public override torch.Tensor forward(torch.Tensor x, torch.Tensor y) => y.sum();
    }

    /// <summary>y = ±x + 0.1 ε with probability ½ each, x ~ U(0, 2): two modes per x.</summary>
    private static (torch.Tensor X, torch.Tensor Y) Bimodal(long seed, int n = 300)
    {
        using var rng = new RandomGenerator(seed);
        using var u = rng.Uniform(DeviceContext.Cpu, n, 1);
        using var s = rng.Uniform(DeviceContext.Cpu, n, 1);
        using var e = rng.Normal(DeviceContext.Cpu, n, 1);
        var x = u * 2.0;
        using var sign = (s < 0.5).to_type(torch.float32) * 2.0 - 1.0;
        return (x, sign * x + e * 0.1);
    }

    private static readonly EnergyRegressorOptions Toy = new() { Samples = 64, Epochs = 8, Hidden = 16, LearningRate = 3e-3 };

    [Fact]
    public void ACustomEnergyTrainsOnABimodalToyLikeTheBuiltInOne()
    {
        using var _ = torch.NewDisposeScope();
        var (x, y) = Bimodal(1);
        var (xt, yt) = Bimodal(2);
        using var builtin = new EnergyRegressor(Toy).Fit(x, y);
        using var custom = new EnergyRegressor(Toy with { Energy = (dx, dy) => new TwoTowerEnergy(dx, dy, 16) }).Fit(x, y);
        var nllBuiltin = builtin.NllQuadrature(xt, yt, -4, 4, 801);
        var nllCustom = custom.NllQuadrature(xt, yt, -4, 4, 801);
        Assert.True(Math.Abs(nllCustom - nllBuiltin) < 0.25, $"custom NLL {nllCustom} vs built-in {nllBuiltin}");
        // Both modes at x = 1.5: f(±1.5) well above f(0).
        var f = custom.Score(torch.tensor(new[,] { { 1.5f } }), torch.tensor(new[] { -1.5f, 0f, 1.5f }).reshape(1, 3, 1)).data<float>().ToArray();
        Assert.True(f[0] - f[1] > 0.8 && f[2] - f[1] > 0.8, $"f at y = −1.5, 0, 1.5: {string.Join(", ", f)}");
        // The Joint method's proposal is a stand-alone MDN on x.
        using var q = custom.Proposal(xt);
        Assert.Equal(Toy.Components, q!.Components);
        Assert.True(custom.Evaluate(xt, yt).Nll < nllBuiltin + 0.3);
    }

    [Fact]
    public void ACustomModelSavesAndLoadsWithItsFactoryOnly()
    {
        var (x, y) = Bimodal(3, 48);
        using var _x = x;
        using var _y = y;
        using var files = new ModelFileFaults();
        Func<int, int, ConditionalEnergyModule> factory = (dx, dy) => new ConcatEnergy(dx, dy, 8);
        using var model = new EnergyRegressor(Toy with { Epochs = 1, Samples = 8, Method = RegressionMethod.Teacher, Energy = factory }).Fit(x, y);
        var path = files.PathOf("custom.model");
        model.Save(path);
        var missing = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(path));
        Assert.Contains("custom energy 'ConcatEnergy'", missing.Message);
        Assert.Contains(path, missing.Message);
        var other = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(path, energy: (dx, dy) => new WrongShape()));
        Assert.Contains("'ConcatEnergy'", other.Message);
        var wider = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(path, energy: (dx, dy) => new ConcatEnergy(dx, dy, 9)));
        Assert.Contains("shape", wider.Message);
        using var loaded = EnergyRegressionModel.Load(path, energy: factory);
        Assert.Same(factory, loaded.Options.Energy);
        using var a = model.PredictMean(x);
        using var b = loaded.PredictMean(x);
        Assert.True(a.allclose(b, 0, 0), "mean predictions differ after the round trip");
    }

    [Fact]
    public void AnEnergyOfTheWrongShapeOrANullFactoryResultIsNamed()
    {
        var (x, y) = Bimodal(4, 32);
        using var _x = x;
        using var _y = y;
        var shape = Assert.Throws<InvalidOperationException>(() => new EnergyRegressor(Toy with { Epochs = 1, Samples = 8, Energy = (dx, dy) => new WrongShape() }).Fit(x, y));
        Assert.Contains("'WrongShape' must return f of shape", shape.Message);
        var none = Assert.Throws<InvalidOperationException>(() => new EnergyRegressor(Toy with { Epochs = 1, Samples = 8, Energy = (dx, dy) => null! }).Fit(x, y));
        Assert.Contains("returned null", none.Message);
    }
}
