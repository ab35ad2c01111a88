namespace EnergyFs.Learners

open System
open System.Globalization
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models

/// Saving and loading trained regressors (Gustafsson, Danelljan & Schön, "Learning Proposals for
/// Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948) in the EnergyFs model file
/// format (`ModelFile`, kind "energy-regressor"). The header holds the shapes (x_dim, y_dim), the
/// method, K, the hidden width, the architecture (absent in older files: compact), the training options that shaped the model, the dtype, whether the
/// EBM is a custom energy (and its module's name) and the training history; the tensors are the
/// `RegressionModel`'s state dict (its "ebm.", "proposalHead." and "mdn." entries).
[<RequireQualifiedAccess>]
module RegressionFile =

    /// The kind string of regressor files.
    let kind = "energy-regressor"

    let private fail (path: string) (reason: string) : 'T = raise (InvalidDataException(sprintf "%s: %s" path reason))

    let private number = ModelFile.number
    let private readNumber = ModelFile.readNumber

    /// A training history as a JSON object { columns, rows } (`ModelFile.historyJson`).
    let historyJson = ModelFile.historyJson

    /// The history of `historyJson` (`ModelFile.historyOf`).
    let historyOf = ModelFile.historyOf

    /// Writes a trained model with the options it was trained with and its history to `path`
    /// (atomically; the folder is created when needed).
    let save (path: string) (model: RegressionModel) (options: RegressionOptions) (history: TrainingHistory) =
        let header = JsonObject()
        header["x_dim"] <- JsonValue.Create model.XDim
        header["y_dim"] <- JsonValue.Create model.YDim
        header["method"] <- JsonValue.Create (RegressionMethod.name model.Method)
        header["components"] <- JsonValue.Create model.Components
        header["hidden"] <- JsonValue.Create model.Hidden
        header["architecture"] <- JsonValue.Create (RegressionArchitecture.name model.Architecture)
        header["custom"] <- JsonValue.Create model.CustomEnergyName.IsSome
        header["energy"] <- JsonValue.Create (defaultArg model.CustomEnergyName (if model.HasEbm then "builtin" else "none"))
        header["samples"] <- JsonValue.Create options.Samples
        header["noise_std1"] <- number (fst options.NoiseStds)
        header["noise_std2"] <- number (snd options.NoiseStds)
        header["epochs"] <- JsonValue.Create options.Epochs
        header["batch_size"] <- JsonValue.Create options.BatchSize
        header["learning_rate"] <- number options.LearningRate
        header["seed"] <- JsonValue.Create (string options.Seed)
        let dtype = model.parameters () |> Seq.tryHead |> Option.map (fun p -> p.dtype) |> Option.defaultValue torch.ScalarType.Float32
        header["dtype"] <- JsonValue.Create (string dtype)
        header["history"] <- historyJson history
        ModelFile.save path kind header (ModelFile.moduleTensors model)

    /// Loads a regressor saved by `save` onto `context`'s device (in the saved dtype): the model, the
    /// options it was trained with (monitor `FitMonitor.none`, `Energy` the one given) and its
    /// history. A model trained with a custom energy needs that energy again (`energy`, building a
    /// module of the same name and state); without it, with another module name, or with mismatched
    /// tensors the load fails with InvalidDataException naming the file; a missing file raises
    /// FileNotFoundException.
    let load (path: string) (context: Context) (energy: (int -> int -> torch.nn.Module * (Tensor -> Tensor -> Tensor)) option) =
        let header, tensors = ModelFile.load path kind
        try
            let int key = ModelFile.readInt path header key
            let text key = ModelFile.readText path header key
            let float (key: string) =
                match header[key] with
                | null -> fail path (sprintf "the header has no '%s'" key)
                | n -> try readNumber n with _ -> fail path (sprintf "the header's '%s' is not a number" key)
            let methodName = text "method"
            let method = try RegressionMethod.parse methodName with :? ArgumentException -> fail path (sprintf "unknown method '%s'" methodName)
            let custom = match header["custom"] with null -> false | n -> n.GetValue<bool>()
            // Files written before the architecture was a choice hold the compact networks.
            let architecture =
                match header["architecture"] with
                | null -> RegressionArchitecture.Compact
                | _ ->
                    let name = text "architecture"
                    try RegressionArchitecture.parse name with :? ArgumentException -> fail path (sprintf "unknown architecture '%s'" name)
            let energyName = text "energy"
            let energy =
                match custom, energy with
                | true, Some e -> Some e
                | true, None -> fail path (sprintf "the model was trained with the custom energy '%s': pass that energy to load it" energyName)
                | false, _ -> None
            let dtype = ModelFile.readDType path header
            let seed =
                match Int64.TryParse(text "seed", NumberStyles.Integer, CultureInfo.InvariantCulture) with
                | true, s -> s
                | _ -> fail path "the header's seed is not an integer"
            let options =
                { RegressionOptions.defaults with
                    Method = method; Components = int "components"; Hidden = int "hidden"; Architecture = architecture; Samples = int "samples"
                    NoiseStds = (float "noise_std1", float "noise_std2"); Epochs = int "epochs"; BatchSize = int "batch_size"
                    LearningRate = float "learning_rate"; Seed = seed; Energy = energy }
            let model =
                try new RegressionModel(int "x_dim", int "y_dim", method, options.Components, options.Hidden, architecture, energy)
                with :? ArgumentException as e -> fail path (sprintf "the header describes no valid model (%s)" e.Message)
            try
                match model.CustomEnergyName with
                | Some name when name <> energyName ->
                    fail path (sprintf "the model was trained with the custom energy '%s', but the energy given builds '%s'" energyName name)
                | _ -> ()
                model.``to`` (context.Device, dtype) |> ignore
                ModelFile.loadInto path model tensors
                model.eval ()
                model, options, historyOf path header["history"]
            with _ ->
                model.Dispose ()
                reraise ()
        finally
            for _, t in tensors do t.Dispose ()
