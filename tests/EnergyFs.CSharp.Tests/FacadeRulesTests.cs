using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using TorchSharp;

namespace EnergyFs.CSharp.Tests;

/// <summary>Rules of the public surface of EnergyFs.CSharp, checked by reflection:
/// (1) signatures mention only BCL (System.*), TorchSharp and EnergyFs.CSharp types — never FSharp.Core or the F# library;
/// (2) a public type holding native memory (a field of a disposable type, a tensor, or a collection of them) is IDisposable;
/// (3) every public type is exercised by a test class (<c>TypeNameTests</c> or [Covers(typeof(TypeName))]) with tests;
/// (4) options types are immutable records of init-only properties with a parameterless constructor;
/// (5) PascalCase types and members, camelCase parameters, at most 6 parameters per method;
/// (6) every public member has a non-empty XML summary in the shipped documentation file.
/// Each rule is also run on deliberately bad sample types below, so a rule that cannot fail is caught.</summary>
public class FacadeRulesTests
{
    private static readonly Assembly Facade = typeof(Autodiff).Assembly;

    private static IEnumerable<Type> PublicTypes(Assembly a) => a.GetExportedTypes().Where(t => !t.IsNested || t.IsNestedPublic);

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    // ---- rule 1: allowed types in signatures ---------------------------------------------------------------------

    private static bool IsAllowedLeaf(Type t, Assembly facade)
    {
        var asm = t.Assembly.GetName().Name ?? "";
        if (t.Assembly == facade) return true;
        if (asm == "TorchSharp") return true;
        if (asm == "FSharp.Core" || asm == "EnergyFs") return false;
        // BCL: System.* namespaces from the runtime's own assemblies. Reference tuples (System.Tuple) are F#'s tuples: refused.
        var bcl = asm.StartsWith("System", StringComparison.Ordinal) || asm is "mscorlib" or "netstandard";
        return bcl && (t.Namespace ?? "").StartsWith("System", StringComparison.Ordinal) && !(t.IsGenericType && t.GetGenericTypeDefinition().FullName!.StartsWith("System.Tuple`", StringComparison.Ordinal));
    }

    private static IEnumerable<Type> Constituents(Type t)
    {
        if (t.IsByRef || t.IsPointer || t.IsArray) { foreach (var c in Constituents(t.GetElementType()!)) yield return c; yield break; }
        if (t.IsGenericParameter) { foreach (var c in t.GetGenericParameterConstraints().SelectMany(Constituents)) yield return c; yield break; }
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
        {
            yield return t.GetGenericTypeDefinition();
            foreach (var c in t.GetGenericArguments().SelectMany(Constituents)) yield return c;
            yield break;
        }
        yield return t;
    }

