//! Forward-mode automatic differentiation for slope.
//!
//! - [`rules`]: the value and derivative of every elementary function, each written once.
//! - [`Dual`]: a value and one tangent; implements [`num_traits::Float`], so a function
//!   written once over `T: Float` runs on it and returns its derivative.
//! - [`Scalar`]: `Float` plus the two activation functions the op table needs (`sigmoid`,
//!   `relu`) and `detach`. The op table of `slope-graph` is written over `Scalar`, so the
//!   same primal evaluates on `f64` (values) and on [`Dual`] (derivatives).
//!
//! ```
//! use slope_dual::{Dual, Scalar};
//!
//! let x = Dual::variable(0.0_f64);
//! let y = x.sigmoid();
//! assert_eq!((y.re, y.eps), (0.5, 0.25));
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod derive;
mod dual;
mod float_impl;
mod hyperdual;
mod linalg;
pub mod rules;
mod tangent;

pub use derive::{derivative, gradient, hessian, jacobian, jvp, Error, Function, DEFAULT_CHUNK};
pub use dual::{Dual, DualVec, SparseDualVec};
pub use hyperdual::HyperDual;
pub use tangent::{Sparse, Tangent, Tangents};

use core::fmt::Debug;
use core::ops::{AddAssign, DivAssign, MulAssign, SubAssign};
use num_traits::Float;

/// A real number type the op table can be evaluated on: `f32`, `f64`, or a dual number.
///
/// Beyond [`Float`], it provides the activation functions of the op table with their
/// PyTorch conventions, and `detach`, which keeps the value and drops any derivative
/// information (identity on plain floats).
pub trait Scalar: Float + Debug + Send + Sync + 'static + AddAssign + SubAssign + MulAssign + DivAssign {
    /// The logistic function `1 / (1 + e^-x)`, without overflow for large `|x|`.
    fn sigmoid(self) -> Self;
    /// `max(x, 0)`, with derivative 0 at 0 as in PyTorch.
    fn relu(self) -> Self;
    /// The value with no derivative attached: a constant.
    fn detach(self) -> Self;
}

macro_rules! plain_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            fn sigmoid(self) -> Self {
                rules::sigmoid(self).0
            }
            fn relu(self) -> Self {
                rules::relu(self).0
            }
            fn detach(self) -> Self {
                self
            }
        }
    )*};
}
plain_scalar!(f32, f64);
