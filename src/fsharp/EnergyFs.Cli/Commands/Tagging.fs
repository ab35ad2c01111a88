/// `energyfs tag`: part-of-speech tagging on a UD treebank folder (CRF, BiLSTM, SparseMAP).
module EnergyFs.Cli.Commands.Tagging

open Argu
open EnergyFs
open EnergyFs.Data
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.StructuredPrediction

/// Arguments of `energyfs tag`.
type TagArgs =
    | Data of dir: string
    | Method of string
    | Seed of int
    | Seeds of int
    | Quick
    | Epochs of int
    | Train_Sentences of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "UD treebank folder with *-ud-train/dev/test.conllu(.gz) (default: the data folder's ud_english_ewt)"
            | Method _ -> "crf (default) | bilstm | sparsemap"
            | Seed _ -> "first seed (default 0)"
            | Seeds _ -> "number of seeds, reporting mean ± std (default 1)"
            | Quick -> "the quick configuration (2,000 training sentences, 2 epochs)"
            | Epochs _ -> "maximum epochs"
            | Train_Sentences _ -> "use the first N training sentences (0: all)"
            | Json -> "print the metrics as one JSON object on the last line"

/// Runs the command; returns the exit code.
let run (ctx: Context) (args: ParseResults<TagArgs>) =
    let folder = match args.TryGetResult Data with Some d -> d | None -> Conllu.englishEwt ()
    let loss = PosTagging.parseMethod (args.GetResult(Method, defaultValue = "crf"))
    let first = args.GetResult(Seed, defaultValue = 0)
    let seeds = args.GetResult(Seeds, defaultValue = 1)
    Checks.positiveInt "seeds" seeds
    let setup = if args.Contains Quick then PosTagging.quickSetup else PosTagging.setup
    let setup =
        { setup with
            TrainSentences = args.GetResult(Train_Sentences, defaultValue = setup.TrainSentences)
            Tagger = { setup.Tagger with Loss = loss; Context = ctx; Epochs = args.GetResult(Epochs, defaultValue = setup.Tagger.Epochs) } }
    let results =
        [ for s in first .. first + seeds - 1 ->
            EnergyFs.Cli.Progress.withBar (sprintf "tag %s seed %d" (Learners.TaggerLoss.name loss) s) (fun report ->
                PosTagging.runOnFolder { setup with Tagger = { setup.Tagger with Seed = int64 s } } report folder) ]
    for r in results do
        eprintfn "seed %d: dev UPOS accuracy %.2f  test %.2f  (%d epochs, %.1f s; decoding %.0f tokens/s at batch 1, %.0f at batch 256)"
            r.Seed r.DevAccuracy r.TestAccuracy r.Epochs r.Seconds r.TokensPerSecondBatch1 r.TokensPerSecondBatch256
    let perSeed = results |> List.map PosTagging.metrics
    let summary = RunMetrics.summarize perSeed
    let stat name = summary |> List.find (fun (n, _, _) -> n = name) |> fun (_, m, s) -> m, s
    let testMean, testStd = stat "test_accuracy"
    let devMean, devStd = stat "dev_accuracy"
    printfn "%s: UPOS test accuracy %.2f ± %.2f, dev %.2f ± %.2f over %d seed(s)" (Learners.TaggerLoss.name loss) testMean testStd devMean devStd seeds
    if args.Contains Json then
        printfn "%s" (RunMetrics.json (
            [ "method", box (Learners.TaggerLoss.name loss); "seeds", box (results |> List.map (fun r -> r.Seed) |> Array.ofList) ]
            @ RunMetrics.boxed (RunMetrics.withStd summary)))
    0
