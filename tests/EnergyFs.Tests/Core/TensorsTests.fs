module EnergyFs.Tests.Core.TensorsTests

open System
open Expecto
open EnergyFs
open EnergyFs.Tests.Generators

let ctx = Context.cpu64

[<Tests>]
let tests =
    testList "Core.Tensors" [
        testCase "ofArray round-trips through toArray" <| fun () ->
            use t = Tensor.ofArray ctx [| 1.0; -2.5; 3.25 |]
            Expect.equal (Tensor.toArray t) [| 1.0; -2.5; 3.25 |] "values"

        testCase "ofRows names the ragged row" <| fun () ->
            let ex = Expect.throwsC (fun () -> Tensor.ofRows ctx [| [| 1.0; 2.0 |]; [| 3.0 |] |] |> ignore) id
            Expect.stringContains ex.Message "row 1 has 1 values" "message names the row"

        testCase "scalar helpers need no annotations" <| fun () ->
            use x = Tensor.ofArray ctx [| 1.0; 2.0; 3.0 |]
            use y = Tensor.pow 2.0 x * 0.5 + 1.0
            Expect.equal (Tensor.toArray y) [| 1.5; 3.0; 5.5 |] "x²/2 + 1"
            Expect.equal (Tensor.toScalar (Tensor.sum x)) 6.0 "sum"
            Expect.equal (Tensor.toArray (Tensor.clamp 1.5 2.5 x)) [| 1.5; 2.0; 2.5 |] "clamp"

        testCase "reductions over a dimension" <| fun () ->
            use m = Tensor.ofArray2D ctx (array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ])
            Expect.equal (Tensor.toArray (Tensor.sumDim 0 m)) [| 4.0; 6.0 |] "sum over rows"
            Expect.equal (Tensor.toArray (Tensor.meanDim 1 m)) [| 1.5; 3.5 |] "mean over columns"
            Expect.equal (Tensor.toArray (Tensor.maxDim 1 m)) [| 2.0; 4.0 |] "max over columns"
            Expect.floatClose Accuracy.high (Tensor.toArray (Tensor.logsumexp 1 m)).[0] (log (exp 1.0 + exp 2.0)) "logsumexp"

        testCase "xlogx is 0 at 0" <| fun () ->
            use x = Tensor.ofArray ctx [| 0.0; 1.0; 0.5 |]
            let v = Tensor.toArray (Tensor.xlogx x)
            Expect.equal v[0] 0.0 "0 log 0"
            Expect.floatClose Accuracy.high v[2] (0.5 * log 0.5) "0.5 log 0.5"

        property "dot equals the sum of the elementwise product" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            use a = Tensor.randn rng ctx [ 3L; 5L ]
            use b = Tensor.randn rng ctx [ 3L; 5L ]
            let d = Tensor.toArray (Tensor.dot a b)
            let a', b' = Tensor.toArray2D a, Tensor.toArray2D b
            for i in 0 .. 2 do
                let expected = Seq.sum (seq { for j in 0 .. 4 -> a'[i, j] * b'[i, j] })
                Expect.floatClose Accuracy.high d[i] expected "row dot"

        testCase "normalizeRows gives unit rows" <| fun () ->
            use rng = new Rng(3L, ctx.Device)
            use x = Tensor.randn rng ctx [ 4L; 3L ]
            let n = Tensor.toArray (Tensor.normDim 1 (Tensor.normalizeRows x))
            for v in n do Expect.floatClose Accuracy.high v 1.0 "unit norm"

        testCase "isFinite detects NaN" <| fun () ->
            use x = Tensor.ofArray ctx [| 1.0; nan |]
            Expect.isFalse (Tensor.isFinite x) "NaN is not finite"
    ]

/// log1p on the host (System.Math has none, and Double.LogP1 is log(1 + u)): the compensated form
/// log1p(u) = log(1 + u) · u / ((1 + u) − 1), exact to a few ulps (Goldberg 1991, Thm. 4), and u
/// itself when 1 + u rounds to 1.
let log1pHost (u: float) =
    let w = 1.0 + u
    if w = 1.0 then u else Math.Log w * u / (w - 1.0)

