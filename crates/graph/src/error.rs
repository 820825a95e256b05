//! Errors of recording and reading graphs.

use crate::Shape;

impl From<crate::ShapeError> for Error {
    fn from(reason: crate::ShapeError) -> Error {
        Error::BadShape { op: "shape", reason }
    }
}

/// What went wrong while building or reading a graph. Every message says what to do.
///
/// A failed operation leaves the graph exactly as it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that cannot be combined.
    #[error(
        "{op}: shapes {left} and {right} do not match; elementwise ops need shapes that \
         broadcast (along each dimension, from the last, equal sizes or a 1), dot needs two \
         vectors of one length, matmul needs [m, k] @ [k, n], mse_loss two tensors of one \
         shape, cross_entropy logits [C] with a scalar label or [B, C] with B labels"
    )]
    ShapeMismatch {
        /// The op's method name.
        op: &'static str,
        /// Shape of the left input.
        left: Shape,
        /// Shape of the right input.
        right: Shape,
    },
    /// An op was given the wrong number of inputs.
    #[error("{op} takes {expected} input(s), got {got}")]
    Arity {
        /// The op's method name.
        op: &'static str,
        /// Inputs it takes.
        expected: usize,
        /// Inputs given.
        got: usize,
    },
    /// Data whose length does not fit the shape it was given.
    #[error("shape {shape} holds {expected} element(s), but {got} were given; pass exactly {expected}")]
    DataLength {
        /// The requested shape.
        shape: Shape,
        /// Elements the shape holds.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// A node handle or id from a different graph.
    #[error(
        "this node belongs to graph #{found}, not to graph #{expected}: values from different \
         graphs cannot be combined; build the whole computation on one graph. (A graph loaded \
         from a file has new ids: find its nodes by name with FrozenGraph::named, or by \
         position with FrozenGraph::node_id.)"
    )]
    ForeignNode {
        /// The graph that was asked.
        expected: u64,
        /// The graph the node belongs to.
        found: u64,
    },
    /// A node id past the end of the graph.
    #[error("node {index} does not exist: the graph has {len} node(s)")]
    NoSuchNode {
        /// The index asked for.
        index: u32,
        /// Number of nodes in the graph.
        len: usize,
    },
    /// A sweep, forward or reverse, through a node computed before a leaf it reads was set
    /// in place (PyTorch refuses a saved tensor modified in place the same way).
    #[error(
        "node {} ({grad_fn}) was computed before a leaf it reads was set in place with set_value, so \
         its value is of the old leaf: set values only after the sweeps that use them, or rewind \
         to a checkpoint taken before computing with the leaf and compute again",
        node.index()
    )]
    ModifiedInPlace {
        /// The stale node.
        node: crate::NodeId,
        /// Its op's PyTorch name.
        grad_fn: &'static str,
    },
    /// The id of a node that a rewind (or `clear`) dropped.
    #[error(
        "node {index} of graph #{graph} was dropped by a rewind or clear since this id was taken: \
         ids of nodes recorded after the checkpoint a graph rewinds to are no longer valid. Keep ids \
         only of nodes recorded before the checkpoint (parameters, data), and take the ids of each \
         step's nodes anew after recording them"
    )]
    DroppedNode {
        /// The index the id named.
        index: u32,
        /// The graph.
        graph: u64,
    },
    /// The id of a node recorded after this copy of its graph was taken.
    #[error(
        "node {index} was recorded on graph #{graph} after this copy of it ({len} node(s)) was taken \
         with to_frozen, with_leaves or clone: a copy holds what was recorded when it was made. Take a \
         new copy after recording the node"
    )]
    NewerThanCopy {
        /// The index the id named.
        index: u32,
        /// The graph.
        graph: u64,
        /// Number of nodes in the copy.
        len: usize,
    },
    /// The graph cannot hold more nodes or values.
    #[error(
        "the graph is full: {what} would exceed {limit}; split the computation or freeze and \
         start a new graph"
    )]
    CapacityExceeded {
        /// What ran out (node ids or value storage).
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// Something only a leaf allows, asked of a computed node.
    #[error(
        "{what} needs a leaf, and this node was computed by {grad_fn}: use detach() for a leaf \
         without history, or change the leaves it was computed from"
    )]
    NotALeaf {
        /// What was asked (`requires_grad(false)`, `a new value`).
        what: &'static str,
        /// The grad_fn of the node.
        grad_fn: &'static str,
    },
    /// A gradient was asked of something that does not require grad.
    #[error(
        "{what} needs a tensor that requires grad, and this one does not: no leaf it depends on \
         requires grad. Call requires_grad_() on the leaves before computing with them"
    )]
    NotTracked {
        /// What was asked.
        what: &'static str,
    },
    /// An optimiser's setting outside the range it takes.
    #[error("{optimizer}: {name} = {value} is not taken: it must be {expected}")]
    Hyperparameter {
        /// The optimiser (`SGD`, `Adam`).
        optimizer: &'static str,
        /// The setting's name, as PyTorch names it (`lr`, `momentum`, `betas.0`, ...).
        name: &'static str,
        /// The value given.
        value: f64,
        /// The range it must lie in.
        expected: &'static str,
    },
    /// A serialized graph that does not describe a valid graph.
    #[error("the serialized graph is invalid at node {node}: {message}")]
    Malformed {
        /// The first node found wrong (its position in the file).
        node: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A slice index that is not a whole number inside the sliced vector.
    #[error(
        "slice index {index} is not a whole number in 0..{len}; slice a vector of {len} element(s) within its bounds"
    )]
    SliceIndex {
        /// The index given.
        index: f64,
        /// Length of the sliced vector.
        len: usize,
    },
    /// A row index of `index_select` that is not a whole number among the rows.
    #[error("index_select: row {index} is not a whole number in 0..{rows}; pick rows of the {rows} there are")]
    RowIndex {
        /// The index given.
        index: f64,
        /// Rows of the input (elements of a vector).
        rows: usize,
    },
    /// An index of `gather` or `scatter_add` that is not a whole number in its dimension.
    #[error(
        "{op}: index {index} is not a whole number in 0..{size}; pick among the {size} elements along the dimension"
    )]
    GatherIndex {
        /// The op.
        op: &'static str,
        /// The index given.
        index: f64,
        /// Size of the dimension indexed.
        size: usize,
    },
    /// A mask of `where` with an element that is neither 0 nor 1.
    #[error("where: mask element {value} is neither 0 nor 1; pass one bool per element")]
    MaskValue {
        /// The element given.
        value: f64,
    },
    /// A shape slope cannot hold: more than [`MAX_RANK`](crate::MAX_RANK) dimensions, or a
    /// dimension of 2^32 or more.
    #[error("{op}: {reason}")]
    BadShape {
        /// The op's method name (`shape` where a shape was made by hand).
        op: &'static str,
        /// What is wrong with it.
        reason: crate::ShapeError,
    },
    /// A list of dimensions that is not a permutation of a tensor's dimensions.
    #[error("permute: {perm:?} is not a permutation of the {} dimension(s) of shape {shape}; list each of 0..{} once", shape.rank(), shape.rank())]
    Permutation {
        /// The tensor's shape.
        shape: Shape,
        /// The dimensions given.
        perm: Vec<usize>,
    },
    /// An op defined only up to some rank, given a tensor of a higher one.
    #[error("{op}: expects a tensor of rank at most {max}, got shape {shape}; use transpose(d0, d1) or permute for higher ranks")]
    RankAbove {
        /// The op's method name.
        op: &'static str,
        /// The tensor's shape.
        shape: Shape,
        /// The highest rank the op takes.
        max: usize,
    },
    /// A reshape to a shape that does not hold the input's elements.
    #[error("{op}: a tensor of shape {shape} cannot be reshaped to {target}; the new shape must hold its {} element(s)", shape.len())]
    Reshape {
        /// The op's method name.
        op: &'static str,
        /// The input's shape.
        shape: Shape,
        /// The shape asked for.
        target: Shape,
    },
    /// A dimension that the tensor does not have.
    #[error("{op}: dim {dim} is out of range for shape {shape}; use -1 (the last dimension) or 0..{rank}")]
    Dim {
        /// The op's method name.
        op: &'static str,
        /// The dimension given.
        dim: isize,
        /// The tensor's shape.
        shape: Shape,
        /// The tensor's rank.
        rank: usize,
    },
    /// An attribute given as a tensor that requires grad: attributes are constants.
    #[error("{op}: this argument is an attribute of the node, a constant; pass a tensor that does not require grad (`detach()` it)")]
    AttributeRequiresGrad {
        /// The op.
        op: &'static str,
    },
    /// Attributes too long for a node to keep.
    #[error("{op}: its attributes hold {values} numbers, more than the {max} a node keeps")]
    Attributes {
        /// The op.
        op: &'static str,
        /// How many numbers were given.
        values: usize,
        /// The most a node keeps.
        max: usize,
    },
    /// Bounds of `clamp` that are not two numbers.
    #[error("clamp: the bounds are {got} number(s); pass [lo, hi] (use -inf or inf for no bound)")]
    ClampBounds {
        /// How many numbers were given.
        got: usize,
    },
    /// A reduction that has no value on an empty tensor.
    #[error("{op} of an empty tensor has no value; reduce a tensor with at least one element")]
    EmptyReduction {
        /// The op's method name.
        op: &'static str,
    },
    /// A class label of `cross_entropy` that is not a class.
    #[error("cross_entropy: label {label} is not a class; labels are whole numbers in 0..{classes}")]
    ClassLabel {
        /// The label given.
        label: f64,
        /// Number of classes (the logits' last dimension).
        classes: usize,
    },
    /// A graph file names an op that is neither built in nor registered.
    #[error(
        "node {node} uses the op `{name}`, which is neither built in nor a registered custom op: \
         register it (slope::graph::custom::register) before loading this graph"
    )]
    UnknownOp {
        /// The node's position in the file.
        node: usize,
        /// The op name the file gives.
        name: String,
    },
    /// A node name that was not given.
    #[error("no node is named `{name}`; the names given are: {names:?}")]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The names there are.
        names: Vec<String>,
    },
    /// A custom op whose name or description cannot be registered.
    #[error("custom op `{name}`: its name {problem}")]
    CustomOpName {
        /// The op's name.
        name: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A custom op whose primal wrote another number of elements than its output shape holds.
    #[error(
        "custom op `{op}`: its primal appended {got} element(s), but its output_shape promised \
         {expected}; make primal append exactly one element per element of the output shape \
         (for inputs that broadcast, loop over the broadcast shape, not zip the inputs), or \
         override output_shape to refuse the shapes primal does not handle"
    )]
    CustomOpOutput {
        /// The op's name.
        op: &'static str,
        /// Elements the output shape holds.
        expected: usize,
        /// Elements the primal appended.
        got: usize,
    },
    /// A custom op with an arity a node cannot hold.
    #[error(
        "custom op `{name}` takes {arity} input(s); a node holds 1 or 2, so split it into ops of one or two inputs"
    )]
    CustomOpArity {
        /// The op's name.
        name: &'static str,
        /// The arity it declared.
        arity: usize,
    },
    /// A single number asked of something with more than one element.
    #[error(
        "{what} needs a single number, and this has shape {shape}: reduce it first (sum(), mean()), \
         read it with value(), or keep it as a Tensor"
    )]
    NeedsScalar {
        /// What was asked (`item()`, `var_of()`, the op a `Var` recorded).
        what: &'static str,
        /// The shape it has.
        shape: Shape,
    },
    /// A slice outside the vector, or of something that is not a vector.
    #[error("slice {start}..{end} of a tensor of shape {shape}: slices take a vector and 0 <= start <= end <= length")]
    SliceRange {
        /// First index.
        start: usize,
        /// One past the last index.
        end: usize,
        /// The sliced tensor's shape.
        shape: Shape,
    },
    /// A checkpoint that an earlier rewind to fewer nodes dropped.
    #[error(
        "this checkpoint (at {nodes} nodes) was dropped by an earlier rewind to fewer nodes; take a \
         new checkpoint after that rewind"
    )]
    StaleCheckpoint {
        /// Nodes the checkpoint kept.
        nodes: u32,
    },
    /// A graph file's node keeping a constant operand where only `Var` arithmetic keeps one.
    #[error(
        "{op} keeps a constant operand only as a binary op with one other input, a scalar that \
         requires grad (and never as a differentiated exponent's base); record the constant as a leaf instead"
    )]
    MisplacedConstant {
        /// The op's name.
        op: &'static str,
    },
}
