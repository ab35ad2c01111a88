namespace EnergyFs.Papers.FenchelYoung

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Training

/// Settings of the calibration check; start from `CalibrationOptions.defaults`.
type CalibrationOptions =
    { /// Input dimension d of x ~ N(0, I_d) (default 5).
      Inputs: int
      /// Number of labels k, the dimension of u, p and y ∈ {0, 1}ᵏ (default 3).
      Labels: int
      /// Number of sampled training pairs (x, y) the linear model is fitted on (default 2000).
      TrainSize: int
      /// Number of evaluation inputs x on which both excess risks are computed exactly from the
      /// known η(x) (no label noise; default 2000).
      EvalSize: int
      /// Number of full-batch Adam steps on the generalized FY loss (default 120).
      Steps: int
      /// Record both excess risks every this many steps.
      Every: int
      /// Adam learning rate of the linear model u = W x (default 0.05).
      LearningRate: float
      /// Seeds the one Rng that draws the concave network g's weights, the true W*, the training and
      /// evaluation inputs, the Bernoulli labels and the initial W (default 0).
      Seed: int
      /// Mirror-ascent options of the inner argmax p̂(u), used both in the training loss and to
      /// measure the excess risks (defaults: tolerance 1e-6, at most 300 iterations).
      Inner: InnerOptions }

/// Defaults for CalibrationOptions.
[<RequireQualifiedAccess>]
module CalibrationOptions =
    /// d = 5, k = 3, 2000 training and 2000 evaluation points, 120 full-batch Adam steps (lr 0.05),
    /// records every 10 steps, mirror ascent to 1e-6.
    let defaults =
        { Inputs = 5; Labels = 3; TrainSize = 2000; EvalSize = 2000; Steps = 120; Every = 10; LearningRate = 0.05; Seed = 0
          Inner = { InnerOptions.defaults with Tolerance = 1e-6; MaxIterations = 300 } }

/// One checkpoint of the calibration curve.
type CalibrationPoint =
    { /// Adam steps taken when the point was recorded: 0 (before training), then every
      /// `CalibrationOptions.Every` steps.
      Step: int
      /// E_x [min-attaining gap] of the generalized FY risk: E_x[Ω^Φ(u(x)) − ⟨u(x), η(x)⟩ + (Ω + g)(η(x))].
      FyExcess: float
      /// Excess Hamming risk of thresholding p̂ at 0.5: E_x Σⱼ |2ηⱼ − 1| 1[(p̂ⱼ > ½) ≠ (ηⱼ > ½)].
      TaskExcess: float }

