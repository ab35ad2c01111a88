/// SPEN inference over the box (projected gradient with momentum, entropic mirror descent), moved
/// from the former Inference/ folder, and the bit-for-bit record of the numbers before the merge.
module EnergyFs.Tests.Solvers.BoxInferenceTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Regularizers
open EnergyFs.Solvers
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Energies.SpenTests

/// The outputs of the former `Inference.ProjectedGradient.minimize`, `Inference.EntropicMirrorDescent.minimize`
/// and `Solvers.ProjectedGradient.solve` / `Solvers.MirrorAscent.solve` (commit 80a349b) on the problems
/// of `goldenProblems`, as the IEEE-754 bits of every entry (converted to float64), row-major.
let golden =
    dict [
      "Float64-1-pgd", "3ff0000000000000,0000000000000000,0000000000000000,0000000000000000,0000000000000000,3ff0000000000000,3ff0000000000000,3fe9bddc599f0ae1,0000000000000000,0000000000000000,0000000000000000,3ff0000000000000,3ff0000000000000,0000000000000000,0000000000000000,0000000000000000,0000000000000000,3ff0000000000000,3ff0000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,3ff0000000000000,3facc70621da9bb7,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000"
      "Float64-1-emd", "3fe5f5831d616020,3fd2f74a7175fd5a,3fd58e2966f21d5d,3fd214202728238e,3fc54601c73c1f79,3fe51303b86fcba2,3fe13408744b6a98,3fe13b9b52bcb0c6,3fd3095a0cae3e05,3fccbf19969414d3,3fd58502cede81ec,3fe7832677cf0980,3fe51417c5da75dd,3fda0de8fda037eb,3fd2359369f6897f,3fd7c8b46b6dfd3a,3fccae74b6441a55,3fe4a914577b1eb4,3fe53e499105fb7e,3fe173b7fe2409aa,3fd390726c9127da,3fdce9d0d389f55e,3fd37fe98d6b2526,3fe2aac3f52893bf,3fe55794351f7902,3fde831c92ade4f9,3fd6c81e652efb53,3fe08c7a7803b1c8,3fd09b577f13459e,3fe2f84bd9818cdb"
      "Float64-7-pgd0", "3fbc4596b81edc6c,3fddbb581d12a601,3fe01e0570be2a4a,0000000000000000,3fdfb4cf63acb594,3fe67b2c1bd66da1,3fa55d9e4620dd52,0000000000000000,0000000000000000,3fdb920300b40fec,3fef8188c2d6b67c,3fe069ca84e8e302,3ff0000000000000,0000000000000000,0000000000000000,0000000000000000,3fda5d2c99870e0f,3feaba2602270034,3fe40a2a88a1fd93,3fc785fb588eeed0,0000000000000000,0000000000000000,3fe9a6aaec016c03,3fe8cee54eb8a69b,3fd5d760ff890e83,3fb637472031228f,0000000000000000,3fe66d5126fc4af6,3ff0000000000000,3fda218d23e8cd73"
      "Float64-7-emd2", "3fd6c3665be5ea11,3fe0bd22583793f0,3fdc4e65b8a40be3,3fd69fc1a5fcbd74,3fe1ad42df9423f3,3fe1e15f0f20c55d,3fdc92b5bc86061b,3fda65781127c69b,3fd4bf419126a5b7,3fe00504263bf257,3fe47d54799778dc,3fdad97751fc1498,3fe0da4a6d2758c7,3fd9c8d2f8c178f2,3fcefff70e52688d,3fd413f1f50bb3c0,3fe0acda57ae248f,3fe1275f4962267a,3fdb89dc3d067f08,3fdbbbf0480b0d4a,3fd794ea869c6a1e,3fd42ba73fe41b16,3fe1c8c2f06a4c33,3fe1694974908b93,3fdb54f21963b566,3fda317316a76f9f,3fd74a9a09277b65,3fddba3ad063525e,3fe2dcdaab750edd,3fdc4b5bd3495cba"
      "Float32-1-pgd", "3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3fccd9e780000000,3ff0000000000000,3ff0000000000000,3fe206f4c0000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,0000000000000000,3ff0000000000000,3fd6184ae0000000,3ff0000000000000,3fa1b95280000000,3ff0000000000000,0000000000000000,3fdb0c14c0000000,3fedb6d9e0000000,3ff0000000000000,0000000000000000"
      "Float32-1-emd", "3fe10fd620000000,3fdcf495a0000000,3fe15d36a0000000,3fd86451a0000000,3feb2e8fc0000000,3fd1c8cbe0000000,3fe882cec0000000,3fd3ef4be0000000,3fde0eb820000000,3fe163f620000000,3fe376f300000000,3fdf05e760000000,3fe1f5c3a0000000,3fd7c036e0000000,3fe07d3380000000,3fdbc0c260000000,3fe8bbd420000000,3fd8c39ce0000000,3fe25f4440000000,3fd01bd5a0000000,3fe048ad80000000,3fdf50b060000000,3fe7088c80000000,3fdd736720000000,3fe7622d80000000,3fd5127560000000,3fdd423660000000,3fe0432360000000,3fe35250e0000000,3fd68e7520000000"
      "Float64-1-ProjectedGradientAscent-fermi-dirac-argmax", "3fdf507b3c4118aa,3fd3d24a24ac81a8,3fd35fae119d5350,3fe4703c4de11a2c,3fdbc229b4255ee0,3fe0c37396fc5d21,3fe7627ffaeea79e,3fe0b2a5effa1478,3fe5189ca09af254,3fe131c947341a70,3fd9a670b0edbb96,3fd56af22033c126,3fe0910a672d49d1,3fee526004c1c5e9,3fe88a843418da04,3fe8a41965f5acd7,3fe62dfbd08357a8,3fe60eb1ddcaef40,3fd7c7c9c62d3640,3fe7e65a0fb4ea0a"
      "Float64-1-ProjectedGradientAscent-sqnorm-simplex-argmax", "3fd4c2b5b548acbe,0000000000000000,0000000000000000,3fe4444a17f0b963,3fa5a5b0d6af03d0,3fadbad171c54433,3fe380f2f5f946ac,0000000000000000,3fd546bfe5d4ca21,0000000000000000,0000000000000000,0000000000000000,0000000000000000,3ff0000000000000,0000000000000000,3fe4710a9be27b68,0000000000000000,3fc346c43f42287a,0000000000000000,3fcaf5115133e9ee"
      "Float64-1-EntropicMirrorAscent-shannon-argmax", "3fd02bdf4974dd43,3fb840cdcbd3a4cb,3fbae2e753c1303b,3fd7f5ec4878a97e,3fc62a8e4c5a87f9,3fc680d2c6e35aa4,3fd3c324d9672687,3fc40410b9caa1d8,3fcba1a3abf5e2fb,3fc2532f208dd379,3fa4b249a470eb2e,3f976dfd262118f5,3fab7a0595eb5199,3fe7008e62041078,3fc504f304948bd5,3fd5ecb2bd1c669a,3fc621850a68eee6,3fc98288c97856ad,3fa44533e8deabac,3fcf713fb7ae424d"
      "Float32-1-EntropicMirrorAscent-fermi-dirac-argmax", "3fd8191f60000000,3fe02fdb20000000,3fe7666f60000000,3fe8dab220000000,3fd65a21e0000000,3fe1c5c1a0000000,3fe3eb7ac0000000,3fd7d7be60000000,3fe9cc58a0000000,3fc541b860000000,3fd193c6c0000000,3fe9eda240000000,3fd6c28ea0000000,3fd381ea60000000,3fcf063260000000,3fe437ab00000000,3fdce6a880000000,3fe17efa40000000,3fdfda2740000000,3fdfb79e00000000" ]

