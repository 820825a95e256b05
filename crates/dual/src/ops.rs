//! The elementwise rows of slope's op table: one row per op, and everything derived from it.
//!
//! [`unary_table!`](crate::unary_table) and [`binary_table!`](crate::binary_table) hold one
//! row per elementwise op: its variant, how code reaches it (a [`Float`](num_traits::Float)
//! method, a [`Scalar`] method, an operator), its name in slope, PyTorch and
//! the formula language, PyTorch's `grad_fn` name, its checking domain, and (binary ops) its
//! primal. Each table is a macro that hands its rows to another macro, so the rows are
//! written once and expanded wherever an op list is needed: [`UnaryOp`] and [`BinaryOp`]
//! below, the `Float` and `Scalar` methods of the dual types (`float_impl.rs`), the
//! `Scalar` trait itself, and in `slope-graph` the `Var` and `Tensor` methods.
//!
//! Derivatives are not in the rows: a unary op's rule is the function of
//! [`rules`](crate::rules) with its method's name, and the partials of every op come from
//! evaluating its primal on [`Dual`] numbers.
//!
//! Adding an elementwise op of one input is one row in [`unary_table!`](crate::unary_table) and one rule in
//! `rules.rs`; the compiler then asks for nothing else.

use crate::{Dual, Scalar};

pub use crate::domain::{Domain, Kink};

/// The rows of the elementwise ops of one input, handed to the macro `$then`.
///
/// Row: `Variant: kind method, name, "GradFnBackward0", DOMAIN, "doc";` where `name` is the
/// op's name in slope (the `Tensor` method), PyTorch and formulas, `kind` is
/// `float` (a [`Float`](num_traits::Float) method with a rule of the same name), `scalar` (a
/// method of [`Scalar`](crate::Scalar) generated from this row, rule of the same name) or
/// `operator` (a `core::ops` trait), and `DOMAIN` names a constant of
/// [`domain`](crate::domain).
#[macro_export]
macro_rules! unary_table {
    ($then:ident) => {
        $then! {
            Neg: operator neg, neg, "NegBackward0", ANY, "`-x`";
            Exp: float exp, exp, "ExpBackward0", EXP, "`e^x`";
            Exp2: float exp2, exp2, "Exp2Backward0", EXP, "`2^x`";
            ExpM1: float exp_m1, expm1, "Expm1Backward0", EXP, "`e^x - 1`, accurate near 0";
            Log: float ln, log, "LogBackward0", POSITIVE, "the natural logarithm";
            Log2: float log2, log2, "Log2Backward0", POSITIVE, "the base-2 logarithm";
            Log10: float log10, log10, "Log10Backward0", POSITIVE, "the base-10 logarithm";
            Log1p: float ln_1p, log1p, "Log1pBackward0", LOG1P, "`ln(1 + x)`, accurate near 0";
            Sqrt: float sqrt, sqrt, "SqrtBackward0", POSITIVE, "the square root";
            Cbrt: float cbrt, cbrt, "CbrtBackward0", POSITIVE, "the cube root";
            Recip: float recip, reciprocal, "ReciprocalBackward0", RECIP, "`1 / x`";
            Sin: float sin, sin, "SinBackward0", PERIODIC, "the sine";
            Cos: float cos, cos, "CosBackward0", PERIODIC, "the cosine";
            Tan: float tan, tan, "TanBackward0", TAN, "the tangent";
            Asin: float asin, asin, "AsinBackward0", OPEN_UNIT, "the arcsine";
            Acos: float acos, acos, "AcosBackward0", OPEN_UNIT, "the arccosine";
            Atan: float atan, atan, "AtanBackward0", SATURATING, "the arctangent";
            Sinh: float sinh, sinh, "SinhBackward0", EXP, "the hyperbolic sine";
            Cosh: float cosh, cosh, "CoshBackward0", EXP, "the hyperbolic cosine";
            Tanh: float tanh, tanh, "TanhBackward0", TANH, "the hyperbolic tangent";
            Asinh: float asinh, asinh, "AsinhBackward0", SATURATING, "the inverse hyperbolic sine";
            Acosh: float acosh, acosh, "AcoshBackward0", ACOSH, "the inverse hyperbolic cosine";
            Atanh: float atanh, atanh, "AtanhBackward0", OPEN_UNIT, "the inverse hyperbolic tangent";
            Sigmoid: scalar sigmoid, sigmoid, "SigmoidBackward0", SIGMOID,
                "the logistic function `1 / (1 + e^-x)`, without overflow for large `|x|`";
            Silu: scalar silu, silu, "SiluBackward0", SIGMOID, "`x σ(x)` (swish)";
            Softplus: scalar softplus, softplus, "SoftplusBackward0", SIGMOID,
                "`ln(1 + e^x)`, the identity above 20 (PyTorch's defaults `beta = 1`, `threshold = 20`)";
            LogSigmoid: scalar log_sigmoid, log_sigmoid, "LogSigmoidBackward0", SIGMOID,
                "`ln σ(x)`, finite for every finite `x` (PyTorch's `logsigmoid`)";
            Gelu: scalar gelu, gelu, "GeluBackward0", SIGMOID,
                "`x Φ(x)`, `Φ` the standard normal distribution function (PyTorch's exact `gelu`)";
            Relu: scalar relu, relu, "ReluBackward0", KINK_AT_ZERO, "`max(x, 0)`, with derivative 0 at 0 as in PyTorch";
            Abs: float abs, abs, "AbsBackward0", KINK_AT_ZERO, "the absolute value (derivative 0 at 0)";
            Erf: scalar erf, erf, "ErfBackward0", SATURATING, "the error function `2/√π ∫₀ˣ e^(-t²) dt`";
        }
    };
}

