/// tools/EnergyFs.NotebookRunner: what the kernel's outputs become before they are committed.
module EnergyFs.Tests.Interactive.NotebookOutputsTests

open System.Text.Json.Nodes
open Expecto
open EnergyFs.NotebookRunner

let private display (mime: string) (text: string) =
    JsonNode.Parse(sprintf """{"output_type":"display_data","metadata":{},"data":{"%s":[%s]}}""" mime (JsonValue.Create(text).ToJsonString()))

let private notebook (cells: (string * JsonNode list) list) =
    let cell (source: string, outputs: JsonNode list) =
        JsonObject(dict [ "cell_type", (JsonValue.Create "code" :> JsonNode); "metadata", (JsonObject() :> JsonNode)
                          "source", (JsonValue.Create source :> JsonNode); "outputs", (JsonArray(Array.ofList outputs) :> JsonNode) ])
    JsonObject(dict [ "cells", (JsonArray([| for c in cells -> cell c :> JsonNode |]) :> JsonNode) ])

[<Tests>]
let tests =
    testList "NotebookRunner" [
        test "restore progress keeps its last display; machine paths become portable; Plotly JSON becomes JSON" {
            let paths = [ "/home/me/.nuget/packages", "~/.nuget/packages"; "/src/repo", ".." ]
            let outputs =
                JsonArray(
                    display "text/html" "<div><div><strong>Restore sources</strong></div><div><strong>Installing Packages</strong></div></div>",
                    display "text/html" "<div><div><strong>Restore sources</strong><ul><li><span> /src/repo/artifacts/packages</span></li></ul></div><div><strong>Installed Packages</strong></div></div>",
                    display "text/plain" "Loading extension script from `/home/me/.nuget/packages/energyfs.interactive/0.1.0/x.dib`",
                    display "text/plain" "",
                    display "application/vnd.plotly.v1+json" """{"data":[]}""")
            let kept = NotebookOutputs.normalize paths outputs
            let text = kept.ToJsonString()
            Expect.equal kept.Count 3 "the last restore display, the extension line and the chart"
            Expect.stringContains text "../artifacts/packages" "the repository path made relative"
            Expect.stringContains text "~/.nuget/packages/energyfs.interactive" "the packages folder made portable"
            Expect.isFalse (text.Contains "Installing Packages") "progress dropped"
            Expect.isTrue (kept[2]["data"]["application/vnd.plotly.v1+json"] :? JsonObject) "the figure stored as a JSON object"
        }
        test "errors name the cell by number and first line; merge stamps each code cell with its source" {
            let error = JsonNode.Parse("""{"output_type":"error","ename":"Error","evalue":"input.fsx (1,1): boom","traceback":[]}""")
            let ran = notebook [ "let a = 1", []; "// comment\nfailwith \"boom\"", [ error ] ]
            let committed = notebook [ "let a = 1", []; "// comment\nfailwith \"boom\"", [] ]
            let merged = NotebookOutputs.merge [] committed ran
            Expect.equal (NotebookOutputs.errors merged) [ "cell 2 (failwith \"boom\")", "Error: input.fsx (1,1): boom" ] "the failing cell named"
            let cells = NotebookFile.cells merged
            Expect.equal (NotebookFile.storedStamp cells[0]) (Some (NotebookFile.sourceStamp "let a = 1")) "stamped"
            let count = (cells[1]["execution_count"]).GetValue<int>()
            Expect.equal count 2 "execution counts"
            let edited = notebook [ "let a = 2", []; "x", [] ]
            Expect.throws (fun () -> NotebookOutputs.merge [] edited ran |> ignore) "an executed notebook from another source is refused"
        }
        test "machine paths left in outputs are found" {
            let nb = notebook [ "printfn \"%s\" __SOURCE_DIRECTORY__", [ display "text/plain" "/src/repo/notebooks" ] ]
            Expect.equal (NotebookOutputs.machinePaths [ "/src/repo"; "/home/me" ] nb) [ "cell 1 (printfn \"%s\" __SOURCE_DIRECTORY__)", "/src/repo" ] "found"
        }
    ]