let private bits (t: Tensor) =
    Tensor.toArray (t.to_type torch.ScalarType.Float64)
    |> Array.map (fun x -> sprintf "%016x" (System.BitConverter.DoubleToInt64Bits x))
    |> String.concat ","

/// Runs the recorded problems for a dtype and a seed: a SPEN (6 labels, 4 features, 3 hidden units)
/// on 5 examples, then concave-or-not quadratic inner problems on 4 rows of 5 labels.
let private goldenProblems (ctx: Context) (seed: int64) (record: string -> Tensor -> unit) =
    let tag = string ctx.DType
    use rng = new Rng(seed, ctx.Device)
    let theta = Spen.create rng ctx 6 4 3 |> List.map (fun p -> Tensor.copy p)
    let theta = [ theta[0]; theta[1] * 3.0; Tensor.randn rng ctx [ 3L ] ]
    let f = Tensor.randn rng ctx [ 5L; 4L ]
    let y0 = Tensor.rand rng ctx [ 5L; 6L ]
    let e = Spen.energy theta f
    record (sprintf "%s-%d-pgd" tag seed) (ProjectedGradient.boxInference ProjectedGradient.inferenceDefaults e y0)
    record (sprintf "%s-%d-pgd0" tag seed) (ProjectedGradient.boxInference { ProjectedGradient.inferenceDefaults with Step = FixedStep (0.02, 0.0) } e y0)
    record (sprintf "%s-%d-emd" tag seed) (MirrorDescent.entropicBoxInference 1.0 MirrorDescent.inferenceDefaults e y0)
    record (sprintf "%s-%d-emd2" tag seed) (MirrorDescent.entropicBoxInference 2.0 { MirrorDescent.inferenceDefaults with Step = FixedStep (0.25, 0.0); MaxIterations = 50 } e y0)
    let v = { Unary = Tensor.randn rng ctx [ 4L; 5L ]; Pairwise = Tensor.randn rng ctx [ 5L; 5L ] * 0.3 }
    let options = { InnerOptions.defaults with AllowNonConcave = true; MaxIterations = 200 }
    for kind, name in [ ProjectedGradientAscent, "ProjectedGradientAscent"; EntropicMirrorAscent, "EntropicMirrorAscent" ] do
        for r in [ Shannon.regularizer; FermiDirac.regularizer; SquaredNorm.simplex; SquaredNorm.box ] do
            if not (kind = ProjectedGradientAscent && r.Barrier && r.Domain = Simplex) then
                record (sprintf "%s-%d-%s-%s-argmax" tag seed name r.Name) (SolverChoice.run kind options Quadratic.energy r v None).Argmax

