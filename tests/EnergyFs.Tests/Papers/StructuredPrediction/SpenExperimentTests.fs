/// The SPEN experiment's per-method functions (`SpenExperiment.runMlp`, `runSpen`, `runInfNet`,
/// `runImplicit`, `runInfNetSsvm`) on a tiny synthetic problem: the same numbers (bit for bit on the
/// same BLAS kernels, to 1e-6 relative across them) as
/// the single `SpenExperiment.run` over one options record gave before it was split per method
/// (recorded at commit 80a349b with the equivalent settings), and metric names in snake_case.
module EnergyFs.Tests.Papers.SpenExperimentTests

open System
open Expecto
open EnergyFs
open EnergyFs.Data
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.StructuredPrediction

/// One layer of 16, 3 pretraining epochs, h = 4, CPU float32.
let private setup = { SpenExperiment.quickSetup with Hidden = [ 16 ]; PretrainEpochs = 3; EnergyHidden = 4; Context = Context.cpu }

let private ssvm = { SpenExperiment.ssvmStage with Ssvm = { SpenExperiment.ssvmStage.Ssvm with Epochs = 1 } }
let private infNet = { SpenExperiment.infNetStage.InfNet with Epochs = 1; RetuneEpochs = 1 }

/// The synthetic problem the recorded numbers were measured on (the generator and the seeded splits
/// of the former host-array SPEN data module, kept here as a fixture so the numbers stay comparable):
/// 240 examples, 10 inputs, 6 labels; half train, a quarter dev, a quarter test.
let private problem () =
    let r = System.Random 0
    let gauss () = sqrt (-2.0 * log (1.0 - r.NextDouble())) * cos (2.0 * System.Math.PI * r.NextDouble())
    let n, inputs, labels = 240, 10, 6
    let k = max 2 (labels / 3)
    let w = Array.init k (fun _ -> Array.init inputs (fun _ -> gauss () / sqrt (float inputs)))
    let u = Array.init labels (fun _ -> Array.init k (fun _ -> if r.NextDouble() < 0.3 then 1.0 else 0.0))
    let xs = Array.init n (fun _ -> Array.init inputs (fun _ -> gauss ()))
    let ys =
        xs |> Array.map (fun x ->
            let z = w |> Array.map (fun wk -> if Array.fold2 (fun s a b -> s + a * b) 0.0 wk x > 0.3 then 1.0 else 0.0)
            Array.init labels (fun i -> if Array.fold2 (fun s a b -> s + a * b) 0.0 u[i] z + 0.3 * gauss () > 0.5 then 1.0 else 0.0))
    let splitDev (seed: int) (fraction: float) (rows: int[]) =
        let nDev = int (System.Math.Round(float rows.Length * fraction))
        let order = Array.copy rows
        (System.Random seed).Shuffle order
        order[nDev ..], order[.. nDev - 1]
    let set (idx: int[]) = MultilabelSet.ofRows Context.cpu64 (idx |> Array.map (fun i -> xs[i])) (idx |> Array.map (fun i -> ys[i]))
    let train, rest = splitDev 0 0.5 [| 0 .. n - 1 |]
    let dev, test = splitDev 1 0.5 rest
    set train, set dev, set test

/// (name, run) of every method and the variants the old option flags selected.
let private variants : (string * (MultilabelSet -> MultilabelSet -> MultilabelSet -> SpenResult)) list =
    [ "mlp", SpenExperiment.runMlp setup ignore
      "spen", SpenExperiment.runSpen setup ssvm None ignore
      "spen-clamped", SpenExperiment.runSpen setup { ssvm with ClampLocalEnergy = true } None ignore
      "spen-fine-tune", SpenExperiment.runSpen setup ssvm (Some { SpenExperiment.fineTuneStage with FineTuneEpochs = 1 }) ignore
      "infnet", SpenExperiment.runInfNet setup { SpenExperiment.infNetStage with InfNet = infNet } ignore
      "infnet-train-local", SpenExperiment.runInfNet setup { SpenExperiment.infNetStage with InfNet = infNet; ClampLocalTerm = false } ignore
      "implicit", SpenExperiment.runImplicit setup { SpenExperiment.implicitOptions with Epochs = 1 } ignore
      "infnet-ssvm", SpenExperiment.runInfNetSsvm setup ssvm { SpenExperiment.retuneStage with Retune = infNet } ignore ]

/// Recorded before the split: dev F1, test F1, threshold, pretrained dev F1 and the extra numbers,
/// as the bits of the doubles (`BitConverter.DoubleToInt64Bits`).
let private recorded =
    Map [
        "mlp", "4631726589983509295 4632710635437803294 4602678819172646912 4631726589983509295 "
        "spen", "4632280604223384236 4632992110414513950 4602678819172646912 4631726589983509295 "
        "spen-clamped", "4631881848006377475 4632796641680687106 4602678819172646912 4631726589983509295 "
        "spen-fine-tune", "4632280604223384236 4632992110414513950 4602678819172646912 4631726589983509295 fine_tune_selected_epoch=0;stage2_dev_f1=4632280604223384236"
        "infnet", "4631726589983509295 4632710635437803294 4602678819172646912 4631726589983509295 retune_selected_epoch=0;retune_dev_f1_selected=4631726589983509295;retune_dev_f1_last=4631726589983509295"
        "infnet-train-local", "4631789139978333887 4632710635437803294 4602678819172646912 4631726589983509295 retune_selected_epoch=4607182418800017408;retune_dev_f1_selected=4631789139978333887;retune_dev_f1_last=4631789139978333887"
        "implicit", "4631726589983509295 4632710635437803294 4602678819172646912 4631726589983509295 solves=4607182418800017408;not_converged=0;mean_relative_residual=4562223203383534306;max_relative_residual=4562223203383534306;hvp_count=4611686018427387904;mean_inner_gradient_norm=4571915104368824594;max_inner_gradient_norm=4571915104368824594;mean_inner_gradient_ratio=4599769488844698731"
        "infnet-ssvm", "4631789139978333887 4632734091685862515 4602678819172646912 4631726589983509295 retune_selected_epoch=4607182418800017408;retune_dev_f1_selected=4631789139978333887;retune_dev_f1_last=4631789139978333887" ]

