//! The arena: nodes in one flat vector indexed by `u32`, values in one flat buffer.
//!
//! A node is 24 bytes: two input indices, the offset of its value in the value buffer, its
//! dimensions, its op and its flags. A scalar node's value is one `f64` in the buffer, so a
//! recorded scalar binary op costs 32 bytes and no allocation of its own. Inputs always
//! have smaller indices than the node that reads them, so the node vector is already in
//! topological order and a backward sweep is one reverse loop.

use core::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::op::{eval_elementwise, eval_into, Op};
use crate::{Error, Shape};

/// Marks an unused input slot.
const NO_INPUT: u32 = u32::MAX;
/// The node requires grad: a leaf marked by the user, or a result of such a node.
const REQUIRES_GRAD: u8 = 1;
/// The node keeps its gradient after `backward` although it is not a leaf.
const RETAIN_GRAD: u8 = 2;

/// Most nodes a graph holds: ids are `u32` and `u32::MAX` marks "no input".
pub const MAX_NODES: u64 = u32::MAX as u64 - 1;
/// Most `f64` values a graph holds in all: value offsets are `u32`.
pub const MAX_VALUES: u64 = u32::MAX as u64;

static NEXT_GRAPH_ID: AtomicU64 = AtomicU64::new(1);

/// A node's identity: the graph it belongs to and its index there.
///
/// Ids outlive the `Tensor` handles they came from, so they name nodes of a
/// [`FrozenGraph`](crate::FrozenGraph); every lookup checks the graph, so an id from another
/// graph is an error, never a silently wrong node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    graph: u64,
    index: u32,
}

impl NodeId {
    /// The position of the node in its graph.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The id of the graph the node belongs to.
    pub fn graph(self) -> u64 {
        self.graph
    }
}

/// What a sweep needs of a node, read in one lookup.
#[derive(Clone, Copy, Debug)]
pub struct NodeView {
    /// The op; `None` for a leaf.
    pub op: Option<Op>,
    /// Input indices (slots past the op's arity are unused).
    pub inputs: [u32; 2],
    /// Offset of the value in the value buffer.
    pub value: usize,
    /// Shape `[]`.
    pub scalar: bool,
    /// Whether gradients flow to it.
    pub requires_grad: bool,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    inputs: [u32; 2],
    value: u32,
    dims: [u32; 2],
    rank: u8,
    flags: u8,
    op: Option<Op>,
}

impl Node {
    fn shape(&self) -> Shape {
        match self.rank {
            0 => Shape::Scalar,
            1 => Shape::Vector(self.dims[0] as usize),
            _ => Shape::Matrix(self.dims[0] as usize, self.dims[1] as usize),
        }
    }
}

/// The recorded nodes and their values. Read-only outside this crate: nodes are added only
/// by recording through a [`Graph`](crate::Graph), which keeps every invariant.
///
/// # Panics
/// The accessors that take a raw `u32` index (`shape`, `value`, `op`, `inputs`, ...) are the
/// sweeps' hot path and do not check it: an index past the end panics. Indices from
/// [`resolve`](Arena::resolve) (which checks a [`NodeId`]), from [`inputs`](Arena::inputs)
/// or below [`len`](Arena::len) are always valid.
#[derive(Clone, Debug)]
pub struct Arena {
    id: u64,
    nodes: Vec<Node>,
    values: Vec<f64>,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

impl Arena {
    pub(crate) fn new() -> Arena {
        Arena { id: NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed), nodes: Vec::new(), values: Vec::new() }
    }

    /// The unique id of this graph.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    /// The id of the node at `index`.
    pub fn node_id(&self, index: u32) -> NodeId {
        NodeId { graph: self.id, index }
    }

    /// The index of `id` in this graph, or an error if it belongs elsewhere or does not exist.
    pub fn resolve(&self, id: NodeId) -> Result<u32, Error> {
        if id.graph != self.id {
            return Err(Error::ForeignNode { expected: self.id, found: id.graph });
        }
        if id.index as usize >= self.nodes.len() {
            return Err(Error::NoSuchNode { index: id.index, len: self.nodes.len() });
        }
        Ok(id.index)
    }

    /// Shape of a node's value.
    pub fn shape(&self, index: u32) -> Shape {
        self.node(index).shape()
    }

    /// Where a node's value sits in [`values`](Arena::values).
    pub fn value_range(&self, index: u32) -> Range<usize> {
        let node = self.node(index);
        let start = node.value as usize;
        start..start + node.shape().len()
    }

    /// A node's value, row-major.
    pub fn value(&self, index: u32) -> &[f64] {
        &self.values[self.value_range(index)]
    }

