//! The op table: every differentiable operation of slope, defined once.
//!
//! Each op carries, in this file and nowhere else: its PyTorch `grad_fn` name, its arity,
//! its primal (written once over [`Scalar`], so it runs on `f64` for values and on
//! [`Dual`] for derivatives), its output shape, and its checking domain.
//! Every `match` here is exhaustive, so a new variant does not compile until each of
//! these is given. The local partials of the elementwise ops are not written here: they
//! come from evaluating the primal on duals ([`UnaryOp::partial`], [`BinaryOp::partials`]),
//! that is, from the rules of `slope_dual::rules`. The reverse rules (VJPs) of the
//! structural ops live in `slope-reverse`, behind an exhaustive match over [`StructuralOp`].

use slope_dual::{Dual, Scalar};
use strum::{EnumCount, EnumIter, IntoEnumIterator};

use crate::{Error, Shape};

/// Every operation a node can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// An elementwise function of one input.
    Unary(UnaryOp),
    /// An elementwise function of two inputs; a scalar broadcasts against a tensor.
    Binary(BinaryOp),
    /// A reduction or linear-algebra op with its own reverse rule.
    Structural(StructuralOp),
}

/// Elementwise functions of one input.
#[allow(missing_docs)] // each variant is the function of the same name; see `UnaryOp::eval`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, EnumCount)]
pub enum UnaryOp {
    Neg,
    Exp,
    Exp2,
    ExpM1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sqrt,
    Cbrt,
    Recip,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sigmoid,
    Relu,
    Abs,
}

/// Elementwise functions of two inputs.
///
/// `PowI` and `PowF` take their exponent as a constant second input (a scalar leaf that
/// is never differentiated); `Pow` differentiates both base and exponent.
#[allow(missing_docs)] // each variant is the function of the same name; see `BinaryOp::eval`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, EnumCount)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    PowI,
    PowF,
    Atan2,
    Hypot,
    Rem,
}

/// Reductions and linear algebra.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, EnumCount)]
pub enum StructuralOp {
    /// Sum of all elements, a scalar.
    Sum,
    /// Mean of all elements, a scalar (NaN for an empty tensor, as in PyTorch).
    Mean,
    /// Inner product of two vectors of equal length.
    Dot,
    /// Matrix product: `[m,k]@[k,n]`, `[m,k]@[k]`, `[k]@[k,n]`, `[k]@[k]`.
    Matmul,
    /// Matrix transpose; the identity on vectors and scalars, as PyTorch's `t()`.
    Transpose,
    /// Elements of a vector picked by a constant vector of indices (`x[1:]`, `x[:-1]`).
    Slice,
}

/// Where an op's input is sampled when checking derivatives, where it is defined, its
/// special points, and its conventions at kinks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Domain {
    /// Lowest value sampled.
    pub low: f64,
    /// Highest value sampled.
    pub high: f64,
    /// The open interval where the op is defined and smooth (apart from its kinks): a
    /// finite difference never steps outside it.
    pub support: (f64, f64),
    /// Special points checked besides the samples: zero, signs, tiny and huge magnitudes,
    /// as far as the op is defined and finite there.
    pub edges: &'static [f64],
    /// Points where the op is not differentiable (finite differences must not straddle
    /// them), each with the derivative slope reports there by convention.
    pub kinks: &'static [Kink],
    /// Only integers are valid (the exponent of `powi`).
    pub integer: bool,
    /// The input is a constant parameter: never differentiated.
    pub constant: bool,
}

/// A point where an op is not differentiable, and the derivative slope reports there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kink {
    /// Where the kink is.
    pub at: f64,
    /// The derivative reported at `at` (PyTorch's convention).
    pub derivative: f64,
}

const ZERO_KINK: &[Kink] = &[Kink { at: 0.0, derivative: 0.0 }];

impl Domain {
    /// A smooth interval.
    pub const fn interval(low: f64, high: f64) -> Domain {
        Domain {
            low,
            high,
            support: (f64::NEG_INFINITY, f64::INFINITY),
            edges: &[],
            kinks: &[],
            integer: false,
            constant: false,
        }
    }

    const fn support(self, low: f64, high: f64) -> Domain {
        Domain { support: (low, high), ..self }
    }

    const fn edges(self, edges: &'static [f64]) -> Domain {
        Domain { edges, ..self }
    }

