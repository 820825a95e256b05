//! The arena and the op table of slope.
//!
//! - [`op`]: the op table, every differentiable operation defined once ([`Op`]).
//! - [`Arena`]: nodes in a flat vector indexed by `u32`, values in one flat buffer.
//! - [`Graph`]: a graph being recorded; [`Tensor`] and [`Var`] are `Copy` handles to its
//!   nodes. [`FrozenGraph`]: the finished graph, `Send + Sync`.
//! - [`Value`]: an owned tensor value, printed as PyTorch prints.
//!
//! This crate records and evaluates; it knows nothing of backward sweeps, which live in
//! `slope-reverse`, and nothing of threads.
//!
//! ```
//! use slope_graph::Graph;
//!
//! let g = Graph::new();
//! let u = g.scalar(1.0).requires_grad_();
//! let v = g.scalar(2.0).requires_grad_();
//! let f = u * v + u.powi(2);
//! assert_eq!(f.item().unwrap(), 3.0);
//! assert_eq!(f.to_string(), "tensor(3., grad_fn=<AddBackward0>)");
//! assert!(u.is_leaf() && !f.is_leaf());
//! ```
// `unsafe` is allowed in one module, `cell`, for a measured gain; see its docs.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod arena;
mod cell;
pub mod custom;
mod error;
#[cfg(feature = "serde")]
mod file;
pub mod forward;
mod graph;
pub mod op;
pub mod pool;
mod shape;
mod slots;
pub mod structural;
mod tensor;
mod value;
mod var;

pub use arena::{
    Arena, Checkpoint, NodeId, NodeInfo, NodeInputs, NodeView, Operand, MAX_ATTRIBUTE_VALUES, MAX_NODES, MAX_VALUES,
};
pub use custom::{CustomOp, GraphScalar};
pub use error::Error;
#[cfg(feature = "serde")]
pub use file::{AttributeRecord, GraphFile, NodeRecord, FORMAT_VERSION};
pub use graph::{FrozenGraph, Graph};
pub use op::{BinaryOp, Domain, Kink, Op, StructuralOp, UnaryOp};
pub use pool::release_buffers;
pub use shape::{Broadcast, Dims, Shape, ShapeError, MAX_RANK};
pub use slots::{Below, NodeSlots};
pub use tensor::{Comparison, GradFn, Reduction, Tensor};
pub use value::Value;
pub use var::Var;
