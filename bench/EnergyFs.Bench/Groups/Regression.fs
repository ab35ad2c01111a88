/// Joint training of Gustafsson, Danelljan & Schön 2022 (learned proposals for energy-based
/// regression) against the authors' own training step. The PyTorch side (bench/pytorch/regression.py)
/// follows the authors' released code for toy set 1 (github fregu856/ebms_proposals,
/// `1dregression_1/ebmdn_model_K4.py` and `ebmdn4_train_K4.py`): their network (width 10, residual
/// energy head, three two-layer proposal networks), their loss arithmetic (densities, two energy
/// passes, NCE + importance-sampling proposal loss), batch 32, M = 1024, K = 4, Adam 1e-3. The EnergyFs
/// side is `Regression.loss` of the `Paper` architecture (the same function and parameter count), and
/// one epoch of toy set 1 through `Regression.fitTask` and `Fit.run` against one epoch of the authors'
/// loop (a shuffling DataLoader over 2000 points, 63 steps).
module EnergyFs.Bench.Groups.Regression

open TorchSharp
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Models
open EnergyFs.Training
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Bench

type private Shape = { Batch: int; Samples: int; Hidden: int; Components: int; Architecture: RegressionArchitecture }

let private paper10 = { Batch = 32; Samples = 1024; Hidden = 10; Components = 4; Architecture = RegressionArchitecture.Paper }
let private paper32 = { paper10 with Hidden = 32 }
let private compact32 = { paper32 with Architecture = RegressionArchitecture.Compact }

let private args (s: Shape) =
    [ "batch", s.Batch; "samples", s.Samples; "hidden", s.Hidden; "components", s.Components ]

let private optionsOf (s: Shape) =
    { RegressionOptions.defaults with
        Samples = s.Samples; Hidden = s.Hidden; Components = s.Components; Architecture = s.Architecture; BatchSize = s.Batch }

/// One step as the fit loop takes it: zero_grad, loss, backward, Adam step, and the loss read back;
/// on the consecutive batches of 2000 points of toy set 1 in turn (see regression.py's joint_step).
let private jointStep (s: Shape) () =
    let options = optionsOf s
    let rng = new Rng(0L, torch.CPU)
    let model = Regression.create Context.cpu rng options 1 1
    let opt = torch.optim.Adam (model.parameters (), lr = 1e-3)
    let xs, ys = ToyRegression.generate Context.cpu rng Toy1 2000
    // The consecutive full batches of 2000 points in turn, as on the PyTorch side (see regression.py).
    let count = 2000 / s.Batch
    let mutable turn = 0
    Benchmark.case [ xs; ys; opt; model; rng ] (fun () ->
        let start = int64 ((turn % count) * s.Batch)
        turn <- turn + 1
        let x, y = xs.narrow (0L, start, int64 s.Batch), ys.narrow (0L, start, int64 s.Batch)
        let loss = Regression.loss options rng model x y
        Tensor.toScalar loss |> ignore
        opt.zero_grad ()
        loss.backward ()
        opt.step () |> ignore)

/// One epoch of toy set 1 (2000 points, batches of 32, the last of 16): `Fit.run` of
/// `Regression.fitTask` for one epoch on a model that keeps training from call to call (a new Adam
/// and batch order each call; the finite checks of the fit loop on, as in every EnergyFs run).
let private toy1Epoch (s: Shape) () =
    let options = { optionsOf s with Epochs = 1 }
    let rng = new Rng(0L, torch.CPU)
    let model = Regression.create Context.cpu rng options 1 1
    let x, y = ToyRegression.generate Context.cpu rng Toy1 2000
    let mutable epoch = 0L
    Benchmark.case [ x; y; model; rng ] (fun () ->
        epoch <- epoch + 1L
        let o = { options with Seed = epoch }
        Fit.run (Regression.fitOptions o) (Regression.fitTask o None model x y) |> ignore)

let private describe (s: Shape) =
    sprintf "%s networks (hidden %d, K %d), batch %d, M %d" (RegressionArchitecture.name s.Architecture) s.Hidden s.Components s.Batch s.Samples

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "regression" "regression-joint-step"
          (sprintf "joint EBM + proposal step, %s: sample q, NCE + proposal KL, backward, Adam; vs the authors' toy-set-1 step (fregu856/ebms_proposals, 1dregression_1/ebmdn4_train_K4.py) at their width" (describe paper10))
          (jointStep paper10)
      |> Benchmark.versus "regression.joint_step" (args paper10)
      |> Benchmark.direct (RegressionDirect.jointStep paper10.Batch paper10.Samples paper10.Hidden paper10.Components)
      Benchmark.create "regression" "regression-joint-step-h32"
          (sprintf "the same step at width 32, %s; vs the authors' step at width 32" (describe paper32))
          (jointStep paper32)
      |> Benchmark.versus "regression.joint_step" (args paper32)
      |> Benchmark.direct (RegressionDirect.jointStep paper32.Batch paper32.Samples paper32.Hidden paper32.Components)
      Benchmark.create "regression" "regression-joint-step-compact"
          (sprintf "the same step with EnergyFs's compact networks, %s (no PyTorch twin: not the authors' network)" (describe compact32))
          (jointStep compact32)
      Benchmark.create "regression" "regression-toy1-epoch"
          (sprintf "one epoch of toy set 1 (2000 points, 63 steps) through Fit.run, %s; vs one epoch of the authors' script (DataLoader, same step)" (describe paper10))
          (toy1Epoch paper10)
      |> Benchmark.versus "regression.toy1_epoch" ([ "points", 2000 ] @ args paper10) ]