    /// <summary>Every (member, type) pair of a type's public surface.</summary>
    private static IEnumerable<(string Where, Type Type)> Surface(Type type)
    {
        var n = type.FullName;
        if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum)) yield return ($"{n} : base", b);
        foreach (var i in type.GetInterfaces()) yield return ($"{n} : interface", i);
        foreach (var g in type.GetGenericArguments()) yield return ($"{n}<>", g);
        foreach (var m in type.GetMembers(Declared))
        {
            switch (m)
            {
                case FieldInfo f when f.IsPublic || f.IsFamily:
                    yield return ($"{n}.{f.Name}", f.FieldType); break;
                case PropertyInfo p:
                    yield return ($"{n}.{p.Name}", p.PropertyType);
                    foreach (var ip in p.GetIndexParameters()) yield return ($"{n}.{p.Name}[{ip.Name}]", ip.ParameterType);
                    break;
                case MethodBase mb when mb.IsPublic || mb.IsFamily:
                    if (mb is MethodInfo mi) yield return ($"{n}.{mb.Name} returns", mi.ReturnType);
                    foreach (var p in mb.GetParameters()) yield return ($"{n}.{mb.Name}({p.Name})", p.ParameterType);
                    if (mb.IsGenericMethodDefinition) foreach (var g in mb.GetGenericArguments()) yield return ($"{n}.{mb.Name}<{g.Name}>", g);
                    break;
                case EventInfo e:
                    yield return ($"{n}.{e.Name}", e.EventHandlerType!); break;
            }
        }
    }

    internal static List<string> ForeignTypeViolations(IEnumerable<Type> types, Assembly facade) =>
        types.SelectMany(t => Surface(t).SelectMany(s => Constituents(s.Type).Where(c => !IsAllowedLeaf(c, facade)).Select(c => $"{s.Where}: {c.FullName ?? c.Name} ({c.Assembly.GetName().Name})")))
             .Distinct().ToList();

    [Fact]
    public void PublicSignaturesMentionOnlyBclTorchSharpAndFacadeTypes()
    {
        var bad = ForeignTypeViolations(PublicTypes(Facade), Facade);
        Assert.True(bad.Count == 0, "F# or foreign types in the public surface:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void ForeignTypeRuleCatchesFSharpTypes()
    {
        var bad = ForeignTypeViolations(new[] { typeof(BadSamples.LeakyFacade) }, typeof(BadSamples.LeakyFacade).Assembly);
        Assert.Contains(bad, b => b.Contains("FSharpList"));
        Assert.Contains(bad, b => b.Contains("FSharpFunc"));
        Assert.Contains(bad, b => b.Contains("FSharpOption"));
        Assert.Contains(bad, b => b.Contains("System.Tuple"));
        Assert.Contains(bad, b => b.Contains("EnergyFs.Context"));
    }

    // ---- rule 2: native memory → IDisposable ---------------------------------------------------------------------

    private static bool HoldsNative(Type t)
    {
        if (t == typeof(string) || t.IsPrimitive || t.IsEnum) return false;
        // A delegate (a factory such as Func<int, int, SomeModule>, or a function) holds no native memory itself.
        if (typeof(Delegate).IsAssignableFrom(t)) return false;
        if (typeof(IDisposable).IsAssignableFrom(t) || typeof(torch.Tensor).IsAssignableFrom(t)) return true;
        if (t.IsArray) return HoldsNative(t.GetElementType()!);
        if (t.IsGenericType) return t.GetGenericArguments().Any(HoldsNative);
        return false;
    }

    internal static List<string> DisposalViolations(IEnumerable<Type> types) =>
        types.Where(t => t.IsClass && !typeof(IDisposable).IsAssignableFrom(t))
             .SelectMany(t => t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                               .Where(f => HoldsNative(f.FieldType) && !IsBorrowed(f))
                               .Select(f => $"{t.FullName}.{f.Name}: {f.FieldType.Name}"))
             .ToList();

    // Record parameters that hold caller-owned tensors (documented "stay the caller's") are borrowed, not owned.
    private static bool IsBorrowed(FieldInfo f) => f.DeclaringType == typeof(StructuredExamples);

    [Fact]
    public void TypesHoldingNativeMemoryAreDisposable()
    {
        var bad = DisposalViolations(PublicTypes(Facade));
        Assert.True(bad.Count == 0, "types holding native memory without IDisposable:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void DisposalRuleCatchesATensorOwnerWithoutIDisposable()
    {
        var bad = DisposalViolations(new[] { typeof(BadSamples.LeakyFacade) });
        Assert.Contains(bad, b => b.Contains("weights"));
    }

    // ---- rule 3: a test class per public type --------------------------------------------------------------------

    internal static List<string> UncoveredTypes(IEnumerable<Type> types, Assembly tests)
    {
        var testClasses = tests.GetTypes().Where(c => c.IsClass && c.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any())).ToList();
        var covered = new HashSet<Type>(testClasses.SelectMany(c => c.GetCustomAttributes<CoversAttribute>().SelectMany(a => a.Types)));
        var byName = new HashSet<string>(testClasses.Select(c => c.Name));
        return types.Where(t => !covered.Contains(t) && !byName.Contains(t.Name + "Tests")).Select(t => t.FullName!).ToList();
    }

    [Fact]
    public void EveryPublicTypeHasATestClass()
    {
        var bad = UncoveredTypes(PublicTypes(Facade), typeof(FacadeRulesTests).Assembly);
        Assert.True(bad.Count == 0, "public types without a test class (NameTests or [Covers]):\n" + string.Join("\n", bad));
    }

    [Fact]
    public void CoverageRuleCatchesAnUntestedType() =>
        Assert.Equal(new[] { typeof(BadSamples.LeakyFacade).FullName }, UncoveredTypes(new[] { typeof(BadSamples.LeakyFacade), typeof(Autodiff) }, typeof(FacadeRulesTests).Assembly));

    // ---- rule 4: options are immutable ---------------------------------------------------------------------------

    private static bool IsInitOnly(PropertyInfo p) =>
        p.SetMethod is { } s && s.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));

    internal static List<string> OptionsViolations(IEnumerable<Type> types) =>
        types.Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal))
             .SelectMany(t =>
             {
                 var bad = new List<string>();
                 if (!t.IsSealed) bad.Add($"{t.Name} is not sealed");
                 if (t.GetConstructor(Type.EmptyTypes) is null) bad.Add($"{t.Name} has no public parameterless constructor");
                 foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.Name != "EqualityContract"))
                     if (p.SetMethod is { IsPublic: true } && !IsInitOnly(p)) bad.Add($"{t.Name}.{p.Name} has a public set (use init)");
                     else if (p.SetMethod is null && p.DeclaringType == t) bad.Add($"{t.Name}.{p.Name} cannot be set in an initializer");
                 return bad;
             }).ToList();

    [Fact]
    public void OptionsAreImmutableInitOnlyObjects()
    {
        var options = PublicTypes(Facade).Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal)).ToList();
        Assert.True(options.Count >= 10, $"only {options.Count} options types found");
        var bad = OptionsViolations(options);
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void OptionsRuleCatchesAMutableOptionsType() =>
        Assert.Contains(OptionsViolations(new[] { typeof(BadSamples.MutableOptions) }), b => b.Contains("public set"));

    // ---- rule 5: names and parameter lists -----------------------------------------------------------------------

    internal static List<string> NamingViolations(IEnumerable<Type> types)
    {
        var bad = new List<string>();
        foreach (var t in types)
        {
            if (!char.IsUpper(t.Name[0]) || t.Name.Contains('_')) bad.Add($"type {t.Name}");
            foreach (var m in t.GetMembers(Declared))
            {
                if (m.IsDefined(typeof(CompilerGeneratedAttribute)) || m is MethodBase { IsSpecialName: true } || m.Name.StartsWith('<')) continue;
                if (m is MethodBase mb && !(mb.IsPublic || mb.IsFamily)) continue;
                if (m is FieldInfo f && !(f.IsPublic || f.IsFamily)) continue;
                if (t.IsEnum && m is FieldInfo { IsSpecialName: true }) continue;
                var name = m.Name;
                if (m is not ConstructorInfo && (!char.IsUpper(name[0]) || name.Contains('_'))) bad.Add($"{t.Name}.{name}");
                if (m is MethodBase method)
                {
                    var ps = method.GetParameters();
                    if (ps.Length > 6)
                        bad.Add($"{t.Name}.{name} takes {ps.Length} parameters (use an options object)");
                    foreach (var p in ps)
                        if (p.Name is null || !(char.IsLower(p.Name[0]) || (t.GetConstructors().Contains(method) && IsRecordParameter(t, p))) || p.Name.Contains('_'))
                            bad.Add($"{t.Name}.{name}({p.Name})");
                }
            }
        }
        return bad;
    }

    // Positional record parameters are PascalCase properties by convention.
    private static bool IsRecordParameter(Type t, ParameterInfo p) =>
        t.GetMethod("<Clone>$") is not null && t.GetProperty(p.Name!) is not null;

    [Fact]
    public void NamesArePascalCaseAndParameterListsShort()
    {
        var bad = NamingViolations(PublicTypes(Facade));
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void NamingRuleCatchesCamelCaseMembersAndLongParameterLists()
    {
        var bad = NamingViolations(new[] { typeof(BadSamples.LeakyFacade) });
        Assert.Contains(bad, b => b.Contains("LeakyFacade.lowerCase"));
        Assert.Contains(bad, b => b.Contains("takes 7 parameters"));
    }

    // ---- rule 6: documentation -----------------------------------------------------------------------------------

    private static string DocId(MemberInfo m) => m switch
    {
        Type t => "T:" + t.FullName!.Replace('+', '.'),
        PropertyInfo p => "P:" + p.DeclaringType!.FullName!.Replace('+', '.') + "." + p.Name,
        FieldInfo f => "F:" + f.DeclaringType!.FullName!.Replace('+', '.') + "." + f.Name,
        MethodBase mb => "M:" + mb.DeclaringType!.FullName!.Replace('+', '.') + "." + (mb is ConstructorInfo ? "#ctor" : mb.Name),
        _ => m.Name,
    };

    [Fact]
    public void EveryPublicMemberHasADocumentedSummary()
    {
        var xmlPath = Path.ChangeExtension(Facade.Location, ".xml");
        Assert.True(File.Exists(xmlPath), $"no documentation file beside {Facade.Location}");
        var docs = XDocument.Load(xmlPath).Descendants("member")
            .Select(e => (Name: (string)e.Attribute("name")!, Text: string.Concat(e.Elements("summary").Select(s => s.Value)).Trim() + ((e.Element("inheritdoc") is null) ? "" : "inherit")))
            .Where(e => e.Text.Length > 0)
            .Select(e => e.Name.Split('(')[0])
            .ToHashSet();
        var missing = new List<string>();
        foreach (var t in PublicTypes(Facade))
        {
            if (!docs.Contains(DocId(t))) missing.Add(DocId(t));
            foreach (var m in t.GetMembers(Declared))
            {
                if (m.IsDefined(typeof(CompilerGeneratedAttribute)) || m.Name.StartsWith('<') || m is MethodBase { IsSpecialName: true } and not ConstructorInfo) continue;
                if (m is MethodBase mb && !mb.IsPublic) continue;
                if (m is FieldInfo f && (!f.IsPublic || (t.IsEnum && f.IsSpecialName))) continue;
                if (m is ConstructorInfo c && (t.IsValueType || t.GetMethod("<Clone>$") is not null && c.GetParameters().Length is 0 or 1)) continue;
                if (m is MethodInfo { Name: "ToString" or "Equals" or "GetHashCode" or "Deconstruct" or "PrintMembers" } && t.GetMethod("<Clone>$") is not null) continue;
                if (t.GetMethod("<Clone>$") is not null && m is PropertyInfo { Name: "EqualityContract" }) continue;
                var id = DocId(m);
                // Positional record properties are documented by the record's <param> tags.
                if (m is PropertyInfo && t.GetMethod("<Clone>$") is not null && t.GetConstructors().Any(k => k.GetParameters().Any(p => p.Name == m.Name))) continue;
                if (!docs.Contains(id)) missing.Add(id);
            }
        }
        Assert.True(missing.Count == 0, "undocumented public members:\n" + string.Join("\n", missing.Distinct()));
    }
}

/// <summary>Deliberately bad facade types: each rule above must find its violation here.</summary>
public static class BadSamples
{
    public sealed class LeakyFacade
    {
        private readonly torch.Tensor weights = torch.zeros(1);
        public torch.Tensor Weights => weights;
        public Microsoft.FSharp.Collections.FSharpList<int> Items => Microsoft.FSharp.Collections.FSharpList<int>.Empty;
        public void Apply(Microsoft.FSharp.Core.FSharpFunc<int, int> f) { }
        public Microsoft.FSharp.Core.FSharpOption<double>? Maybe() => null;
        public Tuple<int, int> Pair() => Tuple.Create(1, 2);
        public EnergyFs.Context Context() => EnergyFs.ContextModule.cpu;
        public int lowerCase() => 0;
        public void Seven(int a, int b, int c, int d, int e, int f, int g) { }
    }

    public sealed class MutableOptions
    {
        public int Steps { get; set; } = 1;
    }
}
