module EnergyFs.Tests.Core.ScopesTests

open Expecto
open TorchSharp
open EnergyFs

let ctx = Context.cpu

[<Tests>]
let tests =
    testSequenced <| testList "Core.Scopes" [
        testCase "a scope frees intermediates and keeps the result" <| fun () ->
            use x = Tensor.ones ctx [ 3L ]
            let before = NativeMemory.liveTensors ()
            use y = Scope.tensor (fun () -> Tensor.sum (x * 2.0 + 1.0))
            Expect.equal (NativeMemory.liveTensors ()) (before + 1L) "only the result survives"
            Expect.equal (Tensor.toScalar y) 9.0 "value"
            Expect.isFalse x.IsInvalid "the input is not disposed"

        testCase "a scope that returns its input does not dispose it" <| fun () ->
            use x = Tensor.ones ctx [ 2L ]
            let y = Scope.tensor (fun () -> x)
            Expect.isFalse y.IsInvalid "input still alive"

        testCase "Scope.run frees everything" <| fun () ->
            use x = Tensor.ones ctx [ 3L ]
            let before = NativeMemory.liveTensors ()
            let v = Scope.run (fun () -> Tensor.toScalar (Tensor.sum (x * x)))
            Expect.equal v 3.0 "value"
            Expect.equal (NativeMemory.liveTensors ()) before "no tensor survives"

        testCase "100,000 small training steps hold tensor count and memory flat" <| fun () ->
            // A tiny linear model trained by hand: every step runs in a dispose scope and updates
            // the parameters in place; only the parameters survive.
            use rng = new Rng(7L, ctx.Device)
            use w = (Tensor.randn rng ctx [ 4L; 1L ]).requires_grad_ true
            use xs = Tensor.randn rng ctx [ 16L; 4L ]
            use ys = Tensor.randn rng ctx [ 16L; 1L ]
            let step () =
                Scope.run (fun () ->
                    let loss = Tensor.mean (Tensor.square (Tensor.matmul xs w - ys))
                    let g = Diff.gradParams false loss [ w ]
                    use _ = torch.no_grad ()
                    w.sub_ (g.Head * 0.01) |> ignore
                    Tensor.toScalar loss)
            for _ in 1 .. 2_000 do step () |> ignore // warm up allocator and JIT
            System.GC.Collect(); System.GC.WaitForPendingFinalizers()
            let tensors0 = NativeMemory.liveTensors ()
            let rss0 = NativeMemory.residentBytes ()
            let mutable last = 0.0
            for _ in 1 .. 100_000 do last <- step ()
            System.GC.Collect(); System.GC.WaitForPendingFinalizers()
            let tensors1 = NativeMemory.liveTensors ()
            let rss1 = NativeMemory.residentBytes ()
            Expect.equal tensors1 tensors0 "live tensor count unchanged after 100,000 steps"
            // Native memory must stay flat; the managed heap may commit up to its gen-0 budget between the two
            // reads (64 MB under build.sh's DOTNET_GCgen0size), which is not a leak.
            let gen0 =
                match System.Environment.GetEnvironmentVariable "DOTNET_GCgen0size" with
                | null | "" -> 0.0
                | hex -> float (System.Convert.ToInt64(hex.Replace("0x", ""), 16))
            let limit = 32.0 * 1024.0 * 1024.0 + gen0
            Expect.isLessThan (float (rss1 - rss0)) limit (sprintf "resident memory grew by %d bytes (limit %.0f: 32 MB plus the gen-0 budget)" (rss1 - rss0) limit)
            Expect.isTrue (System.Double.IsFinite last) "training stayed finite"
    ]
