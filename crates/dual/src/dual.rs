//! `Dual<T>`: a value and one tangent.

use core::cmp::Ordering;
use core::fmt;
use core::iter::{Product, Sum};
use core::num::FpCategory;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, RemAssign, Sub, SubAssign};

use num_traits::{Float, FromPrimitive, Num, NumCast, One, Signed, ToPrimitive, Zero};

use crate::rules;
use crate::Scalar;

/// A dual number `re + eps·ε` with `ε² = 0`: a value and its derivative along one direction.
///
/// Evaluating a function on `Dual::variable(x)` yields `f(x)` in `re` and `f'(x)` in `eps`.
/// Comparisons (`==`, `<`, `max`, ...) look only at the value, so code written for `f64`
/// takes the same branches on duals.
///
/// ```
/// use slope_dual::Dual;
/// use num_traits::Float;
///
/// fn f<T: Float>(x: T) -> T {
///     x.powi(2) + (x + x) + T::one()
/// }
/// let y = f(Dual::variable(2.0));
/// assert_eq!((y.re, y.eps), (9.0, 6.0));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Dual<T> {
    /// The value.
    pub re: T,
    /// The tangent: the derivative of the value along the seeded direction.
    pub eps: T,
}

impl<T: Float> Dual<T> {
    /// A dual with the given value and tangent.
    pub const fn new(re: T, eps: T) -> Self {
        Dual { re, eps }
    }

    /// The independent variable: tangent 1.
    pub fn variable(re: T) -> Self {
        Dual::new(re, T::one())
    }

    /// A constant: tangent 0.
    pub fn constant(re: T) -> Self {
        Dual::new(re, T::zero())
    }

    /// Applies a unary rule `(f(x), f'(x))` from [`rules`] by the chain rule.
    #[inline]
    fn chain(self, (f, df): (T, T)) -> Self {
        Dual::new(f, scale(df, self.eps))
    }

    /// Applies a binary rule `(f, ∂f/∂a, ∂f/∂b)` from [`rules`] by the chain rule.
    #[inline]
    fn chain2(self, other: Self, (f, da, db): (T, T, T)) -> Self {
        Dual::new(f, scale(da, self.eps) + scale(db, other.eps))
    }
}

/// `derivative · tangent`, where a zero tangent is a structural zero: a constant stays a
/// constant even where the derivative is infinite or NaN (`sqrt` at 0, `x · y` with
/// `x = ∞`), as it does in PyTorch's reverse mode.
#[inline]
fn scale<T: Float>(derivative: T, tangent: T) -> T {
    if tangent == T::zero() {
        T::zero()
    } else {
        derivative * tangent
    }
}

impl<T: Float + fmt::Display> fmt::Display for Dual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.re, f)?;
        f.write_str(" + ")?;
        fmt::Display::fmt(&self.eps, f)?;
        f.write_str("ε")
    }
}

impl<T: Float> PartialEq for Dual<T> {
    fn eq(&self, other: &Self) -> bool {
        self.re == other.re
    }
}

impl<T: Float> PartialOrd for Dual<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

impl<T: Float> Neg for Dual<T> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual::new(-self.re, -self.eps)
    }
}

impl<T: Float> Add for Dual<T> {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Dual::new(self.re + rhs.re, self.eps + rhs.eps)
    }
}

impl<T: Float> Sub for Dual<T> {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Dual::new(self.re - rhs.re, self.eps - rhs.eps)
    }
}

impl<T: Float> Mul for Dual<T> {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        self.chain2(rhs, rules::mul(self.re, rhs.re))
    }
}

impl<T: Float> Div for Dual<T> {
    type Output = Self;
    fn div(self, rhs: Self) -> Self {
        self.chain2(rhs, rules::div(self.re, rhs.re))
    }
}

/// `a % b = a - trunc(a / b) · b`: derivative 1 in `a` and `-trunc(a / b)` in `b`.
impl<T: Float> Rem for Dual<T> {
    type Output = Self;
    fn rem(self, rhs: Self) -> Self {
        let q = (self.re / rhs.re).trunc();
        Dual::new(self.re % rhs.re, self.eps - q * rhs.eps)
    }
}

macro_rules! scalar_rhs_ops {
    ($($Op:ident $op:ident $OpAssign:ident $op_assign:ident),*) => {$(
        impl<T: Float> $Op<T> for Dual<T> {
            type Output = Self;
            fn $op(self, rhs: T) -> Self {
                $Op::$op(self, Dual::constant(rhs))
            }
        }
        impl<T: Float> $OpAssign for Dual<T> {
            fn $op_assign(&mut self, rhs: Self) {
                *self = $Op::$op(*self, rhs);
            }
        }
        impl<T: Float> $OpAssign<T> for Dual<T> {
            fn $op_assign(&mut self, rhs: T) {
                *self = $Op::$op(*self, Dual::constant(rhs));
            }
        }
    )*};
}
scalar_rhs_ops!(
    Add add AddAssign add_assign,
    Sub sub SubAssign sub_assign,
    Mul mul MulAssign mul_assign,
    Div div DivAssign div_assign,
    Rem rem RemAssign rem_assign
);

