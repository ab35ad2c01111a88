module EnergyFs.Tests.Data.UciRegressionTests

open System
open System.IO
open Expecto
open EnergyFs
open EnergyFs.Data
open EnergyFs.Tests.Data.Fixtures

let ctx = Context.cpu64

/// A copy of a real dataset folder in a temporary folder, with `edit` applied to its files' text.
let private copyOf (name: string) (edit: string -> string -> string) =
    let dir = new TempDir()
    for f in Directory.GetFiles(Paths.find name) do
        let file = Path.GetFileName f
        dir.Write file (edit file (File.ReadAllText f)) |> ignore
    dir

/// Replaces line `n` (1-based) of `text`.
let private replaceLine n (replacement: string) (text: string) =
    let ls = text.Split('\n')
    ls[n - 1] <- replacement
    String.Join("\n", ls)

let private column (t: Tensor) = Tensor.toArray t

[<Tests>]
let tests =
    testList "Data.UciRegression" [
        for name, n, test, d in [ "uci_concrete", 927, 103, 8; "uci_energy", 691, 77, 8; "uci_yacht", 277, 31, 6; "uci_power-plant", 8611, 957, 4 ] do
            testCase (sprintf "%s: %d / %d rows, %d features, 20 splits" name n test d) <| fun () ->
                use s = UciRegression.loadNamed ctx name 3
                Expect.equal (Tensor.shape s.Train.X, Tensor.shape s.Train.Y) ([ int64 n; int64 d ], [ int64 n; 1L ]) "train shapes"
                Expect.equal (Tensor.shape s.Test.X, Tensor.shape s.Test.Y) ([ int64 test; int64 d ], [ int64 test; 1L ]) "test shapes"
                Expect.equal (s.Name, s.Split, s.SplitCount, s.TargetColumn) (name, 3, 20, d) "metadata"
                Expect.equal s.FeatureColumns [| 0 .. d - 1 |] "feature columns"

        testCase "concrete split 0 without standardization holds the rows of data.txt" <| fun () ->
            let dir = Paths.find "uci_concrete"
            use s = UciRegression.loadWith { StandardizeX = false; StandardizeY = false } ctx dir 0
            let firstTrain = File.ReadAllLines(Path.Combine(dir, "index_train_0.txt"))[0] |> int
            Expect.equal firstTrain 339 "index_train_0.txt starts with row 339"
            let dataLines = File.ReadAllLines(Path.Combine(dir, "data.txt"))
            let row = dataLines[339].Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> Array.map float
            let x = Tensor.toArray2D s.Train.X
            let y = column s.Train.Y
            Expect.equal x[0, *] row[.. 7] "features of row 339"
            Expect.equal y[0] row[8] "target of row 339"
            Expect.equal (s.YMean, s.YStd) (0.0, 1.0) "identity standardizer"

        testCase "standardization is fitted on train; YMean/YStd recover original units" <| fun () ->
            let dir = Paths.find "uci_yacht"
            use raw = UciRegression.loadWith { StandardizeX = false; StandardizeY = false } ctx dir 5
            use s = UciRegression.load ctx dir 5
            let yRaw = column raw.Train.Y
            let mean = Array.average yRaw
            let std = sqrt (Array.averageBy (fun v -> (v - mean) ** 2.0) yRaw)
            Expect.floatClose Accuracy.high s.YMean mean "YMean is the train target mean"
            Expect.floatClose Accuracy.high s.YStd std "YStd is the train target std (ddof 0)"
            Expect.floatClose Accuracy.high (Array.average (column s.Train.Y)) 0.0 "standardized train targets have mean 0"
            let x = Tensor.toArray2D s.Train.X
            for j in 0 .. 5 do
                Expect.floatClose Accuracy.high (Array.average x[*, j]) 0.0 (sprintf "feature %d mean 0" j)
                Expect.floatClose Accuracy.high (sqrt (Array.averageBy (fun v -> v * v) x[*, j])) 1.0 (sprintf "feature %d std 1" j)
            use back = UciRegression.toOriginalUnits s s.Test.Y
            Expect.isLessThan (Tensor.maxAbsDiff back raw.Test.Y) 1e-9 "test targets back in original units"
            Expect.isGreaterThan (abs (Array.average (column s.Test.Y))) 1e-6 "test is not re-centred on its own mean"

        testCase "a missing split names the file and the number of splits" <| fun () ->
            let dir = Paths.find "uci_energy"
            let e = Expect.throwsC (fun () -> UciRegression.load ctx dir 25 |> ignore) id
            Expect.isTrue (e :? FileNotFoundException) (sprintf "FileNotFoundException, got %s" (e.GetType().Name))
            Expect.stringContains e.Message "index_train_25.txt" "names the file"
            Expect.stringContains e.Message "this dataset has 20 splits (0..19)" "says how many splits exist"

        testCase "a non-numeric value in data.txt names the file and line" <| fun () ->
            use dir = copyOf "uci_yacht" (fun f t -> if f = "data.txt" then replaceLine 3 "1.0 2.0 x3 4 5 6 7" t else t)
            expectFormatError (Path.Combine(dir.Path, "data.txt")) 3 "expected a number in column 3, found 'x3'" (fun () -> UciRegression.load ctx dir.Path 0) |> ignore

        testCase "NaN in data.txt names the file and line" <| fun () ->
            use dir = copyOf "uci_yacht" (fun f t -> if f = "data.txt" then replaceLine 17 "1 2 3 4 5 6 NaN" t else t)
            expectFormatError (Path.Combine(dir.Path, "data.txt")) 17 "value 'NaN' in column 7 is not a finite number" (fun () -> UciRegression.load ctx dir.Path 0) |> ignore

        testCase "rows of differing width name the line" <| fun () ->
            use dir = copyOf "uci_yacht" (fun f t -> if f = "data.txt" then replaceLine 40 "1 2 3 4 5 6" t else t)
            expectFormatError (Path.Combine(dir.Path, "data.txt")) 40 "row has 6 values but the first row (line 1) has 7" (fun () -> UciRegression.load ctx dir.Path 0) |> ignore

        testCase "a row index out of range names the index file and line" <| fun () ->
            use dir = copyOf "uci_yacht" (fun f t -> if f = "index_test_2.txt" then replaceLine 4 "308" t else t)
            expectFormatError (Path.Combine(dir.Path, "index_test_2.txt")) 4 "index 308 is out of range: data.txt has 308 rows" (fun () -> UciRegression.load ctx dir.Path 2) |> ignore

        testCase "a row in both train and test is rejected" <| fun () ->
            use dir = copyOf "uci_yacht" (fun f t -> if f = "index_test_0.txt" then replaceLine 1 (File.ReadAllLines(Path.Combine(Paths.find "uci_yacht", "index_train_0.txt"))[0]) t else t)
            expectFormatError (Path.Combine(dir.Path, "index_test_0.txt")) 0 "in both the training and the test split" (fun () -> UciRegression.load ctx dir.Path 0) |> ignore

        testCase "a missing folder given as a path is reported as given (DirectoryNotFoundException)" <| fun () ->
            use tmp = new TempDir()
            let absent = Path.Combine(tmp.Path, "no-such-uci-set")
            for given in [ absent; Path.Combine("no-such-parent", "uci_concrete") ] do
                for name, call in [ "load", (fun () -> UciRegression.load ctx given 0 |> ignore)
                                    "loadNamed", (fun () -> UciRegression.loadNamed ctx given 0 |> ignore)
                                    "resolve", (fun () -> UciRegression.resolve given |> ignore) ] do
                    let e = EnergyFs.Tests.Expectations.raisesOf<DirectoryNotFoundException> call
                    Expect.stringContains e.Message (sprintf "'%s' does not exist" given) (sprintf "%s names the path as given" name)
                    Expect.isFalse (e.Message.Contains("uci_" + given)) (sprintf "%s: no prefix glued to the path" name)
                    Expect.isFalse (e.Message.Contains(Paths.root ())) (sprintf "%s: the data folder is not involved" name)

        testCase "an unknown bare name reports the name and the folder looked for" <| fun () ->
            for given, folder in [ "no-such-set", "uci_no-such-set"; "uci_no-such-set", "uci_no-such-set" ] do
                let e = EnergyFs.Tests.Expectations.raisesOf<DirectoryNotFoundException> (fun () -> UciRegression.loadNamed ctx given 0 |> ignore)
                Expect.stringContains e.Message (sprintf "UCI dataset '%s' not found" given) "names the name as given"
                Expect.stringContains e.Message (sprintf "looked for the folder %s in the data folder %s" folder (Paths.root ())) "says where it looked"
                Expect.stringContains e.Message "uci_concrete" "lists the UCI datasets present"
            let e = EnergyFs.Tests.Expectations.raisesOf<DirectoryNotFoundException> (fun () -> UciRegression.load ctx "no-such-set" 0 |> ignore)
            Expect.stringContains e.Message "'no-such-set' does not exist" "load takes a folder and names it as given"
            Expect.stringContains e.Message "loadNamed" "and points to loadNamed for names"

        testCase "a bare name resolves with or without the prefix, and a path as itself" <| fun () ->
            let dir = Paths.find "uci_yacht"
            Expect.equal (UciRegression.resolve "yacht") dir "without the prefix"
            Expect.equal (UciRegression.resolve "uci_yacht") dir "with the prefix"
            Expect.equal (UciRegression.resolve (dir + string Path.DirectorySeparatorChar)) (dir + string Path.DirectorySeparatorChar) "a path"
            use s = UciRegression.loadNamed ctx "yacht" 0
            Expect.equal s.Name "uci_yacht" "loads the dataset"
    ]
