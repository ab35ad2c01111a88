module EnergyFs.Tests.Data.MulanTests

open System
open System.IO
open Expecto
open EnergyFs
open EnergyFs.Data
open EnergyFs.Tests.Data.Fixtures

let ctx = Context.cpu

let private toyHeader extra =
    "@relation toy\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute f3 numeric\n" + extra + "@attribute L1 {0,1}\n@attribute L2 {0,1}\n@data\n"

let private toyTrain =
    toyHeader "" + String.Join("\n", [ for i in 1 .. 10 -> sprintf "%d,%d,5,%d,%d" i (10 * i) (i % 2) (i / 3 % 2) ]) + "\n"

let private toyTest = toyHeader "" + "0,0,5,1,1\n11,110,6,0,0\n"

let private xml (labels: string list) =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<labels xmlns=\"http://mulan.sourceforge.net/labels\">\n"
    + String.Join("\n", labels |> List.map (sprintf "<label name=\"%s\"></label>")) + "\n</labels>\n"

/// A folder holding toy-train.arff, toy-test.arff and toy.xml.
let private toy (train: string) (test: string) (labels: string list) =
    let dir = new TempDir()
    dir.Write "toy-train.arff" train |> ignore
    dir.Write "toy-test.arff" test |> ignore
    dir.Write "toy.xml" (xml labels) |> ignore
    dir

let private column (j: int) (t: Tensor) = Tensor.toArray2D t |> fun a -> a[*, j]

/// Checks the shapes of a real MULAN dataset and returns its label cardinality on train ∪ test.
let private checkReal name trainRows testRows features labels =
    use d = Mulan.loadNamed ctx name
    Expect.equal (Tensor.shape d.Train.Features) [ int64 trainRows; int64 features ] "train features"
    Expect.equal (Tensor.shape d.Train.Labels) [ int64 trainRows; int64 labels ] "train labels"
    Expect.equal (Tensor.shape d.Test.Features) [ int64 testRows; int64 features ] "test features"
    Expect.equal (Tensor.shape d.Test.Labels) [ int64 testRows; int64 labels ] "test labels"
    Expect.equal (d.FeatureCount, d.LabelCount) (features, labels) "counts"
    Expect.equal d.Train.Features.dtype TorchSharp.torch.ScalarType.Float32 "context dtype"
    for set in [ d.Train; d.Test ] do
        let ones = Tensor.toScalar (Tensor.sum (set.Labels.eq (TorchSharp.Scalar.op_Implicit 1.0)))
        let zeros = Tensor.toScalar (Tensor.sum (set.Labels.eq (TorchSharp.Scalar.op_Implicit 0.0)))
        Expect.equal (ones + zeros) (float (set.Count * labels)) "labels are 0/1"
    (Mulan.labelCardinality d.Train * float trainRows + Mulan.labelCardinality d.Test * float testRows) / float (trainRows + testRows)

