//! Errors of backward sweeps.

use slope_graph::Shape;

/// What can go wrong in a backward sweep. Every message says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the graph: a foreign node, a node that does not require grad, ...
    #[error(transparent)]
    Graph(#[from] slope_graph::Error),
    /// `backward()` on a tensor with more than one element.
    #[error(
        "backward() needs a scalar output, and this tensor has shape {shape}: reduce it first \
         (for example with .sum()), or call backward_with(seed) with a seed of shape {shape}"
    )]
    NonScalarOutput {
        /// The output's shape.
        shape: Shape,
    },
    /// `grad_into` was given buffers that do not match its inputs.
    #[error(
        "grad_into needs one buffer per input, each of the input's number of elements: inputs of {expected:?} \
         elements, buffers of {got:?}"
    )]
    GradBuffers {
        /// Each input's number of elements.
        expected: Vec<usize>,
        /// Each buffer's length.
        got: Vec<usize>,
    },
    /// Adjoints read against an arena other than the one last swept, or after it rewound.
    #[error(
        "these adjoints are of a sweep of another arena, or of this graph before a rewind: a copy \
         made by to_frozen, with_leaves or clone counts as another arena, even with the same ids. \
         Sweep the arena you read them against again"
    )]
    StaleAdjoints,
    /// Values at another scalar type that do not cover the swept graph.
    #[error(
        "the values of a sweep at another scalar type must cover the output's graph; build them \
         with forward::evaluate_all on the same graph"
    )]
    ValuesDoNotCover,
    /// A seed whose length does not match the output.
    #[error("the seed has {got} element(s), but the output has shape {shape} ({expected} element(s)); pass a seed of the output's shape")]
    SeedShape {
        /// The output's shape.
        shape: Shape,
        /// Elements the seed needs.
        expected: usize,
        /// Elements given.
        got: usize,
    },
}
