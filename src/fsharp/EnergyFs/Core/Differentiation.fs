namespace EnergyFs

open System
open System.Collections.Generic
open TorchSharp

/// What `Diff.gradients` does with inputs that the output does not depend on.
type UnusedInputs =
    /// Fail, as torch.autograd.grad with allow_unused = false.
    | FailOnUnused
    /// Zeros of the input's shape in place of the missing gradients (allow_unused = true).
    | ZerosForUnused
    /// Zeros, from an autograd pass that reaches every input and so returns real tensors
    /// (TorchSharp's placeholders for unused inputs have empty handles that its live-tensor
    /// statistics never release): first-order, each input is also an output with a zero seed; with
    /// CreateGraph, output + 0·Σᵢ sum(inputᵢ) is differentiated (`Diff.reachingAll`), so that the
    /// zeros are themselves differentiable.
    | ReachAll

/// Options of `Diff.gradients`: the torch.autograd.grad flags.
type GradientOptions =
    { /// Build the graph of the gradient itself, for higher derivatives (implies RetainGraph).
      CreateGraph: bool
      /// Keep the output's graph for another backward pass.
      RetainGraph: bool
      /// Inputs the output does not depend on.
      Unused: UnusedInputs }

/// Defaults of GradientOptions.
[<RequireQualifiedAccess>]
module GradientOptions =
    /// First-order gradients, graph freed, zeros for unused inputs by reaching every input.
    let defaults = { CreateGraph = false; RetainGraph = false; Unused = ReachAll }

