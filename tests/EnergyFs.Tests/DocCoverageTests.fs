/// Every public F# function, type, record field and union case of EnergyFs, and every public C#
/// member of EnergyFs.CSharp, has an XML doc summary: the XML documentation file next to each built
/// assembly is read and compared with the assembly's public surface found by reflection.
///
/// What counts as public surface (and why):
/// - every exported type (modules, records, unions, classes, interfaces, exceptions, delegates);
/// - in an F# module: every public function (method) and value (property);
/// - in a record or F# exception: every field; in a union: every case (the doc comment on `| Case`);
/// - in classes and interfaces: public methods, properties and events declared by the type, and in
///   the C# facade also public constructors with parameters (an F# primary constructor is documented
///   by the type's doc comment, so F# constructors are not required separately).
/// The cases of Argu argument unions (the CLI's) are left out: their Usage text documents each.
/// Left out, because the compiler writes them and nobody can put a doc comment on them: members
/// marked [CompilerGenerated], union testers/tags/factories (IsCase, Tag, NewCase, the case
/// classes and the Tags class), the members F# generates for records, unions and exceptions
/// (Equals, GetHashCode, CompareTo, ToString, Message), property accessors (the property is checked)
/// and overrides of inherited members (the base documents them).
/// Overloads are matched by name: one documented overload covers the others (F# modules have none).
module EnergyFs.Tests.DocCoverageTests

open System
open System.IO
open System.Reflection
open System.Xml.Linq
open Expecto
open Microsoft.FSharp.Core
open Microsoft.FSharp.Reflection
open EnergyFs.Tests.ReadmeTests

/// Namespace prefixes whose undocumented members would be listed but not fail the test. Empty: every
/// namespace of the library, the paper folders included, is held to the rule. A branch that adds a
/// new folder still being written may list its namespace here temporarily; it must be empty on main.
let pendingNamespaces : string list = []

/// The C# facade's undocumented members are listed but not failing while this is true (the facade
/// is reviewed on its own branch); set it to false once that branch has landed.
let facadePending = false

/// A public member without a doc summary: its XML documentation id and the namespace it lives in.
type Undocumented = { Id: string; Namespace: string }

/// The ids of the documented members of an XML documentation file, without parameter lists and
/// generic-arity suffixes of methods (so overloads and generic methods match by name). Members whose
/// documentation is empty do not count; `<inheritdoc/>` does.
let documentedIds (xmlPath: string) =
    let doc = XDocument.Load xmlPath
    doc.Descendants(XName.Get "member")
    |> Seq.filter (fun m -> m.Value.Trim() <> "" || m.Descendants(XName.Get "inheritdoc") |> Seq.isEmpty |> not)
    |> Seq.map (fun m ->
        let name = m.Attribute(XName.Get "name").Value
        let name = match name.IndexOf '(' with -1 -> name | i -> name.Substring(0, i)
        if name.StartsWith "M:" then Text.RegularExpressions.Regex.Replace(name, "``\d+$", "") else name)
    |> Set.ofSeq

let private docName (t: Type) = t.FullName.Replace('+', '.')

let private isCompilerGenerated (m: MemberInfo) =
    m.IsDefined(typeof<Runtime.CompilerServices.CompilerGeneratedAttribute>, false)

let private sourceFlags (m: MemberInfo) =
    m.GetCustomAttributes(typeof<CompilationMappingAttribute>, false)
    |> Array.map (fun a -> (a :?> CompilationMappingAttribute).SourceConstructFlags &&& SourceConstructFlags.KindMask)

let private isUnion (t: Type) = FSharpType.IsUnion(t, BindingFlags.Public ||| BindingFlags.NonPublic)
let private isRecord (t: Type) = FSharpType.IsRecord(t, BindingFlags.Public ||| BindingFlags.NonPublic)
let private isException (t: Type) = FSharpType.IsExceptionRepresentation(t, BindingFlags.Public ||| BindingFlags.NonPublic)

