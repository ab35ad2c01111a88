namespace EnergyFs.Training

open System
open System.IO
open System.Text.Json
open System.Text.Json.Serialization
open TorchSharp
open EnergyFs

/// The bookkeeping of a training run that a checkpoint must restore besides tensors.
type TrainingState =
    { /// Epochs completed.
      Epoch: int
      /// Optimizer steps taken.
      Step: int
      /// Epoch (0-based) of the best monitored value so far; −1 when none.
      BestEpoch: int
      /// Best monitored value so far (NaN when none).
      BestValue: float
      /// Epochs since the monitored value last improved.
      EpochsWithoutImprovement: int
      /// Names of the history columns.
      HistoryColumns: string[]
      /// One row per completed epoch, aligned with HistoryColumns.
      HistoryRows: float[][] }

/// Constructors for TrainingState.
[<RequireQualifiedAccess>]
module TrainingState =
    /// The state before the first epoch.
    let initial =
        { Epoch = 0; Step = 0; BestEpoch = -1; BestValue = nan; EpochsWithoutImprovement = 0
          HistoryColumns = [||]; HistoryRows = [||] }

/// Saving and restoring training runs. A checkpoint file holds the model's state dict, the
/// optimizer's state (moments, step count), the random generator's state, the TrainingState, and
/// optionally a snapshot of the best parameters; resuming from it continues bit-identically.
/// Files are written to a temporary name and renamed, so a run killed while saving leaves the
/// previous checkpoint intact.
[<RequireQualifiedAccess>]
module Checkpoint =

    let private magic = "EnergyFs-checkpoint-v1"

    let private jsonOptions =
        JsonSerializerOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)

    let private writeTensors (writer: BinaryWriter) (tensors: Tensor list) =
        writer.Write tensors.Length
        for t in tensors do
            use c = t.detach().cpu ()
            c.Save writer

    let private readTensors (reader: BinaryReader) =
        let n = reader.ReadInt32()
        List.init n (fun _ -> TensorExtensionMethods.Load(reader, false))

    /// Writes a checkpoint of several modules and optimizers to `path` (atomically: temporary file,
    /// then rename): the modules' state dicts in order, then the optimizers' states in order. With
    /// one module and one optimizer the file is the one `save` writes.
    let saveAll (path: string) (modules: torch.nn.Module list) (optimizers: Optimizer list) (rng: Rng) (state: TrainingState) (best: Tensor list option) =
        let full = Path.GetFullPath path
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        let tmp = full + ".tmp"
        do
            use stream = File.Create tmp
            use writer = new BinaryWriter(stream)
            writer.Write magic
            writer.Write(JsonSerializer.Serialize(state, jsonOptions))
            for m in modules do m.save writer |> ignore
            for o in optimizers do o.Save writer
            use rngState = rng.GetState()
            writeTensors writer [ rngState ]
            match best with
            | Some ts -> writer.Write true; writeTensors writer ts
            | None -> writer.Write false
        File.Move(tmp, full, true)

    /// Writes a checkpoint to `path` (atomically: temporary file, then rename).
    let save (path: string) (model: torch.nn.Module) (optimizer: Optimizer) (rng: Rng) (state: TrainingState) (best: Tensor list option) =
        saveAll path [ model ] [ optimizer ] rng state best

    /// Restores a checkpoint written by `saveAll` into the modules, optimizers and generator (which
    /// must have the same structure, in the same order, as when it was saved). Returns the training
    /// state and the best snapshot, if one was saved.
    let loadAll (path: string) (modules: torch.nn.Module list) (optimizers: Optimizer list) (rng: Rng) : TrainingState * Tensor list option =
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "checkpoint %s does not exist" path, path))
        use stream = File.OpenRead path
        use reader = new BinaryReader(stream)
        let header = try reader.ReadString() with _ -> ""
        if header <> magic then raise (DataFormatException(path, 0, sprintf "not an EnergyFs checkpoint (expected header '%s')" magic))
        let state = JsonSerializer.Deserialize<TrainingState>(reader.ReadString(), jsonOptions)
        for m in modules do m.load (reader, true) |> ignore
        for o in optimizers do o.Load reader
        let rngState = readTensors reader
        rng.SetState rngState.Head
        Scope.disposeAll rngState
        let best = if reader.ReadBoolean() then Some (readTensors reader) else None
        state, best

    /// Restores a checkpoint written by `save` into the model, optimizer and generator (which must
    /// have the same structure as when it was saved). Returns the training state and the best
    /// snapshot, if one was saved.
    let load (path: string) (model: torch.nn.Module) (optimizer: Optimizer) (rng: Rng) : TrainingState * Tensor list option =
        loadAll path [ model ] [ optimizer ] rng

    /// Saves only a model's parameters and buffers (TorchSharp's state-dict format).
    let saveModel (path: string) (model: torch.nn.Module) =
        let full = Path.GetFullPath path
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        model.save full |> ignore

    /// Loads parameters and buffers saved by `saveModel` into a model of the same structure.
    let loadModel (path: string) (model: torch.nn.Module) =
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "model file %s does not exist" path, path))
        model.load (path, true) |> ignore
