module EnergyFs.Tests.Core.DifferentiationTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Tests.Generators

let ctx = Context.cpu64
let tol = { GradCheck.defaults with RelativeTolerance = 1e-5; AbsoluteTolerance = 1e-7 }

/// A random smooth scalar function of a tensor of any shape, drawn from the seed: a sum of smooth
/// nonlinearities of affine maps plus a quadratic coupling of all coordinates, so the Hessian is
/// dense and the functions vary from case to case.
let randomFunction (seed: int64) (shape: int64 list) : Tensor -> Tensor =
    use rng = new Rng(seed, ctx.Device)
    let n = shape |> List.fold (*) 1L
    let a = Tensor.randn rng ctx shape
    let b = Tensor.randn rng ctx shape
    let m = Tensor.randn rng ctx [ n; n ] * (1.0 / float n)
    let pick = int (seed % 4L)
    fun (x: Tensor) ->
        let z = x * a + b
        let nonlinear =
            match pick with
            | 0 -> torch.sin z
            | 1 -> torch.tanh z
            | 2 -> Tensor.softplus z
            | _ -> torch.exp (-(Tensor.square z) * 0.5)
        let flat = x.reshape -1L
        let coupling = Tensor.dot flat (Tensor.matmul m flat)
        Tensor.sum nonlinear + coupling * 0.5 + Tensor.sum (Tensor.pow 3.0 x) * 0.1

