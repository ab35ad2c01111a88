namespace EnergyFs.Training

open TorchSharp
open EnergyFs

/// Parameter initialisation from an explicit Rng. TorchSharp's modules initialise themselves from
/// libtorch's global generator, which every thread shares; re-initialising from an Rng makes a
/// model's starting point a function of the seed alone.
[<RequireQualifiedAccess>]
module Init =

    /// Fills `p` in place with uniform samples on [−bound, bound].
    let uniform (rng: Rng) (bound: float) (p: Tensor) =
        use _ = torch.no_grad ()
        use u = torch.rand (p.shape, dtype = p.dtype, device = p.device, generator = rng.Generator)
        use scaled = u * (2.0 * bound) - bound
        p.copy_ scaled |> ignore

    /// Fills `p` in place with normal samples of standard deviation `std`.
    let normal (rng: Rng) (std: float) (p: Tensor) =
        use _ = torch.no_grad ()
        use n = torch.randn (p.shape, dtype = p.dtype, device = p.device, generator = rng.Generator)
        use scaled = n * std
        p.copy_ scaled |> ignore

    /// Re-initialises every parameter of `model` as PyTorch's Linear does by default, but from
    /// `rng`: a weight of fan-in n (product of all dimensions but the first) gets U(−1/√n, 1/√n),
    /// and a 1-D parameter (a bias) gets the same bound as the weight before it.
    let reinitialize (rng: Rng) (model: torch.nn.Module) =
        let mutable lastBound = 1.0
        for p in model.parameters () do
            if p.dim () >= 2L then
                let fanIn = p.shape |> Array.skip 1 |> Array.fold (*) 1L
                lastBound <- 1.0 / sqrt (float fanIn)
                uniform rng lastBound p
            else
                uniform rng lastBound p

    /// Re-initialises the weight and bias of every Linear layer of `model` (at any depth) from
    /// `rng` as PyTorch's Linear does by default (U(−1/√fan_in, 1/√fan_in)), leaving every other
    /// parameter as the module's constructor set it: for modules of the caller's (custom energies)
    /// whose own parameters (a zero-initialised interaction matrix, a scale) carry a deliberate
    /// starting value, while the layers' random draws still come from the run's seed.
    let reinitializeLinear (rng: Rng) (model: torch.nn.Module) =
        for m in model.modules () do
            match m with
            | :? TorchSharp.Modules.Linear as linear ->
                let bound = 1.0 / sqrt (float linear.weight.shape[1])
                uniform rng bound linear.weight
                if not (isNull linear.bias) then uniform rng bound linear.bias
            | _ -> ()

