//! `Graph`, the tape being recorded, and `FrozenGraph`, a finished tape many threads can sweep.

use core::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::arena::{Arena, Checkpoint, NodeId, VarStep};
use crate::cell::{ArenaCell, ArenaRef};
use crate::op::{BinaryOp, Op};
use crate::pool;
use crate::{Error, Shape, Tensor, Value, Var};

/// A graph being recorded: the arena of nodes, and the gradients stored on its tensors.
///
/// Tensors and variables are `Copy` handles that borrow the graph, so they cannot outlive
/// it or be mixed with another graph's without an error. Recording is eager: each op is
/// evaluated when it is recorded, as in PyTorch. A graph is `Send` but not `Sync`; call
/// [`freeze`](Graph::freeze) for an immutable graph that threads can share.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.scalar(2.0).requires_grad_();
/// let y = x.powi(2) + 2.0 * x + 1.0;
/// assert_eq!(y.item().unwrap(), 9.0);
/// assert_eq!(y.grad_fn().unwrap().name(), "AddBackward0");
/// ```
#[derive(Debug, Default)]
pub struct Graph {
    arena: ArenaCell,
    grads: RefCell<StoredGrads>,
}

/// The gradients `backward` stores on nodes. Buffers of gradients forgotten (by `clear`,
/// `rewind`, `zero_grad`, or the graph's drop) go to this thread's pool (`pool`) and serve
/// the next ones: a training loop stores its gradients without allocating once warm, with
/// one graph cleared each step or a fresh graph each step.
#[derive(Debug, Default)]
struct StoredGrads {
    by_node: HashMap<u32, Vec<f64>>,
}

impl StoredGrads {
    fn forget(&mut self, keep: impl Fn(u32) -> bool) {
        self.by_node.retain(|&index, grad| {
            let kept = keep(index);
            if !kept {
                pool::give_grads([core::mem::take(grad)]);
            }
            kept
        });
    }

    /// A buffer holding `grad`, reusing a forgotten one with room for it where there is one.
    fn buffer_of(&mut self, grad: &[f64]) -> Vec<f64> {
        let mut buffer = pool::take_grad(grad.len());
        buffer.extend_from_slice(grad);
        buffer
    }
}

impl Drop for StoredGrads {
    fn drop(&mut self) {
        pool::give_grads(self.by_node.drain().map(|(_, grad)| grad));
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The unique id of this graph (node ids carry it).
    pub fn id(&self) -> u64 {
        self.arena.borrow().id()
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.arena.borrow().len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.arena.borrow().is_empty()
    }

    /// Runs `read` on the recorded nodes, for sweeps and inspection. The borrow ends with
    /// the call, so no guard outlives it.
    ///
    /// # Panics
    /// If `read` records on this same graph: it holds the nodes borrowed.
    pub fn with_arena<R>(&self, read: impl FnOnce(&Arena) -> R) -> R {
        read(&self.arena.borrow())
    }

    pub(crate) fn arena(&self) -> ArenaRef<'_> {
        self.arena.borrow()
    }

    /// Bytes held by the arena's node and value buffers.
    pub fn memory_bytes(&self) -> usize {
        self.arena.borrow().memory_bytes()
    }

    /// A point of the recording to come back to with [`rewind`](Graph::rewind).
    pub fn checkpoint(&self) -> Checkpoint {
        self.arena.borrow().checkpoint()
    }

    /// Drops every node recorded after `checkpoint`, with the gradients stored on them,
    /// and keeps the buffers' capacity, so a loop that records the same computation each
    /// step allocates nothing once warm (Adept's `new_recording`, Stan's nested stacks).
    ///
    /// Nodes recorded before the checkpoint survive: parameters live there, reached again
    /// through their [`NodeId`] with [`tensor`](Graph::tensor). Taking `&mut self` makes
    /// handles to dropped nodes impossible: no [`Tensor`] or [`Var`] can be alive across
    /// the call, so the compiler rules out a stale handle at no cost per operation, and a
    /// stale [`NodeId`] is an error at lookup.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let mut g = Graph::new();
    /// let w = g.vector(&[1.0, 2.0]).requires_grad_().id();
    /// let start = g.checkpoint();
    /// let mut old = None;
    /// for _ in 0..3 {
    ///     let y = (g.tensor(w)? * 2.0).sum();
    ///     old = Some(y.id());
    ///     g.rewind(start)?;
    /// }
    /// assert_eq!(g.len(), 1);
    /// assert!(g.tensor(old.unwrap()).is_err()); // a dropped node: an error, never another node
    /// # Ok::<(), slope_graph::Error>(())
    /// ```
    pub fn rewind(&mut self, checkpoint: Checkpoint) -> Result<(), Error> {
        self.arena.get_mut().rewind(checkpoint)?;
        let mark = checkpoint.len() as u32;
        self.grads.get_mut().forget(|index| index < mark);
        Ok(())
    }

