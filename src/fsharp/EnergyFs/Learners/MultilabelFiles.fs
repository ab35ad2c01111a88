namespace EnergyFs.Learners

open System
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Solvers
open EnergyFs.Training
open EnergyFs.Data

/// Saving and loading fitted multilabel classifiers in the EnergyFs model file format
/// (`ModelFile`, kind "multilabel-classifier"). The header holds the shapes (inputs, labels,
/// hidden), the loss ("independent", "quadratic" or the custom energy's name), the regularizer, the
/// inner solver and its options, the training options that shaped the model, the best epoch and the
/// training history; the tensors are the network's state dict under "net." and the standardizer's
/// mean and std under "standardizer.".
[<RequireQualifiedAccess>]
module MultilabelFile =

    /// The kind string of multilabel classifier files.
    let kind = "multilabel-classifier"

    let private regularizers = [ FermiDirac.regularizer; SquaredNorm.box ]

    let private number = ModelFile.number

    /// Writes a fitted classifier to `path` (atomically).
    let save (path: string) (model: FittedMultilabel) =
        let o = model.Options
        let header = JsonObject()
        header["inputs"] <- JsonValue.Create model.Inputs
        header["labels"] <- JsonValue.Create model.Labels
        header["hidden"] <- JsonValue.Create o.Hidden
        header["loss"] <- JsonValue.Create (match model.Net with Custom (_, e) -> e.Name | Builtin _ -> MultilabelLoss.name o.Loss)
        header["custom"] <- JsonValue.Create (match model.Net with Custom _ -> true | Builtin _ -> false)
        header["regularizer"] <- JsonValue.Create o.Regularizer.Name
        header["solver"] <- JsonValue.Create (SolverChoice.all |> List.find (snd >> (=) o.Solver) |> fst)
        header["tolerance"] <- number o.Inner.Tolerance
        header["max_iterations"] <- JsonValue.Create o.Inner.MaxIterations
        header["step_size"] <- number o.Inner.StepSize
        header["allow_non_concave"] <- JsonValue.Create o.Inner.AllowNonConcave
        header["dtype"] <- JsonValue.Create (string o.Context.DType)
        header["best_epoch"] <- JsonValue.Create model.BestEpoch
        header["stopped_epoch"] <- JsonValue.Create (match model.Stopped with EarlyStopped e -> e | Completed -> -1)
        header["history"] <- ModelFile.historyJson model.History
        let tensors =
            [ for name, t in ModelFile.moduleTensors model.Net.Module -> "net." + name, t ]
            @ [ "standardizer.mean", model.Standardizer.Mean; "standardizer.std", model.Standardizer.Std ]
        ModelFile.save path kind header tensors

    /// Loads a classifier saved by `save` into `context` (its device; the network takes the saved
    /// dtype). A model trained with a custom energy needs that energy again (`custom`, whose Create
    /// builds the same module): without it, or with a name other than the saved one, the load
    /// fails with InvalidDataException naming the file. The monitor of the returned options is
    /// `FitMonitor.none`.
    let load (path: string) (context: Context) (custom: CustomMultilabelEnergy option) : FittedMultilabel =
        let header, tensors = ModelFile.load path kind
        try
            let fail reason = raise (InvalidDataException(sprintf "%s: %s" path reason))
            let text key = ModelFile.readText path header key
            let inputs, labels = ModelFile.readInt path header "inputs", ModelFile.readInt path header "labels"
            let lossName = text "loss"
            let loss =
                match header["custom"].GetValue<bool>(), lossName, custom with
                | false, "independent", _ -> Independent
                | false, "quadratic", _ -> QuadraticEnergy
                | false, name, _ -> fail (sprintf "unknown loss '%s'" name)
                | true, _, Some c -> CustomEnergy c
                | true, name, None -> fail (sprintf "the model was trained with the custom energy '%s': pass that energy to load it" name)
            let regularizer =
                match regularizers |> List.tryFind (fun r -> r.Name = text "regularizer") with
                | Some r -> r
                | None -> fail (sprintf "unknown regularizer '%s' (this version reads %s)" (text "regularizer") (regularizers |> List.map (fun r -> r.Name) |> String.concat ", "))
            let dtype = ModelFile.readDType path header
            let defaults = MultilabelOptions.defaults
            let options =
                { defaults with
                    Loss = loss
                    Regularizer = regularizer
                    Hidden = ModelFile.readInt path header "hidden"
                    Solver = SolverChoice.parse (text "solver")
                    Inner =
                        { Tolerance = ModelFile.readFloat path header "tolerance"
                          MaxIterations = ModelFile.readInt path header "max_iterations"
                          StepSize = ModelFile.readFloat path header "step_size"
                          AllowNonConcave = header["allow_non_concave"].GetValue<bool>() }
                    Context = { context with DType = dtype } }
            use rng = new Rng(0L, context.Device)
            let net = Multilabel.create options rng inputs labels
            try
                match net with
                | Custom (_, e) when e.Name <> lossName ->
                    fail (sprintf "the model was trained with the custom energy '%s', but the energy given builds '%s'" lossName e.Name)
                | _ -> ()
                ModelFile.loadInto path net.Module [ for n, t in tensors do if n.StartsWith "net." then n.Substring 4, t ]
                let find name =
                    match tensors |> List.tryFind (fst >> (=) name) with
                    | Some (_, t) -> t.``to``(torch.ScalarType.Float64, context.Device, copy = true)
                    | None -> fail (sprintf "the file has no tensor '%s'" name)
                let mean, std = find "standardizer.mean", find "standardizer.std"
                if mean.shape <> [| 1L; int64 inputs |] || std.shape <> [| 1L; int64 inputs |] then
                    fail (sprintf "the standardizer has shape %s but the model has %d inputs" (Checks.shapeText mean.shape) inputs)
                net.Module.eval ()
                { Net = net; Inputs = inputs; Labels = labels
                  History = ModelFile.historyOf path header["history"]
                  BestEpoch = ModelFile.readInt path header "best_epoch"
                  Stopped = (match ModelFile.readInt path header "stopped_epoch" with -1 -> Completed | e -> EarlyStopped e)
                  Standardizer = { Mean = mean; Std = std }
                  Options = options }
            with _ ->
                (net :> IDisposable).Dispose()
                reraise ()
        finally
            for _, t in tensors do t.Dispose()