/// An empirical calibration check (Blondel et al. 2022, arXiv 2205.09589, §4.3: for energies linear
/// in v and concave in p, the task's excess risk is controlled by the generalized FY excess risk).
/// Energy: Φ(u, p) = ⟨u, p⟩ − g(p) with g a fixed random input-convex network (linear in u,
/// concave in p), Ω Fermi-Dirac on [0, 1]ᵏ, labels y ∈ {0, 1}ᵏ independent Bernoulli(η(x)),
/// η(x) = sigmoid(W* x). Because Φ is linear in u and E[Φ(u, y) | x] = ⟨u, η⟩ − E g(y), the
/// conditional FY excess risk is exactly the classic FY loss of Ω + g at (u, η) and vanishes iff
/// p̂(u) = η; it is computed exactly from the known η. A linear model u = W x is trained with the
/// generalized FY loss on samples; both excess risks are recorded along training.
[<RequireQualifiedAccess>]
module Calibration =

    /// The calibration curve (both excess risks at every checkpoint) and the Spearman rank
    /// correlation between them.
    let run (options: CalibrationOptions) : CalibrationPoint list * float =
        let ctx = Context.cpu64
        use rng = new Rng(int64 options.Seed, ctx.Device)
        let d, k = int64 options.Inputs, int64 options.Labels
        use g = new InputConcaveEnergyNet (options.Labels, 8)
        g.``to`` (ctx.DType) |> ignore
        Init.reinitialize rng g
        for p in g.parameters () do p.requires_grad <- false
        let energy = Neural.inputConcave g
        let r = FermiDirac.regularizer
        use wStar = Scope.tensor (fun () -> Tensor.randn rng ctx [ d; k ] * 1.5)
        let sample n =
            Scope.tensor2 (fun () ->
                let x = Tensor.randn rng ctx [ int64 n; d ]
                x, Tensor.sigmoid (x.matmul wStar))
        let xTr, etaTr = sample options.TrainSize
        use xTr = xTr
        use etaTr = etaTr
        use yTr = Scope.tensor (fun () -> (Tensor.rand rng ctx [ int64 options.TrainSize; k ]).lt(etaTr).to_type ctx.DType)
        let xEv, etaEv = sample options.EvalSize
        use xEv = xEv
        use etaEv = etaEv
        use w = Scope.tensor (fun () -> Tensor.randn rng ctx [ d; k ] * 0.01)
        let points = ResizeArray<CalibrationPoint> ()
        let measure step (wv: Tensor) =
            Scope.run (fun () ->
                Diff.noGrad (fun () ->
                    let u = xEv.matmul wv
                    let sol = MirrorDescent.solve options.Inner energy r u None
                    let fy = sol.Value - Tensor.dot u etaEv + r.Value etaEv + g.Convex etaEv
                    let half = torch.full_like (etaEv, Pinned.scalar 0.5)
                    let wrong = sol.Argmax.gt(half).ne (etaEv.gt half)
                    let task = ((etaEv * 2.0 - 1.0).abs () * wrong.to_type ctx.DType).sum (1L, false)
                    points.Add { Step = step; FyExcess = (fy.mean ()).ToDouble (); TaskExcess = (task.mean ()).ToDouble () }))
        let param = new Modules.Parameter (w.detach().clone ())
        use adam = torch.optim.Adam ([ param ], options.LearningRate)
        measure 0 param
        for step in 1 .. options.Steps do
            Scope.run (fun () ->
                adam.zero_grad ()
                let loss = GeneralizedFenchelYoung.meanLoss MirrorDescent.solve options.Inner energy r (xTr.matmul param) yTr
                loss.backward ()
                adam.step () |> ignore)
            if step % options.Every = 0 then measure step param
        param.Dispose ()
        let pts = List.ofSeq points
        let rank (xs: float[]) =
            let order = xs |> Array.mapi (fun i v -> i, v) |> Array.sortBy snd |> Array.map fst
            let ranks = Array.zeroCreate xs.Length
            order |> Array.iteri (fun r i -> ranks[i] <- float r)
            ranks
        let a = rank (pts |> List.map (fun p -> p.FyExcess) |> Array.ofList)
        let b = rank (pts |> List.map (fun p -> p.TaskExcess) |> Array.ofList)
        let ma, mb = Array.average a, Array.average b
        let cov = Array.map2 (fun x y -> (x - ma) * (y - mb)) a b |> Array.sum
        let sa = sqrt (a |> Array.sumBy (fun x -> (x - ma) ** 2.0))
        let sb = sqrt (b |> Array.sumBy (fun y -> (y - mb) ** 2.0))
        pts, (if sa = 0.0 || sb = 0.0 then nan else cov / (sa * sb))

    /// The metrics of a calibration run, as the reproduction cache stores them and `energyfs fy
    /// calibration --json` prints them: the rank correlation `spearman` and both excess risks at the
    /// first and last checkpoints (`fy_excess_start`, `fy_excess_end`, `task_excess_start`,
    /// `task_excess_end`).
    let metrics (points: CalibrationPoint list, spearman: float) : (string * float) list =
        let first, last = List.head points, List.last points
        [ "spearman", spearman; "fy_excess_start", first.FyExcess; "fy_excess_end", last.FyExcess
          "task_excess_start", first.TaskExcess; "task_excess_end", last.TaskExcess ]