macro_rules! scalar_lhs_ops {
    ($($t:ty),*) => {$(
        impl Add<Dual<$t>> for $t {
            type Output = Dual<$t>;
            fn add(self, rhs: Dual<$t>) -> Dual<$t> { Dual::constant(self) + rhs }
        }
        impl Sub<Dual<$t>> for $t {
            type Output = Dual<$t>;
            fn sub(self, rhs: Dual<$t>) -> Dual<$t> { Dual::constant(self) - rhs }
        }
        impl Mul<Dual<$t>> for $t {
            type Output = Dual<$t>;
            fn mul(self, rhs: Dual<$t>) -> Dual<$t> { Dual::constant(self) * rhs }
        }
        impl Div<Dual<$t>> for $t {
            type Output = Dual<$t>;
            fn div(self, rhs: Dual<$t>) -> Dual<$t> { Dual::constant(self) / rhs }
        }
        impl Rem<Dual<$t>> for $t {
            type Output = Dual<$t>;
            fn rem(self, rhs: Dual<$t>) -> Dual<$t> { Dual::constant(self) % rhs }
        }
    )*};
}
scalar_lhs_ops!(f32, f64);

impl<T: Float> Sum for Dual<T> {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Dual::zero(), |a, b| a + b)
    }
}

impl<T: Float> Product for Dual<T> {
    fn product<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Dual::one(), |a, b| a * b)
    }
}

impl<T: Float> Zero for Dual<T> {
    fn zero() -> Self {
        Dual::constant(T::zero())
    }
    fn is_zero(&self) -> bool {
        self.re.is_zero()
    }
}

impl<T: Float> One for Dual<T> {
    fn one() -> Self {
        Dual::constant(T::one())
    }
}

impl<T: Float> Num for Dual<T> {
    type FromStrRadixErr = T::FromStrRadixErr;
    fn from_str_radix(s: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        T::from_str_radix(s, radix).map(Dual::constant)
    }
}

impl<T: Float> ToPrimitive for Dual<T> {
    fn to_i64(&self) -> Option<i64> {
        self.re.to_i64()
    }
    fn to_u64(&self) -> Option<u64> {
        self.re.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        self.re.to_f64()
    }
    fn to_f32(&self) -> Option<f32> {
        self.re.to_f32()
    }
}

impl<T: Float> NumCast for Dual<T> {
    fn from<N: ToPrimitive>(n: N) -> Option<Self> {
        T::from(n).map(Dual::constant)
    }
}

impl<T: Float> FromPrimitive for Dual<T> {
    fn from_i64(n: i64) -> Option<Self> {
        T::from(n).map(Dual::constant)
    }
    fn from_u64(n: u64) -> Option<Self> {
        T::from(n).map(Dual::constant)
    }
    fn from_f64(n: f64) -> Option<Self> {
        T::from(n).map(Dual::constant)
    }
}

impl<T: Float> Signed for Dual<T> {
    fn abs(&self) -> Self {
        Float::abs(*self)
    }
    fn abs_sub(&self, other: &Self) -> Self {
        Float::abs_sub(*self, *other)
    }
    fn signum(&self) -> Self {
        Float::signum(*self)
    }
    fn is_positive(&self) -> bool {
        self.re > T::zero()
    }
    fn is_negative(&self) -> bool {
        self.re < T::zero()
    }
}

macro_rules! unary_rules {
    ($($name:ident),*) => {$(
        #[inline]
        fn $name(self) -> Self {
            self.chain(rules::$name(self.re))
        }
    )*};
}

macro_rules! constant_of_value {
    ($($name:ident),*) => {$(
        fn $name() -> Self {
            Dual::constant(T::$name())
        }
    )*};
}

macro_rules! predicate_of_value {
    ($($name:ident),*) => {$(
        fn $name(self) -> bool {
            self.re.$name()
        }
    )*};
}

macro_rules! piecewise_constant {
    ($($name:ident),*) => {$(
        /// Piecewise constant: the derivative is 0 wherever it exists.
        fn $name(self) -> Self {
            Dual::constant(self.re.$name())
        }
    )*};
}

impl<T: Float> Float for Dual<T> {
    constant_of_value!(nan, infinity, neg_infinity, neg_zero, min_value, min_positive_value, max_value, epsilon);
    predicate_of_value!(is_nan, is_infinite, is_finite, is_normal, is_sign_positive, is_sign_negative);
    piecewise_constant!(floor, ceil, round, trunc, signum);
    unary_rules!(
        exp, exp2, exp_m1, ln, log2, log10, ln_1p, sqrt, cbrt, recip, sin, cos, tan, asin, acos, atan, sinh, cosh,
        tanh, asinh, acosh, atanh, abs
    );

