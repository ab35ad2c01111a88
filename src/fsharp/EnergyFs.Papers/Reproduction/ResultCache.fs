namespace EnergyFs.Papers.Reproduction

open EnergyFs
open System
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open System.Text.RegularExpressions

/// A cache entry: the outcome of one (experiment, configuration, seed) and the wall time it took.
type CachedRun =
    { /// The metrics and curves.
      Outcome: RunOutcome
      /// Wall time of the computation.
      Seconds: float
      /// CPU time of the computing process (NaN when not recorded).
      CpuSeconds: float }

/// The on-disk cache of experiment results: one JSON file per (experiment, configuration, seed),
/// `<dir>/<experiment>-<hash>.json` with hash = the first 16 hex digits of SHA-256 over the
/// experiment id, its configuration text and the seed. A changed configuration or seed is a new
/// key (the old file stays and is simply not read). Files are written atomically (a temporary file
/// in the same folder, then a rename), so an interrupted run never leaves a half-written entry.
[<RequireQualifiedAccess>]
module ResultCache =

    /// Canonical text of a configuration value: F#'s structural `%A` printing with closures' compiler
    /// names replaced by `<fun>` and runs of white space collapsed, so that it is stable across
    /// builds (function-valued fields do not take part in the key; put what matters in data fields).
    let describe (config: obj) : string =
        let text = sprintf "%A" config
        let text = Regex.Replace(text, @"<fun:[^>]*>", "<fun>")
        Regex.Replace(text, @"\s+", " ").Trim()

    /// The key of a run: 16 hex digits of SHA-256(id ␤ config ␤ seed).
    let hash (experimentId: string) (config: string) (seed: int) : string =
        let bytes = SHA256.HashData(Encoding.UTF8.GetBytes(sprintf "%s\n%s\nseed=%d" experimentId config seed))
        Convert.ToHexString(bytes).Substring(0, 16).ToLowerInvariant()

    /// The cache file of a run of `spec` with `seed` under `dir`.
    let path (dir: string) (spec: ExperimentSpec) (seed: int) : string =
        Path.Combine(dir, sprintf "%s-%s.json" spec.Id (hash spec.Id spec.Config seed))

    // JSON has no NaN or infinities: they are stored as the strings "NaN", "Infinity", "-Infinity".
    let private number (v: float) : JsonNode =
        if Double.IsFinite v then JsonValue.Create v :> JsonNode else JsonValue.Create(v.ToString(Globalization.CultureInfo.InvariantCulture)) :> JsonNode

    let private readNumber (n: JsonNode) : float =
        match n.GetValueKind() with
        | JsonValueKind.String -> Double.Parse(n.GetValue<string>(), Globalization.CultureInfo.InvariantCulture)
        | _ -> n.GetValue<float>()

    /// The JSON text of a cache entry.
    let toJson (spec: ExperimentSpec) (seed: int) (run: CachedRun) : string =
        let metrics = JsonObject()
        for k, v in run.Outcome.Metrics do metrics[k] <- number v
        let series = JsonArray()
        for s in run.Outcome.Series do
            let o = JsonObject()
            o["name"] <- JsonValue.Create s.Name
            o["x"] <- JsonArray(s.X |> Array.map number)
            o["y"] <- JsonArray(s.Y |> Array.map number)
            series.Add o
        let root = JsonObject()
        root["experiment"] <- JsonValue.Create spec.Id
        root["config"] <- JsonValue.Create spec.Config
        root["seed"] <- JsonValue.Create seed
        root["seconds"] <- number run.Seconds
        root["cpu_seconds"] <- number run.CpuSeconds
        root["energyfs"] <- JsonValue.Create EnergyFs.Runtime.version
        root["metrics"] <- metrics
        root["series"] <- series
        root.ToJsonString(JsonSerializerOptions(WriteIndented = true))

    /// Parses a cache entry; fails with JsonException (or KeyNotFound-like errors) on a malformed file.
    let ofJson (text: string) : CachedRun =
        let root = JsonNode.Parse(text).AsObject()
        let metrics = [ for KeyValue (k, v) in root["metrics"].AsObject() -> k, readNumber v ]
        let series =
            [ for s in root["series"].AsArray() ->
                { Name = s["name"].GetValue<string>()
                  X = s["x"].AsArray() |> Seq.map readNumber |> Array.ofSeq
                  Y = s["y"].AsArray() |> Seq.map readNumber |> Array.ofSeq } ]
        let cpu = match root["cpu_seconds"] with null -> nan | n -> readNumber n
        { Outcome = { Metrics = metrics; Series = series }; Seconds = readNumber root["seconds"]; CpuSeconds = cpu }

    /// The cached run, if a readable entry exists for exactly this configuration and seed (an
    /// unreadable file counts as absent and will be overwritten).
    let tryLoad (dir: string) (spec: ExperimentSpec) (seed: int) : CachedRun option =
        let file = path dir spec seed
        if File.Exists file then
            try
                let text = File.ReadAllText file
                let root = JsonNode.Parse(text)
                // The id, configuration and seed are stored too: a hash collision is not a hit.
                if root["experiment"].GetValue<string>() = spec.Id && root["config"].GetValue<string>() = spec.Config
                   && root["seed"].GetValue<int>() = seed then Some (ofJson text)
                else None
            with _ -> None
        else None

    /// Stores a run atomically (write a temporary file in the same folder, then rename over the target).
    let store (dir: string) (spec: ExperimentSpec) (seed: int) (run: CachedRun) : unit =
        Directory.CreateDirectory dir |> ignore
        let file = path dir spec seed
        let temp = Path.Combine(dir, sprintf ".%s.%s.tmp" (Path.GetFileName file) (Guid.NewGuid().ToString("N")))
        File.WriteAllText(temp, toJson spec seed run)
        File.Move(temp, file, true)