/// The rows of the elementwise ops of two inputs, handed to the macro `$then`.
///
/// Row: `Variant: kind method [infallible], "name", "GradFnBackward0", DOMAINS, |a, b| primal, "doc";`
/// where `kind` is `infix` (an operator, `x + y`), `function` (a function of two arguments in
/// formulas, `atan2(y, x)`) or `exponent` (a power with a constant exponent, reached through
/// `powi`/`powf` and `**`) or `parameter` (a function of one input and a constant setting,
/// `leaky_relu(x, 0.2)`: the `Tensor` method takes the setting as an `f64`), `method` is the
/// `Tensor` method (fallible, but for a `parameter` row) and `infallible` (a
/// `function` row's) the one that panics where the shapes do not broadcast, as PyTorch
/// raises (`x.maximum(y)`), and `DOMAINS` names a pair of
/// domains of [`domain`](crate::domain), one per input. A domain marked constant is an input
/// that is never differentiated.
#[macro_export]
macro_rules! binary_table {
    ($then:ident) => {
        $then! {
            Add: infix try_add, "add", "AddBackward0", ADDITIVE_PAIR, |a, b| a + b, "`a + b`";
            Sub: infix try_sub, "sub", "SubBackward0", ADDITIVE_PAIR, |a, b| a - b, "`a - b`";
            Mul: infix try_mul, "mul", "MulBackward0", ANY_PAIR, |a, b| a * b, "`a * b`";
            Div: infix try_div, "div", "DivBackward0", DIV, |a, b| a / b, "`a / b`";
            Pow: function try_pow pow, "pow", "PowBackward1", POW, |a, b| a.powf(b),
                "`a^b`, differentiated in both base and exponent";
            PowI: exponent powi, "powi", "PowBackward0", POWI, |a, b| a.int_power(b.to_i32().unwrap_or(i32::MAX)),
                "`a^n` for a constant integer `n`";
            PowF: exponent powf, "powf", "PowBackward0", POWF, |a, b| a.powf(b.detach()),
                "`a^c` for a constant real `c`";
            Atan2: function try_atan2 atan2, "atan2", "Atan2Backward0", ATAN2, |a, b| a.atan2(b),
                "`atan2(a, b)`, the angle of the point `(b, a)`";
            Hypot: function try_hypot hypot, "hypot", "HypotBackward0", HYPOT, |a, b| a.hypot(b),
                "`sqrt(a² + b²)` without overflow";
            Rem: function try_fmod fmod, "fmod", "FmodBackward0", REM, |a, b| a % b,
                "`a % b`, the remainder of truncated division (PyTorch's `fmod`)";
            Maximum: function try_maximum maximum, "maximum", "MaximumBackward0", EXTREMUM_PAIR, |a, b| a.maximum(b),
                "the larger of `a` and `b` (NaN if either is; a tie splits the gradient evenly, as in PyTorch)";
            LeakyRelu: parameter leaky_relu, "leaky_relu", "LeakyReluBackward0", LEAKY_RELU,
                |a, b| a.leaky_relu(b.detach()),
                "`a` above 0, `b · a` elsewhere, for a constant negative slope `b` (PyTorch's `leaky_relu`, derivative `b` at 0)";
            Minimum: function try_minimum minimum, "minimum", "MinimumBackward0", EXTREMUM_PAIR, |a, b| a.minimum(b),
                "the smaller of `a` and `b` (NaN if either is; a tie splits the gradient evenly)";
        }
    };
}