    fn classify(self) -> FpCategory {
        self.re.classify()
    }

    fn fract(self) -> Self {
        Dual::new(self.re.fract(), self.eps)
    }

    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }

    fn powi(self, n: i32) -> Self {
        self.chain(rules::powi(self.re, n))
    }

    fn powf(self, n: Self) -> Self {
        if n.eps == T::zero() {
            self.chain(rules::powf(self.re, n.re))
        } else {
            self.chain2(n, rules::pow(self.re, n.re))
        }
    }

    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }

    fn max(self, other: Self) -> Self {
        if other.re.is_nan() || self.re >= other.re {
            self
        } else {
            other
        }
    }

    fn min(self, other: Self) -> Self {
        if other.re.is_nan() || self.re <= other.re {
            self
        } else {
            other
        }
    }

    fn abs_sub(self, other: Self) -> Self {
        if self.re <= other.re {
            Dual::zero()
        } else {
            self - other
        }
    }

    fn hypot(self, other: Self) -> Self {
        self.chain2(other, rules::hypot(self.re, other.re))
    }

    fn atan2(self, other: Self) -> Self {
        self.chain2(other, rules::atan2(self.re, other.re))
    }

    fn sin_cos(self) -> (Self, Self) {
        let (s, c) = self.re.sin_cos();
        (Dual::new(s, c * self.eps), Dual::new(c, -s * self.eps))
    }

    fn integer_decode(self) -> (u64, i16, i8) {
        self.re.integer_decode()
    }
}

impl<T: Scalar> Scalar for Dual<T> {
    fn sigmoid(self) -> Self {
        self.chain(rules::sigmoid(self.re))
    }

    fn relu(self) -> Self {
        self.chain(rules::relu(self.re))
    }

    fn detach(self) -> Self {
        Dual::constant(self.re)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(f: impl Fn(Dual<f64>) -> Dual<f64>, x: f64) -> (f64, f64) {
        let y = f(Dual::variable(x));
        (y.re, y.eps)
    }

    #[test]
    fn arithmetic_follows_the_product_and_quotient_rules() {
        assert_eq!(d(|x| x * x, 3.0), (9.0, 6.0));
        assert_eq!(d(|x| Dual::<f64>::one() / x, 2.0), (0.5, -0.25));
        assert_eq!(d(|x| 2.0 * x - 1.0, 5.0), (9.0, 2.0));
        assert_eq!(d(|x| x % Dual::constant(2.0), 5.5), (1.5, 1.0));
        assert_eq!(d(|x| Dual::constant(7.0) % x, 2.0), (1.0, -3.0));
    }

    #[test]
    fn constants_stay_constant_where_the_derivative_is_not_finite() {
        assert_eq!(Dual::constant(0.0_f64).sqrt().eps, 0.0);
        let y = Dual::variable(f64::INFINITY) * Dual::constant(2.0);
        assert_eq!(y.eps, 2.0);
        assert_eq!(Dual::variable(0.0_f64).sqrt().eps, f64::INFINITY);
    }

    #[test]
    fn comparisons_and_branches_use_the_value_only() {
        let a = Dual::new(1.0, 5.0);
        let b = Dual::new(1.0, -5.0);
        assert_eq!(a, b);
        assert_eq!(a.max(Dual::new(2.0, 7.0)).eps, 7.0);
        assert_eq!(a.min(Dual::new(2.0, 7.0)).eps, 5.0);
        assert_eq!(Dual::new(f64::NAN, 1.0).max(a).eps, 5.0);
    }

    #[test]
    fn pow_with_a_dual_exponent_differentiates_both_operands() {
        let a = Dual::new(2.0_f64, 1.0);
        let b = Dual::new(3.0_f64, 1.0);
        let y = a.powf(b);
        assert_eq!(y.re, 8.0);
        let expected = 3.0 * 4.0 + 8.0 * 2.0_f64.ln();
        assert!((y.eps - expected).abs() < 1e-12);
    }

    #[test]
    fn sin_cos_agrees_with_sin_and_cos() {
        let x = Dual::new(0.7_f64, 2.0);
        let (s, c) = x.sin_cos();
        assert_eq!((s.re, s.eps), (x.sin().re, x.sin().eps));
        assert_eq!((c.re, c.eps), (x.cos().re, x.cos().eps));
    }

    #[test]
    fn conversions_keep_the_value() {
        let x: Dual<f64> = NumCast::from(3_u8).unwrap_or_else(Dual::nan);
        assert_eq!((x.re, x.eps), (3.0, 0.0));
        assert_eq!(Dual::new(2.7_f64, 1.0).to_i64(), Some(2));
        assert_eq!(format!("{}", Dual::new(1.5, 2.0)), "1.5 + 2ε");
    }
}