    /// Drops every node and stored gradient, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        let start = Checkpoint::start(self.id());
        // A rewind to the empty graph always succeeds: the start is never dropped.
        let _ = self.rewind(start);
    }

    /// Runs `f` without recording: results computed inside from tensors that require grad
    /// are new leaves that do not, and `Var` operations record nothing (PyTorch's
    /// `torch.no_grad()`). Recording resumes afterwards, also if `f` panics.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let w = g.scalar(3.0).requires_grad_();
    /// let step = g.no_grad(|| w * 0.5);
    /// assert!(!step.requires_grad() && step.is_leaf());
    /// assert!((w * 0.5).requires_grad());
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Resume<'a>(&'a Graph, bool);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                if let Some(mut arena) = self.0.arena.try_borrow_mut() {
                    arena.set_paused(self.1);
                }
            }
        }
        let was = self.arena.borrow_mut().set_paused(true);
        let _resume = Resume(self, was);
        f()
    }

    /// Whether operations are being recorded (false inside [`no_grad`](Graph::no_grad)).
    pub fn is_grad_enabled(&self) -> bool {
        !self.arena.borrow().paused()
    }

    /// The tensor of a node recorded earlier, from its id: how parameters are reached
    /// again after a [`rewind`](Graph::rewind). An error if the id belongs to another
    /// graph or names a node a rewind dropped.
    pub fn tensor(&self, id: NodeId) -> Result<Tensor<'_>, Error> {
        let index = self.arena.borrow().resolve(id)?;
        Ok(self.handle(index))
    }

    /// The variable of a scalar node recorded earlier, from its id (see
    /// [`tensor`](Graph::tensor)).
    pub fn var_of(&self, id: NodeId) -> Result<Var<'_>, Error> {
        let arena = self.arena.borrow();
        let index = arena.resolve(id)?;
        match arena.value(index) {
            [x] if arena.shape(index).is_scalar() => Ok(Var::on_graph(*x, self, index, arena.low(index))),
            _ => Err(Error::NeedsScalar { what: "var_of()", shape: arena.shape(index) }),
        }
    }

    /// Sets the value of a leaf in place, such as a parameter after an optimizer step
    /// (PyTorch's `with torch.no_grad(): w -= lr * w.grad`).
    ///
    /// It takes `&mut self`, so no [`Tensor`] or [`Var`] of this graph is alive across it: a
    /// `Var` carries its value, and one kept across a change of its own leaf would compute
    /// with the old value. Reach the leaf again with [`tensor`](Graph::tensor) or
    /// [`var_of`](Graph::var_of) afterwards. Nodes computed from the leaf before keep its
    /// old value, so a sweep through them, forward or reverse, is refused with
    /// [`Error::ModifiedInPlace`], as PyTorch refuses a tensor modified in place after it
    /// was saved: rewind them, or set values only after the sweeps.
    ///
    /// ```compile_fail,E0502
    /// use slope_graph::Graph;
    ///
    /// let mut g = Graph::new();
    /// let x = g.var(2.0);
    /// g.set_value(x.id().unwrap(), &[5.0]).unwrap(); // x borrows g: refused here
    /// let y = x * x;
    /// ```
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let mut g = Graph::new();
    /// let x = g.var(2.0).id().unwrap();
    /// g.set_value(x, &[5.0])?;
    /// let x = g.var_of(x)?;
    /// assert_eq!((x * x).value(), 25.0);
    /// # Ok::<(), slope_graph::Error>(())
    /// ```
    pub fn set_value(&mut self, id: NodeId, data: &[f64]) -> Result<(), Error> {
        let arena = self.arena.get_mut();
        let index = arena.resolve(id)?;
        arena.set_leaf_value(index, data)
    }

    /// Changes a leaf's value in place: `update(value, grad)` gets its elements and the
    /// gradient `backward` stored on it (`None` if none is stored), what an optimiser's
    /// step needs, without a copy of either. As with [`set_value`](Graph::set_value), nodes
    /// computed from the old value are stale (a sweep through them is refused), and no
    /// handle lives across the call.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let mut g = Graph::new();
    /// let w = g.vector(&[1.0, 2.0]).requires_grad_().id();
    /// g.accumulate_grad(w, vec![0.5, -1.0])?;
    /// let stepped = g.update_leaf(w, |value, grad| {
    ///     let Some(grad) = grad else { return false };
    ///     value.iter_mut().zip(grad).for_each(|(v, d)| *v -= 0.1 * d);
    ///     true
    /// })?;
    /// assert!(stepped);
    /// assert_eq!(g.tensor(w)?.to_vec(), [0.95, 2.1]);
    /// # Ok::<(), slope_graph::Error>(())
    /// ```
    pub fn update_leaf<R>(
        &mut self,
        id: NodeId,
        update: impl FnOnce(&mut [f64], Option<&[f64]>) -> R,
    ) -> Result<R, Error> {
        let arena = self.arena.get_mut();
        let index = arena.resolve(id)?;
        let grad = self.grads.get_mut().by_node.get(&index).map(Vec::as_slice);
        arena.update_leaf(index, |value| update(value, grad))
    }

    /// Finishes recording: an immutable graph that is `Send + Sync`, swept by id.
    /// Stored gradients are dropped with the handles.
    pub fn freeze(self) -> FrozenGraph {
        FrozenGraph { arena: self.arena.into_inner(), names: BTreeMap::new() }
    }

    /// A frozen copy of what is recorded so far, for the frozen-graph helpers (parallel
    /// Jacobians, Hessians); the graph itself keeps recording, and ids are valid in both.
    pub fn to_frozen(&self) -> FrozenGraph {
        FrozenGraph { arena: self.arena.borrow().clone(), names: BTreeMap::new() }
    }

    fn handle(&self, index: u32) -> Tensor<'_> {
        Tensor::new(self, index)
    }

    /// A leaf of the given shape and row-major data; an error if the lengths differ or the
    /// size is beyond what a graph holds.
    pub fn try_tensor(&self, shape: Shape, data: &[f64]) -> Result<Tensor<'_>, Error> {
        let index = self.arena.borrow_mut().push_leaf(shape, data, false)?;
        Ok(self.handle(index))
    }

    fn filled(&self, shape: Shape, x: f64) -> Result<Tensor<'_>, Error> {
        let mut arena = self.arena.borrow_mut();
        arena.prepare(shape)?;
        let index = arena.push_leaf_with(shape, false, |out| out.fill(x));
        Ok(self.handle(index))
    }

    /// The documented panic of the infallible forms: the same message as the `try_` form.
    fn or_panic<T>(result: Result<T, Error>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A scalar leaf (shape `[]`), like `torch.tensor(2.0)`.
    ///
    /// # Panics
    /// Only if the graph is full (more than `u32::MAX` nodes or values).
    pub fn scalar(&self, x: f64) -> Tensor<'_> {
        Graph::or_panic(self.try_tensor(Shape::Scalar, &[x]))
    }

    /// A vector leaf, like `torch.tensor([..])`.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn vector(&self, data: &[f64]) -> Tensor<'_> {
        Graph::or_panic(self.try_tensor(Shape::Vector(data.len()), data))
    }

    /// A `rows x cols` matrix leaf from row-major data.
    pub fn matrix(&self, rows: usize, cols: usize, data: &[f64]) -> Result<Tensor<'_>, Error> {
        self.try_tensor(Shape::Matrix(rows, cols), data)
    }

    /// A matrix leaf from an nalgebra matrix.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn from_dmatrix(&self, m: &nalgebra::DMatrix<f64>) -> Tensor<'_> {
        let row_major: Vec<f64> = m.transpose().as_slice().to_vec();
        Graph::or_panic(self.try_tensor(Shape::Matrix(m.nrows(), m.ncols()), &row_major))
    }

    /// A vector leaf from an nalgebra vector.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn from_dvector(&self, v: &nalgebra::DVector<f64>) -> Tensor<'_> {
        self.vector(v.as_slice())
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`
    /// (symmetric, so both ends are exact).
    pub fn linspace(&self, start: f64, end: f64, steps: usize) -> Result<Tensor<'_>, Error> {
        let shape = Shape::Vector(steps);
        let mut arena = self.arena.borrow_mut();
        arena.prepare(shape)?;
        let step = if steps > 1 { (end - start) / (steps - 1) as f64 } else { 0.0 };
        let half = steps / 2;
        let index = arena.push_leaf_with(shape, false, |out| {
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = if i < half { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 };
            }
        });
        Ok(self.handle(index))
    }

    /// Runs `record`, which records several nodes for one call (a constant and the op that
    /// reads it), and drops what it recorded if it fails: a failed call leaves the graph as
    /// it was. No handle made inside outlives a failure (`record` returns only an error).
    pub(crate) fn all_or_nothing<T>(&self, record: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let before = self.arena.borrow().checkpoint();
        record().inspect_err(|_| self.arena.borrow_mut().undo_to(before))
    }

    /// A leaf of zeros.
    pub fn zeros(&self, shape: Shape) -> Result<Tensor<'_>, Error> {
        self.filled(shape, 0.0)
    }

    /// A leaf of ones.
    pub fn ones(&self, shape: Shape) -> Result<Tensor<'_>, Error> {
        self.filled(shape, 1.0)
    }

    /// A leaf with every element `x`.
    pub fn full(&self, shape: Shape, x: f64) -> Result<Tensor<'_>, Error> {
        self.filled(shape, x)
    }

    /// A scalar variable that requires grad, for code written over `num_traits::Float`.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn var(&self, x: f64) -> Var<'_> {
        let index = Graph::or_panic(self.arena.borrow_mut().push_leaf(Shape::Scalar, &[x], true));
        Var::on_graph(x, self, index, index)
    }

    /// One variable per element of `xs`.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn vars(&self, xs: &[f64]) -> Vec<Var<'_>> {
        let first = Graph::or_panic(self.arena.borrow_mut().push_scalar_leaves(xs));
        xs.iter().zip(first..).map(|(&x, index)| Var::on_graph(x, self, index, index)).collect()
    }

    pub(crate) fn check(&self, t: &Tensor<'_>) -> Result<u32, Error> {
        if core::ptr::eq(t.graph(), self) {
            Ok(t.index())
        } else {
            Err(Error::ForeignNode { expected: self.id(), found: t.graph().id() })
        }
    }

    /// Records `op` on `inputs`: the one fallible entry point behind every tensor method
    /// and operator, for an op without attributes.
    pub fn try_record(&self, op: Op, inputs: &[Tensor<'_>]) -> Result<Tensor<'_>, Error> {
        self.record_op(op, inputs, &[], None)
    }

    /// Records `op` on the nodes `inputs` with its attributes, the constants the node keeps
    /// (`(values, shape)` each, in the order of the op's row after its node inputs:
    /// clamp's bounds `([lo, hi], [2])`, a slice's range, a permutation's code, the target
    /// shape of `sum_to_size` and `expand` as `([], shape)`).
    ///
    /// ```
    /// use slope_graph::{Graph, Op, Shape, StructuralOp};
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[-2.0, 0.5, 3.0]);
    /// let bounds = (&[-1.0, 1.0][..], Shape::Vector(2));
    /// let y = g.try_record_with(Op::Structural(StructuralOp::Clamp), &[x], &[bounds]).unwrap();
    /// assert_eq!(y.to_vec(), vec![-1.0, 0.5, 1.0]);
    /// ```
    pub fn try_record_with(
        &self,
        op: Op,
        inputs: &[Tensor<'_>],
        attrs: &[(&[f64], Shape)],
    ) -> Result<Tensor<'_>, Error> {
        self.record_op(op, inputs, attrs, None)
    }

    /// [`try_record_with`](Graph::try_record_with), with the output's shape given (a
    /// `reshape`).
    pub(crate) fn record_op(
        &self,
        op: Op,
        inputs: &[Tensor<'_>],
        attrs: &[(&[f64], Shape)],
        shape: Option<Shape>,
    ) -> Result<Tensor<'_>, Error> {
        let mut indices = [0_u32; crate::op::MAX_NODE_INPUTS];
        if inputs.len() > indices.len() {
            return Err(Error::Arity { op: op.name(), expected: op.arity(), got: inputs.len() + attrs.len() });
        }
        for (slot, t) in indices.iter_mut().zip(inputs) {
            *slot = self.check(t)?;
        }
        let index = self.arena.borrow_mut().record_op(op, &indices[..inputs.len()], attrs, shape)?;
        Ok(self.handle(index))
    }

    /// Records a binary op between a node and a scalar constant, atomically: the constant
    /// becomes a leaf only if the op is recorded too.
    pub(crate) fn record_with_constant(
        &self,
        op: BinaryOp,
        node: u32,
        constant: f64,
        constant_left: bool,
    ) -> Result<u32, Error> {
        let mut arena = self.arena.borrow_mut();
        let shape = arena.shape(node);
        // Room for the constant and the result, checked before either is written.
        arena.reserve(2, shape.len())?;
        let before = arena.checkpoint();
        let c = arena.push_constant(constant)?;
        let inputs = if constant_left { [c, node] } else { [node, c] };
        arena.record(Op::Binary(op), &inputs).inspect_err(|_| {
            // the constant alone is dropped again: a failed record writes nothing
            arena.undo_to(before);
        })
    }

    /// Records a `Var` operation (see `Arena::push_var`), `None` inside `no_grad`.
    ///
    /// # Panics
    /// If the graph is full: `Float`'s signatures leave no room for a `Result`.
    #[inline(always)]
    pub(crate) fn push_var(&self, step: VarStep) -> Option<u32> {
        match self.arena.push_var(step) {
            Ok(index) => index,
            Err(e) => full(e),
        }
    }

    pub(crate) fn set_flag(&self, index: u32, retain: bool, on: bool) {
        self.arena.borrow_mut().set_flag(index, retain, on);
    }

    pub(crate) fn push_detached(&self, index: u32) -> Result<u32, Error> {
        let mut arena = self.arena.borrow_mut();
        let shape = arena.shape(index);
        let data = arena.value(index).to_vec();
        arena.push_leaf(shape, &data, false)
    }

    /// The gradient stored on a node by `backward`, if any.
    pub fn stored_grad(&self, id: NodeId) -> Result<Option<Value>, Error> {
        let index = self.arena.borrow().resolve(id)?;
        let shape = self.arena.borrow().shape(index);
        Ok(self.grads.borrow().by_node.get(&index).map(|g| Value::copied(shape, g)))
    }

    /// Runs `read` on the gradient stored on a node, without copying it; `None` if there is
    /// none.
    pub fn with_stored_grad<R>(&self, id: NodeId, read: impl FnOnce(&[f64]) -> R) -> Result<Option<R>, Error> {
        let index = self.arena.borrow().resolve(id)?;
        Ok(self.grads.borrow().by_node.get(&index).map(|g| read(g)))
    }

    /// Adds `grad` to the gradient stored on a node (what `backward` does for leaves that
    /// require grad and for nodes that retain their grad).
    /// Takes the vector, so the first gradient of a node is stored without a copy.
    pub fn accumulate_grad(&self, id: NodeId, grad: Vec<f64>) -> Result<(), Error> {
        let index = self.checked_grad_target(id, grad.len())?;
        let mut grads = self.grads.borrow_mut();
        match grads.by_node.get_mut(&index) {
            Some(stored) => stored.iter_mut().zip(grad).for_each(|(s, g)| *s += g),
            None => {
                grads.by_node.insert(index, grad);
            }
        }
        Ok(())
    }

    /// [`accumulate_grad`](Graph::accumulate_grad) from a slice: the first gradient of a
    /// node is copied into a buffer of a gradient forgotten before (by `clear`, `rewind` or
    /// `zero_grad`) where there is one, so a loop allocates no gradient once warm.
    pub fn accumulate_grad_from(&self, id: NodeId, grad: &[f64]) -> Result<(), Error> {
        let index = self.checked_grad_target(id, grad.len())?;
        let mut grads = self.grads.borrow_mut();
        if let Some(stored) = grads.by_node.get_mut(&index) {
            stored.iter_mut().zip(grad).for_each(|(s, &g)| *s += g);
        } else {
            let buffer = grads.buffer_of(grad);
            grads.by_node.insert(index, buffer);
        }
        Ok(())
    }

    /// The index of the node `id` names, if a gradient of `len` elements fits it.
    fn checked_grad_target(&self, id: NodeId, len: usize) -> Result<u32, Error> {
        let arena = self.arena.borrow();
        let index = arena.resolve(id)?;
        let shape = arena.shape(index);
        if len != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: len });
        }
        Ok(index)
    }

    /// Forgets the stored gradient of one node (PyTorch's `x.grad = None`).
    pub(crate) fn clear_grad(&self, index: u32) {
        self.grads.borrow_mut().forget(|i| i != index);
    }

    /// Forgets every stored gradient (PyTorch's `optimizer.zero_grad()`).
    pub fn zero_grad(&self) {
        self.grads.borrow_mut().forget(|_| false);
    }
}

