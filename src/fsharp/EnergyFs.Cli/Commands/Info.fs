/// `energyfs info`: versions, device, threads, runtime.
module EnergyFs.Cli.Commands.Info

open EnergyFs
open EnergyFs.Papers.Reports

/// Prints one "name: value" line per fact; with json, one JSON object.
let run (ctx: Context) (json: bool) =
    let facts = About.describe ctx
    if json then
        let body = facts |> List.map (fun (k, v) -> sprintf "\"%s\": \"%s\"" k (v.Replace("\\", "\\\\").Replace("\"", "\\\""))) |> String.concat ", "
        printfn "{%s}" body
    else
        let width = facts |> List.map (fst >> String.length) |> List.max
        for k, v in facts do printfn "%-*s  %s" width k v
    0
