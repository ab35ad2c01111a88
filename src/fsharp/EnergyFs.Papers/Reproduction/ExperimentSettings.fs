namespace EnergyFs.Papers.Reproduction

open System
open System.Text.Json.Nodes
open Microsoft.FSharp.Reflection
open EnergyFs

/// Building experiments from named settings, and changing those settings by path (what
/// `energyfs sweep` does to an experiment of the catalogue).
[<RequireQualifiedAccess>]
module Experiment =

    /// The experiment `make settings`, carrying its settings so that a sweep can change them:
    /// `names` names the settings' parts — one name for a single value, or one per item when the
    /// settings are a tuple (for example `["data"; "setup"; "settings"]` for `(data, setup,
    /// settings)`). `make` gives the experiment with `Settings = None`; it is called again with the
    /// changed settings on every rebuild.
    let rec ofSettings (names: string list) (make: 'S -> ExperimentSpec) (settings: 'S) : ExperimentSpec =
        let t = typeof<'S>
        let parts =
            match names with
            | [ name ] -> [ name, t, box settings ]
            | _ when FSharpType.IsTuple t && FSharpType.GetTupleElements(t).Length = names.Length ->
                List.zip3 names (List.ofArray (FSharpType.GetTupleElements t)) (List.ofArray (FSharpValue.GetTupleFields(box settings)))
            | _ -> Checks.fail "names" (sprintf "%d names for settings of type %s: give one name, or one per tuple item" names.Length t.Name)
        let rebuild (values: obj list) =
            let s = match names with | [ _ ] -> unbox<'S> values.Head | _ -> unbox<'S> (FSharpValue.MakeTuple(Array.ofList values, t))
            ofSettings names make s
        { make settings with Settings = Some { Parts = parts; Rebuild = rebuild } }

    let private settingsOf (spec: ExperimentSpec) =
        match spec.Settings with
        | Some s -> s
        | None -> Checks.fail "experiment" (sprintf "experiment '%s' offers no settings to change" spec.Id)

    /// Every value of the experiment's settings that a sweep can set: path, type, current value.
    let settings (spec: ExperimentSpec) : SettingLeaf list = SettingPaths.leaves (settingsOf spec).Parts

    let private leafValue (path: string) (parts: (string * Type * obj) list) =
        SettingPaths.leaves parts
        |> List.tryFind (fun l -> String.Equals(l.Path, path, StringComparison.OrdinalIgnoreCase))
        |> Option.map (fun l -> l.Value)

    /// The experiment rebuilt with each (path, JSON value) set in its settings, in order. A value
    /// that changes the setting but not the experiment's configuration text (its cache key) is an
    /// error: the runs would be answered from one another's cache entries.
    let withValues (values: (string * JsonNode) list) (spec: ExperimentSpec) : ExperimentSpec =
        let s = settingsOf spec
        let parts =
            values |> List.fold (fun parts (path, json) ->
                let next = SettingPaths.set path json parts
                let before, after = leafValue path parts, leafValue path next
                if before <> after then
                    let probe = s.Rebuild (parts |> List.map (fun (_, _, v) -> v))
                    let changed = s.Rebuild (next |> List.map (fun (_, _, v) -> v))
                    if probe.Config = changed.Config then
                        Checks.fail "sweep parameter"
                            (sprintf "'%s' changes the setting but not experiment '%s''s configuration text (its cache key): it cannot be swept" path spec.Id)
                next) s.Parts
        s.Rebuild (parts |> List.map (fun (_, _, v) -> v))
