namespace EnergyFs.Bench

/// One prepared benchmark on the EnergyFs side: the timed step and the release of what the set-up
/// allocated (models, inputs). The harness runs every call of `Step` inside its own dispose scope
/// (`Scope.run`), so tensors the step creates are freed at the end of the call.
type Case =
    { /// The timed operation; its result is discarded (and freed by the scope).
      Step: unit -> unit
      /// Frees the tensors and modules created by the set-up.
      Release: unit -> unit }

/// The PyTorch counterpart of a benchmark: a factory in bench/pytorch named "module.function",
/// called with keyword arguments; it prepares the inputs and returns the step to time.
type PySnippet =
    { /// "module.function" under bench/pytorch, e.g. "elementwise.chain".
      Snippet: string
      /// Keyword arguments (sizes), passed as JSON; the same values the F# set-up uses.
      Args: (string * int) list }

/// A named benchmark: the same computation in EnergyFs/TorchSharp and (optionally) in PyTorch.
type Benchmark =
    { /// Unique name, e.g. "mlp-adam-step"; `--filter` matches it.
      Name: string
      /// Group (one file per group), e.g. "mlp"; `--filter` matches it too.
      Group: string
      /// One line: what is computed, with shapes.
      Description: string
      /// Builds the inputs (outside any dispose scope, on the calling thread, after the thread count
      /// was set) and returns the case to time.
      Setup: unit -> Case
      /// The PyTorch snippet to compare with; None for EnergyFs-only benchmarks.
      Python: PySnippet option
      /// The same algorithm as the PyTorch snippet written directly against TorchSharp, without
      /// EnergyFs (its set-up, like `Setup`): timed in the same rounds, it splits a ratio into
      /// EnergyFs's own cost (EnergyFs / TorchSharp) and the library's (TorchSharp 0.107 with
      /// libtorch 2.10 / PyTorch). None where the EnergyFs side already is plain TorchSharp.
      Direct: (unit -> Case) option }

/// Constructors for benchmarks.
module Benchmark =

    /// A benchmark without a PyTorch counterpart yet.
    let create (group: string) (name: string) (description: string) (setup: unit -> Case) =
        { Name = name; Group = group; Description = description; Setup = setup; Python = None; Direct = None }

    /// Adds the PyTorch counterpart: `snippet` ("module.function") called with `args`.
    let versus (snippet: string) (args: (string * int) list) (b: Benchmark) =
        { b with Python = Some { Snippet = snippet; Args = args } }

    /// Adds the direct TorchSharp version of the PyTorch snippet's algorithm (no EnergyFs call in
    /// its timed step), the third side of the comparison.
    let direct (setup: unit -> Case) (b: Benchmark) = { b with Direct = Some setup }

    /// A case whose set-up owns `owned` (disposed by Release).
    let case (owned: System.IDisposable list) (step: unit -> unit) =
        { Step = step; Release = fun () -> for d in owned do d.Dispose() }

    /// Whether the benchmark matches any of the filters (case-insensitive substrings of the name or
    /// the group); an empty filter list matches everything.
    let matches (filters: string list) (b: Benchmark) =
        let contains (s: string) (f: string) = s.Contains(f, System.StringComparison.OrdinalIgnoreCase)
        List.isEmpty filters || filters |> List.exists (fun f -> contains b.Name f || contains b.Group f)