    const fn with_kinks(self, kinks: &'static [Kink]) -> Domain {
        Domain { kinks, ..self }
    }

    const fn constant(self) -> Domain {
        Domain { constant: true, ..self }
    }

    const fn integer(self) -> Domain {
        Domain { integer: true, ..self }
    }
}

const SMALL: &[f64] = &[0.0, 1e-12, -1e-12];
const SCALE_FREE: &[f64] = &[0.0, 1e-12, -1e-12, 1e-150, 1e12, -1e12, 1e150];
const ANY: Domain = Domain::interval(-3.0, 3.0).edges(SCALE_FREE);
/// Indices into a vector of at least 3 elements: constant integers.
const INDICES: Domain = Domain::interval(0.0, 2.0).integer().constant();
const STRUCTURAL: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]);
const POSITIVE: Domain = Domain::interval(0.1, 5.0).support(0.0, f64::INFINITY).edges(&[1e-12, 1e-6, 1e6, 1e150]);
const OPEN_UNIT: Domain = Domain::interval(-0.9, 0.9).support(-1.0, 1.0).edges(&[0.0, 1e-12, -1e-12, 0.999, -0.999]);

impl Op {
    /// Every op in the table, in a fixed order.
    pub fn all() -> impl Iterator<Item = Op> {
        UnaryOp::iter()
            .map(Op::Unary)
            .chain(BinaryOp::iter().map(Op::Binary))
            .chain(StructuralOp::iter().map(Op::Structural))
    }

    /// Number of ops in the table.
    pub const COUNT: usize = UnaryOp::COUNT + BinaryOp::COUNT + StructuralOp::COUNT;

    /// PyTorch's name for the backward node this op records (`y.grad_fn` in PyTorch).
    pub fn grad_fn_name(self) -> &'static str {
        match self {
            Op::Unary(op) => op.grad_fn_name(),
            Op::Binary(op) => op.grad_fn_name(),
            Op::Structural(op) => op.grad_fn_name(),
        }
    }

    /// The method name, as typed in slope and PyTorch (`exp`, `add`, `matmul`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Op::Unary(op) => op.name(),
            Op::Binary(op) => op.name(),
            Op::Structural(op) => op.name(),
        }
    }

    /// Number of inputs.
    pub fn arity(self) -> usize {
        match self {
            Op::Unary(_) => 1,
            Op::Binary(_) => 2,
            Op::Structural(op) => op.arity(),
        }
    }

    /// Checking domain of each input (`arity()` entries).
    pub fn domains(self) -> &'static [Domain] {
        match self {
            Op::Unary(op) => core::slice::from_ref(op.domain()),
            Op::Binary(op) => op.domains(),
            Op::Structural(StructuralOp::Slice) => &[STRUCTURAL, INDICES],
            Op::Structural(_) => &[STRUCTURAL, STRUCTURAL],
        }
        .split_at(self.arity())
        .0
    }

    /// Whether input `i` is differentiated (false for the exponent of `powi`/`powf`).
    #[inline]
    pub fn differentiates(self, input: usize) -> bool {
        // The same facts as the domains' `constant` flags (a test holds them equal), as a
        // match: recording asks this for every node.
        match self {
            Op::Binary(BinaryOp::PowI | BinaryOp::PowF) | Op::Structural(StructuralOp::Slice) => input == 0,
            _ => input < self.arity(),
        }
    }

    /// Looks an op up by its method name (`"exp"`, `"matmul"`, ...).
    pub fn from_name(name: &str) -> Option<Op> {
        Op::all().find(|op| op.name() == name)
    }

    /// The output shape for these input shapes, or the error a caller should see.
    pub fn output_shape(self, inputs: &[Shape]) -> Result<Shape, Error> {
        if inputs.len() != self.arity() {
            return Err(Error::Arity { op: self.name(), expected: self.arity(), got: inputs.len() });
        }
        match self {
            Op::Unary(_) => Ok(inputs[0]),
            Op::Binary(op) => broadcast(op.name(), inputs[0], inputs[1]),
            Op::Structural(op) => op.output_shape(inputs),
        }
    }
}

