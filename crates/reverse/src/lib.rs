//! Reverse-mode automatic differentiation for slope: backward sweeps over the arena of
//! `slope-graph`.
//!
//! - [`Backward`]: `backward()` on a tensor, with PyTorch's semantics for stored gradients.
//! - [`grad`]: gradients of an output with respect to chosen tensors, stored nowhere
//!   (PyTorch's `torch.autograd.grad`).
//! - [`gradient`], [`jacobian`], [`hessian`]: of a function written once over
//!   `num_traits::Float`, given as a closure (`|x| f(x)`).
//! - Over a [`FrozenGraph`], named `graph_*`: [`graph_vjp`] (with the [`Adjoints`] buffers
//!   kept by the caller), and many sweeps at once on rayon's threads, bitwise equal to
//!   sequential sweeps: [`graph_jacobian`], [`graph_hessian`], [`graph_vjp_batch`];
//!   [`graph_hvp`]: forward-over-reverse Hessian-vector products.
//!
//! ```
//! use slope_graph::Graph;
//! use slope_reverse::Backward;
//!
//! let g = Graph::new();
//! let x = g.scalar(2.0).requires_grad_();
//! let y = x.powi(2);
//! y.backward().unwrap();
//! assert_eq!(x.grad().unwrap().item(), Some(4.0));
//! ```
//!
//! # Where slope differs from PyTorch on purpose
//! - A graph is not freed by `backward`: calling it again is allowed (as with PyTorch's
//!   `retain_graph=True`) and accumulates into the stored gradients again.
//! - [`grad`] returns zeros for an input the output does not depend on, where PyTorch
//!   raises an error unless `allow_unused=True` (and then returns `None`).
//! - `detach` copies the value instead of sharing storage.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod error;
mod parallel;
mod sweep;
mod vjp;

pub use error::Error;

pub use parallel::{graph_hessian, graph_hvp, graph_jacobian, graph_vjp_batch};
pub use sweep::Adjoints;
pub use vjp::PARALLEL_ELEMENTS;

use core::cell::RefCell;

use sweep::Reads;

use slope_graph::{FrozenGraph, Graph, NodeId, Tensor, Value, Var};

/// `backward` on tensors, as in PyTorch.
pub trait Backward {
    /// Backpropagates from a scalar output (seed 1), adding the gradient into every leaf
    /// that requires grad and every tensor that called `retain_grad`.
    ///
    /// Errors if the output is not a scalar ([`Error::NonScalarOutput`]) or does not
    /// require grad.
    fn backward(&self) -> Result<(), Error>;

    /// Backpropagates `seed` (same shape as the output), accumulating `seedᵀ · J`.
    fn backward_with(&self, seed: &[f64]) -> Result<(), Error>;
}

impl Backward for Tensor<'_> {
    fn backward(&self) -> Result<(), Error> {
        let shape = self.shape();
        // One element, `[]` or `[1]` (PyTorch takes both).
        if shape.len() != 1 {
            return Err(Error::NonScalarOutput { shape });
        }
        self.backward_with(&[1.0])
    }

    fn backward_with(&self, seed: &[f64]) -> Result<(), Error> {
        if !self.requires_grad() {
            return Err(slope_graph::Error::NotTracked { what: "backward()" }.into());
        }
        let graph = self.graph();
        let output = self.id().index();
        graph.with_arena(|arena| {
            with_adjoints(|adjoints| -> Result<_, Error> {
                adjoints.sweep_index(arena, output, seed, Reads::Retained)?;
                for i in adjoints.window() {
                    if adjoints.reached(i) && (arena.is_leaf(i) || arena.retains_grad(i)) {
                        if let Some(g) = adjoints.of_index(arena, i) {
                            graph.accumulate_grad_from(arena.node_id(i), g)?;
                        }
                    }
                }
                Ok(())
            })
        })
    }
}

thread_local! {
    /// Adjoint buffers reused by `backward`, `grad` and `var_grad` on this thread, so a
    /// loop of sweeps allocates nothing once warm.
    static ADJOINTS: RefCell<Adjoints> = RefCell::new(Adjoints::new());
    /// Graphs reused by `gradient` on this thread: cleared, not freed, between calls.
    static TAPES: RefCell<Vec<Graph>> = const { RefCell::new(Vec::new()) };
}