/// A loop over elements, handed the function of one unary op by [`UnaryOp::with_primal`] or
/// [`UnaryOp::with_partial`]: the op is matched once per loop, not once per element, and
/// `run` is compiled for each op's own function, so the rule of [`crate::rules`] is inlined
/// into the loop as a hand-written loop would have it.
pub trait Kernel1<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f`, the op's primal or partial.
    fn run<F: Fn(T) -> T + Copy + Send + Sync>(self, f: F) -> Self::Output;
}

/// A loop over elements, handed the function of one binary op ([`BinaryOp::with_primal`],
/// [`BinaryOp::with_partial`]); see [`Kernel1`].
pub trait Kernel2<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f(a, b)`, the op's primal or one partial.
    fn run<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) -> Self::Output;

    /// [`run`](Kernel2::run) for a function of an `exponent` row (`powi`, `powf`), which
    /// reads its right operand only for its value: a loop whose right operand is one
    /// constant may hand it to [`exponent_loop`], which compiles the loop for the common
    /// exponents.
    fn run_exponent<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) -> Self::Output
    where
        Self: Sized,
    {
        self.run(f)
    }
}

/// Runs `kernel` with `f(·, c)` where `c` is the exponent 2 or 3, as a function of its left
/// operand with the exponent a literal, so the compiler folds `powi`'s squaring (and
/// `powf`'s `pow`) into plain products for the loop; any other `c`, with `f` as it is.
/// For a function that reads its right operand only for its value (an `exponent` row's),
/// the results are those of `f(·, c)` bit for bit, at every scalar type.
#[inline(always)]
pub fn exponent_loop<T: Scalar, K: Kernel2<T>, F: Fn(T, T) -> T + Copy + Send + Sync>(
    c: T,
    f: F,
    kernel: K,
) -> K::Output {
    // The exponent is made in the closure's body, not captured: a captured value is data
    // of the loop's function, a constant made in the body folds into it.
    match c.to_f64() {
        Some(2.0) => kernel.run(move |x, _| f(x, T::one() + T::one())),
        Some(3.0) => kernel.run(move |x, _| f(x, T::one() + T::one() + T::one())),
        _ => kernel.run(f),
    }
}

macro_rules! define_unary_ops {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        /// Elementwise functions of one input: the rows of [`unary_table!`](crate::unary_table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum UnaryOp {
            $(#[doc = $doc] $variant,)*
        }

        impl UnaryOp {
            /// Every unary op, in table order.
            pub const ALL: &'static [UnaryOp] = &[$(UnaryOp::$variant),*];

            /// The primal, written once for every [`Scalar`] type.
            #[inline]
            pub fn eval<T: Scalar>(self, x: T) -> T {
                #[allow(unused_imports)]
                use {core::ops::Neg as _, num_traits::Float as _};
                match self {
                    $(UnaryOp::$variant => x.$method(),)*
                }
            }

            /// Hands the primal to `kernel`, as a closure of this op alone: one dispatch for a
            /// whole loop, whose body the compiler then inlines (and vectorises where it can).
            #[inline]
            pub fn with_primal<T: Scalar, K: Kernel1<T>>(self, kernel: K) -> K::Output {
                #[allow(unused_imports)]
                use {core::ops::Neg as _, num_traits::Float as _};
                match self {
                    $(UnaryOp::$variant => kernel.run(#[inline(always)] |x: T| x.$method()),)*
                }
            }

            /// Hands `f'` to `kernel`, as [`UnaryOp::partial`] computes it (the primal on a
            /// dual number), as a closure of this op alone.
            #[inline]
            pub fn with_partial<T: Scalar, K: Kernel1<T>>(self, kernel: K) -> K::Output {
                #[allow(unused_imports)]
                use {core::ops::Neg as _, num_traits::Float as _};
                match self {
                    $(UnaryOp::$variant => kernel.run(#[inline(always)] |x: T| Dual::variable(x).$method().eps),)*
                }
            }

            /// The method name, as typed in slope, PyTorch and formulas.
            #[inline]
            pub const fn name(self) -> &'static str {
                match self {
                    $(UnaryOp::$variant => stringify!($name),)*
                }
            }

            /// PyTorch's `grad_fn` name.
            #[inline]
            pub const fn grad_fn_name(self) -> &'static str {
                match self {
                    $(UnaryOp::$variant => $grad_fn,)*
                }
            }

            /// Where the input is sampled when checking, and the conventions at kinks.
            #[inline]
            pub const fn domain(self) -> &'static Domain {
                match self {
                    $(UnaryOp::$variant => &crate::domain::$domain,)*
                }
            }
        }
    };
}
unary_table!(define_unary_ops);

