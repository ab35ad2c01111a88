namespace EnergyFs

open System
open TorchSharp

/// Loading libtorch (internal; the public entry point is `Runtime.ensureNative`). TorchSharp loads its
/// native shim (libLibTorchSharp) and libtorch the first time any `torch` member is touched; when that
/// fails, TorchSharp throws a TypeInitializationException whose message blames a missing package even
/// when the real cause is the system's libstdc++ (Debian 12). This module checks beforehand and says
/// what is missing and what to do.
module internal NativeLoad =

    open System.IO
    open System.Text.RegularExpressions

    /// The runtime identifier of the native packages for this OS (x64 Linux and Windows, arm64 macOS).
    let rid =
        if OperatingSystem.IsWindows() then "win-x64"
        elif OperatingSystem.IsMacOS() then "osx-arm64"
        else "linux-x64"

    /// The platform's file name of native library `name` ("torch_cpu" → libtorch_cpu.so on Linux).
    let file name =
        if OperatingSystem.IsWindows() then name + ".dll"
        elif OperatingSystem.IsMacOS() then "lib" + name + ".dylib"
        else "lib" + name + ".so"

    /// The files mapped into this process (Linux: /proc/self/maps), in order; empty elsewhere.
    let mappedFiles () : string list =
        if OperatingSystem.IsLinux() && File.Exists "/proc/self/maps" then
            try
                File.ReadAllLines "/proc/self/maps"
                |> Array.choose (fun line ->
                    let i = line.IndexOf '/'
                    if i < 0 then None else Some(line.Substring(i).Replace(" (deleted)", "").Trim()))
                |> Array.distinct
                |> List.ofArray
            with _ -> []
        else []

    /// The first mapped file whose name starts with `prefix` (for example "libstdc++.so").
    let mapped (prefix: string) =
        mappedFiles () |> List.tryFind (fun p -> Path.GetFileName(p).StartsWith(prefix, StringComparison.Ordinal))

    /// The GLIBCXX_x.y.z symbol versions named in a binary (the ones a library requires, or a libstdc++ provides).
    let glibcxxVersions (path: string) : Set<string> =
        let text = Text.Encoding.Latin1.GetString(File.ReadAllBytes path)
        Regex.Matches(text, @"GLIBCXX_[0-9]+(\.[0-9]+)+") |> Seq.map (fun m -> m.Value) |> Set.ofSeq

    /// Folders where TorchSharp's native shim may sit: the app's output folder (runtimes/RID/native or
    /// itself), beside TorchSharp.dll, and TorchSharp's NuGet package folder.
    let shimFolders () =
        let torchSharpDir =
            match typeof<torch>.Assembly.Location with
            | "" -> AppContext.BaseDirectory
            | location -> Path.GetDirectoryName location
        [ Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native")
          AppContext.BaseDirectory
          Path.Combine(torchSharpDir, "runtimes", rid, "native")
          torchSharpDir
          Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "runtimes", rid, "native")) ]
        |> List.map Path.TrimEndingDirectorySeparator
        |> List.distinct

    /// TorchSharp's native shim, where it is found first.
    let findShim () =
        shimFolders () |> List.map (fun d -> Path.Combine(d, file "LibTorchSharp")) |> List.tryFind File.Exists

    /// What to do when the libstdc++ of this process is too old for TorchSharp's shim.
    let private libstdcxxAdvice =
        "TorchSharp 0.107 needs the libstdc++ of GCC 13 or newer (GLIBCXX_3.4.32), which Debian 13, Ubuntu 24.04 "
        + "and Fedora 39 or newer have and Debian 12 has not. On Debian 12, start the app through the private runtime "
        + "that the EnergyFs repository's build.sh prepares (a newer libstdc++ beside the system's, which is left alone): "
        + "`./build.sh dotnet run --project <your app folder>` or `./build.sh dotnet <your app>.dll`. Not the app's "
        + "native executable, nor a plain `dotnet`: they load the system's libstdc++ (`./build.sh env` names the "
        + "private dotnet). See \"Using EnergyFs in your own app\" in the EnergyFs README."

    /// The message when libstdc++ `library` lacks the versions `missing` that `shim` requires.
    let libstdcxxTooOld (shim: string) (library: string) (missing: string seq) =
        sprintf "libtorch cannot be loaded: TorchSharp's native shim %s requires %s of libstdc++, but this process runs with %s, which lacks %s. %s"
            shim (String.Join(", ", missing)) library (if Seq.length missing = 1 then "it" else "them") libstdcxxAdvice

    /// The versions of GLIBCXX that the shim requires and the libstdc++ already loaded in this process
    /// lacks (Linux, when both are known), with the shim's and the library's paths.
    let missingGlibcxx () =
        match findShim (), mapped "libstdc++.so" with
        | Some shim, Some library when File.Exists library ->
            try
                let missing = Set.difference (glibcxxVersions shim) (glibcxxVersions library)
                if missing.IsEmpty then None else Some(shim, library, missing)
            with _ -> None
        | _ -> None

    /// The loader's error for `path` (dlerror on Linux), when loading it fails.
    let loaderError (path: string) =
        try
            Runtime.InteropServices.NativeLibrary.Load path |> ignore
            None
        with e -> Some e.Message

    /// Says why loading libtorch failed (after TorchSharp tried), naming what is missing and what to do.
    let explain (failure: exn) =
        let first (text: string) = (text.Split('\n') |> Array.tryFind (fun l -> l.Trim() <> "") |> Option.defaultValue text).Trim()
        let rec innermost (e: exn) = if isNull e.InnerException then e else innermost e.InnerException
        match missingGlibcxx () with
        | Some (shim, library, missing) -> libstdcxxTooOld shim library missing
        | None ->
            match findShim () with
            | None ->
                sprintf "libtorch cannot be loaded: TorchSharp's native shim %s is in none of %s. Did the restore of the TorchSharp package finish? (%s)"
                    (file "LibTorchSharp") (String.Join(", ", shimFolders ())) (first (innermost failure).Message)
            | Some shim ->
                let folder = Path.GetDirectoryName shim
                let libtorch = Path.Combine(folder, file "torch_cpu")
                match loaderError shim with
                | Some error when error.Contains "GLIBCXX" ->
                    sprintf "libtorch cannot be loaded: %s %s" (first error) libstdcxxAdvice
                | _ when not (File.Exists libtorch) && not (mappedFiles () |> List.exists (fun p -> Path.GetFileName p = file "torch_cpu")) ->
                    sprintf "libtorch cannot be loaded: there is no native libtorch (%s) beside TorchSharp's shim in %s. An application references a native libtorch package as well as EnergyFs: libtorch-cpu-%s 2.10.0 (or TorchSharp-cpu, TorchSharp-cuda-linux); an F# script adds #r \"nuget: libtorch-cpu-%s, 2.10.0\" and calls Runtime.loadNativeFromPackages () before anything else."
                        (file "torch_cpu") folder rid rid
                | Some error -> sprintf "libtorch cannot be loaded: %s" (first error)
                | None -> sprintf "libtorch cannot be loaded: %s" (first (innermost failure).Message)

    /// Loads libtorch once: checks libstdc++ first (so that TorchSharp does not try, print its trace and copy
    /// every native library into a `cpu` folder of the app), then lets TorchSharp load it. The outcome is kept.
    let private outcome =
        lazy (
            match missingGlibcxx () with
            | Some (shim, library, missing) when not (mappedFiles () |> List.exists (fun p -> Path.GetFileName p = file "LibTorchSharp")) ->
                Error(libstdcxxTooOld shim library missing, null)
            | _ ->
                Allocator.outcome.Force() |> ignore
                try
                    torch.TryInitializeDeviceType DeviceType.CPU |> ignore
                    Ok()
                with e -> Error(explain e, e))

    /// Throws DllNotFoundException saying what is missing and what to do when libtorch cannot be loaded.
    let ensure () =
        match outcome.Force() with
        | Ok() -> ()
        | Error(message, inner) -> raise (DllNotFoundException(message, inner))

