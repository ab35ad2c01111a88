/// The NuGet packages work for a newcomer: EnergyFs and EnergyFs.CSharp are packed (from the Release
/// build, with a version of their own so no cached copy can stand in), then restored from that local
/// folder into a fresh C# console project and a fresh F# script, which compute a gradient and a
/// Fenchel-Young loss and print them.
///
/// Everything happens in a temporary folder outside the repository (so the repository's
/// Directory.Build.props and central package versions do not apply, as for a user). Its nuget.config
/// only ADDS the local package folder as a source: the machine's own sources stay in effect. The
/// packages are extracted into a temporary global-packages folder, with the machine's global-packages
/// folder as a fallback folder, so TorchSharp and libtorch are not downloaded again and the machine's
/// cache receives nothing. (F# Interactive restores elsewhere; see the script test.) The script loads
/// libtorch with `Runtime.loadNativeFromPackages`, as a user's script would.
module EnergyFs.Tests.PackageTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Text.RegularExpressions
open Expecto
open EnergyFs.Tests.ReadmeTests

/// Runs the dotnet executable that runs these tests (the private one under build.sh) with arguments in
/// a folder, with extra environment variables; returns the exit code and the combined output.
let runDotnet (folder: string) (environment: (string * string) list) (arguments: string list) (timeout: TimeSpan) =
    let info = ProcessStartInfo(Environment.ProcessPath, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in arguments do info.ArgumentList.Add a
    info.WorkingDirectory <- folder
    for k, v in environment do info.Environment[k] <- v
    // MSBuild started from the test host must not reuse build servers left by other builds.
    info.Environment["MSBUILDDISABLENODEREUSE"] <- "1"
    info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] <- "0"
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(int timeout.TotalMilliseconds)) then
        p.Kill true
        -1, sprintf "timed out after %O: dotnet %s\n%s\n%s" timeout (String.Join(" ", arguments)) out.Result err.Result
    else
        p.ExitCode, out.Result + err.Result

let private tail (s: string) = if s.Length > 6000 then s.Substring(s.Length - 6000) else s

/// The machine's global-packages folder (NUGET_PACKAGES, or ~/.nuget/packages).
let machinePackages () =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | p -> p

/// A version of a central package from Directory.Packages.props.
let centralVersion (id: string) =
    let props = File.ReadAllText(Path.Combine(repositoryRoot, "Directory.Packages.props"))
    let m = Regex.Match(props, sprintf "<PackageVersion\\s+Include=\"%s\"\\s+Version=\"([^\"]+)\"" (Regex.Escape id))
    if not m.Success then failtestf "Directory.Packages.props has no version of %s" id
    m.Groups[1].Value

/// The packed packages: a temporary folder holding the local source, the global-packages folder and
/// the nuget.config, the package version, and the environment the restores run with.
type PackedPackages =
    { Folder: string
      Source: string
      Version: string
      Environment: (string * string) list }

/// Packs both packages once (from the Release build, no rebuild) into a fresh temporary folder.
let packed =
    lazy (
        let folder = Path.Combine(Path.GetTempPath(), "energyfs-package-test-" + Guid.NewGuid().ToString("N").Substring(0, 12))
        let source = Path.Combine(folder, "packages")
        let globalPackages = Path.Combine(folder, "global-packages")
        Directory.CreateDirectory source |> ignore
        Directory.CreateDirectory globalPackages |> ignore
        AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(folder, true) with _ -> ())
        let version = sprintf "0.1.0-test.%s" (DateTime.UtcNow.ToString "yyyyMMddHHmmss")
        let sln = Path.Combine(repositoryRoot, "EnergyFs.sln")
        let code, output =
            runDotnet repositoryRoot [] [ "pack"; sln; "-c"; "Release"; "--no-build"; "-v"; "q"; "-nologo"; "-o"; source; "-p:PackageVersion=" + version ] (TimeSpan.FromMinutes 3.0)
        if code <> 0 then failtestf "dotnet pack failed (build the solution first: ./build.sh build):\n%s" (tail output)
        // Adds the local folder to the machine's sources; packages go to the temporary global folder,
        // everything already on this machine is read from its global folder without copying.
        let config =
            sprintf """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config>
    <add key="globalPackagesFolder" value="%s" />
  </config>
  <packageSources>
    <add key="energyfs-local" value="%s" />
  </packageSources>
  <fallbackPackageFolders>
    <add key="machine" value="%s" />
  </fallbackPackageFolders>
</configuration>
"""             globalPackages source (machinePackages ())
        File.WriteAllText(Path.Combine(folder, "nuget.config"), config)
        { Folder = folder; Source = source; Version = version
          Environment = [ "NUGET_PACKAGES", globalPackages ] })

/// The entries of a zip file (a .nupkg or .snupkg).
let entries (path: string) =
    use zip = ZipFile.OpenRead path
    [ for e in zip.Entries -> e.FullName ]

