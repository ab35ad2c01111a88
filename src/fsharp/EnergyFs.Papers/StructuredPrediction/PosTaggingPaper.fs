namespace EnergyFs.Papers.StructuredPrediction

open EnergyFs
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open Plotly.NET

/// The sequence-labelling half of the structured-prediction line in the reproduction catalogue:
/// part-of-speech tagging on UD English EWT (UPOS) with a BiLSTM (softmax), the BiLSTM-CRF, and
/// the SPEN family over the CRF's features — structured SVM, inference networks (Tu & Gimpel 2018,
/// arXiv 1803.03376) and implicit training (Shankar & Piratla 2022, arXiv 2211.11649) — with the
/// checks issue #14 names. `PosTagging` and `PosTaggingEnergies` run the experiments; this module
/// only wraps them as catalogue experiments and summarises them.
[<RequireQualifiedAccess>]
module PosTaggingPaper =

    /// The id of a run: pos-ewt-<method>.
    let experimentId (m: string) = sprintf "pos-ewt-%s" m

    /// A BiLSTM tagger (CRF or softmax loss) on EWT: `PosTagging.metrics`.
    let tagger (setup: PosTaggingSetup) : ExperimentSpec =
        setup |> Experiment.ofSettings [ "setup" ] (fun setup ->
            let m = match setup.Tagger.Loss with Softmax -> "bilstm" | loss -> TaggerLoss.name loss
            { Id = experimentId m
              Title = sprintf "UD EWT UPOS, BiLSTM tagger, %s" m
              Config = ResultCache.describe (box setup)
              Run = fun ctx seed report ->
                  let r = PosTagging.runOnFolder { setup with Tagger = { setup.Tagger with Seed = int64 seed; Context = ctx } } report (Conllu.englishEwt ())
                  { Metrics = PosTagging.metrics r; Series = [] }
              Settings = None })

    /// An energy method over the CRF's features on EWT: `PosTaggingEnergies.metrics`.
    let energy (method: EnergyTraining) (setup: PosEnergySetup) : ExperimentSpec =
        (method, setup) |> Experiment.ofSettings [ "method"; "setup" ] (fun (method, setup) ->
            let m = EnergyTraining.name method
            { Id = experimentId m
              Title = sprintf "UD EWT UPOS, linear chain + global term, %s" m
              Config = ResultCache.describe (box (method, setup))
              Run = fun ctx seed report ->
                  let pretrain = { setup.Pretrain with Tagger = { setup.Pretrain.Tagger with Seed = int64 seed; Context = ctx } }
                  let r = PosTaggingEnergies.runOnFolder { setup with Pretrain = pretrain } method report (Conllu.englishEwt ())
                  { Metrics = PosTaggingEnergies.metrics r; Series = [] }
              Settings = None })

    let private methods = [ "bilstm", "BiLSTM, softmax"; "crf", "BiLSTM-CRF, Viterbi"; "spen", "chain + conv term, structured SVM"; "infnet", "chain + conv term, inference networks"; "implicit", "chain + conv term, implicit training" ]

    /// The checks of issue #14, decided on test UPOS accuracy (means over seeds).
    let checks (results: ExperimentResult list) : HeadlineCheck list =
        let id = experimentId
        [ Results.check "EWT: the CRF's test UPOS accuracy ≥ the BiLSTM's (softmax)"
              [ id "crf", "test_accuracy"; id "bilstm", "test_accuracy" ] (fun xs -> xs[0] >= xs[1]) (fun xs -> sprintf "%.2f vs %.2f" xs[0] xs[1]) results
          Results.check "EWT: the energy with a global term (structured SVM) ≥ the linear chain it starts from"
              [ id "spen", "test_accuracy"; id "spen", "crf_test_accuracy" ] (fun xs -> xs[0] >= xs[1]) (fun xs -> sprintf "%.2f vs %.2f" xs[0] xs[1]) results
          Results.check "EWT: inference networks within 1 point of the CRF, decoding faster than the CRF's Viterbi at batch 1 and 256 (same process; embeddings and BiLSTMs timed on both sides)"
              [ id "infnet", "test_accuracy"; id "crf", "test_accuracy"
                id "infnet", "tokens_per_second_batch1"; id "infnet", "viterbi_tokens_per_second_batch1"
                id "infnet", "tokens_per_second_batch256"; id "infnet", "viterbi_tokens_per_second_batch256" ]
              (fun xs -> abs (xs[0] - xs[1]) <= 1.0 && xs[2] > xs[3] && xs[4] > xs[5])
              (fun xs -> sprintf "%.2f vs %.2f; %.0f vs %.0f tokens/s at batch 1, %.0f vs %.0f at batch 256" xs[0] xs[1] xs[2] xs[3] xs[4] xs[5]) results
          Results.check "EWT: implicit training ≥ inference networks (Shankar & Piratla's claim)"
              [ id "implicit", "test_accuracy"; id "infnet", "test_accuracy" ] (fun xs -> xs[0] >= xs[1]) (fun xs -> sprintf "%.2f vs %.2f" xs[0] xs[1]) results ]

    /// The table, the checks and a bar chart of test accuracy.
    let summarize (results: ExperimentResult list) : PaperSummary =
        let rows =
            [ for m, title in methods ->
                let e = Results.find (experimentId m) results
                [ title; Results.cell 2 "test_accuracy" e; Results.cell 2 "dev_accuracy" e; Results.cell 2 "search_error" e
                  Results.cell 0 "tokens_per_second_batch1" e; Results.cell 0 "tokens_per_second_batch256" e ] ]
        let chart =
            Chart.Column(values = [ for m, _ in methods -> Results.meanOf (experimentId m) "test_accuracy" results |> Option.defaultValue nan ],
                         Keys = (methods |> List.map snd), Name = "EnergyFs")
            |> Chart.withTitle "UD EWT test UPOS accuracy (%)" |> Chart.withYAxisStyle "accuracy"
        { Tables =
            [ { Caption = "UD English EWT, UPOS token accuracy (%), gold tokenization, no pretrained embeddings; search error = % of dev sentences where relaxed inference scores below Viterbi on the linear chain"
                Columns = [ "method"; "test"; "dev"; "search error %"; "tokens/s (batch 1)"; "tokens/s (batch 256)" ]
                Rows = rows } ]
          Checks = checks results
          Charts = [ "ewt-upos", chart ]
          Notes = [ "The energy methods start from the CRF pretrained in the same run (its accuracy is in their metrics as crf_test_accuracy). Decoding speeds start from word indices for every method (embeddings, BiLSTMs and inference all timed; batch 1 over the first 200 dev sentences, batch 256 over all of dev, one libtorch thread); each energy run also times its CRF's Viterbi in the same process (viterbi_tokens_per_second_*), the like-for-like reference of the speed check. spen decodes by relaxed gradient-based inference, infnet and implicit by their inference network." ] }

    /// Quick: 2,000 training sentences, 2 CRF epochs, energies on sentences of ≤ 25 words for 2
    /// epochs; full: all of EWT (`PosTagging.setup`, `PosTaggingEnergies.setup`).
    let spec (quick: bool) : PaperSpec =
        let tagging = if quick then PosTagging.quickSetup else PosTagging.setup
        let energies = if quick then PosTaggingEnergies.quickSetup else PosTaggingEnergies.setup
        { Id = "pos"
          Title = "Sequence labelling with structured energies: UD English EWT part-of-speech tags (Tu & Gimpel 2018; Shankar & Piratla 2022)"
          Reference = "Tu, Gimpel. Learning Approximate Inference Networks for Structured Prediction. ICLR 2018, arXiv 1803.03376; Shankar, Piratla. Implicit Training of Energy Model for Structure Prediction. arXiv 2211.11649; Lafferty, McCallum, Pereira. Conditional Random Fields. ICML 2001."
          Experiments =
            [ tagger { tagging with Tagger = { tagging.Tagger with Loss = Softmax } }
              tagger { tagging with Tagger = { tagging.Tagger with Loss = Crf } }
              energy EnergyTraining.Spen energies
              energy EnergyTraining.Infnet energies
              energy EnergyTraining.Implicit energies ]
          Summarize = summarize }
