namespace EnergyFs.Learners

open System
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Losses
open EnergyFs.Samplers

/// How a probabilistic regressor is trained (Gustafsson, Danelljan & Schön, AISTATS 2022,
/// arXiv 2110.11948).
type RegressionMethod =
    /// EBM by ranking NCE with samples from a learned MDN proposal (a head on the EBM's detached
    /// features), proposal by the importance-sampling log Z estimate of KL(p ‖ q); one optimizer on
    /// the sum (Sec. 3.1, eq. 10).
    | Joint
    /// A mixture density network by maximum likelihood alone (the baseline).
    | MdnAlone
    /// EBM by ranking NCE with the fixed noise ½N(y, σ₁²) + ½N(y, σ₂²) centred on the true y
    /// (Gustafsson et al., BMVC 2020, arXiv 2005.01698).
    | NceFixedNoise
    /// A separate EBM (NCE with samples from the MDN) teaching a stand-alone MDN trained on
    /// ½ KL(p ‖ q) + ½ NLL (Sec. 4).
    | Teacher

/// Parsing and printing of RegressionMethod as the CLI spells it.
[<RequireQualifiedAccess>]
module RegressionMethod =
    /// "joint", "mdn", "nce" or "teacher".
    let name = function Joint -> "joint" | MdnAlone -> "mdn" | NceFixedNoise -> "nce" | Teacher -> "teacher"
    /// The inverse of `name`; fails naming the accepted values.
    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "joint" -> Joint
        | "mdn" -> MdnAlone
        | "nce" -> NceFixedNoise
        | "teacher" -> Teacher
        | _ -> invalidArg "method" (sprintf "unknown method '%s' (expected joint, mdn, nce or teacher)" text)
    /// Whether the method trains an EBM.
    let hasEbm m = m <> MdnAlone
    /// Whether the method trains a proposal / MDN.
    let hasProposal m = m <> NceFixedNoise

/// Options of `Regression.train`; start from `RegressionOptions.defaults`.
type RegressionOptions =
    { /// The training method.
      Method: RegressionMethod
      /// Mixture components K of the proposal / MDN (≥ 1).
      Components: int
      /// Width of every hidden layer.
      Hidden: int
      /// The networks of the built-in EBM and proposal / MDN: `Compact` (EnergyFs's earlier variant, the
      /// default) or `Paper` (the authors' released code: residual energy head, three proposal networks).
      Architecture: RegressionArchitecture
      /// Samples M per example drawn from q (or the fixed noise) in each step.
      Samples: int
      /// Standard deviations (σ₁, σ₂) of the fixed NCE noise.
      NoiseStds: float * float
      /// Training epochs.
      Epochs: int
      /// Minibatch size.
      BatchSize: int
      /// Adam's learning rate.
      LearningRate: float
      /// Seed of model initialisation, batch order and sampling.
      Seed: int64
      /// A conditional energy f_θ(x, y) of the caller's in place of the built-in `ConditionalEbm`
      /// (None: the built-in): `Some create`, where `create xDim yDim` builds the module holding θ
      /// and the function (x [B, Dx], y [B, M, D]) ↦ f [B, M] over it. The module is registered in
      /// the model (Adam trains θ, a saved model holds it) and its standard layers are re-drawn from
      /// the run's generator. With a custom energy the Joint method's proposal is a stand-alone MDN
      /// on x (as the Teacher method's), trained jointly with the same loss; MdnAlone refuses one.
      Energy: (int -> int -> torch.nn.Module * (Tensor -> Tensor -> Tensor)) option
      /// Step and epoch callbacks and the cancellation token of the run (`FitMonitor`).
      Monitor: FitMonitor }

