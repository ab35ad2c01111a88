/// One joint training step of Gustafsson, Danelljan & Schön 2022 (learned proposals for energy-based
/// regression): a conditional EBM (x-net 1→32→32, y-net 1→32→32, head on both 32→32→1) with a K = 4
/// mixture-density proposal head on its detached features; batch 32, M = 1024 proposal samples per
/// example: sample from q, ranking NCE + importance-sampling proposal loss, backward, Adam step.
module EnergyFs.Bench.Groups.Regression

open TorchSharp
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Bench

type private Shape = { Batch: int; Samples: int; Hidden: int; Components: int }

let private shape = { Batch = 32; Samples = 1024; Hidden = 32; Components = 4 }

let private args (s: Shape) =
    [ "batch", s.Batch; "samples", s.Samples; "hidden", s.Hidden; "components", s.Components ]

let private jointStep (s: Shape) () =
    let options = { RegressionOptions.defaults with Samples = s.Samples; Hidden = s.Hidden; Components = s.Components }
    let rng = new Rng(0L, torch.CPU)
    let model = Regression.create Context.cpu rng options 1 1
    let opt = torch.optim.Adam (model.parameters (), lr = 1e-3)
    let x = Tensor.uniform rng Context.cpu -3.0 3.0 [ int64 s.Batch; 1L ]
    let y = (x.sin ()) + Tensor.randn rng Context.cpu [ int64 s.Batch; 1L ] * 0.1
    Benchmark.case [ x; y; opt; model; rng ] (fun () ->
        opt.zero_grad ()
        let loss = Regression.loss options rng model x y
        loss.backward ()
        opt.step () |> ignore)

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "regression" "regression-joint-step" "EBM + MDN proposal (hidden 32, K 4), batch 32, M 1024: sample q, NCE + proposal KL, backward, Adam" (jointStep shape)
      |> Benchmark.versus "regression.joint_step" (args shape) ]
