using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class AutodiffTests
{
    [Fact]
    public void GradOfSquaredNormIsTwiceX()
    {
        using var x = torch.tensor(new[] { 1.0, -2.0, 3.0 });
        using var g = Autodiff.Grad(t => t.square().sum(), x);
        Assert.Equal(new[] { 2.0, -4.0, 6.0 }, g.data<double>().ToArray());
        Assert.False(x.requires_grad);
    }

    [Fact]
    public void ValueAndGradReturnsBoth()
    {
        using var x = torch.tensor(new[] { 0.0, 1.0 });
        var (value, gradient) = Autodiff.ValueAndGrad(t => t.exp().sum(), x);
        using (value)
        using (gradient)
        {
            Assert.Equal(1.0 + Math.E, value.ToDouble(), 12);
            Assert.Equal(Math.E, gradient.data<double>()[1], 12);
        }
    }

    [Fact]
    public void HvpMatchesHessianTimesVector()
    {
        using var x = torch.tensor(new[] { 0.5, -0.3, 1.2 });
        using var v = torch.tensor(new[] { 1.0, 2.0, -1.0 });
        Func<torch.Tensor, torch.Tensor> f = t => t.pow(4).sum() + (t[0] * t[1]);
        using var hv = Autodiff.Hvp(f, x, v);
        using var h = Autodiff.Hessian(f, x);
        using var expected = h.matmul(v);
        Assert.True(hv.allclose(expected, 1e-10, 1e-12));
        // Closed form: H = diag(12 x²) + the x0·x1 coupling.
        Assert.Equal(12 * 0.25 * 1.0 + 2.0, hv[0].ToDouble(), 10);
    }

    [Fact]
    public void VjpAndJvpAgreeWithJacobian()
    {
        using var a = torch.tensor(new[,] { { 1.0, 2.0 }, { -1.0, 0.5 }, { 0.3, 0.0 } });
        using var x = torch.tensor(new[] { 0.2, -0.7 });
        using var u = torch.tensor(new[] { 1.0, -1.0, 2.0 });
        using var v = torch.tensor(new[] { 0.5, 1.5 });
        Func<torch.Tensor, torch.Tensor> f = t => a.matmul(t).tanh();
        using var j = Autodiff.Jacobian(f, x);
        Assert.Equal(new long[] { 3, 2 }, j.shape);
        var (fx1, ju) = Autodiff.Vjp(f, x, u);
        var (fx2, jv) = Autodiff.Jvp(f, x, v);
        using (fx1) using (ju) using (fx2) using (jv)
        {
            Assert.True(ju.allclose(j.t().matmul(u), 1e-10, 1e-12));
            Assert.True(jv.allclose(j.matmul(v), 1e-10, 1e-12));
            Assert.True(fx1.allclose(fx2));
        }
    }

    [Fact]
    public void NestedCallsGiveThirdDerivatives()
    {
        // d/dx (d²/dx² x⁴) = 24 x.
        using var x = torch.tensor(new[] { 0.7 });
        using var d3 = Autodiff.Grad(t => Autodiff.Grad(s => Autodiff.Grad(r => r.pow(4).sum(), s).sum(), t).sum(), x);
        Assert.Equal(24 * 0.7, d3.ToDouble(), 9);
    }

    [Fact]
    public void GradOfVectorFunctionIsRejectedWithShape()
    {
        using var x = torch.tensor(new[] { 1.0, 2.0 });
        var ex = Assert.Throws<ArgumentException>(() => Autodiff.Grad(t => t * 2, x));
        Assert.Contains("shape [2]", ex.Message);
    }

    [Fact]
    public void NullArgumentsAreNamed()
    {
        using var x = torch.tensor(new[] { 1.0 });
        Assert.Equal("f", Assert.Throws<ArgumentNullException>(() => Autodiff.Grad(null!, x)).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => Autodiff.Hessian(t => t.sum(), null!)).ParamName);
    }

    [Fact]
    public void HvpWithAMisshapenDirectionIsRejected()
    {
        using var x = torch.tensor(new[] { 1.0, 2.0 });
        using var v = torch.tensor(new[] { 1.0, 2.0, 3.0 });
        var ex = Assert.ThrowsAny<ArgumentException>(() => Autodiff.Hvp(t => t.square().sum(), x, v));
        Assert.Contains("[3]", ex.Message);
    }

    [Fact]
    public void IntermediatesAreFreed() =>
        Native.AssertFreesEverything(() =>
        {
            using var x = torch.tensor(new[] { 0.5, -0.3 });
            using var v = torch.tensor(new[] { 1.0, 2.0 });
            for (var i = 0; i < 5; i++)
            {
                using var hv = Autodiff.Hvp(t => t.pow(3).sum(), x, v);
                using var g = Autodiff.Grad(t => t.exp().sum(), x);
            }
        });
}
