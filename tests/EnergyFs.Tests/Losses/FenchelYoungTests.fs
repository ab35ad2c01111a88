module EnergyFs.Tests.Losses.FenchelYoungTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Losses
open EnergyFs.Tests.Generators
open EnergyFs.Tests.FenchelYoungFixtures


/// The sparsemax loss of one row for class `label`, by the textbook sort-based algorithm (Martins
/// and Astudillo 2016, Alg. 1) in System.Decimal (28 digits), from θ given exactly as decimals:
/// L = ⟨θ, p⟩ − ½‖p‖² + ½ − θ_label with p = max(θ − τ, 0).
let sparsemaxLossReference (theta: decimal[]) (label: int) : float =
    let sorted = Array.sortDescending theta
    let mutable cumulative = 0m
    let mutable rho = 0
    let mutable supportSum = 0m
    for j in 0 .. sorted.Length - 1 do
        cumulative <- cumulative + sorted[j]
        if 1m + decimal (j + 1) * sorted[j] > cumulative then
            rho <- j + 1
            supportSum <- cumulative
    let tau = (supportSum - 1m) / decimal rho
    let p = theta |> Array.map (fun v -> max (v - tau) 0m)
    let dot = Array.fold2 (fun acc (t: decimal) q -> acc + t * q) 0m theta p
    float (dot - 0.5m * Array.sumBy (fun q -> q * q) p + 0.5m - theta[label])

/// sigmoid x on the host, in the form that does not overflow.
let hostSigmoid (x: float) = if x >= 0.0 then 1.0 / (1.0 + exp -x) else exp x / (1.0 + exp x)

/// A [4, 3] batch of scores with one bad entry at row 2, column 1.
let scoresWith (bad: float) = Tensor.ofRows ctx [| for i in 0 .. 3 -> [| for j in 0 .. 2 -> if i = 2 && j = 1 then bad else 0.1 * float (i + j) |] |]

