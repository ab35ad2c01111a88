/// The PyTorch twin of the regression joint step (bench/pytorch/regression.py: the authors' toy-set-1
/// network and loss, fregu856/ebms_proposals) written directly against TorchSharp, line for line:
/// the network of `torch.nn.Linear` modules, the loss with `torch.distributions.Normal`'s arithmetic
/// written out (including the argument and sample checks it runs by default, each a host read),
/// zero_grad, backward and Adam. No EnergyFs call: the third side of the regression benchmarks
/// (`Benchmark.direct`).
module EnergyFs.Bench.Groups.RegressionDirect

open TorchSharp
open EnergyFs.Bench

type private Tensor = torch.Tensor
type private F = torch.nn.functional

/// The authors' toy network at width `hidden` with `components` mixture components (1-D x and y),
/// its layers created in the twin's order.
type PaperNet(hidden: int, components: int) =
    let lin (i: int) (o: int) = torch.nn.Linear (int64 i, int64 o)
    let feat1, feat2 = lin 1 hidden, lin hidden hidden
    let mean1, mean2 = lin hidden hidden, lin hidden components
    let var1, var2 = lin hidden hidden, lin hidden components
    let logit1, logit2 = lin hidden hidden, lin hidden components
    let y1, y2 = lin 1 hidden, lin hidden hidden
    let xy1, xy2, out = lin (2 * hidden) hidden, lin hidden hidden, lin hidden 1
    let layers = [ feat1; feat2; mean1; mean2; var1; var2; logit1; logit2; y1; y2; xy1; xy2; out ]

    /// Every parameter, layer by layer.
    member _.Parameters = [ for l in layers do yield! l.parameters () ]

    /// h = relu(W₂ relu(W₁ x)).
    member _.Features(x: Tensor) = F.relu (feat2.call (F.relu (feat1.call x)))

    /// Means, log σ² and softmax weights of the K-component mixture.
    member _.Proposal(h: Tensor) =
        let means = mean2.call (F.relu (mean1.call h))
        let logVar = var2.call (F.relu (var1.call h))
        let weights = torch.softmax (logit2.call (F.relu (logit1.call h)), 1)
        means, logVar, weights

    /// f for features h [B, H] and values y [B, S] → [B, S] (h repeated over the S values).
    member _.Energy(h: Tensor, y: Tensor) =
        let b, s = y.shape[0], y.shape[1]
        let hx = h.view(b, 1L, -1L).expand(-1L, s, -1L).reshape (b * s, -1L)
        let e = F.relu (y2.call (F.relu (y1.call (y.reshape (b * s, 1L)))))
        let z = F.relu (xy1.call (torch.cat ([| hx; e |], 1L)))
        let z = F.relu (xy2.call z) + z
        out.call(z).view (b, s)

    interface System.IDisposable with
        member _.Dispose() = for l in layers do l.Dispose ()

/// `torch.distributions.Normal(loc, scale)` with its default argument validation: the broadcast,
/// then `loc == loc` and `scale > 0` checked with `.all()` and read on the host.
let normal (loc: Tensor) (scale: Tensor) =
    let both = torch.broadcast_tensors (loc, scale)
    let loc, scale = both[0], both[1]
    if not (loc.eq(loc).all().item<bool> ()) then invalidArg "loc" "not real"
    let positive =
        use zero = (0.0).ToScalar ()
        scale.gt(zero).all().item<bool> ()
    if not positive then invalidArg "scale" "not positive"
    loc, scale

/// `Normal.log_prob` with its sample check (`value == value`, `.all()`, read on the host).
let logProb (loc: Tensor, scale: Tensor) (value: Tensor) =
    if not (value.eq(value).all().item<bool> ()) then invalidArg "value" "not real"
    let var = scale.square ()
    let logScale = scale.log ()
    -((value - loc).square ()) / (2 * var) - logScale - log (sqrt (2.0 * System.Math.PI))

/// `Normal.sample(sample_shape)`: `torch.normal` of the expanded parameters under no_grad.
let sample (loc: Tensor, scale: Tensor) (sampleShape: int64 list) =
    let shape = Array.ofList (sampleShape @ List.ofArray loc.shape)
    use _ = torch.no_grad ()
    torch.normal (loc.expand shape, scale.expand shape)

/// The authors' joint loss on one batch x [B, 1], y [B, 1] with M = `samples`: NCE with the
/// proposal's samples plus the proposal's importance-sampling KL.
let paperLoss (net: PaperNet) (x: Tensor) (y: Tensor) (samples: int) =
    let h = net.Features x
    let means, logVar, weights = net.Proposal (h.detach ())
    let q = normal means (torch.exp (logVar / 2.0))
    let qY = torch.sum(weights.unsqueeze 0L * torch.exp (logProb q (y.t().unsqueeze 2L)), 2L).squeeze 0L
    let every = sample q [ int64 samples ]
    let which = torch.multinomial(weights, int64 samples, replacement = true).t().unsqueeze 2L
    let ys = every.gather(2L, which).squeeze(2L).detach ()
    let qYs = torch.sum (weights.unsqueeze 0L * torch.exp (logProb q (ys.unsqueeze 2L)), 2L)
    let ys, qYs = ys.t (), qYs.t ()
    let f0 = net.Energy(h, y).squeeze 1L
    let fs = net.Energy (h, ys)
    let s0 = f0 - torch.log (qY.detach ())
    let ss = fs - torch.log (qYs.detach ())
    let nce = -(torch.mean (s0 - torch.logsumexp (torch.cat ([| s0.unsqueeze 1L; ss |], 1L), 1L)))
    let kl = torch.mean (torch.logsumexp (fs.detach () - torch.log qYs, 1L) - log (float samples))
    nce + kl

/// n points of toy set 1: x ~ U(−3, 3); x < 0: 0.8 N(sin x, 0.075²) + 0.2 N(−sin x, 0.075²);
/// x ≥ 0: LogNormal(0, 0.25) − 1.
let toy1 (n: int) =
    let n = int64 n
    let x = torch.rand n * 6 - 3
    let flip = torch.where (torch.rand(n).lt ((0.8).ToScalar ()), torch.tensor 1.0f, torch.tensor -1.0f)
    let left = flip * torch.sin x + torch.randn n * 0.075
    let right = torch.exp (torch.randn n * 0.25) - 1.0
    x, torch.where (x.lt ((0).ToScalar ()), left, right)

/// `joint_step`: one training step (loss read back, zero_grad, backward, Adam 1e-3) on the
/// consecutive batches of 2000 points of toy set 1 in turn.
let jointStep (batch: int) (samples: int) (hidden: int) (components: int) () =
    let net = new PaperNet (hidden, components)
    let opt = torch.optim.Adam (net.Parameters, lr = 1e-3)
    let xs, ys = toy1 2000
    let batches =
        [ for i in 0 .. batch .. 2000 - batch ->
              xs[torch.TensorIndex.Slice (int64 i, int64 (i + batch))].unsqueeze 1L, ys[torch.TensorIndex.Slice (int64 i, int64 (i + batch))].unsqueeze 1L ]
    let mutable turn = 0
    let owned : System.IDisposable list = [ yield net; yield opt; yield xs; yield ys; for x, y in batches do yield x; yield y ]
    Benchmark.case owned (fun () ->
        let x, y = batches[turn % batches.Length]
        turn <- turn + 1
        let loss = paperLoss net x y samples
        loss.item<float32> () |> ignore
        opt.zero_grad ()
        loss.backward ()
        opt.step () |> ignore)