let private bits (v: float) = string (BitConverter.DoubleToInt64Bits v)

let private fingerprint (r: SpenResult) =
    let extra = r.Extra |> List.map (fun (k, v) -> sprintf "%s=%s" k (bits v)) |> String.concat ";"
    sprintf "%s %s %s %s %s" (bits r.DevF1) (bits r.TestF1) (bits r.Threshold) (bits r.PretrainDevF1) extra

[<Tests>]
let tests =
    testList "Papers.SpenExperiment" [
        testCase "each method's function gives the numbers recorded before the split" <| fun () ->
            // Bit for bit on the BLAS kernels they were recorded with; oneMKL picks its kernels by
            // processor (build.sh's MKL dispatch), which moves the last bits of the diagnostics
            // (residuals of iterative solves, gradient norms): every number within 1e-6 relative. A flipped prediction
            // moves an F1 by far more.
            let train, dev, test = problem ()
            for name, run in variants do
                let r = run train dev test
                let actual, expected = fingerprint r, recorded[name]
                if actual <> expected then
                    let numbers (s: string) =
                        s.Split([| ' '; ';' |], StringSplitOptions.RemoveEmptyEntries)
                        |> Array.map (fun w ->
                            let v = if w.Contains "=" then w.Substring(w.IndexOf '=' + 1) else w
                            (if w.Contains "=" then w.Substring(0, w.IndexOf '=') else ""), BitConverter.Int64BitsToDouble (int64 v))
                    let a, e = numbers actual, numbers expected
                    Expect.equal (Array.map fst a) (Array.map fst e) (sprintf "%s: the same numbers" name)
                    for (key, x), (_, y) in Array.zip a e do
                        Expect.isLessThanOrEqual (abs (x - y)) (1e-6 * max (abs x) (abs y)) (sprintf "%s %s: %.17g against the recorded %.17g (dev F1 %.4f, test F1 %.4f)" name key x y r.DevF1 r.TestF1)

        testCase "run dispatches the settings to the method's function" <| fun () ->
            let train, dev, test = problem ()
            let viaRun = SpenExperiment.run setup (SpenSettings (ssvm, None)) ignore train dev test
            Expect.equal (fingerprint viaRun) (fingerprint (SpenExperiment.runSpen setup ssvm None ignore train dev test)) "run = runSpen"
            Expect.equal viaRun.Method "spen" "method name"
            for m in [ Mlp; Spen; InfNet; Implicit; InfNetSsvm ] do
                Expect.equal (SpenExperiment.methodOf (SpenExperiment.settings m)) m "default settings of the method"
                Expect.equal (SpenExperiment.methodOf (SpenExperiment.quickSettings m)) m "quick settings of the method"

        testCase "metrics: snake_case names, the spec's keys, extra numbers last" <| fun () ->
            let train, dev, test = problem ()
            let r = SpenExperiment.runImplicit setup { SpenExperiment.implicitOptions with Epochs = 1 } ignore train dev test
            let m = SpenExperiment.metrics r
            Expect.isEmpty (RunMetrics.invalidNames m) "snake_case"
            Expect.equal (m |> List.take 4 |> List.map fst) [ "test_f1"; "dev_f1"; "threshold"; "pretrain_dev_f1" ] "headline keys first"
            Expect.equal (m |> List.skip 4) r.Extra "then the extra numbers"
            Expect.equal (snd m.Head) r.TestF1 "test F1"

        testCase "the spec stores SpenExperiment.metrics (emotions, tiny settings)" <| fun () ->
            let settings = SpenSettings (ssvm, None)
            let stored = EnergyFs.Tests.Reproduction.RunMetricsTests.cachedMetrics (SpenPaper.experiment "emotions" setup settings)
            let r = SpenExperiment.runOnFolder setup settings ignore (EnergyFs.Data.Paths.find "emotions")
            let metrics = SpenExperiment.metrics r
            EnergyFs.Tests.Reproduction.RunMetricsTests.expectSameKeys "spen" metrics stored
            Expect.equal stored metrics "same seed, same numbers"

        testCase "withEpochs sets the method's epochs only" <| fun () ->
            match SpenExperiment.withEpochs 7 (SpenExperiment.settings Spen), SpenExperiment.withEpochs 7 (SpenExperiment.settings InfNet) with
            | SpenSettings (s, None), InfNetSettings i ->
                Expect.equal s.Ssvm.Epochs 7 "SSVM epochs"
                Expect.equal i.InfNet.Epochs 7 "inference-network epochs"
                Expect.equal i.InfNet.RetuneEpochs SpenExperiment.infNetStage.InfNet.RetuneEpochs "retuning epochs unchanged"
            | other -> failtestf "unexpected settings %A" other
    ]
