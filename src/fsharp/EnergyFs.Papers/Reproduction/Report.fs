namespace EnergyFs.Papers.Reproduction

open System
open System.IO
open System.Net
open System.Text
open EnergyFs

open EnergyFs.Papers.Reports
/// The facts a report states about its run besides the results.
type ReportInfo =
    { /// The report's heading.
      Title: string
      /// The command line that produced it.
      Command: string
      /// "quick" or "full".
      Mode: string
      /// When the report was written.
      Date: DateTimeOffset
      /// The seeds every experiment ran with.
      Seeds: int list
      /// Versions, device, threads, cores (EnergyFs.About.describe).
      Environment: (string * string) list
      /// Wall time of the whole run in seconds (cached runs cost almost nothing).
      WallSeconds: float
      /// CPU time of the whole run in seconds (all threads; on a shared machine the wall time
      /// overstates what a dedicated one needs, the CPU time does not).
      CpuSeconds: float }

/// The reproduction report: one Markdown file and one HTML page with the same content (results
/// table per paper beside the published numbers, the headline checks ✓/✗, links to the charts,
/// wall time per experiment, seeds, versions, device), and the charts as self-contained Plotly
/// HTML files in `charts/` next to them, linked relatively.
[<RequireQualifiedAccess>]
module Report =

    /// ✓, ✗, or — (not measured).
    let mark (passed: bool option) = match passed with Some true -> "✓" | Some false -> "✗" | None -> "—"

    /// The relative path of a chart file: `charts/<paper>-<stem>.html`.
    let chartPath (paperId: string) (stem: string) = sprintf "charts/%s-%s.html" paperId stem

    let private checksOf (p: PaperResult) = match p.Summary with Ok s -> s.Checks | Error _ -> []

    /// (passed, total) over every headline check.
    let tally (results: PaperResult list) =
        let all = results |> List.collect checksOf
        all |> List.filter (fun c -> c.Passed = Some true) |> List.length, all.Length

    /// Every failed run and summary as (where, message).
    let failures (results: PaperResult list) : (string * string) list =
        [ for p in results do
            for e in p.Experiments do
                for r in e.Runs do
                    match r.Error with
                    | Some m -> yield sprintf "%s seed %d" e.Spec.Id r.Seed, m
                    | None -> ()
            match p.Summary with
            | Error m -> yield sprintf "summary of %s" p.Paper.Id, m
            | Ok _ -> () ]

    /// Wall seconds (sum over seeds), whether all seeds came from the cache, and a status word.
    let private runRow (e: ExperimentResult) =
        let seconds = e.Runs |> List.sumBy (fun r -> r.Seconds)
        let cpuSeconds = e.Runs |> List.sumBy (fun r -> r.CpuSeconds)
        let cached = e.Runs |> List.forall (fun r -> r.Cached)
        let failedCount = e.Runs |> List.filter (fun r -> r.Error.IsSome) |> List.length
        let status = if failedCount = 0 then "ok" elif failedCount = e.Runs.Length then "failed" else sprintf "%d of %d seeds failed" failedCount e.Runs.Length
        [ e.Spec.Id; e.Spec.Title; (e.Runs |> List.map (fun r -> string r.Seed) |> String.concat ", "); sprintf "%.1f" seconds; (if Double.IsNaN cpuSeconds then "—" else sprintf "%.1f" cpuSeconds)
          (if cached then "yes" elif e.Runs |> List.exists (fun r -> r.Cached) then "partly" else "no"); status ]

    /// Wall and CPU seconds summed over every run as computed (cached runs count with the time
    /// they took when they were computed).
    let computeSeconds (results: PaperResult list) =
        let runs = results |> List.collect (fun p -> p.Experiments |> List.collect (fun e -> e.Runs))
        runs |> List.sumBy (fun r -> r.Seconds), runs |> List.sumBy (fun r -> if Double.IsNaN r.CpuSeconds then 0.0 else r.CpuSeconds)

    let private runColumns = [ "experiment"; "what"; "seeds"; "wall (s)"; "CPU (s)"; "from cache"; "status" ]

    // ---- Markdown ------------------------------------------------------------------------------

    let private mdCell (s: string) = s.Replace("|", "\\|").Replace("\n", " ")

    let private mdTable (columns: string list) (rows: string list list) =
        let line (cells: string list) = "| " + String.Join(" | ", cells |> List.map mdCell) + " |"
        String.Join("\n", [ line columns; "|" + String.replicate columns.Length "---|" ] @ (rows |> List.map line))

    /// The report as Markdown.
    let markdown (info: ReportInfo) (results: PaperResult list) : string =
        let sb = StringBuilder()
        let add (s: string) = sb.AppendLine s |> ignore
        let passed, total = tally results
        add (sprintf "# %s" info.Title)
        add ""
        add (sprintf "- date: %s" (info.Date.ToString "yyyy-MM-dd HH:mm:ss 'UTC'zzz"))
        add (sprintf "- command: `%s`" info.Command)
        add (sprintf "- mode: %s; seeds: %s" info.Mode (info.Seeds |> List.map string |> String.concat ", "))
        add (sprintf "- total wall time: %.1f s; CPU time: %.1f s" info.WallSeconds info.CpuSeconds)
        add (sprintf "- experiments as computed (cached ones included): %.1f s wall, %.1f s CPU" (fst (computeSeconds results)) (snd (computeSeconds results)))
        add (sprintf "- headline checks passed: %d of %d" passed total)
        add ""
        add "## Environment"
        add ""
        add (mdTable [ "what"; "value" ] (info.Environment |> List.map (fun (k, v) -> [ k; v ])))
        add ""
        add "## Headline checks"
        add ""
        add (mdTable [ "paper"; "claim"; "holds"; "numbers" ]
                     [ for p in results do for c in checksOf p -> [ p.Paper.Id; c.Claim; mark c.Passed; c.Evidence ] ])
        for p in results do
            add ""
            add (sprintf "## %s" p.Paper.Title)
            add ""
            add (sprintf "%s" p.Paper.Reference)
            add ""
            match p.Summary with
            | Error m -> add (sprintf "**The summary could not be computed:** %s" m)
            | Ok s ->
                for t in s.Tables do
                    add (sprintf "**%s**" t.Caption)
                    add ""
                    add (mdTable t.Columns t.Rows)
                    add ""
                for c in s.Checks do add (sprintf "- %s %s (%s)" (mark c.Passed) c.Claim c.Evidence)
                if not s.Charts.IsEmpty then
                    add ""
                    add ("Charts: " + String.Join(", ", s.Charts |> List.map (fun (stem, _) -> sprintf "[%s](%s)" stem (chartPath p.Paper.Id stem))))
                for n in s.Notes do
                    add ""
                    add n
            add ""
            add (mdTable runColumns (p.Experiments |> List.map runRow))
        let fails = failures results
        if not fails.IsEmpty then
            add ""
            add "## Failures"
            add ""
            for where, m in fails do add (sprintf "- %s: %s" where m)
        sb.ToString()

    // ---- HTML ----------------------------------------------------------------------------------

    let private h (s: string) = WebUtility.HtmlEncode s

    let private htmlTable (columns: string list) (rows: string list list) =
        let sb = StringBuilder("<table><thead><tr>")
        for c in columns do sb.Append(sprintf "<th>%s</th>" (h c)) |> ignore
        sb.Append("</tr></thead><tbody>") |> ignore
        for r in rows do
            sb.Append("<tr>") |> ignore
            for c in r do sb.Append(sprintf "<td>%s</td>" (h c)) |> ignore
            sb.Append("</tr>") |> ignore
        sb.Append("</tbody></table>").ToString()

    let private style =
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        + "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        + "th{background:#f3f3f3}.pass{color:#080}.fail{color:#b00}.none{color:#888}"
        + "iframe{max-width:100%;border:1px solid #ddd;margin:0.5em 0;display:block}code{background:#f3f3f3;padding:1px 4px}"

    /// The size of every report chart (pixels): each chart is drawn at this size, and its frame is this
    /// size plus the chart page's margins, so no axis label is cut and nothing scrolls inside the frame.
    let chartSize = 960, 460

    /// The frame of a chart of `chartSize`: the chart plus the chart page's body margin (8 px a side)
    /// and 4 px of slack.
    let frameSize = let w, h = chartSize in w + 20, h + 20

    /// The report as an HTML page (the same content as `markdown`; charts embedded as iframes of the
    /// chart files, by relative path).
    let html (info: ReportInfo) (results: PaperResult list) : string =
        let sb = StringBuilder()
        let add (s: string) = sb.AppendLine s |> ignore
        let cls (p: bool option) = match p with Some true -> "pass" | Some false -> "fail" | None -> "none"
        let passed, total = tally results
        add "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        add (sprintf "<title>%s</title><style>%s</style></head><body>" (h info.Title) style)
        add (sprintf "<h1>%s</h1><ul>" (h info.Title))
        add (sprintf "<li>date: %s</li>" (h (info.Date.ToString "yyyy-MM-dd HH:mm:ss 'UTC'zzz")))
        add (sprintf "<li>command: <code>%s</code></li>" (h info.Command))
        add (sprintf "<li>mode: %s; seeds: %s</li>" (h info.Mode) (h (info.Seeds |> List.map string |> String.concat ", ")))
        add (sprintf "<li>total wall time: %.1f s; CPU time: %.1f s</li>" info.WallSeconds info.CpuSeconds)
        add (sprintf "<li>experiments as computed (cached ones included): %.1f s wall, %.1f s CPU</li>" (fst (computeSeconds results)) (snd (computeSeconds results)))
        add (sprintf "<li>headline checks passed: %d of %d</li></ul>" passed total)
        add "<h2>Environment</h2>"
        add (htmlTable [ "what"; "value" ] (info.Environment |> List.map (fun (k, v) -> [ k; v ])))
        add "<h2>Headline checks</h2><table><thead><tr><th>paper</th><th>claim</th><th>holds</th><th>numbers</th></tr></thead><tbody>"
        for p in results do
            for c in checksOf p do
                add (sprintf "<tr><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td></tr>" (h p.Paper.Id) (h c.Claim) (cls c.Passed) (mark c.Passed) (h c.Evidence))
        add "</tbody></table>"
        for p in results do
            add (sprintf "<h2>%s</h2><p>%s</p>" (h p.Paper.Title) (h p.Paper.Reference))
            match p.Summary with
            | Error m -> add (sprintf "<p class=\"fail\"><b>The summary could not be computed:</b> %s</p>" (h m))
            | Ok s ->
                for t in s.Tables do
                    add (sprintf "<p><b>%s</b></p>" (h t.Caption))
                    add (htmlTable t.Columns t.Rows)
                add "<ul>"
                for c in s.Checks do add (sprintf "<li><span class=\"%s\">%s</span> %s (%s)</li>" (cls c.Passed) (mark c.Passed) (h c.Claim) (h c.Evidence))
                add "</ul>"
                for stem, _ in s.Charts do
                    let path = chartPath p.Paper.Id stem
                    let w, ht = frameSize
                    add (sprintf "<p><a href=\"%s\">%s</a></p><iframe src=\"%s\" loading=\"lazy\" style=\"width:%dpx;height:%dpx\"></iframe>" (h path) (h stem) (h path) w ht)
                for n in s.Notes do add (sprintf "<p>%s</p>" (h n))
            add (htmlTable runColumns (p.Experiments |> List.map runRow))
        let fails = failures results
        if not fails.IsEmpty then
            add "<h2>Failures</h2><ul>"
            for where, m in fails do add (sprintf "<li class=\"fail\">%s: %s</li>" (h where) (h m))
            add "</ul>"
        add "</body></html>"
        sb.ToString()

    let private writeAtomically (path: string) (text: string) =
        let temp = path + ".tmp"
        File.WriteAllText(temp, text)
        File.Move(temp, path, true)

    /// Writes `report.md`, `report.html` and the charts (`charts/*.html`) into `dir`; returns the
    /// paths of the two report files.
    let write (dir: string) (info: ReportInfo) (results: PaperResult list) : string * string =
        Directory.CreateDirectory dir |> ignore
        for p in results do
            match p.Summary with
            | Ok s ->
                for stem, chart in s.Charts do
                    chart |> Charts.sized chartSize |> Charts.saveHtml (Path.Combine(dir, chartPath p.Paper.Id stem))
            | Error _ -> ()
        let md, page = Path.Combine(dir, "report.md"), Path.Combine(dir, "report.html")
        writeAtomically md (markdown info results)
        writeAtomically page (html info results)
        md, page