/// `kernel.run(f)`, or for an `exponent` row `kernel.run_exponent(f)`.
macro_rules! run_row {
    (exponent, $kernel:ident, $f:expr) => {
        $kernel.run_exponent($f)
    };
    ($kind:ident, $kernel:ident, $f:expr) => {
        $kernel.run($f)
    };
}

macro_rules! define_binary_ops {
    ($($variant:ident: $kind:ident $method:ident $($infallible:ident)?, $name:literal, $grad_fn:literal, $domains:ident,
       |$a:ident, $b:ident| $primal:expr, $doc:literal;)*) => {
        /// Elementwise functions of two inputs: the rows of
        /// [`binary_table!`](crate::binary_table). Shapes broadcast against each other.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BinaryOp {
            $(#[doc = $doc] $variant,)*
        }

        impl BinaryOp {
            /// Every binary op, in table order.
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$variant),*];

            /// The primal, written once for every [`Scalar`] type.
            #[inline]
            pub fn eval<T: Scalar>(self, a: T, b: T) -> T {
                match self {
                    $(BinaryOp::$variant => {
                        let ($a, $b) = (a, b);
                        $primal
                    })*
                }
            }

            /// Hands the primal to `kernel`, as a closure of this op alone (see
            /// [`UnaryOp::with_primal`]).
            #[inline]
            pub fn with_primal<T: Scalar, K: Kernel2<T>>(self, kernel: K) -> K::Output {
                #[allow(unused_imports)]
                use num_traits::{Float as _, ToPrimitive as _};
                match self {
                    $(BinaryOp::$variant => run_row!($kind, kernel, #[inline(always)] |$a: T, $b: T| $primal),)*
                }
            }

            /// Hands `∂f/∂a` (`side` 0), `∂f/∂b` (`side` 1) or their sum (`side` 2, the partial
            /// of `f(x, x)` in `x` as the reverse sweep sums it) to `kernel`, as
            /// [`BinaryOp::partial_left`] and [`BinaryOp::partial_right`] compute them, as a
            /// closure of this op and side alone.
            #[inline]
            pub fn with_partial<T: Scalar, K: Kernel2<T>>(self, side: usize, kernel: K) -> K::Output {
                #[allow(unused_imports)]
                use num_traits::{Float as _, ToPrimitive as _};
                match (self, side) {
                    $(
                        (BinaryOp::$variant, 0) => run_row!($kind, kernel, #[inline(always)] |a: T, b: T| {
                            let ($a, $b): (Dual<T>, Dual<T>) = (Dual::variable(a), Dual::constant(b));
                            $primal.eps
                        }),
                        (BinaryOp::$variant, 1) => kernel.run(#[inline(always)] |a: T, b: T| {
                            let ($a, $b): (Dual<T>, Dual<T>) = (Dual::constant(a), Dual::variable(b));
                            $primal.eps
                        }),
                        (BinaryOp::$variant, _) => kernel.run(#[inline(always)] |a: T, b: T| {
                            let left = {
                                let ($a, $b): (Dual<T>, Dual<T>) = (Dual::variable(a), Dual::constant(b));
                                $primal.eps
                            };
                            let right = {
                                let ($a, $b): (Dual<T>, Dual<T>) = (Dual::constant(a), Dual::variable(b));
                                $primal.eps
                            };
                            left + right
                        }),
                    )*
                }
            }

            /// The method name, as typed in slope and PyTorch.
            #[inline]
            pub const fn name(self) -> &'static str {
                match self {
                    $(BinaryOp::$variant => $name,)*
                }
            }

            /// PyTorch's `grad_fn` name.
            #[inline]
            pub const fn grad_fn_name(self) -> &'static str {
                match self {
                    $(BinaryOp::$variant => $grad_fn,)*
                }
            }

            /// Where each input is sampled when checking; a constant domain is an input that
            /// is never differentiated.
            #[inline]
            pub const fn domains(self) -> &'static [Domain; 2] {
                match self {
                    $(BinaryOp::$variant => &crate::domain::$domains,)*
                }
            }

            /// Whether formulas call it as a function of two arguments (`atan2(y, x)`) rather
            /// than through an operator.
            #[inline]
            pub const fn is_function(self) -> bool {
                match self {
                    $(BinaryOp::$variant => matches!(stringify!($kind).as_bytes(), b"function" | b"parameter"),)*
                }
            }
        }
    };
}
binary_table!(define_binary_ops);

