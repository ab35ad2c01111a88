namespace EnergyFs.Training

open System
open System.Globalization

/// A learning-rate schedule η(t): a pure function from the optimizer step (0-based) to the learning
/// rate, as in optax, together with its rule written out (`Description`, for example
/// "constant 0.001" or "warmup 100 then cosine 0.01 → 0 over 5000"). Being a function of the step
/// alone, a schedule needs no state in checkpoints and resumes exactly. The description is what a
/// configuration's text shows (`%A` prints it), so two schedules that differ only in their numbers
/// give different result-cache keys; equality is by description. (Written here rather than with
/// TorchSharp's lr_scheduler objects, whose state is not saved with the optimizer.)
[<CustomEquality; NoComparison; StructuredFormatDisplay("{Description}")>]
type Schedule =
    { /// The rule with its numbers, in words (stable text: part of configuration keys).
      Description: string
      /// η(t) at step t.
      Rate: int -> float }

    /// η(t) at step t (also the way C# evaluates a schedule: `schedule.Invoke(t)`).
    member s.Invoke(step: int) = s.Rate step

    override s.Equals(other: obj) =
        match other with
        | :? Schedule as o -> o.Description = s.Description
        | _ -> false

    override s.GetHashCode() = s.Description.GetHashCode()

    override s.ToString() = s.Description

/// Schedule constructors and combinators.
[<RequireQualifiedAccess>]
module Schedule =

    let private g (x: float) = x.ToString("R", CultureInfo.InvariantCulture)

    /// A schedule of your own: η(t) = rate t, described as `description` (give the numbers that
    /// define it: the description keys cached results).
    let ofFunction (description: string) (rate: int -> float) : Schedule =
        if String.IsNullOrWhiteSpace description then invalidArg "description" "a schedule needs a description (it keys cached results)"
        { Description = description; Rate = rate }

    /// η(t) at step t.
    let at (step: int) (schedule: Schedule) : float = schedule.Rate step

    /// η(t) = lr.
    let constant (lr: float) : Schedule = ofFunction (sprintf "constant %s" (g lr)) (fun _ -> lr)

    /// η(t) = lr · γ^⌊t / every⌋ (step decay).
    let stepDecay (lr: float) (gamma: float) (every: int) : Schedule =
        if every < 1 then invalidArg "every" (sprintf "every must be ≥ 1, got %d" every)
        ofFunction (sprintf "step decay %s × %s every %d" (g lr) (g gamma) every) (fun t -> lr * Math.Pow(gamma, float (t / every)))

    /// η(t) = lr · rate^(t / steps) (smooth exponential decay).
    let exponentialDecay (lr: float) (rate: float) (steps: int) : Schedule =
        if steps < 1 then invalidArg "steps" (sprintf "steps must be ≥ 1, got %d" steps)
        ofFunction (sprintf "exponential decay %s × %s per %d" (g lr) (g rate) steps) (fun t -> lr * Math.Pow(rate, float t / float steps))

    /// η(t) = final + (lr − final) · ½(1 + cos(π · min(t, total) / total)) (cosine decay to `final`).
    let cosineDecay (lr: float) (total: int) (final: float) : Schedule =
        if total < 1 then invalidArg "total" (sprintf "total must be ≥ 1, got %d" total)
        ofFunction (sprintf "cosine %s → %s over %d" (g lr) (g final) total) (fun t ->
            let p = float (min t total) / float total
            final + (lr - final) * 0.5 * (1.0 + Math.Cos(Math.PI * p)))

    /// Linear warm-up from 0 over `steps` steps, then `schedule` (shifted so it starts at 0).
    let warmup (steps: int) (schedule: Schedule) : Schedule =
        if steps < 0 then invalidArg "steps" (sprintf "steps must be ≥ 0, got %d" steps)
        ofFunction (sprintf "warmup %d then %s" steps schedule.Description) (fun t ->
            if t < steps then schedule.Rate 0 * float (t + 1) / float steps else schedule.Rate (t - steps))

    /// `first` for steps before `boundary`, then `second` restarted at 0.
    let join (boundary: int) (first: Schedule) (second: Schedule) : Schedule =
        ofFunction (sprintf "%s until %d then %s" first.Description boundary second.Description) (fun t ->
            if t < boundary then first.Rate t else second.Rate (t - boundary))
