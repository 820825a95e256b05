//! `Var`: a scalar that implements `num_traits::Float`, recorded on a [`Graph`].

use core::cmp::Ordering;
use core::fmt;
use core::iter::{Product, Sum};
use core::num::FpCategory;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, RemAssign, Sub, SubAssign};

use num_traits::{Float, FromPrimitive, Num, NumCast, One, ToPrimitive, Zero};

use crate::arena::{binary_rule, constant_rule, unary_rule, Arena, NodeId, VarStep};
use crate::op::{BinaryOp, Op, UnaryOp};
use crate::{Error, Graph, Shape, Tensor};
use slope_dual::rules;

/// A scalar for code written once over `T: num_traits::Float`: run it on `Var` and the
/// operations are recorded on a [`Graph`] for reverse mode.
///
/// A `Var` is either a variable on a graph (from [`Graph::var`] or computed from one) or a
/// constant with no graph at all, which is what `T::one()`, `T::from(100.0)` and
/// `T::zero()` produce; constants are never differentiated. The value is kept in the
/// `Var` itself, so reading it touches no graph. Comparisons look at values only, so
/// code branches exactly as it does on `f64`.
///
/// # Panics
/// Arithmetic between variables of two different graphs panics (the message names both
/// graphs), as does recording on a full graph, or inside
/// [`Graph::with_arena`](crate::Graph::with_arena) on the same graph: `Float`'s signatures leave no room for a
/// `Result`. The `gradient` helpers of `slope-reverse` record on a graph of their own, so
/// none of these can happen through them.
///
/// ```
/// use num_traits::Float;
/// use slope_graph::Graph;
///
/// fn rosenbrock<T: Float>(x: &[T]) -> T {
///     let hundred = T::from(100.0).unwrap();
///     x.windows(2)
///         .map(|w| hundred * (w[1] - w[0] * w[0]).powi(2) + (T::one() - w[0]).powi(2))
///         .fold(T::zero(), |a, b| a + b)
/// }
///
/// let g = Graph::new();
/// let x = g.vars(&[1.0, 2.0]);
/// let y = rosenbrock(&x);
/// assert_eq!(y.value(), 100.0);
/// assert_eq!(rosenbrock(&[1.0, 2.0]), 100.0);
/// ```
#[derive(Clone, Copy)]
pub struct Var<'g> {
    value: f64,
    node: Option<Recorded<'g>>,
}

/// Where a variable is recorded: its graph, its node, and the node's `low` (kept here so
/// recording an operation reads no node).
#[derive(Clone, Copy)]
struct Recorded<'g> {
    graph: &'g Graph,
    index: u32,
    low: u32,
}

