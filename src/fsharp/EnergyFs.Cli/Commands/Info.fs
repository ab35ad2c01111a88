/// `energyfs info`: versions, device, threads, runtime.
module EnergyFs.Cli.Commands.Info

open EnergyFs

/// Prints one "name: value" line per fact; with json, one JSON object.
let run (ctx: Context) (json: bool) =
    let facts = About.describe ctx
    if json then
        // Keys in the metrics' convention ("CUDA available" → cuda_available).
        printfn "%s" (EnergyFs.Papers.Reproduction.RunMetrics.json [ for k, v in facts -> EnergyFs.Papers.Reproduction.RunMetrics.snakeCase k, box v ])
    else
        let width = facts |> List.map (fst >> String.length) |> List.max
        for k, v in facts do printfn "%-*s  %s" width k v
    0
