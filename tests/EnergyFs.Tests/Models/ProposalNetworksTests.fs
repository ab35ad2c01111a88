module EnergyFs.Tests.Models.ProposalNetworksTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Models
open EnergyFs.Learners
open EnergyFs.Training
open EnergyFs.Tests.Expectations

let private ctx = Context.cpu64

/// The parameter count of the authors' toy network (github fregu856/ebms_proposals,
/// 1dregression_1/ebmdn_model_K4.py) at width h with k components, layer by layer as they list them:
/// feature net fc1_x (1→h), fc2_x (h→h); noise net fc1/fc2 for means, log σ² and weights (h→h→k each);
/// predictor net fc1_y (1→h), fc2_y (h→h), fc1_xy (2h→h), fc2_xy (h→h), fc3_xy (h→1).
let private authorsCount (h: int) (k: int) =
    let linear a b = a * b + b
    let feature = linear 1 h + linear h h
    let noise = 3 * (linear h h + linear h k)
    let predictor = linear 1 h + linear h h + linear (2 * h) h + linear h h + linear h 1
    feature + noise + predictor

let private count (m: torch.nn.Module) = m.parameters () |> Seq.sumBy (fun p -> int p.NumberOfElements)

let private model (architecture: RegressionArchitecture) (method: RegressionMethod) (hidden: int) (seed: int64) =
    use rng = new Rng(seed, ctx.Device)
    Regression.create ctx rng { RegressionOptions.defaults with Method = method; Hidden = hidden; Architecture = architecture } 1 1

let private closeArrays (got: float[]) (expected: float[]) (what: string) =
    Expect.equal got.Length expected.Length (what + ": length")
    Array.iter2 (fun g e -> Expect.floatClose { absolute = 1e-10; relative = 1e-10 } g e what) got expected

let private paramsOf (m: torch.nn.Module) = m.parameters () |> Seq.collect Tensor.toArray |> Array.ofSeq

