namespace EnergyFs.Papers.Reproduction

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open EnergyFs

/// How a sweep chooses its configurations.
type SearchSpace =
    /// Every combination of the parameters' value lists (the first parameter varies slowest).
    | Grid
    /// `samples` configurations drawn independently (each parameter from its range) with `seed`.
    | RandomSearch of samples: int * seed: int

/// The values one parameter takes.
type ParameterRange =
    /// Listed values (the only kind a grid takes).
    | Values of JsonNode list
    /// Uniform on [low, high] (random search).
    | Uniform of low: float * high: float
    /// Log-uniform on [low, high], 0 < low (random search: learning rates, regularisation weights).
    | LogUniform of low: float * high: float
    /// A uniform integer in [low, high] (random search).
    | IntRange of low: int * high: int

/// Whether larger or smaller values of the selection metric are better.
type SelectionGoal =
    /// Larger is better (F1, accuracy).
    | Maximize
    /// Smaller is better (NLL, error).
    | Minimize

/// A sweep as its file declares it.
type SweepPlan =
    { /// The sweep's name (the default output folder is reports/sweeps/<name>).
      Name: string
      /// The file it was read from (in messages and the report).
      File: string
      /// The catalogue experiment swept, by id (for example `spen-bibtex-spen`).
      Experiment: string
      /// Start from the experiment's quick configuration rather than the full one.
      Quick: bool
      /// Seeds 0..Seeds−1 per configuration (the selection uses their mean).
      Seeds: int
      /// Grid or random search.
      Search: SearchSpace
      /// (settings path, values) in the file's order.
      Parameters: (string * ParameterRange) list
      /// The metric the selection uses: a validation/dev metric, never a test one.
      Select: string
      /// Larger or smaller is better.
      Goal: SelectionGoal
      /// Metrics reported beside it (the test metric of the selected configuration, for example).
      Report: string list }

