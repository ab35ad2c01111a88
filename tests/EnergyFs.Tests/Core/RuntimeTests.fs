module EnergyFs.Tests.Core.RuntimeTests

open Expecto
open EnergyFs
open EnergyFs.Tests.Generators

[<Tests>]
let tests =
    testList "Core.Runtime" [
        testCase "allocator: freed tensor memory is reused, not faulted in again (Linux, glibc)" <| fun () ->
            let minorFaults () =
                // /proc/self/stat: the 10th field is minflt; the command name (field 2) may hold spaces.
                let stat = System.IO.File.ReadAllText "/proc/self/stat"
                int64 ((stat.Substring (stat.LastIndexOf ')' + 2)).Split(' ')[7])
            if System.OperatingSystem.IsLinux () && System.Environment.GetEnvironmentVariable "ENERGYFS_MALLOC_TUNING" <> "0" then
                match Runtime.allocatorTuning () with
                | Error why -> failtestf "the allocator settings were not applied: %s" why
                | Ok settings ->
                    for name in [ "mmap_threshold"; "trim_threshold"; "top_pad"; "arena_max" ] do
                        Expect.contains (List.map fst settings) name "settings"
                // A step's worth of [32 × 1025 × 32] float32 tensors (4.2 MB each, 42 MB in all), freed together.
                let round () =
                    Scope.run (fun () ->
                        for _ in 1 .. 10 do (TorchSharp.torch.ones (32L, 1025L, 32L)) |> ignore)
                // On a thread of its own (as an app's training thread): its arena is created under the settings.
                let mutable faults = 0L
                let probe () =
                    round ()
                    let before = minorFaults ()
                    for _ in 1 .. 10 do round ()
                    faults <- minorFaults () - before
                let thread = System.Threading.Thread probe
                thread.Start ()
                thread.Join ()
                // With glibc's defaults the memory goes back to the kernel after each round: about 10,000 pages (all of
                // it) faulted in again per round, 100,000 in all; the probe allows under a third of that.
                Expect.isLessThan faults 30_000L (sprintf "%d minor page faults over 10 rounds of 42 MB" faults)

        testCase "allocator: tensors of a step with three buffers alive reuse the heap (GLIBC_TUNABLES from build.sh)" <| fun () ->
            // 64-byte-aligned [10⁴ × 64] buffers, three alive at once, freed together: with the tcache on, small
            // chunks parked between them stop their merging and every step takes fresh pages (about 625 faults per
            // step here); build.sh's GLIBC_TUNABLES turn the tcache and fast bins off.
            let minorFaults () =
                let stat = System.IO.File.ReadAllText "/proc/self/stat"
                int64 ((stat.Substring (stat.LastIndexOf ')' + 2)).Split(' ')[7])
            match Runtime.allocatorTuning () with
            | Ok settings when System.OperatingSystem.IsLinux () && List.contains ("tcache_count", 0) settings ->
                use a = TorchSharp.torch.randn (10_000L, 64L)
                let step () = Scope.run (fun () -> (a.clone () + a.clone ()) |> ignore)
                for _ in 1 .. 20 do step ()
                let before = minorFaults ()
                for _ in 1 .. 100 do step ()
                let perStep = float (minorFaults () - before) / 100.0
                Expect.isLessThan perStep 100.0 (sprintf "%.0f minor page faults per step" perStep)
            | _ -> skiptest "needs Linux with GLIBC_TUNABLES glibc.malloc.tcache_count=0 (build.sh sets it)"

        property "the same seed gives bit-identical samples" <| fun (Seed s) ->
            let draw () =
                use rng = new Rng(s, Context.cpu.Device)
                let a = Tensor.toArray (Tensor.randn rng Context.cpu [ 7L ])
                let b = Tensor.toArray (Tensor.rand rng Context.cpu [ 3L ])
                Array.append a b
            Expect.sequenceEqual (draw ()) (draw ()) "identical"

        testCase "different seeds give different samples" <| fun () ->
            use r1 = new Rng(1L, Context.cpu.Device)
            use r2 = new Rng(2L, Context.cpu.Device)
            Expect.notEqual (Tensor.toArray (Tensor.randn r1 Context.cpu [ 4L ])) (Tensor.toArray (Tensor.randn r2 Context.cpu [ 4L ])) "differ"

        testCase "generator state round-trips" <| fun () ->
            use rng = new Rng(5L, Context.cpu.Device)
            use state = rng.GetState()
            let a = Tensor.toArray (Tensor.randn rng Context.cpu [ 5L ])
            rng.SetState state
            let b = Tensor.toArray (Tensor.randn rng Context.cpu [ 5L ])
            Expect.sequenceEqual a b "replayed"

        testCase "Context.parse understands cpu and rejects nonsense" <| fun () ->
            Expect.equal (Context.parse "CPU") Context.cpu "cpu"
            Expect.throws (fun () -> Context.parse "tpu" |> ignore) "tpu is rejected"

        testCase "About names the versions" <| fun () ->
            let info = About.describe Context.cpu |> Map.ofList
            Expect.equal info["TorchSharp"] "0.107.0" "TorchSharp version"
            Expect.stringStarts info["libtorch"] "2.10" "libtorch version"
    ]
