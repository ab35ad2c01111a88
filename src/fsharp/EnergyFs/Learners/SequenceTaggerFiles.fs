namespace EnergyFs.Learners

open System
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Models
open EnergyFs.Training

/// Saving and loading fitted sequence taggers in the EnergyFs model file format (`ModelFile`, kind
/// "sequence-tagger"). The header holds the loss, the network's sizes, the vocabulary options and
/// the vocabularies themselves (word, shape and suffix tables, tags), the training options, the
/// best epoch and the history; the tensors are the network's state dict under "net.".
[<RequireQualifiedAccess>]
module SequenceTaggerFile =

    /// The kind string of sequence tagger files.
    let kind = "sequence-tagger"

    let private strings (items: string[]) = JsonArray(items |> Array.map (fun s -> JsonValue.Create s :> JsonNode))

    let private readStrings (node: JsonNode) = node.AsArray() |> Seq.map (fun n -> n.GetValue<string>()) |> Array.ofSeq

    /// Writes a fitted tagger to `path` (atomically).
    let save (path: string) (tagger: FittedSequenceTagger) =
        let o = tagger.Options
        let v = tagger.Vocabulary
        let header = JsonObject()
        header["loss"] <- JsonValue.Create (TaggerLoss.name o.Loss)
        header["word_dim"] <- JsonValue.Create o.WordDim
        header["feature_dim"] <- JsonValue.Create o.FeatureDim
        header["hidden"] <- JsonValue.Create o.Hidden
        header["dropout"] <- ModelFile.number o.Dropout
        header["dtype"] <- JsonValue.Create (string o.Context.DType)
        header["tag_column"] <- JsonValue.Create (match v.Options.Tags with UposTags -> "upos" | XposTags -> "xpos")
        header["min_word_count"] <- JsonValue.Create v.Options.MinWordCount
        header["min_feature_count"] <- JsonValue.Create v.Options.MinFeatureCount
        header["suffix_lengths"] <- JsonArray(v.Options.SuffixLengths |> List.map (fun l -> JsonValue.Create l :> JsonNode) |> Array.ofList)
        header["words"] <- strings v.Words.Items
        header["shapes"] <- strings v.Shapes.Items
        header["suffixes"] <- JsonArray(v.Suffixes |> Array.map (fun s -> strings s.Items :> JsonNode))
        header["tags"] <- strings v.Tags
        header["epochs"] <- JsonValue.Create o.Epochs
        header["batch_size"] <- JsonValue.Create o.BatchSize
        header["learning_rate"] <- ModelFile.number o.LearningRate
        header["seed"] <- JsonValue.Create o.Seed
        header["best_epoch"] <- JsonValue.Create tagger.BestEpoch
        header["history"] <- ModelFile.historyJson tagger.History
        ModelFile.save path kind header [ for name, t in ModelFile.moduleTensors tagger.Net -> "net." + name, t ]

    /// Loads a tagger saved by `save` onto `context`'s device (the network takes the saved dtype).
    /// Fails with InvalidDataException naming the file when the header or the tensors do not fit.
    let load (path: string) (context: Context) : FittedSequenceTagger =
        let header, tensors = ModelFile.load path kind
        try
            let fail reason = raise (InvalidDataException(sprintf "%s: %s" path reason))
            let node (key: string) : JsonNode = match header[key] with null -> fail (sprintf "the header has no '%s'" key) | n -> n
            let int key = ModelFile.readInt path header key
            let dtype = ModelFile.readDType path header
            let vocabularyOptions =
                { MinWordCount = int "min_word_count"; MinFeatureCount = int "min_feature_count"
                  SuffixLengths = (node "suffix_lengths").AsArray() |> Seq.map (fun n -> n.GetValue<int>()) |> List.ofSeq
                  Tags = (match ModelFile.readText path header "tag_column" with "upos" -> UposTags | "xpos" -> XposTags | other -> fail (sprintf "unknown tag column '%s'" other)) }
            let table key = readStrings (node key) |> fun items -> SequenceVocabulary.ofItems items.[SequenceVocabulary.reserved.Length ..]
            let vocabulary =
                { Words = table "words"; Shapes = table "shapes"
                  Suffixes = (node "suffixes").AsArray() |> Seq.map (fun n -> SequenceVocabulary.ofItems ((readStrings n).[SequenceVocabulary.reserved.Length ..])) |> Array.ofSeq
                  Tags = readStrings (node "tags"); Options = vocabularyOptions }
            if vocabulary.Suffixes.Length <> vocabularyOptions.SuffixLengths.Length then
                fail (sprintf "%d suffix tables for %d suffix lengths" vocabulary.Suffixes.Length vocabularyOptions.SuffixLengths.Length)
            let options =
                { SequenceTaggerOptions.defaults with
                    Loss = (try TaggerLoss.parse (ModelFile.readText path header "loss") with :? ArgumentException as e -> fail e.Message)
                    Vocabulary = vocabularyOptions
                    WordDim = int "word_dim"; FeatureDim = int "feature_dim"; Hidden = int "hidden"
                    Dropout = ModelFile.readNumber (node "dropout")
                    Epochs = int "epochs"; BatchSize = int "batch_size"
                    LearningRate = ModelFile.readNumber (node "learning_rate")
                    Seed = (node "seed").GetValue<int64>()
                    Context = { context with DType = dtype } }
            use rng = new Rng(0L, context.Device)
            let net = SequenceTagger.create options rng vocabulary
            try
                ModelFile.loadInto path net [ for n, t in tensors do if n.StartsWith "net." then n.Substring 4, t ]
                net.eval ()
                { Net = net; Vocabulary = vocabulary; Options = options
                  History = ModelFile.historyOf path header["history"]
                  BestEpoch = int "best_epoch" }
            with _ ->
                net.Dispose ()
                reraise ()
        finally
            for _, t in tensors do t.Dispose()
