namespace EnergyFs.Data

open System
open System.Collections.Generic
open System.Text

/// Which tag column of a CoNLL-U word a tagger predicts.
type TagColumn =
    /// UPOS, the 17 universal tags (the tag set is fixed: `Upos.tags`).
    | UposTags
    /// XPOS, the language-specific tags (the tag set is the one seen in the training sentences).
    | XposTags

/// A string-to-index table with the two reserved entries of padded, open-vocabulary input:
/// index 0 is padding ("<pad>") and index 1 the unknown item ("<unk>").
type Vocabulary =
    { /// The items by index; Items[0] = "<pad>", Items[1] = "<unk>".
      Items: string[]
      /// The index of every item.
      Index: IReadOnlyDictionary<string, int> }
    /// Number of entries, the two reserved ones included.
    member v.Count = v.Items.Length
    /// The index of `item`, or 1 (unknown) when it is not in the table.
    member v.Lookup(item: string) =
        match v.Index.TryGetValue item with
        | true, i -> i
        | _ -> 1

/// Options of `SequenceVocabulary.build`; start from `SequenceVocabularyOptions.defaults`.
type SequenceVocabularyOptions =
    { /// A training word form (lowercased) enters the word table when it occurs at least this often;
      /// rarer words read as unknown, so the unknown-word embedding is trained (default 2).
      MinWordCount: int
      /// Shapes and suffixes enter their tables when they occur at least this often (default 2).
      MinFeatureCount: int
      /// The suffix lengths whose (lowercased) suffixes are features of a word (default 1, 2, 3).
      SuffixLengths: int list
      /// The tag column predicted (default UPOS).
      Tags: TagColumn }

/// Defaults of SequenceVocabularyOptions.
[<RequireQualifiedAccess>]
module SequenceVocabularyOptions =
    /// Words seen twice, shapes and suffixes seen twice, suffixes of 1 to 3 letters, UPOS.
    let defaults = { MinWordCount = 2; MinFeatureCount = 2; SuffixLengths = [ 1; 2; 3 ]; Tags = UposTags }

/// The vocabularies of a tagger built from its training sentences: lowercased word forms, word
/// shapes and suffixes (the unknown-word features: no pretrained vectors are needed), and the tag set.
type SequenceVocabulary =
    { /// Lowercased word forms seen at least MinWordCount times.
      Words: Vocabulary
      /// Word shapes (`SequenceVocabulary.shape`).
      Shapes: Vocabulary
      /// One table per suffix length (in the order of Options.SuffixLengths).
      Suffixes: Vocabulary[]
      /// The tags, by index.
      Tags: string[]
      /// The options it was built with.
      Options: SequenceVocabularyOptions }

/// A sentence as indices: one entry per word.
type EncodedSentence =
    { /// Word indices (1 for unknown words).
      Words: int[]
      /// Shape indices.
      Shapes: int[]
      /// Suffix indices, [word][suffix length].
      Suffixes: int[][]
      /// Tag indices.
      Tags: int[] }
    /// Number of words.
    member s.Length = s.Words.Length

