namespace EnergyFs.Learners

open System
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training

/// Labelled examples for the structured trainers: inputs x (what inference networks read),
/// features F(x) of a fixed feature network (what the energy's local term reads), gold labels, and
/// for label sequences the mask of real tokens. Multilabel: x [n, D], F(x) [n, d], y ∈ {0,1}^{n×L},
/// no mask. Sequences (shared convention): x [B, T, D], F(x) [B, T, d], one-hot y [B, T, L] (zero
/// rows at padding), mask [B, T] bool, true at the real tokens (a prefix of each row).
type LabelledExamples =
    { /// Raw inputs x (what inference networks read).
      Inputs: Tensor
      /// Features F(x) of the pretrained network (what the energy's local term reads).
      Features: Tensor
      /// Gold labels: y ∈ {0,1}^L per example, or one-hot y_t per position.
      Labels: Tensor
      /// The real positions of label sequences, [B, T] bool; None for multilabel examples (and
      /// sequences without padding).
      Mask: Tensor option }

/// The multilabel name of the trainers' examples (kept for existing code).
type MultilabelExamples = LabelledExamples

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

    /// Multilabel examples (no mask) from inputs, features and labels.
    let multilabel (inputs: Tensor) (features: Tensor) (labels: Tensor) : LabelledExamples =
        { Inputs = inputs; Features = features; Labels = labels; Mask = None }

    /// Checks that the tensors of the examples agree on the number of rows (and, for sequences,
    /// on [B, T] with the mask): multilabel tensors are [n, ·], sequence tensors [B, T, ·].
    let check (name: string) (d: LabelledExamples) =
        let rank = match d.Mask with Some _ -> 3 | None -> int (d.Labels.dim ())
        if rank <> 2 && rank <> 3 then
            invalidArg (name + ".Labels") (sprintf "labels must be [n, L] (multilabel) or [B, T, L] (sequences), got %s" (Checks.shapeText d.Labels.shape))
        Checks.rank (name + ".Inputs") rank d.Inputs
        Checks.rank (name + ".Features") rank d.Features
        Checks.rank (name + ".Labels") rank d.Labels
        Checks.sameRows (name + ".Inputs") d.Inputs (name + ".Labels") d.Labels
        Checks.sameRows (name + ".Features") d.Features (name + ".Labels") d.Labels
        if rank = 3 then
            for field, t in [ ".Inputs", d.Inputs; ".Features", d.Features ] do
                if t.shape[1] <> d.Labels.shape[1] then
                    invalidArg (name + field) (sprintf "%s%s has %d positions, the labels %d (shapes %s and %s)"
                                                  name field t.shape[1] d.Labels.shape[1] (Checks.shapeText t.shape) (Checks.shapeText d.Labels.shape))
        match d.Mask with
        | Some m ->
            if m.dtype <> torch.ScalarType.Bool || m.dim () <> 2L || m.shape[0] <> d.Labels.shape[0] || m.shape[1] <> d.Labels.shape[1] then
                invalidArg (name + ".Mask") (sprintf "the mask must be bool [B, T] = [%d, %d], got %A %s"
                                                 d.Labels.shape[0] d.Labels.shape[1] m.dtype (Checks.shapeText m.shape))
        | None -> ()
        if d.Labels.shape[0] = 0L then invalidArg name (sprintf "%s has no examples" name)

    /// The examples at the given row indices. Sequence examples (with a mask) are cut to the
    /// longest selected sentence: the positions past it are padding in every selected row, and the
    /// sequence energies and networks do not read padding, so a batch of short sentences from
    /// examples padded to a long one costs what its own length costs.
    let select (idx: Tensor) (d: LabelledExamples) =
        let picked =
            { Inputs = Tensor.selectRows idx d.Inputs; Features = Tensor.selectRows idx d.Features; Labels = Tensor.selectRows idx d.Labels
              Mask = d.Mask |> Option.map (Tensor.selectRows idx) }
        match picked.Mask with
        | Some m when m.shape[0] > 0L ->
            let longest = Scope.run (fun () -> m.sum(1L, false, torch.ScalarType.Int64).max().item<int64> ()) |> max 1L
            if longest >= m.shape[1] then picked
            else
                let cut (t: Tensor) = t.narrow (1L, 0L, longest)
                { Inputs = cut picked.Inputs; Features = cut picked.Features; Labels = cut picked.Labels; Mask = Some (cut m) }
        | _ -> picked

    /// Number of examples.
    let count (d: LabelledExamples) = d.Labels.shape[0]

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
