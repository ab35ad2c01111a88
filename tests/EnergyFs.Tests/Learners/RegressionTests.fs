module EnergyFs.Tests.Learners.RegressionTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Models
open EnergyFs.Learners
open EnergyFs.Tests.Expectations

let ctx = Context.cpu

/// 300 points of a bimodal 1-D problem: y = ±x + 0.1 ε with probability ½ each, x ~ U(0, 2).
let bimodalData (seed: int64) =
    use rng = new Rng(seed, ctx.Device)
    let x = Tensor.uniform rng ctx 0.0 2.0 [ 300L; 1L ]
    let sign = (Tensor.rand rng ctx [ 300L; 1L ]).lt(Scalar.op_Implicit 0.5).to_type(ctx.DType) * 2.0 - 1.0
    x, sign * x + Tensor.randn rng ctx [ 300L; 1L ] * 0.1

let quick = { RegressionOptions.defaults with Samples = 64; Epochs = 2; Hidden = 16; LearningRate = 3e-3 }

/// The built-in network given as a custom energy: the same function class through the custom path.
let customEbm hidden : (int -> int -> torch.nn.Module * (Tensor -> Tensor -> Tensor)) option =
    Some (fun dx dy ->
        let m = new EnergyFs.Energies.ConditionalEbm(dx, dy, hidden)
        m :> torch.nn.Module, (fun x y -> m.forward (x, y)))

let parameters (m: torch.nn.Module) = m.parameters () |> Seq.collect Tensor.toArray |> Array.ofSeq

