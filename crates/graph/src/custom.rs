//! Ops a user adds: `torch.autograd.Function` and `jax.custom_vjp` for slope.
//!
//! A type implementing [`CustomOp`] gives its primal, written once over [`Scalar`] (so it
//! runs on `f64` for values, on dual numbers for forward mode, on hyper-duals for Hessians)
//! and its VJP. [`register`] makes it an [`Op`]: it records on [`Tensor`](crate::Tensor)
//! (`try_op`) and [`Var`](crate::Var) (`custom`), sweeps in reverse through the user's VJP,
//! freezes, runs in the parallel Jacobians, is called by name in formulas, is saved in graph
//! files under its name, and `slope-check` checks it as it checks a built-in op: forward
//! mode (the primal on duals) against the user's VJP against finite differences, so a wrong
//! VJP is caught.
//!
//! Forward mode needs no JVP from the user: the primal is generic, so it is evaluated on
//! dual numbers, which is its JVP.
//!
//! ```
//! use slope_graph::custom::{register, CustomOp};
//! use slope_graph::structural::Input;
//! use slope_graph::{Graph, Op};
//! use slope_dual::Scalar;
//!
//! /// `ln(1 + e^x)`, written without overflow.
//! struct Softplus;
//!
//! impl CustomOp for Softplus {
//!     fn name(&self) -> &'static str {
//!         "softplus_doc"
//!     }
//!     fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
//!         out.extend(inputs[0].0.iter().map(|&x| if x > S::zero() { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }));
//!     }
//!     fn vjp<S: Scalar>(&self, _input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
//!         for ((adj, &x), &g) in adjoint.iter_mut().zip(inputs[0].0).zip(g) {
//!             *adj += g * x.sigmoid();
//!         }
//!     }
//! }
//!
//! let softplus: Op = register(Softplus).unwrap();
//! let g = Graph::new();
//! let x = g.vector(&[-1.0, 0.0, 2.0]).requires_grad_();
//! let y = x.try_op(softplus, &[]).unwrap();
//! assert_eq!(y.grad_fn().unwrap().name(), "SoftplusDocBackward");
//! // Forward mode runs the primal on duals: softplus'(0) = 1/2. (Reverse mode, in
//! // slope-reverse, runs the VJP: `y.sum().backward()`.)
//! let tangent = slope_graph::forward::jvp_tensors(y, &[(x, &[0.0, 1.0, 0.0])]).unwrap();
//! assert_eq!(tangent.as_slice()[1], 0.5);
//! ```

use std::sync::{Mutex, OnceLock};

use slope_dual::domain::{self, Domain};
use slope_dual::{Dual, HyperDual, Scalar};

use crate::op::{broadcast, Op};
use crate::structural::Input;
use crate::{Error, Shape};

/// An op defined outside slope: its primal and its VJP, each written once over [`Scalar`].
///
/// Only [`name`](CustomOp::name), [`primal`](CustomOp::primal) and [`vjp`](CustomOp::vjp)
/// are required; the rest describes the op for recording and checking and defaults to an
/// elementwise function of one input, checked anywhere in `[-3, 3]`.
pub trait CustomOp: Send + Sync + 'static {
    /// The op's name: in formulas, graph files, reports and (capitalised, with `Backward`
    /// appended) its `grad_fn`. Unique among registered ops, distinct from the built-ins.
    fn name(&self) -> &'static str;

    /// Number of inputs: 1 or 2.
    fn arity(&self) -> usize {
        1
    }

    /// The output shape; by default an elementwise op's (equal shapes, or a scalar against
    /// anything).
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Error> {
        inputs.iter().try_fold(inputs[0], |shape, &next| broadcast(self.name(), shape, next))
    }

    /// Checks input values recording needs beyond their shapes.
    fn check_values(&self, _inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        Ok(())
    }

    /// Where each input is sampled when checking (one per input); a constant domain is an
    /// input that is never differentiated.
    fn domains(&self) -> &'static [Domain] {
        const ANY: [Domain; 2] = [domain::ANY, domain::ANY];
        &ANY[..self.arity().min(2)]
    }

    /// The input shapes the checker tries.
    fn shape_cases(&self) -> &'static [&'static [Shape]] {
        use Shape::{Matrix as M, Scalar as S, Vector as V};
        if self.arity() == 1 {
            &[&[S], &[V(3)], &[M(2, 2)]]
        } else {
            &[&[S, S], &[V(3), V(3)], &[S, V(3)]]
        }
    }

    /// Evaluates the op, appending the output's elements to `out`.
    fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>);

    /// Adds to `adjoint` (input `input`'s adjoint, that input's length) the contribution of
    /// the output's adjoint `g`: the vector-Jacobian product for one input.
    fn vjp<S: Scalar>(&self, input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]);
}