    /// The whole value buffer; node values are contiguous and in node order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The op that computed a node; `None` for a leaf.
    pub fn op(&self, index: u32) -> Option<Op> {
        self.node(index).op
    }

    /// The inputs of a node, as many as its op's arity (none for a leaf).
    pub fn inputs(&self, index: u32) -> &[u32] {
        let node = self.node(index);
        &node.inputs[..node.op.map_or(0, Op::arity)]
    }

    /// Whether gradients flow to this node.
    pub fn requires_grad(&self, index: u32) -> bool {
        self.node(index).flags & REQUIRES_GRAD != 0
    }

    /// Whether a non-leaf keeps its gradient after `backward`.
    pub fn retains_grad(&self, index: u32) -> bool {
        self.node(index).flags & RETAIN_GRAD != 0
    }

    /// A leaf: made by a constructor, by `detach`, or computed from nodes that do not
    /// require grad (such results are recorded as leaves, as PyTorch does).
    pub fn is_leaf(&self, index: u32) -> bool {
        self.node(index).op.is_none()
    }

    /// Bytes held by the node and value buffers (their capacity, not only their length).
    pub fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * core::mem::size_of::<Node>() + self.values.capacity() * core::mem::size_of::<f64>()
    }

    /// Size of one node record, without its value.
    pub const NODE_BYTES: usize = core::mem::size_of::<Node>();

    pub(crate) fn set_flag(&mut self, index: u32, retain: bool, on: bool) {
        let bit = if retain { RETAIN_GRAD } else { REQUIRES_GRAD };
        let node = &mut self.nodes[index as usize];
        if on {
            node.flags |= bit;
        } else {
            node.flags &= !bit;
        }
    }

    /// Checks that `extra_nodes` nodes holding `extra_values` values fit, and reserves room,
    /// before anything is written: a failure leaves the arena untouched.
    pub(crate) fn reserve(&mut self, extra_nodes: usize, extra_values: usize) -> Result<(), Error> {
        let nodes = self.nodes.len() as u64 + extra_nodes as u64;
        if nodes > MAX_NODES {
            return Err(Error::CapacityExceeded { what: "the number of nodes", limit: MAX_NODES });
        }
        let values = (self.values.len() as u64).saturating_add(extra_values as u64);
        if values > MAX_VALUES {
            return Err(Error::CapacityExceeded { what: "the number of stored values", limit: MAX_VALUES });
        }
        let out_of_memory = |_| Error::CapacityExceeded { what: "the memory available", limit: values };
        self.nodes.try_reserve(extra_nodes).map_err(out_of_memory)?;
        self.values.try_reserve(extra_values).map_err(out_of_memory)?;
        Ok(())
    }

    #[inline]
    fn dims(shape: Shape) -> Result<(u8, [u32; 2]), Error> {
        let fit = |d: usize| {
            u32::try_from(d).map_err(|_| Error::CapacityExceeded { what: "a dimension", limit: u32::MAX as u64 })
        };
        Ok(match shape {
            Shape::Scalar => (0, [0, 0]),
            Shape::Vector(n) => (1, [fit(n)?, 0]),
            Shape::Matrix(r, c) => (2, [fit(r)?, fit(c)?]),
        })
    }

    /// Checks a shape and reserves room for one node of it.
    pub(crate) fn prepare(&mut self, shape: Shape) -> Result<(), Error> {
        let len =
            shape.checked_len().ok_or(Error::CapacityExceeded { what: "the number of elements", limit: MAX_VALUES })?;
        Arena::dims(shape)?;
        self.reserve(1, len)
    }

    /// Appends a leaf whose value is produced by `fill`; [`prepare`](Arena::prepare) must
    /// have succeeded for this shape.
    pub(crate) fn push_leaf_with(
        &mut self,
        shape: Shape,
        requires_grad: bool,
        fill: impl FnOnce(&mut Vec<f64>),
    ) -> u32 {
        let start = self.values.len();
        fill(&mut self.values);
        debug_assert_eq!(self.values.len() - start, shape.len());
        self.push_node(shape, start, None, [NO_INPUT; 2], if requires_grad { REQUIRES_GRAD } else { 0 })
    }

    /// Appends a leaf holding `data`, which must fit `shape`.
    pub(crate) fn push_leaf(&mut self, shape: Shape, data: &[f64], requires_grad: bool) -> Result<u32, Error> {
        if shape.checked_len() != Some(data.len()) {
            return Err(Error::DataLength { shape, expected: shape.len(), got: data.len() });
        }
        self.prepare(shape)?;
        Ok(self.push_leaf_with(shape, requires_grad, |v| v.extend_from_slice(data)))
    }

    #[inline(always)]
    fn push_node(&mut self, shape: Shape, start: usize, op: Option<Op>, inputs: [u32; 2], flags: u8) -> u32 {
        let (rank, dims) = Arena::dims(shape).unwrap_or((0, [0, 0]));
        let index = self.nodes.len() as u32;
        self.nodes.push(Node { inputs, value: start as u32, dims, rank, flags, op });
        index
    }

    /// Appends a scalar node whose value the caller computed with `op`'s primal from its
    /// inputs' values, and whose inputs are known to require grad: the path of [`Var`]
    /// arithmetic, which keeps values in the variables and needs no lookups here.
    ///
    /// [`Var`]: crate::Var
    #[inline(always)]
    pub(crate) fn push_tracked_scalar(&mut self, op: Op, inputs: [u32; 2], value: f64) -> Result<u32, Error> {
        self.push_scalar(Some(op), inputs, value, REQUIRES_GRAD)
    }

    /// Appends a scalar leaf that does not require grad (a constant operand).
    #[inline(always)]
    pub(crate) fn push_constant(&mut self, value: f64) -> Result<u32, Error> {
        self.push_scalar(None, [NO_INPUT; 2], value, 0)
    }

    #[inline(always)]
    fn push_scalar(&mut self, op: Option<Op>, inputs: [u32; 2], value: f64, flags: u8) -> Result<u32, Error> {
        if self.nodes.len() == self.nodes.capacity() || self.values.len() == self.values.capacity() {
            self.reserve(1, 1)?;
        } else if self.nodes.len() as u64 >= MAX_NODES || self.values.len() as u64 >= MAX_VALUES {
            return Err(Error::CapacityExceeded { what: "the number of nodes", limit: MAX_NODES });
        }
        let start = self.values.len();
        self.values.push(value);
        Ok(self.push_node(Shape::Scalar, start, op, inputs, flags))
    }

    /// The parts of a node a sweep reads, in one lookup.
    #[inline]
    pub fn view(&self, index: u32) -> NodeView {
        let n = &self.nodes[index as usize];
        NodeView {
            op: n.op,
            inputs: n.inputs,
            value: n.value as usize,
            scalar: n.rank == 0,
            requires_grad: n.flags & REQUIRES_GRAD != 0,
        }
    }

    /// Records `op` applied to `inputs` (indices into this arena), evaluating it at once.
    ///
    /// If no differentiated input requires grad, the result is stored as a leaf that does
    /// not require grad, as PyTorch does. On error nothing is written.
    pub(crate) fn record(&mut self, op: Op, inputs: &[u32]) -> Result<u32, Error> {
        if inputs.len() != op.arity() {
            return Err(Error::Arity { op: op.name(), expected: op.arity(), got: inputs.len() });
        }
        if let Some(&bad) = inputs.iter().find(|&&i| i as usize >= self.nodes.len()) {
            return Err(Error::NoSuchNode { index: bad, len: self.nodes.len() });
        }
        let mut shapes = [Shape::Scalar; 2];
        for (slot, &i) in shapes.iter_mut().zip(inputs) {
            *slot = self.shape(i);
        }
        let shape = op.output_shape(&shapes[..inputs.len()])?;
        if op == Op::Structural(crate::op::StructuralOp::Slice) {
            crate::op::check_slice(self.value(inputs[1]), shapes[0].len())?;
        }
        let tracked = inputs.iter().enumerate().any(|(k, &i)| op.differentiates(k) && self.requires_grad(i));
        self.prepare(shape)?;

        let start = self.values.len();
        match (op, shape) {
            // Scalar elementwise ops: no temporary buffer.
            (Op::Unary(u), Shape::Scalar) => {
                let x = self.values[self.node(inputs[0]).value as usize];
                self.values.push(u.eval(x));
            }
            (Op::Binary(b), Shape::Scalar) => {
                let a = self.values[self.node(inputs[0]).value as usize];
                let c = self.values[self.node(inputs[1]).value as usize];
                self.values.push(b.eval(a, c));
            }
            (Op::Unary(_) | Op::Binary(_), _) => {
                // Evaluated in place at the end of the value buffer: inputs always lie below.
                let mut ranges = [0..0, 0..0];
                for (slot, &i) in ranges.iter_mut().zip(inputs) {
                    *slot = self.value_range(i);
                }
                self.values.resize(start + shape.len(), 0.0);
                let (before, out) = self.values.split_at_mut(start);
                let mut args: [(&[f64], Shape); 2] = [(&[], Shape::Scalar); 2];
                for ((slot, range), s) in args.iter_mut().zip(&ranges).zip(&shapes) {
                    *slot = (&before[range.clone()], *s);
                }
                eval_elementwise(op, &args[..inputs.len()], out);
            }
            _ => {
                let mut out = Vec::with_capacity(shape.len());
                let mut args: [(&[f64], Shape); 2] = [(&[], Shape::Scalar); 2];
                for (slot, &i) in args.iter_mut().zip(inputs) {
                    *slot = (self.value(i), self.shape(i));
                }
                eval_into(op, &args[..inputs.len()], &mut out);
                self.values.extend_from_slice(&out);
            }
        }
        let index = if tracked {
            let mut slots = [NO_INPUT; 2];
            slots[..inputs.len()].copy_from_slice(inputs);
            self.push_node(shape, start, Some(op), slots, REQUIRES_GRAD)
        } else {
            self.push_node(shape, start, None, [NO_INPUT; 2], 0)
        };
        Ok(index)
    }
}