/// Where tensors live and in which floating-point type. Every function that creates tensors takes a
/// Context explicitly; nothing in EnergyFs reads a global default device or dtype.
type Context =
    { /// The device tensors are created on (CPU, or a CUDA device).
      Device: torch.Device
      /// The floating-point type of created tensors (Float32 or Float64).
      DType: torch.ScalarType }

/// Constructors and queries for Context.
module Context =

    // The CPU device, made without touching `torch` (whose first use loads libtorch): a failed native load
    // is then reported by NativeLoad.ensure, not as the type-initialization failure of this file.
    let private cpuDevice = new torch.Device(DeviceType.CPU, -1)

    /// CPU, float32: the default for training.
    let cpu = { Device = cpuDevice; DType = torch.ScalarType.Float32 }

    /// CPU, float64: for finite-difference checks and reference computations.
    let cpu64 = { Device = cpuDevice; DType = torch.ScalarType.Float64 }

    /// Whether a CUDA device can be used (the CUDA native package is referenced and a GPU is present).
    /// Throws DllNotFoundException when libtorch itself cannot be loaded (see Runtime.ensureNative).
    let cudaAvailable () =
        NativeLoad.ensure ()
        try torch.cuda_is_available () with _ -> false

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
    do NativeLoad.ensure ()
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

    /// Loads libtorch (once per process) if it is not loaded yet, and throws DllNotFoundException saying
    /// what is missing and what to do when it cannot be: on Linux, a libstdc++ older than the one
    /// TorchSharp's native shim needs (GLIBCXX_3.4.32, GCC 13; Debian 12 has GCC 12's, and the message
    /// names the private runtime of the repository's build.sh), or no native libtorch package beside
    /// TorchSharp. EnergyFs calls it before its first tensor, generator or libtorch query, so a failed load
    /// surfaces as this exception instead of TorchSharp's type-initialization error; call it first in an
    /// application to fail early. (Code that touches TorchSharp before any EnergyFs call gets TorchSharp's
    /// own error.)
    let ensureNative () = NativeLoad.ensure ()

    /// The C library allocator settings EnergyFs applies when it loads libtorch (Linux with glibc): blocks
    /// up to 32 MiB are served from the heap and the heap is trimmed only above 512 MiB free, so that
    /// the tensors a training step frees are reused by the next step instead of going back to the
    /// kernel and being faulted in again (see the Allocator module for the measurements). Ok with the
    /// settings when applied; Error with the reason otherwise (not Linux, no glibc, or the user's own
    /// choice: GLIBC_TUNABLES with glibc.malloc entries, or ENERGYFS_MALLOC_TUNING=0, leave it alone —
    /// `build.sh` sets GLIBC_TUNABLES, which also turns off the tcache and fast bins that mallopt cannot).
    /// With glibc.malloc entries in GLIBC_TUNABLES, Ok lists those (name without the prefix, value); with
    /// an allocator preloaded in glibc's place (build.sh preloads mimalloc), Ok [name, 1].
    let allocatorTuning () : Result<(string * int) list, string> =
        ensureNative ()
        match Allocator.preloaded (), Allocator.outcome.Force(), Allocator.fromTunables () with
        | Some name, _, _ -> Ok [ name, 1 ]
        | None, Ok (), _ -> Ok Allocator.settings
        | None, Error _, Some fromStart when Environment.GetEnvironmentVariable "ENERGYFS_MALLOC_TUNING" <> "0" -> Ok fromStart
        | None, Error why, _ -> Error why

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
    let libtorchVersion () =
        ensureNative ()
        torch.__version__

    /// libtorch's intra-op thread count.
    let threads () =
        ensureNative ()
        torch.get_num_threads ()

    /// Sets libtorch's intra-op thread count (≥ 1).
    let setThreads (n: int) =
        Checks.positiveInt "threads" n
        ensureNative ()
        torch.set_num_threads n

    /// Seeds libtorch's global generator too, for code outside EnergyFs that uses it.
    let seedGlobal (seed: int64) =
        ensureNative ()
        torch.manual_seed seed |> ignore

    /// The loaders a Linux system's programs start with (the ABI's paths), those that exist.
    let private systemLoaders () =
        [ "/lib64/ld-linux-x86-64.so.2"; "/lib/ld-linux-aarch64.so.1"; "/lib/ld-linux-armhf.so.3"; "/lib/ld-linux.so.2" ]
        |> List.filter IO.File.Exists

    /// Whether this process runs on a private runtime such as the one build.sh prepares on Debian 12: a
    /// dotnet started by a dynamic loader other than the system's (with the newer libstdc++ beside it).
    /// On Linux it is read from the process itself (the loader mapped into it, compared byte for byte
    /// with the system's), however the app was started; elsewhere, from ENERGYFS_PRIVATE_RUNTIME=1,
    /// which build.sh sets.
    let privateRuntime () =
        match NativeLoad.mapped "ld-linux", systemLoaders () with
        | Some loader, (_ :: _ as system) when IO.File.Exists loader ->
            let sameBytes (a: byte[]) (b: byte[]) = MemoryExtensions.SequenceEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
            try
                let bytes = IO.File.ReadAllBytes loader
                not (system |> List.exists (fun s -> sameBytes (IO.File.ReadAllBytes s) bytes))
            with _ -> false
        | _ -> Environment.GetEnvironmentVariable "ENERGYFS_PRIVATE_RUNTIME" = "1"

    /// The file name of the libstdc++ mapped into this process (for example "libstdc++.so.6.0.33"), when
    /// known (Linux).
    let libstdcxx () = NativeLoad.mapped "libstdc++.so" |> Option.map IO.Path.GetFileName

    /// For F# scripts and notebooks, which have no native-library manifest: loads libtorch and
    /// TorchSharp's native shim from a build output folder (where they sit in runtimes/RID/native,
    /// or in the folder itself) before the first tensor is created. Fails naming the folders searched,
    /// and with DllNotFoundException saying what to do when the libraries are there but cannot be
    /// loaded (a libstdc++ too old, see `ensureNative`).
    let loadNativeFrom (folder: string) =
        let file = NativeLoad.file
        let candidates = [ IO.Path.Combine(folder, "runtimes", NativeLoad.rid, "native"); folder ]
        match candidates |> List.tryFind (fun d -> IO.File.Exists(IO.Path.Combine(d, file "LibTorchSharp"))) with
        | Some dir ->
            for name in [ "torch_cpu"; "LibTorchSharp" ] do
                let path = IO.Path.Combine(dir, file name)
                try
                    Runtime.InteropServices.NativeLibrary.Load path |> ignore
                with :? DllNotFoundException as e when e.Message.Contains "GLIBCXX" ->
                    let shim = IO.Path.Combine(dir, file "LibTorchSharp")
                    let message =
                        match NativeLoad.mapped "libstdc++.so" with
                        | Some library when IO.File.Exists library ->
                            let missing = Set.difference (NativeLoad.glibcxxVersions shim) (NativeLoad.glibcxxVersions library)
                            NativeLoad.libstdcxxTooOld shim library (if missing.IsEmpty then Set.singleton "GLIBCXX_3.4.32" else missing)
                        | _ -> NativeLoad.libstdcxxTooOld shim "the system's libstdc++" [ "GLIBCXX_3.4.32" ]
                    raise (DllNotFoundException(message, e))
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
        let rid = NativeLoad.rid
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
            // The folder is keyed by the package folders it links to as well as by the versions: a
            // folder made for packages restored elsewhere (a notebook's temporary packages folder,
            // since deleted) must not be reused, or its links dangle.
            let key =
                Text.Encoding.UTF8.GetBytes (libtorchNative + "\n" + shim)
                |> Security.Cryptography.SHA256.HashData
                |> Convert.ToHexString
                |> fun h -> h.Substring(0, 12).ToLowerInvariant()
            let folder =
                IO.Path.Combine(IO.Path.GetTempPath(), "energyfs-native",
                                sprintf "torchsharp-%s-libtorch-%O-%s-%s" (IO.Path.GetFileName torchSharpVersionDir) libtorchVersion rid key)
            IO.Directory.CreateDirectory folder |> ignore
            for source in Array.append (IO.Directory.GetFiles libtorchNative) (IO.Directory.GetFiles shim) do
                let target = IO.Path.Combine(folder, IO.Path.GetFileName source)
                if OperatingSystem.IsWindows() then
                    if not (IO.File.Exists target) then
                        try IO.File.Copy(source, target)
                        with :? IO.IOException when IO.File.Exists target -> () // another process made it first
                else
                    // A link to anything but `source` (dangling, or left by an older layout) is replaced.
                    let linksToSource () = (IO.FileInfo target).LinkTarget = source
                    if not (linksToSource ()) then
                        try IO.File.Delete target with :? IO.IOException -> ()
                        try IO.File.CreateSymbolicLink(target, source) |> ignore
                        with :? IO.IOException when linksToSource () -> () // another process made it first
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
