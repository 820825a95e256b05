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
pub mod domain;
mod dual;
mod error;
mod float_impl;
mod hyperdual;
mod linalg;
pub mod ops;
mod pass;
pub mod rules;
mod tangent;

pub use derive::{derivative, gradient, hessian, jacobian, jvp, recommended_chunk, Function, Workspace};
pub use dual::{Dual, DualVec};
pub use error::Error;
pub use hyperdual::HyperDual;
pub use ops::{BinaryOp, UnaryOp};
pub use pass::{ChunkDual, LaneBuffer, LaneScalar, PassTangents};
pub use tangent::{Tangent, Tangents};

use core::fmt::Debug;
use core::ops::{AddAssign, DivAssign, MulAssign, SubAssign};
use num_traits::Float;

/// Declares, for each `scalar` row of the op table, its method of [`Scalar`].
macro_rules! scalar_method_declarations {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        /// A real number type the op table can be evaluated on: `f32`, `f64`, or a dual number.
        ///
        /// Beyond [`Float`], it provides the functions of the op table that `Float` lacks
        /// (the `scalar` rows of [`unary_table!`], each with its rule in [`rules`]), and
        /// `detach`, which keeps the value and drops any derivative information (identity on
        /// plain floats).
        pub trait Scalar: Float + Debug + Send + Sync + 'static + AddAssign + SubAssign + MulAssign + DivAssign {
            $(scalar_method_declarations!(@one $kind $method $doc);)*
            /// `self^n` for an integer `n`, the value of `Float::powi` (bitwise, for plain
            /// floats), inlined: the primal of the op table's `powi` row.
            fn int_power(self, n: i32) -> Self;
            /// PyTorch's `maximum`: [`rules::maximum`] (NaN if either is NaN; a tie splits the
            /// gradient evenly).
            fn maximum(self, other: Self) -> Self;
            /// PyTorch's `minimum`: [`rules::minimum`].
            fn minimum(self, other: Self) -> Self;
            /// PyTorch's `leaky_relu(self, negative_slope)`: [`rules::leaky_relu`].
            fn leaky_relu(self, negative_slope: Self) -> Self;
            /// The value with no derivative attached: a constant.
            fn detach(self) -> Self;
            /// Zero in every part, value and derivatives: a local derivative that is exactly
            /// zero, which absorbs whatever flows through it ([`rules::chain`]).
            fn is_exactly_zero(self) -> bool;
        }
    };
    (@one scalar $method:ident $doc:literal) => {
        #[doc = concat!("The op table's `", stringify!($method), "`: ", $doc, ".")]
        fn $method(self) -> Self;
    };
    (@one $kind:ident $method:ident $doc:literal) => {};
}
unary_table!(scalar_method_declarations);

/// The `scalar` rows of the op table on a plain float: the value of the rule.
macro_rules! plain_scalar_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        $(plain_scalar_methods!(@one $kind $method);)*
    };
    (@one scalar $method:ident) => {
        #[inline]
        fn $method(self) -> Self {
            rules::$method(self).0
        }
    };
    (@one $kind:ident $method:ident) => {};
}

macro_rules! plain_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            unary_table!(plain_scalar_methods);
            #[inline(always)]
            fn int_power(self, n: i32) -> Self {
                rules::int_power(self, n)
            }
            #[inline(always)]
            fn maximum(self, other: Self) -> Self {
                rules::maximum(self, other).0
            }
            #[inline(always)]
            fn minimum(self, other: Self) -> Self {
                rules::minimum(self, other).0
            }
            #[inline(always)]
            fn leaky_relu(self, negative_slope: Self) -> Self {
                rules::leaky_relu(self, negative_slope).0
            }
            fn detach(self) -> Self {
                self
            }
            #[inline]
            fn is_exactly_zero(self) -> bool {
                self == 0.0
            }
        }
    )*};
}
plain_scalar!(f32, f64);
