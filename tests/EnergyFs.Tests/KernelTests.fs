/// The toolkit in the real .NET Interactive kernel: dotnet-repl (pinned in .config/dotnet-tools.json,
/// restored by build.sh) runs a notebook headlessly on the F# kernel, whose FSharp.Core (10.0) is
/// older than the build's; the toolkit, built against FSharp.Core 6.0, must load and run there.
module EnergyFs.Tests.KernelTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open EnergyFs.Tests.ReadmeTests

/// dotnet-repl.dll of the version the tool manifest pins, in the NuGet global-packages folder.
let replPath () =
    use manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(repositoryRoot, ".config", "dotnet-tools.json")))
    let version = manifest.RootElement.GetProperty("tools").GetProperty("dotnet-repl").GetProperty("version").GetString()
    let packages =
        match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
        | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
        | p -> p
    let tools = Path.Combine(packages, "dotnet-repl", version, "tools")
    let found =
        if Directory.Exists tools then Directory.GetFiles(tools, "dotnet-repl.dll", SearchOption.AllDirectories) |> Array.tryHead else None
    version, found

/// A one-cell F# notebook.
let private notebook (code: string) =
    let cell =
        {| cell_type = "code"; execution_count = Nullable<int>(); outputs = [||]
           metadata = {| polyglot_notebook = {| kernelName = "fsharp" |} |}
           source = code.Split('\n') |> Array.map (fun l -> l + "\n") |}
    JsonSerializer.Serialize
        {| cells = [| cell |]; nbformat = 4; nbformat_minor = 5
           metadata = {| kernelspec = {| display_name = ".NET (F#)"; language = "F#"; name = ".net-fsharp" |} |} |}

[<Tests>]
let tests =
    testList "Kernel" [
        testCase "the toolkit loads and differentiates in the .NET Interactive F# kernel (dotnet-repl)" <| fun () ->
            let version, repl = replPath ()
            let repl =
                match repl with
                | Some r -> r
                | None -> failtestf "dotnet-repl %s is not restored: run `./build.sh dotnet tool restore` (build.sh build does)" version
            let bin = Path.GetDirectoryName typeof<EnergyFs.Context>.Assembly.Location
            let dir = Directory.CreateTempSubdirectory("energyfs-kernel-").FullName
            try
                let input, output = Path.Combine(dir, "smoke.ipynb"), Path.Combine(dir, "out.ipynb")
                let code =
                    String.concat "\n"
                        [ sprintf "#r \"%s\"" (Path.Combine(bin, "TorchSharp.dll"))
                          sprintf "#r \"%s\"" (Path.Combine(bin, "EnergyFs.dll"))
                          sprintf "EnergyFs.Runtime.loadNativeFrom \"%s\"" bin
                          "open EnergyFs"
                          "let x = Tensor.ofArray Context.cpu64 [| 1.0; 2.0; 3.0 |]"
                          "let g = Diff.grad (fun t -> Tensor.sum (Tensor.square t)) x"
                          "printfn \"grad %A on FSharp.Core %s\" (Tensor.toArray g) (typeof<list<int>>.Assembly.GetName().Version.ToString())" ]
                File.WriteAllText(input, notebook code)
                // The kernel runs on this process's dotnet: the private runtime under build.sh on Debian 12.
                let info = ProcessStartInfo(Environment.ProcessPath, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir)
                for a in [ "exec"; repl; "--run"; input; "--exit-after-run"; "--output-format"; "ipynb"; "--output-path"; output ] do info.ArgumentList.Add a
                use p = Process.Start info
                let stdout = p.StandardOutput.ReadToEndAsync()
                let stderr = p.StandardError.ReadToEndAsync()
                if not (p.WaitForExit(TimeSpan.FromMinutes 5.0)) then p.Kill true; failtest "the kernel did not finish in 5 minutes"
                Expect.isTrue (File.Exists output) (sprintf "dotnet-repl wrote the executed notebook (exit %d):\n%s\n%s" p.ExitCode stdout.Result stderr.Result)
                use doc = JsonDocument.Parse(File.ReadAllText output)
                let outputs =
                    [ for cell in doc.RootElement.GetProperty("cells").EnumerateArray() do
                        for o in cell.GetProperty("outputs").EnumerateArray() -> o.GetRawText() ]
                let text = String.concat "\n" outputs
                Expect.isFalse (text.Contains "\"error\"") (sprintf "no cell errors:\n%s" text)
                Expect.stringContains text "grad [|2.0; 4.0; 6.0|] on FSharp.Core 10.0" "the gradient, computed in the kernel whose FSharp.Core is 10.0"
            finally
                Directory.Delete(dir, true)
    ]
