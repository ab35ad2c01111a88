namespace EnergyFs.Papers.FenchelYoung

open TorchSharp
open EnergyFs

open EnergyFs.Papers.Reproduction
open EnergyFs.Learners
/// Settings of the point-mass reacher with an obstacle.
type ReacherSettings =
    { /// Time step dt of the Euler update x⁺ = x + dt·v⁺, also the weight of each step's reward
      /// −‖x⁺ − goal‖·dt (default 0.1).
      Dt: float
      /// Acceleration per unit action: v⁺ gains dt·gain·a for a ∈ [−1, 1]² (default 3).
      Gain: float
      /// Velocity damping per step: the fraction of v lost, v⁺ = (1 − damping) v + … (default 0.1).
      Damping: float
      /// Steps per episode (default 60, i.e. 6 time units at dt = 0.1).
      Horizon: int
      /// Start position (x, y); y gets N(0, StartNoise²) noise.
      Start: float * float
      /// Standard deviation of the Gaussian noise added to the start's y coordinate (default 0.05).
      StartNoise: float
      /// Goal position (x, y) the reward measures the distance to (default (2, 0)).
      Goal: float * float
      /// Radius of the disk obstacle centred at the origin; touching it freezes the mass.
      ObstacleRadius: float }

/// A 2-D reacher with known dynamics, batched over episodes (rows). State s = (x, y, vx, vy),
/// action a ∈ [−1, 1]² (an acceleration):
///   v⁺ = (1 − damping) v + dt·gain·a,   x⁺ = x + dt·v⁺,
/// reward −‖x⁺ − goal‖·dt per step; an episode that enters the obstacle disk stays stuck there
/// (and keeps paying its distance). The obstacle sits between start and goal, so good paths go
/// around it on either side: two equally good modes.
[<RequireQualifiedAccess>]
module Reacher =

    /// dt 0.1, gain 3, damping 0.1, 60 steps, start (−2, 0) with noise 0.05, goal (2, 0), obstacle radius 0.5.
    let defaults =
        { Dt = 0.1; Gain = 3.0; Damping = 0.1; Horizon = 60; Start = (-2.0, 0.0); StartNoise = 0.05; Goal = (2.0, 0.0); ObstacleRadius = 0.5 }

    /// n start states drawn from `rng`.
    let reset (settings: ReacherSettings) (rng: Rng) (ctx: Context) (n: int) : Tensor =
        Scope.tensor (fun () ->
            let x0, y0 = settings.Start
            let noise = Tensor.randn rng ctx [ int64 n; 1L ] * settings.StartNoise
            let zeros = Tensor.zeros ctx [ int64 n; 1L ]
            torch.cat ([| zeros + x0; noise + y0; zeros; zeros |], 1L))

    let private goalOf (settings: ReacherSettings) (like: Tensor) =
        let gx, gy = settings.Goal
        torch.tensor ([| gx; gy |], dtype = like.dtype, device = like.device)

    /// One step for every row: (next state, reward [n], stuck [n] as 0/1). `stuck` rows do not move.
    let step (settings: ReacherSettings) (state: Tensor) (stuck: Tensor) (action: Tensor) : Tensor * Tensor * Tensor =
        Checks.dimSize "action" 1 2L action
        Checks.sameRows "state" state "action" action
        let result =
            Scope.tensors (fun () ->
                let a = action.clamp (Pinned.scalar -1.0, Pinned.scalar 1.0)
                let pos = state.narrow (1L, 0L, 2L)
                let vel = state.narrow (1L, 2L, 2L)
                let vNext = vel * (1.0 - settings.Damping) + a * (settings.Dt * settings.Gain)
                let pNext = pos + vNext * settings.Dt
                let free = (1.0 - stuck).unsqueeze 1L
                let pNext = pNext * free + pos * (1.0 - free)
                let vNext = vNext * free
                let hit = (Tensor.normDim 1 pNext).lt(torch.full_like (stuck, Pinned.scalar settings.ObstacleRadius)).to_type stuck.dtype
                let stuckNext = torch.maximum (stuck, hit)
                let reward = -(Tensor.normDim 1 (pNext - goalOf settings pNext)) * settings.Dt
                [ torch.cat ([| pNext; vNext * (1.0 - stuckNext.unsqueeze 1L) |], 1L); reward; stuckNext ])
        result[0], result[1], result[2]

    /// The expert: a PD controller to a via-point (0, ±1.2) above or below the obstacle (the row's
    /// mode, +1 or −1) while x < −0.1, then to the goal; a = clip(2(target − x) − 1.5 v, −1, 1).
    let expert (settings: ReacherSettings) (mode: Tensor) (state: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let pos = state.narrow (1L, 0L, 2L)
            let vel = state.narrow (1L, 2L, 2L)
            let via = torch.cat ([| torch.zeros_like (mode.unsqueeze 1L); mode.unsqueeze 1L * 1.2 |], 1L)
            let goal = (goalOf settings pos).unsqueeze(0L).expand_as pos
            let before = pos.narrow(1L, 0L, 1L).lt (torch.full_like (pos.narrow (1L, 0L, 1L), Pinned.scalar -0.1))
            let target = torch.where (before, via, goal)
            ((target - pos) * 2.0 - vel * 1.5).clamp (Pinned.scalar -1.0, Pinned.scalar 1.0))

    /// Rolls out a policy (states [n, 4] → actions [n, 2]) from `start`; returns the returns [n]
    /// (as floats), whether each episode ended stuck, the final distances to the goal, and the
    /// visited (state, action) pairs.
    let rollout (settings: ReacherSettings) (policy: Tensor -> Tensor) (start: Tensor) =
        let n = int start.shape[0]
        let mutable state = start.clone ()
        let mutable stuck = torch.zeros ([| int64 n |], dtype = start.dtype, device = start.device)
        let returns = Array.zeroCreate<float> n
        let states = ResizeArray<Tensor> ()
        let actions = ResizeArray<Tensor> ()
        for _ in 1 .. settings.Horizon do
            let a = policy state
            states.Add (state.clone ())
            actions.Add (a.detach().clone ())
            let s2, r, st = step settings state stuck a
            Array.iteri (fun i v -> returns[i] <- returns[i] + v) (Tensor.toArray r)
            a.Dispose (); r.Dispose (); state.Dispose (); stuck.Dispose ()
            state <- s2
            stuck <- st
        let finalDistance = Scope.run (fun () -> Tensor.toArray (Tensor.normDim 1 (state.narrow (1L, 0L, 2L) - goalOf settings state)))
        let stuckArr = Tensor.toArray stuck |> Array.map (fun v -> v > 0.5)
        state.Dispose (); stuck.Dispose ()
        returns, stuckArr, finalDistance, states, actions
