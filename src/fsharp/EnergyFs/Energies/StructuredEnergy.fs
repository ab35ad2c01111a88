namespace EnergyFs.Energies

open System
open TorchSharp
open EnergyFs

/// A structured energy E_θ(F(x), ȳ) over relaxed labels, the energy the structured
/// trainers (`StructuredSvm`, `InferenceNetworks`, `ImplicitStructured`, `SpenEndToEnd`) learn and
/// minimise: low energy marks a good labelling ȳ of an input with features F(x) (LeCun et al. 2006,
/// "A Tutorial on Energy-Based Learning"; Belanger & McCallum 2016, arXiv 1511.06350, §3). The
/// parameters θ are a list of tensor blocks, not a module: the trainers differentiate E with
/// respect to θ as plain tensors (the implicit hypergradient −∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψ L of Shankar
/// & Piratla 2022, arXiv 2211.11649, §3, needs θ and ψ as tensor lists), so any differentiable
/// function of (θ, F(x), ȳ) works. The relaxed labels are multilabel ȳ ∈ [0,1]^L (features [n, d],
/// ȳ [n, L], no mask) or label sequences ȳ ∈ Δ_L^T (features [B, T, d], ȳ [B, T, L] and a mask
/// [B, T] of the real tokens; `SequenceEnergy.structured`): the trainers pass the examples' mask
/// through and do not look at the shapes.
type StructuredEnergy =
    { /// The energy's name (in reports and saved model files), for example "spen".
      Name: string
      /// E_θ(F(x), ȳ) per example (shape [n]) for the blocks θ, features F(x), the examples' mask
      /// of real positions (None for multilabel outputs, and for sequences without padding) and
      /// relaxed labels ȳ; differentiable in θ, F(x) and ȳ.
      Energy: Tensor list -> Tensor -> Tensor option -> Tensor -> Tensor }

/// Structured energies: the SPEN (the trainers' default) and energies of your own.
[<RequireQualifiedAccess>]
module StructuredEnergy =

    /// The SPEN energy E_θ(x, ȳ) = −Σ_i ȳ_i b_iᵀF(x) + c₂ᵀ softplus(C₁ȳ) (`Spen.energy`, θ = [B; C₁;
    /// c₂] from `Spen.create`), the default of every structured trainer.
    let spen : StructuredEnergy = { Name = "spen"; Energy = fun theta features _ y -> Spen.energy theta features y }

    /// An energy of your own over masked outputs, named `name`, from E(θ, F(x), mask, ȳ). Each
    /// evaluation checks that the function returns one value per example (shape [n], n = ȳ's
    /// first dimension) and fails with InvalidOperationException naming the energy otherwise.
    let ofMaskedFunction (name: string) (energy: Tensor list -> Tensor -> Tensor option -> Tensor -> Tensor) : StructuredEnergy =
        Checks.require "name" (not (String.IsNullOrWhiteSpace name)) "the energy needs a name"
        { Name = name
          Energy =
            fun theta features mask y ->
                let e = energy theta features mask y
                if isNull (box e) then invalidOp (sprintf "structured energy '%s' returned null" name)
                if e.dim () <> 1L || e.shape[0] <> y.shape[0] then
                    invalidOp (sprintf "structured energy '%s' must return one value per example, shape [%d], but returned shape %s for labels %s"
                                   name y.shape[0] (Checks.shapeText e.shape) (Checks.shapeText y.shape))
                e }

    /// An energy of your own, named `name`, from E(θ, F(x), ȳ) (multilabel outputs: no mask). Each
    /// evaluation checks that the function returns one value per example (shape [n]) and fails
    /// with InvalidOperationException naming the energy otherwise.
    let ofFunction (name: string) (energy: Tensor list -> Tensor -> Tensor -> Tensor) : StructuredEnergy =
        ofMaskedFunction name (fun theta features _ y -> energy theta features y)

    /// E_θ(F(x), ȳ) per example, without a mask (multilabel outputs).
    let value (energy: StructuredEnergy) (theta: Tensor list) (features: Tensor) (y: Tensor) : Tensor =
        energy.Energy theta features None y