/// The documented panic of `Var` arithmetic on a full graph, out of the hot path.
#[cold]
#[inline(never)]
fn full(e: Error) -> ! {
    panic!("{e}")
}

/// A finished, immutable graph: `Send + Sync`, so many threads can sweep it at once with
/// their own gradient buffers. Nodes are named by [`NodeId`], checked on every lookup.
#[derive(Clone, Debug)]
pub struct FrozenGraph {
    arena: Arena,
    /// Names given to nodes (inputs, outputs), saved with the graph: how a node is found
    /// again in a graph loaded from a file, where every id is new.
    names: BTreeMap<String, u32>,
}

impl FrozenGraph {
    #[cfg(feature = "serde")]
    pub(crate) fn from_arena(arena: Arena, names: BTreeMap<String, u32>) -> FrozenGraph {
        FrozenGraph { arena, names }
    }

    /// Names node `id` (an input, an output) so that it can be found again by
    /// [`named`](FrozenGraph::named), also in a copy loaded from a graph file.
    ///
    /// ```
    /// use slope_graph::{FrozenGraph, Graph};
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0]).requires_grad_();
    /// let loss = (x * x).sum();
    /// let (x, loss) = (x.id(), loss.id());
    /// let mut frozen = g.freeze();
    /// frozen.name("x", x).unwrap();
    /// frozen.name("loss", loss).unwrap();
    /// let loaded = FrozenGraph::from_json(&frozen.to_json()).unwrap();
    /// assert_eq!(loaded.value(loaded.named("loss").unwrap()).unwrap().item(), Some(5.0));
    /// ```
    pub fn name(&mut self, name: &str, id: NodeId) -> Result<(), Error> {
        let index = self.arena.resolve(id)?;
        self.names.insert(name.to_string(), index);
        Ok(())
    }

    /// The node given `name` (by [`name`](FrozenGraph::name), or in the file it was loaded
    /// from); an error that lists the names there are otherwise.
    pub fn named(&self, name: &str) -> Result<NodeId, Error> {
        match self.names.get(name) {
            Some(&index) => Ok(self.arena.node_id(index)),
            None => Err(Error::UnknownName { name: name.to_string(), names: self.names.keys().cloned().collect() }),
        }
    }

    /// Every name given to a node, with its node.
    pub fn names(&self) -> impl Iterator<Item = (&str, NodeId)> + '_ {
        self.names.iter().map(|(name, &index)| (name.as_str(), self.arena.node_id(index)))
    }

    /// The recorded nodes.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The same graph with some leaves moved and every computed node re-evaluated; node
    /// ids of `self` name the same nodes in the result.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.scalar(2.0).requires_grad_();
    /// let y = (x * x + 1.0).id();
    /// let x = x.id();
    /// let frozen = g.freeze();
    /// let moved = frozen.with_leaves(&[(x, &[3.0])]).unwrap();
    /// assert_eq!(moved.value(y).unwrap().item(), Some(10.0));
    /// ```
    pub fn with_leaves(&self, leaves: &[(NodeId, &[f64])]) -> Result<FrozenGraph, Error> {
        Ok(FrozenGraph { arena: self.arena.with_leaves(leaves)?, names: self.names.clone() })
    }

    /// The value of a node.
    pub fn value(&self, id: NodeId) -> Result<Value, Error> {
        let index = self.arena.resolve(id)?;
        Ok(Value::copied(self.arena.shape(index), self.arena.value(index)))
    }
}
