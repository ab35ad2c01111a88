/// Every benchmark, group by group. To add a group: write Groups/NewGroup.fs exposing
/// `benchmarks: Benchmark list` (and bench/pytorch/newgroup.py for the PyTorch side), add it to
/// the project file and to the list below.
module EnergyFs.Bench.Registry

/// All benchmarks, in the order they run.
let all : Benchmark list =
    List.concat [ Groups.Elementwise.benchmarks; Groups.Library.benchmarks; Groups.Mlp.benchmarks; Groups.Hessian.benchmarks; Groups.Dual.benchmarks; Groups.Regression.benchmarks; Groups.FenchelYoung.benchmarks; Groups.Spen.benchmarks; Groups.Sequences.benchmarks; Groups.SequenceTraining.benchmarks; Groups.Epochs.benchmarks ]

/// The benchmarks matching the filters (all of them for an empty list); fails on duplicate names.
let select (filters: string list) =
    let dups = all |> List.countBy (fun b -> b.Name) |> List.filter (fun (_, n) -> n > 1)
    if not dups.IsEmpty then failwithf "duplicate benchmark names: %A" (List.map fst dups)
    all |> List.filter (Benchmark.matches filters)