/// Names F# generates on records, unions and exceptions.
let private generatedNames =
    set [ "Equals"; "GetHashCode"; "CompareTo"; "ToString"; "Message"; "Tag" ]

/// The XML documentation ids a public type must have, by the rules in this module's summary.
let requiredIds (includeConstructors: bool) (t: Type) =
    let flags = BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
    let name = docName t
    let isOverride (m: MethodInfo) = m.GetBaseDefinition().DeclaringType <> m.DeclaringType
    let skipMember (m: MemberInfo) =
        isCompilerGenerated m || m.Name.Contains "@" || m.Name.StartsWith "<"
    // Argu argument unions: each case's documentation is its Usage text, which Argu requires for every
    // case (the IArgParserTemplate.Usage match); a `///` comment per case would repeat it.
    let arguments = t.GetInterfaces() |> Array.exists (fun i -> i.FullName = "Argu.IArgParserTemplate")
    [ yield "T:" + name
      if isUnion t && not arguments then
          for case in FSharpType.GetUnionCases(t, true) do
              yield sprintf "T:%s.%s" name case.Name
      elif isRecord t || isException t then
          let fields =
              if isRecord t then FSharpType.GetRecordFields(t, true) else FSharpType.GetExceptionFields(t, true)
          for f in fields do
              yield sprintf "P:%s.%s" name f.Name
      let fsharpType = isUnion t || isRecord t || isException t
      let fieldNames =
          if isRecord t then FSharpType.GetRecordFields(t, true) |> Array.map (fun p -> p.Name) |> set
          elif isException t then FSharpType.GetExceptionFields(t, true) |> Array.map (fun p -> p.Name) |> set
          else Set.empty
      for m in t.GetMethods flags do
          let caseFactory = isUnion t && (m.Name.StartsWith "New" || m.Name.StartsWith "get_Is")
          if not (m.IsSpecialName || skipMember m || isOverride m || caseFactory)
             && not (fsharpType && generatedNames.Contains m.Name) then
              yield sprintf "M:%s.%s" name m.Name
      for p in t.GetProperties flags do
          let getter = p.GetMethod
          let overrides = not (isNull getter) && isOverride getter
          let unionMember = isUnion t && (p.Name.StartsWith "Is" || p.Name = "Tag" || sourceFlags p |> Array.contains SourceConstructFlags.UnionCase)
          if not (skipMember p || overrides || unionMember || fieldNames.Contains p.Name)
             && not (fsharpType && generatedNames.Contains p.Name) then
              yield sprintf "P:%s.%s" name p.Name
      for e in t.GetEvents flags do
          if not (skipMember e) then yield sprintf "E:%s.%s" name e.Name
      if includeConstructors && not t.IsAbstract && not (typeof<Delegate>.IsAssignableFrom t) then
          // Parameterless constructors are left out: reflection cannot tell C#'s implicit default
          // constructor (which needs no comment) from a written one.
          if t.GetConstructors(BindingFlags.Public ||| BindingFlags.Instance) |> Array.exists (fun c -> c.GetParameters().Length > 0) then
              yield sprintf "M:%s.#ctor" name ]
    |> List.distinct

/// Whether a public type is written by the compiler rather than by a person.
let private isGeneratedType (t: Type) =
    isCompilerGenerated t || t.Name.Contains "@" || t.Name.StartsWith "<"
    || (not (isNull t.DeclaringType) && isUnion t.DeclaringType) // union case classes and Tags

/// The public members of an assembly without a doc summary in its XML documentation file.
let undocumented (assembly: Assembly) (includeConstructors: bool) =
    let xml = Path.ChangeExtension(assembly.Location, ".xml")
    if not (File.Exists xml) then failtestf "%s is missing: GenerateDocumentationFile must be on" xml
    let documented = documentedIds xml
    [ for t in assembly.GetExportedTypes() |> Array.sortBy (fun t -> t.FullName) do
        if not (isGeneratedType t) then
            for id in requiredIds includeConstructors t do
                if not (documented.Contains id) then
                    yield { Id = id; Namespace = (if isNull t.Namespace then "" else t.Namespace) } ]