/// The shape of an elementwise result: equal shapes, or a scalar against anything.
pub fn broadcast(op: &'static str, left: Shape, right: Shape) -> Result<Shape, Error> {
    match (left, right) {
        _ if left == right => Ok(left),
        (Shape::Scalar, other) | (other, Shape::Scalar) => Ok(other),
        _ => Err(Error::ShapeMismatch { op, left, right }),
    }
}

impl UnaryOp {
    /// The primal, written once for every [`Scalar`] type.
    #[inline]
    pub fn eval<T: Scalar>(self, x: T) -> T {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Exp2 => x.exp2(),
            UnaryOp::ExpM1 => x.exp_m1(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log2 => x.log2(),
            UnaryOp::Log10 => x.log10(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Cbrt => x.cbrt(),
            UnaryOp::Recip => x.recip(),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Tan => x.tan(),
            UnaryOp::Asin => x.asin(),
            UnaryOp::Acos => x.acos(),
            UnaryOp::Atan => x.atan(),
            UnaryOp::Sinh => x.sinh(),
            UnaryOp::Cosh => x.cosh(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Asinh => x.asinh(),
            UnaryOp::Acosh => x.acosh(),
            UnaryOp::Atanh => x.atanh(),
            UnaryOp::Sigmoid => x.sigmoid(),
            UnaryOp::Relu => x.relu(),
            UnaryOp::Abs => x.abs(),
        }
    }

    /// `f'(x)`, from the primal evaluated on a dual number (the rules of `slope_dual`), at
    /// any scalar type (a dual `x` gives second-order information, for forward-over-reverse).
    #[inline]
    pub fn partial<S: Scalar>(self, x: S) -> S {
        self.eval(Dual::variable(x)).eps
    }

    /// PyTorch's `grad_fn` name.
    pub fn grad_fn_name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "NegBackward0",
            UnaryOp::Exp => "ExpBackward0",
            UnaryOp::Exp2 => "Exp2Backward0",
            UnaryOp::ExpM1 => "Expm1Backward0",
            UnaryOp::Log => "LogBackward0",
            UnaryOp::Log2 => "Log2Backward0",
            UnaryOp::Log10 => "Log10Backward0",
            UnaryOp::Log1p => "Log1pBackward0",
            UnaryOp::Sqrt => "SqrtBackward0",
            UnaryOp::Cbrt => "CbrtBackward0",
            UnaryOp::Recip => "ReciprocalBackward0",
            UnaryOp::Sin => "SinBackward0",
            UnaryOp::Cos => "CosBackward0",
            UnaryOp::Tan => "TanBackward0",
            UnaryOp::Asin => "AsinBackward0",
            UnaryOp::Acos => "AcosBackward0",
            UnaryOp::Atan => "AtanBackward0",
            UnaryOp::Sinh => "SinhBackward0",
            UnaryOp::Cosh => "CoshBackward0",
            UnaryOp::Tanh => "TanhBackward0",
            UnaryOp::Asinh => "AsinhBackward0",
            UnaryOp::Acosh => "AcoshBackward0",
            UnaryOp::Atanh => "AtanhBackward0",
            UnaryOp::Sigmoid => "SigmoidBackward0",
            UnaryOp::Relu => "ReluBackward0",
            UnaryOp::Abs => "AbsBackward0",
        }
    }

