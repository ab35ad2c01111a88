// The bench project's assemblies and libtorch's native libraries, for the check scripts in this
// folder (`#load "BenchAssemblies.fsx"`). After `./build.sh build`.
#r "../EnergyFs.Bench/bin/Release/net10.0/TorchSharp.dll"
#r "../EnergyFs.Bench/bin/Release/net10.0/EnergyFs.dll"
#r "../EnergyFs.Bench/bin/Release/net10.0/EnergyFs.Papers.dll"
#r "../EnergyFs.Bench/bin/Release/net10.0/EnergyFs.Bench.dll"

// fsi does not resolve the packages' native libraries: load libtorch and TorchSharp's shim by path.
let private native = System.IO.Path.Combine (__SOURCE_DIRECTORY__, "..", "EnergyFs.Bench", "bin", "Release", "net10.0", "runtimes", "linux-x64", "native")
for lib in [ "libtorch_cpu.so"; "libtorch.so"; "libLibTorchSharp.so" ] do
    System.Runtime.InteropServices.NativeLibrary.Load (System.IO.Path.Combine (native, lib)) |> ignore
