namespace EnergyFs.Training

open System
open TorchSharp
open EnergyFs

/// A group of parameters trained by one optimizer: a module (whose parameters the optimizer
/// updates and whose state dict the checkpoints save) and the optimizer's options.
type ParameterGroup =
    { /// The group's name: how a step asks for its optimizer, and the prefix of its parameters in
      /// divergence reports (when there are several groups).
      Name: string
      /// The module holding the group's parameters (a `ParameterModule` for plain parameter lists).
      Module: torch.nn.Module
      /// The group's optimizer (None: `FitOptions.Optimizer`).
      Optimizer: OptimizerOptions option }

/// Constructors for ParameterGroup.
[<RequireQualifiedAccess>]
module ParameterGroup =

    /// All the parameters of a module, updated by `FitOptions.Optimizer`.
    let ofModule (name: string) (m: torch.nn.Module) = { Name = name; Module = m; Optimizer = None }

    /// A plain parameter list with its own optimizer. The wrapping ParameterModule is not meant to
    /// be disposed: disposing a module frees its parameters, which the caller keeps.
    let ofParameters (name: string) (options: OptimizerOptions) (ps: Modules.Parameter list) =
        { Name = name; Module = new ParameterModule(name, ps); Optimizer = Some options }

    /// The group's parameters, in the module's order.
    let parameters (g: ParameterGroup) : Modules.Parameter list = g.Module.parameters () |> List.ofSeq

/// What one training step sees: where the run stands and the optimizers of the task's groups.
type StepContext =
    { /// Current epoch (0-based).
      Epoch: int
      /// Steps taken before this one over the run (the 0-based index of this step).
      Step: int
      /// The optimizer of every group, by group name, in the task's order.
      Optimizers: (string * Optimizer) list
      /// The named parameters of every group, by group name (for divergence reports).
      Named: (string * (string * Modules.Parameter) list) list
      /// Whether losses and gradients are checked for NaN/Inf.
      CheckFinite: bool }
    /// The optimizer of a group; fails naming the group and the available ones.
    member c.Optimizer(group: string) : Optimizer =
        match List.tryFind (fst >> (=) group) c.Optimizers with
        | Some (_, o) -> o
        | None -> Checks.fail "group" (sprintf "no parameter group '%s' in the task (groups: %s)" group (String.Join(", ", List.map fst c.Optimizers)))
    /// The named parameters of a group.
    member c.NamedParameters(group: string) : (string * Modules.Parameter) list =
        match List.tryFind (fst >> (=) group) c.Named with
        | Some (_, ps) -> ps
        | None -> Checks.fail "group" (sprintf "no parameter group '%s' in the task" group)

/// A training task made of steps, the general form the fit loop runs (optax style: the step is a
/// function of the batch and the optimizers that returns the step's scalar metrics). A plain loss
/// task (`TrainingTask`) is the special case of one group and a step that descends one loss.
type StepTask<'Batch> =
    { /// The parameter groups, each with its optimizer; all are checkpointed and restored.
      Groups: ParameterGroup list
      /// The batches of epoch `e`, drawn with the run's generator.
      Batches: Rng -> int -> seq<'Batch>
      /// Number of batches (steps) per epoch, for progress (0 if unknown).
      BatchesPerEpoch: int
      /// One step on a batch: updates the groups it names through `Step` and returns its scalar
      /// metrics (the first is the step's loss, shown by progress). Every metric must be finite.
      Step: StepContext -> 'Batch -> (string * float) list
      /// Validation metrics computed after each epoch (modules in eval mode; gradients are left on,
      /// since validation may run gradient-based inference).
      Validate: (unit -> (string * float) list) option
      /// Validate the starting parameters too (not on resumption): they compete for RestoreBest as
      /// epoch −1 and add no history row.
      ValidateStart: bool }

/// The building blocks of steps: optimizer updates of one group with the fit loop's checks.
[<RequireQualifiedAccess>]
module Step =

    /// Clears the gradients of a group's parameters.
    let zeroGrad (ctx: StepContext) (group: string) = (ctx.Optimizer group).ZeroGrad ()

    /// Fails with TrainingDivergedException when the loss is not finite (if checks are on).
    let checkLoss (ctx: StepContext) (loss: Tensor) =
        if ctx.CheckFinite then Divergence.checkLoss ctx.Epoch ctx.Step loss

    /// Applies one update of a group from the gradients already in .grad (θ ← θ − η·u(∇)) and
    /// returns the gradient norm; a non-finite gradient leaves the group untouched and raises.
    let update (ctx: StepContext) (group: string) : float =
        let norm = (ctx.Optimizer group).Step ()
        if ctx.CheckFinite then Divergence.checkGradients ctx.Epoch ctx.Step (ctx.NamedParameters group) norm
        norm

    /// One descent step of a group on a scalar loss ℓ: zero the gradients, check ℓ, backpropagate,
    /// update. Returns (ℓ, ‖∇ℓ‖).
    let descend (ctx: StepContext) (group: string) (loss: Tensor) : float * float =
        zeroGrad ctx group
        checkLoss ctx loss
        loss.backward ()
        let value = Tensor.toScalar loss
        value, update ctx group

    /// One ascent step of a group on a scalar objective f (a descent step on −f), the max player
    /// of a min–max game. Returns (f, ‖∇f‖).
    let ascend (ctx: StepContext) (group: string) (objective: Tensor) : float * float =
        let negated = -objective
        let _, norm = descend ctx group negated
        Tensor.toScalar objective, norm
