module EnergyFs.Tests.Learners.StructuredTrainersTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Losses
open EnergyFs.Implicit
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Tests.Expectations

let ctx = Context.cpu64

/// The bilevel problem of implicit training on a tiny SPEN with a linear inference network
/// (3 inputs, 4 features, 2 labels, 3 hidden units), strong pull λ = 1 so that the inner problem
/// is well conditioned and can be solved to machine precision by gradient descent.
let tinyProblem () =
    use rng = new Rng(42L, ctx.Device)
    let x = Tensor.randn rng ctx [ 6L; 3L ]
    let f = Tensor.randn rng ctx [ 6L; 4L ]
    let y = (Tensor.rand rng ctx [ 6L; 2L ]).round ()
    let theta = Spen.create rng ctx 2 4 3 |> List.map (fun p -> Tensor.copy p * 2.0)
    let psi0 = FunctionalMlp.create rng ctx [ 3; 2 ] |> List.map Tensor.copy
    let examples = { Inputs = x; Features = f; Labels = y; Mask = None }
    let options = { ImplicitStructured.defaults with EntropyWeight = -1.0; PullWeight = 1.0 }
    let problem = ImplicitStructured.problem options psi0 examples examples
    theta, psi0, problem

/// ψ*(θ) by 150 gradient steps of size 0.2 from ψ₀ (a contraction with factor ≈ 0.6).
let solveInner (problem: BilevelProblem) (theta: Tensor list) (psi0: Tensor list) =
    let mutable psi = psi0
    for _ in 1 .. 150 do
        let g = Diff.gradN (fun ps -> problem.Inner theta ps) psi
        psi <- List.map2 (fun (p: Tensor) (gi: Tensor) -> (p - gi * 0.2).detach ()) psi g
    psi

let smallData (seed: int) =
    let raw =
        use dataRng = new Rng(int64 seed + 1000L, torch.CPU)
        MultilabelSet.synthetic dataRng Context.cpu 96 6 4
    let x, y = raw.Features, raw.Labels
    use rng = new Rng(int64 seed, torch.CPU)
    let cls = FunctionalMlp.create rng Context.cpu [ 6; 8; 4 ]
    let ts = FunctionalMlp.tensors cls
    let feats = Diff.noGrad (fun () -> FunctionalMlp.features ts x)
    cls, { Inputs = x; Features = feats; Labels = y; Mask = None }

