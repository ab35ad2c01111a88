namespace EnergyFs.Papers.Reproduction

open System
open System.Globalization
open System.Text.Json
open System.Text.Json.Nodes
open Microsoft.FSharp.Reflection
open EnergyFs
open EnergyFs.Training

/// One settable value of an experiment's settings: its dotted path, its type and its current value.
type SettingLeaf =
    { /// Dotted path from a part's name, for example `setup.EnergyHidden`.
      Path: string
      /// The type in words (`int`, `float`, `int list`, `Schedule`, `one of A | B`, with `option`).
      Type: string
      /// The current value as F# prints it.
      Value: string }

/// Reading and changing an experiment's settings by dotted path (`setup.EnergyHidden`,
/// `settings.ssvm.Ssvm.Optimizer.LearningRate`): a segment names a record field, a union case's
/// field (of the case the value holds), or a tuple item (`Item1`…); an option that holds a value is
/// entered transparently. Values come as JSON: numbers for int / int64 / float / float32 (an
/// integer field takes only integral numbers), true/false, strings, arrays for lists and arrays, a
/// case name for a union whose cases carry no fields, null for None, and a number for a learning-rate
/// `Schedule` (a constant rate). Records are rebuilt, never mutated. Segment names match without
/// regard to case; an unknown one fails naming the path and the names that exist there.
/// (Hand-written over FSharp.Reflection: the settings are F# records and unions, which no general
/// configuration binder of .NET constructs.)
[<RequireQualifiedAccess>]
module SettingPaths =

    let private isOption (t: Type) = t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<option<_>>
    let private isList (t: Type) = t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<list<_>>
    let private isFunction (t: Type) = FSharpType.IsFunction t
    let private isPlainUnion (t: Type) = FSharpType.IsUnion t && not (isOption t) && not (isList t)
    let private fieldlessUnion (t: Type) = isPlainUnion t && FSharpType.GetUnionCases t |> Array.forall (fun c -> c.GetFields().Length = 0)
    let private scalars = [ typeof<int>; typeof<int64>; typeof<float>; typeof<float32>; typeof<bool>; typeof<string> ]

    let rec private typeName (t: Type) : string =
        if t = typeof<int> then "int" elif t = typeof<int64> then "int64" elif t = typeof<float> then "float"
        elif t = typeof<float32> then "float32" elif t = typeof<bool> then "bool" elif t = typeof<string> then "string"
        elif isOption t then typeName (t.GetGenericArguments()[0]) + " option"
        elif isList t then typeName (t.GetGenericArguments()[0]) + " list"
        elif t.IsArray then typeName (t.GetElementType()) + "[]"
        elif fieldlessUnion t then "one of " + String.Join(" | ", FSharpType.GetUnionCases t |> Array.map (fun c -> c.Name))
        else t.Name

    /// Whether a value of this type can be set as a whole from JSON.
    let rec private settable (t: Type) =
        List.contains t scalars || t = typeof<Schedule> || fieldlessUnion t
        || (isOption t && settable (t.GetGenericArguments()[0]))
        || (isList t && settable (t.GetGenericArguments()[0]))
        || (t.IsArray && settable (t.GetElementType()))

    let private text (v: obj) = if isNull v then "None" else ResultCache.describe v

    let private fail (path: string) (message: string) : 'a = Checks.fail "sweep parameter" (sprintf "'%s': %s" path message)

    /// The JSON value converted to type t (the path names the setting in errors).
    let rec convert (path: string) (t: Type) (json: JsonNode) : obj =
        let kind = if isNull json then JsonValueKind.Null else json.GetValueKind()
        let expected () = fail path (sprintf "expects %s, got %s" (typeName t) (if isNull json then "null" else json.ToJsonString()))
        if isOption t then
            if kind = JsonValueKind.Null then null
            else
                let inner = convert path (t.GetGenericArguments()[0]) json
                FSharpValue.MakeUnion(FSharpType.GetUnionCases(t)[1], [| inner |])
        elif kind = JsonValueKind.Null then expected ()
        elif t = typeof<Schedule> then
            if kind = JsonValueKind.Number then box (Schedule.constant (json.GetValue<float>())) else expected ()
        elif t = typeof<float> || t = typeof<float32> then
            if kind <> JsonValueKind.Number then expected ()
            let v = json.GetValue<float>()
            if t = typeof<float> then box v else box (float32 v)
        elif t = typeof<int> || t = typeof<int64> then
            if kind <> JsonValueKind.Number then expected ()
            let v = json.GetValue<float>()
            if v <> Math.Round v || abs v > 9.0e15 then fail path (sprintf "expects an integer (%s), got %s" (typeName t) (json.ToJsonString()))
            if t = typeof<int> then
                if v > float Int32.MaxValue || v < float Int32.MinValue then expected ()
                box (int v)
            else box (int64 v)
        elif t = typeof<bool> then
            match kind with
            | JsonValueKind.True -> box true
            | JsonValueKind.False -> box false
            | _ -> expected ()
        elif t = typeof<string> then
            if kind = JsonValueKind.String then box (json.GetValue<string>()) else expected ()
        elif isList t || t.IsArray then
            if kind <> JsonValueKind.Array then expected ()
            let element = if t.IsArray then t.GetElementType() else t.GetGenericArguments()[0]
            let items = json.AsArray() |> Seq.mapi (fun i n -> convert (sprintf "%s[%d]" path i) element n) |> Array.ofSeq
            if t.IsArray then
                let a = Array.CreateInstance(element, items.Length)
                items |> Array.iteri (fun i v -> a.SetValue(v, i))
                box a
            else
                let cases = FSharpType.GetUnionCases t
                let empty = cases |> Array.find (fun c -> c.Name = "Empty")
                let cons = cases |> Array.find (fun c -> c.Name = "Cons")
                Array.foldBack (fun v tail -> FSharpValue.MakeUnion(cons, [| v; tail |])) items (FSharpValue.MakeUnion(empty, [||]))
        elif fieldlessUnion t then
            if kind <> JsonValueKind.String then expected ()
            let name = json.GetValue<string>()
            match FSharpType.GetUnionCases t |> Array.tryFind (fun c -> String.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)) with
            | Some c -> FSharpValue.MakeUnion(c, [||])
            | None -> expected ()
        elif isPlainUnion t then
            fail path (sprintf "is a %s (case with fields): set its fields by path (%s.<field>) or choose the case in the experiment's code" t.Name path)
        elif isFunction t then fail path "is a function: a sweep sets data only"
        else fail path (sprintf "a value of type %s cannot be set from a sweep file" t.Name)

    /// The named children of a value: (name, declared type, value), and how to rebuild the value
    /// from new children; None for a leaf.
    let private children (t: Type) (v: obj) : ((string * Type * obj) list * (obj list -> obj)) option =
        if FSharpType.IsRecord(t, Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic) then
            let fields = FSharpType.GetRecordFields(t, Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic)
            let values = FSharpValue.GetRecordFields(v, Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic)
            Some ([ for f, x in Array.zip fields values -> f.Name, f.PropertyType, x ],
                  fun xs -> FSharpValue.MakeRecord(t, Array.ofList xs, Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic))
        elif FSharpType.IsTuple t then
            let types = FSharpType.GetTupleElements t
            let values = FSharpValue.GetTupleFields v
            Some ([ for i in 0 .. types.Length - 1 -> sprintf "Item%d" (i + 1), types[i], values[i] ], fun xs -> FSharpValue.MakeTuple(Array.ofList xs, t))
        elif isPlainUnion t && not (fieldlessUnion t) then
            let case, values = FSharpValue.GetUnionFields(v, t)
            let fields = case.GetFields()
            Some ([ for f, x in Array.zip fields values -> f.Name, f.PropertyType, x ], fun xs -> FSharpValue.MakeUnion(case, Array.ofList xs))
        else None

    let rec private setIn (path: string) (segments: string list) (t: Type) (v: obj) (json: JsonNode) : obj =
        match segments with
        | [] -> convert path t json
        | segment :: rest ->
            if isOption t then
                if isNull v then fail path (sprintf "goes through an option that is None here (at '%s'): set the whole option instead" segment)
                let inner = t.GetGenericArguments()[0]
                let value = t.GetProperty("Value").GetValue v
                FSharpValue.MakeUnion(FSharpType.GetUnionCases(t)[1], [| setIn path segments inner value json |])
            else
                match children t v with
                | None -> fail path (sprintf "'%s' is not a field: the value there is a %s" segment (typeName t))
                | Some (kids, rebuild) ->
                    match kids |> List.tryFindIndex (fun (n, _, _) -> String.Equals(n, segment, StringComparison.OrdinalIgnoreCase)) with
                    | None ->
                        fail path (sprintf "no '%s' in %s (it has %s)" segment (typeName t) (String.Join(", ", kids |> List.map (fun (n, _, _) -> n))))
                    | Some i ->
                        kids |> List.mapi (fun j (_, kt, kv) -> if i = j then setIn path rest kt kv json else kv) |> rebuild

    let private split (path: string) =
        if String.IsNullOrWhiteSpace path then Checks.fail "sweep parameter" "an empty path"
        path.Split('.') |> List.ofArray |> List.map (fun s -> s.Trim())

    /// The parts with the value at `path` replaced by the JSON value (converted to its type).
    let set (path: string) (json: JsonNode) (parts: (string * Type * obj) list) : (string * Type * obj) list =
        match split path with
        | head :: rest ->
            match parts |> List.tryFindIndex (fun (n, _, _) -> String.Equals(n, head, StringComparison.OrdinalIgnoreCase)) with
            | None -> fail path (sprintf "no part '%s' (the experiment's settings are %s)" head (String.Join(", ", parts |> List.map (fun (n, _, _) -> n))))
            | Some i -> parts |> List.mapi (fun j (n, t, v) -> if i = j then n, t, setIn path rest t v json else n, t, v)
        | [] -> fail path "an empty path"

    /// Every settable value under the parts, depth first, with its path, type and current value.
    let leaves (parts: (string * Type * obj) list) : SettingLeaf list =
        let rec walk (path: string) (t: Type) (v: obj) : SettingLeaf list =
            let self = if settable t then [ { Path = path; Type = typeName t; Value = text v } ] else []
            if isOption t then
                if isNull v || settable t then self
                else walk path (t.GetGenericArguments()[0]) (t.GetProperty("Value").GetValue v)
            elif settable t then self
            else
                match children t v with
                | Some (kids, _) -> kids |> List.collect (fun (n, kt, kv) -> walk (path + "." + n) kt kv)
                | None -> []
        parts |> List.collect (fun (n, t, v) -> walk n t v)
