namespace EnergyFs.Learners

open System
open System.Globalization
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Training

/// Saving and loading shallow energies on the sphere and the state of their dual training
/// (Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden 2021, arXiv 2107.05134) in the EnergyFs
/// model file format (`ModelFile`):
///
/// - kind "shallow-sphere-energy": header neurons, dim, activation (and its bandwidth for the
///   smoothed ReLU); tensors "features" [m, d], "signs" [m], "masses" [m];
/// - kind "dual-trainer": the same energy header and tensors, plus the `DualOptions` (step sizes,
///   TV bound, regime, restarts, particles, Langevin steps, antithetic noise, estimator, report
///   interval), the iteration count and the tensor "particles" [P, d]. The generator and the data
///   are the caller's and are not saved: a resumed run continues from the saved state with the
///   generator it is given.
[<RequireQualifiedAccess>]
module DualFile =

    /// The kind string of shallow-energy files.
    let energyKind = "shallow-sphere-energy"

    /// The kind string of dual-trainer files.
    let trainerKind = "dual-trainer"

    let private fail (path: string) (reason: string) : 'T = raise (InvalidDataException(sprintf "%s: %s" path reason))

    let private number = ModelFile.number

    let private readNumber (path: string) (header: JsonObject) (key: string) =
        match header[key] with
        | null -> fail path (sprintf "the header has no '%s'" key)
        | n -> ModelFile.readNumber n

    let private energyHeader (e: ShallowSphere) =
        let header = JsonObject()
        header["neurons"] <- JsonValue.Create e.Neurons
        header["dim"] <- JsonValue.Create e.Dim
        match e.Activation with
        | Relu -> header["activation"] <- JsonValue.Create "relu"
        | SquaredRelu -> header["activation"] <- JsonValue.Create "squared-relu"
        | Softplus -> header["activation"] <- JsonValue.Create "softplus"
        | SmoothedRelu h ->
            header["activation"] <- JsonValue.Create "smoothed-relu"
            header["bandwidth"] <- number h
        header

    let private energyTensors (e: ShallowSphere) = [ "features", e.Features; "signs", e.Signs; "masses", e.Masses ]

    let private tensor path (tensors: (string * Tensor) list) (device: torch.Device) name =
        match tensors |> List.tryFind (fst >> (=) name) with
        | Some (_, t) -> t.``to`` (t.dtype, device, copy = true)
        | None -> fail path (sprintf "the file has no tensor '%s'" name)

    /// The energy of a loaded file (copies on `device`, in the saved dtype), checked by `Shallow.create`.
    let private energyOf path (header: JsonObject) (tensors: (string * Tensor) list) (device: torch.Device) =
        let activation =
            match ModelFile.readText path header "activation" with
            | "relu" -> Relu
            | "squared-relu" -> SquaredRelu
            | "softplus" -> Softplus
            | "smoothed-relu" -> SmoothedRelu (readNumber path header "bandwidth")
            | other -> fail path (sprintf "unknown activation '%s'" other)
        let z = tensor path tensors device "features"
        let c = tensor path tensors device "signs"
        let w = tensor path tensors device "masses"
        try
            let e = Shallow.create activation z c w
            let m, d = ModelFile.readInt path header "neurons", ModelFile.readInt path header "dim"
            if e.Neurons <> m || e.Dim <> d then fail path (sprintf "the header says %d neurons in dimension %d, the tensors hold %d in %d" m d e.Neurons e.Dim)
            e
        with
        | :? ArgumentException as ex ->
            Scope.disposeAll [ z; c; w ]
            fail path (sprintf "the saved energy is invalid (%s)" ex.Message)
        | _ ->
            Scope.disposeAll [ z; c; w ]
            reraise ()

    /// Writes a shallow energy to `path` (atomically; the folder is created when needed).
    let saveEnergy (path: string) (energy: ShallowSphere) =
        ModelFile.save path energyKind (energyHeader energy) (energyTensors energy)

    /// Loads a shallow energy saved by `saveEnergy` onto `device` (in the saved dtype; the caller
    /// owns it). FileNotFoundException when absent; InvalidDataException naming the file for another
    /// kind, a newer format, a truncated file or an invalid energy.
    let loadEnergy (path: string) (device: torch.Device) : ShallowSphere =
        let header, tensors = ModelFile.load path energyKind
        try energyOf path header tensors device
        finally for _, t in tensors do t.Dispose ()

    /// Writes the state of a dual run with its options to `path`.
    let saveState (path: string) (options: DualOptions) (state: DualState) =
        let header = energyHeader state.Energy
        header["iteration"] <- JsonValue.Create state.Iteration
        header["particle_step"] <- number options.ParticleStep
        header["feature_step"] <- number options.FeatureStep
        header["mass_step"] <- number options.MassStep
        header["tv_bound"] <- number options.TvBound
        header["regime"] <- JsonValue.Create (match options.Regime with Regime.FeatureLearning -> "feature-learning" | Regime.Lazy -> "lazy")
        match options.Restart with
        | NoRestart -> header["restart"] <- JsonValue.Create "none"
        | Every n -> header["restart"] <- JsonValue.Create "every"; header["restart_every"] <- JsonValue.Create n
        | WithProbability p -> header["restart"] <- JsonValue.Create "probability"; header["restart_probability"] <- number p
        header["particles"] <- JsonValue.Create options.Particles
        header["langevin_steps"] <- JsonValue.Create options.LangevinSteps
        header["antithetic"] <- JsonValue.Create options.Antithetic
        match options.Estimator with
        | MaximumLikelihood -> header["estimator"] <- JsonValue.Create "maximum-likelihood"
        | ScoreMatching h -> header["estimator"] <- JsonValue.Create "score-matching"; header["bandwidth_sm"] <- number h
        header["report_every"] <- JsonValue.Create options.ReportEvery
        ModelFile.save path trainerKind header (energyTensors state.Energy @ [ "particles", state.Particles ])

    /// Loads what `saveState` wrote onto `device`: the options and the state (the caller owns it). Errors as for `loadEnergy`.
    let loadState (path: string) (device: torch.Device) : DualOptions * DualState =
        let header, tensors = ModelFile.load path trainerKind
        try
            let int key = ModelFile.readInt path header key
            let text key = ModelFile.readText path header key
            let num key = readNumber path header key
            let flag (key: string) = match header[key] with null -> fail path (sprintf "the header has no '%s'" key) | n -> n.GetValue<bool>()
            let options =
                { Dual.defaults with
                    ParticleStep = num "particle_step"; FeatureStep = num "feature_step"; MassStep = num "mass_step"
                    TvBound = num "tv_bound"
                    Regime = (match text "regime" with "lazy" -> Regime.Lazy | "feature-learning" -> Regime.FeatureLearning | r -> fail path (sprintf "unknown regime '%s'" r))
                    Restart =
                        (match text "restart" with
                         | "none" -> NoRestart
                         | "every" -> Every (int "restart_every")
                         | "probability" -> WithProbability (num "restart_probability")
                         | r -> fail path (sprintf "unknown restart rule '%s'" r))
                    Particles = int "particles"; LangevinSteps = int "langevin_steps"; Antithetic = flag "antithetic"
                    Estimator =
                        (match text "estimator" with
                         | "maximum-likelihood" -> MaximumLikelihood
                         | "score-matching" -> ScoreMatching (num "bandwidth_sm")
                         | e -> fail path (sprintf "unknown estimator '%s'" e))
                    ReportEvery = int "report_every" }
            (try Dual.validate options with :? ArgumentException as e -> fail path (sprintf "the saved options are invalid (%s)" e.Message))
            let energy = energyOf path header tensors device
            let particles =
                try
                    let p = tensor path tensors device "particles"
                    if p.dim () <> 2L || p.shape[0] <> int64 options.Particles || p.shape[1] <> int64 energy.Dim then
                        let shape = Checks.shapeText p.shape
                        p.Dispose ()
                        fail path (sprintf "the particles have shape %s, not [%d, %d]" shape options.Particles energy.Dim)
                    p
                with _ ->
                    Shallow.dispose energy
                    reraise ()
            options, { Energy = energy; Particles = particles; Iteration = int "iteration" }
        finally
            for _, t in tensors do t.Dispose ()
