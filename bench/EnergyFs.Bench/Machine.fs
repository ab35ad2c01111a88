/// A description of the machine and the software a run measured, for the results files.
module EnergyFs.Bench.Machine

open System
open System.IO
open EnergyFs

/// The first "model name" of /proc/cpuinfo (Linux), else the processor architecture.
let cpuModel () =
    try
        File.ReadLines "/proc/cpuinfo"
        |> Seq.tryFind (fun l -> l.StartsWith "model name")
        |> Option.map (fun l -> l.Substring(l.IndexOf ':' + 1).Trim())
        |> Option.defaultValue (string Runtime.InteropServices.RuntimeInformation.ProcessArchitecture)
    with _ -> string Runtime.InteropServices.RuntimeInformation.ProcessArchitecture

/// Total memory in GiB from /proc/meminfo, when readable.
let memoryGiB () =
    try
        File.ReadLines "/proc/meminfo"
        |> Seq.tryFind (fun l -> l.StartsWith "MemTotal:")
        |> Option.map (fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0 / 1024.0)
    with _ -> None

/// The 1-minute load average from /proc/loadavg, when readable.
let loadAverage () =
    try Some(float (File.ReadAllText("/proc/loadavg").Split(' ')[0])) with _ -> None

/// How oneMKL (inside libtorch_cpu.so) chooses its kernels: on AMD processors, whether
/// build.sh's override (tools/mkl-dispatch) is mapped into this process.
let mklDispatch () =
    try
        let amd = File.ReadAllText("/proc/cpuinfo").Contains "AuthenticAMD"
        let overridden = File.ReadAllText("/proc/self/maps").Contains "libenergyfs-mkl-dispatch"
        if not amd then "by CPUID (Intel or other processor)"
        elif overridden then "by CPUID: build.sh's override of MKL's Intel check is preloaded (AVX2/AVX-512 kernels on this AMD processor)"
        else "generic kernels (AMD processor without build.sh's override: ENERGYFS_MKL_DISPATCH=0 or no C compiler)"
    with _ -> "unknown"

/// Name/value pairs: CPU, cores, memory, OS, .NET and the EnergyFs / TorchSharp / libtorch versions.
let describe () =
    [ "CPU", cpuModel ()
      "logical CPUs", string Environment.ProcessorCount
      "memory", (match memoryGiB () with Some g -> sprintf "%.1f GiB" g | None -> "unknown")
      "OS", Runtime.InteropServices.RuntimeInformation.OSDescription
      ".NET", Environment.Version.ToString()
      "EnergyFs", Runtime.version
      "TorchSharp", Runtime.torchSharpVersion
      "libtorch", Runtime.libtorchVersion () + " (official CPU build from the libtorch-cpu-linux-x64 package: MKL, oneDNN and OpenMP linked in)"
      "private runtime", (if Runtime.privateRuntime () then "yes" else "no")
      "MKL kernels", mklDispatch () ]
