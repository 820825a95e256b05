//! `HyperDual<T>`: exact second derivatives in one evaluation.

use core::fmt;
use core::ops::{Add, Neg, Sub};

use num_traits::Float;

use crate::float_impl::{
    dual_float_methods, dual_piecewise_constant, dual_scalar_methods, impl_dual_number, impl_scalar_lhs,
};
use crate::{Dual, DualVec, Tangent};

/// A hyper-dual number `re + eps1·ε₁ + eps2·ε₂ + eps12·ε₁ε₂` with `ε₁² = ε₂² = 0`.
///
/// Seeded with `eps1 = u`, `eps2 = v`, a function evaluated on it returns the value in
/// `re`, the directional derivatives `∇f·u` and `∇f·v` in `eps1` and `eps2`, and the exact
/// second derivative `uᵀ H v` in `eps12`, with no truncation error. It needs no second
/// derivative rules of its own: `f''` comes from evaluating the first-order rules of
/// [`crate::rules`] on a [`Dual`]. It agrees with the nested `Dual<Dual<T>>`, which it
/// equals in value but stores flat.
///
/// ```
/// use num_traits::Float;
/// use slope_dual::HyperDual;
///
/// let x = HyperDual::variable(0.5_f64);
/// let y = x.sin();
/// assert_eq!(y.eps1, 0.5_f64.cos());
/// assert_eq!(y.eps12, -0.5_f64.sin());
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HyperDual<T> {
    /// The value.
    pub re: T,
    /// Derivative along the first direction.
    pub eps1: T,
    /// Derivative along the second direction.
    pub eps2: T,
    /// Second derivative along both directions.
    pub eps12: T,
}

impl<T: Float + Send + Sync + 'static> HyperDual<T> {
    /// A hyper-dual number from its four parts.
    pub const fn new(re: T, eps1: T, eps2: T, eps12: T) -> Self {
        HyperDual { re, eps1, eps2, eps12 }
    }

    /// A constant.
    pub fn constant(re: T) -> Self {
        HyperDual::new(re, T::zero(), T::zero(), T::zero())
    }

    /// The variable of a one-dimensional function: both directions 1, so `eps12` is `f''`.
    pub fn variable(re: T) -> Self {
        HyperDual::new(re, T::one(), T::one(), T::zero())
    }

    /// True when every derivative part is zero.
    pub fn is_constant(&self) -> bool {
        self.eps1.is_zero() && self.eps2.is_zero() && self.eps12.is_zero()
    }

    /// `self + c` for a plain `c`.
    #[inline]
    pub(crate) fn shifted(self, c: T) -> Self {
        HyperDual::new(self.re + c, self.eps1, self.eps2, self.eps12)
    }

    /// `self · c` for a plain `c`.
    #[inline]
    pub(crate) fn scaled(self, c: T) -> Self {
        HyperDual::new(self.re * c, self.eps1.scale(c), self.eps2.scale(c), self.eps12.scale(c))
    }

    /// `self / c` for a plain `c`, as the quotient rule's partial in `self`.
    #[inline]
    pub(crate) fn divided(self, c: T) -> Self {
        let r = c.recip();
        HyperDual::new(self.re / c, self.eps1.scale(r), self.eps2.scale(r), self.eps12.scale(r))
    }

    /// Applies a unary rule by the second-order chain rule:
    /// `(f ∘ x)'' = f'(x)·x'' + f''(x)·x'·x'`, with `f''` from the rule evaluated on a dual.
    #[inline]
    pub fn unary(self, rule: impl Fn(Dual<T>) -> (Dual<T>, Dual<T>)) -> Self {
        let (f, df) = rule(Dual::variable(self.re));
        let (d1, d2) = (df.re, df.eps);
        HyperDual::new(
            f.re,
            self.eps1.scale(d1),
            self.eps2.scale(d1),
            self.eps12.scale(d1).add((self.eps1 * self.eps2).scale(d2)),
        )
    }

    /// Applies a binary rule by the second-order chain rule, with the second partials of
    /// `f` from the rule evaluated on a two-tangent dual.
    #[inline]
    pub fn binary(
        self,
        other: Self,
        rule: impl Fn(DualVec<T, 2>, DualVec<T, 2>) -> (DualVec<T, 2>, DualVec<T, 2>, DualVec<T, 2>),
    ) -> Self {
        let (x, y) = (self, other);
        let (f, fa, fb) = rule(DualVec::variable_at(x.re, 0), DualVec::variable_at(y.re, 1));
        let ([faa, fab], [fba, fbb]) = (fa.eps.0, fb.eps.0);
        let (fa, fb) = (fa.re, fb.re);
        let first = |xa: T, ya: T| xa.scale(fa).add(ya.scale(fb));
        let second = x.eps12.scale(fa).add(y.eps12.scale(fb))
            + (x.eps1 * x.eps2).scale(faa)
            + (x.eps1 * y.eps2).scale(fab)
            + (y.eps1 * x.eps2).scale(fba)
            + (y.eps1 * y.eps2).scale(fbb);
        HyperDual::new(f.re, first(x.eps1, y.eps1), first(x.eps2, y.eps2), second)
    }

    #[inline]
    fn powf_by(self, c: T) -> Self {
        self.unary(|x| crate::rules::powf(x, Dual::constant(c)))
    }
}

