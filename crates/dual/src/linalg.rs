//! nalgebra's `RealField` and `ComplexField` for [`Dual`], so nalgebra's algorithms
//! (determinants, inverses, decompositions, solvers) run on dual numbers and return
//! derivatives.
//!
//! Every method delegates to the `Float` implementation, so each derivative rule is still
//! the one in [`crate::rules`].

use core::fmt::{Debug, Display};

use approx::{AbsDiffEq, RelativeEq, UlpsEq};
use nalgebra::{ComplexField, Field, RealField, SimdValue};
use num_traits::Float;
use simba::scalar::{SubsetOf, SupersetOf};

use crate::{Dual, Tangent};

/// The bounds shared by every impl below.
pub trait LinalgScalar: RealField + Float {}
impl<T: RealField + Float> LinalgScalar for T {}

// simba declares `extract_unchecked` and `replace_unchecked` as `unsafe fn`, so their
// implementations must carry the keyword although their bodies do nothing unsafe: a dual
// number is a single SIMD lane. This is the only `unsafe` token in slope.
#[allow(unsafe_code)]
impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> SimdValue for Dual<T, E> {
    const LANES: usize = 1;
    type Element = Self;
    type SimdBool = bool;

    fn splat(val: Self) -> Self {
        val
    }
    fn extract(&self, _: usize) -> Self {
        *self
    }
    unsafe fn extract_unchecked(&self, _: usize) -> Self {
        *self
    }
    fn replace(&mut self, _: usize, val: Self) {
        *self = val;
    }
    unsafe fn replace_unchecked(&mut self, _: usize, val: Self) {
        *self = val;
    }
    fn select(self, cond: bool, other: Self) -> Self {
        if cond {
            self
        } else {
            other
        }
    }
}

impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> Field for Dual<T, E> {}

impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> SubsetOf<Dual<T, E>> for Dual<T, E> {
    fn to_superset(&self) -> Self {
        *self
    }
    fn from_superset_unchecked(element: &Self) -> Self {
        *element
    }
    fn is_in_subset(_: &Self) -> bool {
        true
    }
}

macro_rules! plain_subset {
    ($($t:ty),*) => {$(
        /// A plain number is a constant dual.
        impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> SubsetOf<Dual<T, E>> for $t {
            fn to_superset(&self) -> Dual<T, E> {
                Dual::constant(<T as SupersetOf<$t>>::from_subset(self))
            }
            fn from_superset_unchecked(element: &Dual<T, E>) -> $t {
                SupersetOf::<$t>::to_subset_unchecked(&element.re)
            }
            fn is_in_subset(element: &Dual<T, E>) -> bool {
                element.eps.is_zero() && SupersetOf::<$t>::is_in_subset(&element.re)
            }
        }
    )*};
}
plain_subset!(f32, f64);

/// Approximate equality compares values, as `==` does.
impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> AbsDiffEq for Dual<T, E> {
    type Epsilon = Self;
    fn default_epsilon() -> Self {
        Dual::constant(T::default_epsilon())
    }
    fn abs_diff_eq(&self, other: &Self, epsilon: Self) -> bool {
        self.re.abs_diff_eq(&other.re, epsilon.re)
    }
}

impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> RelativeEq for Dual<T, E> {
    fn default_max_relative() -> Self {
        Dual::constant(T::default_max_relative())
    }
    fn relative_eq(&self, other: &Self, epsilon: Self, max_relative: Self) -> bool {
        self.re.relative_eq(&other.re, epsilon.re, max_relative.re)
    }
}

impl<T: LinalgScalar, E: Tangent<T> + Send + Sync + 'static> UlpsEq for Dual<T, E> {
    fn default_max_ulps() -> u32 {
        T::default_max_ulps()
    }
    fn ulps_eq(&self, other: &Self, epsilon: Self, max_ulps: u32) -> bool {
        self.re.ulps_eq(&other.re, epsilon.re, max_ulps)
    }
}

macro_rules! delegate {
    ($($name:ident),*) => {$(
        #[inline]
        fn $name(self) -> Self {
            Float::$name(self)
        }
    )*};
}

