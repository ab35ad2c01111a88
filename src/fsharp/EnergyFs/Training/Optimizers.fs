namespace EnergyFs.Training

open System
open System.IO
open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// The update rule of an optimizer.
type Algorithm =
    /// Adam (Kingma & Ba 2015) with the given β₁, β₂, ε.
    | Adam of beta1: float * beta2: float * epsilon: float
    /// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    | AdamW of beta1: float * beta2: float * epsilon: float
    /// Stochastic gradient descent with (optionally Nesterov) momentum.
    | Sgd of momentum: float * nesterov: bool

/// How parameters are updated: the rule, a learning-rate schedule, weight decay and clipping.
type OptimizerOptions =
    { /// The update rule.
      Algorithm: Algorithm
      /// The learning rate as a function of the step.
      LearningRate: Schedule
      /// L2 weight decay (decoupled for AdamW).
      WeightDecay: float
      /// Rescale gradients so their global Euclidean norm is at most this (None: no clipping).
      ClipGradNorm: float option }

/// Constructors for OptimizerOptions, optax style: start from `defaults` or `adam lr` and override.
[<RequireQualifiedAccess>]
module OptimizerOptions =

    /// Adam(0.9, 0.999, 1e-8), learning rate 1e-3, no weight decay, no clipping.
    let defaults =
        { Algorithm = Adam(0.9, 0.999, 1e-8); LearningRate = Schedule.constant 1e-3; WeightDecay = 0.0; ClipGradNorm = None }

    /// Adam with a constant learning rate.
    let adam (lr: float) = { defaults with LearningRate = Schedule.constant lr }

    /// Plain SGD with momentum and a constant learning rate.
    let sgd (lr: float) (momentum: float) =
        { defaults with Algorithm = Sgd(momentum, false); LearningRate = Schedule.constant lr }

    /// The same options with another schedule.
    let withSchedule (schedule: Schedule) (o: OptimizerOptions) = { o with LearningRate = schedule }

    /// The same options with gradient-norm clipping.
    let withClipping (maxNorm: float) (o: OptimizerOptions) =
        Checks.positive "maxNorm" maxNorm
        { o with ClipGradNorm = Some maxNorm }

    /// The same options with weight decay.
    let withWeightDecay (decay: float) (o: OptimizerOptions) =
        Checks.nonNegative "decay" decay
        { o with WeightDecay = decay }

/// A TorchSharp optimizer driven by OptimizerOptions: it sets the scheduled learning rate before
/// each step, clips, counts steps, and saves and restores its full state (moments and step count).
/// Owns native state: dispose it.
[<Sealed>]
type Optimizer(options: OptimizerOptions, parameters: Parameter list) =
    do if parameters.IsEmpty then invalidArg "parameters" "the optimizer needs at least one parameter"
    let lr0 = options.LearningRate.Rate 0
    do Checks.positive "learning rate at step 0" lr0
    let inner : torch.optim.Optimizer =
        match options.Algorithm with
        | Adam (b1, b2, eps) -> torch.optim.Adam (parameters, lr0, b1, b2, eps, options.WeightDecay, false, false) :> _
        | AdamW (b1, b2, eps) -> torch.optim.AdamW (parameters, lr0, b1, b2, eps, options.WeightDecay, false, false) :> _
        | Sgd (momentum, nesterov) -> torch.optim.SGD (parameters, lr0, momentum, 0.0, options.WeightDecay, nesterov, false) :> _
    let mutable steps = 0

    /// The options this optimizer was made with.
    member _.Options = options
    /// The parameters it updates.
    member _.Parameters = parameters
    /// The underlying TorchSharp optimizer.
    member _.Inner = inner
    /// How many steps have been taken.
    member _.Steps = steps
    /// The learning rate the next step will use.
    member _.CurrentLearningRate = options.LearningRate.Rate steps

    /// Clears the parameters' gradients.
    member _.ZeroGrad() = inner.zero_grad ()

    /// Global Euclidean norm of the current gradients (0 for parameters without one).
    member _.GradientNorm() =
        Scope.run (fun () ->
            let norms = parameters |> List.choose (fun p -> match p.grad with null -> None | g -> Some (g.norm ()))
            if norms.IsEmpty then 0.0 else Tensor.toScalar (torch.stack(ResizeArray norms).norm ()))

    /// Applies one update from the gradients already in .grad: sets the scheduled learning rate,
    /// rescales the gradients when their norm exceeds ClipGradNorm, steps. Returns the gradient
    /// norm before clipping. When that norm is not finite (NaN or Inf somewhere), nothing is
    /// updated and the step is not counted, so the caller can stop with the parameters intact.
    member this.Step() =
        let norm = this.GradientNorm()
        if Double.IsFinite norm then
            let lr = options.LearningRate.Rate steps
            if not (lr >= 0.0) || Double.IsInfinity lr then
                invalidOp (sprintf "the learning-rate schedule returned %g at step %d" lr steps)
            for g in inner.ParamGroups do g.LearningRate <- lr
            match options.ClipGradNorm with
            | Some maxNorm when norm > maxNorm ->
                use _ = torch.no_grad ()
                for p in parameters do
                    if not (isNull p.grad) then Pinned.using (maxNorm / (norm + 1e-12)) (fun s -> p.grad.mul_ s) |> ignore
            | _ -> ()
            inner.step () |> ignore
            steps <- steps + 1
        norm

    /// Writes the step count and the optimizer's state (Adam moments, momentum buffers).
    member _.Save(writer: BinaryWriter) =
        writer.Write steps
        match inner with
        | :? OptimizerHelper as h -> h.save_state_dict writer
        | _ -> invalidOp "this optimizer cannot save its state"

    /// Restores what Save wrote.
    member _.Load(reader: BinaryReader) =
        steps <- reader.ReadInt32()
        match inner with
        | :? OptimizerHelper as h -> h.load_state_dict reader
        | _ -> invalidOp "this optimizer cannot load its state"

    interface IDisposable with
        member _.Dispose() = inner.Dispose()

/// Functions over Optimizer, for pipelines.
[<RequireQualifiedAccess>]
module Optimizer =

    /// An optimizer over the parameters of a module.
    let create (options: OptimizerOptions) (model: torch.nn.Module) =
        new Optimizer(options, model.parameters () |> List.ofSeq)

    /// An optimizer over an explicit parameter list.
    let ofParameters (options: OptimizerOptions) (parameters: Parameter list) = new Optimizer(options, parameters)