/// log(1 + e^x) in float64 on the host: max(x, 0) + log1p(e^−|x|).
let hostSoftplus (x: float) = max x 0.0 + log1pHost (Math.Exp(-(abs x)))

[<Tests>]
let softplusAndChecks =
    testList "Core.Tensors.softplusExact and Core.Checks" [
        testCase "softplusExact matches the float64 closed form on [−50, 50], 15–30 included" <| fun () ->
            let xs = Array.init 801 (fun i -> -50.0 + 0.125 * float i)
            use x = Tensor.ofArray ctx xs
            use sp = Tensor.softplusExact x
            let worst = Array.map2 (fun (a: float) x -> abs (a - hostSoftplus x) / hostSoftplus x) (Tensor.toArray sp) xs |> Array.max
            Expect.isLessThan worst 1e-15 "relative error"

        testCase "softplusExact: the autograd gradient is sigmoid, at 0 too" <| fun () ->
            use x = Tensor.ofArray ctx [| -40.0; -3.0; 0.0; 2.5; 25.0 |]
            use g = Diff.grad (fun t -> Tensor.sum (Tensor.softplusExact t)) x
            let sigmoid (v: float) = if v >= 0.0 then 1.0 / (1.0 + exp -v) else exp v / (1.0 + exp v)
            Array.iter2 (fun (a: float) v -> Expect.floatClose { absolute = 1e-16; relative = 1e-15 } a (sigmoid v) (sprintf "at %g" v))
                (Tensor.toArray g) [| -40.0; -3.0; 0.0; 2.5; 25.0 |]

        testCase "softplusExact leaves torch's softplus alone (threshold 20 kept for the energies)" <| fun () ->
            use x = Tensor.ofArray ctx [| 25.0 |]
            use torchSp = Tensor.softplus x
            Expect.equal (Tensor.toArray torchSp) [| 25.0 |] "torch's softplus returns x above 20"

        testCase "Checks.finite names the argument, the shape, the first bad entry and its kind" <| fun () ->
            use t = Tensor.ofRows ctx [| [| 1.0; 2.0; 3.0 |]; [| 0.0; 0.0; 0.0 |]; [| nan; 1.0; infinity |]; [| 0.0; 0.0; 0.0 |] |]
            let e = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Checks.finite "theta" t)
            Expect.equal e.ParamName "theta" "parameter name"
            for part in [ "theta contains 2 non-finite"; "[4, 3]"; "NaN"; "row 2, column 0" ] do
                Expect.stringContains e.Message part part
            use v = Tensor.ofArray ctx [| 0.0; -infinity |]
            let e1 = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Checks.finite "x" v)
            Expect.stringContains e1.Message "-Inf, is at position 1" "1-D position"
            use ok = Tensor.ofArray ctx [| 0.0; 1e308 |]
            Checks.finite "x" ok

        testCase "Checks.allFinite names the first argument with a non-finite entry, and passes finite ones whose sums overflow" <| fun () ->
            use good = Tensor.ofArray ctx [| 1.0; 2.0 |]
            use bad = Tensor.ofArray ctx [| 0.0; nan |]
            let e = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Checks.allFinite [ "unary", good; "transitions", bad ])
            Expect.equal e.ParamName "transitions" "the argument holding the NaN"
            Expect.stringContains e.Message "transitions contains 1 non-finite" "as Checks.finite says it"
            use huge = Tensor.ofArray ctx [| 1e308; 1e308 |]
            Checks.allFinite [ "a", huge; "b", huge ]
            Checks.allFinite []

        testCase "Checks.nonEmpty refuses a dimension of size 0, naming the shape" <| fun () ->
            use rows0 = Tensor.zeros ctx [ 0L; 3L ]
            use cols0 = Tensor.zeros ctx [ 2L; 0L ]
            for t, shape in [ rows0, "[0, 3]"; cols0, "[2, 0]" ] do
                let e = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Checks.nonEmpty "theta" t)
                Expect.equal e.ParamName "theta" "parameter name"
                Expect.stringContains e.Message shape "names the shape"
            use fine = Tensor.zeros ctx [ 1L; 1L ]
            Checks.nonEmpty "theta" fine
    ]
