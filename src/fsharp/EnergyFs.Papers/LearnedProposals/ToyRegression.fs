namespace EnergyFs.Papers.LearnedProposals

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Energies
open EnergyFs.Models
open EnergyFs.Learners
open Plotly.NET

/// The two 1-D toy problems of the regression experiments.
type ToySet =
    /// Gustafsson, Danelljan & Schön 2022 (arXiv 2110.11948), Sec. 5.1, first set: x ~ U(−3, 3);
    /// for x < 0, y ~ 0.8 N(sin x, 0.075²) + 0.2 N(−sin x, 0.075²); for x ≥ 0, y = LogNormal(0, 0.25) − 1.
    | Toy1
    /// The paper's second set (Sec. 5.1; the synthetic set of Brando et al., "Modelling heterogeneous
    /// distributions with an uncountable mixture of asymmetric Laplacians", NeurIPS 2019, as generated
    /// by the authors' released data script): 3800 points with x = i/3799 in four zones,
    /// i < 800 (asymmetric): y = 0.5 + 5u, u ~ Beta(0.5, 1);
    /// 800 ≤ i < 1800 (symmetric, heteroscedastic): y ~ N(μ, (|μ|/4)²), μ = 3 cos(5(i − 800)/999) − 2;
    /// 1800 ≤ i < 2300 (uniform, widening): y ~ U(−2 − 2.5 j, −0.5 + 9.5 j), j = (i − 1800)/499;
    /// i ≥ 2300 (multimodal): y ~ ⅓U(8, 8.5) + ⅓U(1, 4) + ⅓U(−4.5, −3).
    /// Here x ~ U(0, 1) is continuous (the zone of x is that of i = 3799x) rather than the 3800-point lattice.
    | Toy2

/// Settings of a toy run; start from `ToyOptions.quick`.
type ToyOptions =
    { /// The model and its training: method, K, architecture and hidden width, M samples, epochs, batch
      /// size, Adam learning rate and the model's seed (`quick`: compact networks of width 32, M = 256,
      /// 60 epochs, lr 2e-3; `paper`: the authors' networks of width 10, M = 1024, 75 epochs, lr 1e-3, as
      /// in Gustafsson et al. 2022, Sec. 5.1, and their code).
      Regression: RegressionOptions
      /// Training points (the paper: 2000).
      TrainPoints: int
      /// Test points for the test NLL.
      TestPoints: int
      /// Grid size per axis of the KL metric over [−3, 3]² (the paper: 2048).
      Grid: int
      /// Seed of the data (the model's seed is Regression.Seed).
      DataSeed: int64 }

/// The two standard configurations of ToyOptions: `quick` (CPU, minutes) and `paper` (the paper's scale).
[<RequireQualifiedAccess>]
module ToyOptions =
    /// A configuration that runs in about two minutes on one core: 2000 points, 60 epochs of batch
    /// 32 with M = 256, K = 4, hidden 32, Adam 2e-3, the 2048 × 2048 KL grid.
    let quick =
        { Regression = { RegressionOptions.defaults with Samples = 256; Epochs = 60; LearningRate = 2e-3 }
          TrainPoints = 2000; TestPoints = 2000; Grid = 2048; DataSeed = 1L }

    /// The paper's configuration as in the authors' released code (github fregu856/ebms_proposals,
    /// `1dregression_1`): M = 1024, 75 epochs, Adam 1e-3, and their networks (`RegressionArchitecture.Paper`:
    /// residual energy head, three two-layer proposal networks) at their width, 10.
    let paper =
        { quick with
            Regression =
                { quick.Regression with
                    Samples = 1024; Epochs = 75; LearningRate = 1e-3
                    Architecture = EnergyFs.Models.RegressionArchitecture.Paper; Hidden = 10 } }