impl<'g> Var<'g> {
    /// A constant: belongs to no graph and is never differentiated.
    pub const fn constant(value: f64) -> Var<'static> {
        Var { value, node: None }
    }

    pub(crate) fn on_graph(value: f64, graph: &'g Graph, index: u32, low: u32) -> Var<'g> {
        Var { value, node: Some(Recorded { graph, index, low }) }
    }

    /// The value.
    pub fn value(self) -> f64 {
        self.value
    }

    /// The node's id, or `None` for a constant.
    pub fn id(self) -> Option<NodeId> {
        self.node.map(|r| r.graph.arena().node_id(r.index))
    }

    /// The node's index in its graph, or `None` for a constant (no lookup, unlike
    /// [`id`](Var::id)).
    pub fn index(self) -> Option<u32> {
        self.node.map(|r| r.index)
    }

    /// The graph this variable is recorded on, or `None` for a constant.
    pub fn graph(self) -> Option<&'g Graph> {
        self.node.map(|r| r.graph)
    }

    fn lift(value: f64) -> Var<'g> {
        Var { value, node: None }
    }

    /// Applies an elementwise op of the table.
    pub fn apply(self, op: UnaryOp) -> Var<'g> {
        self.unary(op)
    }

    /// Applies a binary op of the table (for `PowI`/`PowF`, `rhs` is the exponent).
    ///
    /// # Panics
    /// If `self` and `rhs` are variables of two different graphs.
    pub fn apply_binary(self, op: BinaryOp, rhs: Var<'g>) -> Var<'g> {
        self.binary(op, rhs)
    }

    /// Records any op whose result is a scalar (a registered custom op, a reduction) with
    /// this variable as the first input and `others` after it; constants become leaves of
    /// the graph the variables are on (with no variable, the op is only evaluated).
    ///
    /// Errors if the arity or shapes do not fit the op, or the variables belong to different
    /// graphs.
    pub fn try_op(self, op: Op, others: &[Var<'g>]) -> Result<Var<'g>, Error> {
        if 1 + others.len() != op.arity() {
            return Err(Error::Arity { op: op.name(), expected: op.arity(), got: 1 + others.len() });
        }
        let operands: Vec<Var<'g>> = core::iter::once(self).chain(others.iter().copied()).collect();
        // Every operand is a scalar, so shape and values are checked before anything is
        // recorded: a refused op leaves the graph as it was.
        let values: Vec<[f64; 1]> = operands.iter().map(|v| [v.value]).collect();
        let inputs: Vec<(&[f64], Shape)> = values.iter().map(|v| (&v[..], Shape::Scalar)).collect();
        let shape = op.output_shape(&inputs)?;
        if !shape.is_scalar() {
            return Err(Error::NeedsScalar { what: op.name(), shape });
        }
        op.check_values(&inputs)?;
        let Some(graph) = operands.iter().find_map(|v| v.graph()) else {
            let mut out = Vec::with_capacity(1);
            crate::op::eval_into(op, &inputs, &mut out)?;
            return Ok(Var::lift(out.first().copied().unwrap_or(f64::NAN)));
        };
        let mut tensors = Vec::with_capacity(operands.len());
        for v in &operands {
            match v.node {
                Some(r) if !core::ptr::eq(r.graph, graph) => {
                    return Err(Error::ForeignNode { expected: graph.id(), found: r.graph.id() })
                }
                _ => {}
            }
        }
        for v in &operands {
            tensors.push(match v.node {
                Some(r) => Tensor::new(graph, r.index),
                None => graph.try_tensor(Shape::Scalar, &[v.value])?,
            });
        }
        let result = tensors[0].try_op(op, &tensors[1..])?;
        graph.var_of(result.id())
    }

    /// PyTorch's `leaky_relu(x, negative_slope)`: `x` above 0, `negative_slope · x`
    /// elsewhere, derivative `negative_slope` at 0 (`LeakyReluBackward0`).
    ///
    /// ```
    /// let g = slope_graph::Graph::new();
    /// let (x, y) = (g.var(-2.0), g.var(3.0));
    /// assert_eq!((x.leaky_relu(0.2).value(), y.leaky_relu(0.2).value()), (-0.4, 3.0));
    /// ```
    pub fn leaky_relu(self, negative_slope: f64) -> Var<'g> {
        self.binary(BinaryOp::LeakyRelu, Var::constant(negative_slope))
    }

    #[inline(always)]
    fn unary(self, op: UnaryOp) -> Var<'g> {
        let Some(r) = self.node else { return Var::lift(op.eval(self.value)) };
        let (value, partial) = unary_rule(op, self.value, true);
        let flags = Arena::var_flags(true, false);
        let (op, inputs, low, partials) = (Op::Unary(op), [r.index, u32::MAX], r.low, [partial, 0.0]);
        let index = r.graph.push_var(VarStep { op, inputs, low, value, partials, flags });
        Var::recorded(value, r, index, r.low)
    }

    #[inline(always)]
    fn recorded(value: f64, r: Recorded<'g>, index: Option<u32>, low: u32) -> Var<'g> {
        Var { value, node: index.map(|index| Recorded { graph: r.graph, index, low }) }
    }

    #[inline(always)]
    fn binary(self, op: BinaryOp, rhs: Var<'g>) -> Var<'g> {
        let (x, y) = (self.value, rhs.value);
        let value = op.eval(x, y);
        let (r, inputs, low, partials, flags) = match (self.node, rhs.node) {
            (None, None) => return Var::lift(value),
            (Some(a), None) => {
                let partial = constant_rule(op, x, y, false);
                (a, [a.index, u32::MAX], a.low, [partial, y], Arena::constant_flags(false))
            }
            (None, Some(b)) => {
                if !Op::Binary(op).differentiates(1) {
                    // only a constant exponent is involved: the result is a constant too
                    return Var::lift(value);
                }
                let partial = constant_rule(op, x, y, true);
                (b, [b.index, u32::MAX], b.low, [partial, x], Arena::constant_flags(true))
            }
            (Some(a), Some(b)) => {
                if !core::ptr::eq(a.graph, b.graph) {
                    different_graphs(a.graph, b.graph);
                }
                let track_right = Op::Binary(op).differentiates(1);
                let (_, partials) = binary_rule(op, x, y, [true, track_right]);
                if track_right && a.index == b.index {
                    // `x * x`: one input, d/dx f(x, x) = f_a + f_b
                    let partials = [partials[0] + partials[1], 0.0];
                    (a, [a.index, a.index], a.low, partials, Arena::same_input_flags())
                } else {
                    let low = if track_right { a.low.min(b.low) } else { a.low };
                    (a, [a.index, b.index], low, partials, Arena::var_flags(true, track_right))
                }
            }
        };
        let index = r.graph.push_var(VarStep { op: Op::Binary(op), inputs, low, value, partials, flags });
        Var::recorded(value, r, index, low)
    }
}

#[cold]
#[inline(never)]
fn different_graphs(g: &Graph, h: &Graph) -> ! {
    panic!(
        "Var: operands belong to different graphs (#{} and #{}); record the whole computation on one graph",
        g.id(),
        h.id()
    )
}

impl fmt::Display for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(r) => write!(f, "Var({} @ graph #{}, node {})", self.value, r.graph.id(), r.index),
            None => write!(f, "Var({}, constant)", self.value),
        }
    }
}