[<Tests>]
let tests =
    testList "Learners.Regression" [
        testCase "joint training lowers the EBM's test NLL, and importance sampling agrees with quadrature" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 1L
                let xt, yt = bimodalData 2L
                let options = { quick with Epochs = 8 }
                let before =
                    use rng = new Rng(options.Seed, ctx.Device)
                    use m0 = Regression.create ctx rng options 1 1
                    Regression.ebmNllQuadrature ctx -4.0 4.0 801 m0 xt yt
                let model, result = Regression.train ctx options x y
                use model = model
                let quad = Regression.ebmNllQuadrature ctx -4.0 4.0 801 model xt yt
                use rng = new Rng(5L, ctx.Device)
                let is = Regression.ebmNllImportance rng 4096 model xt yt
                Expect.isLessThan quad (before - 0.5) (sprintf "NLL fell from %g to %g" before quad)
                Expect.isLessThan (abs (is - quad)) 0.05 (sprintf "importance sampling %g vs quadrature %g" is quad)
                Expect.equal result.History.Epochs 8 "one history row per epoch")

        testCase "in joint training the KL term does not reach the EBM and NCE does not reach the proposal" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 3L
                use rng0 = new Rng(0L, ctx.Device)
                use model = Regression.create ctx rng0 quick 1 1
                let ebmParams = model.Ebm.Value.parameters () |> List.ofSeq |> List.map (fun p -> p :> Tensor)
                let allParams = model.parameters () |> List.ofSeq |> List.map (fun p -> p :> Tensor)
                let headParams = allParams |> List.filter (fun p -> not (ebmParams |> List.exists (fun e -> Object.ReferenceEquals (e, p))))
                let lossWith seed =
                    use rng = new Rng(seed, ctx.Device)
                    Regression.loss quick rng model x y
                // The same samples (same seed), total loss versus the NCE part alone.
                let total = Diff.gradParams false (lossWith 9L) ebmParams
                let ebm = model.Ebm.Value
                let ncePart =
                    use rng = new Rng(9L, ctx.Device)
                    let q = (model.Proposal x).Value
                    let s = Mdn.sample rng quick.Samples q
                    let c = Tensor.cat 1 [ y.unsqueeze 1L; s ]
                    EnergyFs.Losses.Nce.ranking (ebm.forward (x, c)) (Mdn.logDensity q c)
                let nceOnly = Diff.gradParams false ncePart ebmParams
                List.iter2 (fun (a: Tensor) b -> Expect.isLessThan (Tensor.maxAbsDiff a b) 1e-6 "EBM gradient = NCE gradient") total nceOnly
                // The proposal head's gradient comes from the KL term alone.
                let totalHead = Diff.gradParams false (lossWith 9L) headParams
                let klPart =
                    use rng = new Rng(9L, ctx.Device)
                    let q = (model.Proposal x).Value
                    let s = Mdn.sample rng quick.Samples q
                    let c = Tensor.cat 1 [ y.unsqueeze 1L; s ]
                    EnergyFs.Losses.ProposalKl.loss (ebm.forward (x, c.narrow (1L, 1L, int64 quick.Samples))) (Mdn.logDensity q (c.narrow (1L, 1L, int64 quick.Samples)))
                let klOnly = Diff.gradParams false klPart headParams
                List.iter2 (fun (a: Tensor) b -> Expect.isLessThan (Tensor.maxAbsDiff a b) 1e-6 "head gradient = KL gradient") totalHead klOnly)

        testCase "teacher: the EBM's gradient is NCE's alone, the MDN's is ½ KL + ½ NLL (the authors' teacher loss)" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 6L
                let options = { quick with Method = Teacher }
                use rng0 = new Rng(0L, ctx.Device)
                use model = Regression.create ctx rng0 options 1 1
                let ebm = model.Ebm.Value
                let ebmParams = ebm.parameters () |> List.ofSeq |> List.map (fun p -> p :> Tensor)
                let allParams = model.parameters () |> List.ofSeq |> List.map (fun p -> p :> Tensor)
                let mdnParams = allParams |> List.filter (fun p -> not (ebmParams |> List.exists (fun e -> Object.ReferenceEquals (e, p))))
                Expect.isGreaterThan mdnParams.Length 0 "the teacher model has a separate MDN"
                let total () =
                    use rng = new Rng(11L, ctx.Device)
                    Regression.loss options rng model x y
                let parts () =
                    use rng = new Rng(11L, ctx.Device)
                    let q = (model.Proposal x).Value
                    let s = Mdn.sample rng options.Samples q
                    let c = Tensor.cat 1 [ y.unsqueeze 1L; s ]
                    let f = ebm.forward (x, c)
                    let logQ = Mdn.logDensity q c
                    let rest (t: Tensor) = t.narrow (1L, 1L, int64 options.Samples)
                    EnergyFs.Losses.Nce.ranking f logQ, EnergyFs.Losses.ProposalKl.loss (rest f) (rest logQ), Mdn.nll q y
                let nce, _, _ = parts ()
                List.iter2 (fun (a: Tensor) b -> Expect.isLessThan (Tensor.maxAbsDiff a b) 1e-6 "EBM gradient = NCE gradient")
                    (Diff.gradParams false (total ()) ebmParams) (Diff.gradParams false nce ebmParams)
                let _, kl, nll = parts ()
                List.iter2 (fun (a: Tensor) b -> Expect.isLessThan (Tensor.maxAbsDiff a b) 1e-6 "MDN gradient = ½ KL + ½ NLL gradient")
                    (Diff.gradParams false (total ()) mdnParams) (Diff.gradParams false (kl * 0.5 + nll * 0.5) mdnParams))

        testCase "the same seed gives the same model, for every method" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 4L
                for m in [ Joint; MdnAlone; NceFixedNoise; Teacher ] do
                    let run () =
                        let model, _ = Regression.train ctx { quick with Method = m; Epochs = 1; Seed = 3L } x y
                        use model = model
                        parameters model
                    Expect.sequenceEqual (run ()) (run ()) (RegressionMethod.name m))

        testCase "evaluation and predictions leave no live tensors behind" <| fun () ->
            // Training itself is checked by Fit's own memory tests; parameter handles created by the
            // foundation (p.grad, copy_ results in Init) are not counted here.
            let x, y = bimodalData 6L
            let model, _ = Regression.train ctx { quick with Epochs = 1 } x y
            use model = model
            use rng = new Rng(1L, ctx.Device)
            let before = NativeMemory.liveTensors ()
            for _ in 1 .. 2 do
                Regression.ebmNllImportance rng 32 model x y |> ignore
                Regression.ebmNllQuadrature ctx -4.0 4.0 101 model x y |> ignore
                Regression.proposalNll model x y |> ignore
                use mean = Regression.predictMean rng 32 model x
                use mode = Regression.predictMode rng 32 3 0.01 model x
                use meanQ = Regression.predictMeanQuadrature ctx -4.0 4.0 101 model x
                ()
            Expect.equal (NativeMemory.liveTensors ()) before "as many live tensors as before"
            Scope.disposeAll [ x; y ]

        testCase "the fixed NCE noise is ½N(y, σ₁²) + ½N(y, σ₂²)" <| fun () ->
            Scope.run (fun () ->
                let y = Tensor.ofRows ctx [| [| 0.5 |] |]
                let q = Regression.fixedNoise 0.1 0.8 y
                let at = 0.62
                let pdf s = exp (-0.5 * ((at - 0.5) / s) ** 2.0) / (s * sqrt (2.0 * Math.PI))
                let got = Tensor.toScalar (Mdn.logDensity q ((Tensor.ofArray ctx [| at |]).reshape (1L, 1L, 1L)))
                Expect.floatClose Accuracy.medium got (log (0.5 * pdf 0.1 + 0.5 * pdf 0.8)) "log density")

        testCase "bad input: NaN targets, different lengths, K < 1, unknown method" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 5L
                let yNaN = y.clone ()
                yNaN[3L, 0L] <- torch.tensor (nan, dtype = ctx.DType)
                let e1 = raisesOf<ArgumentException> (fun () -> Regression.train ctx quick x yNaN |> ignore)
                Expect.stringContains e1.Message "y contains 1 non-finite" "names y"
                let e2 = raisesOf<ArgumentException> (fun () -> Regression.train ctx quick x (y.narrow (0L, 0L, 100L)) |> ignore)
                Expect.stringContains e2.Message "same number of rows" "names the lengths"
                let e3 = raisesOf<ArgumentException> (fun () -> Regression.train ctx { quick with Components = 0 } x y |> ignore)
                Expect.stringContains e3.Message "Components must be ≥ 1" "names K"
                raisesOf<ArgumentException> (fun () -> RegressionMethod.parse "gan" |> ignore) |> ignore)
    
        testCase "a custom energy trains like the built-in one (joint, stand-alone MDN proposal) and finds both modes" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 1L
                let xt, yt = bimodalData 2L
                let options = { quick with Epochs = 8 }
                let nll (o: RegressionOptions) =
                    let model, result = Regression.train ctx o x y
                    use model = model
                    Expect.equal result.History.Epochs 8 "history rows"
                    let modes =
                        Diff.noGrad (fun () ->
                            let g = Tensor.ofArray ctx [| -1.5; 0.0; 1.5 |]
                            Tensor.toArray (model.Score (Tensor.ofRows ctx [| [| 1.5 |] |], g.reshape (1L, 3L, 1L))))
                    Regression.ebmNllQuadrature ctx -4.0 4.0 801 model xt yt, modes, model.Ebm.IsSome
                let builtin, _, hasBuiltin = nll options
                let custom, modes, customHasBuiltin = nll { options with Energy = customEbm 16 }
                Expect.isTrue hasBuiltin "the default is the built-in EBM"
                Expect.isFalse customHasBuiltin "the custom energy replaces it"
                Expect.isLessThan (abs (custom - builtin)) 0.25 (sprintf "custom NLL %g vs built-in %g" custom builtin)
                Expect.isGreaterThan (modes[0] - modes[1]) 0.8 (sprintf "f at y = −1.5 above f at 0 (x = 1.5): %A" modes)
                Expect.isGreaterThan (modes[2] - modes[1]) 0.8 (sprintf "f at y = +1.5 above f at 0 (x = 1.5): %A" modes))

        testCase "a custom energy: the model registers it with an MDN for joint, MdnAlone refuses it, a wrong shape is named" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(0L, ctx.Device)
                use joint = Regression.create ctx rng { quick with Energy = customEbm 8 } 1 1
                let names = joint.named_children () |> Seq.map (fun struct (n, _) -> n) |> List.ofSeq
                Expect.equal names [ "ebm"; "mdn" ] "EBM and stand-alone MDN"
                Expect.equal joint.CustomEnergyName (Some "ConditionalEbm") "the module's name"
                raisesOf<ArgumentException> (fun () -> Regression.create ctx rng { quick with Method = MdnAlone; Energy = customEbm 8 } 1 1 |> ignore) |> ignore
                let bad = Some (fun (_: int) (_: int) -> let l = torch.nn.Linear (1L, 1L) in l :> torch.nn.Module, (fun (x: Tensor) (_: Tensor) -> l.forward x))
                use m = Regression.create ctx rng { quick with Energy = bad } 1 1
                let x, y = bimodalData 3L
                let e = raisesOf<InvalidOperationException> (fun () -> Regression.loss quick rng m x y |> ignore)
                Expect.stringContains e.Message "must return f of shape [300, 65]" "names the expected shape")

        testCase "RegressionFile: save → load gives identical predictions and history; a custom model needs its energy" <| fun () ->
            Scope.run (fun () ->
                let x, y = bimodalData 7L
                use dir = new EnergyFs.Tests.Data.Fixtures.TempDir()
                for options in [ { quick with Epochs = 1 }; { quick with Epochs = 1; Method = Teacher; Energy = customEbm 8 } ] do
                    let model, result = Regression.train ctx options x y
                    use model = model
                    let path = IO.Path.Combine(dir.Path, RegressionMethod.name options.Method + ".model")
                    RegressionFile.save path model options result.History
                    let loaded, o2, h2 = RegressionFile.load path ctx options.Energy
                    use loaded = loaded
                    let predict m =
                        use rng = new Rng(5L, ctx.Device)
                        Tensor.toArray (Regression.predictMean rng 32 m x)
                    Expect.sequenceEqual (predict loaded) (predict model) "identical mean predictions"
                    Expect.equal (h2.Columns, h2.Rows) (result.History.Columns, result.History.Rows) "history"
                    Expect.equal (o2.Method, o2.Samples, o2.Seed, o2.Hidden) (options.Method, options.Samples, options.Seed, options.Hidden) "options"
                    if options.Energy.IsSome then
                        let e = raisesOf<IO.InvalidDataException> (fun () -> RegressionFile.load path ctx None |> ignore)
                        Expect.stringContains e.Message "custom energy 'ConditionalEbm'" "names the energy"
                        Expect.stringContains e.Message path "names the file")
    ]
