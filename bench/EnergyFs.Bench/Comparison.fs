/// `bench --compare OLD.json`: the change of each benchmark against an earlier results file, so a
/// change to a hot path shows its effect in one command. Rows are matched by (benchmark, threads);
/// a change counts as real only when it exceeds 5 % and the two runs' interquartile ranges do not
/// overlap (quick runs on a shared machine move by more than that on their own).
module EnergyFs.Bench.Comparison

open System
open System.IO
open System.Text
open System.Text.Json.Nodes

/// One side's timing as a results file stores it.
type Timing =
    { Median: float
      Q1: float
      Q3: float }

/// One benchmark at one thread count in both files.
type Row =
    { Benchmark: string
      Threads: int
      Old: Timing option
      New: Timing option
      OldRatio: float option
      NewRatio: float option }

let private timing (side: JsonNode) : Timing option =
    match side with
    | null -> None
    | s ->
        match s["median_s"], s["q1_s"], s["q3_s"] with
        | null, _, _ -> None
        | m, q1, q3 ->
            let v (n: JsonNode) = if isNull n then nan else n.GetValue<float>()
            Some { Median = v m; Q1 = v q1; Q3 = v q3 }

let private results (file: string) (root: JsonNode) =
    match root with
    | null -> failwithf "%s: not a results file (no JSON)" file
    | r ->
        match r["results"] with
        | :? JsonArray as a ->
            [ for x in a ->
                let ratio = match x["ratio_median"] with null -> None | n -> Some (n.GetValue<float>())
                (x["benchmark"].GetValue<string>(), x["threads"].GetValue<int>()), (timing x["energyfs"], ratio) ]
        | _ -> failwithf "%s: not a bench results file (no \"results\" array)" file

/// Reads a results file; Error names it when it is absent, not JSON, or not a results file.
let tryLoad (file: string) : Result<JsonNode, string> =
    if not (File.Exists file) then Error (sprintf "results file %s not found" file)
    else
        try
            let root = JsonNode.Parse(File.ReadAllText file)
            results file root |> ignore
            Ok root
        with e -> Error (sprintf "%s is not a bench results file: %s" file e.Message)

/// Reads a results file (fails naming it, as `tryLoad` says).
let load (file: string) : JsonNode =
    match tryLoad file with
    | Ok root -> root
    | Error message -> failwith message

/// The rows of two results documents: every (benchmark, threads) of the new one, then those only
/// the old one has.
let rows (oldFile: string, oldRoot: JsonNode) (newFile: string, newRoot: JsonNode) : Row list =
    let olds = results oldFile oldRoot |> Map.ofList
    let news = results newFile newRoot
    [ for key, (t, r) in news ->
        let ot, oratio = olds |> Map.tryFind key |> Option.defaultValue (None, None)
        { Benchmark = fst key; Threads = snd key; Old = ot; New = t; OldRatio = oratio; NewRatio = r }
      for KeyValue (key, (t, r)) in olds do
        if not (news |> List.exists (fun (k, _) -> k = key)) then
            yield { Benchmark = fst key; Threads = snd key; Old = t; New = None; OldRatio = r; NewRatio = None } ]

/// "faster", "slower" or "" (within noise: under 5 % or overlapping interquartile ranges).
let verdict (row: Row) : string =
    match row.Old, row.New with
    | Some o, Some n when o.Median > 0.0 ->
        let change = n.Median / o.Median - 1.0
        let overlap = n.Q1 <= o.Q3 && o.Q1 <= n.Q3
        if abs change < 0.05 || overlap then "" elif change < 0.0 then "faster" else "slower"
    | _ -> ""

let private seconds (s: float) =
    if Double.IsNaN s then "—" elif s >= 1.0 then sprintf "%.2f s" s elif s >= 1e-3 then sprintf "%.2f ms" (s * 1e3) else sprintf "%.1f µs" (s * 1e6)

/// The comparison as a Markdown table (EnergyFs median old → new, change, ratio to PyTorch old →
/// new, verdict) with a count of real changes.
let table (oldName: string) (newName: string) (rows: Row list) : string =
    let sb = StringBuilder()
    let line (s: string) = sb.AppendLine s |> ignore
    line (sprintf "Change of each benchmark: %s → %s (EnergyFs median; a change counts when it exceeds 5 %% and the interquartile ranges do not overlap)." oldName newName)
    line ""
    line "| benchmark | threads | EnergyFs before | EnergyFs now | change | ratio before | ratio now | |"
    line "|---|---|---|---|---|---|---|---|"
    let r (x: float option) = x |> Option.map (sprintf "%.2f") |> Option.defaultValue "—"
    for row in rows do
        let median (t: Timing option) = t |> Option.map (fun t -> seconds t.Median) |> Option.defaultValue "—"
        let change =
            match row.Old, row.New with
            | Some o, Some n when o.Median > 0.0 -> sprintf "%+.1f %%" (100.0 * (n.Median / o.Median - 1.0))
            | _, None -> "not run now"
            | None, _ -> "new"
            | _ -> "—"
        line (sprintf "| %s | %d | %s | %s | %s | %s | %s | %s |" row.Benchmark row.Threads (median row.Old) (median row.New) change (r row.OldRatio) (r row.NewRatio) (verdict row))
    let count v = rows |> List.filter (fun x -> verdict x = v) |> List.length
    line ""
    line (sprintf "%d faster, %d slower, %d within noise or unmatched." (count "faster") (count "slower") (rows.Length - count "faster" - count "slower"))
    sb.ToString()