impl UnaryOp {
    /// `f'(x)`, from the primal evaluated on a dual number (the rules of [`crate::rules`]), at
    /// any scalar type (a dual `x` gives second-order information, for forward-over-reverse).
    #[inline]
    pub fn partial<S: Scalar>(self, x: S) -> S {
        self.eval(Dual::variable(x)).eps
    }
}

impl BinaryOp {
    /// Whether input `input` (0 or 1) is differentiated: false for a constant exponent.
    #[inline]
    pub const fn differentiates(self, input: usize) -> bool {
        input < 2 && !self.domains()[input].constant
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls the kernel's function at fixed points, so a test can read what it was handed.
    struct Probe1(Vec<f64>);
    impl Kernel1<f64> for Probe1 {
        type Output = Vec<f64>;
        fn run<F: Fn(f64) -> f64 + Copy + Send + Sync>(self, f: F) -> Vec<f64> {
            self.0.into_iter().map(f).collect()
        }
    }
    struct Probe2(Vec<(f64, f64)>);
    impl Kernel2<f64> for Probe2 {
        type Output = Vec<f64>;
        fn run<F: Fn(f64, f64) -> f64 + Copy + Send + Sync>(self, f: F) -> Vec<f64> {
            self.0.into_iter().map(|(a, b)| f(a, b)).collect()
        }
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// The kernels' closures are a second expansion of each row, so they are held to the
    /// per-element forms bit for bit: the primal, each partial, and the same-input sum.
    #[test]
    fn kernels_hand_over_each_rows_primal_and_partials() {
        let xs: Vec<f64> = (0..40).map(|k| -3.0 + 0.15 * k as f64).chain([0.0, -0.0, 1.0, 2.0]).collect();
        for &op in UnaryOp::ALL {
            let primal: Vec<f64> = xs.iter().map(|&x| op.eval(x)).collect();
            let partial: Vec<f64> = xs.iter().map(|&x| op.partial(x)).collect();
            assert!(same_bits(&op.with_primal(Probe1(xs.clone())), &primal), "{}", op.name());
            assert!(same_bits(&op.with_partial(Probe1(xs.clone())), &partial), "{}", op.name());
        }
        let pairs: Vec<(f64, f64)> =
            xs.iter().flat_map(|&a| [(a, 2.0), (a, -1.0), (a, 0.5), (a, a), (a, 3.0)]).collect();
        for &op in BinaryOp::ALL {
            let primal: Vec<f64> = pairs.iter().map(|&(a, b)| op.eval(a, b)).collect();
            let left: Vec<f64> = pairs.iter().map(|&(a, b)| op.partial_left(a, b)).collect();
            let right: Vec<f64> = pairs.iter().map(|&(a, b)| op.partial_right(a, b)).collect();
            let both: Vec<f64> = pairs.iter().map(|&(a, b)| op.partial_left(a, b) + op.partial_right(a, b)).collect();
            assert!(same_bits(&op.with_primal(Probe2(pairs.clone())), &primal), "{}", op.name());
            assert!(same_bits(&op.with_partial(0, Probe2(pairs.clone())), &left), "{}", op.name());
            assert!(same_bits(&op.with_partial(1, Probe2(pairs.clone())), &right), "{}", op.name());
            assert!(same_bits(&op.with_partial(2, Probe2(pairs.clone())), &both), "{}", op.name());
        }
    }

    /// A tensor against one constant right operand: `run_exponent` hands the loop to
    /// [`exponent_loop`], as the graph's kernels do.
    struct AgainstConstant<T>(Vec<T>, T);
    impl<T: Scalar> Kernel2<T> for AgainstConstant<T> {
        type Output = Vec<T>;
        fn run<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) -> Vec<T> {
            let c = self.1;
            self.0.into_iter().map(|a| f(a, c)).collect()
        }
        fn run_exponent<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) -> Vec<T> {
            exponent_loop(self.1, f, self)
        }
    }

