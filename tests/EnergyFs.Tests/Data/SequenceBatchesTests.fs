module EnergyFs.Tests.Data.SequenceBatchesTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Tests.Generators

/// A sentence of the given forms, all tagged NOUN (XPOS NN).
let private sentence (forms: string list) =
    { SentenceId = ""; Line = 1
      Words = forms |> List.mapi (fun i f -> { Id = i + 1; Form = f; Upos = "NOUN"; Xpos = "NN" }) |> Array.ofList }

let private training =
    [| sentence [ "The"; "cats"; "sat" ]; sentence [ "the"; "dogs"; "sat"; "." ]; sentence [ "Cats"; "ran" ] |]

/// Encoded sentences of random lengths 1..12 (word index = position + 2).
let private randomSentences (seed: int64) (n: int) =
    let r = Random(int seed)
    Array.init n (fun _ ->
        let len = r.Next(1, 13)
        { Words = Array.init len (fun i -> i + 2); Shapes = Array.create len 2; Suffixes = Array.init len (fun i -> [| i; i + 1 |])
          Tags = Array.init len (fun i -> i % 3) })

[<Tests>]
let tests =
    testList "Data.SequenceBatches" [
        test "word shapes and suffixes" {
            Expect.equal (SequenceVocabulary.shape "McDonald's") "XxXxx'x" "shape of McDonald's"
            Expect.equal (SequenceVocabulary.shape "1984") "dd" "runs cut to two"
            Expect.equal (SequenceVocabulary.shape "U.S.") "X.X." "punctuation kept"
            Expect.equal (SequenceVocabulary.suffix 3 "Running") "ing" "lowercased suffix"
            Expect.equal (SequenceVocabulary.suffix 3 "Up") "up" "short words are their own suffix"
        }
        test "the vocabulary keeps frequent lowercased words; rare and unseen words are unknown (index 1)" {
            let v = SequenceVocabulary.build SequenceVocabularyOptions.defaults training
            Expect.equal (v.Words.Items[0 .. 1]) [| "<pad>"; "<unk>" |] "reserved entries"
            Expect.equal (set (v.Words.Items[2..])) (set [ "the"; "cats"; "sat" ]) "words seen twice (case folded)"
            let e = SequenceVocabulary.encodeForms v [| "THE"; "dogs"; "zebra" |]
            Expect.equal (e.Words[1 ..]) [| 1; 1 |] "seen once and unseen words are unknown"
            Expect.notEqual (e.Suffixes[1][0]) 1 "but the suffix 's' of 'dogs' is known"
            Expect.equal (v.Tags) Upos.tags "UPOS tag set"
            Expect.equal (SequenceVocabulary.encode v training[0]).Tags [| 7; 7; 7 |] "NOUN is tag 7"
            let x = SequenceVocabulary.build { SequenceVocabularyOptions.defaults with Tags = XposTags } training
            Expect.equal x.Tags [| "NN" |] "XPOS tag set from the training data"
            let unseen = { sentence [ "a" ] with Words = [| { Id = 1; Form = "a"; Upos = "DET"; Xpos = "DT" } |] }
            Expect.throwsT<ArgumentException> (fun () -> SequenceVocabulary.encode x unseen |> ignore) "an unseen XPOS tag fails"
        }
        property "bucketed batches cover every sentence once, are padded prefixes, and repeat for a seed" (fun (Seed s) ->
            let sentences = randomSentences s 23
            let run seed =
                use rng = new Rng(seed, torch.CPU)
                [ for b in SequenceBatches.bucketed rng torch.CPU 5 sentences do
                    use batch = b
                    let lengths = batch.Mask.sum(1L, false, torch.ScalarType.Int64).data<int64>().ToArray() |> Array.map int
                    Expect.equal lengths batch.Lengths "mask rows hold the lengths"
                    Expect.equal batch.Words.shape [| int64 batch.Indices.Length; int64 (Array.max lengths) |] "[B, T], T the longest"
                    Expect.equal batch.Suffixes.shape[2] 2L "[B, T, S]"
                    let words = batch.Words.data<int64>().ToArray()
                    let t = int batch.Words.shape[1]
                    batch.Indices |> Array.iteri (fun row i ->
                        for j in 0 .. t - 1 do
                            let expected = if j < sentences[i].Length then int64 sentences[i].Words[j] else 0L
                            Expect.equal words[row * t + j] expected "words then padding 0")
                    yield batch.Indices ]
            let first = run s
            Expect.equal (first |> Array.concat |> Array.sort) [| 0 .. 22 |] "every sentence once"
            Expect.equal (run s) first "same seed, same batches"
            let spread = first |> List.map (fun idx -> idx |> Array.map (fun i -> sentences[i].Length) |> fun ls -> Array.max ls - Array.min ls)
            Expect.isLessThanOrEqual (List.sum spread) 12 "buckets group similar lengths")
        test "sequential batches keep the order; empty sentences are refused" {
            let sentences = randomSentences 3L 7
            let order = [ for b in SequenceBatches.sequential torch.CPU 3 sentences do use b = b in yield! b.Indices ]
            Expect.equal order [ 0 .. 6 ] "in order"
            let empty = { sentences[0] with Words = [||]; Shapes = [||]; Suffixes = [||]; Tags = [||] }
            Expect.throwsT<ArgumentException> (fun () -> SequenceBatches.make torch.CPU [| empty |] [| 0 |] |> ignore) "no word"
        }
    ]
