/// The README's code blocks are the example regions of examples/, verbatim; the examples run.
module EnergyFs.Tests.ReadmeTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto

/// The repository root: the first parent folder of the test assembly holding EnergyFs.sln.
let repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "EnergyFs.sln not found above the test assembly"
        elif File.Exists(Path.Combine(dir.FullName, "EnergyFs.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// The regions `// readme:begin NAME` … `// readme:end` of a source file, dedented.
let regions (path: string) =
    let text = File.ReadAllText(path).Replace("\r\n", "\n")
    [ for m in Regex.Matches(text, @"// readme:begin (\S+)\n(.*?)\n[ \t]*// readme:end", RegexOptions.Singleline) ->
        let lines = m.Groups[2].Value.Split('\n')
        let indent = lines |> Array.filter (fun l -> l.Trim() <> "") |> Array.map (fun l -> l.Length - l.TrimStart().Length) |> Array.min
        m.Groups[1].Value, lines |> Array.map (fun l -> if l.Length >= indent then l.Substring indent else l.TrimStart()) |> String.concat "\n" ]

[<Tests>]
let tests =
    testList "Readme" [
        for file in [ "examples/FSharp/Examples.fs"; "examples/CSharp/Examples.cs"; "examples/CSharp/CustomEnergyExample.cs" ] do
            let path = Path.Combine(repositoryRoot, file)
            let found = regions path
            test (sprintf "%s has README regions" file) { Expect.isNonEmpty found "at least one region" }
            for name, code in found do
                test (sprintf "README shows %s verbatim" name) {
                    let readme = File.ReadAllText(Path.Combine(repositoryRoot, "README.md")).Replace("\r\n", "\n")
                    Expect.stringContains readme code (sprintf "README.md must contain the region %s of %s" name file)
                }
        test "the F# differentiation example runs and its check passes" {
            Expect.isTrue (EnergyFs.Examples.FSharp.Examples.differentiation ()) "check passed"
        }
        test "the F# training example fits" {
            let loss = EnergyFs.Examples.FSharp.Examples.training ()
            Expect.isLessThan loss 0.05 "final training loss"
        }
    ]