[<Tests>]
let tests =
    testList "Losses.FenchelYoung" [
        perRegularizer "L(θ; y) ≥ 0, and 0 at y = ∇Ω*(θ)" (fun r s ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let theta = randomScores rng 6L 5L
                let y = randomIn rng r.Domain 6L 5L
                Expect.isGreaterThanOrEqual ((FenchelYoung.loss r theta y).min().ToDouble ()) -1e-10 "non-negative"
                let p = r.Predict theta
                Expect.isLessThan ((FenchelYoung.loss r theta p).abs().max().ToDouble ()) 1e-9 "zero at the prediction"))

        perRegularizer "the autograd gradient is exactly ∇Ω*(θ) − y and matches finite differences" (fun r s ->
            use rng = new Rng(s, ctx.Device)
            use theta = randomScores rng 3L 4L
            use y = randomIn rng r.Domain 3L 4L
            let f t = Tensor.sum (FenchelYoung.loss r t y)
            use g = Diff.grad f theta
            use expected = Scope.tensor (fun () -> r.Predict theta - y)
            Expect.isLessThan (Tensor.maxAbsDiff g expected) 1e-12 "custom backward"
            GradCheck.grad fd f theta |> GradCheck.assertPassed r.Name)

        testCase "the backward never runs through the prediction map" <| fun () ->
            // A prediction map that autograd cannot differentiate (it detaches) still gives the right gradient.
            let opaque = { SquaredNorm.simplex with Predict = fun t -> (Projections.Simplex.project t).detach () }
            use rng = new Rng(3L, ctx.Device)
            use theta = randomScores rng 2L 3L
            use y = randomIn rng Simplex 2L 3L
            use g = Diff.grad (fun t -> Tensor.sum (FenchelYoung.loss opaque t y)) theta
            use expected = Scope.tensor (fun () -> Projections.Simplex.project theta - y)
            Expect.isLessThan (Tensor.maxAbsDiff g expected) 1e-12 "∇Ω*(θ) − y"

        testCase "Shannon with integer labels is the cross-entropy" <| fun () ->
            use rng = new Rng(5L, ctx.Device)
            use theta = randomScores rng 4L 3L
            use labels = Tensor.indices ctx.Device [| 0L; 2L; 1L; 2L |]
            use l = FenchelYoung.lossOfLabels Shannon.regularizer theta labels
            use ce = torch.nn.functional.cross_entropy (theta, labels, reduction = torch.nn.Reduction.None)
            Expect.isLessThan (Tensor.maxAbsDiff l ce) 1e-12 "= −log softmax(θ)_y"

        testCase "Fermi-Dirac is the sum of binary logistic losses" <| fun () ->
            use rng = new Rng(6L, ctx.Device)
            use theta = randomScores rng 4L 3L
            use y = Scope.tensor (fun () -> (Tensor.rand rng ctx [ 4L; 3L ]).gt(torch.full ([| 4L; 3L |], Scalar.op_Implicit 0.5, dtype = ctx.DType)).to_type ctx.DType)
            use l = FenchelYoung.loss FermiDirac.regularizer theta y
            use bce = Scope.tensor (fun () -> torch.nn.functional.binary_cross_entropy_with_logits(theta, y, reduction = torch.nn.Reduction.None).sum (1L, false))
            Expect.isLessThan (Tensor.maxAbsDiff l bce) 1e-12 "= Σ BCE with logits"

        testCase "label proportions are accepted; a target outside C is refused" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 0.1; 0.2; 0.3 |] |]
            use prop = Tensor.ofRows ctx [| [| 0.2; 0.3; 0.5 |] |]
            FenchelYoung.loss Shannon.regularizer theta prop |> ignore
            use bad = Tensor.ofRows ctx [| [| 0.7; 0.7; 0.1 |] |]
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.loss Shannon.regularizer theta bad |> ignore)
            Expect.stringContains e.Message "simplex" "names the domain"
            use badBox = Tensor.ofRows ctx [| [| 1.5; 0.0; 0.0 |] |]
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.loss FermiDirac.regularizer theta badBox |> ignore) |> ignore

        testCase "mismatched shapes and bad labels are refused" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 0.1; 0.2; 0.3 |] |]
            use y = Tensor.ofRows ctx [| [| 0.5; 0.5 |] |]
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.loss Shannon.regularizer theta y |> ignore)
            Expect.stringContains e.Message "[1, 2]" "names the shape"
            use labels = Tensor.indices ctx.Device [| 3L |]
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.lossOfLabels Shannon.regularizer theta labels |> ignore) |> ignore

        property "Fermi-Dirac: loss, tracked loss and gradient match the host closed form for θ in [−50, 50] and 15–30" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let theta = Tensor.cat 0 [ Tensor.uniform rng ctx -50.0 50.0 [ 8L; 6L ]; Tensor.uniform rng ctx 15.0 30.0 [ 8L; 6L ] ]
                let y = (Tensor.rand rng ctx [ 16L; 6L ]).gt(torch.full_like (theta, Scalar.op_Implicit 0.5)).to_type ctx.DType
                let t, yv = Tensor.toArray2D theta, Tensor.toArray2D y
                // Ω(y) = 0 for binary y: L = Σⱼ softplus θⱼ − θⱼ yⱼ, rounding ≤ a few ulps of Σⱼ |terms|.
                let expected = Array.init 16 (fun i -> Array.fold2 (fun acc x v -> acc + EnergyFs.Tests.Core.TensorsTests.hostSoftplus x - x * v) 0.0 t[i, *] yv[i, *])
                let scale = Array.init 16 (fun i -> Array.fold2 (fun acc x v -> acc + EnergyFs.Tests.Core.TensorsTests.hostSoftplus x + abs (x * v)) 0.0 t[i, *] yv[i, *])
                for name, l in [ "loss", FenchelYoung.loss FermiDirac.regularizer theta y; "lossTracked", FenchelYoung.lossTracked FermiDirac.regularizer theta y ] do
                    Array.iteri2 (fun i (got: float) e -> Expect.isLessThanOrEqual (abs (got - e)) (2e-15 * scale[i]) (sprintf "%s, row %d" name i)) (Tensor.toArray l) expected
                let sigmoidMinusY = Array2D.init 16 6 (fun i j -> hostSigmoid t[i, j] - yv[i, j])
                for name, f in [ "loss", FenchelYoung.loss; "lossTracked", FenchelYoung.lossTracked ] do
                    let g = Tensor.toArray2D (Diff.grad (fun th -> Tensor.sum (f FermiDirac.regularizer th y)) theta)
                    for i in 0 .. 15 do
                        for j in 0 .. 5 do
                            Expect.isLessThanOrEqual (abs (g[i, j] - sigmoidMinusY[i, j])) 1e-15 (sprintf "%s gradient [%d, %d]" name i j))

        property "sparsemax: the loss at |θ| ≈ 1e3 matches a 28-digit host reference" <| fun (Seed s) ->
            let rnd = System.Random(int s)
            // θ = ±1000 + m/1024 with |m| ≤ 3072: exact in float64 and in decimal.
            let rows = Array.init 8 (fun _ -> let b = (if rnd.Next 2 = 0 then -1000 else 1000) in Array.init 6 (fun _ -> b, rnd.Next(-3072, 3073)))
            let labels = Array.init 8 (fun _ -> rnd.Next 6)
            use theta = Tensor.ofRows ctx (rows |> Array.map (Array.map (fun (b, m) -> float b + float m / 1024.0)))
            use y = Scope.tensor (fun () -> FenchelYoung.oneHot 6 (Tensor.indices ctx.Device (Array.map int64 labels)) theta)
            use l = FenchelYoung.loss SquaredNorm.simplex theta y
            let got = Tensor.toArray l
            for i in 0 .. 7 do
                let expected = sparsemaxLossReference (rows[i] |> Array.map (fun (b, m) -> decimal b + decimal m / 1024m)) labels[i]
                Expect.isLessThanOrEqual (abs (got[i] - expected)) 1e-12 (sprintf "row %d: |loss − reference|" i)

        testCase "NaN or ±Inf in θ is refused naming theta, its shape, and the row" <| fun () ->
            use y = Scope.tensor (fun () -> FenchelYoung.oneHot 3 (Tensor.indices ctx.Device [| 0L; 1L; 2L; 0L |]) (Tensor.zeros ctx [ 1L ]))
            use labels = Tensor.indices ctx.Device [| 0L; 1L; 2L; 0L |]
            for bad, what in [ nan, "NaN"; infinity, "+Inf"; -infinity, "-Inf" ] do
                use theta = scoresWith bad
                for r in [ Shannon.regularizer; SquaredNorm.simplex; FermiDirac.regularizer ] do
                    for name, call in
                        [ "loss", (fun () -> FenchelYoung.loss r theta y |> ignore)
                          "lossTracked", (fun () -> FenchelYoung.lossTracked r theta y |> ignore)
                          "meanLoss", (fun () -> FenchelYoung.meanLoss r theta y |> ignore)
                          "gradient", (fun () -> FenchelYoung.gradient r theta y |> ignore)
                          "lossOfLabels", (fun () -> FenchelYoung.lossOfLabels r theta labels |> ignore) ] do
                        let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> call
                        Expect.equal e.ParamName "theta" (sprintf "%s %s: names theta" r.Name name)
                        for part in [ "[4, 3]"; what; "row 2, column 1" ] do
                            Expect.stringContains e.Message part (sprintf "%s %s %s" r.Name name part)

        testCase "an empty batch (n = 0 or k = 0) is refused with ArgumentException naming the shape" <| fun () ->
            for shape, text in [ [ 0L; 3L ], "[0, 3]"; [ 2L; 0L ], "[2, 0]" ] do
                use theta = Tensor.zeros ctx shape
                use y = Tensor.zeros ctx shape
                for r in [ Shannon.regularizer; SquaredNorm.simplex; FermiDirac.regularizer ] do
                    for call in [ (fun () -> FenchelYoung.loss r theta y |> ignore); (fun () -> FenchelYoung.lossTracked r theta y |> ignore)
                                  (fun () -> FenchelYoung.gradient r theta y |> ignore); (fun () -> FenchelYoung.meanLoss r theta y |> ignore) ] do
                        let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> call
                        Expect.equal e.ParamName "theta" "names theta"
                        Expect.stringContains e.Message text "names the shape"
            use theta0 = Tensor.zeros ctx [ 0L; 3L ]
            use labels0 = Tensor.indices ctx.Device [||]
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.lossOfLabels Shannon.regularizer theta0 labels0 |> ignore)
            Expect.stringContains e.Message "[0, 3]" "names the shape"
            let e2 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.oneHot 3 labels0 theta0 |> ignore)
            Expect.equal e2.ParamName "labels" "oneHot names the labels"

        testCase "non-integral float labels are refused, integral ones accepted" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 0.1; 0.2; 0.3 |]; [| 1.0; -1.0; 0.0 |] |]
            use half = Tensor.ofArray ctx [| 1.0; 0.5 |]
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.lossOfLabels Shannon.regularizer theta half |> ignore)
            Expect.equal e.ParamName "labels" "names labels"
            for part in [ "integer class indices"; "0.5"; "position 1"; "[2]" ] do Expect.stringContains e.Message part part
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.oneHot 3 half theta |> ignore) |> ignore
            use nanLabel = Tensor.ofArray ctx [| 1.0; nan |]
            let e2 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> FenchelYoung.lossOfLabels Shannon.regularizer theta nanLabel |> ignore)
            Expect.equal e2.ParamName "labels" "a NaN label names labels"
            use integral = Tensor.ofArray ctx [| 2.0; 0.0 |]
            use asInt = Tensor.indices ctx.Device [| 2L; 0L |]
            use a = FenchelYoung.lossOfLabels Shannon.regularizer theta integral
            use b = FenchelYoung.lossOfLabels Shannon.regularizer theta asInt
            Expect.equal (Tensor.toArray a) (Tensor.toArray b) "2.0 and 0.0 are the classes 2 and 0"
    ]
