//! The arena: nodes in one flat vector indexed by `u32`, tensor values in one flat buffer.
//!
//! A node is 40 bytes. A scalar node (shape `[]`) keeps its value in the node, and an
//! elementwise scalar node also keeps its local partials, computed when it is recorded
//! from the dual rules: a backward sweep over scalar nodes is a loop over (input, partial)
//! pairs that never evaluates an op. A `Var` operation with an `f64` operand records one
//! node with one input, the constant kept in the node. A tensor node keeps the offset of
//! its value in the value buffer and its dimensions instead.
//!
//! Inputs always have smaller indices than the node that reads them, so the node vector is
//! already in topological order and a backward sweep is one reverse loop. Each node also
//! keeps the lowest index its gradient can reach (`low`), so a sweep visits only
//! `low..=output`, however long the arena has grown.

use core::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use slope_dual::Dual;

use crate::op::{
    eval_elementwise, eval_into, BinaryOp, Op, StructuralOp, UnaryOp, MAX_ATTRIBUTES, MAX_NODE_INPUTS, MAX_OPERANDS,
};
use crate::pool::{self, ArenaBuffers};
use crate::structural::Input;
use crate::{Error, GraphScalar, Shape};

/// Marks an unused input slot.
const NO_INPUT: u32 = u32::MAX;
/// The node requires grad: a leaf marked by the user, or a result of such a node.
const REQUIRES_GRAD: u8 = 1;
/// The node keeps its gradient after `backward` although it is not a leaf.
const RETAIN_GRAD: u8 = 1 << 1;
/// Input `k` is differentiated and requires grad: sweeps send it an adjoint.
const TRACKS: [u8; 2] = [1 << 2, 1 << 3];
/// An elementwise node with scalar inputs and output: its partials are kept in the node.
const CACHED: u8 = 1 << 4;
/// One operand is a constant kept in the node (`partials[1]`), not a node of its own.
const CONSTANT: u8 = 1 << 5;
/// The constant is the left operand (`2.0 - x`); otherwise the right one (`x - 2.0`).
const CONSTANT_LEFT: u8 = 1 << 6;
/// Both operands are one node (`x * x`): one input, whose partial is the sum of both.
const SAME_INPUT: u8 = 1 << 7;

/// Most values the attributes of one node hold together (clamp's two bounds, a slice's
/// range, a permutation's code; a target shape is kept as a shape, without values).
pub const MAX_ATTRIBUTE_VALUES: usize = 8;

/// Most nodes a graph holds: ids are `u32` and `u32::MAX` marks "no input".
pub const MAX_NODES: u64 = u32::MAX as u64 - 1;
/// Most `f64` values the tensor nodes of a graph hold in all: value offsets are `u32`.
pub const MAX_VALUES: u64 = u32::MAX as u64;

static NEXT_GRAPH_ID: AtomicU64 = AtomicU64::new(1);

/// Which copy of a graph an arena is: unique to each arena value, a new one for every clone.
#[derive(Debug)]
struct Instance(u64);

impl Instance {
    fn new() -> Instance {
        Instance(NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed))
    }
}

impl Clone for Instance {
    fn clone(&self) -> Instance {
        Instance::new()
    }
}

/// A node's identity: the graph it belongs to, its index there, and the recording it was
/// made in.
///
/// Ids outlive the handles they came from: they name nodes of a
/// [`FrozenGraph`](crate::FrozenGraph), and parameters across
/// [`Graph::rewind`](crate::Graph::rewind). Every lookup checks the graph and the recording,
/// so an id from another graph, or of a node a rewind dropped, is an error, never another
/// node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    graph: u64,
    index: u32,
    epoch: u32,
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

/// A point of a graph's recording to rewind to: nodes recorded before it survive a
/// [`Graph::rewind`](crate::Graph::rewind), nodes recorded after it are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    graph: u64,
    nodes: u32,
    values: u32,
    dims: u32,
    view_slots: usize,
    epoch: u32,
}

impl Checkpoint {
    /// The checkpoint of graph `graph` before anything is recorded.
    pub(crate) fn start(graph: u64) -> Checkpoint {
        Checkpoint { graph, nodes: 0, values: 0, dims: 0, view_slots: 0, epoch: 0 }
    }

    /// The number of nodes that survive a rewind to this checkpoint.
    pub fn len(self) -> usize {
        self.nodes as usize
    }

    /// True for the checkpoint of an empty graph (a rewind to it clears the graph).
    pub fn is_empty(self) -> bool {
        self.nodes == 0
    }
}

/// What a node is, read by id with [`Arena::node_info`].
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo<'a> {
    /// Shape of its value.
    pub shape: Shape,
    /// The op that computed it; `None` for a leaf.
    pub op: Option<Op>,
    /// The nodes it reads, in operand order.
    pub inputs: Vec<NodeId>,
    /// A constant operand kept in the node (`x * 2.0` on `Var`), if any.
    pub constant: Option<f64>,
    /// Its value, row-major.
    pub value: &'a [f64],
    /// Whether gradients flow to it.
    pub requires_grad: bool,
}

/// What a sweep needs of a node, read in one lookup.
#[derive(Clone, Copy, Debug)]
pub struct NodeView {
    /// The op; `None` for a leaf.
    pub op: Option<Op>,
    /// Input indices; a slot past the op's arity, or of a constant operand, is `u32::MAX`.
    pub inputs: [u32; 2],
    /// Whether the sweep sends input `k` an adjoint (it is differentiated and requires grad).
    pub tracks: [bool; 2],
    /// For a scalar elementwise node of scalar inputs, `∂node/∂inputs[k]`, computed when
    /// recorded (see [`cached_step`](Arena::cached_step)).
    pub partials: [f64; 2],
    /// A binary node whose operands are one node (`x * x`), taking one adjoint: its
    /// `partials[0]` is the sum of both partials.
    pub same_input: bool,
    /// Shape `[]`.
    pub scalar: bool,
    /// Whether gradients flow to it.
    pub requires_grad: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    inputs: [u32; 2],
    /// Scalar elementwise node: its local partials, or `[partial, constant]` with a constant
    /// operand. Tensor node of rank 1 or 2: its dimensions; of a higher rank: where its
    /// dimensions start in the arena's `dims`.
    partials: [f64; 2],
    /// Scalar node: its value. Tensor node: the offset of its value in the value buffer.
    value: f64,
    /// The lowest index a backward sweep from this node can reach.
    low: u32,
    op: Option<Op>,
    flags: u8,
    rank: u8,
}

impl Node {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The offset of a tensor node's value (exact: offsets are below 2^32).
    fn offset(&self) -> usize {
        self.value as usize
    }
}

/// The node vector: every slot of its allocation initialised (spare ones hold `SPARE`),
/// and a count of the nodes in use. Recording writes a node into the next slot with one
/// bounds check, where `Vec::push` would check the capacity, then `push` check it again.
#[derive(Debug)]
struct NodeStore {
    slots: Vec<Node>,
    len: usize,
}

const SPARE: Node = Node { inputs: [NO_INPUT; 2], partials: [0.0; 2], value: 0.0, low: 0, op: None, flags: 0, rank: 0 };

impl Clone for NodeStore {
    fn clone(&self) -> Self {
        NodeStore { slots: self.slots[..self.len].to_vec(), len: self.len }
    }
}

