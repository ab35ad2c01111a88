namespace EnergyFs.Papers.FenchelYoung

open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
open EnergyFs.Regularizers
open EnergyFs.Energies

/// One step of one traced rollout of the energy policy (`ImitationTrace.run`).
type ImitationTraceStep =
    { /// Episode (row of the evaluation batch).
      Episode: int
      /// Step, from 0.
      Step: int
      /// State (x, y, vx, vy) before the action.
      State: float[]
      /// The policy's action a ∈ [−1, 1]².
      Action: float[]
      /// The expert's action at this state when it passes above (mode +1).
      ExpertAbove: float[]
      /// The expert's action at this state when it passes below (mode −1).
      ExpertBelow: float[]
      /// The maximizer of Φ(s, p) − Ω(p) over a grid of the action box, as an action.
      GridArgmax: float[]
      /// The maximizer of Φ(s, p) alone (no regularizer) over the grid, as an action.
      GridArgmaxUnregularized: float[]
      /// max over the grid of Φ − Ω.
      GridMax: float
      /// Φ − Ω at the policy's action.
      ChosenValue: float
      /// Φ − Ω at the expert's action of the mode above.
      ValueAbove: float
      /// Φ − Ω at the expert's action of the mode below.
      ValueBelow: float
      /// Strict local maxima of Φ − Ω on the grid (8-neighbourhood).
      LocalMaxima: int
      /// Euclidean distance in state space to the nearest demonstration state.
      NearestDemonstration: float }