impl PartialEq for Var<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl PartialOrd for Var<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<'g> Neg for Var<'g> {
    type Output = Var<'g>;
    #[inline]
    fn neg(self) -> Var<'g> {
        self.unary(UnaryOp::Neg)
    }
}

macro_rules! operators {
    ($($Trait:ident $method:ident $Assign:ident $assign:ident $op:ident),*) => {$(
        impl<'g> $Trait for Var<'g> {
            type Output = Var<'g>;
            #[inline(always)]
            fn $method(self, rhs: Var<'g>) -> Var<'g> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl<'g> $Trait<f64> for Var<'g> {
            type Output = Var<'g>;
            #[inline(always)]
            fn $method(self, rhs: f64) -> Var<'g> {
                self.binary(BinaryOp::$op, Var::lift(rhs))
            }
        }
        impl<'g> $Trait<Var<'g>> for f64 {
            type Output = Var<'g>;
            #[inline(always)]
            fn $method(self, rhs: Var<'g>) -> Var<'g> {
                Var::lift(self).binary(BinaryOp::$op, rhs)
            }
        }
        impl<'g> $Assign for Var<'g> {
            #[inline(always)]
            fn $assign(&mut self, rhs: Var<'g>) {
                *self = self.binary(BinaryOp::$op, rhs);
            }
        }
        impl<'g> $Assign<f64> for Var<'g> {
            #[inline(always)]
            fn $assign(&mut self, rhs: f64) {
                *self = self.binary(BinaryOp::$op, Var::lift(rhs));
            }
        }
    )*};
}
operators!(
    Add add AddAssign add_assign Add,
    Sub sub SubAssign sub_assign Sub,
    Mul mul MulAssign mul_assign Mul,
    Div div DivAssign div_assign Div,
    Rem rem RemAssign rem_assign Rem
);

impl<'g> Sum for Var<'g> {
    fn sum<I: Iterator<Item = Var<'g>>>(iter: I) -> Var<'g> {
        iter.fold(Var::lift(0.0), |a, b| a + b)
    }
}

impl<'g> Product for Var<'g> {
    fn product<I: Iterator<Item = Var<'g>>>(iter: I) -> Var<'g> {
        iter.fold(Var::lift(1.0), |a, b| a * b)
    }
}

impl Zero for Var<'_> {
    fn zero() -> Self {
        Var::lift(0.0)
    }
    fn is_zero(&self) -> bool {
        self.value == 0.0
    }
}

impl One for Var<'_> {
    fn one() -> Self {
        Var::lift(1.0)
    }
}

impl Num for Var<'_> {
    type FromStrRadixErr = num_traits::ParseFloatError;
    fn from_str_radix(s: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        f64::from_str_radix(s, radix).map(Var::lift)
    }
}

impl ToPrimitive for Var<'_> {
    fn to_i64(&self) -> Option<i64> {
        self.value.to_i64()
    }
    fn to_u64(&self) -> Option<u64> {
        self.value.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        Some(self.value)
    }
}

