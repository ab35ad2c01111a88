/// The reproduction catalogue: selecting papers by id, and finding an experiment by id.
module EnergyFs.Tests.Reproduction.CatalogueTests

open System
open Expecto
open EnergyFs.Papers.Reproduction

[<Tests>]
let tests =
    testList "Reproduction.Catalogue" [
        testCase "papers are selected by id, several by commas, in catalogue order" <| fun () ->
            let ids which = Catalogue.select true which |> List.map (fun p -> p.Id)
            Expect.equal (ids "all") Catalogue.paperIds "all"
            Expect.equal (ids "dual") [ "dual" ] "one"
            Expect.equal (ids "spen, fy,dual") [ "fy"; "dual"; "spen" ] "several, catalogue order"
            let message = try Catalogue.select true "fy,nope" |> ignore; "accepted" with :? ArgumentException as e -> e.Message
            Expect.stringContains message "nope" "names the unknown id"
            Expect.stringContains message "regression" "lists the known ones"
        testCase "every experiment id is unique in both configurations, and the quick ones exist in the full catalogue" <| fun () ->
            for quick in [ true; false ] do
                let ids = Catalogue.papers quick |> List.collect (fun p -> p.Experiments |> List.map (fun e -> e.Id))
                Expect.equal (List.distinct ids).Length ids.Length (sprintf "unique ids (quick = %b)" quick)
            for p in Catalogue.papers true do
                for e in p.Experiments do
                    Expect.equal (Catalogue.experiment false e.Id).Id e.Id (sprintf "%s in the full catalogue" e.Id)
        testCase "only: experiment ids matched whole, * for any text; papers without a match dropped; nothing matched is an error" <| fun () ->
            let ids patterns = Catalogue.only patterns (Catalogue.papers false) |> List.collect (fun p -> p.Experiments |> List.map (fun e -> e.Id))
            Expect.equal (ids "regression-yacht-joint-s07") [ "regression-yacht-joint-s07" ] "one unit"
            Expect.equal (ids "regression-yacht-*-s07") [ "regression-yacht-mdn-s07"; "regression-yacht-teacher-s07"; "regression-yacht-joint-s07" ] "one split, every method"
            Expect.equal (ids "regression-energy-joint-s*").Length 20 "one method on all 20 splits"
            Expect.throwsT<ArgumentException> (fun () -> ids "regression-yacht-joint-s0" |> ignore) "whole ids only: a prefix matches nothing"
            Expect.equal (Catalogue.only "regression-toy1-*, dual-feature" (Catalogue.papers false) |> List.map (fun p -> p.Id)) [ "dual"; "regression" ] "two papers"
            Expect.throwsT<ArgumentException> (fun () -> ids "nothing-*" |> ignore) "no match"
    ]