/// Whether a namespace is on the pending list (by prefix).
let isPending (ns: string) =
    pendingNamespaces |> List.exists (fun p -> ns = p || ns.StartsWith(p + "."))

/// Counts of undocumented members per namespace, for the test's output.
let countsPerNamespace (missing: Undocumented list) =
    missing |> List.countBy (fun m -> m.Namespace) |> List.sortBy fst

let private describe (missing: Undocumented list) =
    [ for ns, n in countsPerNamespace missing -> sprintf "  %-28s %d" ns n ]
    @ [ for m in missing -> "    " + m.Id ]
    |> String.concat "\n"

/// A built assembly of the solution that the tests do not reference (the C# facade, the CLI),
/// loaded with its dependencies from its own output folder.
let builtAssembly (relativePath: string) =
    let path = Path.Combine(repositoryRoot, relativePath)
    if not (File.Exists path) then failtestf "%s is missing: build the solution first (./build.sh build)" path
    Assembly.LoadFrom path

[<Tests>]
let tests =
    testList "DocCoverage" [
        test "every public F# member outside the pending paper folders has a doc summary" {
            let missing = undocumented typeof<EnergyFs.Context>.Assembly false
            let pending, required = missing |> List.partition (fun m -> isPending m.Namespace)
            if not pending.IsEmpty then
                printfn "Doc coverage: %d undocumented members in pending paper folders (allowed for now):\n%s"
                    pending.Length (describe pending)
            if not required.IsEmpty then
                failtestf "%d public members lack a /// doc comment:\n%s" required.Length (describe required)
        }
        test "every public C# member of the facade has a doc summary" {
            let missing = undocumented (builtAssembly "src/csharp-facade/EnergyFs.CSharp/bin/Release/net10.0/EnergyFs.CSharp.dll") true
            if not missing.IsEmpty then
                if facadePending then
                    printfn "Doc coverage: %d undocumented facade members (allowed for now):\n%s" missing.Length (describe missing)
                else
                    failtestf "%d public facade members lack a /// doc comment:\n%s" missing.Length (describe missing)
        }
        test "every public member of the papers assembly has a doc summary" {
            let missing = undocumented typeof<EnergyFs.Papers.Reproduction.ExperimentSpec>.Assembly false
            if not missing.IsEmpty then
                failtestf "%d public EnergyFs.Papers members lack a /// doc comment:\n%s" missing.Length (describe missing)
        }
        test "every public member of the CLI has a doc summary" {
            let missing = undocumented (builtAssembly "src/fsharp/EnergyFs.Cli/bin/Release/net10.0/EnergyFs.Cli.dll") false
            if not missing.IsEmpty then
                failtestf "%d public CLI members lack a /// doc comment:\n%s" missing.Length (describe missing)
        }
        test "the coverage check sees an undocumented member" {
            // The checker itself can fail: this test assembly is built without documentation,
            // so its public members must all be reported.
            let ids = requiredIds false typeof<Undocumented>
            Expect.contains ids "T:EnergyFs.Tests.DocCoverageTests.Undocumented" "the type is required"
            Expect.contains ids "P:EnergyFs.Tests.DocCoverageTests.Undocumented.Id" "record fields are required"
            Expect.isFalse (ids |> List.exists (fun i -> i.Contains "Equals" || i.Contains "CompareTo")) "generated members are not"
            let caseIds = requiredIds false (typedefof<Result<int, string>>)
            Expect.containsAll caseIds [ "T:Microsoft.FSharp.Core.FSharpResult`2.Ok"; "T:Microsoft.FSharp.Core.FSharpResult`2.Error" ] "union cases are required"
            Expect.isFalse (caseIds |> List.exists (fun i -> i.Contains ".IsOk" || i.Contains "NewOk")) "union testers are not"
        }
    ]