impl NumCast for Var<'_> {
    fn from<N: ToPrimitive>(n: N) -> Option<Self> {
        n.to_f64().map(Var::lift)
    }
}

impl FromPrimitive for Var<'_> {
    fn from_i64(n: i64) -> Option<Self> {
        Some(Var::lift(n as f64))
    }
    fn from_u64(n: u64) -> Option<Self> {
        Some(Var::lift(n as f64))
    }
    fn from_f64(n: f64) -> Option<Self> {
        Some(Var::lift(n))
    }
}

/// The `float` rows of the op table as `Float` methods that record their op.
macro_rules! recorded_float_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        $(recorded_float_methods!(@one $kind $method $variant);)*
    };
    (@one float $method:ident $variant:ident) => {
        #[inline]
        fn $method(self) -> Self {
            self.unary(UnaryOp::$variant)
        }
    };
    (@one $kind:ident $method:ident $variant:ident) => {};
}

/// The `scalar` rows as inherent methods (`Var` borrows its graph, so it is no `Scalar`).
macro_rules! recorded_scalar_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        impl<'g> Var<'g> {
            $(recorded_scalar_methods!(@one $kind $method $variant $doc);)*
        }
    };
    (@one scalar $method:ident $variant:ident $doc:literal) => {
        #[doc = concat!("The op table's `", stringify!($method), "`: ", $doc, ".")]
        #[inline]
        pub fn $method(self) -> Var<'g> {
            self.unary(UnaryOp::$variant)
        }
    };
    (@one $kind:ident $method:ident $variant:ident $doc:literal) => {};
}
slope_dual::unary_table!(recorded_scalar_methods);

macro_rules! constants {
    ($($name:ident),*) => {$(
        fn $name() -> Self {
            Var::lift(f64::$name())
        }
    )*};
}

macro_rules! predicates {
    ($($name:ident),*) => {$(
        fn $name(self) -> bool {
            self.value.$name()
        }
    )*};
}

macro_rules! piecewise_constant {
    ($($name:ident),*) => {$(
        /// Piecewise constant: the result is a constant (derivative 0 wherever it exists).
        fn $name(self) -> Self {
            Var::lift(self.value.$name())
        }
    )*};
}

impl Float for Var<'_> {
    constants!(nan, infinity, neg_infinity, neg_zero, min_value, min_positive_value, max_value, epsilon);
    predicates!(is_nan, is_infinite, is_finite, is_normal, is_sign_positive, is_sign_negative);
    slope_dual::piecewise_constant_functions!(piecewise_constant);
    slope_dual::unary_table!(recorded_float_methods);

    fn classify(self) -> FpCategory {
        self.value.classify()
    }

    /// `x - trunc(x)`, as `f64::fract`: derivative 1 (`slope_dual::rules::fract`).
    fn fract(self) -> Self {
        self - Var::lift(self.value.trunc())
    }

    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }

    #[inline]
    fn powi(self, n: i32) -> Self {
        self.binary(BinaryOp::PowI, Var::lift(<f64 as From<i32>>::from(n)))
    }

    /// `x^n`: with a constant exponent, `powf`; with a variable one, `pow` in both operands.
    fn powf(self, n: Self) -> Self {
        let op = if n.node.is_none() { BinaryOp::PowF } else { BinaryOp::Pow };
        self.binary(op, n)
    }

    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }

    fn max(self, other: Self) -> Self {
        if rules::max_is_left(self.value, other.value) {
            self
        } else {
            other
        }
    }

    fn min(self, other: Self) -> Self {
        if rules::min_is_left(self.value, other.value) {
            self
        } else {
            other
        }
    }

    fn abs_sub(self, other: Self) -> Self {
        if rules::abs_sub_is_zero(self.value, other.value) {
            Var::lift(0.0)
        } else {
            self - other
        }
    }

    fn hypot(self, other: Self) -> Self {
        self.binary(BinaryOp::Hypot, other)
    }

    fn atan2(self, other: Self) -> Self {
        self.binary(BinaryOp::Atan2, other)
    }

    fn sin_cos(self) -> (Self, Self) {
        (self.sin(), self.cos())
    }

    fn integer_decode(self) -> (u64, i16, i8) {
        self.value.integer_decode()
    }
}
