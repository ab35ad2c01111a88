namespace EnergyFs

/// What this build of EnergyFs runs on: versions, device, threads, runtime. Printed by `energyfs info`
/// and written into every report.
module About =

    /// Name and value pairs describing the library, the native runtime and the device.
    let describe (ctx: Context) : (string * string) list =
        [ "EnergyFs", Runtime.version
          "TorchSharp", Runtime.torchSharpVersion
          "libtorch", Runtime.libtorchVersion ()
          ".NET", System.Environment.Version.ToString()
          "OS", System.Runtime.InteropServices.RuntimeInformation.OSDescription
          "device", Context.describe ctx
          "CUDA available", string (Context.cudaAvailable ())
          "threads", string (Runtime.threads ())
          "processors", string System.Environment.ProcessorCount
          "private runtime",
          (match Runtime.privateRuntime (), Runtime.libstdcxx () with
           | true, Some library -> sprintf "yes (%s and its own loader, as build.sh prepares on Debian 12)" library
           | true, None -> "yes"
           | false, _ -> "no") ]
