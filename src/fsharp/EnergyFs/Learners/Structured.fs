namespace EnergyFs.Learners

open System
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training

/// Multilabel examples for the structured trainers: inputs x [n, D], features F(x) [n, d] of the
/// pretrained feature network (fixed), and 0/1 labels y [n, L].
type MultilabelExamples =
    { /// Raw inputs x (what inference networks read).
      Inputs: Tensor
      /// Features F(x) of the pretrained network (what the SPEN local term reads).
      Features: Tensor
      /// Gold labels y ∈ {0,1}^L.
      Labels: Tensor }

/// One epoch's record of a structured trainer.
type EpochRecord =
    { /// 1-based epoch.
      Epoch: int
      /// Mean training loss of the epoch (the trainer's own loss).
      Loss: float
      /// The validation score after the epoch (NaN without validation).
      Validation: float
      /// Seconds the epoch took.
      Seconds: float }

/// Shared pieces of the structured trainers, which all run on `Fit.runSteps`: batching, their fit
/// options (restore the best "validation"), per-epoch text, epoch records.
[<RequireQualifiedAccess>]
module Structured =

    /// Checks that the three tensors of the examples agree on the number of rows.
    let check (name: string) (d: MultilabelExamples) =
        Checks.rank (name + ".Inputs") 2 d.Inputs
        Checks.rank (name + ".Features") 2 d.Features
        Checks.rank (name + ".Labels") 2 d.Labels
        Checks.sameRows (name + ".Inputs") d.Inputs (name + ".Labels") d.Labels
        Checks.sameRows (name + ".Features") d.Features (name + ".Labels") d.Labels
        if d.Labels.shape[0] = 0L then invalidArg name (sprintf "%s has no examples" name)

    /// The examples at the given row indices.
    let select (idx: Tensor) (d: MultilabelExamples) =
        { Inputs = Tensor.selectRows idx d.Inputs; Features = Tensor.selectRows idx d.Features; Labels = Tensor.selectRows idx d.Labels }

    /// Number of examples.
    let count (d: MultilabelExamples) = d.Labels.shape[0]

    /// The parameters seen as plain tensors.
    let tensors (ps: Parameter list) : Tensor list = ps |> List.map (fun p -> p :> Tensor)

    /// The parameters with a (name, parameter) list for divergence checks.
    let named (prefix: string) (ps: Parameter list) = ps |> List.mapi (fun i p -> sprintf "%s[%d]" prefix i, p)

    /// Fit options of a structured trainer's schedule: `epochs` epochs, batch order from `seed`,
    /// and when `selectBest` the parameters of the best "validation" metric (higher is better, over
    /// every epoch and the starting point when the task validates it; no early stop) restored at
    /// the end.
    let fitOptions (epochs: int) (seed: int64) (selectBest: bool) : FitOptions =
        { FitOptions.defaults with
            Epochs = epochs
            Seed = seed
            EarlyStopping = (if selectBest then Some { Metric = "validation"; Goal = Maximize; Patience = Int32.MaxValue } else None)
            RestoreBest = selectBest }

    /// The same fit options watched and controlled by `monitor` (per-step progress, epoch rows,
    /// cancellation: a cancelled run restores the parameters of its last completed epoch and raises
    /// OperationCanceledException; see `FitMonitor`).
    let withMonitor (monitor: FitMonitor) (fit: FitOptions) : FitOptions = { fit with Monitor = monitor }

    /// The value of a column in an epoch's history row (NaN when absent).
    let value (name: string) (row: (string * float) list) =
        match List.tryFind (fst >> (=) name) row with
        | Some (_, v) -> v
        | None -> nan

    /// The same Fit options, also sending after each epoch (fraction of the epochs done,
    /// `describe epoch row`) to `progress`, epoch 1-based.
    let withEpochText (progress: float * string -> unit) (describe: int -> (string * float) list -> string) (fit: FitOptions) =
        { fit with
            Monitor =
                { fit.Monitor with
                    OnEpoch =
                        fun epoch row ->
                            fit.Monitor.OnEpoch epoch row
                            progress (float (epoch + 1) / float fit.Epochs, describe (epoch + 1) row) } }

    /// The epoch records of a run: the loss column `loss`, the "validation" column, the seconds.
    let records (loss: string) (result: FitResult) : EpochRecord list =
        let h = result.History
        let column name = if Array.contains name h.Columns then h.Column name else Array.create h.Epochs nan
        let losses, scores, seconds = column loss, column "validation", column "seconds"
        List.init h.Epochs (fun i -> { Epoch = i + 1; Loss = losses[i]; Validation = scores[i]; Seconds = seconds[i] })

    /// A validation returning the score as the "validation" metric.
    let validation (validate: unit -> float) : (unit -> (string * float) list) option =
        Some (fun () -> [ "validation", validate () ])
