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

/// Shared pieces of the structured trainers: batching, validation bookkeeping, keeping the best
/// parameters.
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

    /// Runs one optimizer step on a loss: zero grads, backward, check finiteness, step. Returns the
    /// loss value.
    let step (optimizer: Optimizer) (named: (string * Parameter) list) (epoch: int) (loss: Tensor) =
        optimizer.ZeroGrad ()
        Divergence.checkLoss epoch optimizer.Steps loss
        loss.backward ()
        let norm = optimizer.Step ()
        Divergence.checkGradients epoch optimizer.Steps named norm
        Tensor.toScalar loss