[<Tests>]
let tests =
    testList "Learners.Structured" [
        testCase "implicit hypergradient of the SPEN / inference-network problem matches finite differences and unrolling" <| fun () ->
            Scope.run (fun () ->
                let theta, psi0, problem = tinyProblem ()
                let psiStar = solveInner problem theta psi0
                let gInner = Diff.gradN (fun ps -> problem.Inner theta ps) psiStar
                Expect.isLessThan (Blocks.norm gInner) 1e-10 "the inner problem is solved"
                let r = Hypergradient.implicit (LinearSolvers.conjugateGradient { Iterations = 100; Tolerance = 1e-12 }) problem theta psiStar
                Expect.isTrue r.Diagnostics.Value.Converged "CG converged"
                // Finite differences over the global-term blocks C₁ and c₂, re-solving the inner problem.
                for block in [ 1; 2 ] do
                    let lossAt (t: Tensor) =
                        // GradCheck evaluates under no_grad; the inner solve needs gradients.
                        use _ = torch.enable_grad ()
                        let th = theta |> List.mapi (fun i b -> if i = block then t else b)
                        problem.Outer th (solveInner problem th psi0)
                    let numeric = GradCheck.numericalGrad 1e-5 lossAt theta[block]
                    let report = GradCheck.compare { GradCheck.defaults with RelativeTolerance = 1e-4; AbsoluteTolerance = 1e-7 } r.Gradient[block] numeric
                    GradCheck.assertPassed (sprintf "hypergradient of block %d" block) report
                let unrolled, _ = Hypergradient.unrolled 150 0.2 problem theta psi0
                for block in 0 .. 2 do
                    Expect.isLessThan (Tensor.maxAbsDiff unrolled.Gradient[block] r.Gradient[block]) 1e-7 (sprintf "unrolled = implicit on block %d" block))

        testCase "SSVM training lowers the structured hinge on a small synthetic problem" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 1
                use rng = new Rng(1L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let options = { StructuredSvm.defaults with Epochs = 6; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2 }
                let records = StructuredSvm.train options (fun () -> nan) ignore theta data
                Expect.isLessThan (List.last records).Loss (List.head records).Loss "hinge goes down"
                for p in theta do Expect.isTrue (Tensor.isFinite p) "finite parameters")

        testCase "inference-network training runs, and retuning lowers the inference objective" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 2
                use rng = new Rng(2L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let phi = InferenceNetwork.initFrom cls
                let options = { InferenceNetworks.defaults with Epochs = 2; BatchSize = 16; EntropyWeight = -1.0; RetuneEpochs = 4; NetworkOptimizer = OptimizerOptions.adam 1e-2 }
                InferenceNetworks.train options (fun () -> nan) ignore theta phi data |> ignore
                let psi = FunctionalMlp.copy cls
                let th = Structured.tensors theta
                let ps = Structured.tensors psi
                let objective () =
                    Diff.noGrad (fun () -> Tensor.toScalar (InferenceNetwork.objective -1.0 options.PullWeight (FunctionalMlp.tensors cls) (Spen.energy th data.Features) ps data.Inputs))
                let before = objective ()
                // A validation that always improves keeps the last Ψ.
                let mutable calls = 0.0
                InferenceNetworks.retune options (fun () -> calls <- calls + 1.0; calls) th (FunctionalMlp.tensors cls) psi data |> ignore
                Expect.isLessThan (objective ()) before "retuning lowers E − H + λ‖Ψ − Ψ₀‖²")

        testCase "implicit training runs with solver statistics; RequireConvergence raises with the residual" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 3
                use rng = new Rng(3L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let psi = InferenceNetwork.initFrom cls
                let options =
                    { ImplicitStructured.defaults with
                        Epochs = 2; BatchSize = 16; InnerSteps = 2; EntropyWeight = -1.0
                        Solver = LinearSolvers.damped 0.02 (LinearSolvers.conjugateGradient { Iterations = 5; Tolerance = 1e-3 }) }
                let records, stats = ImplicitStructured.train options (fun () -> nan) ignore theta psi data
                Expect.equal records.Length 2 "two epochs"
                Expect.equal stats.Solves 4 "6 batches per epoch, one outer step per 3 batches"
                Expect.isTrue (stats.HvpCount > 0 && stats.HvpCount <= 4 * 6) "Hessian-vector products counted"
                for p in theta do Expect.isTrue (Tensor.isFinite p) "finite parameters"
                let unrolled = { options with Hypergradient = Unrolled (3, 1e-2); Epochs = 1 }
                let recordsU, statsU = ImplicitStructured.train unrolled (fun () -> nan) ignore theta psi data
                Expect.equal statsU.Solves 0 "the unrolled baseline solves no linear system"
                Expect.isTrue (System.Double.IsFinite (List.head recordsU).Loss) "and trains"
                let strict = { options with Solver = LinearSolvers.conjugateGradient { Iterations = 1; Tolerance = 1e-14 }; RequireConvergence = true }
                let e = raisesOf<SolverNotConvergedException> (fun () -> ImplicitStructured.train strict (fun () -> nan) ignore theta psi data |> ignore)
                Expect.stringContains e.Message "residual" "the error gives the residual")

        testCase "entropy inside the hinge: Φ's loss is unchanged, θ's hinge sees E + τH of relaxed outputs and E at gold" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 4
                use rng = new Rng(4L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4 |> Structured.tensors
                let phi = FunctionalMlp.tensors cls
                let plain = { InferenceNetworks.defaults with EntropyWeight = -0.7; EntropyInHinge = false }
                let inside = { plain with EntropyInHinge = true }
                let value (t: Tensor) = Tensor.toScalar t
                // The violation is not clipped in Φ's loss, so moving τH into it changes nothing there.
                Expect.floatClose Accuracy.medium (value (InferenceNetworks.networkLoss inside theta phi phi data))
                    (value (InferenceNetworks.networkLoss plain theta phi phi data)) "same loss for Φ"
                let y = InferenceNetwork.predict phi data.Inputs
                let expected = Spen.energy theta data.Features y - InferenceNetwork.entropy y * 0.7
                Expect.isLessThan (Tensor.maxAbsDiff (InferenceNetworks.hingeEnergy inside theta data.Features None y) expected) 1e-5 "E + τH"
                Expect.isLessThan (Tensor.maxAbsDiff (InferenceNetworks.hingeEnergy inside theta data.Features None data.Labels) (Spen.energy theta data.Features data.Labels)) 1e-5 "H = 0 at 0/1 labels"
                let hinge =
                    Tensor.mean (Tensor.relu (StructuredHinge.l1Cost y data.Labels - expected + Spen.energy theta data.Features data.Labels))
                Expect.floatClose Accuracy.medium (value (InferenceNetworks.energyLoss inside theta phi data)) (value hinge) "θ's loss is the smoothed hinge")

        testCase "well-posed implicit training: refinement lowers the inner residual, CG converges, warnings name the residual" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 3
                use rng = new Rng(3L, torch.CPU)
                let theta = Spen.create rng Context.cpu 4 8 4
                let psi = InferenceNetwork.initFrom cls
                let options =
                    { ImplicitStructured.defaults with
                        Epochs = 1; BatchSize = 16; InnerSteps = 2; EntropyWeight = -1.0; InnerOptimizer = OptimizerOptions.adam 1e-2 }
                    |> ImplicitStructured.wellPosed 1.0 30 60
                let _, stats = ImplicitStructured.train options (fun () -> nan) ignore theta psi data
                Expect.equal stats.Solves 2 "two outer steps"
                Expect.equal stats.NotConverged 0 (sprintf "CG on H + 2λI converges (max relative residual %g)" stats.MaxRelativeResidual)
                Expect.isLessThan stats.MeanInnerGradientRatio 0.5 "the inner steps reduce ‖∇ψ g‖"
                Expect.isTrue (stats.MaxInnerGradientNorm >= stats.MeanInnerGradientNorm && stats.MeanInnerGradientNorm > 0.0) "inner residual reported"
                let messages = ResizeArray<string>()
                let poor = { options with Solver = LinearSolvers.conjugateGradient { Iterations = 1; Tolerance = 1e-14 } }
                let _, poorStats = ImplicitStructured.train poor (fun () -> nan) (snd >> messages.Add) theta psi data
                Expect.equal poorStats.NotConverged poorStats.Solves "one CG step does not converge"
                let warning = messages |> Seq.tryFind (fun m -> m.StartsWith "warning")
                Expect.isSome warning "a warning is reported"
                Expect.stringContains warning.Value "relative residual" "naming the linear solver's residual"
                Expect.stringContains warning.Value "inner residual" "and the inner residual")
    ]
