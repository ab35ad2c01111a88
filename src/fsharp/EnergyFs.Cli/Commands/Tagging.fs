/// `energyfs seq`: part-of-speech tagging on a UD treebank folder (CRF, BiLSTM, SparseMAP; and the
/// structured energies over the CRF's features: SPEN, inference networks, implicit training).
module EnergyFs.Cli.Commands.Tagging

open Argu
open EnergyFs
open EnergyFs.Data
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.StructuredPrediction

/// Arguments of `energyfs seq`.
type TagArgs =
    | Data of dir: string
    | Method of string
    | Seed of int
    | Seeds of int
    | Quick
    | Epochs of int
    | Train_Sentences of int
    | Global of string
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "UD treebank folder with *-ud-train/dev/test.conllu(.gz) (default: the data folder's ud_english_ewt)"
            | Method _ -> "crf (default) | bilstm | sparsemap | spen | infnet | implicit"
            | Seed _ -> "first seed (default 0)"
            | Seeds _ -> "number of seeds, reporting mean ± std (default 1)"
            | Quick -> "the quick configuration (2,000 training sentences, 2 epochs)"
            | Epochs _ -> "maximum epochs"
            | Train_Sentences _ -> "use the first N training sentences (0: all)"
            | Global _ -> "global energy terms of spen/infnet/implicit: conv (default) | lm | conv+lm"
            | Json -> "print the metrics as one JSON object on the last line"

/// The global terms named by `--global`.
let private globalTerms (text: string) =
    text.Split('+', System.StringSplitOptions.RemoveEmptyEntries ||| System.StringSplitOptions.TrimEntries)
    |> Array.map (fun t ->
        match t.ToLowerInvariant() with
        | "conv" -> Convolutional (50, 3)
        | "lm" -> LabelLanguageModel 20
        | other -> invalidArg "global" (sprintf "unknown global term '%s' (expected conv, lm or conv+lm)" other))
    |> List.ofArray

/// Prints mean ± std of the runs' metrics, and JSON with `--json`.
let private summarize (args: ParseResults<TagArgs>) (name: string) (seeds: int64 list) (perSeed: (string * float) list list) =
    let summary = RunMetrics.summarize perSeed
    let stat key = summary |> List.find (fun (n, _, _) -> n = key) |> fun (_, m, s) -> m, s
    let testMean, testStd = stat "test_accuracy"
    let devMean, devStd = stat "dev_accuracy"
    printfn "%s: UPOS test accuracy %.2f ± %.2f, dev %.2f ± %.2f over %d seed(s)" name testMean testStd devMean devStd perSeed.Length
    if args.Contains Json then
        printfn "%s" (RunMetrics.json (
            [ "method", box name; "seeds", box (Array.ofList seeds) ] @ RunMetrics.boxed (RunMetrics.withStd summary)))

/// Runs the command; returns the exit code.
let run (ctx: Context) (args: ParseResults<TagArgs>) =
    let folder = match args.TryGetResult Data with Some d -> d | None -> Conllu.englishEwt ()
    let methodName = args.GetResult(Method, defaultValue = "crf")
    let first = args.GetResult(Seed, defaultValue = 0)
    let seeds = args.GetResult(Seeds, defaultValue = 1)
    Checks.positiveInt "seeds" seeds
    let configure (setup: PosTaggingSetup) loss =
        { setup with
            TrainSentences = args.GetResult(Train_Sentences, defaultValue = setup.TrainSentences)
            Tagger = { setup.Tagger with Loss = loss; Context = ctx } }
    match EnergyTraining.tryParse methodName with
    | Some training ->
        let setup = if args.Contains Quick then PosTaggingEnergies.quickSetup else PosTaggingEnergies.setup
        let setup =
            { setup with
                Pretrain = configure setup.Pretrain Learners.Crf
                Epochs = args.GetResult(Epochs, defaultValue = setup.Epochs)
                Global = args.TryGetResult Global |> Option.map globalTerms |> Option.defaultValue setup.Global }
        let results =
            [ for s in first .. first + seeds - 1 ->
                EnergyFs.Cli.Progress.withBar (sprintf "seq %s seed %d" methodName s) (fun report ->
                    PosTaggingEnergies.runOnFolder { setup with Pretrain = { setup.Pretrain with Tagger = { setup.Pretrain.Tagger with Seed = int64 s } } } training report folder) ]
        for r in results do
            eprintfn "seed %d: %s (%s) dev UPOS %.2f test %.2f (CRF start: dev %.2f test %.2f); search error %.2f %%; network below Viterbi %.2f %%; decoding %.0f / %.0f tokens/s at batch 1 / 256 (the CRF's Viterbi %.0f / %.0f); best epoch %d; %.1f s"
                r.Seed r.Method r.Energy r.DevAccuracy r.TestAccuracy r.CrfDevAccuracy r.CrfTestAccuracy r.SearchError r.NetworkBelowViterbi
                r.TokensPerSecondBatch1 r.TokensPerSecondBatch256 r.ViterbiTokensPerSecondBatch1 r.ViterbiTokensPerSecondBatch256 r.BestEpoch r.Seconds
        summarize args methodName (results |> List.map (fun r -> r.Seed)) (results |> List.map PosTaggingEnergies.metrics)
        0
    | None ->
        let loss = PosTagging.parseMethod methodName
        let setup = if args.Contains Quick then PosTagging.quickSetup else PosTagging.setup
        let setup = configure setup loss
        let setup = { setup with Tagger = { setup.Tagger with Epochs = args.GetResult(Epochs, defaultValue = setup.Tagger.Epochs) } }
        let results =
            [ for s in first .. first + seeds - 1 ->
                EnergyFs.Cli.Progress.withBar (sprintf "seq %s seed %d" (Learners.TaggerLoss.name loss) s) (fun report ->
                    PosTagging.runOnFolder { setup with Tagger = { setup.Tagger with Seed = int64 s } } report folder) ]
        for r in results do
            eprintfn "seed %d: dev UPOS accuracy %.2f  test %.2f  (%d epochs, %.1f s; decoding %.0f tokens/s at batch 1, %.0f at batch 256)"
                r.Seed r.DevAccuracy r.TestAccuracy r.Epochs r.Seconds r.TokensPerSecondBatch1 r.TokensPerSecondBatch256
        summarize args (Learners.TaggerLoss.name loss) (results |> List.map (fun r -> r.Seed)) (results |> List.map PosTagging.metrics)
        0
