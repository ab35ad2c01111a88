namespace EnergyFs.NotebookRunner

open System
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Encodings.Web
open System.Text.Json
open System.Text.Json.Nodes

/// A .ipynb file (nbformat 4) as a JSON tree: its cells, each code cell's source and kernel, and the
/// stamp that says from which source a cell's stored outputs came.
[<RequireQualifiedAccess>]
module NotebookFile =

    /// Reads a notebook; a file that is not a notebook is an InvalidDataException naming it.
    let load (path: string) : JsonObject =
        let node =
            try JsonNode.Parse(File.ReadAllText path)
            with :? JsonException as e -> raise (InvalidDataException(sprintf "%s: not JSON (%s)" path e.Message, e))
        match node with
        | :? JsonObject as o when (o["cells"] :? JsonArray) -> o
        | _ -> raise (InvalidDataException(sprintf "%s: not a notebook (no \"cells\" array)" path))

    /// The cells, in order.
    let cells (notebook: JsonObject) : JsonObject list =
        [ for c in notebook["cells"].AsArray() -> c.AsObject() ]

    /// True for a code cell.
    let isCode (cell: JsonObject) = cell["cell_type"].GetValue<string>() = "code"

    /// A cell's source text (nbformat allows a string or a list of lines).
    let source (cell: JsonObject) : string =
        match cell["source"] with
        | :? JsonArray as lines -> lines |> Seq.map (fun l -> l.GetValue<string>()) |> String.concat ""
        | null -> ""
        | s -> s.GetValue<string>()

    /// The kernel a code cell runs on (Polyglot Notebooks metadata), else the notebook's default.
    let kernel (notebook: JsonObject) (cell: JsonObject) : string =
        let tryPath (node: JsonNode) (path: string list) =
            (Some node, path) ||> List.fold (fun n key -> n |> Option.bind (fun n -> match n with :? JsonObject as o -> Option.ofObj o[key] | _ -> None))
        match tryPath cell [ "metadata"; "polyglot_notebook"; "kernelName" ] with
        | Some k -> k.GetValue<string>()
        | None ->
            match tryPath notebook [ "metadata"; "polyglot_notebook"; "kernelInfo"; "defaultKernelName" ] with
            | Some k -> k.GetValue<string>()
            | None -> "fsharp"

    /// A short description of a code cell for messages: its number among the notebook's cells (1-based)
    /// and its first non-comment line.
    let describe (index: int) (cell: JsonObject) =
        let line =
            (source cell).Split('\n')
            |> Array.map (fun l -> l.Trim())
            |> Array.tryFind (fun l -> l <> "" && not (l.StartsWith "//"))
            |> Option.defaultValue ""
        sprintf "cell %d (%s)" (index + 1) (if line.Length > 70 then line.Substring(0, 70) + "…" else line)

    /// The stamp of a source: the first 16 hex digits of its SHA-256 (line endings normalised).
    let sourceStamp (text: string) =
        let bytes = SHA256.HashData(Encoding.UTF8.GetBytes(text.Replace("\r\n", "\n")))
        Convert.ToHexString(bytes).Substring(0, 16).ToLowerInvariant()

    /// The stamp stored with a code cell's outputs (metadata.energyfs.source_sha256), if any.
    let storedStamp (cell: JsonObject) : string option =
        match cell["metadata"] with
        | :? JsonObject as m ->
            match m["energyfs"] with
            | :? JsonObject as e -> e["source_sha256"] |> Option.ofObj |> Option.map (fun v -> v.GetValue<string>())
            | _ -> None
        | _ -> None

    /// Writes a notebook as Jupyter does: indented by one space, non-ASCII text kept, "\n" line ends.
    let save (path: string) (notebook: JsonObject) =
        let options = JsonSerializerOptions(WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, IndentSize = 1)
        File.WriteAllText(path, notebook.ToJsonString(options).Replace("\r\n", "\n") + "\n")