/// Building vocabularies and encoding sentences. The unknown-word strategy: rare training words
/// (count < MinWordCount) map to the unknown word, whose embedding is therefore trained on them,
/// and every word also carries its shape (capitalisation, digits, punctuation; Collins 2002,
/// "word features") and its suffixes, which identify the part of speech of most unseen English
/// words (Ratnaparkhi 1996; Huang, Xu & Yu 2015, arXiv 1508.01991, use the same spelling features
/// in their BiLSTM-CRF).
[<RequireQualifiedAccess>]
module SequenceVocabulary =

    /// The reserved entries, index 0 and 1.
    let reserved = [| "<pad>"; "<unk>" |]

    /// A vocabulary of `items` after the reserved entries (duplicates and reserved names dropped).
    let ofItems (items: seq<string>) : Vocabulary =
        let all = Seq.append reserved items |> Seq.distinct |> Array.ofSeq
        { Items = all; Index = all |> Array.mapi (fun i s -> KeyValuePair(s, i)) |> Dictionary :> IReadOnlyDictionary<_, _> }

    /// The word shape of a form: upper-case letters → X, lower-case → x, digits → d, other
    /// characters kept, and runs of the same class longer than two cut to two
    /// ("McDonald's" → "XxXxx'x", "1984" → "dd", "U.S." → "X.X.").
    let shape (form: string) : string =
        let sb = StringBuilder()
        let mutable last = '\000'
        let mutable run = 0
        for c in form do
            let k = if Char.IsUpper c then 'X' elif Char.IsLower c then 'x' elif Char.IsDigit c then 'd' else c
            if k = last then run <- run + 1 else run <- 1
            last <- k
            if run <= 2 then sb.Append k |> ignore
        sb.ToString()

    /// The lowercased suffix of `length` characters (the whole form when shorter).
    let suffix (length: int) (form: string) : string =
        let lower = form.ToLowerInvariant()
        if lower.Length <= length then lower else lower.Substring(lower.Length - length)

    /// The tag of a word in `column`.
    let tagOf (column: TagColumn) (word: ConlluWord) = match column with UposTags -> word.Upos | XposTags -> word.Xpos

    let private frequent (minCount: int) (items: seq<string>) =
        items |> Seq.countBy id |> Seq.filter (fun (_, c) -> c >= minCount)
        |> Seq.sortBy (fun (s, c) -> -c, s) |> Seq.map fst |> ofItems

    /// Builds the vocabularies from training sentences (items ordered by decreasing count, then
    /// ordinally, so the same sentences give the same indices).
    let build (options: SequenceVocabularyOptions) (training: ConlluSentence[]) : SequenceVocabulary =
        if options.MinWordCount < 1 || options.MinFeatureCount < 1 then
            invalidArg "options" (sprintf "MinWordCount and MinFeatureCount must be ≥ 1, got %d and %d" options.MinWordCount options.MinFeatureCount)
        if options.SuffixLengths |> List.exists (fun l -> l < 1) then
            invalidArg "options" (sprintf "SuffixLengths must be ≥ 1, got %A" options.SuffixLengths)
        if training.Length = 0 then invalidArg "training" "no training sentence to build the vocabulary from"
        let words = training |> Array.collect (fun s -> s.Words)
        let tags =
            match options.Tags with
            | UposTags -> Upos.tags
            | XposTags -> words |> Array.map (fun w -> w.Xpos) |> Array.distinct |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b))
        { Words = words |> Seq.map (fun w -> w.Form.ToLowerInvariant()) |> frequent options.MinWordCount
          Shapes = words |> Seq.map (fun w -> shape w.Form) |> frequent options.MinFeatureCount
          Suffixes = options.SuffixLengths |> List.map (fun l -> words |> Seq.map (fun w -> suffix l w.Form) |> frequent options.MinFeatureCount) |> Array.ofList
          Tags = tags
          Options = options }

    /// The index of `tag` in the vocabulary's tag set; fails naming the tag and the sentence when
    /// the tag is not in it (an XPOS tag absent from the training sentences).
    let tagIndex (vocabulary: SequenceVocabulary) (sentence: ConlluSentence) (tag: string) : int =
        match Array.IndexOf(vocabulary.Tags, tag) with
        | -1 ->
            invalidArg "sentence" (sprintf "the tag '%s' of sentence '%s' (line %d) is not in the tag set of the vocabulary (%d tags)" tag sentence.SentenceId sentence.Line vocabulary.Tags.Length)
        | i -> i

    /// The word-level features of forms (no tags: for tagging new text); Tags is all zeros.
    let encodeForms (vocabulary: SequenceVocabulary) (forms: string[]) : EncodedSentence =
        { Words = forms |> Array.map (fun f -> vocabulary.Words.Lookup(f.ToLowerInvariant()))
          Shapes = forms |> Array.map (fun f -> vocabulary.Shapes.Lookup(shape f))
          Suffixes =
            forms |> Array.map (fun f ->
                Array.map2 (fun (v: Vocabulary) l -> v.Lookup(suffix l f)) vocabulary.Suffixes (Array.ofList vocabulary.Options.SuffixLengths))
          Tags = Array.zeroCreate forms.Length }

    /// A sentence as indices, with its tags (see `tagIndex`).
    let encode (vocabulary: SequenceVocabulary) (sentence: ConlluSentence) : EncodedSentence =
        let forms = sentence.Words |> Array.map (fun w -> w.Form)
        { encodeForms vocabulary forms with
            Tags = sentence.Words |> Array.map (tagOf vocabulary.Options.Tags >> tagIndex vocabulary sentence) }