[<Tests>]
let tests =
    testList "Solvers.BoxInference" [
        propertySmall "projected gradient stays in [0,1]^L and decreases the energy (no momentum, small step)" <| fun (Seed s) ->
            Scope.run (fun () ->
                let theta, f, _ = randomSpen s 4 6 5 3
                let energy = Spen.energy theta f
                let y0 = Tensor.full ctx [ 4L; 6L ] 0.5
                let total (y: Tensor) = Tensor.toScalar (Tensor.sum (energy y))
                let values =
                    [ for steps in [ 1; 5; 20 ] ->
                        let options = { ProjectedGradient.inferenceDefaults with Step = FixedStep (0.02, 0.0); MaxIterations = steps }
                        let y = ProjectedGradient.boxInference options energy y0
                        let inBox = Tensor.toScalar (y.min ()) >= 0.0 && Tensor.toScalar (y.max ()) <= 1.0
                        inBox, total y ]
                let e0 = total y0
                values |> List.forall fst
                && (values |> List.map snd |> List.pairwise |> List.forall (fun (a, b) -> b <= a + 1e-12))
                && snd values.Head <= e0)

        testCase "projected gradient with momentum reaches the corner of a linear energy" <| fun () ->
            Scope.run (fun () ->
                // E = −Σ ȳ_i s_i with s = [2, −1]: the minimiser is ȳ = [1, 0].
                let s = Tensor.ofRows ctx [| [| 2.0; -1.0 |] |]
                let y = ProjectedGradient.boxInference ProjectedGradient.inferenceDefaults (fun y -> -(Tensor.dot y s)) (Tensor.full ctx [ 1L; 2L ] 0.5)
                Expect.equal (Tensor.toArray y) [| 1.0; 0.0 |] "the box corner")

        testCase "entropic mirror descent on a local energy converges to σ(scores/τ)" <| fun () ->
            Scope.run (fun () ->
                let s = Tensor.ofRows ctx [| [| 2.0; -1.0; 0.3 |] |]
                let options = { MirrorDescent.inferenceDefaults with MaxIterations = 200; Step = FixedStep (0.25, 0.0) }
                let y = MirrorDescent.entropicBoxInference 2.0 options (fun y -> -(Tensor.dot y s)) (Tensor.full ctx [ 1L; 3L ] 0.5)
                Expect.isLessThan (Tensor.maxAbsDiff y (Tensor.sigmoid (s * 0.5))) 1e-8 "fixed point σ(s/τ)")

        propertySmall "maximizing f + τH is minimizing −f − τH, for both inference methods and with momentum" <| fun (Seed s) ->
            Scope.run (fun () ->
                let theta, f, _ = randomSpen s 3 5 4 3
                let energy = Spen.energy theta f
                let negated (y: Tensor) = -(energy y)
                let y0 = Tensor.full ctx [ 3L; 5L ] 0.5
                [ for momentum in [ 0.0; 0.5 ] ->
                    let down = { MirrorDescent.inferenceDefaults with Step = FixedStep (0.3, momentum) }
                    let up = { down with Direction = Maximize }
                    let a = MirrorDescent.entropicBoxInference 0.7 up negated y0
                    let b = MirrorDescent.entropicBoxInference 0.7 down energy y0
                    let pgDown = { ProjectedGradient.inferenceDefaults with Step = FixedStep (0.05, momentum) }
                    let c = ProjectedGradient.boxInference { pgDown with Direction = Maximize } negated y0
                    let d = ProjectedGradient.boxInference pgDown energy y0
                    Tensor.maxAbsDiff a b < 1e-12 && Tensor.maxAbsDiff c d < 1e-12 ]
                |> List.forall id)

        testCase "the former SPEN inference and inner solvers give the numbers of commit 80a349b (fixed seeds)" <| fun () ->
            // Bit for bit on the BLAS kernels they were recorded with; oneMKL picks its kernels by
            // processor (build.sh's MKL dispatch gives AMD processors the AVX2/AVX-512 ones), which
            // moves the last bits of a reduction, which 200 solver iterations on non-concave problems amplify: float64 within 1e-10, float32 within 1e-3 (measured 1.9e-4 with AVX-512 kernels). So
            // does the squared norm on the simplex (sparsemax): its projection now shifts each row by
            // its maximum before sorting (exact to ~1e-15 at |θ| ≈ 1e3, where the unshifted
            // threshold lost 1e-10).
            let expectGolden (name: string) (expected: string) (t: Tensor) =
                let actual = bits t
                if actual <> expected then
                    let decode (h: string) = h.Split ',' |> Array.map (fun w -> System.BitConverter.Int64BitsToDouble (System.Convert.ToInt64(w, 16)))
                    let e, a = decode expected, decode actual
                    Expect.equal a.Length e.Length (sprintf "%s: same shape" name)
                    let worst = Array.map2 (fun (x: float) y -> abs (x - y)) a e |> Array.max
                    let tolerance = if name.StartsWith "Float32" then 1e-3 else 1e-10
                    Expect.isLessThan worst tolerance (sprintf "%s: within %g of commit 80a349b (max diff %g)" name tolerance worst)
            let mutable checkedCount = 0
            for ctx in [ Context.cpu64; { Context.cpu64 with DType = torch.ScalarType.Float32 } ] do
                Scope.run (fun () ->
                    goldenProblems ctx 1L (fun name t ->
                        match golden.TryGetValue name with
                        | true, expected ->
                            expectGolden name expected t
                            checkedCount <- checkedCount + 1
                        | _ -> ()))
            Scope.run (fun () ->
                goldenProblems Context.cpu64 7L (fun name t ->
                    match golden.TryGetValue name with
                    | true, expected ->
                        expectGolden name expected t
                        checkedCount <- checkedCount + 1
                    | _ -> ()))
            Expect.equal checkedCount golden.Count "every recorded case was run"
    ]