    /// The method name.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Exp2 => "exp2",
            UnaryOp::ExpM1 => "expm1",
            UnaryOp::Log => "log",
            UnaryOp::Log2 => "log2",
            UnaryOp::Log10 => "log10",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Cbrt => "cbrt",
            UnaryOp::Recip => "reciprocal",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Asinh => "asinh",
            UnaryOp::Acosh => "acosh",
            UnaryOp::Atanh => "atanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Abs => "abs",
        }
    }

    /// Where the input is sampled when checking, and the convention at kinks.
    pub fn domain(self) -> &'static Domain {
        const EXP: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 30.0, -30.0]);
        const PERIODIC: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 100.0, -100.0]);
        const SATURATING: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]);
        const TANH: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 10.0, -10.0]);
        const TAN: Domain = Domain::interval(-1.3, 1.3)
            .support(-core::f64::consts::FRAC_PI_2, core::f64::consts::FRAC_PI_2)
            .edges(&[0.0, 1e-12, -1e-12, 1.5, -1.5]);
        const ACOSH: Domain = Domain::interval(1.1, 5.0).support(1.0, f64::INFINITY).edges(&[1.001, 1e6]);
        const LOG1P: Domain =
            Domain::interval(-0.9, 5.0).support(-1.0, f64::INFINITY).edges(&[0.0, 1e-12, -1e-12, -0.999, 1e6]);
        const RECIP: Domain = Domain::interval(0.2, 5.0).support(0.0, f64::INFINITY).edges(&[1e-10, 1e10]);
        const ABS: Domain = Domain::interval(-3.0, 3.0).with_kinks(ZERO_KINK).edges(&[1e-12, -1e-12, 1e12, -1e12]);
        const SIGMOID: Domain = Domain::interval(-8.0, 8.0).edges(&[0.0, 1e-12, -1e-12, 30.0, -30.0]);
        match self {
            UnaryOp::Neg => &ANY,
            UnaryOp::Exp | UnaryOp::Exp2 | UnaryOp::ExpM1 | UnaryOp::Sinh | UnaryOp::Cosh => &EXP,
            UnaryOp::Sin | UnaryOp::Cos => &PERIODIC,
            UnaryOp::Atan | UnaryOp::Asinh => &SATURATING,
            UnaryOp::Tanh => &TANH,
            UnaryOp::Log | UnaryOp::Log2 | UnaryOp::Log10 | UnaryOp::Sqrt | UnaryOp::Cbrt => &POSITIVE,
            UnaryOp::Log1p => &LOG1P,
            UnaryOp::Recip => &RECIP,
            UnaryOp::Tan => &TAN,
            UnaryOp::Asin | UnaryOp::Acos | UnaryOp::Atanh => &OPEN_UNIT,
            UnaryOp::Acosh => &ACOSH,
            UnaryOp::Sigmoid => &SIGMOID,
            UnaryOp::Relu | UnaryOp::Abs => &ABS,
        }
    }
}

impl BinaryOp {
    /// The primal, written once for every [`Scalar`] type.
    #[inline]
    pub fn eval<T: Scalar>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::PowI => a.powi(b.to_i32().unwrap_or(i32::MAX)),
            BinaryOp::PowF => a.powf(b.detach()),
            BinaryOp::Atan2 => a.atan2(b),
            BinaryOp::Hypot => a.hypot(b),
            BinaryOp::Rem => a % b,
        }
    }

    /// `(∂f/∂a, ∂f/∂b)` at `(a, b)`, from the primal evaluated on duals.
    #[inline]
    pub fn partials<S: Scalar>(self, a: S, b: S) -> (S, S) {
        (self.partial_left(a, b), self.partial_right(a, b))
    }

    /// `∂f/∂a` only.
    #[inline]
    pub fn partial_left<S: Scalar>(self, a: S, b: S) -> S {
        self.eval(Dual::variable(a), Dual::constant(b)).eps
    }

    /// `∂f/∂b` only.
    #[inline]
    pub fn partial_right<S: Scalar>(self, a: S, b: S) -> S {
        self.eval(Dual::constant(a), Dual::variable(b)).eps
    }

    /// PyTorch's `grad_fn` name.
    pub fn grad_fn_name(self) -> &'static str {
        match self {
            BinaryOp::Add => "AddBackward0",
            BinaryOp::Sub => "SubBackward0",
            BinaryOp::Mul => "MulBackward0",
            BinaryOp::Div => "DivBackward0",
            BinaryOp::Pow => "PowBackward1",
            BinaryOp::PowI | BinaryOp::PowF => "PowBackward0",
            BinaryOp::Atan2 => "Atan2Backward0",
            BinaryOp::Hypot => "HypotBackward0",
            BinaryOp::Rem => "FmodBackward0",
        }
    }

    /// The method name.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::PowI => "powi",
            BinaryOp::PowF => "powf",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Hypot => "hypot",
            BinaryOp::Rem => "fmod",
        }
    }

    /// Where each input is sampled when checking.
    pub fn domains(self) -> &'static [Domain; 2] {
        const DIVISOR: Domain = Domain::interval(0.2, 5.0).support(0.0, f64::INFINITY).edges(&[1e-10, 1e10]);
        const DIV: [Domain; 2] = [ANY, DIVISOR];
        const BASE: Domain = POSITIVE.edges(&[1e-6, 1e6]);
        const POW: [Domain; 2] = [BASE, Domain::interval(-3.0, 3.0).edges(SMALL)];
        const POWI: [Domain; 2] = [
            Domain::interval(0.2, 3.0).support(0.0, f64::INFINITY).edges(&[1e-3, 1e3]),
            Domain::interval(-3.0, 4.0).integer().constant(),
        ];
        const POWF: [Domain; 2] = [BASE, Domain::interval(-2.5, 2.5).constant()];
        // a / b stays inside (2, 3), away from the jumps of fmod at integer quotients.
        const REM: [Domain; 2] =
            [Domain::interval(2.2, 2.8).support(2.1, 2.9), Domain::interval(1.0, 1.05).support(0.97, 1.07)];
        // hypot is smooth away from the origin; b < 0 keeps samples off it.
        const HYPOT: [Domain; 2] = [
            Domain::interval(0.2, 3.0).edges(&[0.0, 1e12]),
            Domain::interval(-3.0, -0.2).support(f64::NEG_INFINITY, 0.0).edges(&[-1e-12, -1e12]),
        ];
        // atan2(y, x) with x > 0 stays off the branch cut along the negative x axis.
        const ATAN2: [Domain; 2] =
            [Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]), POSITIVE.edges(&[1e-6, 1e6])];
        // A huge addend swamps the other operand, so finite differences could not see it.
        const ADDITIVE: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e-150, -1e-150]);
        match self {
            BinaryOp::Add | BinaryOp::Sub => &[ADDITIVE, ADDITIVE],
            BinaryOp::Mul => &[ANY, ANY],
            BinaryOp::Atan2 => &ATAN2,
            BinaryOp::Div => &DIV,
            BinaryOp::Pow => &POW,
            BinaryOp::PowI => &POWI,
            BinaryOp::PowF => &POWF,
            BinaryOp::Hypot => &HYPOT,
            BinaryOp::Rem => &REM,
        }
    }
}