impl<T: LinalgScalar, E: Tangent<T> + Debug + Send + Sync + 'static> ComplexField for Dual<T, E>
where
    Dual<T, E>: Display,
{
    type RealField = Self;

    delegate!(
        floor, ceil, round, trunc, fract, recip, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, asinh, acosh,
        atanh, log2, log10, ln, ln_1p, sqrt, exp, exp2, exp_m1, cbrt, abs
    );

    fn from_real(re: Self) -> Self {
        re
    }
    fn real(self) -> Self {
        self
    }
    fn imaginary(self) -> Self {
        Dual::constant(T::zero())
    }
    fn modulus(self) -> Self {
        Float::abs(self)
    }
    fn modulus_squared(self) -> Self {
        self * self
    }
    fn argument(self) -> Self {
        if self.re >= T::zero() {
            Dual::constant(T::zero())
        } else {
            Dual::constant(T::pi())
        }
    }
    fn norm1(self) -> Self {
        Float::abs(self)
    }
    fn scale(self, factor: Self) -> Self {
        self * factor
    }
    fn unscale(self, factor: Self) -> Self {
        self / factor
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    fn hypot(self, other: Self) -> Self {
        Float::hypot(self, other)
    }
    fn conjugate(self) -> Self {
        self
    }
    fn sin_cos(self) -> (Self, Self) {
        Float::sin_cos(self)
    }
    fn log(self, base: Self) -> Self {
        Float::log(self, base)
    }
    fn powi(self, n: i32) -> Self {
        Float::powi(self, n)
    }
    fn powf(self, n: Self) -> Self {
        Float::powf(self, n)
    }
    fn powc(self, n: Self) -> Self {
        Float::powf(self, n)
    }
    fn is_finite(&self) -> bool {
        self.re.is_finite()
    }
    fn try_sqrt(self) -> Option<Self> {
        (self.re >= T::zero()).then(|| Float::sqrt(self))
    }
}

macro_rules! constant {
    ($($name:ident),*) => {$(
        fn $name() -> Self {
            Dual::constant(T::$name())
        }
    )*};
}

impl<T: LinalgScalar, E: Tangent<T> + Debug + Send + Sync + 'static> RealField for Dual<T, E>
where
    Dual<T, E>: Display,
{
    constant!(
        pi,
        two_pi,
        frac_pi_2,
        frac_pi_3,
        frac_pi_4,
        frac_pi_6,
        frac_pi_8,
        frac_1_pi,
        frac_2_pi,
        frac_2_sqrt_pi,
        e,
        log2_e,
        log10_e,
        ln_2,
        ln_10
    );

    fn is_sign_positive(&self) -> bool {
        self.re.is_sign_positive()
    }
    fn is_sign_negative(&self) -> bool {
        self.re.is_sign_negative()
    }
    fn copysign(self, sign: Self) -> Self {
        if self.re.is_sign_negative() == sign.re.is_sign_negative() {
            self
        } else {
            -self
        }
    }
    fn max(self, other: Self) -> Self {
        Float::max(self, other)
    }
    fn min(self, other: Self) -> Self {
        Float::min(self, other)
    }
    fn clamp(self, min: Self, max: Self) -> Self {
        Float::max(Float::min(self, max), min)
    }
    fn atan2(self, other: Self) -> Self {
        Float::atan2(self, other)
    }
    fn min_value() -> Option<Self> {
        Some(Dual::constant(<T as Float>::min_value()))
    }
    fn max_value() -> Option<Self> {
        Some(Dual::constant(<T as Float>::max_value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};

    type D = Dual<f64>;

    fn a() -> DMatrix<f64> {
        DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 2.5])
    }

    fn b() -> DMatrix<f64> {
        DMatrix::from_row_slice(3, 3, &[0.3, -1.0, 0.2, 0.7, 0.1, 0.4, -0.5, 0.9, 1.1])
    }

    /// `A + tB` at `t = 0`, seeded in `t`.
    fn a_plus_tb() -> DMatrix<D> {
        a().zip_map(&b(), Dual::new)
    }

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol * y.abs().max(1.0)
    }

    #[test]
    fn derivative_of_a_determinant_is_jacobis_formula() {
        let det = a_plus_tb().determinant();
        let a_inv = a().try_inverse().unwrap();
        let jacobi = a().determinant() * (&a_inv * b()).trace();
        assert!(close(det.re, a().determinant(), 1e-14));
        assert!(close(det.eps, jacobi, 1e-12), "{} vs {jacobi}", det.eps);
    }

    #[test]
    fn derivative_of_an_inverse() {
        let inv = a_plus_tb().try_inverse().unwrap();
        let a_inv = a().try_inverse().unwrap();
        let want = -(&a_inv * b() * &a_inv);
        for (got, want) in inv.iter().zip(want.iter()) {
            assert!(close(got.eps, *want, 1e-12), "{} vs {want}", got.eps);
        }
    }

    #[test]
    fn derivative_of_a_cholesky_solve_matches_finite_differences() {
        // x(t) solves (A + t Bᵀ B) x = r with a symmetric positive definite matrix.
        let spd = |t: f64| a() + (b().transpose() * b()) * t;
        let r = DVector::from_column_slice(&[1.0, -2.0, 0.5]);
        let seeded = a().zip_map(&(b().transpose() * b()), Dual::new);
        let x = seeded.cholesky().unwrap().solve(&r.map(Dual::constant));
        let solve = |t: f64| spd(t).cholesky().unwrap().solve(&r);
        let h = 1e-5;
        let fd = (solve(h) - solve(-h)) / (2.0 * h);
        for (got, want) in x.iter().zip(fd.iter()) {
            assert!(close(got.eps, *want, 1e-8), "{} vs {want}", got.eps);
        }
        // and the values are nalgebra's f64 solution
        for (got, want) in x.iter().zip(solve(0.0).iter()) {
            assert!(close(got.re, *want, 1e-14));
        }
    }
}
