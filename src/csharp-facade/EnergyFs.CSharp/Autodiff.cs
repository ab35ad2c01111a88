using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Functional differentiation (gradients, vector-Jacobian, Jacobian-vector and Hessian-vector products)
/// over TorchSharp's autograd, in the style of JAX's <c>grad</c>/<c>vjp</c>/<c>jvp</c>. The point x is never modified
/// and never gets <c>requires_grad</c>; every returned tensor is new and owned (disposed) by the caller. Calls nest:
/// the function may itself call these functions (higher-order derivatives).</summary>
public static class Autodiff
{
    /// <summary>∇f(x) for a scalar-valued <paramref name="f"/>; the result has the shape of x. A non-scalar f(x)
    /// throws ArgumentException naming its shape.</summary>
    /// <param name="f">A function returning a scalar tensor (for example a loss).</param>
    /// <param name="x">The point.</param>
    public static torch.Tensor Grad(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x) =>
        Scoped(() => EnergyFs.Diff.grad(Fn(NotNull(f)), NotNull(x)));

    /// <summary>(f(x), ∇f(x)) for a scalar-valued <paramref name="f"/>, from one forward and one backward pass.</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="x">The point.</param>
    public static (torch.Tensor Value, torch.Tensor Gradient) ValueAndGrad(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x) =>
        Scoped2(() => EnergyFs.Diff.valueAndGrad(Fn(NotNull(f)), NotNull(x)).ToValueTuple());

    /// <summary>(f(x), vᵀ J_f(x)): the vector-Jacobian product (reverse mode); the product has the shape of x.</summary>
    /// <param name="f">Any tensor-valued function.</param>
    /// <param name="x">The point.</param>
    /// <param name="v">The cotangent, with the shape of f(x).</param>
    public static (torch.Tensor Value, torch.Tensor Product) Vjp(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x, torch.Tensor v) =>
        Scoped2(() => EnergyFs.Diff.vjp(Fn(NotNull(f)), NotNull(x), NotNull(v)).ToValueTuple());

    /// <summary>(f(x), J_f(x) v): the Jacobian-vector product (forward mode, by the double-vjp trick); the product has
    /// the shape of f(x).</summary>
    /// <param name="f">Any tensor-valued function.</param>
    /// <param name="x">The point.</param>
    /// <param name="v">The tangent, with the shape of x.</param>
    public static (torch.Tensor Value, torch.Tensor Product) Jvp(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x, torch.Tensor v) =>
        Scoped2(() => EnergyFs.Diff.jvp(Fn(NotNull(f)), NotNull(x), NotNull(v)).ToValueTuple());

    /// <summary>∇²f(x) v, the Hessian-vector product of a scalar-valued <paramref name="f"/> by double backward
    /// (Pearlmutter 1994), without forming the Hessian.</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="x">The point.</param>
    /// <param name="v">The direction, with the shape of x.</param>
    public static torch.Tensor Hvp(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x, torch.Tensor v) =>
        Scoped(() => EnergyFs.Diff.hvp(Fn(NotNull(f)), NotNull(x), NotNull(v)));

    /// <summary>The full Jacobian ∂f(x)/∂x of shape f(x).shape ++ x.shape, one vjp per output entry (small problems).</summary>
    /// <param name="f">Any tensor-valued function.</param>
    /// <param name="x">The point.</param>
    public static torch.Tensor Jacobian(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x) =>
        Scoped(() => EnergyFs.Diff.jacobian(Fn(NotNull(f)), NotNull(x)));

    /// <summary>The full Hessian ∇²f(x) of a scalar-valued function, of shape x.shape ++ x.shape (small problems).</summary>
    /// <param name="f">A function returning a scalar tensor.</param>
    /// <param name="x">The point.</param>
    public static torch.Tensor Hessian(Func<torch.Tensor, torch.Tensor> f, torch.Tensor x) =>
        Scoped(() => EnergyFs.Diff.hessian(Fn(NotNull(f)), NotNull(x)));
}