    /// The loops compiled for the exponents 2 and 3 give every row's primal and partial bit
    /// for bit, on `f64` and on duals carrying a tangent (whose exponent is a constant).
    #[test]
    fn loops_compiled_for_an_exponent_give_the_rows_values() {
        let xs: Vec<f64> = (0..40).map(|k| -3.0 + 0.15 * k as f64).chain([0.0, -0.0, 1e-300, 1e200]).collect();
        for &op in BinaryOp::ALL {
            for c in [2.0, 3.0, -1.0, 0.5] {
                let primal: Vec<f64> = xs.iter().map(|&a| op.eval(a, c)).collect();
                let left: Vec<f64> = xs.iter().map(|&a| op.partial_left(a, c)).collect();
                assert!(same_bits(&op.with_primal(AgainstConstant(xs.clone(), c)), &primal), "{} {c}", op.name());
                assert!(same_bits(&op.with_partial(0, AgainstConstant(xs.clone(), c)), &left), "{} {c}", op.name());
                let duals: Vec<Dual<f64>> = xs.iter().map(|&a| Dual::new(a, 0.5 - a)).collect();
                let on_duals = op.with_primal(AgainstConstant(duals.clone(), Dual::constant(c)));
                for (d, got) in duals.iter().zip(on_duals) {
                    let want = op.eval(*d, Dual::constant(c));
                    assert!(same_bits(&[got.re, got.eps], &[want.re, want.eps]), "{} {c} at {d:?}", op.name());
                }
            }
        }
    }

    /// A symmetric difference quotient: an independent check of each rule's derivative.
    fn numeric(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-6 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    /// The table and the rules held together: every unary row's primal on `f64` agrees with
    /// its rule's value, and its partial (the rule, through `Dual`) with a difference quotient,
    /// at samples of its own domain.
    #[test]
    fn every_unary_row_has_a_rule_that_matches_its_primal() {
        for &op in UnaryOp::ALL {
            let d = op.domain();
            for k in 1..4 {
                let x = d.at(f64::from(k) / 4.0);
                if d.kinks.iter().any(|kink| (kink.at - x).abs() < 1e-3) {
                    continue;
                }
                let n = numeric(|x| op.eval(x), x);
                let p = op.partial(x);
                assert!((p - n).abs() <= 1e-6 * n.abs().max(1.0), "{}'({x}) = {p}, numeric {n}", op.name());
            }
        }
    }

    #[test]
    fn every_binary_row_has_partials_that_match_its_primal() {
        for &op in BinaryOp::ALL {
            let [da, db] = op.domains();
            for k in 1..4 {
                let t = f64::from(k) / 4.0;
                let (a, b) = (da.at(t), db.at(1.0 - t));
                if da.kinks.iter().any(|kink| (kink.at - a).abs() < 1e-3) {
                    continue;
                }
                let (pa, pb) = op.partials(a, b);
                let na = numeric(|a| op.eval(a, b), a);
                assert!((pa - na).abs() <= 1e-6 * na.abs().max(1.0), "{} d/da at ({a}, {b})", op.name());
                if op.differentiates(1) {
                    let nb = numeric(|b| op.eval(a, b), b);
                    assert!((pb - nb).abs() <= 1e-6 * nb.abs().max(1.0), "{} d/db at ({a}, {b})", op.name());
                } else {
                    assert_eq!(pb, 0.0, "{}: a constant input has no partial", op.name());
                }
            }
        }
    }
}