impl StructuralOp {
    /// PyTorch's `grad_fn` name (for `matmul`, the name of the 2-D case).
    pub fn grad_fn_name(self) -> &'static str {
        match self {
            StructuralOp::Sum => "SumBackward0",
            StructuralOp::Mean => "MeanBackward0",
            StructuralOp::Dot => "DotBackward0",
            StructuralOp::Matmul => "MmBackward0",
            StructuralOp::Transpose => "TBackward0",
            StructuralOp::Slice => "SliceBackward0",
        }
    }

    /// The method name.
    pub fn name(self) -> &'static str {
        match self {
            StructuralOp::Sum => "sum",
            StructuralOp::Mean => "mean",
            StructuralOp::Dot => "dot",
            StructuralOp::Matmul => "matmul",
            StructuralOp::Transpose => "t",
            StructuralOp::Slice => "slice",
        }
    }

    /// Number of inputs.
    pub fn arity(self) -> usize {
        match self {
            StructuralOp::Sum | StructuralOp::Mean | StructuralOp::Transpose => 1,
            StructuralOp::Dot | StructuralOp::Matmul | StructuralOp::Slice => 2,
        }
    }

    fn output_shape(self, inputs: &[Shape]) -> Result<Shape, Error> {
        let op = self.name();
        match self {
            StructuralOp::Sum | StructuralOp::Mean => Ok(Shape::Scalar),
            StructuralOp::Transpose => Ok(match inputs[0] {
                Shape::Matrix(r, c) => Shape::Matrix(c, r),
                other => other,
            }),
            StructuralOp::Dot => match (inputs[0], inputs[1]) {
                (Shape::Vector(n), Shape::Vector(m)) if n == m => Ok(Shape::Scalar),
                (left, right) => Err(Error::ShapeMismatch { op, left, right }),
            },
            StructuralOp::Matmul => matmul_dims(inputs[0], inputs[1]).map(|(.., out)| out),
            StructuralOp::Slice => match (inputs[0], inputs[1]) {
                (Shape::Vector(_), Shape::Vector(k)) => Ok(Shape::Vector(k)),
                (left, right) => Err(Error::ShapeMismatch { op, left, right }),
            },
        }
    }
}

/// An index of [`StructuralOp::Slice`] as `usize`; recording has checked it is a whole
/// number inside the sliced vector.
pub fn slice_index<T: Scalar>(i: T) -> usize {
    i.to_usize().unwrap_or(usize::MAX)
}