/// Reading sweep files and enumerating their configurations.
///
/// A sweep file is JSON (comments and trailing commas allowed):
/// ```json
/// { "name": "bibtex-spen", "experiment": "spen-bibtex-spen", "configuration": "full", "seeds": 1,
///   "search": "grid",                                  // or { "random": 20, "seed": 0 }
///   "parameters": { "setup.EnergyHidden": [8, 16, 32],
///                   "settings.ssvm.Ssvm.Optimizer.LearningRate": [0.001, 0.0003] },
///                   // random search also takes { "log_uniform": [lo, hi] }, { "uniform": [lo, hi] }, { "int": [lo, hi] }
///   "select": { "metric": "dev_f1", "goal": "max" },
///   "report": [ "test_f1" ] }
/// ```
/// `energyfs sweep --settings <experiment>` lists the paths an experiment offers.
[<RequireQualifiedAccess>]
module SweepPlan =

    let private options = JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)

    let private bad (file: string) (message: string) : 'a = raise (DataFormatException(file, 0, message))

    let private str (file: string) (root: JsonObject) (key: string) (fallback: string option) =
        match root[key], fallback with
        | null, Some f -> f
        | null, None -> bad file (sprintf "the key \"%s\" is missing" key)
        | n, _ when n.GetValueKind() = JsonValueKind.String -> n.GetValue<string>()
        | n, _ -> bad file (sprintf "\"%s\" must be a string, got %s" key (n.ToJsonString()))

    let private pair (file: string) (key: string) (n: JsonNode) : float * float =
        match n with
        | :? JsonArray as a when a.Count = 2 && a |> Seq.forall (fun x -> not (isNull x) && x.GetValueKind() = JsonValueKind.Number) ->
            let lo, hi = a[0].GetValue<float>(), a[1].GetValue<float>()
            if not (lo <= hi) then bad file (sprintf "parameter \"%s\": the range [%g, %g] is empty" key lo hi)
            lo, hi
        | _ -> bad file (sprintf "parameter \"%s\": a range is [low, high], got %s" key (if isNull n then "null" else n.ToJsonString()))

    let private range (file: string) (key: string) (n: JsonNode) : ParameterRange =
        match n with
        | :? JsonArray as a ->
            if a.Count = 0 then bad file (sprintf "parameter \"%s\" has no values" key)
            Values [ for x in a -> if isNull x then null else x.DeepClone() ]
        | :? JsonObject as o when o.Count = 1 ->
            let kind, value = (Seq.head o).Key, (Seq.head o).Value
            match kind with
            | "uniform" -> Uniform (pair file key value)
            | "log_uniform" ->
                let lo, hi = pair file key value
                if lo <= 0.0 then bad file (sprintf "parameter \"%s\": a log-uniform range needs low > 0, got %g" key lo)
                LogUniform (lo, hi)
            | "int" ->
                let lo, hi = pair file key value
                if lo <> Math.Round lo || hi <> Math.Round hi then bad file (sprintf "parameter \"%s\": an int range takes integers" key)
                IntRange (int lo, int hi)
            | other -> bad file (sprintf "parameter \"%s\": unknown range \"%s\" (expected uniform, log_uniform or int)" key other)
        | _ -> bad file (sprintf "parameter \"%s\": expected a list of values or a range object, got %s" key (if isNull n then "null" else n.ToJsonString()))

    /// Parses a sweep file's text (`file` names it in errors: DataFormatException with the line for
    /// malformed JSON).
    let parse (file: string) (text: string) : SweepPlan =
        let root =
            try
                match JsonNode.Parse(text, documentOptions = options) with
                | :? JsonObject as o -> o
                | _ -> bad file "a sweep file is one JSON object"
            with :? JsonException as e ->
                let line = if e.LineNumber.HasValue then int e.LineNumber.Value + 1 else 0
                raise (DataFormatException(file, line, sprintf "not valid JSON: %s" e.Message))
        let known = set [ "name"; "experiment"; "configuration"; "seeds"; "search"; "parameters"; "select"; "report" ]
        for KeyValue (k, _) in root do
            if not (known.Contains k) then bad file (sprintf "unknown key \"%s\" (expected %s)" k (String.Join(", ", known)))
        let quick =
            match str file root "configuration" (Some "full") with
            | "full" -> false
            | "quick" -> true
            | other -> bad file (sprintf "\"configuration\" is \"full\" or \"quick\", got \"%s\"" other)
        let seeds =
            match root["seeds"] with
            | null -> 1
            | n when n.GetValueKind() = JsonValueKind.Number && n.GetValue<float>() >= 1.0 && n.GetValue<float>() = Math.Round(n.GetValue<float>()) -> int (n.GetValue<float>())
            | n -> bad file (sprintf "\"seeds\" is a positive integer, got %s" (n.ToJsonString()))
        let search =
            match root["search"] with
            | null -> Grid
            | n when n.GetValueKind() = JsonValueKind.String && n.GetValue<string>() = "grid" -> Grid
            | :? JsonObject as o when not (isNull o["random"]) ->
                let samples = o["random"].GetValue<float>()
                if samples < 1.0 || samples <> Math.Round samples then bad file "\"search\": { \"random\": N } needs a positive integer N"
                let seed = match o["seed"] with null -> 0 | s -> int (s.GetValue<float>())
                RandomSearch (int samples, seed)
            | n -> bad file (sprintf "\"search\" is \"grid\" or { \"random\": N, \"seed\": S }, got %s" (n.ToJsonString()))
        let parameters =
            match root["parameters"] with
            | :? JsonObject as o when o.Count > 0 -> [ for KeyValue (k, v) in o -> k, range file k v ]
            | _ -> bad file "\"parameters\" must be an object with at least one settings path"
        if search = Grid then
            for k, r in parameters do
                match r with
                | Values _ -> ()
                | _ -> bad file (sprintf "parameter \"%s\": a grid takes a list of values (ranges are for random search)" k)
        let selectObject = match root["select"] with :? JsonObject as o -> o | _ -> bad file "\"select\" must be { \"metric\": <validation metric>, \"goal\": \"max\" | \"min\" }"
        let metric = str file selectObject "metric" None
        if metric.ToLowerInvariant().Contains "test" then
            bad file (sprintf "\"select\" uses \"%s\": a sweep selects on validation data only (a dev/validation metric); report test metrics under \"report\"" metric)
        let goal =
            match str file selectObject "goal" (Some "max") with
            | "max" -> Maximize
            | "min" -> Minimize
            | other -> bad file (sprintf "\"goal\" is \"max\" or \"min\", got \"%s\"" other)
        let report =
            match root["report"] with
            | null -> []
            | :? JsonArray as a -> [ for x in a -> x.GetValue<string>() ]
            | n -> bad file (sprintf "\"report\" is a list of metric names, got %s" (n.ToJsonString()))
        let experiment = str file root "experiment" None
        { Name = str file root "name" (Some (Path.GetFileNameWithoutExtension file)); File = file; Experiment = experiment
          Quick = quick; Seeds = seeds; Search = search; Parameters = parameters; Select = metric; Goal = goal; Report = report }

    /// Reads and parses a sweep file (FileNotFoundException naming it when absent).
    let load (file: string) : SweepPlan =
        if not (File.Exists file) then raise (FileNotFoundException(sprintf "sweep file %s not found" file, file))
        parse file (File.ReadAllText file)

    /// The configurations, each a list of (path, value) in the parameters' order: the grid's every
    /// combination (first parameter slowest), or the random draws (deterministic for the seed).
    let configurations (plan: SweepPlan) : (string * JsonNode) list list =
        match plan.Search with
        | Grid ->
            let rec product (ps: (string * ParameterRange) list) =
                match ps with
                | [] -> [ [] ]
                | (path, Values vs) :: rest ->
                    let tails = product rest
                    [ for v in vs do for t in tails -> (path, (if isNull v then null else v.DeepClone())) :: t ]
                | (path, _) :: _ -> Checks.fail "parameters" (sprintf "'%s': a grid takes listed values" path)
            product plan.Parameters
        | RandomSearch (samples, seed) ->
            let rng = Random seed
            [ for _ in 1 .. samples ->
                [ for path, r in plan.Parameters ->
                    let value : JsonNode =
                        match r with
                        | Values vs -> let v = vs[rng.Next vs.Length] in if isNull v then null else v.DeepClone()
                        | Uniform (lo, hi) -> JsonValue.Create(lo + (hi - lo) * rng.NextDouble())
                        | LogUniform (lo, hi) -> JsonValue.Create(Math.Exp(Math.Log lo + (Math.Log hi - Math.Log lo) * rng.NextDouble()))
                        | IntRange (lo, hi) -> JsonValue.Create(rng.Next(lo, hi + 1))
                    path, value ] ]
