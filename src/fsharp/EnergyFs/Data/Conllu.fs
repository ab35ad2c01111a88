namespace EnergyFs.Data

open System
open System.Collections.Generic
open System.IO
open System.IO.Compression
open System.Text
open EnergyFs

/// One syntactic word of a CoNLL-U sentence (the columns a tagger needs).
type ConlluWord =
    { /// The word index ID, 1-based within the sentence.
      Id: int
      /// FORM: the word form as it appears in the sentence (may contain spaces).
      Form: string
      /// UPOS: the universal part-of-speech tag, one of `Upos.tags`.
      Upos: string
      /// XPOS: the language-specific tag (for English EWT, the Penn Treebank tag), "_" when absent.
      Xpos: string }

/// One sentence of a CoNLL-U file: its syntactic words in order.
type ConlluSentence =
    { /// The `# sent_id = …` comment's value ("" when the sentence has none).
      SentenceId: string
      /// The 1-based line of the sentence's first word in its file (for messages).
      Line: int
      /// The syntactic words (multiword-token ranges and empty nodes left out).
      Words: ConlluWord[] }

/// The 17 universal part-of-speech tags of Universal Dependencies v2
/// (https://universaldependencies.org/u/pos/), in alphabetical order; the tag index of a UPOS
/// tagger is the position in `tags`.
[<RequireQualifiedAccess>]
module Upos =

    /// ADJ, ADP, ADV, AUX, CCONJ, DET, INTJ, NOUN, NUM, PART, PRON, PROPN, PUNCT, SCONJ, SYM, VERB, X.
    let tags =
        [| "ADJ"; "ADP"; "ADV"; "AUX"; "CCONJ"; "DET"; "INTJ"; "NOUN"; "NUM"; "PART"; "PRON"; "PROPN"
           "PUNCT"; "SCONJ"; "SYM"; "VERB"; "X" |]

    let private index = tags |> Array.mapi (fun i t -> t, i) |> dict

    /// The index of a UPOS tag in `tags`, or None when it is not a UPOS tag.
    let tryIndex (tag: string) : int option =
        match index.TryGetValue tag with
        | true, i -> Some i
        | _ -> None