/// Data, true densities and metrics of the 1-D toy experiments (Gustafsson et al. 2022, Sec. 5.1).
[<RequireQualifiedAccess>]
module ToyRegression =

    let private log2Pi = log (2.0 * Math.PI)

    let private logNormal (mu: Tensor) (sd: float) (y: Tensor) =
        Tensor.square ((y - mu) / sd) * -0.5 - (log sd + 0.5 * log2Pi)

    let private logNormalSd (mu: Tensor) (sd: Tensor) (y: Tensor) =
        Tensor.square ((y - mu) / sd) * -0.5 - Tensor.log sd - 0.5 * log2Pi

    /// log of the LogNormal(0, s) density of z, −∞ for z ≤ 0.
    let private logLogNormal (s: float) (z: Tensor) =
        let safe = Tensor.clampMin 1e-30 z
        let lz = Tensor.log safe
        let v = Tensor.square lz * (-0.5 / (s * s)) - lz - (log s + 0.5 * log2Pi)
        torch.where (z.gt (Pinned.scalar 0.0), v, torch.full_like (v, Pinned.scalar Double.NegativeInfinity))

    let private mix (terms: (float * Tensor) list) =
        Tensor.logsumexp 0 (Tensor.stack 0 [ for w, l in terms -> l + log w ])

    /// log p(y | x) of the true conditional for x [N, 1] and y [N, G] (broadcast over G) → [N, G].
    let trueLogDensity (set: ToySet) (x: Tensor) (y: Tensor) : Tensor =
        let xb = x.expand_as y
        match set with
        | Toy1 ->
            let s = xb.sin ()
            let left = mix [ 0.8, logNormal s 0.075 y; 0.2, logNormal (-s) 0.075 y ]
            let right = logLogNormal 0.25 (y + 1.0)
            torch.where (xb.lt (Pinned.scalar 0.0), left, right)
        | Toy2 ->
            let idx = xb * 3799.0
            let negInf = torch.full_like (y, Pinned.scalar Double.NegativeInfinity)
            let inside (lo: Tensor) (hi: Tensor) = y.ge(lo).logical_and (y.le hi)
            let uniform (lo: Tensor) (hi: Tensor) = torch.where (inside lo hi, -(Tensor.log (hi - lo)), negInf)
            let c (v: float) = torch.full_like (y, Pinned.scalar v)
            // y = 0.5 + 5u, u ~ Beta(0.5, 1) (density ½u^(−½)): p(y) = 0.1 ((y − 0.5)/5)^(−½) on (0.5, 5.5].
            let u = (y - 0.5) / 5.0
            // (u ≥ 0 with u clamped at 1e-12: a float32 sample 0.5 + 5u² rounds to exactly 0.5 when u < 1e-4.)
            let asymmetric = torch.where (u.ge(Pinned.scalar 0.0).logical_and (u.le (Pinned.scalar 1.0)),
                                          Tensor.log (Tensor.clampMin 1e-12 u) * -0.5 + log 0.1, negInf)
            let mu = (idx - 800.0) * (5.0 / 999.0) |> fun t -> t.cos () * 3.0 - 2.0
            let symmetric = logNormalSd mu (Tensor.clampMin 1e-4 (Tensor.abs mu * 0.25)) y
            let j = (idx - 1800.0) / 499.0
            let widening = uniform (j * -2.5 - 2.0) (j * 9.5 - 0.5)
            let multimodal = mix [ 1.0 / 3.0, uniform (c 8.0) (c 8.5); 1.0 / 3.0, uniform (c 1.0) (c 4.0); 1.0 / 3.0, uniform (c -4.5) (c -3.0) ]
            torch.where (idx.lt (Pinned.scalar 800.0), asymmetric,
                torch.where (idx.lt (Pinned.scalar 1800.0), symmetric,
                    torch.where (idx.lt (Pinned.scalar 2300.0), widening, multimodal)))

    /// n points (x [n, 1], y [n, 1]) of the set, drawn from `rng`.
    let generate (ctx: Context) (rng: Rng) (set: ToySet) (n: int) : Tensor * Tensor =
        Checks.positiveInt "n" n
        let n = int64 n
        let x = match set with Toy1 -> Tensor.uniform rng ctx -3.0 3.0 [ n; 1L ] | Toy2 -> Tensor.rand rng ctx [ n; 1L ]
        let u = Tensor.rand rng ctx [ n; 1L ]
        let z = Tensor.randn rng ctx [ n; 1L ]
        let choose (cond: Tensor) (a: Tensor) (b: Tensor) = torch.where (cond, a, b)
        let y =
            Scope.tensor (fun () ->
                match set with
                | Toy1 ->
                    let s = x.sin ()
                    let left = choose (u.lt (Pinned.scalar 0.8)) s (-s) + z * 0.075
                    let right = Tensor.exp (z * 0.25) - 1.0
                    choose (x.lt (Pinned.scalar 0.0)) left right
                | Toy2 ->
                    let v = Tensor.rand rng ctx [ n; 1L ]
                    let idx = x * 3799.0
                    let asymmetric = Tensor.square u * 5.0 + 0.5                      // Beta(0.5, 1) = U²
                    let mu = (idx - 800.0) * (5.0 / 999.0) |> fun t -> t.cos () * 3.0 - 2.0
                    let symmetric = mu + Tensor.abs mu * 0.25 * z
                    let j = (idx - 1800.0) / 499.0
                    let lo = j * -2.5 - 2.0
                    let widening = lo + (j * 9.5 - 0.5 - lo) * u
                    let third = 1.0 / 3.0
                    let multimodal = choose (v.lt (Pinned.scalar third)) (u * 0.5 + 8.0) (choose (v.lt (Pinned.scalar (2.0 * third))) (u * 3.0 + 1.0) (u * 1.5 - 4.5))
                    choose (idx.lt (Pinned.scalar 800.0)) asymmetric
                        (choose (idx.lt (Pinned.scalar 1800.0)) symmetric (choose (idx.lt (Pinned.scalar 2300.0)) widening multimodal)))
        u.Dispose ()
        z.Dispose ()
        x, y

    /// log of the model's density (up to a constant per x) on the y grid [G] for x [N, 1] → [N, G]:
    /// f of the EBM when `useEbm`, else log q of the proposal / MDN.
    let modelLogDensityOnGrid (useEbm: bool) (model: RegressionModel) (x: Tensor) (grid: Tensor) : Tensor =
        Diff.noGrad (fun () ->
            let n, g = x.shape[0], grid.shape[0]
            let cand = grid.reshape(1L, g, 1L).expand (n, g, 1L)
            if useEbm then model.Score (x, cand)
            else Mdn.logDensity (model.Proposal x).Value cand)

    /// The plotting and KL domain (x low, x high, y low, y high) of a set: [−3, 3]² for set 1 (the
    /// paper's KL grid); x ∈ [0, 1], y ∈ [−9, 10] for set 2 (its density lies in y ∈ [−8.75, 9]:
    /// the symmetric zone reaches μ = −5 with σ = 1.25).
    let domain (set: ToySet) =
        match set with
        | Toy1 -> (-3.0, 3.0, -3.0, 3.0)
        | Toy2 -> (0.0, 1.0, -9.0, 10.0)

    /// KL(p ‖ p̂) between the true and the model's conditional, each normalised on a g-point grid
    /// over the set's y range, averaged over g values of x on its x range (`domain`; for set 1 the
    /// paper's metric on [−3, 3]² with g = 2048; set 2 has no KL in the paper, this one is ours):
    /// (1/g) Σᵢ Σⱼ pᵢⱼ (log pᵢⱼ − log p̂ᵢⱼ), with 0 log 0 = 0.
    let klOnGrid (ctx: Context) (set: ToySet) (g: int) (useEbm: bool) (model: RegressionModel) : float =
        if g < 2 then invalidArg "g" (sprintf "the KL grid needs ≥ 2 points, got %d" g)
        let xLo, xHi, yLo, yHi = domain set
        Scope.run (fun () ->
            let grid = torch.linspace (yLo, yHi, int64 g, dtype = ctx.DType, device = ctx.Device)
            let xs = torch.linspace(xLo, xHi, int64 g, dtype = ctx.DType, device = ctx.Device).reshape (int64 g, 1L)
            let mutable total = 0.0
            for start in 0L .. 64L .. int64 g - 1L do
                Scope.run (fun () ->
                    let count = min 64L (int64 g - start)
                    let x = xs.narrow (0L, start, count)
                    let logP = torch.nn.functional.log_softmax (trueLogDensity set x (grid.unsqueeze(0L).expand (count, int64 g)), 1L)
                    let logQ = torch.nn.functional.log_softmax (modelLogDensityOnGrid useEbm model x grid, 1L)
                    let p = Tensor.exp logP
                    let terms = torch.where (p.gt (Pinned.scalar 0.0), p * (logP - logQ), torch.zeros_like p)
                    total <- total + Tensor.toScalar (Tensor.sum terms))
            total / float g)

    /// The true conditional's mean negative log-likelihood on (x, y): the floor any model can reach.
    let trueNll (set: ToySet) (x: Tensor) (y: Tensor) : float =
        Scope.run (fun () -> -(Tensor.toScalar (Tensor.mean (trueLogDensity set x y))))

    /// Quadrature range and points of the test NLL of an EBM on toy set 1.
    let quadrature = (-5.0, 5.0, 2048)

    /// Quadrature range and points of the test NLL of an EBM on a set: [−5, 5] with 2048 points
    /// for set 1; the paper's [−12.5, 12.5] with 8192 points for set 2.
    let quadratureFor (set: ToySet) =
        match set with
        | Toy1 -> quadrature
        | Toy2 -> (-12.5, 12.5, 8192)

    /// The headline metrics of a method from its raw metrics (see `run`): `nll`, the test NLL of the
    /// model the method is judged by (the EBM's by quadrature for joint and nce, the proposal's for
    /// mdn and teacher), and `kl`, its KL to the truth on the grid (NaN when missing).
    let headline (m: RegressionMethod) (raw: (string * float) list) : (string * float) list =
        let get k = raw |> List.tryFind (fst >> (=) k) |> Option.map snd |> Option.defaultValue nan
        let ebm = m = Joint || m = NceFixedNoise
        [ "nll", get (if ebm then "test_nll_ebm" else "test_nll_proposal"); "kl", get (if ebm then "kl_ebm" else "kl_proposal") ]

    /// Trains one method on the set and returns its metrics (what the reproduction cache stores and
    /// `energyfs regression toy1|toy2 --json` prints): kl_ebm / kl_proposal on the grid, and
    /// test_nll_ebm (quadrature) / test_nll_ebm_is (importance sampling, M = 1024) /
    /// test_nll_proposal (exact) / test_nll_true, train_seconds, then the `headline` nll and kl.
    let run (ctx: Context) (set: ToySet) (options: ToyOptions) : (string * float) list * RegressionModel =
        use dataRng = new Rng(options.DataSeed, ctx.Device)
        let x, y = generate ctx dataRng set options.TrainPoints
        let xt, yt = generate ctx dataRng set options.TestPoints
        let watch = Diagnostics.Stopwatch.StartNew ()
        let model, _ = Regression.train ctx options.Regression x y
        let seconds = watch.Elapsed.TotalSeconds
        let m = options.Regression.Method
        let lo, hi, n = quadratureFor set
        use evalRng = new Rng(options.Regression.Seed + 17L, ctx.Device)
        let metrics =
            [ if RegressionMethod.hasEbm m then
                  yield "kl_ebm", klOnGrid ctx set options.Grid true model
                  yield "test_nll_ebm", Regression.ebmNllQuadrature ctx lo hi n model xt yt
              if RegressionMethod.hasEbm m && RegressionMethod.hasProposal m then
                  yield "test_nll_ebm_is", Regression.ebmNllImportance evalRng 1024 model xt yt
              if RegressionMethod.hasProposal m then
                  yield "kl_proposal", klOnGrid ctx set options.Grid false model
                  yield "test_nll_proposal", Regression.proposalNll model xt yt
              yield "test_nll_true", trueNll set xt yt
              yield "train_seconds", seconds ]
        Scope.disposeAll [ x; y; xt; yt ]
        metrics @ headline m metrics, model

    /// Densities for plots on a g × g grid over the set's `domain`, each column (one x) normalised
    /// to a density in y on the grid: the truth, then the EBM (normalised numerically on the grid)
    /// and the proposal / MDN when the model has them. Returns the x axis, the y axis and the panels
    /// (rows index y, columns index x).
    let densityHeatmaps (ctx: Context) (set: ToySet) (g: int) (model: RegressionModel) : float[] * float[] * (string * float[][]) list =
        if g < 2 then invalidArg "g" (sprintf "the plot grid needs ≥ 2 points, got %d" g)
        let xLo, xHi, yLo, yHi = domain set
        Scope.run (fun () ->
            let ys = torch.linspace (yLo, yHi, int64 g, dtype = ctx.DType, device = ctx.Device)
            let xs = torch.linspace (xLo, xHi, int64 g, dtype = ctx.DType, device = ctx.Device)
            let x = xs.reshape (int64 g, 1L)
            let dy = (yHi - yLo) / float (g - 1)
            let toRows (logUnnormalised: Tensor) =
                let p = (Tensor.exp (torch.nn.functional.log_softmax (logUnnormalised, 1L)) / dy).t().contiguous ()
                let flat = Tensor.toArray p
                Array.init g (fun i -> Array.sub flat (i * g) g)
            let truth = "true p(y | x)", toRows (trueLogDensity set x (ys.unsqueeze(0L).expand (int64 g, int64 g)))
            let m = model.Method
            let ebm = if RegressionMethod.hasEbm m then [ "EBM p_θ(y | x)", toRows (modelLogDensityOnGrid true model x ys) ] else []
            let q = if RegressionMethod.hasProposal m then [ "proposal / MDN q(y | x)", toRows (modelLogDensityOnGrid false model x ys) ] else []
            Tensor.toArray xs, Tensor.toArray ys, truth :: ebm @ q)

    /// Heatmaps of `densityHeatmaps` side by side (x across, y up); each panel's colour scale is
    /// capped at its 99th percentile so that narrow peaks (set 2's y^(−½) pole) do not wash it out.
    let heatmapChart (title: string) (xAxis: float[]) (yAxis: float[]) (panels: (string * float[][]) list) : GenericChart =
        let capped (z: float[][]) =
            let sorted = Array.concat z |> Array.sort
            let cap = sorted[min (sorted.Length - 1) (int (0.99 * float sorted.Length))]
            z |> Array.map (Array.map (fun v -> min v cap))
        panels
        |> List.map (fun (name, z) ->
            Chart.Heatmap (zData = capped z, X = xAxis, Y = yAxis, Name = name, ShowScale = false)
            |> Chart.withXAxisStyle "x"
            |> Chart.withYAxisStyle "y")
        |> Chart.Grid (1, panels.Length)
        |> Chart.withTitle (sprintf "%s — panels: %s" title (String.Join (", ", panels |> List.map fst)))
        |> Chart.withSize (420 * panels.Length, 460)

    /// Default x values of the density slices: three in each half of set 1 (bimodal x < 0,
    /// log-normal x ≥ 0); at least one in each of set 2's four zones.
    let sliceXs (set: ToySet) =
        match set with
        | Toy1 -> [ -2.5; -1.5; -0.5; 0.5; 1.5; 2.5 ]
        | Toy2 -> [ 0.1; 0.3; 0.42; 0.55; 0.7; 0.9 ]

    /// Conditional densities p(y | x) on n points of the set's y range at each x of `xs`: the
    /// truth (exact), the EBM exp f / Z with Z by trapezoidal quadrature on the same points, and the
    /// proposal / MDN exactly (exp log q, not renormalised). One entry per x: (x, y values, curves).
    let densitySlices (ctx: Context) (set: ToySet) (xs: float list) (n: int) (model: RegressionModel) : (float * float[] * (string * float[]) list) list =
        if n < 2 then invalidArg "n" (sprintf "a slice needs ≥ 2 points, got %d" n)
        let _, _, yLo, yHi = domain set
        Scope.run (fun () ->
            let ys = torch.linspace (yLo, yHi, int64 n, dtype = ctx.DType, device = ctx.Device)
            let x = Tensor.ofArray ctx (Array.ofList xs) |> fun t -> t.reshape (int64 xs.Length, 1L)
            let rows (t: Tensor) = let flat = Tensor.toArray t in Array.init xs.Length (fun i -> Array.sub flat (i * n) n)
            let truth = rows (Tensor.exp (trueLogDensity set x (ys.unsqueeze(0L).expand (int64 xs.Length, int64 n))))
            let m = model.Method
            let ebm =
                if RegressionMethod.hasEbm m then
                    let f = modelLogDensityOnGrid true model x ys
                    let logZ = EnergyFs.Samplers.Quadrature.logIntegral yLo yHi f
                    Some (rows (Tensor.exp (f - logZ.unsqueeze 1L)))
                else None
            let q = if RegressionMethod.hasProposal m then Some (rows (Tensor.exp (modelLogDensityOnGrid false model x ys))) else None
            let yArr = Tensor.toArray ys
            xs |> List.mapi (fun i xv ->
                xv, yArr,
                [ yield "truth", truth[i]
                  match ebm with Some e -> yield "EBM (quadrature)", e[i] | None -> ()
                  match q with Some p -> yield "MDN / proposal (exact)", p[i] | None -> () ]))

    /// Line charts of `densitySlices`, one panel per x (truth, EBM and MDN overlaid), in a grid of
    /// three columns.
    let slicesChart (title: string) (slices: (float * float[] * (string * float[]) list) list) : GenericChart =
        let colours = [ "truth", "black"; "EBM (quadrature)", "crimson"; "MDN / proposal (exact)", "royalblue" ] |> Map.ofList
        let rowsCount = (slices.Length + 2) / 3
        slices
        |> List.mapi (fun i (x, ys, curves) ->
            curves
            |> List.map (fun (name, p) ->
                Chart.Line (x = ys, y = p, Name = name, ShowLegend = (i = 0),
                            LineColor = Color.fromString (Map.tryFind name colours |> Option.defaultValue "gray")))
            |> Chart.combine
            |> Chart.withXAxisStyle (sprintf "y  (x = %.2f)" x)
            |> Chart.withYAxisStyle "p(y | x)")
        |> Chart.Grid (rowsCount, 3)
        |> Chart.withTitle title
        |> Chart.withSize (1200, 330 * rowsCount)