/// Frees what this thread keeps for the next call once a call is over: the buffers of
/// dropped graphs ([`slope_graph::release_buffers`]), the adjoint buffers `backward`,
/// `grad` and `var_grad` reuse, and the cleared graphs `gradient` and `jacobian` record on.
/// Returns how many bytes were held. Later calls allocate afresh, then keep again.
///
/// ```
/// let (value, grad) = slope_reverse::gradient(|x| x[0] * x[0], &[3.0]).unwrap();
/// assert_eq!((value, grad[0]), (9.0, 6.0));
/// assert!(slope_reverse::release_buffers() > 0);
/// assert_eq!(slope_reverse::release_buffers(), 0);
/// ```
pub fn release_buffers() -> usize {
    let adjoints = ADJOINTS
        .try_with(|cell| cell.try_borrow_mut().map(|mut a| core::mem::take(&mut *a).memory_bytes()).unwrap_or(0))
        .unwrap_or(0);
    // Dropped, the tapes hand their buffers to the pool, which is freed next.
    let _ = TAPES.try_with(|cell| cell.try_borrow_mut().map(|mut tapes| tapes.clear()));
    adjoints + slope_graph::release_buffers()
}

/// Runs `f` with this thread's reusable adjoint buffers (fresh ones if they are in use,
/// as in a sweep started from inside another).
fn with_adjoints<R>(f: impl FnOnce(&mut Adjoints) -> R) -> R {
    ADJOINTS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut adjoints) => f(&mut adjoints),
        Err(_) => f(&mut Adjoints::new()),
    })
}

/// Gradients of a scalar `output` with respect to `inputs`, returned and stored nowhere
/// (PyTorch's `torch.autograd.grad`). An input the output does not depend on gets zeros.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let u = g.scalar(1.0).requires_grad_();
/// let v = g.scalar(2.0).requires_grad_();
/// let f = u * v + u.powi(2);
/// let d = slope_reverse::grad(f, &[u, v]).unwrap();
/// assert_eq!((d[0].item(), d[1].item()), (Some(4.0), Some(1.0)));
/// assert!(u.grad().is_none());
/// ```
pub fn grad<'g>(output: Tensor<'g>, inputs: &[Tensor<'g>]) -> Result<Vec<Value>, Error> {
    let shape = output.shape();
    if shape.len() != 1 {
        return Err(Error::NonScalarOutput { shape });
    }
    grad_with(output, &[1.0], inputs)
}

/// Like [`grad`], with an explicit seed of the output's shape: `seedᵀ · ∂output/∂input`.
pub fn grad_with<'g>(output: Tensor<'g>, seed: &[f64], inputs: &[Tensor<'g>]) -> Result<Vec<Value>, Error> {
    let ids = sweep_targets(output, inputs)?;
    output.graph().with_arena(|arena| {
        with_adjoints(|adjoints| {
            adjoints.sweep_index(arena, output.id().index(), seed, Reads::Nodes(&ids))?;
            Ok(ids.iter().map(|&index| collect(arena, adjoints, index)).collect())
        })
    })
}

/// Like [`grad`], writing each input's gradient into a buffer the caller owns (`out[k]`
/// has input `k`'s number of elements), with no allocation once this thread is warm: the
/// form for a training loop that keeps its gradient buffers, such as an optimiser's.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
/// let mut dx = vec![0.0; 3];
/// slope_reverse::grad_into(x.powi(2).sum(), &[x], &mut [&mut dx]).unwrap();
/// assert_eq!(dx, [2.0, 4.0, 6.0]);
/// assert!(x.grad().is_none(), "nothing is stored on the graph");
/// ```
///
/// # Errors
/// As [`grad`], and [`Error::GradBuffers`] if `out` does not hold one buffer of the right
/// length per input (nothing is swept then).
pub fn grad_into<'g>(output: Tensor<'g>, inputs: &[Tensor<'g>], out: &mut [&mut [f64]]) -> Result<(), Error> {
    let shape = output.shape();
    if shape.len() != 1 {
        return Err(Error::NonScalarOutput { shape });
    }
    let ids = sweep_targets(output, inputs)?;
    let lengths_match =
        out.len() == inputs.len() && inputs.iter().zip(out.iter()).all(|(t, o)| t.shape().len() == o.len());
    if !lengths_match {
        let expected = inputs.iter().map(|t| t.shape().len()).collect();
        let got = out.iter().map(|o| o.len()).collect();
        return Err(Error::GradBuffers { expected, got });
    }
    output.graph().with_arena(|arena| {
        with_adjoints(|adjoints| {
            adjoints.sweep_index(arena, output.id().index(), &[1.0], Reads::Nodes(&ids))?;
            for (&index, buffer) in ids.iter().zip(out.iter_mut()) {
                match adjoints.of_index(arena, index) {
                    Some(g) => buffer.copy_from_slice(g),
                    None => buffer.fill(0.0),
                }
            }
            Ok(())
        })
    })
}

