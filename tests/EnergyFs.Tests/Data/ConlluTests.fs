module EnergyFs.Tests.Data.ConlluTests

open System
open System.IO
open System.IO.Compression
open System.Text
open Expecto
open EnergyFs
open EnergyFs.Data
open EnergyFs.Tests
open EnergyFs.Tests.Data.Fixtures

/// A CoNLL-U line with the given ID, FORM, UPOS and XPOS (the other columns filled in).
let private line (id: string) (form: string) (upos: string) (xpos: string) =
    String.Join("\t", [| id; form; form.ToLowerInvariant(); upos; xpos; "_"; "0"; "root"; "_"; "_" |])

/// Two sentences: the first with a multiword token and an empty node, the second plain.
let private sample =
    String.Join("\n",
        [ "# newdoc id = d1"
          "# sent_id = s-1"
          "# text = I don't know."
          line "1" "I" "PRON" "PRP"
          line "2-3" "don't" "_" "_"
          line "2" "do" "AUX" "VBP"
          line "3" "n't" "PART" "RB"
          line "4" "know" "VERB" "VB"
          line "4.1" "know" "VERB" "VB"
          line "5" "." "PUNCT" "."
          ""
          "# sent_id = s-2"
          line "1" "New York" "PROPN" "NNP"
          line "2" "!" "PUNCT" "."
          "" ])

[<Tests>]
let tests =
    testList "Data.Conllu" [
        test "reads words, UPOS and XPOS; skips multiword tokens, empty nodes and comments" {
            let sentences = Conllu.parse "sample.conllu" (new StringReader(sample))
            Expect.equal sentences.Length 2 "two sentences"
            Expect.equal sentences[0].SentenceId "s-1" "sent_id"
            Expect.equal (sentences[0].Words |> Array.map (fun w -> w.Form)) [| "I"; "do"; "n't"; "know"; "." |] "syntactic words only"
            Expect.equal (sentences[0].Words |> Array.map (fun w -> w.Upos)) [| "PRON"; "AUX"; "PART"; "VERB"; "PUNCT" |] "UPOS"
            Expect.equal (sentences[0].Words |> Array.map (fun w -> w.Xpos)) [| "PRP"; "VBP"; "RB"; "VB"; "." |] "XPOS"
            Expect.equal sentences[0].Line 4 "line of the first word"
            Expect.equal sentences[1].Words[0].Form "New York" "a form may contain a space"
        }
        test "a file without a final blank line, CRLF line ends, and several blank lines read the same" {
            let variant = sample.TrimEnd('\n').Replace("\n\n", "\n\n\n").Replace("\n", "\r\n")
            let a = Conllu.parse "a" (new StringReader(sample))
            let b = Conllu.parse "b" (new StringReader(variant))
            Expect.equal (b |> Array.map (fun s -> s.Words)) (a |> Array.map (fun s -> s.Words)) "same words"
        }
        test "malformed lines fail naming the file and the line" {
            let withLine (bad: string) = sample.Replace(line "4" "know" "VERB" "VB", bad)
            let parse text () = Conllu.parse "bad.conllu" (new StringReader(text))
            expectFormatError "bad.conllu" 8 "expected 10 tab-separated columns" (parse (withLine "4\tknow\tknow\tVERB")) |> ignore
            expectFormatError "bad.conllu" 8 "is not an integer" (parse (withLine (line "four" "know" "VERB" "VB"))) |> ignore
            expectFormatError "bad.conllu" 8 "'VRB' is not a UPOS tag" (parse (withLine (line "4" "know" "VRB" "VB"))) |> ignore
            expectFormatError "bad.conllu" 8 "out of order" (parse (withLine (line "5" "know" "VERB" "VB"))) |> ignore
            expectFormatError "bad.conllu" 8 "FORM column is empty" (parse (withLine (line "4" "" "VERB" "VB"))) |> ignore
        }
        test "reads gzip-compressed files like plain ones, and names a missing file" {
            use dir = new TempDir()
            let plain = dir.Write "x-ud-dev.conllu" sample
            let gz = Path.Combine(dir.Path, "y-ud-test.conllu.gz")
            do
                use stream = File.Create gz
                use zip = new GZipStream(stream, CompressionLevel.Fastest)
                let bytes = Encoding.UTF8.GetBytes sample
                zip.Write(bytes, 0, bytes.Length)
            Expect.equal (Conllu.read gz) (Conllu.read plain) "same sentences"
            Expect.equal (Conllu.readSplit dir.Path "test") (Conllu.read gz) "split file by name"
            let e = Expectations.raisesOf<FileNotFoundException> (fun () -> Conllu.readSplit dir.Path "train" |> ignore)
            Expect.stringContains e.Message "x-ud-dev.conllu" "lists the files there"
        }
        test "UD English EWT: sentence and word counts of the three splits (SOURCES.md)" {
            let folder = Conllu.englishEwt ()
            let counts split =
                let s = Conllu.readSplit folder split
                s.Length, s |> Array.sumBy (fun x -> x.Words.Length)
            Expect.equal (counts "train") (12544, 204577) "train"
            Expect.equal (counts "dev") (2001, 25147) "dev"
            Expect.equal (counts "test") (2077, 25094) "test"
        }
        test "Upos.tags holds the 17 universal tags" {
            Expect.equal Upos.tags.Length 17 "17 tags"
            Expect.equal (Upos.tryIndex "NOUN") (Some 7) "index of NOUN"
            Expect.isNone (Upos.tryIndex "NN") "a PTB tag is no UPOS tag"
        }
    ]