/// Defaults for RegressionOptions.
[<RequireQualifiedAccess>]
module RegressionOptions =
    /// Joint training, K = 4, hidden 32, the compact architecture, M = 1024, σ = (0.1, 0.8), 75 epochs of
    /// batch 32, Adam 1e-3.
    let defaults =
        { Method = Joint; Components = 4; Hidden = 32; Architecture = RegressionArchitecture.Compact; Samples = 1024; NoiseStds = (0.1, 0.8)
          Epochs = 75; BatchSize = 32; LearningRate = 1e-3; Seed = 0L; Energy = None; Monitor = FitMonitor.none }

/// The trainable parts of a regressor under one method: an EBM (all but MdnAlone: the built-in
/// `ConditionalEbm` or the caller's `energy`), a proposal head on the built-in EBM's detached
/// features (Joint), or a stand-alone MDN (MdnAlone, Teacher, and Joint with a custom energy); the
/// built-in networks are those of `architecture`.
type RegressionModel(xDim: int, yDim: int, method: RegressionMethod, components: int, hidden: int,
                     architecture: RegressionArchitecture,
                     energy: (int -> int -> torch.nn.Module * (Tensor -> Tensor -> Tensor)) option) as this =
    inherit torch.nn.Module("RegressionModel")
    do
        Checks.positiveInt "xDim" xDim
        Checks.positiveInt "yDim" yDim
        Checks.positiveInt "components" components
        Checks.positiveInt "hidden" hidden
        if energy.IsSome && not (RegressionMethod.hasEbm method) then
            invalidArg "Energy" "method mdn trains no energy-based model: a custom energy needs joint, nce or teacher"
    let builtin = if RegressionMethod.hasEbm method && energy.IsNone then Some (new ConditionalEbm(xDim, yDim, hidden, architecture)) else None
    let custom =
        energy |> Option.map (fun create ->
            let m, f = create xDim yDim
            if isNull (box m) then invalidOp "the custom energy's factory returned no module"
            m, f)
    let head = if method = Joint && builtin.IsSome then Some (ProposalHead.create architecture hidden hidden components yDim) else None
    let mdn =
        match method with
        | MdnAlone | Teacher -> Some (new MixtureDensityNetwork(xDim, yDim, components, hidden, architecture))
        | Joint when custom.IsSome -> Some (new MixtureDensityNetwork(xDim, yDim, components, hidden, architecture))
        | _ -> None
    do
        builtin |> Option.iter (fun m -> this.register_module ("ebm", m))
        custom |> Option.iter (fun (m, _) -> this.register_module ("ebm", m))
        head |> Option.iter (fun m -> this.register_module ("proposalHead", m))
        mdn |> Option.iter (fun m -> this.register_module ("mdn", m))

    /// A model of the compact architecture with the built-in EBM.
    new (xDim, yDim, method, components, hidden) = new RegressionModel(xDim, yDim, method, components, hidden, RegressionArchitecture.Compact, None)
    /// A model of the compact architecture.
    new (xDim, yDim, method, components, hidden, energy) = new RegressionModel(xDim, yDim, method, components, hidden, RegressionArchitecture.Compact, energy)

    /// The method the model was built for.
    member _.Method = method
    /// Dimension of x.
    member _.XDim = xDim
    /// Dimension of y.
    member _.YDim = yDim
    /// Mixture components K of the proposal / MDN.
    member _.Components = components
    /// Width of the hidden layers of the built-in networks.
    member _.Hidden = hidden
    /// The networks the built-in EBM and proposal / MDN are built from.
    member _.Architecture = architecture
    /// The built-in EBM, when the method trains one and no custom energy replaces it.
    member _.Ebm = builtin
    /// Whether the model has an EBM (built-in or custom).
    member _.HasEbm = builtin.IsSome || custom.IsSome
    /// The module of the EBM (built-in or custom), when there is one.
    member _.EbmModule : torch.nn.Module option =
        match builtin, custom with
        | Some e, _ -> Some (e :> torch.nn.Module)
        | _, Some (m, _) -> Some m
        | _ -> None
    /// The name of the custom energy's module (`GetName`), when the model has one.
    member _.CustomEnergyName : string option = custom |> Option.map (fun (m, _) -> m.GetName())

    /// f(x, ·) for x [B, Dx] as a function of candidates y [B, M, D] → [B, M]; the built-in EBM
    /// computes its features F(x) once. Fails with ArgumentException for a model without an EBM
    /// and with InvalidOperationException when a custom energy returns another shape than [B, M].
    member _.Scorer(x: Tensor) : Tensor -> Tensor =
        Checks.rank "x" 2 x
        Checks.dimSize "x" 1 (int64 xDim) x
        match builtin, custom with
        | Some e, _ ->
            let h = e.Features x
            fun c -> e.ScoreFeatures (h, c)
        | _, Some (m, f) ->
            fun c ->
                Checks.rank "y" 3 c
                Checks.dimSize "y" 2 (int64 yDim) c
                Checks.dimSize "y" 0 x.shape[0] c
                let v = f x c
                if isNull v || v.shape <> [| c.shape[0]; c.shape[1] |] then
                    invalidOp (sprintf "the conditional energy '%s' must return f of shape [%d, %d] for x %s and y %s, but returned %s"
                                   (m.GetName()) c.shape[0] c.shape[1] (Checks.shapeText x.shape) (Checks.shapeText c.shape)
                                   (if isNull v then "null" else Checks.shapeText v.shape))
                v
        | _ -> invalidArg "model" "the model has no energy-based model (method mdn)"

    /// f(x_i, y_im) for x [B, Dx] and candidates y [B, M, D] → [B, M].
    member this.Score(x: Tensor, y: Tensor) : Tensor = this.Scorer x y

    /// f(xᵢ, yᵢ) for x [B, Dx] and one target per example y [B, D] → [B].
    member this.ScoreAt(x: Tensor, y: Tensor) : Tensor =
        Checks.rank "y" 2 y
        Checks.sameRows "x" x "y" y
        (this.Score (x, y.unsqueeze 1L)).squeeze 1L

    /// The proposal q(· | x) for x [B, Dx], when the method trains one.
    member _.Proposal(x: Tensor) : Mixture option =
        match head, mdn, builtin with
        | Some h, _, Some e -> Some (Mdn.ofRaw components yDim (h.forward ((e.Features x).detach ())))
        | _, Some n, _ -> Some (n.Mixture x)
        | _ -> None