/// The arena indices of `inputs`, checked to belong to `output`'s graph and to require
/// grad, as is `output`.
fn sweep_targets<'g>(output: Tensor<'g>, inputs: &[Tensor<'g>]) -> Result<Vec<u32>, Error> {
    let graph = output.graph();
    let mut ids = Vec::with_capacity(inputs.len());
    for t in inputs {
        if !core::ptr::eq(t.graph(), graph) {
            return Err(slope_graph::Error::ForeignNode { expected: graph.id(), found: t.graph().id() }.into());
        }
        if !t.requires_grad() {
            return Err(slope_graph::Error::NotTracked { what: "grad() with respect to a tensor" }.into());
        }
        ids.push(t.id().index());
    }
    if !output.requires_grad() {
        return Err(slope_graph::Error::NotTracked { what: "grad() of an output" }.into());
    }
    Ok(ids)
}

fn collect(arena: &slope_graph::Arena, adjoints: &Adjoints, index: u32) -> Value {
    let data = adjoints.of_or_zero(arena, index);
    Value::new(arena.shape(index), data).unwrap_or_else(|_| unreachable!("adjoints have the node's shape"))
}

/// The value and gradient at `x` of a function written once over `num_traits::Float`.
///
/// Pass the function as a closure, `|x| f(x)`. A generic function's name alone
/// (`gradient(f, &x)`) does not compile ("implementation of `FnOnce` is not general
/// enough"): each call records on a graph of its own, so the function must accept
/// variables of any graph's lifetime, and Rust fixes a named generic function's type
/// parameter once, where the closure lets it be chosen per call:
///
/// ```compile_fail
/// fn square<T: num_traits::Float>(x: &[T]) -> T {
///     x[0] * x[0]
/// }
/// let _ = slope_reverse::gradient(square, &[1.0]); // write `|x| square(x)`
/// ```
///
/// ```
/// use num_traits::Float;
///
/// fn rosenbrock<T: Float>(x: &[T]) -> T {
///     let hundred = T::from(100.0).unwrap();
///     x.windows(2)
///         .map(|w| hundred * (w[1] - w[0] * w[0]).powi(2) + (T::one() - w[0]).powi(2))
///         .fold(T::zero(), |a, b| a + b)
/// }
///
/// let (value, grad) = slope_reverse::gradient(|x| rosenbrock(x), &[1.0, 2.0]).unwrap();
/// assert_eq!(value, 100.0);
/// assert_eq!(grad, vec![-400.0, 200.0]);
/// ```
pub fn gradient<F>(f: F, x: &[f64]) -> Result<(f64, Vec<f64>), Error>
where
    F: for<'g> FnOnce(&[Var<'g>]) -> Var<'g>,
{
    with_tape(|graph| {
        let vars = graph.vars(x);
        let y = f(&vars);
        var_grad(y, &vars).map(|g| (y.value(), g))
    })
}

/// The values and the Jacobian at `x` of a function with several outputs, written over
/// `num_traits::Float` and passed as a closure (see [`gradient`]): `jacobian[i][j]` is
/// `∂y_i/∂x_j`, one backward sweep per output.
///
/// ```
/// use num_traits::Float;
///
/// let (y, j) = slope_reverse::jacobian(|x| vec![x[0] * x[1], x[0].sin()], &[2.0, 3.0]).unwrap();
/// assert_eq!(y, vec![6.0, 2f64.sin()]);
/// assert_eq!(j, vec![vec![3.0, 2.0], vec![2f64.cos(), 0.0]]);
/// ```
pub fn jacobian<F>(f: F, x: &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>), Error>
where
    F: for<'g> FnOnce(&[Var<'g>]) -> Vec<Var<'g>>,
{
    with_tape(|graph| {
        let vars = graph.vars(x);
        let ys = f(&vars);
        let rows = ys.iter().map(|&y| var_grad(y, &vars)).collect::<Result<Vec<_>, _>>()?;
        Ok((ys.iter().map(|y| y.value()).collect(), rows))
    })
}