/// Generates, from one list of the scalar types graphs are evaluated at, the object-safe
/// form of a custom op (one primal and one VJP method per type), its blanket impl, and the
/// [`GraphScalar`] impls that pick a type's method.
macro_rules! evaluated_at {
    ($($t:ty => $primal:ident, $vjp:ident;)*) => {
        /// A [`CustomOp`] as the graph calls it: its primal and VJP at each scalar type graphs
        /// are evaluated at. Implemented for every `CustomOp`; not implemented by hand.
        pub trait DynCustomOp: Send + Sync {
            /// See [`CustomOp::name`].
            fn name(&self) -> &'static str;
            /// See [`CustomOp::arity`].
            fn arity(&self) -> usize;
            /// See [`CustomOp::output_shape`].
            fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Error>;
            /// See [`CustomOp::check_values`].
            fn check_values(&self, inputs: &[Input<'_, f64>]) -> Result<(), Error>;
            /// See [`CustomOp::domains`].
            fn domains(&self) -> &'static [Domain];
            /// See [`CustomOp::shape_cases`].
            fn shape_cases(&self) -> &'static [&'static [Shape]];
            $(
                #[doc = concat!("The primal on `", stringify!($t), "`.")]
                fn $primal(&self, inputs: &[Input<'_, $t>], out: &mut Vec<$t>);
                #[doc = concat!("The VJP on `", stringify!($t), "`.")]
                fn $vjp(&self, input: usize, inputs: &[Input<'_, $t>], g: &[$t], adjoint: &mut [$t]);
            )*
        }

        impl<T: CustomOp> DynCustomOp for T {
            fn name(&self) -> &'static str {
                CustomOp::name(self)
            }
            fn arity(&self) -> usize {
                CustomOp::arity(self)
            }
            fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Error> {
                CustomOp::output_shape(self, inputs)
            }
            fn check_values(&self, inputs: &[Input<'_, f64>]) -> Result<(), Error> {
                CustomOp::check_values(self, inputs)
            }
            fn domains(&self) -> &'static [Domain] {
                CustomOp::domains(self)
            }
            fn shape_cases(&self) -> &'static [&'static [Shape]] {
                CustomOp::shape_cases(self)
            }
            $(
                fn $primal(&self, inputs: &[Input<'_, $t>], out: &mut Vec<$t>) {
                    self.primal(inputs, out)
                }
                fn $vjp(&self, input: usize, inputs: &[Input<'_, $t>], g: &[$t], adjoint: &mut [$t]) {
                    self.vjp(input, inputs, g, adjoint)
                }
            )*
        }

        $(
            impl GraphScalar for $t {
                #[inline]
                fn custom_primal(op: &dyn DynCustomOp, inputs: &[Input<'_, Self>], out: &mut Vec<Self>) {
                    op.$primal(inputs, out)
                }
                #[inline]
                fn custom_vjp(
                    op: &dyn DynCustomOp,
                    input: usize,
                    inputs: &[Input<'_, Self>],
                    g: &[Self],
                    adjoint: &mut [Self],
                ) {
                    op.$vjp(input, inputs, g, adjoint)
                }
            }
        )*
    };
}

/// A scalar type graphs are evaluated at: `f64` (values, gradients), `Dual<f64>` (forward
/// mode, forward-over-reverse) and `HyperDual<f64>` (Hessians). Each picks its own
/// instance of a custom op's generic primal and VJP.
pub trait GraphScalar: Scalar {
    /// Evaluates a custom op's primal at this type.
    fn custom_primal(op: &dyn DynCustomOp, inputs: &[Input<'_, Self>], out: &mut Vec<Self>);
    /// Runs a custom op's VJP at this type.
    fn custom_vjp(op: &dyn DynCustomOp, input: usize, inputs: &[Input<'_, Self>], g: &[Self], adjoint: &mut [Self]);
}

evaluated_at! {
    f64 => primal_f64, vjp_f64;
    Dual<f64> => primal_dual, vjp_dual;
    HyperDual<f64> => primal_hyper, vjp_hyper;
}

/// Most custom ops one process can register. A node stores its op in two bytes (so a node
/// stays 40 bytes), which leaves one byte for the custom op's number.
pub const MAX_CUSTOM_OPS: usize = 256;

/// A registered custom op, as [`Op::Custom`] stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomOpId(u8);

struct Registered {
    op: Box<dyn DynCustomOp>,
    grad_fn: &'static str,
}

/// Registered ops live for the rest of the process (a recorded node may name one at any
/// time), so each slot is set once and read without a lock.
static SLOTS: [OnceLock<Registered>; MAX_CUSTOM_OPS] = [const { OnceLock::new() }; MAX_CUSTOM_OPS];
/// Serialises registrations: the next free slot.
static NEXT: Mutex<usize> = Mutex::new(0);

/// Registers a custom op for this process and returns it as an [`Op`].
///
/// Errors if the name is empty, not a formula identifier, a built-in op's or already
/// registered (names identify ops in graph files; find an existing one with [`lookup`]),
/// if the arity is not 1 or 2, or if [`MAX_CUSTOM_OPS`] are registered.
pub fn register<T: CustomOp>(op: T) -> Result<Op, Error> {
    let name = CustomOp::name(&op);
    let identifier = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !identifier {
        return Err(Error::CustomOpName {
            name,
            problem: "must be lowercase letters, digits and `_`, starting with a letter",
        });
    }
    let arity = CustomOp::arity(&op);
    if !(1..=2).contains(&arity) {
        return Err(Error::CustomOpArity { name, arity });
    }
    if CustomOp::domains(&op).len() != arity {
        return Err(Error::CustomOpName { name, problem: "must give one checking domain per input" });
    }
    let mut next = NEXT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if Op::from_name(name).is_some() {
        return Err(Error::CustomOpName { name, problem: "is taken: an op of that name exists" });
    }
    let Some(slot) = SLOTS.get(*next) else {
        return Err(Error::CapacityExceeded { what: "registered custom ops", limit: MAX_CUSTOM_OPS as u64 });
    };
    let id = CustomOpId(*next as u8);
    // One string per registered op, kept for the process's life as the op itself is.
    let grad_fn: &'static str = Box::leak(format!("{}Backward", camel_case(name)).into_boxed_str());
    if slot.set(Registered { op: Box::new(op), grad_fn }).is_err() {
        unreachable!("slots below NEXT are set exactly once, under the lock")
    }
    *next += 1;
    Ok(Op::Custom(id))
}

/// Every registered custom op, in registration order.
pub fn registered_ops() -> impl Iterator<Item = Op> {
    registered().map(|(id, _)| Op::Custom(id))
}

/// The registered custom op of this name.
pub fn lookup(name: &str) -> Option<Op> {
    registered().find(|(_, r)| r.op.name() == name).map(|(id, _)| Op::Custom(id))
}

fn registered() -> impl Iterator<Item = (CustomOpId, &'static Registered)> {
    SLOTS.iter().enumerate().map_while(|(i, slot)| slot.get().map(|r| (CustomOpId(i as u8), r)))
}

fn camel_case(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

impl CustomOpId {
    fn registered(self) -> &'static Registered {
        match SLOTS[usize::from(self.0)].get() {
            Some(r) => r,
            None => unreachable!("a CustomOpId is made only by a registration that set its slot"),
        }
    }

    /// The registered op.
    pub fn op(self) -> &'static dyn DynCustomOp {
        &*self.registered().op
    }

    /// Its `grad_fn` name: the op's name in camel case with `Backward` appended.
    pub fn grad_fn_name(self) -> &'static str {
        self.registered().grad_fn
    }
}