impl Arena {
    /// The same graph at another point: `leaves` take new values and every computed node
    /// is re-evaluated; ids stay valid. Each leaf must require grad and get one value per
    /// element.
    pub fn with_leaves(&self, leaves: &[(NodeId, &[f64])]) -> Result<Arena, Error> {
        let mut next = self.clone();
        for &(id, v) in leaves {
            let leaf = self.resolve(id)?;
            if !self.is_leaf(leaf) || !self.requires_grad(leaf) {
                return Err(Error::InvalidArgument(format!(
                    "only leaves that require grad can be moved; node {leaf} is not one"
                )));
            }
            let range = self.value_range(leaf);
            if v.len() != range.len() {
                let shape = self.shape(leaf);
                return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
            }
            next.values[range].copy_from_slice(v);
        }
        let mut out = Vec::new();
        for index in 0..next.nodes.len() as u32 {
            let Some(op) = next.op(index) else { continue };
            out.clear();
            {
                let inputs = next.inputs(index);
                let mut args: [(&[f64], Shape); 2] = [(&[], Shape::Scalar); 2];
                for (slot, &i) in args.iter_mut().zip(inputs) {
                    *slot = (next.value(i), next.shape(i));
                }
                eval_into(op, &args[..inputs.len()], &mut out);
            }
            let range = next.value_range(index);
            next.values[range].copy_from_slice(&out);
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{BinaryOp, UnaryOp};

    #[test]
    fn a_node_is_24_bytes() {
        assert_eq!(Arena::NODE_BYTES, 24);
    }

    #[test]
    fn results_of_untracked_inputs_are_leaves() {
        let mut a = Arena::new();
        let x = a.push_leaf(Shape::Scalar, &[2.0], false).unwrap();
        let y = a.record(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        assert!(a.is_leaf(y) && !a.requires_grad(y));
        let w = a.push_leaf(Shape::Scalar, &[3.0], true).unwrap();
        let z = a.record(Op::Binary(BinaryOp::Mul), &[y, w]).unwrap();
        assert!(!a.is_leaf(z) && a.requires_grad(z));
        assert_eq!(a.inputs(z), &[y, w]);
        assert_eq!(a.value(z), &[2.0_f64.exp() * 3.0]);
    }

    #[test]
    fn a_failed_record_leaves_the_arena_untouched() {
        let mut a = Arena::new();
        let x = a.push_leaf(Shape::Vector(3), &[1.0, 2.0, 3.0], true).unwrap();
        let y = a.push_leaf(Shape::Vector(2), &[1.0, 2.0], true).unwrap();
        let before = (a.len(), a.values().len());
        assert!(matches!(a.record(Op::Binary(BinaryOp::Add), &[x, y]), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(a.record(Op::Binary(BinaryOp::Add), &[x]), Err(Error::Arity { .. })));
        assert!(matches!(a.record(Op::Unary(UnaryOp::Exp), &[7]), Err(Error::NoSuchNode { .. })));
        assert_eq!((a.len(), a.values().len()), before);
    }

    #[test]
    fn absurd_sizes_are_refused_before_allocating() {
        let mut a = Arena::new();
        assert!(matches!(a.prepare(Shape::Matrix(1 << 20, 1 << 20)), Err(Error::CapacityExceeded { .. })));
        assert!(matches!(a.prepare(Shape::Vector(usize::MAX)), Err(Error::CapacityExceeded { .. })));
        assert!(matches!(a.prepare(Shape::Matrix(usize::MAX, 3)), Err(Error::CapacityExceeded { .. })));
        assert!(a.is_empty());
    }

    #[test]
    fn foreign_ids_are_rejected() {
        let a = Arena::new();
        let mut b = Arena::new();
        let x = b.push_leaf(Shape::Scalar, &[1.0], true).unwrap();
        let id = b.node_id(x);
        assert_eq!(b.resolve(id), Ok(x));
        assert!(matches!(a.resolve(id), Err(Error::ForeignNode { .. })));
    }
}
