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
                | Ok settings -> Expect.equal (List.map fst settings) [ "mmap_threshold"; "trim_threshold"; "top_pad"; "arena_max" ] "settings"
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
