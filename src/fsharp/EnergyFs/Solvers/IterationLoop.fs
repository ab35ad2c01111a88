namespace EnergyFs.Solvers

open EnergyFs

/// The iteration driver of the first-order solvers.
[<RequireQualifiedAccess>]
module IterationLoop =

    /// Runs `iterate` from `state0`, a list of tensors whose head is the iterate p (the rest: step
    /// sizes, dual variables, velocities). `iterate t state` returns the optimality measure at the
    /// current state and a thunk computing the next state; both run in one dispose scope per
    /// iteration, and only the new state survives it (the next state must be made of new tensors).
    /// Stops when the measure is ≤ `tolerance` (or NaN), or after `maxIterations` steps; with no
    /// tolerance it runs exactly `maxIterations` steps and the measure is ignored. Returns the final
    /// p, the steps taken and the last measure.
    let run (maxIterations: int) (tolerance: float option) (state0: Tensor list)
            (iterate: int -> Tensor list -> float * (unit -> Tensor list)) : Tensor * int * float =
        let mutable state = state0
        let mutable it = 0
        let mutable gap = System.Double.PositiveInfinity
        let mutable fin = false
        let stop (measure: float) =
            match tolerance with
            | Some tol -> measure <= tol || it >= maxIterations || System.Double.IsNaN measure
            | None -> it >= maxIterations
        while not fin do
            let measure, next =
                Scope.keeping (fun (_, n: Tensor list option) -> n |> Option.defaultValue [] |> Seq.map (fun t -> t :> System.IDisposable)) (fun () ->
                    let measure, step = iterate it state
                    if stop measure then measure, None
                    else measure, Some (step ()))
            gap <- measure
            match next with
            | Some n ->
                Scope.disposeAll state
                state <- n
                it <- it + 1
            | None -> fin <- true
        Scope.disposeAll state.Tail
        state.Head, it, gap