impl NodeStore {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Writes `node` into the next slot, or gives it back if every slot is used.
    #[inline(always)]
    fn try_push(&mut self, node: Node) -> Result<(), Node> {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = node;
                self.len += 1;
                Ok(())
            }
            None => Err(node),
        }
    }

    /// Room for `extra` more nodes, all slots initialised, at most `MAX_NODES` in all.
    fn try_reserve(&mut self, extra: usize) -> Result<(), std::collections::TryReserveError> {
        let needed = self.len + extra;
        if needed > self.slots.len() {
            self.slots.try_reserve(needed - self.slots.len())?;
            let slots = self.slots.capacity().min(MAX_NODES as usize);
            self.slots.resize(slots, SPARE);
        }
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// The tensor value buffer, kept as the node vector is: every element of its allocation
/// initialised, and a count of those in use. A value written at the end (an elementwise
/// result, evaluated in place) overwrites what a rewind or a dropped graph left there
/// instead of zeroing the room first: with buffers from this thread's pool, a fresh graph's
/// values are never zeroed at all.
#[derive(Debug, Default)]
struct ValueStore {
    data: Vec<f64>,
    len: usize,
}

impl Clone for ValueStore {
    fn clone(&self) -> Self {
        ValueStore { data: self.data[..self.len].to_vec(), len: self.len }
    }
}

impl ValueStore {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Room for `extra` more values, all initialised.
    fn try_reserve(&mut self, extra: usize) -> Result<(), std::collections::TryReserveError> {
        let needed = self.len + extra;
        if needed > self.data.len() {
            self.data.try_reserve(needed - self.data.len())?;
            let room = self.data.capacity().min(MAX_VALUES as usize).max(needed);
            self.data.resize(room, 0.0);
        }
        Ok(())
    }

    /// Takes `n` more values into use and returns them with everything before them: the
    /// new ones hold stale numbers, for the caller to overwrite. Room must be reserved.
    fn append(&mut self, n: usize) -> (&[f64], &mut [f64]) {
        let start = self.len;
        // A caller that skipped `reserve` grows here (zero-filled) rather than panicking.
        if self.try_reserve(n).is_err() {
            self.data.resize(start + n, 0.0);
        }
        self.len = start + n;
        let (before, rest) = self.data.split_at_mut(start);
        (before, &mut rest[..n])
    }

    fn extend_from_slice(&mut self, values: &[f64]) {
        self.append(values.len()).1.copy_from_slice(values);
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The buffer, for the pool.
    fn take(&mut self) -> Vec<f64> {
        self.len = 0;
        core::mem::take(&mut self.data)
    }
}

impl core::ops::Index<core::ops::Range<usize>> for ValueStore {
    type Output = [f64];
    #[inline(always)]
    fn index(&self, range: core::ops::Range<usize>) -> &[f64] {
        &self.data[..self.len][range]
    }
}

impl core::ops::IndexMut<core::ops::Range<usize>> for ValueStore {
    #[inline(always)]
    fn index_mut(&mut self, range: core::ops::Range<usize>) -> &mut [f64] {
        &mut self.data[..self.len][range]
    }
}

impl core::ops::Index<usize> for NodeStore {
    type Output = Node;
    #[inline(always)]
    fn index(&self, index: usize) -> &Node {
        // Bounded by `len`: a spare slot or a node a rewind dropped is never read as a node.
        &self.slots[..self.len][index]
    }
}

impl core::ops::IndexMut<usize> for NodeStore {
    #[inline(always)]
    fn index_mut(&mut self, index: usize) -> &mut Node {
        &mut self.slots[..self.len][index]
    }
}

/// A `Var` operation's node, as `Var` arithmetic computed it: what `Arena::push_var` appends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VarStep {
    pub(crate) op: Op,
    pub(crate) inputs: [u32; 2],
    /// The lowest `low` of the inputs that take an adjoint.
    pub(crate) low: u32,
    pub(crate) value: f64,
    /// Local partials, or `[partial, constant]` with a constant operand.
    pub(crate) partials: [f64; 2],
    /// Which inputs take an adjoint, and how the operands are kept (`Arena::var_flags`,
    /// `constant_flags`, `same_input_flags`, `operand_step`).
    pub(crate) flags: u8,
}

/// One operand of a node: another node, or a constant kept in the node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand {
    /// The node at this index.
    Node(u32),
    /// A constant operand (`2.0` in `x * 2.0`), never differentiated.
    Constant(f64),
}

/// Where a tensor node's slots lie in a sweep's storage ([`Arena::slot_range`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotRange {
    /// Beside its value: the same range as in the value buffer.
    Value(core::ops::Range<usize>),
    /// A view's, among the views' slots.
    View(core::ops::Range<usize>),
}

/// The nodes a node reads, in operand order: up to three, the third kept in the arena's
/// side table (`where`'s mask). Read as a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeInputs {
    indices: [u32; MAX_NODE_INPUTS],
    len: u8,
}

impl core::ops::Deref for NodeInputs {
    type Target = [u32];
    #[inline]
    fn deref(&self) -> &[u32] {
        &self.indices[..self.len as usize]
    }
}

/// The recorded nodes and their values. Read-only outside this crate: nodes are added only
/// by recording through a [`Graph`](crate::Graph), which keeps every invariant.
///
/// Read a node by its [`NodeId`] with [`node_info`](Arena::node_info), which checks that
/// the id belongs to this graph and to its current recording. The accessors that take a raw
/// `u32` index are the sweeps' hot path, for slope's own crates, and hidden from these
/// docs: an index carries no graph, so they cannot tell one from another graph (an index
/// past the end panics).
#[derive(Clone, Debug)]
pub struct Arena {
    id: u64,
    /// This arena among the copies of one graph (every copy shares the graph's id, so node
    /// ids stay valid in it): results of a sweep are read only against the arena swept.
    instance: Instance,
    nodes: NodeStore,
    values: ValueStore,
    /// The dimensions of the nodes of rank 3 and up, one after another (a node keeps where
    /// its own start).
    dims: Vec<u32>,
    /// The side table of the nodes whose op keeps attributes or reads a third input, one
    /// node after another: the third input's index, then each attribute as its rank, its
    /// dimensions, its number of values and its values.
    attrs: Vec<f64>,
    /// `(node, start)`: where each such node's entry starts in `attrs`, nodes increasing.
    /// A view's entry holds where its adjoint's slots start among the views' slots.
    attr_nodes: Vec<(u32, u32)>,
    /// The elements of every view recorded so far: where the next view's slots start (a
    /// view shares its input's value, but sweeps keep its adjoint apart).
    view_slots: usize,
    /// Rewinds so far.
    epoch: u32,
    /// `(epoch, mark)` of past rewinds, marks strictly increasing: the node at index `i` was
    /// recorded in the epoch of the last entry whose mark is at most `i` (0 if none).
    rewinds: Vec<(u32, u32)>,
    /// `(leaf, len)`: the leaf's value was set in place when the arena held `len` nodes,
    /// so nodes between the two computed with its old value.
    modified: Vec<(u32, u32)>,
    /// Inside `no_grad`: results are recorded as constants, without history.
    paused: bool,
    /// Increasing indices of the computed nodes a sweep cannot take as a cached step:
    /// tensor and structural nodes.
    specials: Vec<u32>,
    /// The nodes below this index are all leaves (such as a gradient's variables).
    leaf_prefix: u32,
    /// Where a structural op's output is evaluated before it is appended to `values` (its
    /// inputs are borrowed from there); empty between records, its capacity kept.
    scratch: Vec<f64>,
}

impl Drop for Arena {
    fn drop(&mut self) {
        pool::give_arena(ArenaBuffers {
            slots: core::mem::take(&mut self.nodes.slots),
            values: self.values.take(),
            specials: core::mem::take(&mut self.specials),
            scratch: core::mem::take(&mut self.scratch),
        });
    }
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

impl Arena {
    /// An empty arena, starting from the buffers of a dropped one where this thread keeps
    /// some (`pool`).
    pub(crate) fn new() -> Arena {
        let ArenaBuffers { slots, values, specials, scratch } = pool::take_arena().unwrap_or_default();
        Arena {
            id: NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed),
            instance: Instance::new(),
            nodes: NodeStore { slots, len: 0 },
            values: ValueStore { data: values, len: 0 },
            dims: Vec::new(),
            attrs: Vec::new(),
            attr_nodes: Vec::new(),
            view_slots: 0,
            epoch: 0,
            rewinds: Vec::new(),
            modified: Vec::new(),
            paused: false,
            specials,
            leaf_prefix: 0,
            scratch,
        }
    }

    /// The unique id of this graph.
    pub fn id(&self) -> u64 {
        self.id
    }

    #[doc(hidden)]
    /// What a sweep's results are valid against: this arena (not a copy of it), in its
    /// current recording (no rewind since). Nodes recorded later change nothing swept.
    pub fn sweep_stamp(&self) -> (u64, u32) {
        (self.instance.0, self.epoch)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    #[inline(always)]
    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    /// The recording (rewinds before it) in which the node at `index` was made.
    fn epoch_of(&self, index: u32) -> u32 {
        match self.rewinds.partition_point(|&(_, mark)| mark <= index) {
            0 => 0,
            k => self.rewinds[k - 1].0,
        }
    }

    /// The recording of the last of the first `len` nodes: it changes only when a rewind
    /// drops one of them.
    fn last_epoch(&self, len: u32) -> u32 {
        len.checked_sub(1).map_or(0, |last| self.epoch_of(last))
    }

    #[doc(hidden)]
    /// The id of the node at `index`.
    pub fn node_id(&self, index: u32) -> NodeId {
        NodeId { graph: self.id, index, epoch: self.epoch_of(index) }
    }

    /// Every node's id, in recording order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len() as u32).map(|index| self.node_id(index))
    }

