namespace EnergyFs.Training

open System
open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// Copies of parameter values: taken, restored, and the best seen so far kept. Used by the fit
/// loop (restore-best).
[<RequireQualifiedAccess>]
module Snapshot =

    /// Detached copies of the parameters' values. The caller owns them (dispose with Scope.disposeAll).
    let take (ps: Parameter list) : Tensor list = Diff.noGrad (fun () -> ps |> List.map Tensor.copy)

    /// Copies a snapshot back into the parameters, in place.
    let restore (ps: Parameter list) (values: Tensor list) =
        if ps.Length <> values.Length then
            invalidArg "values" (sprintf "a snapshot of %d tensors cannot be restored into %d parameters" values.Length ps.Length)
        Diff.noGrad (fun () -> List.iter2 (fun (p: Parameter) (v: Tensor) -> p.copy_ v |> ignore) ps values)

/// Keeps the parameters of the best score seen so far (higher is better; a NaN score is kept only
/// until a real one arrives). Owns its copies: dispose it.
[<Sealed>]
type BestKeeper(ps: Parameter list) =
    let mutable best = Double.NegativeInfinity
    let mutable saved : Tensor list = []
    /// Offers the current parameters with their score; keeps them when the score is better.
    member _.Offer(score: float) =
        if Double.IsNaN score || score > best then
            Scope.disposeAll saved
            saved <- Snapshot.take ps
            if not (Double.IsNaN score) then best <- score
    /// The best score seen.
    member _.Best = best
    /// Restores the best parameters (nothing when none was offered).
    member _.RestoreBest() = if not saved.IsEmpty then Snapshot.restore ps saved
    interface IDisposable with
        member _.Dispose() = Scope.disposeAll saved
