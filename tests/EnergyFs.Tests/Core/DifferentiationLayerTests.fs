/// Differentiation goes through Core/Differentiation.fs (module Diff) only: a scan of the sources
/// for raw autograd calls, and the semantics of `Diff.gradients` and `Diff.gradOfSum`.
///
/// The scan covers `torch.autograd` and not `.backward(`: backward() accumulates into the .grad
/// fields that the optimizers read (Training/Fit.fs, the training loops of Learners/ and the
/// papers), a stateful protocol of the training layer rather than functional differentiation, and
/// routing it through Diff would change no number while touching every training loop.
module EnergyFs.Tests.Core.DifferentiationLayerTests

open System.IO
open Expecto
open TorchSharp
open EnergyFs

let ctx = Context.cpu64

/// The first parent folder of the test assembly that holds EnergyFs.sln.
let repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "EnergyFs.sln not found above the test assembly"
        elif File.Exists (Path.Combine (dir.FullName, "EnergyFs.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo (Path.GetDirectoryName typeof<Context>.Assembly.Location))

/// The code of a line without its `//` comment (string literals holding `//` are rare enough in
/// these sources; a false hit would only make the scan stricter).
let codeOf (line: string) =
    match line.IndexOf "//" with
    | -1 -> line
    | i -> line.Substring (0, i)

/// "path:line" (relative to the repository, forward slashes) of every F# source line under
/// src/fsharp, outside src/fsharp/EnergyFs/Core/, whose code mentions `pattern`.
let offenders (pattern: string) =
    let srcRoot = Path.Combine (repositoryRoot, "src", "fsharp")
    let core = Path.Combine (srcRoot, "EnergyFs", "Core") + string Path.DirectorySeparatorChar
    [ for file in Directory.EnumerateFiles (srcRoot, "*.fs*", SearchOption.AllDirectories) do
        let isSource = file.EndsWith ".fs" || file.EndsWith ".fsx"
        let generated = file.Contains (string Path.DirectorySeparatorChar + "obj" + string Path.DirectorySeparatorChar)
                        || file.Contains (string Path.DirectorySeparatorChar + "bin" + string Path.DirectorySeparatorChar)
        if isSource && not generated && not (file.StartsWith core) then
            let lines = File.ReadAllLines file
            for i in 0 .. lines.Length - 1 do
                if (codeOf lines[i]).Contains pattern then
                    yield sprintf "%s:%d" (Path.GetRelativePath(repositoryRoot, file).Replace('\\', '/')) (i + 1) ]

[<Tests>]
let tests =
    testList "Core.DifferentiationLayer" [
        test "no source outside Core/ calls torch.autograd (use Diff)" {
            let found = offenders "torch.autograd"
            Expect.isEmpty found (sprintf "raw torch.autograd outside src/fsharp/EnergyFs/Core/ (use Diff.gradients, Diff.gradOfSum, Diff.grad…):\n%s" (String.concat "\n" found))
        }

        test "the scan sees the sources (it finds Diff's own call when Core/ is not excluded)" {
            let diff = File.ReadAllLines (Path.Combine (repositoryRoot, "src", "fsharp", "EnergyFs", "Core", "Differentiation.fs"))
            Expect.isTrue (diff |> Array.exists (fun l -> (codeOf l).Contains "torch.autograd")) "Differentiation.fs calls torch.autograd"
            Expect.isTrue (File.Exists (Path.Combine (repositoryRoot, "src", "fsharp", "EnergyFs", "Energies", "Energy.fs"))) "the sources are where the scan looks"
        }

        test "Diff.gradients: several inputs, zeros for unused ones, a differentiable result with CreateGraph" {
            Scope.run (fun () ->
                let x = (Tensor.ofArray ctx [| 1.0; -2.0; 0.5 |]).requires_grad_ true
                let unused = (Tensor.ofArray ctx [| 3.0; 4.0 |]).requires_grad_ true
                for mode in [ ZerosForUnused; ReachAll ] do
                    let y = Tensor.sum (x * x * x)
                    let gs = Diff.gradients { GradientOptions.defaults with Unused = mode } y [ x; unused ]
                    Expect.equal (Tensor.toArray gs[0]) [| 3.0; 12.0; 0.75 |] (sprintf "%A: 3x²" mode)
                    Expect.equal (Tensor.toArray gs[1]) [| 0.0; 0.0 |] (sprintf "%A: zeros for the unused input" mode)
                let y = Tensor.sum (x * x * x)
                let g = Diff.gradients { CreateGraph = true; RetainGraph = true; Unused = FailOnUnused } y [ x ]
                let h = Diff.gradients GradientOptions.defaults (Tensor.sum g.Head) [ x ]
                Expect.equal (Tensor.toArray h.Head) [| 6.0; -12.0; 3.0 |] "d/dx Σ 3x² = 6x"
                // An output that does not depend on the inputs: zeros, or a clear error.
                let c = Tensor.ofArray ctx [| 1.0 |] |> Tensor.sum
                Expect.equal (Tensor.toArray (Diff.gradients { GradientOptions.defaults with Unused = ZerosForUnused } c [ x ]).Head) [| 0.0; 0.0; 0.0 |] "zeros"
                let e = Expect.throwsT<System.ArgumentException> (fun () -> Diff.gradients { GradientOptions.defaults with Unused = FailOnUnused } c [ x ] |> ignore) "FailOnUnused refuses"
                ())
        }

        test "Diff.gradients with FailOnUnused names the inputs when one is unused" {
            Scope.run (fun () ->
                let x = (Tensor.ofArray ctx [| 1.0; 2.0 |]).requires_grad_ true
                let unused = (Tensor.ofArray ctx [| 3.0 |]).requires_grad_ true
                try
                    Diff.gradients { GradientOptions.defaults with Unused = FailOnUnused } (Tensor.sum (x * x)) [ x; unused ] |> ignore
                    failtest "expected an ArgumentException"
                with :? System.ArgumentException as e -> Expect.equal e.ParamName "inputs" "names the inputs")
        }

        test "Diff.gradOfSum: ∇ of a batched sum at a fresh leaf, under no_grad too, detached" {
            Scope.run (fun () ->
                let p = Tensor.ofRows ctx [| [| 0.2; 0.7 |]; [| -1.0; 3.0 |] |]
                let f (t: Tensor) = Tensor.sumDim 1 (t * t) * 0.5
                let g = Diff.noGrad (fun () -> Diff.gradOfSum f p)
                Expect.equal (Tensor.toArray g) (Tensor.toArray p) "∇ Σ ½‖pᵢ‖² = p"
                Expect.isFalse g.requires_grad "detached"
                Expect.isFalse p.requires_grad "the point is not modified"
                let z = Diff.gradOfSum (fun t -> Tensor.sumDim 1 (t.detach ())) p
                Expect.equal (Tensor.toArray z) [| 0.0; 0.0; 0.0; 0.0 |] "zeros when f does not depend on p")
        }
    ]
