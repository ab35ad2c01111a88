module EnergyFs.Tests.Data.MultilabelSetTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Tests.Generators

let ctx = Context.cpu64

/// Row i of the set carries its id i in feature 0 and i mod 2 in label 0, so that rows can be
/// followed through a split.
let private numbered (n: int) =
    let x = Array.init n (fun i -> [| float i; float (i * i) |])
    let y = Array.init n (fun i -> [| float (i % 2); 1.0 |])
    MultilabelSet.ofRows ctx x y

let private column (j: int) (t: Tensor) = Tensor.toRows t |> Array.map (fun r -> r[j])

/// A set of n random rows (d = 3 features, 2 labels), features shifted by `shift`.
let private randomSet (rng: Rng) (n: int) (shift: float) =
    use x = Tensor.randn rng ctx [ int64 n; 3L ]
    use shifted = x * 3.0 + shift
    use u = Tensor.rand rng ctx [ int64 n; 2L ]
    use y = u.gt(Pinned.scalar 0.5).to_type torch.ScalarType.Float64
    MultilabelSet.create shifted y

[<Tests>]
let tests =
    testList "Data.MultilabelSet" [
        property "split: same seed, same split; the two parts partition the rows and keep rows intact" <| fun (Seed seed) (size: PositiveInt) (percent: int) ->
            let n = 2 + size.Get % 60
            let fraction = float (1 + abs percent % 98) / 100.0
            let nVal = int (Math.Round(fraction * float n))
            if nVal < 1 || nVal > n - 1 then true
            else
                use data = numbered n
                let ids () =
                    use rng = new Rng(seed, torch.CPU)
                    let train, validation = MultilabelSet.split rng fraction data
                    use train = train
                    use validation = validation
                    Expect.equal (column 1 validation.Labels) (Array.create validation.Count 1.0) "labels travel with their rows"
                    Expect.equal (column 0 validation.Labels) (column 0 validation.Features |> Array.map (fun i -> float (int i % 2))) "rows intact"
                    column 0 train.Features, column 0 validation.Features
                let trainIds, valIds = ids ()
                let again = ids ()
                valIds.Length = nVal
                && Array.sort (Array.append trainIds valIds) = Array.init n float
                && again = (trainIds, valIds)

        property "the standardizer is fitted on training rows only: test rows do not change it" <| fun (Seed seed) ->
            use rng = new Rng(seed, torch.CPU)
            use train = randomSet rng 20 1.0
            use testA = randomSet rng 7 -4.0
            use testB = randomSet rng 30 9.0
            let standardized (test: MultilabelSet) =
                let raw = { Name = "r"; FeatureNames = [| "a"; "b"; "c" |]; LabelNames = [| "y0"; "y1" |]
                            Train = MultilabelSet.toContext ctx train; Validation = None; Test = MultilabelSet.toContext ctx test; Standardizer = None }
                use raw = raw
                Mulan.standardize raw
            use a = standardized testA
            use b = standardized testB
            use reference = Standardizer.fit train.Features
            use expected = Standardizer.apply reference testA.Features
            Standardizer.means a.Standardizer.Value = Standardizer.means b.Standardizer.Value
            && Standardizer.stds a.Standardizer.Value = Standardizer.stds b.Standardizer.Value
            && Standardizer.means a.Standardizer.Value = Standardizer.means reference
            && Tensor.toArray a.Train.Features = Tensor.toArray b.Train.Features
            && Tensor.maxAbsDiff a.Test.Features expected = 0.0

        testCase "standardize applies the training statistics to validation and test" <| fun () ->
            use rng = new Rng(3L, torch.CPU)
            use train = randomSet rng 40 2.0
            use s = Standardizer.fit train.Features
            use z = MultilabelSet.standardize s train
            let cols = Tensor.toRows z.Features
            for j in 0 .. 2 do
                let c = cols |> Array.map (fun r -> r[j])
                Expect.floatClose Accuracy.high (Array.average c) 0.0 "training mean 0"
                Expect.floatClose Accuracy.high (sqrt (Array.averageBy (fun v -> v * v) c)) 1.0 "training std 1 (ddof 0)"
            Expect.equal (Tensor.toArray z.Labels) (Tensor.toArray train.Labels) "labels copied unchanged"

        testCase "bad input names the argument and the shape" <| fun () ->
            Scope.run (fun () ->
                let x = Tensor.zeros ctx [ 4L; 2L ]
                let y3 = Tensor.zeros ctx [ 3L; 2L ]
                let e = Expect.throwsC (fun () -> MultilabelSet.create x y3 |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "labels" "names labels"
                Expect.stringContains e.Message "[4, 2]" "the features' shape"
                Expect.stringContains e.Message "[3, 2]" "the labels' shape"
                let y = Tensor.ofRows ctx [| [| 0.; 1. |]; [| 1.; 1. |]; [| 0.; 0.5 |]; [| 0.; 0. |] |]
                let e = Expect.throwsC (fun () -> MultilabelSet.create x y |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "labels" "names labels"
                Expect.stringContains e.Message "row 2, column 1 holds 0.5" "the first entry that is not 0/1"
                let e = Expect.throwsC (fun () -> MultilabelSet.create (Tensor.zeros ctx [ 4L ]) y |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "features" "names features"
                Expect.stringContains e.Message "[4]" "and its shape"
                let e = Expect.throwsC (fun () -> MultilabelSet.ofRows ctx [| [| 1. |]; [| 2.; 3. |] |] [| [| 0. |]; [| 1. |] |] |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "features" "ragged features named"
                Expect.stringContains e.Message "features[1] has 2 columns" "the ragged row"
                let e = Expect.throwsC (fun () -> MultilabelSet.ofRows ctx [| [| 1. |]; [| 2. |] |] [| [| 0. |] |] |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "labels" "row-count mismatch named"
                let e = Expect.throwsC (fun () -> MultilabelSet.ofRows ctx [| [| 1. |] |] [| [| 2. |] |] |> ignore) id :?> ArgumentException
                Expect.stringContains e.Message "labels[0][0] is 2" "labels must be 0/1"
                use a = numbered 4
                use wide = MultilabelSet.ofRows ctx [| [| 1.; 2.; 3. |] |] [| [| 0.; 1. |] |]
                let e = Expect.throwsC (fun () -> MultilabelSet.append a wide |> ignore) id :?> ArgumentException
                Expect.equal e.ParamName "second.Features" "append names the mismatched part")

        testCase "append, select and toContext copy rows in order" <| fun () ->
            use a = numbered 3
            use b = numbered 2
            use ab = MultilabelSet.append a b
            Expect.equal (column 0 ab.Features) [| 0.; 1.; 2.; 0.; 1. |] "rows of a, then b"
            use f32 = MultilabelSet.toContext Context.cpu ab
            Expect.equal f32.Features.dtype torch.ScalarType.Float32 "moved to float32"
            Expect.equal (Tensor.toArray f32.Labels) (Tensor.toArray ab.Labels) "same labels"
            use idx = Tensor.indices torch.CPU [| 4L; 0L |]
            use picked = MultilabelSet.select idx ab
            Expect.equal (column 0 picked.Features) [| 1.; 0. |] "selected rows"

        testCase "synthetic: same seed, same data; 0/1 labels; correlated neighbours" <| fun () ->
            let make seed =
                use rng = new Rng(seed, torch.CPU)
                MultilabelSet.synthetic rng Context.cpu 400 5 3
            use a = make 9L
            use b = make 9L
            use c = make 10L
            Expect.equal (Tensor.toArray a.Features) (Tensor.toArray b.Features) "same features"
            Expect.equal (Tensor.toArray a.Labels) (Tensor.toArray b.Labels) "same labels"
            Expect.notEqual (Tensor.toArray a.Features) (Tensor.toArray c.Features) "another seed, other data"
            Expect.equal (a.Count, a.FeatureCount, a.LabelCount) (400, 5, 3) "shape"
            MultilabelSet.check a.Features a.Labels
            let rows = Tensor.toRows a.Labels
            let both = rows |> Array.filter (fun r -> r[0] = 1.0 && r[1] = 1.0) |> Array.length
            let first = rows |> Array.filter (fun r -> r[0] = 1.0) |> Array.length
            let second = rows |> Array.filter (fun r -> r[1] = 1.0) |> Array.length
            Expect.isGreaterThan (float both / 400.0) (float first / 400.0 * float second / 400.0) "labels 0 and 1 co-occur more than independent ones"

        testCase "binary features are recognized (bag-of-words data is not standardized)" <| fun () ->
            use binary = MultilabelSet.ofRows ctx [| [| 0.; 1. |]; [| 1.; 1. |] |] [| [| 0. |]; [| 1. |] |]
            use dense = MultilabelSet.ofRows ctx [| [| 0.; 1. |]; [| 0.5; 1. |] |] [| [| 0. |]; [| 1. |] |]
            Expect.isTrue (MultilabelSet.hasBinaryFeatures binary) "0/1 features"
            Expect.isFalse (MultilabelSet.hasBinaryFeatures dense) "a 0.5 feature"
    ]
