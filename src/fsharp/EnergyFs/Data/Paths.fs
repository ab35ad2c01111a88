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

    /// The data folder: the one named by ENERGYFS_DATA when that is set (it must exist), else the
    /// first `data/` folder holding SOURCES.md found by walking up from the current directory and
    /// then from the executable's directory. Fails with DirectoryNotFoundException listing every
    /// place it looked.
    let root () : string =
        match Environment.GetEnvironmentVariable EnvironmentVariable with
        | null | "" ->
            let looked =
                (candidates Environment.CurrentDirectory @ candidates AppContext.BaseDirectory) |> List.distinct
            match looked |> List.tryFind isDataFolder with
            | Some d -> d
            | None ->
                let places = String.Join(Environment.NewLine + "  ", looked)
                raise (DirectoryNotFoundException(
                    sprintf "could not find the EnergyFs data folder (a 'data' folder holding SOURCES.md). %s is not set; looked in:%s  %s"
                        EnvironmentVariable Environment.NewLine places))
        | dir ->
            if not (Directory.Exists dir) then
                raise (DirectoryNotFoundException(sprintf "%s is set to '%s', which is not a folder" EnvironmentVariable dir))
            Path.GetFullPath dir

    /// The folder of dataset `name` inside the data folder (for example "yeast" or "uci_concrete").
    /// Fails with DirectoryNotFoundException naming the folder and the datasets that do exist.
    let find (name: string) : string =
        if String.IsNullOrWhiteSpace name then invalidArg "name" "the dataset name is empty"
        let dataRoot = root ()
        let dir = Path.Combine(dataRoot, name)
        if Directory.Exists dir then dir
        else
            let known = Directory.GetDirectories dataRoot |> Array.map Path.GetFileName |> Array.sort
            raise (DirectoryNotFoundException(
                sprintf "dataset '%s' not found: %s does not exist (datasets present: %s)" name dir (String.Join(", ", known))))

    /// Whether `argument` names a folder by path rather than a dataset by name: it contains a
    /// directory separator, is rooted, or exists as a folder relative to the current directory.
    let isPath (argument: string) =
        argument.IndexOfAny [| Path.DirectorySeparatorChar; Path.AltDirectorySeparatorChar |] >= 0
        || Path.IsPathRooted argument
        || Directory.Exists argument
