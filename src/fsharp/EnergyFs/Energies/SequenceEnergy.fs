namespace EnergyFs.Energies

open System
open TorchSharp
open EnergyFs

/// Energies over relaxed label sequences as weighted sums of terms (Tu, Pang & Gimpel 2020, arXiv
/// 2005.04231, §3: the linear chain plus global terms),
///   E_θ(F(x), ȳ) = Σ_k w_k E_k(θ_k; F(x), ȳ),   θ = θ_1 @ θ_2 @ …,
/// each term reading its own slice of the concatenated blocks, and their use as a
/// `StructuredEnergy` of the structured trainers (`StructuredSvm`, `InferenceNetworks`,
/// `ImplicitStructured`), which then pass each batch's mask through.
[<RequireQualifiedAccess>]
module SequenceEnergy =

    /// The weighted sum Σ_k w_k E_k of the terms (in order; θ is the concatenation of their
    /// blocks), as one term named "t1+t2+…". Fails naming `terms` when it is empty or a weight is
    /// not finite.
    let sum (terms: (float * SequenceEnergyTerm) list) : SequenceEnergyTerm =
        if terms.IsEmpty then invalidArg "terms" "a sequence energy needs at least one term"
        for w, t in terms do
            if not (Double.IsFinite w) then invalidArg "terms" (sprintf "the weight of term '%s' must be finite, got %g" t.Name w)
        let total = terms |> List.sumBy (fun (_, t) -> t.Blocks)
        { Name = terms |> List.map (fun (_, t) -> t.Name) |> String.concat "+"
          Blocks = total
          Energy =
            fun theta features mask y ->
                if theta.Length <> total then
                    invalidArg "theta" (sprintf "the energy '%s' reads %d blocks, got %d"
                                            (terms |> List.map (fun (_, t) -> t.Name) |> String.concat "+") total theta.Length)
                let _, parts =
                    terms |> List.fold (fun (rest: Tensor list, acc) (w, t) ->
                        let e = t.Energy (List.take t.Blocks rest) features mask y
                        List.skip t.Blocks rest, (if w = 1.0 then e else e * w) :: acc) (theta, [])
                parts |> List.rev |> List.reduce (+) }

    /// The term as a `StructuredEnergy` for the structured trainers: a missing mask (None) means
    /// every position is real.
    let structured (term: SequenceEnergyTerm) : StructuredEnergy =
        StructuredEnergy.ofMaskedFunction term.Name (fun theta features mask y ->
            match mask with
            | Some m -> term.Energy theta features m y
            | None -> Scope.tensor (fun () -> term.Energy theta features (SequenceShapes.full y) y))
