module EnergyFs.Tests.Training.ModelFileTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Tests.Training.TrainingFixtures

let private withFolder (f: string -> unit) =
    let dir = Directory.CreateTempSubdirectory("energyfs-modelfile-").FullName
    try f dir finally Directory.Delete(dir, true)

let private header () =
    let o = JsonObject()
    o["width"] <- JsonValue.Create 3
    o["name"] <- JsonValue.Create "tiny"
    o

[<Tests>]
let tests =
    testList "Training.ModelFile" [
        testCase "a module's state round-trips exactly with its header" <| fun () ->
            withFolder (fun dir ->
                let path = Path.Combine(dir, "a", "m.efs")
                use m = model 21L
                ModelFile.save path "test-kind" (header ()) (ModelFile.moduleTensors m)
                let h, tensors = ModelFile.load path "test-kind"
                Expect.equal (ModelFile.readInt path h "width") 3 "int"
                Expect.equal (ModelFile.readText path h "name") "tiny" "text"
                use m2 = model 22L
                Expect.notEqual (parameters m2) (parameters m) "different before loading"
                ModelFile.loadInto path m2 tensors
                Scope.disposeAll (List.map snd tensors)
                Expect.sequenceEqual (parameters m2) (parameters m) "identical after loading")

        testCase "wrong kind, newer version, truncation and a missing file are named" <| fun () ->
            withFolder (fun dir ->
                let path = Path.Combine(dir, "m.efs")
                use m = model 23L
                ModelFile.save path "test-kind" (header ()) (ModelFile.moduleTensors m)
                let fails (p: string) (kind: string) (text: string) =
                    let e = Expect.throwsC (fun () -> ModelFile.load p kind |> ignore) id
                    Expect.isTrue (e :? InvalidDataException) (sprintf "InvalidDataException, got %s: %s" (e.GetType().Name) e.Message)
                    Expect.stringContains e.Message p "names the file"
                    Expect.stringContains e.Message text "says why"
                fails path "other-kind" "holds a 'test-kind' model, not a 'other-kind'"
                let bytes = File.ReadAllBytes path
                let cut = Path.Combine(dir, "cut.efs")
                for length in [ bytes.Length - 1; bytes.Length / 2; 20 ] do
                    File.WriteAllBytes(cut, bytes[.. length - 1])
                    fails cut "test-kind" "truncated"
                let newer = Path.Combine(dir, "newer.efs")
                let copy = Array.copy bytes
                BitConverter.GetBytes(ModelFile.formatVersion + 1).CopyTo(copy, 1 + ModelFile.magic.Length)
                File.WriteAllBytes(newer, copy)
                fails newer "test-kind" "newer"
                let longer = Path.Combine(dir, "longer.efs")
                File.WriteAllBytes(longer, Array.append bytes [| 0uy; 1uy |])
                fails longer "test-kind" "bytes follow"
                let other = Path.Combine(dir, "other.txt")
                File.WriteAllText(other, "not a model")
                fails other "test-kind" "not an EnergyFs model file"
                Expect.throwsT<FileNotFoundException> (fun () -> ModelFile.load (Path.Combine(dir, "absent.efs")) "test-kind" |> ignore) "missing")

        testCase "loading into a module of another shape names the tensor" <| fun () ->
            withFolder (fun dir ->
                let path = Path.Combine(dir, "m.efs")
                use m = model 24L
                ModelFile.save path "test-kind" (header ()) [ for n, t in ModelFile.moduleTensors m -> n, t.unsqueeze 0L ]
                let _, tensors = ModelFile.load path "test-kind"
                use m2 = model 25L
                let e = Expect.throwsC (fun () -> ModelFile.loadInto path m2 tensors) id
                Scope.disposeAll (List.map snd tensors)
                Expect.isTrue (e :? InvalidDataException) "InvalidDataException"
                Expect.stringContains e.Message "has shape" "names the shape")
    ]