impl<T: Float + fmt::Display> fmt::Display for HyperDual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε₁ + {}ε₂ + {}ε₁ε₂", self.re, self.eps1, self.eps2, self.eps12)
    }
}

impl<T: Float + Send + Sync + 'static> Neg for HyperDual<T> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        HyperDual::new(-self.re, -self.eps1, -self.eps2, -self.eps12)
    }
}

impl<T: Float + Send + Sync + 'static> Add for HyperDual<T> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        HyperDual::new(self.re + o.re, self.eps1 + o.eps1, self.eps2 + o.eps2, self.eps12 + o.eps12)
    }
}

impl<T: Float + Send + Sync + 'static> Sub for HyperDual<T> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        HyperDual::new(self.re - o.re, self.eps1 - o.eps1, self.eps2 - o.eps2, self.eps12 - o.eps12)
    }
}

impl_dual_number!([T: Float + Send + Sync + 'static] HyperDual<T>);
impl_scalar_lhs!([] HyperDual<f64>, f64);
impl_scalar_lhs!([] HyperDual<f32>, f32);

#[cfg(test)]
mod tests {
    use super::*;

    /// `f''` by nesting duals, the independent second-order route.
    fn nested(f: impl Fn(Dual<Dual<f64>>) -> Dual<Dual<f64>>, x: f64) -> (f64, f64, f64) {
        let y = f(Dual::new(Dual::variable(x), Dual::constant(1.0)));
        (y.re.re, y.eps.re, y.eps.eps)
    }

    fn hyper(f: impl Fn(HyperDual<f64>) -> HyperDual<f64>, x: f64) -> (f64, f64, f64) {
        let y = f(HyperDual::variable(x));
        (y.re, y.eps1, y.eps12)
    }

    fn close(a: (f64, f64, f64), b: (f64, f64, f64)) -> bool {
        let c = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs().max(1.0);
        c(a.0, b.0) && c(a.1, b.1) && c(a.2, b.2)
    }

    fn c<T: Float>(x: f64) -> T {
        T::from(x).unwrap_or_else(T::nan)
    }
    fn f1<T: crate::Scalar>(x: T) -> T {
        x.exp() * x.sin() + x.ln() / x.sqrt() + x.cbrt()
    }
    fn f2<T: crate::Scalar>(x: T) -> T {
        x.tan() - x.atan() + x.asinh() + x.tanh() + x.sinh() * x.cosh() + (x + c(1.0)).acosh()
    }
    fn f3<T: crate::Scalar>(x: T) -> T {
        let h = x / c(2.0);
        h.asin() + h.acos() + h.atanh() + x.exp_m1() * x.ln_1p() + x.recip() + (x - c(1.0)).abs()
    }
    fn f4<T: crate::Scalar>(x: T) -> T {
        x.powi(3) + x.powf(x) + x.powf(c(2.5)) + x.hypot(x * x) + x.atan2(c::<T>(1.0) + x)
    }
    fn f5<T: crate::Scalar>(x: T) -> T {
        x.exp2() + x.log2() + x.log10() + x.sigmoid() * (x - c(0.5)).relu() + x % c(0.25) + x.fract()
    }

    #[test]
    fn agrees_with_nested_duals_on_every_float_function() {
        macro_rules! both {
            ($($f:ident),*) => {$(
                for x in [0.3_f64, 0.7, 1.9] {
                    let h = hyper($f, x);
                    let n = nested($f, x);
                    assert!(close(h, n), "{} at {}: hyper-dual {:?}, nested {:?}", stringify!($f), x, h, n);
                }
            )*};
        }
        both!(f1, f2, f3, f4, f5);
    }

    #[test]
    fn mixed_second_derivatives() {
        // f(x, y) = x² y³: ∂²f/∂x∂y = 6 x y²
        let (x, y) = (1.5_f64, -0.5);
        let hx = HyperDual::new(x, 1.0, 0.0, 0.0);
        let hy = HyperDual::new(y, 0.0, 1.0, 0.0);
        let f = hx.powi(2) * hy.powi(3);
        assert_eq!(f.eps12, 6.0 * x * y * y);
        assert_eq!((f.eps1, f.eps2), (2.0 * x * y.powi(3), 3.0 * x * x * y * y));
    }
}