/// The .nuspec text of a package.
let nuspec (path: string) =
    use zip = ZipFile.OpenRead path
    let e = zip.Entries |> Seq.find (fun e -> e.FullName.EndsWith ".nuspec")
    use r = new StreamReader(e.Open())
    r.ReadToEnd()

let private csharpProgram = """using EnergyFs.CSharp;
using TorchSharp;

// d/dx Σ softplus(x) = sigmoid(x)
using var x = torch.tensor(new[] { 0.5, -1.0, 2.0 });
using var g = Autodiff.Grad(v => torch.nn.functional.softplus(v).sum(), x);
var grad = g.data<double>().ToArray();
// The logistic loss is the Fenchel-Young loss of the Shannon negentropy: log Σ exp θ − θ_y.
var loss = new FenchelYoungLoss(FyRegularizer.Shannon);
using var theta = torch.tensor(new[] { 1.0, 2.0, 0.5 }).reshape(1, 3);
using var y = torch.tensor(new[] { 0.0, 1.0, 0.0 }).reshape(1, 3);
using var value = loss.Loss(theta, y);
Console.WriteLine($"grad {string.Join(" ", grad.Select(v => v.ToString("F6", System.Globalization.CultureInfo.InvariantCulture)))}");
Console.WriteLine($"fy {value.sum().item<double>().ToString("F6", System.Globalization.CultureInfo.InvariantCulture)}");
"""

let private fsharpScript (source: string) (version: string) (libtorch: string) =
    sprintf """#i "nuget: %s"
#r "nuget: EnergyFs, %s"
#r "nuget: libtorch-cpu-linux-x64, %s"
open EnergyFs
open EnergyFs.Regularizers

Runtime.loadNativeFromPackages () |> ignore
let ctx = Context.cpu64
let x = Tensor.ofArray ctx [| 0.5; -1.0; 2.0 |]
let g = Diff.grad (fun v -> Tensor.sum (Tensor.softplus v)) x
let theta = Tensor.ofArray2D ctx (array2D [ [ 1.0; 2.0; 0.5 ] ])
let y = Tensor.ofArray2D ctx (array2D [ [ 0.0; 1.0; 0.0 ] ])
let fy = EnergyFs.Losses.FenchelYoung.loss Shannon.regularizer theta y
let inv (v: float) = v.ToString("F6", System.Globalization.CultureInfo.InvariantCulture)
printfn "grad %%s" (Tensor.toArray g |> Array.map inv |> String.concat " ")
printfn "fy %%s" (inv (Tensor.toScalar (Tensor.sum fy)))
"""     source version libtorch

/// The expected printout: sigmoid(x) and log Σ exp θ − θ_y for θ = (1, 2, 0.5), y = e₂.
let private expected =
    let sigmoid v = 1.0 / (1.0 + exp -v)
    let inv (v: float) = v.ToString("F6", Globalization.CultureInfo.InvariantCulture)
    let grad = [ 0.5; -1.0; 2.0 ] |> List.map (sigmoid >> inv) |> String.concat " "
    let fy = log (exp 1.0 + exp 2.0 + exp 0.5) - 2.0
    [ "grad " + grad; "fy " + inv fy ]

let private expectPrinted (output: string) =
    for line in expected do
        Expect.stringContains output line (sprintf "the program prints '%s'" line)

