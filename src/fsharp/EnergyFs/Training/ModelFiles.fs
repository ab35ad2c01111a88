namespace EnergyFs.Training

open System
open System.IO
open System.Globalization
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open EnergyFs

/// The saved-model file format of EnergyFs (format version 1), shared by every trained model the
/// library and the C# facade save. A little-endian binary file:
///
///   1. the string "EnergyFs-model" (.NET BinaryWriter string: a 7-bit-encoded length, then UTF-8);
///   2. the format version, an int32 (1);
///   3. the header, a JSON object as a BinaryWriter string: "kind" (what model the file holds, for
///      example "multilabel-classifier"), "format", "energyfs" (the version that wrote it), and
///      "model" (the kind's own shapes and options, so that the network can be rebuilt before its
///      tensors are read);
///   4. the tensors: an int32 count, then per tensor its name (BinaryWriter string) and the tensor in
///      TorchSharp's own serialization (`Tensor.Save`: dtype, shape, raw data) — the same entries as
///      a TorchSharp state dict (`Module.state_dict`), in order.
///
/// Files are written to a temporary name and renamed. Reading checks the magic string, the version
/// (a newer one is refused), the kind, and that the file ends where its content says; every failure
/// is an InvalidDataException (FileNotFoundException when the file is absent) naming the file.
[<RequireQualifiedAccess>]
module ModelFile =

    /// The magic string at the start of every model file.
    let magic = "EnergyFs-model"

    /// The format version this build writes and the newest it reads.
    let formatVersion = 1

    /// The parameters and buffers of a module by their state-dict names.
    let moduleTensors (m: torch.nn.Module) : (string * Tensor) list =
        [ for KeyValue (name, t) in m.state_dict () -> name, t ]

    let private fail (path: string) (reason: string) : 'T =
        raise (InvalidDataException(sprintf "%s: %s" path reason))

    /// Writes a model file of `kind` with the kind's header object `model` and named tensors
    /// (copied to the CPU as written). Creates the folder when needed.
    let save (path: string) (kind: string) (model: JsonObject) (tensors: (string * Tensor) list) =
        Checks.require "path" (not (String.IsNullOrWhiteSpace path)) "the path is empty"
        let full = Path.GetFullPath path
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        let header = JsonObject()
        header["kind"] <- JsonValue.Create kind
        header["format"] <- JsonValue.Create formatVersion
        header["energyfs"] <- JsonValue.Create Runtime.version
        header["model"] <- model.DeepClone()
        let tmp = full + ".tmp"
        do
            use stream = File.Create tmp
            use writer = new BinaryWriter(stream)
            writer.Write magic
            writer.Write formatVersion
            writer.Write(header.ToJsonString())
            writer.Write tensors.Length
            for name, t in tensors do
                writer.Write name
                use c = t.detach().cpu ()
                c.Save writer
        File.Move(tmp, full, true)

    /// Reads a model file written by `save`: its header's "model" object and its named tensors on
    /// the CPU (the caller owns them). Fails with FileNotFoundException when the file is absent and
    /// InvalidDataException naming the file when it is not a model file, was written by a newer
    /// format, holds another kind of model, or is truncated.
    let load (path: string) (kind: string) : JsonObject * (string * Tensor) list =
        Checks.require "path" (not (String.IsNullOrWhiteSpace path)) "the path is empty"
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "model file %s does not exist" path, path))
        use stream = File.OpenRead path
        use reader = new BinaryReader(stream)
        let read what (f: unit -> 'T) =
            try f () with
            | :? EndOfStreamException -> fail path (sprintf "the file is truncated (it ends inside %s)" what)
            | :? IOException as e -> fail path (sprintf "cannot read %s: %s" what e.Message)
        let first = try reader.ReadString() with _ -> ""
        if first <> magic then fail path (sprintf "not an EnergyFs model file (it does not start with '%s')" magic)
        let version = read "the format version" reader.ReadInt32
        if version > formatVersion then
            fail path (sprintf "model format version %d is newer than this EnergyFs (%s) reads (version %d); update EnergyFs" version Runtime.version formatVersion)
        if version < 1 then fail path (sprintf "invalid model format version %d" version)
        let header =
            let text = read "the header" reader.ReadString
            try JsonNode.Parse(text).AsObject() with e -> fail path (sprintf "the header is not a JSON object (%s)" e.Message)
        let found = match header["kind"] with null -> "(none)" | k -> k.GetValue<string>()
        if found <> kind then fail path (sprintf "the file holds a '%s' model, not a '%s'" found kind)
        let count = read "the tensor count" reader.ReadInt32
        if count < 0 then fail path (sprintf "invalid tensor count %d" count)
        let tensors = ResizeArray<string * Tensor>()
        try
            for i in 0 .. count - 1 do
                let name = read (sprintf "the name of tensor %d of %d" (i + 1) count) reader.ReadString
                let t =
                    try TensorExtensionMethods.Load(reader, false)
                    with
                    | :? EndOfStreamException
                    | :? ArgumentException
                    | :? OverflowException -> fail path (sprintf "the file is truncated or corrupt (in tensor '%s', %d of %d)" name (i + 1) count)
                tensors.Add((name, t))
            if stream.Position <> stream.Length then
                fail path (sprintf "%d bytes follow the last tensor; the file is corrupt" (stream.Length - stream.Position))
        with _ ->
            for _, t in tensors do t.Dispose()
            reraise ()
        let model = match header["model"] with :? JsonObject as o -> o | _ -> JsonObject()
        model, List.ofSeq tensors

    /// Copies named tensors into a module's state (parameters and buffers), matching names and
    /// shapes exactly, converting dtype and device to the module's; fails naming the file and the
    /// first missing, extra or misshapen entry.
    let loadInto (path: string) (m: torch.nn.Module) (tensors: (string * Tensor) list) =
        let state = m.state_dict ()
        let given = dict tensors
        for KeyValue (name, target) in state do
            match given.TryGetValue name with
            | true, t ->
                if t.shape <> target.shape then
                    fail path (sprintf "tensor '%s' has shape %s but the model expects %s" name (Checks.shapeText t.shape) (Checks.shapeText target.shape))
                Diff.noGrad (fun () -> target.copy_ (t) |> ignore)
            | _ -> fail path (sprintf "the file has no tensor '%s' of the model" name)
        for name, _ in tensors do
            if not (state.ContainsKey name) then fail path (sprintf "the file has a tensor '%s' the model does not" name)

    /// A header value as a string, failing naming the file when it is absent.
    let readText (path: string) (model: JsonObject) (key: string) : string =
        match model[key] with
        | null -> fail path (sprintf "the header has no '%s'" key)
        | v -> v.GetValue<string>()

    /// A header value as an int, failing naming the file when it is absent.
    let readInt (path: string) (model: JsonObject) (key: string) : int =
        match model[key] with
        | null -> fail path (sprintf "the header has no '%s'" key)
        | v -> v.GetValue<int>()

    /// The header's "dtype" (written as `string dtype`: "Float32" or "Float64"), failing naming the file
    /// when it is absent or another type.
    let readDType (path: string) (model: JsonObject) : torch.ScalarType =
        match readText path model "dtype" with
        | "Float64" -> torch.ScalarType.Float64
        | "Float32" -> torch.ScalarType.Float32
        | other -> fail path (sprintf "unsupported dtype '%s' (this version reads Float32 and Float64)" other)

    /// A header value as a float, failing naming the file when it is absent.
    let readFloat (path: string) (model: JsonObject) (key: string) : float =
        match model[key] with
        | null -> fail path (sprintf "the header has no '%s'" key)
        | v -> v.GetValue<float>()

    /// A header number; JSON has no NaN or infinities, so non-finite values are written as the
    /// strings "NaN", "Infinity", "-Infinity".
    let number (v: float) : JsonNode =
        if Double.IsFinite v then JsonValue.Create v :> JsonNode
        else JsonValue.Create(v.ToString(CultureInfo.InvariantCulture)) :> JsonNode

    /// The value of a node written by `number`.
    let readNumber (n: JsonNode) : float =
        match n.GetValueKind() with
        | JsonValueKind.String -> Double.Parse(n.GetValue<string>(), CultureInfo.InvariantCulture)
        | _ -> n.GetValue<float>()

    /// A training history as a JSON object { columns, rows }.
    let historyJson (h: TrainingHistory) : JsonObject =
        let o = JsonObject()
        o["columns"] <- JsonArray(h.Columns |> Array.map (fun c -> JsonValue.Create c :> JsonNode))
        o["rows"] <- JsonArray(h.Rows |> Array.map (fun r -> JsonArray(r |> Array.map number) :> JsonNode))
        o

    /// The history written by `historyJson` (an empty one when the node is absent); a malformed one
    /// fails with InvalidDataException naming the file.
    let historyOf (path: string) (node: JsonNode) : TrainingHistory =
        match node with
        | :? JsonObject as o ->
            try
                { Columns = o["columns"].AsArray() |> Seq.map (fun c -> c.GetValue<string>()) |> Array.ofSeq
                  Rows = o["rows"].AsArray() |> Seq.map (fun r -> r.AsArray() |> Seq.map readNumber |> Array.ofSeq) |> Array.ofSeq }
            with e -> fail path (sprintf "the training history is malformed (%s)" e.Message)
        | _ -> { Columns = [||]; Rows = [||] }