/// Checks the indices of a slice against the length of the sliced vector.
pub fn check_slice(indices: &[f64], len: usize) -> Result<(), Error> {
    match indices.iter().find(|&&i| !(i >= 0.0 && i.fract() == 0.0 && (i as usize) < len)) {
        None => Ok(()),
        Some(bad) => Err(Error::InvalidArgument(format!(
            "slice index {bad} is not a whole number in 0..{len}; slice a vector of {len} element(s) within its bounds"
        ))),
    }
}

/// `(m, k, n, output shape)` of a matrix product, treating a vector on the left as
/// `[1, k]` and on the right as `[k, 1]`.
pub fn matmul_dims(left: Shape, right: Shape) -> Result<(usize, usize, usize, Shape), Error> {
    let mismatch = Error::ShapeMismatch { op: "matmul", left, right };
    let (m, k1, row_in) = match left {
        Shape::Matrix(m, k) => (m, k, false),
        Shape::Vector(k) => (1, k, true),
        Shape::Scalar => return Err(mismatch),
    };
    let (k2, n, col_in) = match right {
        Shape::Matrix(k, n) => (k, n, false),
        Shape::Vector(k) => (k, 1, true),
        Shape::Scalar => return Err(mismatch),
    };
    if k1 != k2 {
        return Err(mismatch);
    }
    let out = match (row_in, col_in) {
        (false, false) => Shape::Matrix(m, n),
        (false, true) => Shape::Vector(m),
        (true, false) => Shape::Vector(n),
        (true, true) => Shape::Scalar,
    };
    Ok((m, k1, n, out))
}

/// Evaluates an op on input values of any [`Scalar`] type, appending the result to `out`.
/// Shapes must already have passed [`Op::output_shape`].
pub fn eval_into<T: Scalar>(op: Op, inputs: &[(&[T], Shape)], out: &mut Vec<T>) {
    match op {
        Op::Unary(_) | Op::Binary(_) => {
            let len = match inputs {
                [(a, _)] => a.len(),
                [(a, _), (c, _)] => a.len().max(c.len()),
                _ => 0,
            };
            let start = out.len();
            out.resize(start + len, T::zero());
            eval_elementwise(op, inputs, &mut out[start..]);
        }
        Op::Structural(s) => eval_structural(s, inputs, out),
    }
}

/// The elementwise ops (unary and binary, a scalar broadcast against a tensor), written into
/// `out`, which has the output's length. Structural ops are left to [`eval_into`].
pub fn eval_elementwise<T: Scalar>(op: Op, inputs: &[(&[T], Shape)], out: &mut [T]) {
    match op {
        Op::Unary(u) => out.iter_mut().zip(inputs[0].0).for_each(|(o, &x)| *o = u.eval(x)),
        Op::Binary(b) => {
            let ((a, sa), (c, sc)) = (inputs[0], inputs[1]);
            match (sa.is_scalar(), sc.is_scalar()) {
                (true, false) => out.iter_mut().zip(c).for_each(|(o, &y)| *o = b.eval(a[0], y)),
                (false, true) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = b.eval(x, c[0])),
                _ => out.iter_mut().zip(a.iter().zip(c)).for_each(|(o, (&x, &y))| *o = b.eval(x, y)),
            }
        }
        Op::Structural(_) => {}
    }
}