/// Diagnostics of the imitation experiment: rolls out the energy policy of `Imitation.trainEnergy`
/// on a few episodes and records, per step, the state, the chosen action, the expert's actions of
/// both modes at that state, the energy landscape Φ(s, ·) − Ω over a grid of the action box, and
/// how far the state is from the demonstrations.
[<RequireQualifiedAccess>]
module ImitationTrace =

    /// Evaluates F(s, p) = Φ(s, p) − Ω(p) for n states on a g × g grid of [0, 1]²: returns F and Φ,
    /// each [n, g, g] with index [i, j] ↔ p = (i/(g−1), j/(g−1)).
    let landscape (energy: Energy<Tensor>) (r: Regularizer) (grid: int) (states: Tensor) : Tensor * Tensor =
        Checks.positiveInt "grid" grid
        let n = states.shape[0]
        let g = int64 grid
        let result =
            Diff.noGrad (fun () ->
                Scope.tensors (fun () ->
                    let axis = torch.linspace (0.0, 1.0, g, dtype = states.dtype, device = states.device)
                    let p0 = axis.view(g, 1L).expand(g, g).reshape (g * g)
                    let p1 = axis.view(1L, g).expand(g, g).reshape (g * g)
                    let p = (torch.stack ([| p0; p1 |], 1L)).repeat (n, 1L)
                    let s = states.repeat_interleave (g * g, 0L)
                    let phi = energy.Value s p
                    let f = phi - r.Value p
                    [ f.reshape (n, g, g); phi.reshape (n, g, g) ]))
        result[0], result[1]

    /// Rolls out `policy` (a fresh one from `makePolicy`) from `start` and records every step (see
    /// `ImitationTraceStep`); `demoStates` [N, 4] are the demonstration states.
    let rollout (settings: ReacherSettings) (energy: Energy<Tensor>) (r: Regularizer) (grid: int) (demoStates: Tensor) (policy: Tensor -> Tensor) (start: Tensor) : ImitationTraceStep list =
        let steps = ResizeArray<ImitationTraceStep> ()
        let g = grid
        let mutable t = 0
        let traced (s: Tensor) =
            let a = policy s
            Scope.run (fun () ->
                let n = int s.shape[0]
                let up = Reacher.expert settings (torch.ones ([| int64 n |], dtype = s.dtype, device = s.device)) s
                let down = Reacher.expert settings (-torch.ones ([| int64 n |], dtype = s.dtype, device = s.device)) s
                let f, phi = landscape energy r g s
                let p = (a + 1.0) * 0.5
                let valueAt (q: Tensor) = Diff.noGrad (fun () -> Tensor.toArray (energy.Value s q - r.Value q))
                let chosen = valueAt p
                let vUp = valueAt ((up + 1.0) * 0.5)
                let vDown = valueAt ((down + 1.0) * 0.5)
                let struct (dmin, _) = (torch.cdist (s, demoStates)).min (1L)
                let dist = Tensor.toArray dmin
                let toAction (flatIdx: int) = [| float (flatIdx / g) / float (g - 1) * 2.0 - 1.0; float (flatIdx % g) / float (g - 1) * 2.0 - 1.0 |]
                let fArr = Tensor.toArray (f.reshape (int64 n, -1L))
                let phiArr = Tensor.toArray (phi.reshape (int64 n, -1L))
                let sArr = Tensor.toArray2D s
                let aArr = Tensor.toArray2D a
                let upArr = Tensor.toArray2D up
                let downArr = Tensor.toArray2D down
                for i in 0 .. n - 1 do
                    let fi = fArr[i * g * g .. (i + 1) * g * g - 1]
                    let phii = phiArr[i * g * g .. (i + 1) * g * g - 1]
                    let best = Array.findIndex (fun v -> v = Array.max fi) fi
                    let bestPhi = Array.findIndex (fun v -> v = Array.max phii) phii
                    let at r c = if r < 0 || c < 0 || r >= g || c >= g then -infinity else fi[r * g + c]
                    let localMax =
                        seq { for rr in 0 .. g - 1 do
                                for cc in 0 .. g - 1 do
                                    let v = at rr cc
                                    if [ for dr in -1 .. 1 do for dc in -1 .. 1 do if (dr, dc) <> (0, 0) then yield at (rr + dr) (cc + dc) ] |> List.forall (fun w -> v > w) then yield 1 }
                        |> Seq.length
                    steps.Add
                        { Episode = i; Step = t; State = sArr[i, *]; Action = aArr[i, *]; ExpertAbove = upArr[i, *]; ExpertBelow = downArr[i, *]
                          GridArgmax = toAction best; GridArgmaxUnregularized = toAction bestPhi; GridMax = fi[best]; ChosenValue = chosen[i]
                          ValueAbove = vUp[i]; ValueBelow = vDown[i]; LocalMaxima = localMax; NearestDemonstration = dist[i] })
            t <- t + 1
            a
        let _, _, _, states, actions = Reacher.rollout settings traced start
        Scope.disposeAll states
        Scope.disposeAll actions
        List.ofSeq steps

    /// How well a policy fits the demonstrations it was trained on: the mean absolute action error
    /// |a − a_expert| (averaged over both coordinates) on the demonstration states, by phase of the
    /// expert: "start" (the first `startSteps` steps of each episode, where the two modes differ),
    /// "via" (later steps with x < −0.1, heading for the via-point) and "goal" (x ≥ −0.1). Demonstration
    /// rows are ordered step-major (`Imitation.demonstrations`): row = step · episodes + episode.
    let demonstrationFit (episodes: int) (startSteps: int) (policy: Tensor -> Tensor) (states: Tensor) (actions: Tensor) : (string * int * float) list =
        Checks.positiveInt "episodes" episodes
        use predicted = policy states
        let err = Scope.run (fun () -> Tensor.toArray ((predicted - actions).abs().mean ([| 1L |])))
        let x = Scope.run (fun () -> Tensor.toArray (states.select (1L, 0L)))
        let phase i = if i / episodes < startSteps then "start" elif x[i] < -0.1 then "via" else "goal"
        [ for name in [ "start"; "via"; "goal" ] do
            let e = [| for i in 0 .. err.Length - 1 do if phase i = name then yield err[i] |]
            yield name, e.Length, (if e.Length = 0 then nan else Array.average e) ]

    /// Trains the energy policy as `Imitation.run` does and traces `episodes` evaluation rollouts on a
    /// `grid` × `grid` action grid; also returns its fit to the demonstrations (`demonstrationFit`).
    let run (options: ImitationOptions) (episodes: int) (grid: int) (onProgress: float -> unit) : ImitationTraceStep list * (string * int * float) list =
        Checks.positiveInt "episodes" episodes
        use rng = new Rng(int64 options.Seed, options.Context.Device)
        let states, actions = Imitation.demonstrations options rng
        use states = states
        use actions = actions
        use start = Reacher.reset options.Reacher rng options.Context episodes
        let makePolicy, net = Imitation.trainEnergy options states actions onProgress
        let energy = Neural.energy net 2
        let steps = rollout options.Reacher energy (Imitation.regularizer options.RegularizerWeight options.RegularizerCentre) grid states (makePolicy ()) start
        let fit = demonstrationFit options.Demonstrations 6 (makePolicy ()) states actions
        net.Dispose ()
        steps, fit

    /// The trace as CSV lines (header first).
    let toCsv (steps: ImitationTraceStep list) : string list =
        let f (a: float[]) = a |> Array.map (sprintf "%.4f") |> String.concat ","
        "episode,step,x,y,vx,vy,ax,ay,above_ax,above_ay,below_ax,below_ay,grid_ax,grid_ay,gridphi_ax,gridphi_ay,grid_max,chosen_value,value_above,value_below,local_maxima,nearest_demo"
        :: [ for s in steps ->
                sprintf "%d,%d,%s,%s,%s,%s,%s,%s,%.4f,%.4f,%.4f,%.4f,%d,%.4f" s.Episode s.Step (f s.State) (f s.Action) (f s.ExpertAbove) (f s.ExpertBelow)
                    (f s.GridArgmax) (f s.GridArgmaxUnregularized) s.GridMax s.ChosenValue s.ValueAbove s.ValueBelow s.LocalMaxima s.NearestDemonstration ]