[<Tests>]
let tests =
    testList "Data.Mulan" [
        testCase "yeast: 1500 + 917 rows, 103 features, 14 labels" <| fun () ->
            let card = checkReal "yeast" 1500 917 103 14
            Expect.floatClose { absolute = 0.005; relative = 0.0 } card 4.237 "label cardinality (MULAN: 4.237)"

        testCase "scene: 1211 + 1196 rows, 294 features, 6 labels" <| fun () ->
            let card = checkReal "scene" 1211 1196 294 6
            Expect.floatClose { absolute = 0.005; relative = 0.0 } card 1.074 "label cardinality (MULAN: 1.074)"

        testCase "emotions: 391 + 202 rows, 72 features, 6 labels" <| fun () ->
            let card = checkReal "emotions" 391 202 72 6
            Expect.floatClose { absolute = 0.005; relative = 0.0 } card 1.869 "label cardinality (MULAN: 1.869)"

        testCase "bibtex (sparse): 4880 + 2515 rows, 1836 features, 159 labels, cardinality 2.40" <| fun () ->
            let card = checkReal "bibtex" 4880 2515 1836 159
            Expect.floatClose { absolute = 0.005; relative = 0.0 } card 2.402 "label cardinality (MULAN: 2.402)"

        testCase "yeast: labels in ARFF order although the XML lists them in another; values as written" <| fun () ->
            let dir = Paths.find "yeast"
            let fromXml = Mulan.labelNames (Path.Combine(dir, "yeast.xml"))
            Expect.equal fromXml[3] "Class6" "the XML's own order"
            use d = Mulan.load Context.cpu64 dir "yeast"
            Expect.equal d.LabelNames [| for i in 1 .. 14 -> sprintf "Class%d" i |] "ARFF order"
            Expect.equal d.FeatureNames[102] "Att103" "last feature"
            let first = Tensor.toArray2D d.Train.Features
            Expect.equal (first[0, 0], first[0, 1]) (0.0937, 0.139771) "first row"

        testCase "standardize fits on train only; constant columns map to 0" <| fun () ->
            use dir = toy toyTrain toyTest [ "L2"; "L1" ]
            use raw = Mulan.load Context.cpu64 dir.Path "toy"
            Expect.equal raw.LabelNames [| "L1"; "L2" |] "label names"
            use d = Mulan.standardize raw
            let mean = 5.5
            let std = sqrt ((List.sumBy (fun i -> (float i - mean) ** 2.0) [ 1 .. 10 ]) / 10.0)
            let f1 = column 0 d.Train.Features
            Expect.floatClose Accuracy.high (Array.average f1) 0.0 "train mean 0"
            Expect.floatClose Accuracy.high (sqrt (Array.averageBy (fun v -> v * v) f1)) 1.0 "train std 1"
            Expect.equal (column 2 d.Train.Features) (Array.zeroCreate 10) "constant column → 0"
            let stds = Standardizer.stds d.Standardizer.Value
            Expect.equal stds[2] 1.0 "constant column std 1"
            let t = Tensor.toArray2D d.Test.Features
            Expect.floatClose Accuracy.high t[1, 0] ((11.0 - mean) / std) "test uses the train statistics"
            Expect.floatClose Accuracy.high t[1, 2] 1.0 "test's constant-column deviation kept (std 1)"
            Expect.equal (Tensor.toArray2D d.Test.Labels) (Tensor.toArray2D raw.Test.Labels) "labels untouched"

        testCase "validationSplit carves validation from train only, reproducibly" <| fun () ->
            use dir = toy toyTrain toyTest [ "L1"; "L2" ]
            use raw = Mulan.load Context.cpu64 dir.Path "toy"
            let split seed =
                use rng = new Rng(seed, ctx.Device)
                Mulan.validationSplit rng 0.3 raw
            use a = split 7L
            use b = split 7L
            Expect.equal a.Train.Count 7 "train rows"
            Expect.equal a.Validation.Value.Count 3 "validation rows"
            let trainIds = column 0 a.Train.Features
            let valIds = column 0 a.Validation.Value.Features
            Expect.equal (Array.append trainIds valIds |> Array.sort) [| 1.0 .. 10.0 |] "a partition of train"
            Expect.equal valIds (column 0 b.Validation.Value.Features) "same seed, same split"
            Expect.equal (Tensor.toArray2D a.Test.Features) (Tensor.toArray2D raw.Test.Features) "test untouched"
            // Labels travel with their rows: L1 = id mod 2.
            Expect.equal (column 0 a.Validation.Value.Labels) (valIds |> Array.map (fun i -> float (int i % 2))) "rows intact"
            use rng = new Rng(1L, ctx.Device)
            Expect.throwsT<ArgumentException> (fun () -> Mulan.validationSplit rng 1.0 raw |> ignore) "fraction 1 is rejected"

        testCase "round trip: dense and sparse ARFF rows load as the tensors written, labels last" <| fun () ->
            let header = "@relation t\n@attribute a numeric\n@attribute b numeric\n@attribute l1 {0,1}\n@attribute l2 {0,1}\n@data\n"
            use dir = new TempDir()
            dir.Write "t-train.arff" (header + "1.5,2,0,1\n-1,0.25,1,1\n") |> ignore
            dir.Write "t-test.arff" (header + "{0 1.5,1 2,3 1}\n{1 0.25,2 1}\n") |> ignore
            dir.Write "t.xml" (xml [ "l1"; "l2" ]) |> ignore
            use d = Mulan.load Context.cpu64 dir.Path "t"
            Expect.equal (Tensor.toRows d.Train.Features) [| [| 1.5; 2.0 |]; [| -1.0; 0.25 |] |] "dense features"
            Expect.equal (Tensor.toRows d.Train.Labels) [| [| 0.0; 1.0 |]; [| 1.0; 1.0 |] |] "dense labels"
            Expect.equal (Tensor.toRows d.Test.Features) [| [| 1.5; 2.0 |]; [| 0.0; 0.25 |] |] "sparse features (omitted = 0)"
            Expect.equal (Tensor.toRows d.Test.Labels) [| [| 0.0; 1.0 |]; [| 1.0; 0.0 |] |] "sparse labels"
            Expect.equal (d.FeatureNames, d.LabelNames) ([| "a"; "b" |], [| "l1"; "l2" |]) "names"
            let folder = Path.Combine(dir.Path, "t")
            Directory.CreateDirectory folder |> ignore
            for f in [ "t-train.arff"; "t-test.arff"; "t.xml" ] do File.Copy(Path.Combine(dir.Path, f), Path.Combine(folder, f))
            use fromPath = Mulan.loadFrom Context.cpu64 folder
            Expect.equal fromPath.Name "t" "loadFrom names the dataset after its folder"
            Expect.equal (Tensor.toRows fromPath.Test.Labels) (Tensor.toRows d.Test.Labels) "the same data"

        testCase "validationSplit then standardize: statistics of the remaining training rows only" <| fun () ->
            use dir = toy toyTrain toyTest [ "L1"; "L2" ]
            use raw = Mulan.load Context.cpu64 dir.Path "toy"
            use rng = new Rng(5L, ctx.Device)
            use split = Mulan.validationSplit rng 0.3 raw
            use d = Mulan.standardize split
            let ids = column 0 split.Train.Features
            let mean = Array.average ids
            Expect.floatClose Accuracy.high (Standardizer.means d.Standardizer.Value).[0] mean "the mean of the 7 training rows"
            let v = Tensor.toArray2D d.Validation.Value.Features
            let std = sqrt (ids |> Array.averageBy (fun i -> (i - mean) ** 2.0))
            Expect.floatClose Accuracy.high v[0, 0] (((column 0 split.Validation.Value.Features).[0] - mean) / std) "validation uses the training statistics"
            Expect.throwsT<ArgumentException> (fun () -> Mulan.standardize d |> ignore) "standardizing twice is refused"
            use d32 = Mulan.toContext Context.cpu d
            Expect.equal d32.Validation.Value.Features.dtype TorchSharp.torch.ScalarType.Float32 "moved"
            Expect.equal d32.Standardizer.Value.Mean.dtype TorchSharp.torch.ScalarType.Float32 "standardizer moved too"

        testCase "a wrong number of labels names the file and the attribute" <| fun () ->
            use dir = toy toyTrain toyTest [ "L1"; "L2"; "L3" ]
            let e = expectFormatError (Path.Combine(dir.Path, "toy-train.arff")) 0 "attribute 3 'f3' is not a label named in toy.xml" (fun () -> Mulan.load ctx dir.Path "toy")
            Expect.stringContains e.Message "the last 3 attributes must be the 3 labels" "explains the convention"

        testCase "a misnamed label names the attribute that differs" <| fun () ->
            use dir = toy toyTrain toyTest [ "L1"; "Lx" ]
            expectFormatError (Path.Combine(dir.Path, "toy-train.arff")) 0 "attribute 5 'L2' is not a label named in toy.xml" (fun () -> Mulan.load ctx dir.Path "toy") |> ignore

        testCase "train and test with different features name both files" <| fun () ->
            use dir = toy toyTrain (toyHeader "@attribute f4 numeric\n" + "1,2,3,4,1,0\n") [ "L1"; "L2" ]
            let e = expectFormatError (Path.Combine(dir.Path, "toy-test.arff")) 0 "train and test must declare the same attributes" (fun () -> Mulan.load ctx dir.Path "toy")
            Expect.stringContains e.Message (Path.Combine(dir.Path, "toy-train.arff")) "names the train file too"

        testCase "labels other than 0/1 are rejected" <| fun () ->
            let numericLabels = toyTrain.Replace("@attribute L2 {0,1}", "@attribute L2 numeric").Replace("10,100,5,0,1", "10,100,5,0,2")
            use dir = toy numericLabels toyTest [ "L1"; "L2" ]
            expectFormatError (Path.Combine(dir.Path, "toy-train.arff")) 0 "label 'L2' has value 2 in instance 10" (fun () -> Mulan.load ctx dir.Path "toy") |> ignore

        testCase "a format error in a split names the ARFF file and line" <| fun () ->
            use dir = toy (toyTrain.Replace("3,30,5", "3,3O,5")) toyTest [ "L1"; "L2" ]
            expectFormatError (Path.Combine(dir.Path, "toy-train.arff")) 10 "expected a number for attribute 2 'f2', found '3O'" (fun () -> Mulan.load ctx dir.Path "toy") |> ignore

        testCase "malformed label XML names the file and line" <| fun () ->
            use dir = toy toyTrain toyTest [ "L1"; "L2" ]
            let path = dir.Write "toy.xml" "<?xml version=\"1.0\"?>\n<labels>\n<label name=\"L1\">\n</labels>\n"
            expectFormatError path 4 "not well-formed XML" (fun () -> Mulan.labelNames path) |> ignore
            let path = dir.Write "toy.xml" "<labels>\n<label name=\"L1\"/>\n<label/>\n</labels>\n"
            expectFormatError path 3 "<label> without a name attribute" (fun () -> Mulan.labelNames path) |> ignore
    ]
