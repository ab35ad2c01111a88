namespace EnergyFs.NotebookRunner

open System
open System.Text.Json.Nodes

/// The outputs of an executed notebook, made fit to commit: the kernel's progress displays dropped,
/// machine paths replaced by portable ones, Plotly JSON stored as JSON; its errors, each naming
/// the cell; and the merge of the outputs into the committed notebook, stamped with each cell's source.
[<RequireQualifiedAccess>]
module NotebookOutputs =

    /// Absolute paths of this machine and what each becomes in a stored output. Longest first, so a
    /// folder inside another is replaced before it.
    type PathMap = (string * string) list

    /// The text of a MIME bundle entry (a string or a list of lines).
    let private text (node: JsonNode) =
        match node with
        | :? JsonArray as lines -> lines |> Seq.map (fun l -> l.GetValue<string>()) |> String.concat ""
        | null -> ""
        | s -> s.GetValue<string>()

    let private data (output: JsonObject) = match output["data"] with :? JsonObject as d -> Some d | _ -> None

    /// The package-restore progress that .NET Interactive shows for `#r "nuget:"` and `#i`: each update
    /// is a separate display in dotnet-repl's output; only the last of a cell is kept.
    let private isRestoreProgress (output: JsonObject) =
        match data output with
        | Some d when d.ContainsKey "text/html" ->
            let html = text d["text/html"]
            html.StartsWith "<div><div>" && (html.Contains "Restore sources" || html.Contains "Installing Packages" || html.Contains "Installed Packages" || html = "<div><div></div><div></div><div></div></div>")
        | _ -> false

    /// An empty text display (a cell whose value is unit or a completed Task).
    let private isEmpty (output: JsonObject) =
        match data output with
        | Some d -> d.Count = 1 && d.ContainsKey "text/plain" && String.IsNullOrWhiteSpace(text d["text/plain"])
        | None -> false

    let rec private sanitize (paths: PathMap) (node: JsonNode) : JsonNode =
        match node with
        | null -> null
        | :? JsonObject as o ->
            let copy = JsonObject()
            for KeyValue(k, v) in o do copy[k] <- sanitize paths v
            copy
        | :? JsonArray as a -> JsonArray([| for v in a -> sanitize paths v |])
        | v ->
            match v.GetValueKind() with
            | System.Text.Json.JsonValueKind.String ->
                let s = paths |> List.fold (fun (s: string) (path, replacement) -> s.Replace(path, replacement)) (v.GetValue<string>())
                JsonValue.Create s
            | _ -> v.DeepClone()

    /// Plotly figures stored as JSON objects (the form notebook front ends read), not as text.
    let private plotlyAsJson (output: JsonObject) =
        match data output with
        | Some d when d.ContainsKey "application/vnd.plotly.v1+json" ->
            match d["application/vnd.plotly.v1+json"] with
            | :? JsonObject -> ()
            | node -> d["application/vnd.plotly.v1+json"] <- JsonNode.Parse(text node)
        | _ -> ()
        output

    /// A code cell's outputs as stored: progress displays but the last dropped, empty displays dropped,
    /// paths replaced, Plotly JSON parsed.
    let normalize (paths: PathMap) (outputs: JsonArray) : JsonArray =
        let items = [ for o in outputs -> o.AsObject() ]
        let lastProgress = items |> List.tryFindIndexBack isRestoreProgress
        let kept =
            items
            |> List.indexed
            |> List.filter (fun (i, o) -> not (isEmpty o) && (not (isRestoreProgress o) || Some i = lastProgress))
            |> List.map (fun (_, o) -> (sanitize paths o).AsObject() |> plotlyAsJson :> JsonNode)
        JsonArray(Array.ofList kept)

    /// The errors among a notebook's outputs: (cell description, error text), in cell order.
    let errors (notebook: JsonObject) : (string * string) list =
        NotebookFile.cells notebook
        |> List.indexed
        |> List.filter (snd >> NotebookFile.isCode)
        |> List.collect (fun (i, cell) ->
            match cell["outputs"] with
            | :? JsonArray as outputs ->
                [ for o in outputs do
                    let o = o.AsObject()
                    if o["output_type"].GetValue<string>() = "error" then
                        let ename = o["ename"] |> Option.ofObj |> Option.map text |> Option.defaultValue "Error"
                        let evalue = o["evalue"] |> Option.ofObj |> Option.map text |> Option.defaultValue ""
                        yield NotebookFile.describe i cell, sprintf "%s: %s" ename evalue ]
            | _ -> [])

    /// Occurrences of machine paths left in a notebook's outputs: (cell description, path).
    let machinePaths (paths: string list) (notebook: JsonObject) : (string * string) list =
        NotebookFile.cells notebook
        |> List.indexed
        |> List.filter (snd >> NotebookFile.isCode)
        |> List.collect (fun (i, cell) ->
            let outputs = match cell["outputs"] with null -> "" | o -> o.ToJsonString()
            paths |> List.filter (fun p -> p.Length > 1 && outputs.Contains p) |> List.map (fun p -> NotebookFile.describe i cell, p))

    /// The committed notebook with the executed one's outputs: for each code cell, the normalized outputs,
    /// an execution count, and the stamp of the source they came from. The cells must correspond one to one.
    let merge (paths: PathMap) (committed: JsonObject) (executed: JsonObject) : JsonObject =
        let mine, theirs = NotebookFile.cells committed, NotebookFile.cells executed
        if mine.Length <> theirs.Length then
            failwithf "the executed notebook has %d cells, the committed one %d" theirs.Length mine.Length
        let result = committed.DeepClone().AsObject()
        let mutable count = 0
        for i, (cell, ran) in List.indexed (List.zip (NotebookFile.cells result) theirs) do
            if NotebookFile.isCode cell then
                if NotebookFile.source cell <> NotebookFile.source ran then
                    failwithf "%s: the executed notebook's source differs" (NotebookFile.describe i cell)
                count <- count + 1
                cell["execution_count"] <- JsonValue.Create count
                cell["outputs"] <- normalize paths (match ran["outputs"] with :? JsonArray as a -> a | _ -> JsonArray())
                let metadata = match cell["metadata"] with :? JsonObject as m -> m | _ -> (let m = JsonObject() in cell["metadata"] <- m; m)
                metadata["energyfs"] <- JsonObject(dict [ "source_sha256", (JsonValue.Create(NotebookFile.sourceStamp (NotebookFile.source cell)) :> JsonNode) ])
        result
