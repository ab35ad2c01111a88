namespace EnergyFs.Energies

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Energies

/// The multilabel energy network of Blondel et al. 2022 (arXiv 2205.09589, §5.1): unary scores
/// u = f(x) from a linear map (hidden = 0) or a one-hidden-layer ReLU network, and a learned
/// pairwise matrix A [k, k] (initialized at 0, so training starts from the independent model),
/// giving the quadratic energy Φ(x, p) = ⟨u(x), p⟩ + ½⟨p, Â p⟩ over p ∈ [0, 1]ᵏ.
type EnergyMultilabelNet(inputs: int, labels: int, hidden: int) as this =
    inherit torch.nn.Module<Tensor, Tensor>("energy_multilabel")
    do
        Checks.positiveInt "inputs" inputs
        Checks.positiveInt "labels" labels
        if hidden < 0 then Checks.fail "hidden" (sprintf "hidden must be ≥ 0, got %d" hidden)
    let body : torch.nn.Module<Tensor, Tensor> =
        if hidden = 0 then torch.nn.Linear (int64 inputs, int64 labels)
        else torch.nn.Sequential (torch.nn.Linear (int64 inputs, int64 hidden), torch.nn.ReLU (), torch.nn.Linear (int64 hidden, int64 labels))
    let pairwise = new Parameter (torch.zeros (int64 labels, int64 labels))
    do
        this.register_module ("body", body)
        this.register_parameter ("pairwise", pairwise)

    /// The unary scores u(x) [n, k].
    override _.forward (x: Tensor) = body.forward x

    /// The pairwise matrix A (the energy symmetrizes it and drops its diagonal). Looked up by name:
    /// `to(dtype)` replaces the registered parameter object.
    member this.Pairwise : Tensor = this.get_parameter "pairwise" :> Tensor

    /// The energy's input for a batch of features: (u(x), A).
    member this.Input (x: Tensor) : QuadraticInput = { Unary = this.forward x; Pairwise = this.Pairwise }

    /// Number of labels k.
    member _.Labels = labels

    /// Number of input features d.
    member _.Inputs = inputs

/// Construction of the multilabel network from an explicit Rng.
[<RequireQualifiedAccess>]
module EnergyMultilabelNet =

    /// A network on the context's device and dtype, initialized from `rng` (pairwise matrix at 0).
    let create (rng: Rng) (ctx: Context) (inputs: int) (labels: int) (hidden: int) =
        let net = new EnergyMultilabelNet (inputs, labels, hidden)
        net.``to`` (ctx.DType) |> ignore
        net.``to`` (ctx.Device) |> ignore
        Training.Init.reinitialize rng net
        use _ = torch.no_grad ()
        net.Pairwise.zero_ () |> ignore
        net