    /// What node `id` is: shape, op, inputs, value; an error if the id belongs to another
    /// graph or to nodes a rewind dropped.
    pub fn node_info(&self, id: NodeId) -> Result<NodeInfo<'_>, Error> {
        let index = self.resolve(id)?;
        let (operands, arity) = self.operands(index);
        Ok(NodeInfo {
            shape: self.shape(index),
            op: self.op(index),
            inputs: self.inputs(index).iter().map(|&i| self.node_id(i)).collect(),
            constant: operands[..arity].iter().find_map(|o| match o {
                Operand::Constant(c) => Some(*c),
                Operand::Node(_) => None,
            }),
            value: self.value(index),
            requires_grad: self.requires_grad(index),
        })
    }

    /// The index of `id` in this graph, or an error if it belongs elsewhere, does not exist,
    /// or was dropped by a rewind.
    pub fn resolve(&self, id: NodeId) -> Result<u32, Error> {
        if id.graph != self.id {
            return Err(Error::ForeignNode { expected: self.id, found: id.graph });
        }
        if (id.index as usize) < self.nodes.len() && self.epoch_of(id.index) == id.epoch {
            return Ok(id.index);
        }
        // A rewind since the id was made dropped its node; otherwise the id was made after
        // this copy of the graph was taken (a later recording of the graph it was copied from).
        if id.epoch < self.epoch {
            Err(Error::DroppedNode { index: id.index, graph: self.id })
        } else {
            Err(Error::NewerThanCopy { index: id.index, graph: self.id, len: self.nodes.len() })
        }
    }

    #[doc(hidden)]
    /// Shape of a node's value.
    pub fn shape(&self, index: u32) -> Shape {
        self.node_shape(self.node(index))
    }

    #[inline(always)]
    fn node_shape(&self, node: &Node) -> Shape {
        match node.rank {
            0 => Shape::Scalar,
            1 => Shape::Vector(node.partials[0] as usize),
            2 => Shape::Matrix(node.partials[0] as usize, node.partials[1] as usize),
            rank => {
                let start = node.partials[0] as usize;
                let mut dims = [0; crate::MAX_RANK];
                for (d, &x) in dims.iter_mut().zip(&self.dims[start..start + rank as usize]) {
                    *d = x as usize;
                }
                Shape::of(&dims[..rank as usize])
            }
        }
    }

    /// Number of elements of a node's value.
    #[inline(always)]
    fn node_len(&self, node: &Node) -> usize {
        match node.rank {
            0 => 1,
            1 => node.partials[0] as usize,
            2 => node.partials[0] as usize * node.partials[1] as usize,
            _ => self.node_shape(node).len(),
        }
    }

    #[doc(hidden)]
    /// A node's value, row-major.
    #[inline]
    pub fn value(&self, index: u32) -> &[f64] {
        let node = self.node(index);
        if node.rank == 0 {
            core::slice::from_ref(&node.value)
        } else {
            let start = node.offset();
            &self.values[start..start + self.node_len(node)]
        }
    }

    /// Every node's value, in node order (a scalar node's one value, a tensor's elements).
    pub fn all_values(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.nodes.len() as u32).flat_map(move |i| self.value(i).iter().copied())
    }

    #[doc(hidden)]
    /// The op that computed a node; `None` for a leaf.
    pub fn op(&self, index: u32) -> Option<Op> {
        self.node(index).op
    }

    #[doc(hidden)]
    /// The nodes a node reads, in operand order (none for a leaf; a constant operand kept in
    /// the node is not a node, see [`operands`](Arena::operands)).
    pub fn inputs(&self, index: u32) -> NodeInputs {
        let node = self.node(index);
        let arity = node.op.map_or(0, Op::node_arity);
        let real = if node.has(CONSTANT) { arity - 1 } else { arity };
        let mut indices = [node.inputs[0], node.inputs[1], NO_INPUT];
        if real == 3 {
            indices[2] = self.side_entry(index).first().map_or(NO_INPUT, |&i| i as u32);
        }
        NodeInputs { indices, len: real as u8 }
    }

    /// The node's entry in the side table of attributes (empty if it has none).
    fn side_entry(&self, index: u32) -> &[f64] {
        match self.attr_nodes.binary_search_by_key(&index, |&(node, _)| node) {
            Ok(k) => {
                let end = self.attr_nodes.get(k + 1).map_or(self.attrs.len(), |&(_, start)| start as usize);
                &self.attrs[self.attr_nodes[k].1 as usize..end]
            }
            Err(_) => &[],
        }
    }

    /// Whether an op's nodes keep an entry in the side table.
    fn has_side_entry(op: Op) -> bool {
        op.node_arity() > 2 || op.arity() > op.node_arity()
    }

    #[doc(hidden)]
    /// The operands of a computed node as the op table's rules take them (node inputs'
    /// values from `value_of`, a constant kept in the node, then the attributes, lifted to
    /// `S`), handed to `f`; a leaf has none.
    pub fn with_args<'v, S: GraphScalar, R>(
        &self,
        index: u32,
        value_of: impl Fn(u32) -> &'v [S],
        f: impl FnOnce(&[Input<'_, S>]) -> R,
    ) -> R {
        let Some(op) = self.op(index) else { return f(&[]) };
        let (operands, _) = self.operands(index);
        let lift = |c: f64| S::from(c).unwrap_or_else(S::nan);
        let constants: [[S; 1]; 2] = operands.map(|o| match o {
            Operand::Constant(c) => [lift(c)],
            Operand::Node(_) => [S::zero()],
        });
        let (arity, nodes) = (op.arity(), op.node_arity());
        let entry = if Arena::has_side_entry(op) { self.side_entry(index) } else { &[] };
        let mut cursor = 0;
        let mut third = None;
        if nodes == 3 {
            let i = entry[0] as u32;
            third = Some((value_of(i), self.shape(i)));
            cursor = 1;
        }
        let mut lifted = [S::zero(); MAX_ATTRIBUTE_VALUES];
        let mut spans = [(Shape::Scalar, 0, 0); MAX_ATTRIBUTES];
        let mut used = 0;
        for span in spans.iter_mut().take(arity - nodes) {
            let rank = entry[cursor] as usize;
            let mut dims = [0; crate::MAX_RANK];
            for (d, &x) in dims.iter_mut().zip(&entry[cursor + 1..cursor + 1 + rank]) {
                *d = x as usize;
            }
            let n = entry[cursor + 1 + rank] as usize;
            let values = &entry[cursor + 2 + rank..cursor + 2 + rank + n];
            for (slot, &v) in lifted[used..used + n].iter_mut().zip(values) {
                *slot = lift(v);
            }
            *span = (Shape::of(&dims[..rank]), used, n);
            used += n;
            cursor += 2 + rank + n;
        }
        let mut args: [Input<'_, S>; MAX_OPERANDS] = [(&[], Shape::Scalar); MAX_OPERANDS];
        for (k, slot) in args.iter_mut().enumerate().take(nodes.min(2)) {
            *slot = match operands[k] {
                Operand::Node(i) => (value_of(i), self.shape(i)),
                Operand::Constant(_) => (&constants[k][..], Shape::Scalar),
            };
        }
        if let Some(third) = third {
            args[2] = third;
        }
        for (slot, &(shape, start, n)) in args[nodes..arity].iter_mut().zip(&spans) {
            *slot = (&lifted[start..start + n], shape);
        }
        f(&args[..arity])
    }

    #[doc(hidden)]
    /// The first two node operands of a node (a constant kept in the node among them), and
    /// how many of the two it has (none for a leaf); a third input is read with
    /// [`inputs`](Arena::inputs), attributes with [`with_args`](Arena::with_args).
    pub fn operands(&self, index: u32) -> ([Operand; 2], usize) {
        let node = self.node(index);
        let arity = node.op.map_or(0, Op::node_arity).min(2);
        let mut out = [Operand::Node(node.inputs[0]), Operand::Node(node.inputs[1])];
        if node.has(CONSTANT) {
            let constant = Operand::Constant(node.partials[1]);
            out = if node.has(CONSTANT_LEFT) {
                [constant, Operand::Node(node.inputs[0])]
            } else {
                [Operand::Node(node.inputs[0]), constant]
            };
        }
        (out, arity)
    }

    #[doc(hidden)]
    /// Whether gradients flow to this node.
    pub fn requires_grad(&self, index: u32) -> bool {
        self.node(index).has(REQUIRES_GRAD)
    }

    #[doc(hidden)]
    /// Whether a non-leaf keeps its gradient after `backward`.
    pub fn retains_grad(&self, index: u32) -> bool {
        self.node(index).has(RETAIN_GRAD)
    }

    #[doc(hidden)]
    /// A leaf: made by a constructor, by `detach`, or computed from nodes that do not
    /// require grad (such results are recorded as leaves, as PyTorch does).
    pub fn is_leaf(&self, index: u32) -> bool {
        self.node(index).op.is_none()
    }

    #[doc(hidden)]
    /// The lowest index a backward sweep from this node reaches: every node whose gradient
    /// it changes lies in `low(index)..=index`.
    #[inline]
    pub fn low(&self, index: u32) -> u32 {
        self.node(index).low
    }

    #[doc(hidden)]
    /// Where the value of the tensor node at `index` sits in the value buffer, or `None`
    /// for a scalar node (which keeps its value in the node).
    pub fn tensor_range(&self, index: u32) -> Option<core::ops::Range<usize>> {
        let node = self.node(index);
        (node.rank != 0).then(|| node.offset()..node.offset() + self.node_len(node))
    }

    #[doc(hidden)]
    /// Where a sweep keeps the slots of tensor node `index` (its adjoint, or its value at
    /// another scalar type): beside its value for a node that owns one, among the views'
    /// slots for a view; `None` for a scalar node.
    #[inline]
    pub fn slot_range(&self, index: u32) -> Option<SlotRange> {
        let node = self.node(index);
        if node.rank == 0 {
            return None;
        }
        let len = self.node_len(node);
        if matches!(node.op, Some(Op::Structural(StructuralOp::Reshape | StructuralOp::Flatten))) {
            if let Some(&at) = self.side_entry(index).first() {
                return Some(SlotRange::View(at as usize..at as usize + len));
            }
        }
        Some(SlotRange::Value(node.offset()..node.offset() + len))
    }

    #[doc(hidden)]
    /// The views' slots of the views among `low..=high`, an empty range if none.
    pub fn view_window(&self, low: u32, high: u32) -> core::ops::Range<usize> {
        let from = self.attr_nodes.partition_point(|&(node, _)| node < low);
        let to = self.attr_nodes.partition_point(|&(node, _)| node <= high);
        let mut views = self.attr_nodes[from..to].iter().filter_map(|&(node, _)| match self.slot_range(node) {
            Some(SlotRange::View(r)) => Some(r),
            _ => None,
        });
        match views.next() {
            None => 0..0,
            Some(first) => first.start..views.next_back().map_or(first.end, |last| last.end),
        }
    }

    #[doc(hidden)]
    /// Whether any tensor node holds values (otherwise every node is a scalar or empty).
    pub fn holds_tensors(&self) -> bool {
        !self.values.is_empty()
    }

    #[doc(hidden)]
    /// Leaves whose value was set in place, each with the number of nodes recorded at
    /// that moment: nodes between the two were computed with the old value.
    pub fn modified_leaves(&self) -> &[(u32, u32)] {
        &self.modified
    }

    #[doc(hidden)]
    /// The nodes of `low..=high` computed before a leaf they read was set in place, each
    /// with the leaf: their values (and cached partials) are of the leaf's old value. A sweep,
    /// forward or reverse, that would use one of them is refused.
    pub fn stale_reads(&self, low: u32, high: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.modified.iter().filter(move |&&(leaf, _)| leaf >= low && leaf < high).flat_map(move |&(leaf, len)| {
            (leaf + 1..len.min(high.saturating_add(1)))
                .filter(move |&node| self.inputs(node).contains(&leaf))
                .map(move |node| (node, leaf))
        })
    }

    #[doc(hidden)]
    /// Which of the nodes `0..=last` the `outputs` (at most `last`) depend on, themselves
    /// included: one reverse pass over the inputs.
    pub fn needed_by(&self, outputs: &[u32], last: u32) -> Vec<bool> {
        let mut needed = vec![false; last as usize + 1];
        for &o in outputs {
            needed[o as usize] = true;
        }
        for node in (0..=last).rev() {
            if needed[node as usize] {
                for &i in self.inputs(node).iter() {
                    needed[i as usize] = true;
                }
            }
        }
        needed
    }

    /// Bytes held by the node and value buffers (their capacity, not only their length).
    pub fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * core::mem::size_of::<Node>() + self.values.capacity() * core::mem::size_of::<f64>()
    }

    /// Bytes in use by the recorded nodes and tensor values.
    pub fn used_bytes(&self) -> usize {
        self.nodes.len() * core::mem::size_of::<Node>() + self.values.len() * core::mem::size_of::<f64>()
    }

    /// Size of one node record; a scalar node's value is part of it.
    pub const NODE_BYTES: usize = core::mem::size_of::<Node>();

    #[doc(hidden)]
    /// The parts of a node a sweep reads, in one lookup.
    #[inline(always)]
    pub fn view(&self, index: u32) -> NodeView {
        let n = self.node(index);
        NodeView {
            op: n.op,
            inputs: n.inputs,
            tracks: [n.has(TRACKS[0]), n.has(TRACKS[1])],
            partials: n.partials,
            same_input: n.has(SAME_INPUT),
            scalar: n.rank == 0,
            requires_grad: n.has(REQUIRES_GRAD),
        }
    }

    #[doc(hidden)]
    /// Calls `step(index, inputs, partials, tracks)` for the nodes `low..=high`, from the
    /// last down, until it returns `false`: the innermost loop of a gradient over a window
    /// where [`cached_only`](Arena::cached_only) holds (a leaf's `tracks` are both false).
    /// Returns whether every node was visited.
    #[inline(always)]
    pub fn steps_down(
        &self,
        low: u32,
        high: u32,
        mut step: impl FnMut(u32, [u32; 2], [f64; 2], [bool; 2]) -> bool,
    ) -> bool {
        let Some(window) = self.nodes.slots.get(low as usize..=high as usize) else { return true };
        let mut index = high;
        for n in window.iter().rev() {
            if !step(index, n.inputs, n.partials, [n.has(TRACKS[0]), n.has(TRACKS[1])]) {
                return false;
            }
            index = index.wrapping_sub(1);
        }
        true
    }

    #[doc(hidden)]
    /// The cached step of a scalar elementwise node: its inputs, the partials, and which
    /// inputs take an adjoint; `None` for any other node. The backward sweep's inner loop.
    #[inline(always)]
    pub fn cached_step(&self, index: u32) -> Option<([u32; 2], [f64; 2], [bool; 2])> {
        let n = self.node(index);
        n.has(CACHED).then_some((n.inputs, n.partials, [n.has(TRACKS[0]), n.has(TRACKS[1])]))
    }

    pub(crate) fn set_flag(&mut self, index: u32, retain: bool, on: bool) {
        let bit = if retain { RETAIN_GRAD } else { REQUIRES_GRAD };
        let node = &mut self.nodes[index as usize];
        if on {
            node.flags |= bit;
        } else {
            node.flags &= !bit;
        }
    }

    pub(crate) fn set_paused(&mut self, paused: bool) -> bool {
        core::mem::replace(&mut self.paused, paused)
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    /// Checks that `extra_nodes` nodes holding `extra_values` tensor values fit, and
    /// reserves room, before anything is written: a failure leaves the arena untouched.
    pub(crate) fn reserve(&mut self, extra_nodes: usize, extra_values: usize) -> Result<(), Error> {
        let nodes = self.nodes.len() as u64 + extra_nodes as u64;
        if nodes > MAX_NODES {
            return Err(Error::CapacityExceeded { what: "the number of nodes", limit: MAX_NODES });
        }
        let values = (self.values.len() as u64).saturating_add(extra_values as u64);
        if values > MAX_VALUES {
            return Err(Error::CapacityExceeded { what: "the number of stored values", limit: MAX_VALUES });
        }
        let out_of_memory = |_| Error::CapacityExceeded { what: "the memory available", limit: values.max(nodes) };
        self.nodes.try_reserve(extra_nodes).map_err(out_of_memory)?;
        self.values.try_reserve(extra_values).map_err(out_of_memory)?;
        Ok(())
    }

    /// Checks a shape and reserves room for one node of it.
    pub(crate) fn prepare(&mut self, shape: Shape) -> Result<(), Error> {
        let len =
            shape.checked_len().ok_or(Error::CapacityExceeded { what: "the number of elements", limit: MAX_VALUES })?;
        let fits = |d: usize| u32::try_from(d).is_ok();
        let dims_fit = match shape {
            Shape::Scalar | Shape::Tensor(_) => true,
            Shape::Vector(n) => fits(n),
            Shape::Matrix(r, c) => fits(r) && fits(c),
        };
        if !dims_fit {
            return Err(Error::CapacityExceeded { what: "a dimension", limit: u32::MAX as u64 });
        }
        self.reserve(1, if shape.is_scalar() { 0 } else { len })
    }

    /// Appends a node of `shape` whose tensor value (if it is not a scalar) was just
    /// written at `start` of the value buffer.
    fn push_node(&mut self, shape: Shape, scalar_value: f64, start: usize, op: Option<Op>, inputs: [u32; 2]) -> u32 {
        let index = self.nodes.len() as u32;
        let (rank, partials, value) = match shape {
            Shape::Scalar => (0, [0.0; 2], scalar_value),
            Shape::Vector(n) => (1, [n as f64, 0.0], start as f64),
            Shape::Matrix(r, c) => (2, [r as f64, c as f64], start as f64),
            Shape::Tensor(dims) => {
                let at = self.dims.len();
                self.dims.extend_from_slice(dims.as_slice());
                (dims.as_slice().len() as u8, [at as f64, 0.0], start as f64)
            }
        };
        self.push_reserved(Node { inputs, partials, value, low: index, op, flags: 0, rank });
        if op.is_none() && self.leaf_prefix == index {
            self.leaf_prefix += 1;
        }
        index
    }

    /// Appends a node for which room was reserved (or grows, which cannot fail then).
    fn push_reserved(&mut self, node: Node) {
        if let Err(node) = self.nodes.try_push(node) {
            let grown = self.nodes.try_reserve(1).is_ok();
            debug_assert!(grown, "room is reserved before a node is pushed");
            let _ = self.nodes.try_push(node);
        }
    }

    /// Appends a leaf whose value `fill` writes into the slice it is given (of the shape's
    /// length; one value for a scalar);
    /// [`prepare`](Arena::prepare) must have succeeded for this shape.
    pub(crate) fn push_leaf_with(&mut self, shape: Shape, requires_grad: bool, fill: impl FnOnce(&mut [f64])) -> u32 {
        let start = self.values.len();
        let scalar = if shape.is_scalar() {
            let mut value = [f64::NAN];
            fill(&mut value);
            value[0]
        } else {
            fill(self.values.append(shape.len()).1);
            0.0
        };
        let index = self.push_node(shape, scalar, start, None, [NO_INPUT; 2]);
        if requires_grad {
            self.nodes[index as usize].flags = REQUIRES_GRAD;
        }
        index
    }

    /// Appends one scalar leaf that requires grad per element of `xs`, returning the first
    /// index: `Graph::vars` in one reservation.
    pub(crate) fn push_scalar_leaves(&mut self, xs: &[f64]) -> Result<u32, Error> {
        self.reserve(xs.len(), 0)?;
        let first = self.nodes.len();
        // `reserve` made every slot up to `first + xs.len()` exist: one loop, no check per leaf.
        let slots = &mut self.nodes.slots[first..first + xs.len()];
        for ((slot, &value), index) in slots.iter_mut().zip(xs).zip(first as u32..) {
            *slot = Node { value, low: index, flags: REQUIRES_GRAD, ..SPARE };
        }
        self.nodes.len += xs.len();
        if self.leaf_prefix as usize == first {
            self.leaf_prefix += xs.len() as u32;
        }
        Ok(first as u32)
    }

    /// Appends a leaf holding `data`, which must fit `shape`.
    pub(crate) fn push_leaf(&mut self, shape: Shape, data: &[f64], requires_grad: bool) -> Result<u32, Error> {
        if shape.checked_len() != Some(data.len()) {
            return Err(Error::DataLength { shape, expected: shape.len(), got: data.len() });
        }
        self.prepare(shape)?;
        Ok(self.push_leaf_with(shape, requires_grad, |out| out.copy_from_slice(data)))
    }

    /// Appends a computed scalar node with its value and local partials: the path of
    /// [`Var`](crate::Var) arithmetic, which keeps values (and each node's `low`) in the
    /// variables and computes partials from the dual rules. `None` inside `no_grad`.
    ///
    /// `borrow`, the borrow state of the cell that holds the arena when it is pushed to
    /// without a guard, is set to exclusive while the arena grows: growing calls the
    /// allocator, code outside the arena, so a re-entrant use of the graph from there panics.
    #[inline(always)]
    pub(crate) fn push_var(&mut self, step: VarStep, borrow: Option<&Cell<isize>>) -> Result<Option<u32>, Error> {
        if self.paused {
            return Ok(None);
        }
        let VarStep { op, inputs, low, value, partials, flags } = step;
        let index = self.nodes.len() as u32;
        let flags = flags | REQUIRES_GRAD | CACHED;
        if let Err(node) = self.nodes.try_push(Node { inputs, partials, value, low, op: Some(op), flags, rank: 0 }) {
            self.grow(borrow)?;
            self.push_reserved(node);
        }
        Ok(Some(index))
    }

    #[doc(hidden)]
    /// The number of nodes at the start of the arena that are all leaves: a sweep need not
    /// visit them (a leaf sends no adjoint on).
    pub fn leaf_prefix(&self) -> u32 {
        self.leaf_prefix
    }

    #[doc(hidden)]
    /// Whether every computed node from `low` on is a scalar elementwise node with cached
    /// partials (no tensor or structural node) and no leaf from `low` on was set in place:
    /// then a sweep may skip zero adjoints instead of tracking which nodes it reached, with
    /// bitwise the same adjoints wherever the skipped nodes' partials are finite (a zero
    /// times a finite partial adds nothing to a sum that starts at `+0`).
    pub fn cached_only(&self, low: u32) -> bool {
        self.specials.last().is_none_or(|&s| s < low) && self.modified.iter().all(|&(leaf, _)| leaf < low)
    }

    /// Room for one more node, or the error: out of the hot path of `push_var`, with the
    /// cell's borrow state (if any) exclusive meanwhile.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, borrow: Option<&Cell<isize>>) -> Result<(), Error> {
        let before = borrow.map(|state| state.replace(-1));
        let grown = self.reserve(1, 0);
        if let (Some(state), Some(before)) = (borrow, before) {
            state.set(before);
        }
        grown
    }

    /// `push_var` flags: the inputs that take an adjoint.
    pub(crate) const fn var_flags(left: bool, right: bool) -> u8 {
        (if left { TRACKS[0] } else { 0 }) | if right { TRACKS[1] } else { 0 }
    }

    /// `push_var` flags of a binary node whose two operands are one node (`x * x`): it
    /// records that node once, with the sum of both partials (see `operand_step`).
    pub(crate) const fn same_input_flags() -> u8 {
        TRACKS[0] | SAME_INPUT
    }

    /// The partials and `push_var` flags of a cached node with two node operands, `tracks`
    /// saying which take an adjoint. Both operands one node (`x * x`, `x - x`): that node
    /// once, with the sum of both partials, so an exact zero absorbs in reverse mode as
    /// `1 - 1` does in forward mode. `Var::binary` spells the same rule out in its own
    /// branches: routed through here, its code was measured 9 % slower on W1.
    #[inline(always)]
    pub(crate) fn operand_step(inputs: [u32; 2], partials: [f64; 2], tracks: [bool; 2]) -> ([f64; 2], u8) {
        if tracks[0] && tracks[1] && inputs[0] == inputs[1] {
            ([partials[0] + partials[1], 0.0], Arena::same_input_flags())
        } else {
            (partials, Arena::var_flags(tracks[0], tracks[1]))
        }
    }

    /// `push_var` flags of a node whose one input takes an adjoint and whose other operand
    /// is a constant kept in `partials[1]`, on the left or the right.
    pub(crate) const fn constant_flags(constant_left: bool) -> u8 {
        TRACKS[0] | CONSTANT | if constant_left { CONSTANT_LEFT } else { 0 }
    }

    /// A computed scalar node recorded by `record`: `low` from its tracked inputs.
    fn push_cached(
        &mut self,
        op: Op,
        inputs: [u32; 2],
        value: f64,
        partials: [f64; 2],
        tracks: [bool; 2],
    ) -> Result<u32, Error> {
        let mut low = self.nodes.len() as u32;
        for k in 0..2 {
            if tracks[k] {
                low = low.min(self.node(inputs[k]).low);
            }
        }
        let (partials, flags) = Arena::operand_step(inputs, partials, tracks);
        self.push_var(VarStep { op, inputs, low, value, partials, flags }, None)?
            .ok_or(Error::NotTracked { what: "recording inside no_grad" })
    }

    /// Appends a scalar leaf that does not require grad (a constant operand of a tensor op).
    pub(crate) fn push_constant(&mut self, value: f64) -> Result<u32, Error> {
        self.prepare(Shape::Scalar)?;
        Ok(self.push_node(Shape::Scalar, value, 0, None, [NO_INPUT; 2]))
    }

    /// Records `op` applied to `inputs` (indices into this arena), evaluating it at once.
    ///
    /// If no differentiated input requires grad (or inside `no_grad`), the result is stored
    /// as a leaf that does not require grad, as PyTorch does. On error nothing is written.
    pub(crate) fn record(&mut self, op: Op, inputs: &[u32]) -> Result<u32, Error> {
        self.record_op(op, inputs, &[], None)
    }

    /// [`record`](Arena::record) of an op with attributes (`(values, shape)` each, as many
    /// as the op's [`arity`](Op::arity) beyond its node inputs), and with the output's shape
    /// given for a `reshape`, whose elements are its input's in order, to `shape` (of as
    /// many elements); `None` for every other op.
    pub(crate) fn record_op(
        &mut self,
        op: Op,
        inputs: &[u32],
        attrs: &[Input<'_, f64>],
        shape: Option<Shape>,
    ) -> Result<u32, Error> {
        if inputs.len() != op.node_arity() || inputs.len() + attrs.len() != op.arity() {
            return Err(Error::Arity { op: op.name(), expected: op.arity(), got: inputs.len() + attrs.len() });
        }
        if let Some(&bad) = inputs.iter().find(|&&i| i as usize >= self.nodes.len()) {
            return Err(Error::NoSuchNode { index: bad, len: self.nodes.len() });
        }
        // An attribute read for its shape only keeps no values; every other one holds as
        // many values as its shape, and all of a node's together fit its side-table entry.
        let mut kept: [Input<'_, f64>; MAX_ATTRIBUTES] = [(&[], Shape::Scalar); MAX_ATTRIBUTES];
        for ((slot, &(values, shape)), domain) in kept.iter_mut().zip(attrs).zip(&op.domains()[inputs.len()..]) {
            *slot = match *domain == slope_dual::domain::SHAPE_ONLY {
                true => (&[], shape),
                false if values.len() == shape.len() => (values, shape),
                false => return Err(Error::DataLength { shape, expected: shape.len(), got: values.len() }),
            };
        }
        let attrs = &kept[..attrs.len()];
        let attr_values: usize = attrs.iter().map(|a| a.0.len()).sum();
        if attr_values > MAX_ATTRIBUTE_VALUES {
            return Err(Error::Attributes { op: op.name(), values: attr_values, max: MAX_ATTRIBUTE_VALUES });
        }
        let mut shapes = [Shape::Scalar; MAX_OPERANDS];
        for (slot, &i) in shapes.iter_mut().zip(inputs) {
            *slot = self.shape(i);
        }
        let mut values = self.input_values(inputs);
        values[inputs.len()..op.arity()].copy_from_slice(attrs);
        let values = &values[..op.arity()];
        let computed = op.output_shape(values)?;
        let shape = match shape {
            None => computed,
            Some(target)
                if op == Op::Structural(crate::StructuralOp::Reshape)
                    && target.checked_len() == Some(computed.len()) =>
            {
                target
            }
            Some(target) => return Err(Error::Reshape { op: op.name(), shape: shapes[0], target }),
        };
        op.check_values(values)?;
        let mut tracks = [false; 2];
        for (k, &i) in inputs.iter().enumerate().take(2) {
            tracks[k] = !self.paused && op.differentiates(k) && self.requires_grad(i);
        }
        self.prepare(shape)?;

        let elementwise_scalar = shape.is_scalar() && shapes[..inputs.len()].iter().all(|s| s.is_scalar());
        if elementwise_scalar && !matches!(op, Op::Structural(_)) {
            let operands = [inputs[0], *inputs.get(1).unwrap_or(&NO_INPUT)];
            let x = self.value(operands[0])[0];
            let y = if inputs.len() > 1 { self.value(operands[1])[0] } else { 0.0 };
            let (value, partials) = scalar_rule(op, x, y, tracks)?;
            if tracks[0] || tracks[1] {
                return self.push_cached(op, operands, value, partials, tracks);
            }
            return Ok(self.push_node(Shape::Scalar, value, 0, None, [NO_INPUT; 2]));
        }

        // A reshape of a tensor that is recorded with its input is a view: its value is its
        // input's elements, shared, and only its adjoint needs slots of its own.
        let view = matches!(op, Op::Structural(StructuralOp::Reshape | StructuralOp::Flatten))
            && tracks[0]
            && self.node(inputs[0]).rank != 0
            && !shape.is_scalar();
        let start = if view { self.node(inputs[0]).offset() } else { self.values.len() };
        let mut scalar_value = 0.0;
        match op {
            _ if view => {}
            Op::Unary(_) | Op::Binary(_) => {
                // Evaluated in place at the end of the value buffer: inputs always lie below.
                let (before, out) = self.values.append(shape.len());
                let mut args: [(&[f64], Shape); 2] = [(&[], Shape::Scalar); 2];
                for ((slot, &i), s) in args.iter_mut().zip(inputs).zip(&shapes) {
                    let node = &self.nodes[i as usize];
                    let value = if node.rank == 0 {
                        core::slice::from_ref(&node.value)
                    } else {
                        &before[node.offset()..node.offset() + s.len()]
                    };
                    *slot = (value, *s);
                }
                eval_elementwise(op, &args[..inputs.len()], out);
            }
            Op::Structural(_) | Op::Custom(_) => {
                let mut out = core::mem::take(&mut self.scratch);
                let mut values = self.input_values(inputs);
                values[inputs.len()..op.arity()].copy_from_slice(attrs);
                let evaluated = eval_into(op, &values[..op.arity()], &mut out);
                if let Err(e) = evaluated {
                    self.scratch = out;
                    return Err(e);
                }
                if shape.is_scalar() {
                    scalar_value = out.first().copied().unwrap_or(f64::NAN);
                } else {
                    self.values.extend_from_slice(&out);
                }
                out.clear();
                self.scratch = out;
            }
        }
        if !(tracks[0] || tracks[1]) {
            return Ok(self.push_node(shape, scalar_value, start, None, [NO_INPUT; 2]));
        }
        let mut slots = [NO_INPUT; 2];
        let inline = inputs.len().min(2);
        slots[..inline].copy_from_slice(&inputs[..inline]);
        let index = self.push_node(shape, scalar_value, start, Some(op), slots);
        self.specials.push(index);
        if view {
            self.attr_nodes.push((index, self.attrs.len() as u32));
            self.attrs.push(self.view_slots as f64);
            self.view_slots += shape.len();
        }
        if Arena::has_side_entry(op) {
            self.attr_nodes.push((index, self.attrs.len() as u32));
            self.attrs.extend(inputs.get(2).map(|&i| f64::from(i)));
            for &(values, shape) in attrs {
                let mut dims = [0; crate::MAX_RANK];
                let rank = shape.dims_into(&mut dims);
                self.attrs.push(rank as f64);
                self.attrs.extend(dims[..rank].iter().map(|&d| d as f64));
                self.attrs.push(values.len() as f64);
                self.attrs.extend_from_slice(values);
            }
        }
        let mut low = index;
        let mut flags = REQUIRES_GRAD;
        for k in 0..2 {
            if tracks[k] {
                flags |= TRACKS[k];
                low = low.min(self.node(slots[k]).low);
            }
        }
        let node = &mut self.nodes[index as usize];
        node.flags = flags;
        node.low = low;
        Ok(index)
    }

    /// The values and shapes of the input nodes, as the op table takes them.
    fn input_values(&self, inputs: &[u32]) -> [Input<'_, f64>; MAX_OPERANDS] {
        let mut values: [Input<'_, f64>; MAX_OPERANDS] = [(&[], Shape::Scalar); MAX_OPERANDS];
        for (slot, &i) in values.iter_mut().zip(inputs) {
            *slot = (self.value(i), self.shape(i));
        }
        values
    }

    #[cfg(feature = "serde")]
    /// Records a binary op on one node and a constant kept in the node, as `Var`
    /// arithmetic does (the path of loading a graph file). The node must be a scalar that
    /// requires grad, and the constant a differentiated operand or a `powi`/`powf` exponent.
    pub(crate) fn record_with_kept_constant(
        &mut self,
        op: Op,
        inputs: &[u32],
        constant: f64,
        constant_left: bool,
    ) -> Result<u32, Error> {
        let (Op::Binary(b), &[input]) = (op, inputs) else {
            return Err(Error::MisplacedConstant { op: op.name() });
        };
        if input as usize >= self.nodes.len() {
            return Err(Error::NoSuchNode { index: input, len: self.nodes.len() });
        }
        if !self.shape(input).is_scalar() || !self.requires_grad(input) || (constant_left && !op.differentiates(1)) {
            return Err(Error::MisplacedConstant { op: op.name() });
        }
        let x = self.value(input)[0];
        let (left, right) = if constant_left { (constant, x) } else { (x, constant) };
        let value = b.eval(left, right);
        let partial = constant_rule(b, left, right, constant_left);
        let (inputs, low, flags) = ([input, NO_INPUT], self.low(input), Arena::constant_flags(constant_left));
        self.push_var(VarStep { op, inputs, low, value, partials: [partial, constant], flags }, None)?
            .ok_or(Error::NotTracked { what: "a graph file's node, inside no_grad" })
    }

    /// A graph that was recorded up to `checkpoint`: what [`rewind`](Arena::rewind) keeps.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            graph: self.id,
            nodes: self.nodes.len() as u32,
            values: self.values.len() as u32,
            dims: self.dims.len() as u32,
            view_slots: self.view_slots,
            epoch: self.last_epoch(self.nodes.len() as u32),
        }
    }

    /// Undoes what one recording call pushed since `checkpoint`, before any handle to it
    /// was made: the recording is unchanged, so ids stay valid.
    pub(crate) fn undo_to(&mut self, checkpoint: Checkpoint) {
        self.leaf_prefix = self.leaf_prefix.min(checkpoint.nodes);
        self.specials.truncate(self.specials.partition_point(|&s| s < checkpoint.nodes));
        self.nodes.truncate(checkpoint.nodes as usize);
        self.values.truncate(checkpoint.values as usize);
        self.dims.truncate(checkpoint.dims as usize);
        self.truncate_side_table(checkpoint.nodes);
        self.view_slots = checkpoint.view_slots;
    }

    /// Drops the side-table entries of the nodes from `len` on.
    fn truncate_side_table(&mut self, len: u32) {
        let keep = self.attr_nodes.partition_point(|&(node, _)| node < len);
        if let Some(&(_, start)) = self.attr_nodes.get(keep) {
            self.attrs.truncate(start as usize);
        }
        self.attr_nodes.truncate(keep);
    }

    /// Drops every node recorded after `checkpoint`, keeping the buffers' capacity.
    pub(crate) fn rewind(&mut self, checkpoint: Checkpoint) -> Result<(), Error> {
        if checkpoint.graph != self.id {
            return Err(Error::ForeignNode { expected: self.id, found: checkpoint.graph });
        }
        if checkpoint.nodes as usize > self.nodes.len() || self.last_epoch(checkpoint.nodes) != checkpoint.epoch {
            return Err(Error::StaleCheckpoint { nodes: checkpoint.nodes });
        }
        let mark = checkpoint.nodes;
        self.nodes.truncate(mark as usize);
        self.values.truncate(checkpoint.values as usize);
        self.dims.truncate(checkpoint.dims as usize);
        self.truncate_side_table(mark);
        self.view_slots = checkpoint.view_slots;
        self.epoch = self.epoch.checked_add(1).ok_or(Error::CapacityExceeded {
            what: "the number of rewinds of one graph",
            limit: u64::from(u32::MAX),
        })?;
        self.specials.truncate(self.specials.partition_point(|&s| s < mark));
        self.leaf_prefix = self.leaf_prefix.min(mark);
        while self.rewinds.last().is_some_and(|&(_, m)| m >= mark) {
            self.rewinds.pop();
        }
        self.rewinds.push((self.epoch, mark));
        self.modified.retain_mut(|(leaf, len)| {
            *len = (*len).min(mark);
            *leaf + 1 < *len
        });
        Ok(())
    }

    /// Sets a leaf's value in place; the nodes already computed from it keep the old one,
    /// and a sweep through them is refused (see [`modified_leaves`](Arena::modified_leaves)).
    pub(crate) fn set_leaf_value(&mut self, index: u32, data: &[f64]) -> Result<(), Error> {
        self.write_leaf(index, data)?;
        self.mark_modified(index);
        Ok(())
    }

    /// Changes a leaf's value in place through `update`, which gets its elements; as
    /// [`set_leaf_value`](Arena::set_leaf_value), nodes computed from the old value are stale.
    pub(crate) fn update_leaf<R>(&mut self, index: u32, update: impl FnOnce(&mut [f64]) -> R) -> Result<R, Error> {
        let result = update(self.leaf_values_mut(index)?);
        self.mark_modified(index);
        Ok(result)
    }

    /// The elements of leaf `index`, to be written, or the error for a computed node.
    fn leaf_values_mut(&mut self, index: u32) -> Result<&mut [f64], Error> {
        if let Some(op) = self.op(index) {
            return Err(Error::NotALeaf { what: "a new value", grad_fn: op.grad_fn_name() });
        }
        Ok(match self.tensor_range(index) {
            Some(range) => &mut self.values[range],
            None => core::slice::from_mut(&mut self.nodes[index as usize].value),
        })
    }

    /// Records that leaf `index` changed while the arena holds its current nodes.
    fn mark_modified(&mut self, index: u32) {
        let len = self.nodes.len() as u32;
        if index + 1 < len {
            match self.modified.iter_mut().find(|(leaf, _)| *leaf == index) {
                Some(entry) => entry.1 = entry.1.max(len),
                None => self.modified.push((index, len)),
            }
        }
    }
}

/// Value and local partials of a scalar node, from the dual rules (elementwise ops) or the
/// user's primal and VJP (custom ops): the one place a recorded scalar node gets its
/// derivatives (`tracks` says which are needed). Fails only for a custom op whose primal
/// does not write one value.
#[inline(always)]
pub(crate) fn scalar_rule(op: Op, x: f64, y: f64, tracks: [bool; 2]) -> Result<(f64, [f64; 2]), Error> {
    match op {
        Op::Unary(u) => {
            let (value, partial) = unary_rule(u, x, tracks[0]);
            Ok((value, [partial, 0.0]))
        }
        Op::Binary(b) => Ok(binary_rule(b, x, y, tracks)),
        Op::Custom(id) => {
            let arity = op.arity();
            let (x, y) = ([x], [y]);
            let inputs = [(&x[..], Shape::Scalar), (&y[..], Shape::Scalar)];
            let mut value = Vec::with_capacity(1);
            eval_into(op, &inputs[..arity], &mut value)?;
            let mut partials = [0.0; 2];
            for (k, partial) in partials.iter_mut().enumerate().take(arity) {
                if tracks[k] {
                    let mut adjoint = [0.0];
                    id.op().vjp_f64(k, &inputs[..arity], &[1.0], &mut adjoint);
                    *partial = adjoint[0];
                }
            }
            Ok((value.first().copied().unwrap_or(f64::NAN), partials))
        }
        Op::Structural(_) => Ok((f64::NAN, [0.0; 2])),
    }
}

/// Value and partial of a scalar unary node (the partial only if `tracked`).
#[inline(always)]
pub(crate) fn unary_rule(op: UnaryOp, x: f64, tracked: bool) -> (f64, f64) {
    // The value from the `f64` primal, bitwise what the tensor path computes; the compiler
    // shares the work with the dual evaluation (sin and cos fuse).
    (op.eval(x), if tracked { op.eval(Dual::variable(x)).eps } else { 0.0 })
}

/// Value and partials of a scalar binary node (each partial only if tracked).
#[inline(always)]
pub(crate) fn binary_rule(op: BinaryOp, x: f64, y: f64, tracks: [bool; 2]) -> (f64, [f64; 2]) {
    let left = if tracks[0] { op.partial_left(x, y) } else { 0.0 };
    let right = if tracks[1] { op.partial_right(x, y) } else { 0.0 };
    (op.eval(x, y), [left, right])
}

impl Arena {
    #[doc(hidden)]
    /// The local partials of the cached scalar node `index` with its operands at `x` and `y`
    /// (in operand order; `y` unused by a unary op), at any scalar type: what recording
    /// cached, evaluated again by the same rules (`[∂, 0]` for a node with one input).
    pub fn cached_partials<S: GraphScalar>(&self, index: u32, x: S, y: S) -> [S; 2] {
        let n = self.node(index);
        match n.op {
            Some(Op::Custom(id)) => {
                let op = id.op();
                let (x, y) = ([x], [y]);
                let inputs = [(&x[..], Shape::Scalar), (&y[..], Shape::Scalar)];
                let mut partials = [S::zero(); 2];
                for (k, partial) in partials.iter_mut().enumerate().take(op.arity()) {
                    if n.has(TRACKS[k]) {
                        let mut adjoint = [S::zero()];
                        S::custom_vjp(op, k, &inputs[..op.arity()], &[S::one()], &mut adjoint);
                        *partial = adjoint[0];
                    }
                }
                partials
            }
            Some(Op::Unary(u)) => [u.partial(x), S::zero()],
            Some(Op::Binary(b)) if n.has(SAME_INPUT) => [b.partial_left(x, y) + b.partial_right(x, y), S::zero()],
            Some(Op::Binary(b)) if n.has(CONSTANT_LEFT) => [b.partial_right(x, y), S::zero()],
            Some(Op::Binary(b)) if n.has(CONSTANT) => [b.partial_left(x, y), S::zero()],
            Some(Op::Binary(b)) => [
                if n.has(TRACKS[0]) { b.partial_left(x, y) } else { S::zero() },
                if n.has(TRACKS[1]) { b.partial_right(x, y) } else { S::zero() },
            ],
            _ => [S::zero(), S::zero()],
        }
    }

    /// Writes new values into leaf `index`, checking it is a leaf and the length fits.
    fn write_leaf(&mut self, index: u32, data: &[f64]) -> Result<(), Error> {
        let shape = self.shape(index);
        if data.len() != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: data.len() });
        }
        self.leaf_values_mut(index)?.copy_from_slice(data);
        Ok(())
    }
}

