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
/// libtorch with `Runtime.loadNativeFromPackages`, as a user's script would; it is the F# script of the
/// EnergyFs package's README (docs/packages/EnergyFs.md), with the version replaced by the test's.
///
/// The README's section "Using EnergyFs in your own app" is run as written: its bash blocks, its
/// MyEnergyApp.csproj and Program.cs, in a temporary folder, with ENERGYFS naming a stand-in clone whose
/// build.sh packs from the Release build (as `./build.sh pack` does after building) and hands every other
/// command to the repository's build.sh; the output must match the section's last block. The machine's
/// global-packages folder is the fallback folder without any EnergyFs package in it, so no version
/// restored there earlier (0.1.0 included) can stand in for the fresh packages.
module EnergyFs.Tests.PackageTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Text.RegularExpressions
open Expecto
open EnergyFs.Tests.ReadmeTests

/// Runs `executable` with arguments in a folder, with extra environment variables (a null value removes
/// the variable); returns the exit code and the combined output.
let runProcess (executable: string) (folder: string) (environment: (string * string) list) (arguments: string list) (timeout: TimeSpan) =
    let info = ProcessStartInfo(executable, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in arguments do info.ArgumentList.Add a
    info.WorkingDirectory <- folder
    for k, v in environment do
        if isNull v then info.Environment.Remove k |> ignore else info.Environment[k] <- v
    // MSBuild started from the test host must not reuse build servers left by other builds.
    info.Environment["MSBUILDDISABLENODEREUSE"] <- "1"
    info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] <- "0"
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(int timeout.TotalMilliseconds)) then
        p.Kill true
        -1, sprintf "timed out after %O: %s %s\n%s\n%s" timeout executable (String.Join(" ", arguments)) out.Result err.Result
    else
        p.ExitCode, out.Result + err.Result

/// Runs the dotnet executable that runs these tests (the private one under build.sh) with arguments in
/// a folder, with extra environment variables; returns the exit code and the combined output.
let runDotnet (folder: string) (environment: (string * string) list) (arguments: string list) (timeout: TimeSpan) =
    runProcess Environment.ProcessPath folder environment arguments timeout

let private tail (s: string) = if s.Length > 6000 then s.Substring(s.Length - 6000) else s

/// The machine's global-packages folder (NUGET_PACKAGES, or ~/.nuget/packages).
let machinePackages () = EnergyFs.NotebookRunner.KernelRun.machinePackages ()

/// fsi.dll of the newest SDK next to the running dotnet (the private one under build.sh).
let fsiPath () =
    let root =
        match Environment.GetEnvironmentVariable "DOTNET_ROOT" with
        | null | "" -> Path.GetDirectoryName Environment.ProcessPath
        | r -> r
    let sdk = Path.Combine(root, "sdk")
    if not (Directory.Exists sdk) then None
    else
        Directory.GetDirectories sdk
        |> Array.map (fun d -> Path.Combine(d, "FSharp", "fsi.dll"))
        |> Array.filter File.Exists
        |> Array.sortBy (fun p -> match System.Version.TryParse(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName p))) with | true, v -> v | _ -> System.Version())
        |> Array.tryLast

/// A version of a central package from Directory.Packages.props.
let centralVersion (id: string) =
    let props = File.ReadAllText(Path.Combine(repositoryRoot, "Directory.Packages.props"))
    let m = Regex.Match(props, sprintf "<PackageVersion\\s+Include=\"%s\"\\s+Version=\"([^\"]+)\"" (Regex.Escape id))
    if not m.Success then failtestf "Directory.Packages.props has no version of %s" id
    m.Groups[1].Value

