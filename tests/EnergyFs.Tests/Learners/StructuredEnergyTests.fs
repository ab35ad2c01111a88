module EnergyFs.Tests.Learners.StructuredEnergyTests

open System
open System.Threading
open Expecto
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Implicit
open EnergyFs.Learners
open EnergyFs.Tests.Expectations
open EnergyFs.Tests.Learners.StructuredTrainersTests

/// The SPEN formula written again as a function of its own (what a user's custom energy is).
let spenAgain =
    StructuredEnergy.ofFunction "spen-again" (fun theta features y ->
        match theta with
        | [ b; c1; c2 ] -> -((y * features.matmul (b.t ())).sum (-1L, false)) + (torch.nn.functional.softplus (y.matmul (c1.t ()))).matmul c2
        | _ -> failwith "three blocks")

/// A different energy: unary scores and a low-rank pairwise term, θ = [W (L × d); S (L × 2)].
let pairwise =
    StructuredEnergy.ofFunction "pairwise" (fun theta features y ->
        match theta with
        | [ w; s ] -> -((y * features.matmul (w.t ())).sum (-1L, false)) + (y.matmul s).square().sum (-1L, false) * 0.5
        | _ -> failwith "two blocks")

let private values (ps: Parameter list) = ps |> List.collect (fun p -> List.ofArray (Tensor.toArray (p.detach ())))

let private implicitOptions =
    { ImplicitStructured.defaults with
        Epochs = 2; BatchSize = 16; InnerSteps = 2; EntropyWeight = -1.0
        Solver = LinearSolvers.damped 0.02 (LinearSolvers.conjugateGradient { Iterations = 5; Tolerance = 1e-3 }) }

/// θ (the SPEN of seed 4) and a copy of the classifier as ψ, fresh for each run.
let private fresh (cls: Parameter list) =
    use rng = new Rng(4L, torch.CPU)
    Spen.create rng Context.cpu 4 8 4, InferenceNetwork.initFrom cls

[<Tests>]
let tests =
    testList "Learners.StructuredEnergy" [
        testCase "the SPEN is every trainer's default energy" <| fun () ->
            Expect.equal StructuredSvm.defaults.Energy.Name "spen" "SSVM"
            Expect.equal InferenceNetworks.defaults.Energy.Name "spen" "inference networks"
            Expect.equal ImplicitStructured.defaults.Energy.Name "spen" "implicit"
            Expect.isTrue (obj.ReferenceEquals(ImplicitStructured.defaults.Energy, StructuredEnergy.spen)) "the one SPEN record"

        testCase "the SPEN formula as a custom energy trains bit-identically to the default in all three trainers" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 4
                let ssvm energy =
                    let theta, _ = fresh cls
                    let options = { StructuredSvm.defaults with Epochs = 2; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2; Energy = energy }
                    let records = StructuredSvm.train options (fun () -> nan) ignore theta data
                    records |> List.map (fun r -> r.Loss), values theta
                Expect.equal (ssvm spenAgain) (ssvm StructuredEnergy.spen) "SSVM: same hinges and θ"
                let infnet energy =
                    let theta, phi = fresh cls
                    let options = { InferenceNetworks.defaults with Epochs = 2; BatchSize = 16; EntropyWeight = -1.0; Energy = energy }
                    let records = InferenceNetworks.train options (fun () -> nan) ignore theta phi data
                    records |> List.map (fun r -> r.Loss), values theta @ values phi
                Expect.equal (infnet spenAgain) (infnet StructuredEnergy.spen) "inference networks: same hinges, θ and Φ"
                let implicitRun energy =
                    let theta, psi = fresh cls
                    let records, stats = ImplicitStructured.train { implicitOptions with Energy = energy } (fun () -> nan) ignore theta psi data
                    records |> List.map (fun r -> r.Loss), values theta @ values psi, stats.HvpCount
                Expect.equal (implicitRun spenAgain) (implicitRun StructuredEnergy.spen) "implicit: same outer losses, θ, ψ and solver work")

        testCase "a different energy trains with implicit hypergradients and with the SSVM" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 5
                use rng = new Rng(5L, torch.CPU)
                let theta () = [ new Parameter(Tensor.randn rng Context.cpu [ 4L; 8L ] * 0.3, true); new Parameter(Tensor.randn rng Context.cpu [ 4L; 2L ] * 0.1, true) ]
                let th = theta ()
                let before = values th
                let records, stats =
                    ImplicitStructured.train { implicitOptions with Epochs = 3; Energy = pairwise } (fun () -> nan) ignore th (InferenceNetwork.initFrom cls) data
                Expect.equal records.Length 3 "three epochs"
                Expect.isGreaterThan stats.Solves 0 "implicit solves"
                Expect.notEqual (values th) before "θ moved"
                for p in th do Expect.isTrue (Tensor.isFinite p) "finite θ"
                let th2 = theta ()
                let options = { StructuredSvm.defaults with Epochs = 6; BatchSize = 16; Optimizer = OptimizerOptions.adam 1e-2; Energy = pairwise }
                let hinges = StructuredSvm.train options (fun () -> nan) ignore th2 data |> List.map (fun r -> r.Loss)
                Expect.isLessThan (List.last hinges) (List.head hinges) "the SSVM lowers the hinge of the pairwise energy"
                let yHat = StructuredSvm.predict options (Structured.tensors th2) data.Features 4
                Expect.equal yHat.shape data.Labels.shape "inference with the pairwise energy")

        testCase "a custom energy returning the wrong shape fails naming the energy" <| fun () ->
            Scope.run (fun () ->
                let bad = StructuredEnergy.ofFunction "bad" (fun _ features _ -> features)
                let f = torch.zeros (3L, 5L)
                let y = torch.zeros (3L, 2L)
                let e = raisesOf<InvalidOperationException> (fun () -> bad.Energy [] f None y |> ignore)
                Expect.stringContains e.Message "'bad'" "names the energy"
                Expect.stringContains e.Message "[3, 5]" "and the shape it returned"
                Expect.throwsT<ArgumentException> (fun () -> StructuredEnergy.ofFunction " " (fun _ f _ -> f) |> ignore) "a name is required")

        testCase "cancelling implicit training after epoch 1 (through FitOptions.Monitor) leaves θ and ψ of a 1-epoch run" <| fun () ->
            Scope.run (fun () ->
                let cls, data = smallData 6
                let fitFor epochs = Structured.fitOptions epochs 3L false
                let oneEpoch =
                    let theta, psi = fresh cls
                    ImplicitStructured.fit (fitFor 1) implicitOptions (fun () -> nan) ignore theta psi data |> ignore
                    values theta @ values psi
                use cts = new CancellationTokenSource()
                let epochs = ResizeArray<int>()
                let monitor = { FitMonitor.none with OnEpoch = (fun epoch _ -> epochs.Add epoch; if epoch = 0 then cts.Cancel()); Cancellation = cts.Token }
                let theta, psi = fresh cls
                let e =
                    raisesOf<OperationCanceledException> (fun () ->
                        ImplicitStructured.fit (Structured.withMonitor monitor (fitFor 3)) implicitOptions (fun () -> nan) ignore theta psi data |> ignore)
                Expect.sequenceEqual epochs [ 0 ] "one epoch reported"
                Expect.stringContains e.Message "1 epochs completed" "the message says how far it got"
                Expect.sequenceEqual (values theta @ values psi) oneEpoch "θ and ψ are those after epoch 1")
    ]
