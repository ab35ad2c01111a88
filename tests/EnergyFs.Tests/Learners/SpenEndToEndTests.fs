module EnergyFs.Tests.Learners.SpenEndToEndTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Models
open EnergyFs.Energies

/// F_φ(x) of a feature network given as its hidden layers φ (the output layer is dropped by
/// FunctionalMlp.features, so any pair of the right shape completes it).
let featureMapWith (outputLayer: Tensor list) (phi: Tensor list) (x: Tensor) = FunctionalMlp.features (phi @ outputLayer) x

/// 96 synthetic examples (6 inputs, 4 labels), a classifier 6 → 8 → 4 split into φ (hidden layer)
/// and its output layer, and a SPEN energy over the 8 features.
let problem (seed: int) (ctx: Context) =
    let raw =
        use dataRng = new Rng(int64 seed + 1000L, torch.CPU)
        MultilabelSet.synthetic dataRng ctx 96 6 4
    let x, y = raw.Features, raw.Labels
    use rng = new Rng(int64 seed, ctx.Device)
    let cls = FunctionalMlp.create rng ctx [ 6; 8; 4 ]
    let phi = cls |> List.take 2
    let output = cls |> List.skip 2 |> List.map Tensor.detach
    let theta = Spen.create rng ctx 4 8 4
    let featureMap = featureMapWith output
    let feats = Diff.noGrad (fun () -> featureMap (Structured.tensors phi) x)
    phi, theta, featureMap, { Inputs = x; Features = feats; Labels = y; Mask = None }

let snapshot (ps: TorchSharp.Modules.Parameter list) = ps |> List.map (fun p -> p.detach().clone ())

[<Tests>]
let tests =
    testList "Learners.SpenEndToEnd" [
        testCase "the hinge's gradient with respect to the feature network matches finite differences (float64)" <| fun () ->
            Scope.run (fun () ->
                let ctx = Context.cpu64
                let phi, theta, featureMap, data = problem 4 ctx
                use rng = new Rng(7L, ctx.Device)
                let x = Tensor.selectRows (torch.arange (12L, device = ctx.Device)) data.Inputs
                let gold = Tensor.selectRows (torch.arange (12L, device = ctx.Device)) data.Labels
                let yHat = Tensor.rand rng ctx [ 12L; 4L ]
                let options = StructuredSvm.defaults
                let th = Structured.tensors theta
                let ph = phi |> List.map (fun p -> p.detach().clone ())
                let loss = SpenEndToEnd.hingeAt options th (featureMap ph x) None yHat gold
                Expect.isGreaterThan (Tensor.toScalar loss) 0.0 "the hinge is active (a zero hinge has zero gradient)"
                for block in 0 .. 1 do
                    let f (t: Tensor) =
                        let ps = ph |> List.mapi (fun i b -> if i = block then t else b)
                        SpenEndToEnd.hingeAt options th (featureMap ps x) None yHat gold
                    let report = GradCheck.grad { GradCheck.defaults with RelativeTolerance = 1e-5; AbsoluteTolerance = 1e-8 } f ph[block]
                    GradCheck.assertPassed (sprintf "d hinge / d phi[%d]" block) report
                    // The gradient is not zero: the features really receive a signal through the energy.
                    Expect.isGreaterThan (Tensor.toScalar (Tensor.sum (Tensor.abs (Diff.grad f ph[block])))) 1e-6 (sprintf "phi[%d] gets a gradient" block))

        testCase "fine-tuning on: the feature network moves and the SSVM loss decreases; off: it stays bit-identical and training equals StructuredSvm.train" <| fun () ->
            Scope.run (fun () ->
                let ctx = Context.cpu
                let options = { StructuredSvm.defaults with Epochs = 6; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2; Seed = 3L }
                // On.
                let phi, theta, featureMap, data = problem 5 ctx
                let before = snapshot phi
                let onOptions = { FineTuneFeatures = true; FeatureOptimizer = OptimizerOptions.adam 1e-2 }
                // An improving validation keeps the last epoch.
                let mutable calls = 0.0
                let records = SpenEndToEnd.train options onOptions featureMap (fun () -> calls <- calls + 1.0; calls) ignore theta phi data
                Expect.isLessThan (List.last records).Loss (List.head records).Loss "the end-to-end hinge goes down"
                for p, b in List.zip phi before do
                    Expect.isGreaterThan (Tensor.maxAbsDiff (p.detach ()) b) 1e-4 "the feature network moved"
                    Expect.isTrue (Tensor.isFinite p) "finite"
                // Off: φ bit-identical; θ exactly as StructuredSvm.train on the fixed features.
                let phi2, theta2, featureMap2, data2 = problem 5 ctx
                let _, theta3, _, data3 = problem 5 ctx
                let before2 = snapshot phi2
                let thetaBefore = snapshot theta2
                let offOptions = { onOptions with FineTuneFeatures = false }
                SpenEndToEnd.train options offOptions featureMap2 (fun () -> nan) ignore theta2 phi2 data2 |> ignore
                StructuredSvm.train options (fun () -> nan) ignore theta3 data3 |> ignore
                for p, b in List.zip phi2 before2 do
                    Expect.equal (Tensor.maxAbsDiff (p.detach ()) b) 0.0 "the feature network is bit-identical"
                for a, b in List.zip theta2 theta3 do
                    Expect.equal (Tensor.maxAbsDiff (a.detach ()) (b.detach ())) 0.0 "θ equals StructuredSvm.train's"
                Expect.isGreaterThan (Tensor.maxAbsDiff (theta2.[1].detach ()) thetaBefore.[1]) 1e-4 "θ itself trained")
    ]