/// The partial of a binary op with one constant operand, in the other operand.
#[inline(always)]
pub(crate) fn constant_rule(op: BinaryOp, x: f64, y: f64, constant_left: bool) -> f64 {
    if constant_left {
        op.partial_right(x, y)
    } else {
        op.partial_left(x, y)
    }
}

impl Arena {
    #[doc(hidden)]
    /// Evaluates node `index` at scalar type `S` from its operands' values, given by
    /// `value_of`, appending the result to `out`: the one evaluator behind re-evaluation at
    /// another point, forward mode over a graph, and forward-over-reverse.
    /// Fails only for a custom op whose primal does not write its output shape's length.
    pub fn evaluate_node<'v, S: GraphScalar>(
        &self,
        index: u32,
        value_of: impl Fn(u32) -> &'v [S],
        out: &mut Vec<S>,
    ) -> Result<(), Error> {
        let Some(op) = self.op(index) else {
            out.extend(self.value(index).iter().map(|&x| S::from(x).unwrap_or_else(S::nan)));
            return Ok(());
        };
        self.with_args(index, value_of, |args| eval_into(op, args, out))
    }

    /// The same graph at another point: `leaves` take new values and every computed node
    /// is re-evaluated (scalar nodes with their partials); ids stay valid.
    pub fn with_leaves(&self, leaves: &[(NodeId, &[f64])]) -> Result<Arena, Error> {
        let mut next = self.clone();
        for &(id, v) in leaves {
            next.write_leaf(self.resolve(id)?, v)?;
        }
        let mut out = Vec::new();
        let mut specials = Vec::new();
        for index in 0..next.nodes.len() as u32 {
            let node = next.nodes[index as usize];
            let Some(op) = node.op else { continue };
            if node.has(CACHED) {
                let operand = |k: usize| match next.operands(index).0[k] {
                    Operand::Node(i) => next.nodes[i as usize].value,
                    Operand::Constant(c) => c,
                };
                let (x, y) = (operand(0), if op.arity() > 1 { operand(1) } else { 0.0 });
                let (value, _) = scalar_rule(op, x, y, [false, false])?;
                let [p0, p1] = next.cached_partials(index, x, y);
                let node = &mut next.nodes[index as usize];
                node.value = value;
                node.partials[0] = p0;
                if !node.has(CONSTANT) {
                    node.partials[1] = p1;
                }
                continue;
            }
            specials.push(index);
            if matches!(next.slot_range(index), Some(SlotRange::View(_))) {
                continue;
            }
            out.clear();
            next.evaluate_node(index, |i| next.value(i), &mut out)?;
            match next.tensor_range(index) {
                Some(range) => next.values[range].copy_from_slice(&out),
                None => next.nodes[index as usize].value = out.first().copied().unwrap_or(f64::NAN),
            }
        }
        next.specials = specials;
        // Every computed node is of the new leaves now: none is stale.
        next.modified.clear();
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::BinaryOp;

    #[test]
    fn a_node_is_40_bytes_with_a_scalar_value_inside() {
        assert_eq!(Arena::NODE_BYTES, 40);
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
        assert_eq!(&*a.inputs(z), &[y, w]);
        assert_eq!(a.value(z), &[2.0_f64.exp() * 3.0]);
        assert_eq!(a.view(z).tracks, [false, true]);
        assert_eq!(a.view(z).partials[1], 2.0_f64.exp());
        assert_eq!(a.low(z), w);
    }

    #[test]
    fn a_failed_record_leaves_the_arena_untouched() {
        let mut a = Arena::new();
        let x = a.push_leaf(Shape::Vector(3), &[1.0, 2.0, 3.0], true).unwrap();
        let y = a.push_leaf(Shape::Vector(2), &[1.0, 2.0], true).unwrap();
        let before = (a.len(), a.all_values().count());
        assert!(matches!(a.record(Op::Binary(BinaryOp::Add), &[x, y]), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(a.record(Op::Binary(BinaryOp::Add), &[x]), Err(Error::Arity { .. })));
        assert!(matches!(a.record(Op::Unary(UnaryOp::Exp), &[7]), Err(Error::NoSuchNode { .. })));
        assert_eq!((a.len(), a.all_values().count()), before);
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

    #[test]
    fn ids_of_rewound_nodes_are_rejected_and_survivors_keep_theirs() {
        let mut a = Arena::new();
        let p = a.push_leaf(Shape::Vector(2), &[1.0, 2.0], true).unwrap();
        let p_id = a.node_id(p);
        let mark = a.checkpoint();
        let mut stale = Vec::new();
        for step in 0..5 {
            let y = a.record(Op::Unary(UnaryOp::Exp), &[p]).unwrap();
            let s = a.record(Op::Structural(crate::op::StructuralOp::Sum), &[y]).unwrap();
            assert_eq!((y, s), (1, 2), "step {step} reuses the same indices");
            stale.push(a.node_id(s));
            a.rewind(mark).unwrap();
            assert_eq!((a.len(), a.all_values().count()), (1, 2));
        }
        assert_eq!(a.resolve(p_id), Ok(p));
        let fresh = a.record(Op::Unary(UnaryOp::Exp), &[p]).unwrap();
        let _ = a.record(Op::Structural(crate::op::StructuralOp::Sum), &[fresh]).unwrap();
        for id in stale {
            assert!(matches!(a.resolve(id), Err(Error::DroppedNode { .. })));
        }
        // A checkpoint taken after nodes that a later rewind drops is refused.
        let late = a.checkpoint();
        a.rewind(mark).unwrap();
        assert!(a.rewind(late).is_err());
        assert_eq!(a.rewinds.len(), 1, "rewinds to one mark keep one entry");
    }
}
