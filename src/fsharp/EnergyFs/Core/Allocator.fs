namespace EnergyFs

open System

/// glibc's allocator settings for libtorch's CPU tensors (internal; see `Runtime.allocatorTuning`).
///
/// libtorch allocates CPU tensors with the C library's malloc. glibc's defaults give memory back to the
/// kernel eagerly: a block above the mmap threshold (128 KiB, raised dynamically to the largest block
/// freed so far) is a fresh mmap each time, and the top of the heap is trimmed as soon as more than
/// the trim threshold (twice the mmap threshold) is free. A training step that frees its whole dispose
/// scope at once (a joint regression step at batch 32 × M 1024 × width 32 frees tens of [32 × 1025 × 32]
/// tensors together) therefore returns its memory to the kernel after every step, and the next step
/// faults every page back in, zero-filled: at width 32 on toy set 1 that was 1.95 million minor page
/// faults and 14 s of kernel time over 3 epochs (11–14 s per epoch), against 0.11 million, 1.5 s and
/// 2.2–2.5 s per epoch with the settings below (docs/papers/regression.md, issue #16). Python frees each
/// tensor as soon as its last reference goes, so the same steps in PyTorch keep the heap warmer. Fixed
/// thresholds (blocks up to 32 MiB from the heap, the heap trimmed only above 512 MiB free), a top pad
/// and one arena keep freed blocks for reuse; memory a process once used is kept, up to that much.
/// Blocks above 32 MiB (glibc's largest mmap threshold) are still mapped afresh: keep tensors that are
/// allocated in loops below that size (see `Regression`'s quadrature chunks).
///
/// What mallopt cannot set is the second half of the story. libtorch allocates tensors 64-byte
/// aligned (posix_memalign), and glibc 2.36 serves an aligned request of n bytes from a free chunk of
/// at least n + 96 bytes: a freed tensor buffer of exactly n is reused only once it has merged with a
/// free neighbour. Small chunks freed into the per-thread cache (tcache) or the fast bins stay marked
/// in use, sit between the buffers, and stop that merge, so each new buffer comes from the heap's top
/// on pages never touched: a sphere Langevin step of 10⁴ particles (three [10⁴ × 64] buffers alive at
/// once) took 12 ms and 490 page faults per call with the settings below, 2–3 ms and 1 fault with
/// the tcache and fast bins off. Those can only be set when the process starts
/// (`GLIBC_TUNABLES=…:glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0`); `build.sh` exports the whole
/// set for every process it runs, and this module then changes nothing (the user's choice wins).
module internal Allocator =

    open System.Runtime.InteropServices

    [<DllImport("libc.so.6", EntryPoint = "mallopt")>]
    extern int private mallopt(int param, int value)

    /// glibc's M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD and M_ARENA_MAX parameters of mallopt.
    let private trimThreshold, topPad, mmapThreshold, arenaMax = -1, -2, -3, -8

    /// The values set: blocks up to 32 MiB from the heap (glibc's largest mmap threshold on 64-bit),
    /// the heap's top trimmed above 512 MiB free, a top pad of 64 MiB, and one arena for the threads that
    /// get theirs from now on. A thread's own arena (any thread but the first: a .NET thread-pool thread,
    /// a thread an app starts) grows in 64 MiB heaps, and a heap that becomes free is unmapped unless
    /// the top pad keeps it: without the pad, a thread of its own faulted its memory in again every
    /// round (81,734 faults for ten rounds of 42 MB, against 0 in the main arena).
    let settings = [ "mmap_threshold", 32 * 1024 * 1024; "trim_threshold", 512 * 1024 * 1024; "top_pad", 64 * 1024 * 1024; "arena_max", 1 ]

    /// Whether the user set the allocator explicitly (GLIBC_TUNABLES with glibc.malloc entries, or
    /// ENERGYFS_MALLOC_TUNING=0): then nothing is changed.
    let private userChoice () =
        let tunables = Environment.GetEnvironmentVariable "GLIBC_TUNABLES"
        (not (isNull tunables) && tunables.Contains "glibc.malloc.")
        || Environment.GetEnvironmentVariable "ENERGYFS_MALLOC_TUNING" = "0"

    /// Applies `settings` once on Linux with glibc; the outcome: Ok () when applied, Error why not.
    /// The glibc.malloc entries of GLIBC_TUNABLES (set when the process started), as (name, value):
    /// None when there are none.
    let fromTunables () : (string * int) list option =
        match Environment.GetEnvironmentVariable "GLIBC_TUNABLES" with
        | null | "" -> None
        | tunables ->
            let entries =
                [ for entry in tunables.Split(':', StringSplitOptions.RemoveEmptyEntries) do
                    match entry.Split('=') with
                    | [| name; value |] when name.StartsWith "glibc.malloc." ->
                        match Int32.TryParse value with
                        | true, v -> yield name.Substring "glibc.malloc.".Length, v
                        | _ -> ()
                    | _ -> () ]
            if entries.IsEmpty then None else Some entries

    let outcome : Lazy<Result<unit, string>> =
        lazy (
            if not (OperatingSystem.IsLinux()) then Error "not Linux"
            elif userChoice () then Error "left to the user (GLIBC_TUNABLES or ENERGYFS_MALLOC_TUNING=0)"
            else
                try
                    let mmap = mallopt (mmapThreshold, snd settings[0])
                    let trim = mallopt (trimThreshold, snd settings[1])
                    let pad = mallopt (topPad, snd settings[2])
                    let arenas = mallopt (arenaMax, snd settings[3])
                    if mmap = 1 && trim = 1 && pad = 1 && arenas = 1 then Ok () else Error "mallopt refused the settings"
                with
                | :? DllNotFoundException | :? EntryPointNotFoundException -> Error "no glibc (libc.so.6 with mallopt)")