[<Tests>]
let tests =
    testList "Packages" [
        test "the packages hold the library, XML docs, README, license and symbols" {
            let p = packed.Force()
            for id, dll in [ "EnergyFs", "EnergyFs"; "EnergyFs.CSharp", "EnergyFs.CSharp" ] do
                let nupkg = Path.Combine(p.Source, sprintf "%s.%s.nupkg" id p.Version)
                let snupkg = Path.Combine(p.Source, sprintf "%s.%s.snupkg" id p.Version)
                Expect.isTrue (File.Exists nupkg) (sprintf "%s was packed" nupkg)
                Expect.isTrue (File.Exists snupkg) (sprintf "%s was packed" snupkg)
                let files = entries nupkg
                for f in [ sprintf "lib/net10.0/%s.dll" dll; sprintf "lib/net10.0/%s.xml" dll; "README.md"; "LICENSE" ] do
                    Expect.contains files f (sprintf "%s contains %s" id f)
                Expect.contains (entries snupkg) (sprintf "lib/net10.0/%s.pdb" dll) (sprintf "%s's symbols hold the pdb" id)
                let spec = nuspec nupkg
                for fragment in [ "<license type=\"expression\">MIT</license>"; "<readme>README.md</readme>"; "<description>"; "<tags>" ] do
                    Expect.stringContains spec fragment (sprintf "%s's nuspec has %s" id fragment)
                let home = System.Environment.GetFolderPath System.Environment.SpecialFolder.UserProfile
                let machinePaths = [ EnergyFs.Tests.ReadmeTests.repositoryRoot; Path.GetDirectoryName(EnergyFs.Tests.ReadmeTests.repositoryRoot.TrimEnd('/')); home; Path.GetTempPath(); "file:" ]
                for m in machinePaths |> List.map (fun m -> if m = "file:" then m else m.TrimEnd('/') + "/") |> List.filter (fun m -> m.Length > 2) do
                    Expect.isFalse (spec.Contains m) (sprintf "no machine path in the nuspec (%s)" m)
            let toolkitSpec = nuspec (Path.Combine(p.Source, sprintf "EnergyFs.%s.nupkg" p.Version))
            for dependency in [ "Plotly.NET"; "Deedle"; "EnergyFs.Papers" ] do
                Expect.isFalse (toolkitSpec.Contains (sprintf "<dependency id=\"%s\"" dependency)) (sprintf "the toolkit package does not depend on %s" dependency)
            Expect.stringContains toolkitSpec "<dependency id=\"TorchSharp\"" "the toolkit package depends on TorchSharp"
            Expect.stringContains (nuspec (Path.Combine(p.Source, sprintf "EnergyFs.CSharp.%s.nupkg" p.Version)))
                (sprintf "<dependency id=\"EnergyFs\" version=\"%s\"" p.Version) "EnergyFs.CSharp depends on the same EnergyFs"
        }
        test "a fresh C# console project restores EnergyFs.CSharp and runs" {
            let p = packed.Force()
            let project = Path.Combine(p.Folder, "console")
            Directory.CreateDirectory project |> ignore
            File.WriteAllText(Path.Combine(project, "Console.csproj"), sprintf """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <UseAppHost>false</UseAppHost>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="EnergyFs.CSharp" Version="%s" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="%s" />
  </ItemGroup>
</Project>
"""                                                                          p.Version (centralVersion "libtorch-cpu-linux-x64"))
            File.WriteAllText(Path.Combine(project, "Program.cs"), csharpProgram)
            let code, output =
                runDotnet project p.Environment [ "build"; "-c"; "Release"; "-v"; "q"; "-nologo"; "-clp:ErrorsOnly" ] (TimeSpan.FromMinutes 3.0)
            Expect.equal code 0 (sprintf "the console project builds against the packages:\n%s" (tail output))
            let code, output =
                runDotnet project p.Environment [ Path.Combine(project, "bin", "Release", "net10.0", "Console.dll") ] (TimeSpan.FromMinutes 1.0)
            Expect.equal code 0 (sprintf "the console program runs:\n%s" (tail output))
            expectPrinted output
            Expect.isTrue (Directory.Exists(Path.Combine(p.Folder, "global-packages", "energyfs.csharp", p.Version)))
                "EnergyFs.CSharp was restored from the local folder into the temporary global-packages folder"
            // TorchSharp already on this machine is read from its global folder, not copied or downloaded.
            if Directory.Exists(Path.Combine(machinePackages (), "torchsharp", centralVersion "TorchSharp")) then
                Expect.isFalse (Directory.Exists(Path.Combine(p.Folder, "global-packages", "torchsharp")))
                    "TorchSharp came from the machine's global-packages folder (the fallback folder)"
        }
        test "a fresh F# script restores EnergyFs with #r nuget and runs" {
            let p = packed.Force()
            match NotebookTests.fsiPath () with
            | None -> skiptest "no .NET SDK (fsi.dll) next to this runtime"
            | Some fsi ->
                let folder = Path.Combine(p.Folder, "script")
                Directory.CreateDirectory folder |> ignore
                let script = Path.Combine(folder, "uses-package.fsx")
                File.WriteAllText(script, fsharpScript p.Source p.Version (centralVersion "libtorch-cpu-linux-x64"))
                // F# Interactive restores in a project of its own (not under this folder), so the
                // nuget.config above does not apply: the script uses the machine's global-packages
                // folder, and the fresh EnergyFs version is removed from it afterwards.
                let extracted = Path.Combine(machinePackages (), "energyfs", p.Version)
                let code, output =
                    try
                        runDotnet folder []
                          [ "exec"; "--runtimeconfig"; Path.ChangeExtension(fsi, ".runtimeconfig.json"); "--depsfile"; Path.ChangeExtension(fsi, ".deps.json")
                            fsi; "--quiet"; "--exec"; script ]
                          (TimeSpan.FromMinutes 3.0)
                    finally
                        if Directory.Exists extracted then Directory.Delete(extracted, true)
                        let parent = Path.GetDirectoryName extracted
                        if Directory.Exists parent && Directory.GetFileSystemEntries(parent).Length = 0 then Directory.Delete parent
                Expect.equal code 0 (sprintf "the script runs:\n%s" (tail output))
                expectPrinted output
        }
    ]
