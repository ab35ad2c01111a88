module EnergyFs.Tests.Learners.MultilabelTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics

let private options =
    { MultilabelOptions.defaults with Hidden = 0; Epochs = 15; Patience = 5; LearningRate = 1e-2; WeightDecays = [ 1e-4 ] }

[<Tests>]
let tests =
    testList "Learners.Multilabel" [
        testCase "fit on tensors: split with Rng(seed), standardizer of the training rows, predictions 0/1" <| fun () ->
            use rng = new Rng(4L, torch.CPU)
            use data = MultilabelSet.synthetic rng Context.cpu 200 4 3
            use model = Multilabel.fit options 0L 1e-4 data
            // The standardizer's statistics are those of the training rows the split kept.
            use splitRng = new Rng(0L, torch.CPU)
            let train, validation = MultilabelSet.split splitRng options.ValidationFraction data
            use train = train
            use validation = validation
            use expected = Standardizer.fit (train.Features.to_type torch.ScalarType.Float64)
            Expect.equal model.Standardizer.Mean.dtype torch.ScalarType.Float64 "float64 statistics"
            Expect.isLessThan (Tensor.maxAbsDiff model.Standardizer.Mean expected.Mean) 1e-12 "training-row means"
            Expect.isLessThan (Tensor.maxAbsDiff model.Standardizer.Std expected.Std) 1e-12 "training-row stds"
            use pred = Multilabel.predictLabels model data.Features
            Expect.equal (Tensor.shape pred) [ 200L; 3L ] "one row per example"
            MultilabelSet.check (pred.to_type torch.ScalarType.Float32) data.Labels
            Expect.isGreaterThan (MultilabelMetrics.hammingAccuracy pred data.Labels) 0.8 "learns the synthetic labels"
            use again = Multilabel.fit options 0L 1e-4 data
            use pred2 = Multilabel.predictLabels again data.Features
            Expect.equal (Tensor.toArray pred2) (Tensor.toArray pred) "same seed, same model"

        testCase "predictLabels refuses features of another width, naming the argument and shape" <| fun () ->
            use rng = new Rng(5L, torch.CPU)
            use data = MultilabelSet.synthetic rng Context.cpu 40 3 2
            use model = Multilabel.fit { options with Epochs = 1 } 0L 1e-4 data
            use wrong = Tensor.zeros Context.cpu [ 5L; 4L ]
            let e = Expect.throwsC (fun () -> Multilabel.predictLabels model wrong |> ignore) id :?> ArgumentException
            Expect.equal e.ParamName "features" "names features"
            Expect.stringContains e.Message "[5, 4]" "and its shape"
            use bad = Tensor.full Context.cpu [ 40L; 2L ] 0.5
            let e = Expect.throwsC (fun () -> Multilabel.fit options 0L 1e-4 { Features = data.Features; Labels = bad } |> ignore) id :?> ArgumentException
            Expect.equal e.ParamName "labels" "labels that are not 0/1 are refused"
    ]