/// Functional differentiation in the style of DiffSharp and JAX, over TorchSharp's autograd.
///
/// Each operator takes a function and a point and returns plain tensors. The point is never
/// modified: a detached copy that requires grad is differentiated. Nesting works as in DiffSharp:
/// when the point already requires grad (it is the variable of an enclosing derivative, or a
/// parameter), the result stays in the autograd graph so the enclosing derivative sees through it;
/// `grad (fun x -> Tensor.dot (grad f x) v) x` is a Hessian-vector product.
///
/// Conventions: x has any shape; for `grad`, f x must hold a single element; v has the shape of x
/// (jvp, hvp) or of f x (vjp).
[<RequireQualifiedAccess>]
module Diff =

    let private isNested (x: Tensor) = x.requires_grad && torch.is_grad_enabled ()

    // The operators work even when called under torch.no_grad (from a finite-difference check or a
    // validation pass): whether the point is nested is read first (under no_grad it counts as a
    // constant of any enclosing derivative), then gradients are enabled for the computation.


    /// The differentiation variable for x: x itself when nested, else a detached leaf copy.
    let private variable (x: Tensor) =
        if isNested x then x, true
        else x.detach().requires_grad_ true, false

    /// `output + 0·Σᵢ sum(inputsᵢ)`: the same value and derivatives, but every input is reached,
    /// so autograd returns real zero gradients for inputs the output does not depend on. (Without
    /// it TorchSharp returns wrappers with empty handles, which its live-tensor statistics never
    /// release.) Only the backward pass uses this sum.
    let reachingAll (output: Tensor) (inputs: Tensor list) : Tensor =
        inputs
        |> List.filter (fun x -> x.requires_grad)
        |> List.fold (fun (acc: Tensor) x -> acc + x.sum () * 0.0) output

    /// The gradients autograd returned, with zeros for the inputs it did not reach: an unused input
    /// comes back as null or, in TorchSharp, as a tensor with an empty handle.
    let private zerosWhereMissing (inputs: Tensor list) (gs: IList<Tensor>) =
        List.init inputs.Length (fun i ->
            match gs[i] with
            | null -> torch.zeros_like inputs[i]
            | g when g.IsInvalid -> torch.zeros_like inputs[i]
            | g -> g)

    /// ∂(output·seed)/∂inputs through torch.autograd.grad (the one place that calls it), with the
    /// options' flags and treatment of unused inputs.
    let private autograd (options: GradientOptions) (output: Tensor) (inputs: Tensor list) (seed: Tensor option) =
        let retain = options.RetainGraph || options.CreateGraph
        if seed.IsNone && output.numel () <> 1L then
            Checks.fail "output" (sprintf "the output has shape %s: a gradient needs a single-element output (sum it, or take a vector-Jacobian product with a seed of its shape)" (Checks.shapeText output.shape))
        let seeds = match seed with Some s -> ResizeArray [ s ] :> IList<Tensor> | None -> null
        match options.Unused with
        | FailOnUnused ->
            if not output.requires_grad then
                Checks.fail "output" "the output does not depend on any input that requires grad, so it has no gradient (allow unused inputs to get zeros)"
            // allow_unused = true and a check here: libtorch's own refusal aborts the process in
            // TorchSharp (the gradients of the used inputs do not depend on the flag).
            let gs = torch.autograd.grad (ResizeArray [ output ], ResizeArray inputs, seeds, retain, options.CreateGraph, true)
            List.init inputs.Length (fun i ->
                match gs[i] with
                | g when isNull g || g.IsInvalid ->
                    Checks.fail "inputs" (sprintf "inputs[%d] (shape %s) is not used by the output; with FailOnUnused every input must be used (ZerosForUnused gives zeros)" i (Checks.shapeText inputs[i].shape))
                | g -> g)
        | ZerosForUnused | ReachAll ->
            if not output.requires_grad then
                inputs |> List.map torch.zeros_like
            elif options.Unused = ReachAll && not options.CreateGraph then
                // First order: every input reached by making it an output too, with a zero seed, so
                // autograd adds nothing to its gradient but returns a real tensor for it. One
                // zero-filled tensor per input, against `reachingAll`'s three operations forward and
                // three backward per input (a CRF loss's gradient in two tensors: 45 → 10 µs of
                // overhead over torch.autograd.grad).
                let outputSeed = match seed with Some s -> s | None -> torch.ones_like output
                let outputs = ResizeArray (output :: inputs)
                let seedsAll = ResizeArray (outputSeed :: (inputs |> List.map torch.zeros_like))
                zerosWhereMissing inputs (torch.autograd.grad (outputs, ResizeArray inputs, seedsAll, retain, false, true))
            else
                let reached = if options.Unused = ReachAll then reachingAll output inputs else output
                zerosWhereMissing inputs (torch.autograd.grad (ResizeArray [ reached ], ResizeArray inputs, seeds, retain, options.CreateGraph, true))

    /// ∂(Σ outputs·seeds)/∂inputs; unused inputs get zeros.
    let private autogradGradRetaining (retainGraph: bool) (output: Tensor) (inputs: Tensor list) (seed: Tensor option) (createGraph: bool) =
        autograd { CreateGraph = createGraph; RetainGraph = retainGraph; Unused = ReachAll } output inputs seed

    let private autogradGrad output inputs seed createGraph = autogradGradRetaining false output inputs seed createGraph

    /// ∂(output·seed)/∂input for a single input (the one-variable operators below): torch.autograd.grad
    /// with allow_unused, zeros where the output does not reach the input. Unlike `ReachAll` it adds no
    /// `reachingAll` term, which costs three operations forward and three backward on every call (a
    /// tenth of `grad`'s time on a small MLP); in the rare unreached case TorchSharp's empty
    /// placeholder is disposed and replaced by zeros.
    let private gradOfOne (output: Tensor) (input: Tensor) (seed: Tensor option) (createGraph: bool) : Tensor =
        if not output.requires_grad then torch.zeros_like input
        else
            let seeds = match seed with Some s -> ResizeArray [ s ] :> IList<Tensor> | None -> null
            let gs = torch.autograd.grad (ResizeArray [ output ], ResizeArray [ input ], seeds, createGraph, createGraph, true)
            match gs[0] with
            | null -> torch.zeros_like input
            | g when g.IsInvalid ->
                g.Dispose ()
                torch.zeros_like input
            | g -> g

    let private evaluateConstant (f: Tensor -> Tensor) (x: Tensor) =
        use _ = torch.no_grad ()
        f (x.detach ())

    let private requireScalar (name: string) (y: Tensor) =
        if y.numel () <> 1L then
            invalidArg "f" (sprintf "%s needs a scalar-valued function, but f returned shape %s; use vjp for vector-valued functions" name (Checks.shapeText y.shape))

    let private requireSameShape (name: string) (argX: string) (x: Tensor) (argV: string) (v: Tensor) =
        if x.shape <> v.shape then
            invalidArg argV (sprintf "%s: %s has shape %s but %s has shape %s; they must match" name argV (Checks.shapeText v.shape) argX (Checks.shapeText x.shape))

    /// The result as returned: itself when nested or when it carries no graph, else detached.
    let private finish nested (t: Tensor) = if nested || not t.requires_grad then t else t.detach ()

    /// (f x, ∇f(x)) for scalar-valued f.
    let valueAndGrad (f: Tensor -> Tensor) (x: Tensor) : Tensor * Tensor =
        let xv, nested = variable x
        use _ = torch.enable_grad ()
        let y = f xv
        requireScalar "valueAndGrad" y
        let g = gradOfOne y xv None nested
        finish nested y, finish nested g

    /// ∇f(x) for scalar-valued f (as `valueAndGrad`, without detaching the value it discards).
    let grad (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        let xv, nested = variable x
        use _ = torch.enable_grad ()
        let y = f xv
        requireScalar "grad" y
        finish nested (gradOfOne y xv None nested)

    /// (f x, vᵀ J_f(x)): the vector-Jacobian product, v of the shape of f x.
    let vjp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor * Tensor =
        let xv, nested = variable x
        use _ = torch.enable_grad ()
        let y = f xv
        requireSameShape "vjp" "f x" y "v" v
        let g = gradOfOne y xv (Some v) nested
        finish nested y, finish nested g

    /// (f x, J_f(x) v): the Jacobian-vector product, v of the shape of x. Computed by the
    /// double-vjp identity J v = ∂/∂u ⟨Jᵀu, v⟩ (two reverse passes, no forward mode needed).
    let jvp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor * Tensor =
        requireSameShape "jvp" "x" x "v" v
        let xv, nested = variable x
        use _ = torch.enable_grad ()
        let y = f xv
        if not y.requires_grad then
            finish nested y, torch.zeros_like y
        else
            let u = torch.zeros_like(y).requires_grad_ true
            let jtu = gradOfOne y xv (Some u) true
            let jv = gradOfOne jtu u (Some v) nested
            finish nested y, finish nested jv

    /// H_f(x) v, the Hessian-vector product of scalar-valued f (double backward).
    let hvp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor =
        requireSameShape "hvp" "x" x "v" v
        let xv, nested = variable x
        use _ = torch.enable_grad ()
        let y = f xv
        requireScalar "hvp" y
        let g = gradOfOne y xv None true
        let hv = gradOfOne g xv (Some v) nested
        finish nested hv

    /// The full Jacobian of f at x, shape (shape of f x) @ (shape of x), by one vjp per output.
    /// Meant for small problems and tests.
    let jacobian (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        use y = evaluateConstant f x
        let m = y.numel ()
        let rows =
            [ for i in 0L .. m - 1L ->
                use e = torch.zeros (m, dtype = y.dtype, device = y.device)
                e[i] <- torch.tensor (1.0, dtype = y.dtype)
                use ev = e.reshape y.shape
                let _, r = vjp f x ev
                r.reshape -1L ]
        let j = torch.stack (ResizeArray rows, 0L)
        Scope.disposeAll rows
        j.reshape (Array.append y.shape x.shape)

    /// The full Hessian of scalar-valued f at x, shape (shape of x) @ (shape of x), by one hvp per
    /// coordinate. Meant for small problems and tests.
    let hessian (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        let n = x.numel ()
        let cols =
            [ for i in 0L .. n - 1L ->
                use e = torch.zeros (n, dtype = x.dtype, device = x.device)
                e[i] <- torch.tensor (1.0, dtype = x.dtype)
                use ev = e.reshape x.shape
                (hvp f x ev).reshape -1L ]
        let h = torch.stack (ResizeArray cols, 0L)
        Scope.disposeAll cols
        h.reshape (Array.append x.shape x.shape)

    // ---- functions of several tensors (parameter lists) ------------------------------------------

    let private variables (xs: Tensor list) =
        let vs = xs |> List.map variable
        List.map fst vs, (vs |> List.exists snd)

    /// (f xs, [∂f/∂x₁; …]) for scalar-valued f of a list of tensors.
    let valueAndGradN (f: Tensor list -> Tensor) (xs: Tensor list) : Tensor * Tensor list =
        let xvs, nested = variables xs
        use _ = torch.enable_grad ()
        let y = f xvs
        requireScalar "valueAndGradN" y
        let gs = autogradGrad y xvs None nested
        finish nested y, gs |> List.map (finish nested)

    /// [∂f/∂x₁; …] for scalar-valued f of a list of tensors.
    let gradN (f: Tensor list -> Tensor) (xs: Tensor list) : Tensor list = snd (valueAndGradN f xs)

    /// Hessian-vector product of scalar-valued f of a list of tensors: [Σⱼ ∂²f/∂xᵢ∂xⱼ vⱼ]ᵢ.
    let hvpN (f: Tensor list -> Tensor) (xs: Tensor list) (vs: Tensor list) : Tensor list =
        if xs.Length <> vs.Length then
            invalidArg "vs" (sprintf "hvpN: %d directions for %d variables" vs.Length xs.Length)
        List.iteri2 (fun i (x: Tensor) (v: Tensor) -> requireSameShape "hvpN" (sprintf "xs[%d]" i) x (sprintf "vs[%d]" i) v) xs vs
        let xvs, nested = variables xs
        use _ = torch.enable_grad ()
        let y = f xvs
        requireScalar "hvpN" y
        let gs = autogradGrad y xvs None true
        let dot = List.map2 (fun (g: Tensor) (v: Tensor) -> (g * v).sum ()) gs vs |> List.reduce (+)
        autogradGrad dot xvs None nested |> List.map (finish nested)

    // ---- parameters in place ---------------------------------------------------------------------

    /// Gradient of `loss` with respect to leaf parameters that already require grad, without
    /// touching their .grad fields (unlike backward). `createGraph` keeps the result differentiable
    /// (for hypergradients).
    let gradParams (createGraph: bool) (loss: Tensor) (parameters: Tensor list) : Tensor list =
        requireScalar "gradParams" loss
        autogradGrad loss parameters None createGraph

    /// Hessian-vector product of `loss` with respect to parameters that require grad:
    /// H v = ∂/∂θ ⟨∇_θ loss, v⟩. `grads` are ∇_θ loss computed with createGraph = true.
    let hvpParams (grads: Tensor list) (parameters: Tensor list) (vs: Tensor list) : Tensor list =
        if grads.Length <> vs.Length then
            invalidArg "vs" (sprintf "hvpParams: %d directions for %d parameters" vs.Length grads.Length)
        let dot = List.map2 (fun (g: Tensor) (v: Tensor) -> (g * v).sum ()) grads vs |> List.reduce (+)
        autogradGradRetaining true dot parameters None false

    // ---- raw gradients of graphs built by the caller ----------------------------------------------

    /// ∂output/∂xᵢ for every input xᵢ (tensors of the caller's graph that require grad), by
    /// torch.autograd.grad with the options' create-graph / retain-graph flags and treatment of
    /// unused inputs; .grad fields are not touched. An output that does not require grad has zero
    /// gradients (or fails with FailOnUnused). The results are in the graph when CreateGraph is set.
    let gradients (options: GradientOptions) (output: Tensor) (inputs: Tensor list) : Tensor list =
        autograd options output inputs None

    /// ∇ₓ Σ f(x): the gradient of the sum of a batched function (one value per row, or any shape)
    /// at a fresh leaf copy of x, with gradient tracking on even under torch.no_grad; detached,
    /// zeros when f does not depend on x. Tensors that f captures are not differentiated.
    let gradOfSum (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        use _ = torch.enable_grad ()
        let xv = x.detach().requires_grad_ true
        let y = (f xv).sum ()
        (gradients { GradientOptions.defaults with Unused = ZerosForUnused } y [ xv ]).Head.detach ()

    /// Runs f with gradient tracking off (torch.no_grad).
    let noGrad (f: unit -> 'T) : 'T =
        use _ = torch.no_grad ()
        f ()
