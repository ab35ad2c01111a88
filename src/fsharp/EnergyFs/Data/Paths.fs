namespace EnergyFs.Data

open System
open System.IO

/// Locates the repository's `data/` folder, which holds the benchmark datasets (see data/SOURCES.md).
/// Nothing in EnergyFs reads data from anywhere else.
[<RequireQualifiedAccess>]
module Paths =

    /// The environment variable that, when set, names the data folder directly.
    [<Literal>]
    let EnvironmentVariable = "ENERGYFS_DATA"

    /// A folder is taken for the data folder when it is named `data` and holds SOURCES.md.
    let private isDataFolder (dir: string) = File.Exists(Path.Combine(dir, "SOURCES.md"))

    /// `start` and its ancestors, nearest first.
    let private ancestors (start: string) =
        let rec up (d: DirectoryInfo) acc =
            if isNull d then List.rev acc else up d.Parent (d.FullName :: acc)
        up (DirectoryInfo(Path.GetFullPath start)) []

    /// The `data/` candidates below `start` and each of its ancestors, nearest first.
    let candidates (start: string) = ancestors start |> List.map (fun d -> Path.Combine(d, "data"))

    /// How to point EnergyFs at the data folder, for error messages.
    let private howToFix =
        sprintf "Set %s to the data folder of an EnergyFs clone (export %s=/path/to/EnergyFs/data), or start the app through that clone's build.sh (./build.sh dotnet run --project <app>), which sets it."
            EnvironmentVariable EnvironmentVariable

    /// The data folder given the value of ENERGYFS_DATA (`variable`; null or empty when it is not set)
    /// and the folders to walk up from (`starts`, in order): the folder the variable names (it must
    /// exist), else the first `data/` folder holding SOURCES.md below a start folder or one of its
    /// ancestors. Fails with DirectoryNotFoundException saying where it looked and how to fix it.
    let locate (variable: string) (starts: string list) : string =
        match variable with
        | null | "" ->
            let looked = starts |> List.collect candidates |> List.distinct
            match looked |> List.tryFind isDataFolder with
            | Some d -> d
            | None ->
                let places = String.Join(Environment.NewLine + "  ", looked)
                raise (DirectoryNotFoundException(
                    sprintf "could not find the EnergyFs data folder (a 'data' folder holding SOURCES.md, as in the EnergyFs repository): %s is not set, and it is none of these:%s  %s%s%s"
                        EnvironmentVariable Environment.NewLine places Environment.NewLine howToFix))
        | dir ->
            if not (Directory.Exists dir) then
                let full = Path.GetFullPath dir
                let shown = if full = dir then sprintf "'%s'" dir else sprintf "'%s' (%s)" dir full
                raise (DirectoryNotFoundException(
                    sprintf "%s is set to %s, which is not a folder. %s" EnvironmentVariable shown howToFix))
            Path.GetFullPath dir

    /// The data folder: the one named by ENERGYFS_DATA when that is set (it must exist; build.sh sets it
    /// to the repository's data folder when it is not set), else the first `data/` folder holding
    /// SOURCES.md found by walking up from the current directory and then from the executable's
    /// directory (see `locate`). Fails with DirectoryNotFoundException listing every place it looked
    /// and saying how to fix it.
    let root () : string =
        locate (Environment.GetEnvironmentVariable EnvironmentVariable) [ Environment.CurrentDirectory; AppContext.BaseDirectory ]

    /// The folder of dataset `name` inside the data folder (for example "yeast" or "uci_concrete").
    /// Fails with DirectoryNotFoundException naming the folder, where the data folder came from and the
    /// datasets that do exist.
    let find (name: string) : string =
        if String.IsNullOrWhiteSpace name then invalidArg "name" "the dataset name is empty"
        let dataRoot = root ()
        let dir = Path.Combine(dataRoot, name)
        if Directory.Exists dir then dir
        else
            let known = Directory.GetDirectories dataRoot |> Array.map Path.GetFileName |> Array.sort
            let source =
                match Environment.GetEnvironmentVariable EnvironmentVariable with
                | null | "" -> "found by walking up from the current and the executable's folders"
                | _ -> sprintf "from %s" EnvironmentVariable
            raise (DirectoryNotFoundException(
                sprintf "dataset '%s' not found: %s does not exist (the data folder %s, %s, holds: %s)"
                    name dir dataRoot source (String.Join(", ", known))))

    /// Whether `argument` names a folder by path rather than a dataset by name: it contains a
    /// directory separator, is rooted, or exists as a folder relative to the current directory.
    let isPath (argument: string) =
        argument.IndexOfAny [| Path.DirectorySeparatorChar; Path.AltDirectorySeparatorChar |] >= 0
        || Path.IsPathRooted argument
        || Directory.Exists argument