/// A reader of the CoNLL-U format of Universal Dependencies (https://universaldependencies.org/format.html)
/// for tagging: sentences are separated by blank lines, `#` lines are comments (`# sent_id = …` is
/// kept), and every other line has 10 tab-separated fields ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD,
/// DEPREL, DEPS, MISC. Multiword-token lines (ID a range `n-m`, e.g. "don't" over "do" and "n't")
/// and empty nodes (ID a decimal `n.k`, enhanced-dependency ellipsis) are skipped: as the format
/// says, the syntactic words carry the tags. Word IDs must run 1, 2, 3, … within a sentence.
///
/// Plain files and gzip-compressed ones (`.gz`) are read. Every malformed line — a column count
/// other than 10, an ID that is not an integer (or a range or decimal), IDs out of order, an empty
/// FORM, a UPOS outside the 17 tags of `Upos.tags` — is a DataFormatException naming the file
/// and the 1-based line.
[<RequireQualifiedAccess>]
module Conllu =

    let private fail file line message : 'a = raise (DataFormatException(file, line, message))

    let private excerpt (s: string) = if s.Length <= 40 then s else s.Substring(0, 40) + "..."

    let private isDigits (s: string) = s.Length > 0 && s |> Seq.forall Char.IsAsciiDigit

    /// What an ID field is: a word index, a multiword range, or an empty node.
    type private IdKind =
        | Word of int
        | Range
        | Empty

    let private parseId file line (field: string) =
        let dash = field.IndexOf '-'
        let dot = field.IndexOf '.'
        if isDigits field then
            match Int32.TryParse field with
            | true, v when v >= 1 -> Word v
            | _ -> fail file line (sprintf "the ID '%s' must be a positive integer" (excerpt field))
        elif dash > 0 && isDigits (field.Substring(0, dash)) && isDigits (field.Substring(dash + 1)) then Range
        elif dot > 0 && isDigits (field.Substring(0, dot)) && isDigits (field.Substring(dot + 1)) then Empty
        else fail file line (sprintf "the ID '%s' is not an integer, a range n-m or a decimal n.k" (excerpt field))

    /// Parses CoNLL-U text from `reader`; `file` names the source in error messages.
    let parse (file: string) (reader: TextReader) : ConlluSentence[] =
        let sentences = ResizeArray<ConlluSentence>()
        let words = ResizeArray<ConlluWord>()
        let mutable sentenceId = ""
        let mutable firstLine = 0
        let mutable lineNumber = 0
        let mutable sawContent = false
        let flush () =
            if words.Count > 0 then
                sentences.Add { SentenceId = sentenceId; Line = firstLine; Words = words.ToArray() }
            elif sawContent then
                fail file lineNumber "the sentence that ends here has no word lines (only comments or multiword/empty-node lines)"
            words.Clear()
            sentenceId <- ""
            sawContent <- false
        let mutable line = reader.ReadLine()
        while not (isNull line) do
            lineNumber <- lineNumber + 1
            let text = line.TrimEnd('\r')
            if text.Trim().Length = 0 then flush ()
            elif text.StartsWith "#" then
                sawContent <- true
                let body = text.Substring(1).Trim()
                if body.StartsWith "sent_id" then
                    let eq = body.IndexOf '='
                    if eq > 0 then sentenceId <- body.Substring(eq + 1).Trim()
            else
                sawContent <- true
                let fields = text.Split '\t'
                if fields.Length <> 10 then
                    fail file lineNumber (sprintf "expected 10 tab-separated columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), got %d" fields.Length)
                match parseId file lineNumber fields[0] with
                | Range | Empty -> ()
                | Word id ->
                    if id <> words.Count + 1 then
                        fail file lineNumber (sprintf "word ID %d out of order: expected %d (IDs run 1, 2, 3, … within a sentence)" id (words.Count + 1))
                    if fields[1].Length = 0 then fail file lineNumber "the FORM column is empty"
                    let upos = fields[3]
                    if (Upos.tryIndex upos).IsNone then
                        fail file lineNumber (sprintf "'%s' is not a UPOS tag (expected one of %s)" (excerpt upos) (String.Join(" ", Upos.tags)))
                    if words.Count = 0 then firstLine <- lineNumber
                    words.Add { Id = id; Form = fields[1]; Upos = upos; Xpos = fields[4] }
            line <- reader.ReadLine()
        flush ()
        sentences.ToArray()

    /// Reads the CoNLL-U file at `path` (gzip-compressed when its name ends in `.gz`). Fails with
    /// FileNotFoundException when it is absent and DataFormatException naming the file and line
    /// when a line is malformed.
    let read (path: string) : ConlluSentence[] =
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "CoNLL-U file %s does not exist" path, path))
        use stream = File.OpenRead path
        use decompressed =
            if path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) then new GZipStream(stream, CompressionMode.Decompress) :> Stream
            else stream :> Stream
        use reader = new StreamReader(decompressed, UTF8Encoding(false))
        parse path reader

    /// The file of split `split` ("train", "dev" or "test") of a UD treebank folder: the file whose
    /// name ends in `-ud-<split>.conllu` or `-ud-<split>.conllu.gz` (e.g. en_ewt-ud-dev.conllu.gz).
    /// Fails with FileNotFoundException naming the folder and the files it holds.
    let splitFile (folder: string) (split: string) : string =
        let suffixes = [ sprintf "-ud-%s.conllu" split; sprintf "-ud-%s.conllu.gz" split ]
        let files = if Directory.Exists folder then Directory.GetFiles folder |> Array.sort else [||]
        match files |> Array.tryFind (fun f -> suffixes |> List.exists (fun s -> f.EndsWith s)) with
        | Some f -> f
        | None ->
            raise (FileNotFoundException(
                sprintf "no %s split (a file named *-ud-%s.conllu or .conllu.gz) in %s; it holds: %s"
                    split split folder (String.Join(", ", files |> Array.map Path.GetFileName))))

    /// The sentences of split `split` of the UD treebank in `folder` (see `splitFile`).
    let readSplit (folder: string) (split: string) : ConlluSentence[] = read (splitFile folder split)

    /// The UD English EWT treebank's folder in the data folder (`Paths.find "ud_english_ewt"`).
    let englishEwt () : string = Paths.find "ud_english_ewt"
