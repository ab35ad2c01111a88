namespace EnergyFs.Papers.Reproduction

open System
open System.Collections.Generic
open System.Text
open System.Text.Json
open EnergyFs
open EnergyFs.Metrics

/// The one naming convention and the one aggregation of the metrics every front door writes: the
/// reproduction cache (`RunOutcome.Metrics`), the report and the CLI's `--json` line. A paper's
/// experiment defines its metrics once, as a function from its result to (name, value) pairs with
/// snake_case names (`angle_degrees`, `hamming_accuracy`, `test_nll`); several runs (seeds,
/// splits) are summarised per name as the mean (under the name) and the sample standard deviation
/// (under `<name>_std`, `Statistics.meanStd`).
[<RequireQualifiedAccess>]
module RunMetrics =

    /// Whether a metric or JSON key follows the convention: lower-case ASCII letters and digits in
    /// words joined by single underscores, starting with a letter (`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`).
    let isSnakeCase (name: string) : bool =
        not (String.IsNullOrEmpty name)
        && Char.IsAsciiLetterLower name[0]
        && name |> Seq.forall (fun c -> Char.IsAsciiLetterLower c || Char.IsAsciiDigit c || c = '_')
        && not (name.Contains "__") && not (name.EndsWith "_")

    /// A label as a snake_case key: a lower-to-upper case step starts a word ("QuadraticEnergy" →
    /// "quadratic_energy"), every run of other characters than letters and digits becomes one
    /// underscore ("solve parallel k=14" → "solve_parallel_k_14"), and leading or trailing
    /// underscores go. Raises ArgumentException ("label") when nothing is left.
    let snakeCase (label: string) : string =
        let sb = StringBuilder()
        let mutable previous = ' '
        for c in label do
            if Char.IsAsciiLetterOrDigit c then
                if Char.IsAsciiLetterUpper c && (Char.IsAsciiLetterLower previous || Char.IsAsciiDigit previous) then sb.Append '_' |> ignore
                sb.Append(Char.ToLowerInvariant c) |> ignore
            elif sb.Length > 0 && sb[sb.Length - 1] <> '_' then sb.Append '_' |> ignore
            previous <- c
        let key = sb.ToString().Trim '_'
        if key = "" then Checks.fail "label" (sprintf "'%s' has no letter or digit to make a key of" label)
        key

    /// The names of a metrics list that break the convention (empty when all follow it).
    let invalidNames (metrics: (string * float) list) : string list =
        metrics |> List.map fst |> List.filter (isSnakeCase >> not)

    /// Mean and sample standard deviation per metric over runs (seeds or splits): (name, mean, std)
    /// in the order the names first appear; a run lacking a name is skipped for it (as
    /// `Results.values` does). Uses `Statistics.meanStd` (n − 1; 0 for one run).
    let summarize (runs: (string * float) list list) : (string * float * float) list =
        let names = runs |> List.collect (List.map fst) |> List.distinct
        [ for name in names ->
            let values = runs |> List.choose (List.tryFind (fst >> (=) name) >> Option.map snd)
            let m, s = Statistics.meanStd values
            name, m, s ]

    /// A summary flattened for JSON: each metric's mean under its name, its standard deviation
    /// under `<name>_std`.
    let withStd (summary: (string * float * float) list) : (string * float) list =
        summary |> List.collect (fun (name, m, s) -> [ name, m; name + "_std", s ])

    /// Boxed (name, value) pairs, for `json`.
    let boxed (metrics: (string * float) list) : (string * obj) list =
        metrics |> List.map (fun (k, v) -> k, box v)

    let rec private jsonValue (value: obj) : obj =
        match value with
        | :? float as f when not (Double.IsFinite f) -> null
        | :? ((string * obj) list) as fields -> box (jsonObject fields)
        | :? ((string * float) list) as fields -> box (jsonObject (boxed fields))
        | :? (((string * obj) list) list) as rows -> box (rows |> List.map jsonObject |> Array.ofList)
        | :? (float[]) as xs -> box (xs |> Array.map (fun x -> if Double.IsFinite x then box x else null))
        | v -> v

    and private jsonObject (fields: (string * obj) list) : Dictionary<string, obj> =
        let d = Dictionary<string, obj>()
        for k, v in fields do d[k] <- jsonValue v
        d

    /// One JSON object of the fields, in order: NaN and infinities become null (JSON has neither);
    /// a value that is itself a field list (`(string * obj) list` or `(string * float) list`)
    /// becomes a nested object, a list of field lists an array of objects.
    let json (fields: (string * obj) list) : string =
        JsonSerializer.Serialize (jsonObject fields)