[<Tests>]
let tests =
    testList "Models.ProposalNetworks" [
        testCase "the paper architecture has the authors' parameter count (widths 10 and 32); the compact one has fewer" <| fun () ->
            for h in [ 10; 32 ] do
                use paper = model RegressionArchitecture.Paper Joint h 0L
                Expect.equal (count paper) (authorsCount h 4) (sprintf "paper networks, width %d" h)
                use compact = model RegressionArchitecture.Compact Joint h 0L
                // The same energy; one linear layer h → 3K in place of the three h → h → K networks.
                Expect.equal (count compact) (authorsCount h 4 - 3 * (h * h + h + h * 4 + 4) + (h * 12 + 12)) (sprintf "compact networks, width %d" h)

        testCase "the paper energy's first head layer is drawn as the authors' one layer of fan-in 2H: U(±1/√(2H)); the compact one U(±1/√H)" <| fun () ->
            let h = 32
            let bound (a: RegressionArchitecture) =
                use m = model a Joint h 4L
                let named = m.Ebm.Value.named_parameters () |> Seq.map (fun struct (n, p) -> n, p) |> Map.ofSeq
                [ "headX.weight"; "headY.weight"; "headX.bias"; "headMid.weight" ]
                |> List.filter named.ContainsKey
                |> List.map (fun n -> n, Tensor.toArray named[n] |> Array.map abs |> Array.max)
            // 1024 uniform draws per matrix: the largest |w| exceeds 0.99 of the bound with probability 1 − 0.99¹⁰²⁴ ≈ 1 − e^(−10).
            for name, top in bound RegressionArchitecture.Paper do
                let limit = if name = "headMid.weight" then 1.0 / sqrt (float h) else 1.0 / sqrt (float (2 * h))
                Expect.isLessThanOrEqual top limit (sprintf "paper %s within its bound %.4f" name limit)
                if name <> "headX.bias" then Expect.isGreaterThan top (0.99 * limit) (sprintf "paper %s reaches its bound %.4f" name limit)
            for name, top in bound RegressionArchitecture.Compact do
                if name.EndsWith "weight" then Expect.isGreaterThan top (0.99 / sqrt (float h)) (sprintf "compact %s keeps U(±1/√H)" name)

        testCase "the paper energy has the residual layer: zeroing its middle layer leaves f = last(z₁) + bias" <| fun () ->
            use m = model RegressionArchitecture.Paper Joint 6 1L
            let ebm = m.Ebm.Value
            let named = ebm.named_parameters () |> Seq.map (fun struct (n, p) -> n, p) |> Map.ofSeq
            Expect.isTrue (named.ContainsKey "headMid.weight" && named.ContainsKey "headLast.weight") "the residual head's layers"
            Expect.isFalse (named.ContainsKey "headOut.linear0.weight") "no compact head"
            use _ = torch.no_grad ()
            named["headMid.weight"].zero_ () |> ignore
            named["headMid.bias"].fill_ (Scalar.op_Implicit -1.0) |> ignore   // relu(−1) = 0: z₂ = z₁
            use rng = new Rng(2L, ctx.Device)
            use x = Tensor.randn rng ctx [ 3L; 1L ]
            use y = Tensor.randn rng ctx [ 3L; 5L; 1L ]
            use f = ebm.forward (x, y)
            // Without the residual connection, z₂ = 0 and f would be the last layer's bias everywhere.
            use spread = f.std ()
            Expect.isGreaterThan (Tensor.toScalar spread) 1e-6 "f depends on y through z₁ + relu(·)"

        testCase "the energy (feature-major products inside) equals its layers applied to rows, both architectures" <| fun () ->
            for arch in [ RegressionArchitecture.Paper; RegressionArchitecture.Compact ] do
                use m = model arch Joint 7 9L
                let ebm = m.Ebm.Value
                let p = ebm.named_parameters () |> Seq.map (fun struct (n, t) -> n, t) |> Map.ofSeq
                let lin (name: string) (x: Tensor) =
                    let w = p[name + ".weight"]
                    match p.TryFind (name + ".bias") with
                    | Some bias -> torch.matmul (x, w.t ()) + bias
                    | None -> torch.matmul (x, w.t ())
                use rng = new Rng(10L, ctx.Device)
                use x = Tensor.randn rng ctx [ 3L; 1L ]
                use y = Tensor.randn rng ctx [ 3L; 4L; 1L ]
                Scope.run (fun () ->
                    use _ = torch.no_grad ()
                    let h = ebm.Features x
                    let e = Tensor.relu (lin "yNet.linear1" (Tensor.relu (lin "yNet.linear0" y)))     // [3, 4, H]
                    let z = Tensor.relu ((lin "headX" h).unsqueeze 1L + lin "headY" e)
                    let f =
                        match arch with
                        | RegressionArchitecture.Paper -> lin "headLast" (Tensor.relu (lin "headMid" z) + z)
                        | RegressionArchitecture.Compact -> lin "headOut.linear1" (Tensor.relu (lin "headOut.linear0" z))
                    closeArrays (Tensor.toArray (ebm.forward (x, y))) (Tensor.toArray (f.squeeze (-1L))) (sprintf "%A" arch))

        testCase "paper networks: batched scores and proposal densities equal per-example ones" <| fun () ->
            use m = model RegressionArchitecture.Paper Joint 8 3L
            use rng = new Rng(4L, ctx.Device)
            use x = Tensor.randn rng ctx [ 5L; 1L ]
            use y = Tensor.randn rng ctx [ 5L; 7L; 1L ]
            Scope.run (fun () ->
                let batched = m.Score (x, y)
                let q = (m.Proposal x).Value
                let logQ = Mdn.logDensity q y
                for i in 0L .. 4L do
                    let xi, yi = x.narrow (0L, i, 1L), y.narrow (0L, i, 1L)
                    closeArrays (Tensor.toArray (m.Score (xi, yi))) (Tensor.toArray (batched.narrow (0L, i, 1L))) (sprintf "f of example %d" i)
                    let qi = (m.Proposal xi).Value
                    closeArrays (Tensor.toArray (Mdn.logDensity qi yi)) (Tensor.toArray (logQ.narrow (0L, i, 1L))) (sprintf "log q of example %d" i))

        testCase "paper networks: the same seed trains the same model; another seed another" <| fun () ->
            use rng = new Rng(5L, ctx.Device)
            use x = Tensor.randn rng ctx [ 64L; 1L ]
            use y = x.sin () + Tensor.randn rng ctx [ 64L; 1L ] * 0.1
            let options = { RegressionOptions.defaults with Architecture = RegressionArchitecture.Paper; Hidden = 8; Samples = 16; Epochs = 2; BatchSize = 16; Seed = 11L }
            let train o = let m, r = Regression.train ctx o x y in let p = paramsOf m in m.Dispose (); p, r.History.Column "train_loss"
            let p1, h1 = train options
            let p2, h2 = train options
            let p3, _ = train { options with Seed = 12L }
            Expect.equal p2 p1 "same parameters"
            Expect.equal h2 h1 "same loss history"
            Expect.notEqual p3 p1 "another seed"

        testCase "RegressionFile: both architectures round trip; a file without an architecture loads as compact" <| fun () ->
            let dir = IO.Path.Combine (IO.Path.GetTempPath (), sprintf "energyfs-arch-%s" (Guid.NewGuid().ToString "N"))
            try
                for arch in [ RegressionArchitecture.Paper; RegressionArchitecture.Compact ] do
                    for method in [ Joint; Teacher ] do
                        use m = model arch method 6 7L
                        let options = { RegressionOptions.defaults with Method = method; Hidden = 6; Architecture = arch }
                        let path = IO.Path.Combine (dir, sprintf "%A-%s.efm" arch (RegressionMethod.name method))
                        RegressionFile.save path m options { Columns = [||]; Rows = [||] }
                        let loaded, o2, _ = RegressionFile.load path ctx None
                        use loaded = loaded
                        Expect.equal loaded.Architecture arch "architecture kept"
                        Expect.equal o2.Architecture arch "options' architecture"
                        Expect.equal (paramsOf loaded) (paramsOf m) "same parameters"
                // An older file: the same header without "architecture".
                let path = IO.Path.Combine (dir, "Compact-joint.efm")
                let header, tensors = ModelFile.load path RegressionFile.kind
                header.Remove "architecture" |> ignore
                let old = IO.Path.Combine (dir, "old.efm")
                ModelFile.save old RegressionFile.kind header tensors
                for _, t in tensors do t.Dispose ()
                let loaded, o2, _ = RegressionFile.load old ctx None
                use loaded = loaded
                Expect.equal o2.Architecture RegressionArchitecture.Compact "an old file holds compact networks"
                // And a paper model's tensors do not load under that reading.
                let header, tensors = ModelFile.load (IO.Path.Combine (dir, "Paper-joint.efm")) RegressionFile.kind
                header.Remove "architecture" |> ignore
                let wrong = IO.Path.Combine (dir, "wrong.efm")
                ModelFile.save wrong RegressionFile.kind header tensors
                for _, t in tensors do t.Dispose ()
                raisesOf<IO.InvalidDataException> (fun () -> RegressionFile.load wrong ctx None |> ignore) |> ignore
            finally
                if IO.Directory.Exists dir then IO.Directory.Delete (dir, true)

        testCase "architecture names parse back; an unknown one is refused" <| fun () ->
            for a in [ RegressionArchitecture.Paper; RegressionArchitecture.Compact ] do
                Expect.equal (RegressionArchitecture.parse (RegressionArchitecture.name a)) a (RegressionArchitecture.name a)
            raisesOf<ArgumentException> (fun () -> RegressionArchitecture.parse "wide" |> ignore) |> ignore
    ]
