namespace EnergyFs

open System
open TorchSharp

/// Where tensors live and in which floating-point type. Every function that creates tensors takes a
/// Context explicitly; nothing in EnergyFs reads a global default device or dtype.
type Context =
    { /// The device tensors are created on (CPU, or a CUDA device).
      Device: torch.Device
      /// The floating-point type of created tensors (Float32 or Float64).
      DType: torch.ScalarType }

/// Constructors and queries for Context.
module Context =

    /// CPU, float32: the default for training.
    let cpu = { Device = torch.CPU; DType = torch.ScalarType.Float32 }

    /// CPU, float64: for finite-difference checks and reference computations.
    let cpu64 = { Device = torch.CPU; DType = torch.ScalarType.Float64 }

    /// Whether a CUDA device can be used (the CUDA native package is referenced and a GPU is present).
    let cudaAvailable () = try torch.cuda_is_available () with _ -> false

    /// CUDA device `index`, float32. Fails with a clear message when CUDA is not available.
    let cuda (index: int) =
        if not (cudaAvailable ()) then
            invalidOp "CUDA is not available: build the executable with -p:EnergyFsCuda=true (TorchSharp-cuda-linux) and run it on a machine with an NVIDIA GPU"
        { Device = torch.Device(DeviceType.CUDA, index); DType = torch.ScalarType.Float32 }

    /// CUDA device 0 when available, else the CPU; float32.
    let auto () = if cudaAvailable () then cuda 0 else cpu

    /// The same context with another dtype.
    let withDType dtype (ctx: Context) = { ctx with DType = dtype }

    /// Parses "cpu", "cuda", "cuda:1" or "auto".
    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "cpu" -> cpu
        | "auto" -> auto ()
        | "cuda" -> cuda 0
        | s when s.StartsWith "cuda:" ->
            match Int32.TryParse(s.Substring 5) with
            | true, i -> cuda i
            | _ -> invalidArg "device" (sprintf "cannot parse device '%s' (expected cpu, cuda, cuda:N or auto)" text)
        | _ -> invalidArg "device" (sprintf "cannot parse device '%s' (expected cpu, cuda, cuda:N or auto)" text)

    /// A short description such as "cpu/float32".
    let describe (ctx: Context) = sprintf "%s/%s" (ctx.Device.ToString().ToLowerInvariant()) (ctx.DType.ToString().ToLowerInvariant())

/// An explicit random-number generator. All randomness in EnergyFs flows through one of these, so
/// the same seed gives bit-identical results on the CPU regardless of what else runs in the process
/// (libtorch's global generator is shared by every thread).
[<Sealed>]
type Rng(seed: int64, device: torch.Device) =
    let gen = new torch.Generator(uint64 seed, device)
    /// The seed this generator was created with.
    member _.Seed = seed
    /// The underlying TorchSharp generator, for the `generator` argument of torch functions.
    member _.Generator = gen
    /// The generator's full state (a byte tensor), for checkpoints.
    member _.GetState() = gen.get_state ()
    /// Restores a state returned by GetState.
    member _.SetState(state: torch.Tensor) = gen.set_state state
    /// A new generator whose seed is drawn from this one: independent streams for sub-components.
    member this.Split() =
        use s = torch.randint(0L, Int64.MaxValue, [| 1L |], dtype = torch.ScalarType.Int64, generator = gen)
        new Rng(s.item<int64> (), device)
    interface IDisposable with
        member _.Dispose() = gen.Dispose()

