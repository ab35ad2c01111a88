/// The line between the toolkit and the papers, checked on the built assemblies: the toolkit
/// (EnergyFs) references neither the papers assembly nor the reporting libraries (Plotly.NET,
/// Deedle), holds no paper experiment, and the C# facade references the toolkit only.
module EnergyFs.Tests.LayeringTests

open System.Reflection
open Expecto
open EnergyFs.Tests.DocCoverageTests

/// The names of the assemblies an assembly references.
let referencedNames (assembly: Assembly) =
    assembly.GetReferencedAssemblies () |> Array.map (fun a -> a.Name) |> Set.ofArray

/// The namespaces of an assembly's public types.
let publicNamespaces (assembly: Assembly) =
    assembly.GetExportedTypes () |> Array.choose (fun t -> Option.ofObj t.Namespace) |> Set.ofArray

[<Tests>]
let tests =
    testList "Layering" [
        test "the toolkit references no papers, reports or charting assembly" {
            let refs = referencedNames typeof<EnergyFs.Context>.Assembly
            for forbidden in [ "EnergyFs.Papers"; "Plotly.NET"; "Deedle"; "Argu"; "Spectre.Console" ] do
                Expect.isFalse (refs.Contains forbidden) (sprintf "EnergyFs must not reference %s (references: %A)" forbidden refs)
        }
        test "the toolkit has no experiment, reproduction or report namespace" {
            let spaces = publicNamespaces typeof<EnergyFs.Context>.Assembly
            let bad = spaces |> Set.filter (fun n -> n.StartsWith "EnergyFs.Experiments" || n.StartsWith "EnergyFs.Reproduction" || n.StartsWith "EnergyFs.Reports" || n.StartsWith "EnergyFs.Papers")
            Expect.isEmpty bad "paper code lives in EnergyFs.Papers"
        }
        test "the papers assembly builds on the toolkit" {
            let refs = referencedNames typeof<EnergyFs.Papers.Reproduction.ExperimentSpec>.Assembly
            Expect.isTrue (refs.Contains "EnergyFs") "EnergyFs.Papers references EnergyFs"
            let spaces = publicNamespaces typeof<EnergyFs.Papers.Reproduction.ExperimentSpec>.Assembly
            Expect.isTrue (spaces |> Set.forall (fun n -> n.StartsWith "EnergyFs.Papers.")) (sprintf "every namespace is under EnergyFs.Papers: %A" spaces)
            for paper in [ "FenchelYoung"; "DualTraining"; "LearnedProposals"; "StructuredPrediction" ] do
                Expect.isTrue (spaces.Contains ("EnergyFs.Papers." + paper)) (sprintf "one namespace per paper: %s" paper)
        }
        test "the C# facade references the toolkit and not the papers" {
            let facade = builtAssembly "src/csharp-facade/EnergyFs.CSharp/bin/Release/net10.0/EnergyFs.CSharp.dll"
            let refs = referencedNames facade
            Expect.isTrue (refs.Contains "EnergyFs") "the facade forwards to the toolkit"
            for forbidden in [ "EnergyFs.Papers"; "Plotly.NET"; "Deedle" ] do
                Expect.isFalse (refs.Contains forbidden) (sprintf "the facade must not reference %s" forbidden)
        }
        test "the toolkit, the facade and the notebook displays reference FSharp.Core 6.0, so older hosts (.NET Interactive, fsi, apps) load them" {
            // The usual rule for F# libraries: the lowest FSharp.Core that has what the library needs. .NET
            // Interactive 1.0.712001 ships FSharp.Core 10.0.103 and cannot load an assembly built against 10.1.
            let fsharpCore (assembly: Assembly) =
                assembly.GetReferencedAssemblies () |> Array.find (fun a -> a.Name = "FSharp.Core") |> fun a -> a.Version
            let facade = builtAssembly "src/csharp-facade/EnergyFs.CSharp/bin/Release/net10.0/EnergyFs.CSharp.dll"
            let interactive = builtAssembly "src/fsharp/EnergyFs.Interactive/bin/Release/net10.0/EnergyFs.Interactive.dll"
            for name, assembly in [ "EnergyFs", typeof<EnergyFs.Context>.Assembly; "EnergyFs.CSharp", facade; "EnergyFs.Interactive", interactive ] do
                Expect.equal (fsharpCore assembly) (System.Version(6, 0, 0, 0)) (sprintf "%s references FSharp.Core 6.0.0.0" name)
        }
    ]