/// The value, gradient and Hessian at `x` of a function written over `num_traits::Float`,
/// passed as a closure (see [`gradient`]): the function is recorded once, and each Hessian
/// column is a forward-over-reverse Hessian-vector product over the recording, in parallel
/// ([`graph_hessian`]).
///
/// ```
/// let (v, g, h) = slope_reverse::hessian(|x| x[0] * x[0] * x[1], &[3.0, 2.0]).unwrap();
/// assert_eq!((v, g), (18.0, vec![12.0, 9.0]));
/// assert_eq!(h, vec![vec![4.0, 6.0], vec![6.0, 0.0]]);
/// ```
// The tuple `slope_dual::hessian` returns, so both modes' helpers have one shape.
#[allow(clippy::type_complexity)]
pub fn hessian<F>(f: F, x: &[f64]) -> Result<(f64, Vec<f64>, Vec<Vec<f64>>), Error>
where
    F: for<'g> FnOnce(&[Var<'g>]) -> Var<'g>,
{
    let graph = Graph::new();
    let (value, gradient, output, wrt) = {
        let vars = graph.vars(x);
        let y = f(&vars);
        let gradient = var_grad(y, &vars)?;
        let wrt: Vec<NodeId> = vars.iter().filter_map(|v| v.id()).collect();
        (y.value(), gradient, y.id(), wrt)
    };
    let Some(output) = output else {
        // A constant function: nothing was recorded.
        return Ok((value, gradient, vec![vec![0.0; x.len()]; x.len()]));
    };
    let hessian = graph_hessian(&graph.freeze(), output, &wrt)?;
    Ok((value, gradient, hessian))
}

/// Runs `f` on a cleared graph from this thread's pool, and returns the graph to it.
fn with_tape<R>(f: impl FnOnce(&Graph) -> R) -> R {
    let mut graph = TAPES.with(|tapes| tapes.borrow_mut().pop()).unwrap_or_default();
    graph.clear();
    let result = f(&graph);
    TAPES.with(|tapes| tapes.borrow_mut().push(graph));
    result
}

/// The gradient of `output` with respect to each of `wrt` (zero for a constant or for a
/// variable the output does not depend on).
pub fn var_grad<'g>(output: Var<'g>, wrt: &[Var<'g>]) -> Result<Vec<f64>, Error> {
    let (Some(graph), Some(out)) = (output.graph(), output.index()) else {
        return Ok(vec![0.0; wrt.len()]);
    };
    if let Some(other) = wrt.iter().filter_map(|v| v.graph()).find(|g| !core::ptr::eq(*g, graph)) {
        return Err(slope_graph::Error::ForeignNode { expected: graph.id(), found: other.id() }.into());
    }
    graph.with_arena(|arena| {
        with_adjoints(|adjoints| {
            adjoints.sweep_gradient(arena, out)?;
            Ok(adjoints.var_adjoints(wrt.iter().map(|v| v.index())))
        })
    })
}

/// Vector-Jacobian product over a frozen graph: `seedᵀ · ∂output/∂w` for each `w` in
/// `wrt`, using (and reusing) the caller's buffers.
pub fn graph_vjp(
    graph: &FrozenGraph,
    output: NodeId,
    seed: &[f64],
    wrt: &[NodeId],
    adjoints: &mut Adjoints,
) -> Result<Vec<Value>, Error> {
    let arena = graph.arena();
    let (out, indices) = parallel::resolve(arena, output, wrt)?;
    // the caller's buffers: any node's adjoint may be read from them afterwards
    adjoints.sweep_index(arena, out, seed, Reads::All)?;
    Ok(indices.into_iter().map(|i| collect(arena, adjoints, i)).collect())
}