/// Process-wide settings of the libtorch runtime: threads, versions, determinism.
module Runtime =

    /// The EnergyFs version (from the assembly).
    let version =
        let v = typeof<Rng>.Assembly.GetName().Version
        sprintf "%d.%d.%d" v.Major v.Minor v.Build

    /// TorchSharp's version (from its assembly).
    let torchSharpVersion =
        let asm = typeof<torch>.Assembly
        match asm.GetCustomAttributes(typeof<Reflection.AssemblyInformationalVersionAttribute>, false) with
        | [| :? Reflection.AssemblyInformationalVersionAttribute as a |] -> a.InformationalVersion.Split('+').[0]
        | _ -> string (asm.GetName().Version)

    /// The libtorch version the native library reports (loads libtorch on first use).
    let libtorchVersion () = torch.__version__

    /// libtorch's intra-op thread count.
    let threads () = torch.get_num_threads ()

    /// Sets libtorch's intra-op thread count (≥ 1).
    let setThreads (n: int) =
        Checks.positiveInt "threads" n
        torch.set_num_threads n

    /// Seeds libtorch's global generator too, for code outside EnergyFs that uses it.
    let seedGlobal (seed: int64) = torch.manual_seed seed |> ignore

    /// Whether this process runs on the private runtime that build.sh prepared (Debian 12 hosts).
    let privateRuntime () =
        Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME" = "1"

    /// For F# scripts and notebooks, which have no native-library manifest: loads libtorch and
    /// TorchSharp's native shim from a build output folder (where they sit in runtimes/RID/native,
    /// or in the folder itself) before the first tensor is created. Fails naming the folders searched.
    let loadNativeFrom (folder: string) =
        let rid =
            if OperatingSystem.IsWindows() then "win-x64"
            elif OperatingSystem.IsMacOS() then "osx-arm64"
            else "linux-x64"
        let file name =
            if OperatingSystem.IsWindows() then name + ".dll"
            elif OperatingSystem.IsMacOS() then "lib" + name + ".dylib"
            else "lib" + name + ".so"
        let candidates = [ IO.Path.Combine(folder, "runtimes", rid, "native"); folder ]
        match candidates |> List.tryFind (fun d -> IO.File.Exists(IO.Path.Combine(d, file "LibTorchSharp"))) with
        | Some dir ->
            for name in [ "torch_cpu"; "LibTorchSharp" ] do
                Runtime.InteropServices.NativeLibrary.Load(IO.Path.Combine(dir, file name)) |> ignore
        | None ->
            invalidArg "folder" (sprintf "%s not found in %s" (file "LibTorchSharp") (String.Join(" or ", candidates)))

    /// For F# scripts that take EnergyFs from NuGet (`#r "nuget: EnergyFs"` together with
    /// `#r "nuget: libtorch-cpu-linux-x64, 2.10.0"`, or the osx-arm64/win-x64 package): gathers the
    /// native libraries of the libtorch package and of the TorchSharp package, found in the NuGet
    /// packages folder TorchSharp.dll was loaded from (or NUGET_PACKAGES, or ~/.nuget/packages), into
    /// one folder (symbolic links; copies on Windows) under the temporary folder, and loads libtorch
    /// from there with `loadNativeFrom` (libtorch finds its own dependencies next to itself, which two
    /// separate package folders do not give). Returns that folder. Call it before the first tensor is
    /// created. When several libtorch versions are restored, the newest is taken. Fails naming the
    /// folders searched when a package is missing.
    let loadNativeFromPackages () =
        let rid =
            if OperatingSystem.IsWindows() then "win-x64"
            elif OperatingSystem.IsMacOS() then "osx-arm64"
            else "linux-x64"
        // TorchSharp.dll sits in <packages>/torchsharp/<version>/lib/<tfm>/.
        let torchSharpDir = IO.Path.GetDirectoryName(typeof<torch>.Assembly.Location)
        let torchSharpVersionDir = IO.Path.GetFullPath(IO.Path.Combine(torchSharpDir, "..", ".."))
        let roots =
            [ IO.Path.GetFullPath(IO.Path.Combine(torchSharpVersionDir, "..", ".."))
              (match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with null | "" -> "" | p -> p)
              IO.Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages") ]
            |> List.filter (fun r -> r <> "" && IO.Directory.Exists r)
            |> List.distinct
        let nativeOf (versionDir: string) = IO.Path.Combine(versionDir, "runtimes", rid, "native")
        let shim = nativeOf torchSharpVersionDir
        if not (IO.Directory.Exists shim) then
            invalidOp (sprintf "TorchSharp's native shim folder %s does not exist: was TorchSharp restored from NuGet?" shim)
        let libtorchPackage = "libtorch-cpu-" + rid
        let libtorch =
            roots
            |> List.collect (fun root ->
                let dir = IO.Path.Combine(root, libtorchPackage)
                if IO.Directory.Exists dir then
                    [ for v in IO.Directory.GetDirectories dir do
                        if IO.Directory.Exists(nativeOf v) then
                            match Version.TryParse(IO.Path.GetFileName v) with
                            | true, version -> yield version, nativeOf v
                            | _ -> () ]
                else [])
            |> List.sortByDescending fst
            |> List.tryHead
        match libtorch with
        | None ->
            invalidOp (sprintf "the %s package was not found in %s: add #r \"nuget: %s, 2.10.0\" to the script"
                           libtorchPackage (String.Join(", ", roots)) libtorchPackage)
        | Some (libtorchVersion, libtorchNative) ->
            let folder =
                IO.Path.Combine(IO.Path.GetTempPath(), "energyfs-native",
                                sprintf "torchsharp-%s-libtorch-%O-%s" (IO.Path.GetFileName torchSharpVersionDir) libtorchVersion rid)
            IO.Directory.CreateDirectory folder |> ignore
            for source in Array.append (IO.Directory.GetFiles libtorchNative) (IO.Directory.GetFiles shim) do
                let target = IO.Path.Combine(folder, IO.Path.GetFileName source)
                if not (IO.File.Exists target) then
                    try
                        if OperatingSystem.IsWindows() then IO.File.Copy(source, target)
                        else IO.File.CreateSymbolicLink(target, source) |> ignore
                    with :? IO.IOException when IO.File.Exists target -> () // another process made it first
            loadNativeFrom folder
            folder

    /// Applies ENERGYFS_THREADS when it is set (benchmarks and CI pin thread counts with it).
    let applyThreadsFromEnvironment () =
        match Environment.GetEnvironmentVariable "ENERGYFS_THREADS" with
        | null | "" -> ()
        | s ->
            match Int32.TryParse s with
            | true, n when n > 0 -> setThreads n
            | _ -> invalidArg "ENERGYFS_THREADS" (sprintf "ENERGYFS_THREADS must be a positive integer, got '%s'" s)
