module EnergyFs.Tests.Projections.ProjectionsTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Projections
open EnergyFs.Tests.Generators
open EnergyFs.Tests.FenchelYoungFixtures

[<Tests>]
let tests =
    testList "Projections" [
        testCase "simplex: a known value" <| fun () ->
            use z = Tensor.ofRows ctx [| [| 0.5; 1.5; -1.0 |]; [| 0.2; 0.2; 0.2 |] |]
            use p = Simplex.project z
            let a = Tensor.toArray p
            Expect.floatClose Accuracy.high a[0] 0.0 "[0.5,1.5,-1] → [0,1,0]"
            Expect.floatClose Accuracy.high a[1] 1.0 "[0.5,1.5,-1] → [0,1,0]"
            Expect.floatClose Accuracy.high a[3] (1.0 / 3.0) "uniform shift"

        property "simplex: the projection satisfies the variational inequality ⟨z − p, q − p⟩ ≤ 0" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let z = Tensor.randn rng ctx [ 6L; 7L ] * 3.0
                let p = Simplex.project z
                Expect.isTrue (Simplex.contains 1e-10 p) "on the simplex"
                for _ in 1 .. 5 do
                    let q = randomIn rng Regularizers.Simplex 6L 7L
                    let worst = (Tensor.dot (z - p) (q - p)).max().ToDouble ()
                    Expect.isLessThanOrEqual worst 1e-10 "optimality against random feasible q")

        property "simplex: idempotent on simplex points" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let q = randomIn rng Regularizers.Simplex 5L 4L
                Expect.isLessThan (Tensor.maxAbsDiff (Simplex.project q) q) 1e-12 "proj q = q")

        testCase "box: clipping, and low > high is refused" <| fun () ->
            use z = Tensor.ofArray ctx [| -0.5; 0.3; 1.7 |]
            use p = Box.project z
            Expect.equal (Tensor.toArray p) [| 0.0; 0.3; 1.0 |] "clip to [0,1]"
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> Box.projectOnto 1.0 0.0 z |> ignore) |> ignore

        testCase "simplex: a 1-D input is refused naming its shape" <| fun () ->
            use z = Tensor.ofArray ctx [| 1.0; 2.0 |]
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> Simplex.project z |> ignore)
            Expect.stringContains e.Message "[2]" "names the shape"

        property "simplex: proj(z + c·1) = proj(z) and τ(z + c·1) = τ(z) + c for |c| up to 1e4" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                // z on the grid 2⁻²⁰ℤ with |z| < 2⁵ and c on it with |c| ≤ 1e4: z + c is exact in
                // float64, so any difference comes from the projection itself. Shifting each row by
                // its maximum makes the two results identical (the unshifted cumsum was off by 6e-13).
                let grid (t: Tensor) = (t * 1048576.0).round () / 1048576.0
                let z = grid (Tensor.randn rng ctx [ 6L; 7L ] * 3.0)
                let c = grid (Tensor.uniform rng ctx -1e4 1e4 [ 6L; 1L ])
                Expect.isLessThanOrEqual (Tensor.maxAbsDiff (Simplex.project (z + c)) (Simplex.project z)) 1e-15 "proj(z + c·1) = proj(z)"
                // τ(z + c) is a number of size |c|, whose ulp is 1.8e-12 at 1e4.
                Expect.isLessThanOrEqual (Tensor.maxAbsDiff (Simplex.threshold (z + c) - c) (Simplex.threshold z)) 4e-12 "τ(z + c·1) = τ(z) + c")

        testCase "simplex: rows of size 1e3 keep their support and sum to 1 to rounding" <| fun () ->
            use z = Tensor.ofRows ctx [| [| 1000.25; 1000.5; 999.0; 1000.0 |]; [| -1e3 - 0.5; -1e3; -1e3 - 2.0; -1e3 - 0.25 |] |]
            use p = Simplex.project z
            // Row 0: τ = (1000.5 + 1000.25 + 1000 − 1)/3 = 999.91666…, p = (1/3, 7/12, 0, 1/12);
            // row 1: τ = (−1000 − 1000.25 − 1000.5 − 1)/3 = −1000.58333…, p = (1/12, 7/12, 0, 1/3).
            let a = Tensor.toArray p
            let expected = [| 1.0 / 3.0; 7.0 / 12.0; 0.0; 1.0 / 12.0; 1.0 / 12.0; 7.0 / 12.0; 0.0; 1.0 / 3.0 |]
            Array.iteri2 (fun i (got: float) e -> Expect.floatClose { absolute = 1e-15; relative = 0.0 } got e (sprintf "entry %d" i)) a expected
    ]