/// Training of energy-based and mixture-density regressors (Gustafsson, Danelljan & Schön,
/// "Learning Proposals for Practical Energy-Based Regression", AISTATS 2022, arXiv 2110.11948).
[<RequireQualifiedAccess>]
module Regression =

    /// Checks training or test data: x [N, Dx] and y [N, D] of equal N ≥ 1, all finite.
    let validateData (x: Tensor) (y: Tensor) =
        Checks.rank "x" 2 x
        Checks.rank "y" 2 y
        Checks.sameRows "x" x "y" y
        Checks.require "x" (x.shape[0] >= 1L) "x has no rows"
        Checks.finite "x" x
        Checks.finite "y" y

    /// The fixed NCE noise ½N(y, σ₁²I) + ½N(y, σ₂²I) centred on targets y [B, D], as a mixture.
    let fixedNoise (sigma1: float) (sigma2: float) (y: Tensor) : Mixture =
        Checks.positive "sigma1" sigma1
        Checks.positive "sigma2" sigma2
        let b, d = y.shape[0], y.shape[1]
        let means = y.detach().unsqueeze(1L).expand(b, 2L, d).contiguous ()
        let ctx = { Device = y.device; DType = y.dtype }
        let logStds = Tensor.stack 1 [ Tensor.full ctx [ b; d ] (log sigma1); Tensor.full ctx [ b; d ] (log sigma2) ]
        { LogWeights = Tensor.full ctx [ b; 2L ] (log 0.5); Means = means; LogStds = logStds }

    /// Candidates [B, M+1, D]: the true y first, then M samples from `q` (detached), with f and log q
    /// on them.
    let private candidates (rng: Rng) (m: int) (score: Tensor -> Tensor) (q: Mixture) (y: Tensor) =
        let samples = Mdn.sample rng m q
        let all = Tensor.cat 1 [ y.unsqueeze 1L; samples ]
        all, score all, Mdn.logDensity q all

    /// The loss of one batch under the model's method (see RegressionMethod):
    /// Joint: NCE(f; q detached) + ProposalKl(f detached; q);
    /// MdnAlone: NLL of the MDN;
    /// NceFixedNoise: NCE(f; fixed noise);
    /// Teacher: NCE(f; MDN detached) + ½ ProposalKl(f detached; MDN) + ½ NLL of the MDN.
    let loss (options: RegressionOptions) (rng: Rng) (model: RegressionModel) (x: Tensor) (y: Tensor) : Tensor =
        let m = options.Samples
        let rest (t: Tensor) = t.narrow (1L, 1L, int64 m)
        match model.Method with
        | MdnAlone -> Mdn.nll (model.Proposal x).Value y
        | NceFixedNoise ->
            let s1, s2 = options.NoiseStds
            let _, f, logQ = candidates rng m (model.Scorer x) (fixedNoise s1 s2 y) y
            Nce.ranking f logQ
        | Joint ->
            let q = (model.Proposal x).Value
            let _, f, logQ = candidates rng m (model.Scorer x) q y
            Nce.ranking f logQ + ProposalKl.loss (rest f) (rest logQ)
        | Teacher ->
            let q = (model.Proposal x).Value
            let _, f, logQ = candidates rng m (model.Scorer x) q y
            Nce.ranking f logQ + 0.5 * ProposalKl.loss (rest f) (rest logQ) + 0.5 * Mdn.nll q y

    /// A fresh model for `options` with parameters drawn from `rng`.
    let create (ctx: Context) (rng: Rng) (options: RegressionOptions) (xDim: int) (yDim: int) : RegressionModel =
        Checks.positiveInt "Components" options.Components
        let model = new RegressionModel(xDim, yDim, options.Method, options.Components, options.Hidden, options.Architecture, options.Energy)
        model.``to`` (ctx.Device, ctx.DType) |> ignore
        Init.reinitialize rng model
        // The authors' first head layer is one Linear of fan-in 2H (PyTorch: U(±1/√(2H))), which
        // the EBM computes as two of fan-in H: rescale those draws for the authors' networks. (The
        // compact networks keep the U(±1/√H) draws their published results were measured with.)
        if options.Architecture = RegressionArchitecture.Paper then
            model.Ebm |> Option.iter (fun e -> e.ScaleFirstHeadLayer (1.0 / sqrt 2.0))
        model

    /// The training task of `model` on x [N, Dx], y [N, D] for `Fit.run`: shuffled minibatches of
    /// `options.BatchSize` (the last one partial), the batch `loss` under the model's method, proposal
    /// samples drawn from the run's generator; `validate` adds per-epoch metrics.
    let fitTask (options: RegressionOptions) (validate: (RegressionModel -> (string * float) list) option)
                (model: RegressionModel) (x: Tensor) (y: Tensor) : TrainingTask<Tensor * Rng> =
        let n = x.shape[0]
        { Model = model
          Batches = fun rng _ -> Batches.shuffled rng x.device options.BatchSize n |> Seq.map (fun idx -> idx, rng)
          BatchesPerEpoch = Batches.count options.BatchSize n
          Loss = fun (idx, rng) -> loss options rng model (Tensor.selectRows idx x) (Tensor.selectRows idx y)
          Validate = validate |> Option.map (fun v -> fun () -> v model) }

    /// The fit loop's options of a regression run: `options.Epochs` epochs of Adam at
    /// `options.LearningRate`, the run's generator seeded with Seed + 7919, `options.Monitor`.
    let fitOptions (options: RegressionOptions) : FitOptions =
        { FitOptions.defaults with
            Epochs = options.Epochs
            Optimizer = OptimizerOptions.adam options.LearningRate
            Seed = options.Seed + 7919L
            Monitor = options.Monitor }

    /// Trains a new model on x [N, Dx], y [N, D] with `Fit.run` (shuffled minibatches; one Adam on
    /// the summed loss). The run's generator draws batch order and every proposal sample, so the
    /// same seed gives the same model. `validate` adds per-epoch metrics to the history.
    let trainWith (ctx: Context) (options: RegressionOptions) (validate: (RegressionModel -> (string * float) list) option) (x: Tensor) (y: Tensor) =
        validateData x y
        Checks.positiveInt "Components" options.Components
        Checks.positiveInt "Samples" options.Samples
        Checks.positiveInt "BatchSize" options.BatchSize
        let model = using (new Rng(options.Seed, ctx.Device)) (fun rng -> create ctx rng options (int x.shape[1]) (int y.shape[1]))
        let task = fitTask options validate model x y
        let result =
            try Fit.run (fitOptions options) task
            with _ ->
                model.Dispose ()
                reraise ()
        model, result

    /// `trainWith` without per-epoch validation.
    let train (ctx: Context) (options: RegressionOptions) (x: Tensor) (y: Tensor) = trainWith ctx options None x y

    // ---- test time ------------------------------------------------------------------------------

    let private requireEbm (model: RegressionModel) =
        if not model.HasEbm then invalidArg "model" "the model has no EBM (method mdn)"

    let private chunked (chunk: int64) (n: int64) (f: int64 -> int64 -> Tensor) : Tensor =
        let parts = [ for s in 0L .. chunk .. n - 1L -> f s (min chunk (n - s)) ]
        let all = Tensor.cat 0 parts
        Scope.disposeAll parts
        all

    /// Rows per chunk when every row evaluates f at `points` values of y: about 4 M activations
    /// (16 MB in float32) per [rows, points, hidden] tensor, below glibc's largest mmap threshold
    /// (32 MiB), so that evaluation tensors are reused from the heap instead of being mapped and
    /// faulted in afresh (128 rows × 2048 points × width 32 was 33.5 MB: 1.8 million page faults
    /// and 17 s of kernel time for one toy-set-1 evaluation).
    let private rowsFor (model: RegressionModel) (points: int) =
        max 1L (4_194_304L / (int64 (max points 1) * int64 (max model.Hidden 1)))

    /// log Z(xᵢ) of the EBM of a 1-D y by trapezoidal quadrature on n points over [low, high], [N].
    let logNormalizerQuadrature (ctx: Context) (low: float) (high: float) (n: int) (model: RegressionModel) (x: Tensor) : Tensor =
        requireEbm model
        Checks.require "model" (model.YDim = 1) (sprintf "quadrature needs a 1-D y, the model has D = %d; use importance sampling" model.YDim)
        chunked (rowsFor model n) x.shape[0] (fun s c ->
            Diff.noGrad (fun () ->
                Scope.tensor (fun () ->
                    Quadrature.logNormalizer ctx low high n c (model.Scorer (x.narrow (0L, s, c))))))

    /// Test NLL of the EBM, mean over examples of −f(x, y) + log Z(x), with log Z by quadrature.
    let ebmNllQuadrature (ctx: Context) (low: float) (high: float) (n: int) (model: RegressionModel) (x: Tensor) (y: Tensor) : float =
        validateData x y
        Scope.run (fun () ->
            let logZ = logNormalizerQuadrature ctx low high n model x
            let f = Diff.noGrad (fun () -> model.ScoreAt (x, y))
            Tensor.toScalar (Tensor.mean (ImportanceSampling.nll f logZ)))

    /// Importance-sampling estimates for x [N, Dx] with M samples from the model's proposal.
    let importance (rng: Rng) (m: int) (model: RegressionModel) (x: Tensor) : ImportanceEstimate =
        requireEbm model
        Diff.noGrad (fun () ->
            let q = match model.Proposal x with Some q -> q | None -> invalidArg "model" "the model has no proposal (method nce); use quadrature"
            ImportanceSampling.estimate rng m (model.Scorer x) q)

    /// Test NLL of the EBM with log Z by importance sampling from the proposal (M samples per
    /// example; any dimension of y), evaluated in chunks of 64 examples.
    let ebmNllImportance (rng: Rng) (m: int) (model: RegressionModel) (x: Tensor) (y: Tensor) : float =
        validateData x y
        Scope.run (fun () ->
            let nll =
                chunked 64L x.shape[0] (fun s c ->
                    let xs, ys = x.narrow (0L, s, c), y.narrow (0L, s, c)
                    let est = importance rng m model xs
                    let f = Diff.noGrad (fun () -> model.ScoreAt (xs, ys))
                    ImportanceSampling.nll f est.LogNormalizer)
            Tensor.toScalar (Tensor.mean nll))

    /// Exact test NLL of the model's proposal / MDN.
    let proposalNll (model: RegressionModel) (x: Tensor) (y: Tensor) : float =
        validateData x y
        Scope.run (fun () ->
            Diff.noGrad (fun () ->
                match model.Proposal x with
                | Some q -> Tensor.toScalar (Mdn.nll q y)
                | None -> invalidArg "model" "the model has no proposal (method nce)"))

    /// Mean predictions [N, D]: the importance-weighted mean of M proposal samples for an EBM
    /// with a proposal; the mixture mean for an MDN alone.
    let predictMean (rng: Rng) (m: int) (model: RegressionModel) (x: Tensor) : Tensor =
        match model.Method with
        | MdnAlone -> Diff.noGrad (fun () -> Scope.tensor (fun () -> Mdn.mean (model.Proposal x).Value))
        | NceFixedNoise -> invalidArg "model" "mean predictions of an NCE model need a proposal; use predictMeanQuadrature"
        | _ -> chunked 64L x.shape[0] (fun s c -> Scope.tensor (fun () -> ImportanceSampling.meanPrediction (importance rng m model (x.narrow (0L, s, c)))))

    /// Mean predictions [N, 1] of the EBM of a 1-D y by quadrature on n points over [low, high].
    let predictMeanQuadrature (ctx: Context) (low: float) (high: float) (n: int) (model: RegressionModel) (x: Tensor) : Tensor =
        requireEbm model
        Checks.require "model" (model.YDim = 1) (sprintf "quadrature needs a 1-D y, the model has D = %d" model.YDim)
        chunked (rowsFor model n) x.shape[0] (fun s c ->
            Diff.noGrad (fun () ->
                Scope.tensor (fun () ->
                    let g = Quadrature.grid ctx low high n
                    let f = model.Score (x.narrow (0L, s, c), g.reshape(1L, int64 n, 1L).expand (c, int64 n, 1L))
                    let w = torch.nn.functional.softmax (f, 1L)
                    Tensor.sumDim 1 (w * g.unsqueeze 0L) |> Tensor.unsqueeze 1)))

    /// Mode predictions [N, D]: the proposal sample with the highest f, then `steps` steps of
    /// gradient ascent on f of size `stepSize` (0 steps: no refinement).
    let predictMode (rng: Rng) (m: int) (steps: int) (stepSize: float) (model: RegressionModel) (x: Tensor) : Tensor =
        requireEbm model
        chunked 64L x.shape[0] (fun s c ->
            Scope.tensor (fun () ->
                let xs = x.narrow (0L, s, c)
                let start = ImportanceSampling.modePrediction (importance rng m model xs)
                ImportanceSampling.refine steps stepSize (fun cand -> model.Score (xs, cand)) start))