[<Tests>]
let tests =
    testList "Core.Differentiation" [
        testList "grad" [
            testCase "of a quadratic is linear" <| fun () ->
                use x = Tensor.ofArray ctx [| 1.0; -2.0; 3.0 |]
                use g = Diff.grad (fun x -> Tensor.sum (Tensor.square x)) x
                Expect.equal (Tensor.toArray g) [| 2.0; -4.0; 6.0 |] "∇‖x‖² = 2x"

            testCase "does not modify the point" <| fun () ->
                use x = Tensor.ofArray ctx [| 1.0; 2.0 |]
                Diff.grad (fun x -> Tensor.sum (Tensor.exp x)) x |> ignore
                Expect.isFalse x.requires_grad "x still does not require grad"
                Expect.isNull x.grad "x has no .grad"

            testCase "of a function that ignores x is zero" <| fun () ->
                use x = Tensor.ofArray ctx [| 1.0; 2.0 |]
                use g = Diff.grad (fun _ -> Tensor.scalar ctx 3.0) x
                Expect.equal (Tensor.toArray g) [| 0.0; 0.0 |] "zero gradient"

            testCase "works under torch.no_grad" <| fun () ->
                use x = Tensor.ofArray ctx [| 1.0; -2.0 |]
                use g = Diff.noGrad (fun () -> Diff.grad (fun x -> Tensor.sum (Tensor.pow 3.0 x)) x)
                Expect.equal (Tensor.toArray g) [| 3.0; 12.0 |] "3x², not zeros"

            testCase "of a vector-valued function is refused with its shape" <| fun () ->
                use x = Tensor.ofArray ctx [| 1.0; 2.0 |]
                let ex = Expect.throwsC (fun () -> Diff.grad (fun x -> x * 2.0) x |> ignore) id
                Expect.stringContains ex.Message "shape [2]" "message names the output shape"

            property "matches finite differences on random functions and shapes" <| fun (SmallShape shape) (Seed s) ->
                let f = randomFunction s shape
                use rng = new Rng(s + 1L, ctx.Device)
                use x = Tensor.randn rng ctx shape
                GradCheck.grad tol f x |> GradCheck.assertPassed "grad"

            testCase "nests: the gradient of ⟨∇f, v⟩ is the Hessian-vector product" <| fun () ->
                let f = randomFunction 11L [ 5L ]
                use rng = new Rng(12L, ctx.Device)
                use x = Tensor.randn rng ctx [ 5L ]
                use v = Tensor.randn rng ctx [ 5L ]
                use nested = Diff.grad (fun y -> Tensor.sum (Diff.grad f y * v)) x
                use direct = Diff.hvp f x v
                Expect.isLessThan (Tensor.maxAbsDiff nested direct) 1e-10 "nested grad = hvp"
        ]
        testList "hvp" [
            property "matches finite differences of the gradient" <| fun (SmallShape shape) (Seed s) ->
                let f = randomFunction s shape
                use rng = new Rng(s + 2L, ctx.Device)
                use x = Tensor.randn rng ctx shape
                use v = Tensor.randn rng ctx shape
                GradCheck.hvp { tol with Epsilon = 1e-5 } f x v |> GradCheck.assertPassed "hvp"

            testCase "equals the Hessian times v, and the Hessian is symmetric" <| fun () ->
                let f = randomFunction 5L [ 4L ]
                use rng = new Rng(6L, ctx.Device)
                use x = Tensor.randn rng ctx [ 4L ]
                use v = Tensor.randn rng ctx [ 4L ]
                use h = Diff.hessian f x
                use hv = Diff.hvp f x v
                Expect.isLessThan (Tensor.maxAbsDiff (Tensor.matmul h v) hv) 1e-10 "H v"
                Expect.isLessThan (Tensor.maxAbsDiff h (h.t ())) 1e-10 "symmetric"

            testCase "rejects a direction of another shape" <| fun () ->
                use x = Tensor.zeros ctx [ 3L ]
                use v = Tensor.zeros ctx [ 2L ]
                let ex = Expect.throwsC (fun () -> Diff.hvp (fun x -> Tensor.sum x) x v |> ignore) id
                Expect.stringContains ex.Message "[2]" "names the bad shape"
        ]
        testList "vjp and jvp" [
            property "vjp and jvp agree with the Jacobian" <| fun (Seed s) ->
                use rng = new Rng(s, ctx.Device)
                use a = Tensor.randn rng ctx [ 3L; 4L ]
                let f (x: Tensor) = torch.tanh (Tensor.matmul a x) * Tensor.sum x
                use x = Tensor.randn rng ctx [ 4L ]
                use u = Tensor.randn rng ctx [ 3L ]
                use v = Tensor.randn rng ctx [ 4L ]
                use j = Diff.jacobian f x
                let _, ju = Diff.vjp f x u
                let _, jv = Diff.jvp f x v
                Expect.isLessThan (Tensor.maxAbsDiff ju (Tensor.matmul (j.t ()) u)) 1e-10 "vjp = Jᵀu"
                Expect.isLessThan (Tensor.maxAbsDiff jv (Tensor.matmul j v)) 1e-10 "jvp = J v"

            property "jvp matches finite differences" <| fun (SmallShape shape) (Seed s) ->
                use rng = new Rng(s, ctx.Device)
                use w = Tensor.randn rng ctx shape
                let f (x: Tensor) = torch.sin (x * w) + Tensor.square x
                use x = Tensor.randn rng ctx shape
                use v = Tensor.randn rng ctx shape
                GradCheck.jvp tol f x v |> GradCheck.assertPassed "jvp"
        ]
        testList "parameter lists" [
            testCase "gradN and hvpN agree with the flattened single-tensor versions" <| fun () ->
                use rng = new Rng(21L, ctx.Device)
                use a = Tensor.randn rng ctx [ 2L; 3L ]
                use b = Tensor.randn rng ctx [ 3L ]
                let f (ps: Tensor list) = Tensor.sum (torch.tanh (Tensor.matmul ps[0] ps[1])) + Tensor.sum (Tensor.pow 4.0 ps[1])
                let flat (x: Tensor) = f [ x.narrow(0L, 0L, 6L).reshape(2L, 3L); x.narrow (0L, 6L, 3L) ]
                use x = torch.cat (ResizeArray [ a.reshape -1L; b ], 0L)
                let gs = Diff.gradN f [ a; b ]
                use g = Diff.grad flat x
                use gcat = torch.cat (ResizeArray [ gs[0].reshape -1L; gs[1] ], 0L)
                Expect.isLessThan (Tensor.maxAbsDiff g gcat) 1e-12 "gradN"
                use va = Tensor.randn rng ctx [ 2L; 3L ]
                use vb = Tensor.randn rng ctx [ 3L ]
                let hs = Diff.hvpN f [ a; b ] [ va; vb ]
                use v = torch.cat (ResizeArray [ va.reshape -1L; vb ], 0L)
                use h = Diff.hvp flat x v
                use hcat = torch.cat (ResizeArray [ hs[0].reshape -1L; hs[1] ], 0L)
                Expect.isLessThan (Tensor.maxAbsDiff h hcat) 1e-12 "hvpN"

            testCase "gradients of an output with several elements fail naming the output, for every treatment of unused inputs" <| fun () ->
                for unused in [ FailOnUnused; ZerosForUnused; ReachAll ] do
                    use x = (Tensor.ones ctx [ 3L ]).requires_grad_ true
                    use y = x * 2.0
                    let e = Expect.throwsC (fun () -> Diff.gradients { GradientOptions.defaults with Unused = unused } y [ x ] |> ignore) id
                    Expect.equal (e :?> System.ArgumentException).ParamName "output" (sprintf "%A: names the output" unused)
                    Expect.stringContains e.Message "[3]" (sprintf "%A: gives its shape" unused)

            testCase "an unused input gets a zero gradient" <| fun () ->
                use a = Tensor.ofArray ctx [| 1.0; 2.0 |]
                use b = Tensor.ofArray ctx [| 3.0 |]
                let gs = Diff.gradN (fun ps -> Tensor.sum (Tensor.square ps[0])) [ a; b ]
                Expect.equal (Tensor.toArray gs[1]) [| 0.0 |] "zeros for the unused input"
                use w = (Tensor.ones ctx [ 2L ]).requires_grad_ true
                use unused = (Tensor.ones ctx [ 3L ]).requires_grad_ true
                let g = Diff.gradParams false (Tensor.sum (w * 2.0)) [ w; unused ]
                Expect.equal (Tensor.toArray g[1]) [| 0.0; 0.0; 0.0 |] "zeros from gradParams"
                let before = NativeMemory.liveTensors ()
                Scope.run (fun () -> Diff.gradN (fun ps -> Tensor.sum (Tensor.square ps[0])) [ a; b ] |> ignore)
                Expect.equal (NativeMemory.liveTensors ()) before "no stray tensor handles for the unused input"

            testCase "hvpParams can be applied repeatedly to the same gradient graph" <| fun () ->
                use rng = new Rng(8L, ctx.Device)
                use w = (Tensor.randn rng ctx [ 3L ]).requires_grad_ true
                let loss = Tensor.sum (Tensor.pow 4.0 w)
                let gs = Diff.gradParams true loss [ w ]
                use v = Tensor.ones ctx [ 3L ]
                let h1 = Diff.hvpParams gs [ w ] [ v ]
                let h2 = Diff.hvpParams gs [ w ] [ v ]
                use expected = Tensor.square (w.detach ()) * 12.0
                Expect.isLessThan (Tensor.maxAbsDiff h1.Head expected) 1e-12 "first H v = 12 w²"
                Expect.isLessThan (Tensor.maxAbsDiff h2.Head expected) 1e-12 "second H v"
        ]
    ]