/// A fallback packages folder under `folder`: a link to each package folder of the machine's
/// global-packages folder except EnergyFs's own, which must come from the fresh packs.
let fallbackWithoutEnergyFs (folder: string) =
    let fallback = Path.Combine(folder, "machine-packages")
    Directory.CreateDirectory fallback |> ignore
    if Directory.Exists(machinePackages ()) then
        for dir in Directory.GetDirectories(machinePackages ()) do
            let id = Path.GetFileName dir
            if id <> "energyfs" && not (id.StartsWith "energyfs.") then
                Directory.CreateSymbolicLink(Path.Combine(fallback, id), dir) |> ignore
    fallback

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
"""             globalPackages source (fallbackWithoutEnergyFs folder)
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

/// The fenced code blocks of a Markdown text, in order: (language, code).
let codeBlocks (markdown: string) =
    [ for m in Regex.Matches(markdown.Replace("\r\n", "\n"), @"^```(\w*)\n(.*?)^```", RegexOptions.Singleline ||| RegexOptions.Multiline) ->
        m.Groups[1].Value, m.Groups[2].Value ]

/// The text of a Markdown section: from its `## title` line to the next `## ` heading.
let section (markdown: string) (title: string) =
    let text = markdown.Replace("\r\n", "\n")
    let start = text.IndexOf("\n## " + title + "\n")
    if start < 0 then failtestf "no section '## %s'" title
    let next = text.IndexOf("\n## ", start + 4)
    if next < 0 then text.Substring start else text.Substring(start, next - start)

/// The F# script of the EnergyFs package's README, restoring from `source`, the version replaced by `version`.
let private fsharpScript (source: string) (version: string) =
    let readme = File.ReadAllText(Path.Combine(repositoryRoot, "docs", "packages", "EnergyFs.md"))
    match codeBlocks readme |> List.filter (fun (language, _) -> language = "fsharp") with
    | [ _, script ] ->
        Expect.stringContains script "#r \"nuget: EnergyFs, 0.1.0\"" "the script references EnergyFs 0.1.0"
        sprintf "#i \"nuget: %s\"\n%s" source (script.Replace("#r \"nuget: EnergyFs, 0.1.0\"", sprintf "#r \"nuget: EnergyFs, %s\"" version))
    | blocks -> failtestf "docs/packages/EnergyFs.md has %d F# blocks, expected one script" blocks.Length

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

/// The README section a newcomer follows to build an app on the packages.
let ownAppSection () =
    section (File.ReadAllText(Path.Combine(repositoryRoot, "README.md"))) "Using EnergyFs in your own app"

/// The blocks of that section by language, in order.
let private ownAppBlocks () =
    let blocks = codeBlocks (ownAppSection ())
    let only language =
        match blocks |> List.filter (fun (l, _) -> l = language) with
        | [ _, code ] -> code
        | found -> failtestf "the README's own-app section has %d %s blocks, expected one" found.Length language
    {| Bash = blocks |> List.filter (fun (l, _) -> l = "bash") |> List.map snd
       Project = only "xml"
       Program = only "csharp"
       Output = only "text" |}

/// A stand-in for a clone of the repository, for the README's `$ENERGYFS`: its build.sh packs the Release
/// build into its own artifacts/packages (what `./build.sh pack` does after building, with the default
/// version) and hands every other command to the repository's build.sh.
let private standInClone (folder: string) =
    let clone = Path.Combine(folder, "clone")
    Directory.CreateDirectory clone |> ignore
    let script = Path.Combine(clone, "build.sh")
    let quote (s: string) = "'" + s.Replace("'", "'\\''") + "'"
    File.WriteAllText(script, sprintf "#!/usr/bin/env bash\nset -euo pipefail\nhere=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\nif [ \"${1:-}\" = pack ]; then\n  exec %s dotnet pack %s -c Release --no-build -v q -nologo -o \"$here/artifacts/packages\"\nfi\nexec %s \"$@\"\n"
                                  (quote (Path.Combine(repositoryRoot, "build.sh"))) (quote (Path.Combine(repositoryRoot, "EnergyFs.sln"))) (quote (Path.Combine(repositoryRoot, "build.sh"))))
    File.SetUnixFileMode(script, File.GetUnixFileMode script ||| UnixFileMode.UserExecute ||| UnixFileMode.GroupExecute ||| UnixFileMode.OtherExecute)
    clone

/// The environment of the README's commands: ENERGYFS, the test's packages folder, and the private runtime
/// this test host runs on (so that the repository's build.sh finds it where ENERGYFS_COMPAT_DIR is not set).
let private ownAppEnvironment (p: PackedPackages) (clone: string) =
    let compat =
        match Environment.GetEnvironmentVariable "ENERGYFS_COMPAT_DIR", Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME", Environment.GetEnvironmentVariable "DOTNET_ROOT" with
        | (null | ""), "1", root when not (String.IsNullOrEmpty root) -> [ "ENERGYFS_COMPAT_DIR", Path.GetDirectoryName(Path.TrimEndingDirectorySeparator root) ]
        | _ -> []
    // The PATH of a user's shell: without this host's private dotnet, which build.sh puts first.
    let path =
        let privateDirectory = Path.GetDirectoryName Environment.ProcessPath
        (Environment.GetEnvironmentVariable "PATH").Split(':')
        |> Array.filter (fun d -> d <> "" && Path.TrimEndingDirectorySeparator d <> privateDirectory)
    let path = if Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME" = "1" then [ "PATH", String.Join(":", path) ] else []
    ("ENERGYFS", clone) :: p.Environment @ compat @ path

/// Runs a bash block of the README in `folder`; returns the exit code and the output.
let private runBash (folder: string) (environment: (string * string) list) (code: string) =
    let script = Path.Combine(folder, "..", sprintf "block-%s.sh" (Guid.NewGuid().ToString("N").Substring(0, 8)))
    File.WriteAllText(script, "set -euo pipefail\n" + code)
    runProcess "/bin/bash" folder environment [ Path.GetFullPath script ] (TimeSpan.FromMinutes 5.0)

/// Whether `output` has a line matching each line of `expected`, where … stands for anything.
let private matchesOutput (expected: string) (output: string) =
    let lines = output.Replace("\r\n", "\n").Split('\n') |> Array.map (fun l -> l.Trim())
    [ for line in expected.Split('\n') |> Array.map (fun l -> l.Trim()) |> Array.filter (fun l -> l <> "") do
        let pattern = "^" + String.Join(".*", line.Split('…') |> Array.map Regex.Escape) + "$"
        if not (lines |> Array.exists (fun l -> Regex.IsMatch(l, pattern))) then yield line ]

/// The machine's own dotnet, when this test host runs on build.sh's private one (whose root links to it).
let private systemDotnet () =
    match Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME", Environment.GetEnvironmentVariable "DOTNET_ROOT" with
    | "1", root when not (String.IsNullOrEmpty root) ->
        match DirectoryInfo(Path.Combine(root, "host")).LinkTarget with
        | null -> None
        | target ->
            let systemRoot = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(target, root)))
            let dotnet = Path.Combine(systemRoot, "dotnet")
            if File.Exists dotnet then Some dotnet else None
    | _ -> None

/// Whether the system's libstdc++ lacks GLIBCXX_3.4.32 (Debian 12), when it can be found.
let private systemLibstdcxxTooOld () =
    [ "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"; "/usr/lib64/libstdc++.so.6"; "/lib/x86_64-linux-gnu/libstdc++.so.6" ]
    |> List.tryFind File.Exists
    |> Option.map (fun lib -> not ((Text.Encoding.Latin1.GetString(File.ReadAllBytes lib)).Contains "GLIBCXX_3.4.32"))
    |> Option.defaultValue false

[<Tests>]
let tests =
    testList "Packages" [
        test "the packages hold the library, XML docs, README, license and symbols" {
            let p = packed.Force()
            for id, dll in [ "EnergyFs", "EnergyFs"; "EnergyFs.CSharp", "EnergyFs.CSharp"; "EnergyFs.Interactive", "EnergyFs.Interactive" ] do
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
            // The lowest FSharp.Core the toolkit needs, so a host with an older one (.NET Interactive's 10.0, an
            // fsi whose 10.1.401 is below the build's) restores without an NU1605 downgrade.
            Expect.stringContains toolkitSpec "<dependency id=\"FSharp.Core\" version=\"6.0.0\"" "the toolkit package depends on FSharp.Core 6.0.0"
            Expect.stringContains (nuspec (Path.Combine(p.Source, sprintf "EnergyFs.CSharp.%s.nupkg" p.Version)))
                (sprintf "<dependency id=\"EnergyFs\" version=\"%s\"" p.Version) "EnergyFs.CSharp depends on the same EnergyFs"
            // The notebook package: its kernel extension script, and nothing that needs FSharp.Core 10.1 or the kernel.
            let interactive = Path.Combine(p.Source, sprintf "EnergyFs.Interactive.%s.nupkg" p.Version)
            Expect.contains (entries interactive) "interactive-extensions/dotnet/extension.dib" "EnergyFs.Interactive carries its .NET Interactive extension"
            let interactiveSpec = nuspec interactive
            Expect.stringContains interactiveSpec "<dependency id=\"FSharp.Core\" version=\"6.0.0\"" "EnergyFs.Interactive depends on FSharp.Core 6.0.0"
            Expect.stringContains interactiveSpec (sprintf "<dependency id=\"EnergyFs\" version=\"%s\"" p.Version) "EnergyFs.Interactive depends on the same EnergyFs"
            for dependency in [ "Plotly.NET"; "Deedle"; "Microsoft.DotNet.Interactive" ] do
                Expect.isFalse (interactiveSpec.Contains (sprintf "<dependency id=\"%s" dependency)) (sprintf "EnergyFs.Interactive does not depend on %s" dependency)
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
        test "the EnergyFs package README's F# script restores EnergyFs with #r nuget and runs" {
            let p = packed.Force()
            match fsiPath () with
            | None -> skiptest "no .NET SDK (fsi.dll) next to this runtime"
            | Some fsi ->
                let folder = Path.Combine(p.Folder, "script")
                Directory.CreateDirectory folder |> ignore
                let script = Path.Combine(folder, "uses-package.fsx")
                let text = fsharpScript p.Source p.Version
                Expect.stringContains text (sprintf "#r \"nuget: libtorch-cpu-linux-x64, %s\"" (centralVersion "libtorch-cpu-linux-x64")) "the script's libtorch is the repository's"
                File.WriteAllText(script, text)
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
                Expect.isFalse (output.Contains "NU1605") (sprintf "no package-downgrade warning for FSharp.Core:\n%s" (tail output))
                // printfn "%A" of σ(0.5), σ(−1), σ(2)
                for v in [ 0.5; -1.0; 2.0 ] do
                    let digits = (1.0 / (1.0 + exp -v)).ToString("F6", Globalization.CultureInfo.InvariantCulture)
                    Expect.stringContains output digits (sprintf "the script prints sigmoid(%g) = %s…" v digits)
        }
        test "the package READMEs show the README's own-app project and program verbatim" {
            let blocks = ownAppBlocks ()
            let csharpReadme = File.ReadAllText(Path.Combine(repositoryRoot, "docs", "packages", "EnergyFs.CSharp.md")).Replace("\r\n", "\n")
            for name, code in [ "MyEnergyApp.csproj", blocks.Project; "Program.cs", blocks.Program; "expected output", blocks.Output ] do
                Expect.stringContains csharpReadme code (sprintf "docs/packages/EnergyFs.CSharp.md shows the README's %s" name)
            for readme in [ "README.md"; Path.Combine("docs", "packages", "EnergyFs.md"); Path.Combine("docs", "packages", "EnergyFs.CSharp.md") ] do
                let text = File.ReadAllText(Path.Combine(repositoryRoot, readme))
                for fragment in [ "## Using EnergyFs in your own app"; "GLIBCXX_3.4.32"; "Debian 12"; "build.sh"; "DllNotFoundException" ] do
                    Expect.stringContains text fragment (sprintf "%s mentions %s" readme fragment)
        }
        test "the README's own-app section runs as written: a fresh app on the packed EnergyFs.CSharp" {
            let p = packed.Force()
            let blocks = ownAppBlocks ()
            Expect.equal blocks.Bash.Length 2 "two bash blocks: pack and make the folder, then run"
            let readmeFolder = Path.Combine(p.Folder, "readme")
            let work = Path.Combine(readmeFolder, "work")
            Directory.CreateDirectory work |> ignore
            let clone = standInClone readmeFolder
            let environment = ownAppEnvironment p clone
            let code, output = runBash work environment blocks.Bash[0]
            Expect.equal code 0 (sprintf "the first block (pack, app folder) runs:\n%s" (tail output))
            Expect.isNonEmpty (Directory.GetFiles(Path.Combine(clone, "artifacts", "packages"), "EnergyFs.CSharp.*.nupkg")) "the packages are in $ENERGYFS/artifacts/packages"
            let app =
                match Directory.GetDirectories work with
                | [| app |] -> app
                | found -> failtestf "the first block makes one app folder, found %A" found
            let name = Path.GetFileName app
            File.WriteAllText(Path.Combine(app, name + ".csproj"), blocks.Project)
            File.WriteAllText(Path.Combine(app, "Program.cs"), blocks.Program)
            let code, output = runBash app environment blocks.Bash[1]
            Expect.equal code 0 (sprintf "the app builds and runs:\n%s" (tail output))
            let missing = matchesOutput blocks.Output output
            Expect.isEmpty missing (sprintf "the app prints the README's output; missing lines %A in:\n%s" missing (tail output))
            let hamming = Regex.Match(output, @"test Hamming accuracy after \d+ epochs: ([0-9.]+)%")
            Expect.isTrue hamming.Success "the Hamming accuracy is printed"
            let accuracy = Double.Parse(hamming.Groups[1].Value, Globalization.CultureInfo.InvariantCulture)
            Expect.isTrue (accuracy > 72.0 && accuracy <= 100.0) (sprintf "a trained classifier beats all-zero predictions (about 70%%) on yeast: %.2f%%" accuracy)
            let custom = Regex.Match(output, @"custom energy: test Hamming accuracy ([0-9.]+)%")
            Expect.isTrue custom.Success "the custom energy's accuracy is printed"
            let customAccuracy = Double.Parse(custom.Groups[1].Value, Globalization.CultureInfo.InvariantCulture)
            Expect.isTrue (customAccuracy > 72.0 && customAccuracy <= 100.0) (sprintf "the custom energy learns too: %.2f%%" customAccuracy)
            Expect.isTrue (Directory.Exists(Path.Combine(p.Folder, "global-packages", "energyfs.csharp", "0.1.0")))
                "EnergyFs.CSharp 0.1.0 came from the fresh pack (the temporary global-packages folder), not an older copy"
            let output' = Path.Combine(app, "bin", "Debug", "net10.0")
            let dll = Path.Combine(output', name + ".dll")
            if Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME" = "1" then
                Expect.isTrue (output.Contains "private runtime: yes") "RuntimeInfo.Describe reports the private runtime"
                Expect.isFalse (File.Exists(Path.Combine(output', name))) "built on the private runtime, the app has no app host (the package's build/EnergyFs.props)"
            // A data folder that does not exist: the message names it and ENERGYFS_DATA. Started directly on
            // this dotnet, without build.sh's variables, the app still knows it runs on the private runtime.
            let nowhere = Path.Combine(readmeFolder, "no-data-here")
            let code, output = runDotnet app [ "ENERGYFS_DATA", nowhere; "ENERGYFS_PRIVATE_RUNTIME", null ] [ dll ] (TimeSpan.FromMinutes 1.0)
            Expect.notEqual code 0 "the app fails without its data"
            for fragment in [ "DirectoryNotFoundException"; "ENERGYFS_DATA is set to"; nowhere ] do
                Expect.stringContains output fragment (sprintf "the error says %s" fragment)
            if Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME" = "1" then
                Expect.stringContains output "private runtime: yes" "RuntimeInfo.Describe reads the private runtime from the process, not from build.sh's variable"
            // The system's dotnet on Debian 12 loads the system's libstdc++: EnergyFs says what to do, and
            // TorchSharp does not get to copy libtorch into the app's folder.
            match systemDotnet () with
            | Some dotnet when systemLibstdcxxTooOld () ->
                let code, output = runProcess dotnet app [] [ dll ] (TimeSpan.FromMinutes 1.0)
                Expect.notEqual code 0 "the app cannot load libtorch on the system's libstdc++"
                for fragment in [ "System.DllNotFoundException: libtorch cannot be loaded"; "GLIBCXX_3.4.32"; "build.sh dotnet run"; "Using EnergyFs in your own app" ] do
                    Expect.stringContains output fragment (sprintf "the error says %s" fragment)
                Expect.isFalse (output.Contains "TypeInitializationException") "the error is not wrapped in a type initializer's"
                Expect.isFalse (Directory.Exists(Path.Combine(output', "cpu"))) "TorchSharp did not copy libtorch into the app's folder"
            | _ -> ()
        }
    ]
