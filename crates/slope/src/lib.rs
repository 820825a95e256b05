//! # slope
//!
//! Automatic differentiation for Rust: reverse mode over an index-based arena, with
//! PyTorch's semantics for tensors, and forward mode with dual numbers; every derivative
//! rule is written once.
//!
//! This crate is the facade: it re-exports `slope-graph` (the arena and op table),
//! `slope-reverse` (backward sweeps) and `slope-dual` (forward mode). Most users need only
//! the prelude.
//!
//! ## As in the PyTorch notebook
//! ```
//! use slope::prelude::*;
//!
//! # fn main() -> Result<(), slope::Error> {
//! let g = Graph::new();
//! let x = g.scalar(2.0).requires_grad_();      // torch.tensor(2.0, requires_grad=True)
//! let y = x.powi(2);                           // y = x ** 2
//! assert_eq!(y.item()?, 4.0);
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().to_string(), "tensor(4.)");
//! assert_eq!(y.grad_fn().unwrap().name(), "PowBackward0");
//! assert!(x.is_leaf() && !y.is_leaf() && y.grad().is_none());
//!
//! let x = g.linspace(-10.0, 10.0, 10)?.requires_grad_();
//! let y = x.powi(2).sum();                     // torch.sum(x ** 2)
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().as_slice()[0], -20.0);
//! # Ok(())
//! # }
//! ```
//!
//! ## A function written once over `Float`
//! ```
//! use slope::prelude::*;
//!
//! fn f<T: Float>(x: &[T]) -> T {
//!     x[0] * x[1] + x[0].powi(2)
//! }
//! let (value, grad) = slope::gradient(|x| f(x), &[1.0, 2.0]).unwrap();   // reverse mode
//! assert_eq!((value, grad), (3.0, vec![4.0, 1.0]));
//! let du = f(&[Dual::variable(1.0), Dual::constant(2.0)]);                // forward mode
//! assert_eq!(du.eps, 4.0);
//! ```
//!
//! ## Crates
//! - [`graph`]: [`Graph`], [`Tensor`], [`Var`], the op table [`Op`]; [`custom`]: ops of your
//!   own ([`CustomOp`]), checked like the built-in ones.
//! - [`reverse`]: [`Backward`], [`grad`]; [`gradient`], [`jacobian`], [`hessian`] of a closure;
//!   [`graph_vjp`], [`graph_jacobian`], [`graph_hessian`] over a [`FrozenGraph`].
//! - [`dual`]: [`Dual`] and the derivative rules.
//! - [`check`]: the gradient checker (forward vs reverse vs finite differences).
//! - [`expr`]: the formula language of the `slope` command.
//! - [`optim`]: [`optim::Sgd`] and [`optim::Adam`] over a graph's parameters, as `torch.optim`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use num_traits;
pub use slope_check as check;
pub use slope_dual as dual;
#[cfg(feature = "serde")]
pub mod fuzzing;
pub mod optim;
pub use slope_expr as expr;
pub use slope_graph as graph;
pub use slope_reverse as reverse;

pub use slope_dual::{Dual, Scalar};
pub use slope_graph::custom;
pub use slope_graph::{
    BinaryOp, Checkpoint, CustomOp, Domain, FrozenGraph, GradFn, Graph, NodeId, Op, Reduction, Shape, ShapeError,
    StructuralOp, Tensor, UnaryOp, Value, Var, MAX_RANK,
};
pub use slope_reverse::{
    grad, grad_into, grad_with, gradient, graph_hessian, graph_hvp, graph_jacobian, graph_vjp, graph_vjp_batch,
    hessian, jacobian, release_buffers, var_grad, Adjoints, Backward, Error,
};

/// Errors of recording a graph (shapes, foreign nodes, capacity); [`Error`] wraps them.
pub type GraphError = slope_graph::Error;

/// What most programs need: `use slope::prelude::*;`.
pub mod prelude {
    pub use crate::{Backward, Dual, Graph, Shape, Tensor, Value, Var};
    pub use num_traits::Float;
}

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