fn eval_structural<T: Scalar>(op: StructuralOp, inputs: &[(&[T], Shape)], out: &mut Vec<T>) {
    let (x, shape) = inputs[0];
    match op {
        StructuralOp::Sum => out.push(x.iter().fold(T::zero(), |s, &v| s + v)),
        StructuralOp::Mean => {
            let n = T::from(x.len()).unwrap_or_else(T::nan);
            out.push(x.iter().fold(T::zero(), |s, &v| s + v) / n)
        }
        StructuralOp::Dot => out.push(x.iter().zip(inputs[1].0).fold(T::zero(), |s, (&a, &b)| s + a * b)),
        StructuralOp::Transpose => match shape {
            Shape::Matrix(r, c) => out.extend((0..c).flat_map(|j| (0..r).map(move |i| x[i * c + j]))),
            _ => out.extend_from_slice(x),
        },
        // Recording checks the indices; a graph re-evaluated with moved index leaves gets NaN
        // for an index outside the vector rather than a panic.
        StructuralOp::Slice => {
            out.extend(inputs[1].0.iter().map(|i| x.get(slice_index(*i)).copied().unwrap_or_else(T::nan)))
        }
        StructuralOp::Matmul => {
            let (y, y_shape) = inputs[1];
            let Ok((m, k, n, _)) = matmul_dims(shape, y_shape) else {
                unreachable!("matmul shapes are validated before evaluation")
            };
            // Row-major data read as column-major is the transpose: C^T = B^T A^T.
            let a_t = nalgebra::DMatrixView::from_slice(x, k, m);
            let b_t = nalgebra::DMatrixView::from_slice(y, n, k);
            let c_t = b_t * a_t;
            out.extend_from_slice(c_t.as_slice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_lists_every_op_once_with_distinct_names() {
        let ops: Vec<Op> = Op::all().collect();
        assert_eq!(ops.len(), Op::COUNT);
        let names: HashSet<_> = ops.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), ops.len(), "method names must be unique");
        for op in ops {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert!(op.grad_fn_name().ends_with("Backward0") || op.grad_fn_name().ends_with("Backward1"));
            assert_eq!(op.domains().len(), op.arity(), "{}", op.name());
            for d in op.domains() {
                assert!(d.low < d.high, "{}: empty domain", op.name());
                let inside = |x: f64| d.support.0 < x && x < d.support.1;
                assert!(inside(d.low) && inside(d.high), "{}: samples outside the support", op.name());
                for &e in d.edges {
                    assert!(inside(e), "{}: edge {e} outside the support", op.name());
                }
                for k in d.kinks {
                    assert!(d.low < k.at && k.at < d.high, "{}: kink outside its domain", op.name());
                }
            }
        }
    }

    #[test]
    fn differentiates_agrees_with_the_domains() {
        for op in Op::all() {
            for k in 0..3 {
                let by_domain = op.domains().get(k).is_some_and(|d| !d.constant);
                assert_eq!(op.differentiates(k), by_domain, "{} input {k}", op.name());
            }
        }
    }

    #[test]
    fn constant_inputs_are_not_differentiated() {
        assert!(Op::Binary(BinaryOp::Pow).differentiates(1));
        assert!(!Op::Binary(BinaryOp::PowI).differentiates(1));
        assert!(!Op::Binary(BinaryOp::PowF).differentiates(1));
        assert!(Op::Binary(BinaryOp::PowF).differentiates(0));
        assert_eq!(BinaryOp::PowF.partials(2.0, 3.0), (12.0, 0.0));
        assert_eq!(BinaryOp::PowI.partials(2.0, 3.0), (12.0, 0.0));
    }

    #[test]
    fn matmul_shapes_follow_pytorch() {
        let mm = |a, b| Op::Structural(StructuralOp::Matmul).output_shape(&[a, b]);
        assert_eq!(mm(Shape::Matrix(2, 3), Shape::Matrix(3, 4)), Ok(Shape::Matrix(2, 4)));
        assert_eq!(mm(Shape::Matrix(2, 3), Shape::Vector(3)), Ok(Shape::Vector(2)));
        assert_eq!(mm(Shape::Vector(3), Shape::Matrix(3, 4)), Ok(Shape::Vector(4)));
        assert_eq!(mm(Shape::Vector(3), Shape::Vector(3)), Ok(Shape::Scalar));
        assert!(mm(Shape::Matrix(2, 3), Shape::Matrix(2, 3)).is_err());
        assert!(mm(Shape::Scalar, Shape::Vector(3)).is_err());
    }

    #[test]
    fn matmul_evaluates_row_major_products() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1,2,3],[4,5,6]]
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // [[1,0],[0,1],[1,1]]
        let mut out = Vec::new();
        let op = Op::Structural(StructuralOp::Matmul);
        eval_into(op, &[(&a[..], Shape::Matrix(2, 3)), (&b[..], Shape::Matrix(3, 2))], &mut out);
        assert_eq!(out, vec![4.0, 5.0, 10.0, 11.0]);
        let mut t = Vec::new();
        eval_into(Op::Structural(StructuralOp::Transpose), &[(&a[..], Shape::Matrix(2, 3))], &mut t);
        assert_eq!(t, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
