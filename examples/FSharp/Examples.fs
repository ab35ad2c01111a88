/// The F# examples of README.md. Each region between `// readme:begin NAME` and `// readme:end`
/// appears verbatim in the README (a test checks it), and each example function is run by a test.
module EnergyFs.Examples.FSharp.Examples

open EnergyFs
open EnergyFs.Training

/// Gradients, Hessian-vector products and a finite-difference check.
let differentiation () =
    // readme:begin fsharp-diff
    let ctx = Context.cpu64
    let f (x: Tensor) = Tensor.sum (Tensor.softplus x) + 0.5 * Tensor.sum (Tensor.pow 4.0 x)
    use x = Tensor.ofArray ctx [| 0.5; -1.0; 2.0 |]
    use v = Tensor.ofArray ctx [| 1.0; 0.0; 0.0 |]
    let value, g = Diff.valueAndGrad f x          // f(x), ∇f(x)
    let hv = Diff.hvp f x v                        // ∇²f(x) v by double backward
    let check = GradCheck.grad GradCheck.defaults f x
    printfn "f = %.4f, ∇f = %A, Hv = %A, matches finite differences: %b"
        (Tensor.toScalar value) (Tensor.toArray g) (Tensor.toArray hv) check.Passed
    // readme:end
    check.Passed

/// A small model trained with the shared fit loop.
let training () =
    // readme:begin fsharp-fit
    let ctx = Context.cpu
    use rng = new Rng(42L, ctx.Device)
    let x = Tensor.randn rng ctx [ 256L; 3L ]
    let y = Tensor.sumDimKeep 1 (TorchSharp.torch.sin x)
    let model = TorchSharp.torch.nn.Sequential(TorchSharp.torch.nn.Linear(3L, 32L), TorchSharp.torch.nn.Tanh(), TorchSharp.torch.nn.Linear(32L, 1L))
    Init.reinitialize rng model
    let task =
        { Model = model
          Batches = fun rng _ -> Batches.shuffled rng ctx.Device 32 256L
          BatchesPerEpoch = Batches.count 32 256L
          Loss = fun idx -> Tensor.mean (Tensor.square (model.forward (Tensor.selectRows idx x) - Tensor.selectRows idx y))
          Validate = None }
    let result = Fit.run { FitOptions.defaults with Epochs = 20; Optimizer = OptimizerOptions.adam 1e-2 } task
    printfn "train_loss after %d epochs: %.4f" result.History.Epochs (result.History.Last "train_loss")
    // readme:end
    result.History.Last "train_loss"
