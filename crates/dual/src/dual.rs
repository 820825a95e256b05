//! `Dual<T, E>`: a value and its tangent; `DualVec<T, N>`: a value and `N` tangents.

use core::fmt;
use core::ops::{Add, Neg, Sub};

use num_traits::Float;

use crate::float_impl::{
    dual_float_methods, dual_piecewise_constant, dual_scalar_methods, impl_dual_number, impl_scalar_lhs,
};
use crate::tangent::{Tangent, Tangents};

/// A dual number `re + eps·ε` with `ε² = 0`: a value and its derivative along one
/// direction (`E = T`), or along several at once (`E = Tangents<T, N>`, see [`DualVec`]).
///
/// Evaluating a function on `Dual::variable(x)` yields `f(x)` in `re` and `f'(x)` in `eps`.
/// Comparisons (`==`, `<`, `max`, ...) look only at the value, so code written for `f64`
/// takes the same branches on duals. `Dual<Dual<T>>` nests: it carries second derivatives.
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dual<T, E = T> {
    /// The value.
    pub re: T,
    /// The tangent: the derivative(s) of the value along the seeded direction(s).
    pub eps: E,
}

/// A value and `N` tangents: one evaluation gives `N` directional derivatives, so a
/// gradient of `n` inputs takes `ceil(n / N)` evaluations.
pub type DualVec<T, const N: usize> = Dual<T, Tangents<T, N>>;

impl<T: Float, E: Tangent<T>> Dual<T, E> {
    /// A dual with the given value and tangent.
    #[inline(always)]
    pub const fn new(re: T, eps: E) -> Self {
        Dual { re, eps }
    }

    /// A constant: zero tangent.
    #[inline(always)]
    pub fn constant(re: T) -> Self {
        Dual::new(re, E::zero())
    }

    /// True when the tangent is zero.
    #[inline(always)]
    pub fn is_constant(&self) -> bool {
        self.eps.is_zero()
    }

    /// Applies a unary rule `x ↦ (f(x), f'(x))` of [`crate::rules`] by the chain rule.
    #[inline(always)]
    pub fn unary(self, rule: impl Fn(T) -> (T, T)) -> Self {
        let (f, df) = rule(self.re);
        Dual::new(f, self.eps.scale(df))
    }

    /// Applies a binary rule `(a, b) ↦ (f, ∂f/∂a, ∂f/∂b)` of [`crate::rules`] by the chain rule.
    #[inline(always)]
    pub fn binary(self, other: Self, rule: impl Fn(T, T) -> (T, T, T)) -> Self {
        let (f, da, db) = rule(self.re, other.re);
        Dual::new(f, self.eps.scale_add(da, other.eps, db))
    }

    /// `self + c` for a plain `c`: the tangent is unchanged.
    #[inline(always)]
    pub(crate) fn shifted(self, c: T) -> Self {
        Dual::new(self.re + c, self.eps)
    }

    /// `self · c` for a plain `c`: the tangent scaled.
    #[inline(always)]
    pub(crate) fn scaled(self, c: T) -> Self {
        Dual::new(self.re * c, self.eps.scale(c))
    }

    /// `self / c` for a plain `c`: the tangent scaled by `1 / c`, as the quotient rule's
    /// partial in `self` ([`crate::rules::div`]).
    #[inline(always)]
    pub(crate) fn divided(self, c: T) -> Self {
        Dual::new(self.re / c, self.eps.scale(c.recip()))
    }

    #[inline(always)]
    fn powf_by(self, c: T) -> Self {
        self.unary(|x| crate::rules::powf(x, c))
    }
}

impl<T: Float + Send + Sync + 'static> Dual<T> {
    /// The independent variable: tangent 1.
    pub fn variable(re: T) -> Self {
        Dual::new(re, T::one())
    }
}

impl<T: Float + Send + Sync + 'static, const N: usize> DualVec<T, N> {
    /// The `i`-th of `N` independent variables: tangent `e_i`.
    pub fn variable_at(re: T, i: usize) -> Self {
        Dual::new(re, Tangents::unit(i))
    }
}

impl<T: Float + fmt::Display + Send + Sync + 'static> fmt::Display for Dual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.re, self.eps)
    }
}

impl<T: Float + fmt::Display + fmt::Debug + Send + Sync + 'static, const N: usize> fmt::Display for DualVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {:?}ε", self.re, self.eps)
    }
}

impl<T: Float, E: Tangent<T>> Neg for Dual<T, E> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Dual::new(-self.re, self.eps.neg())
    }
}

impl<T: Float, E: Tangent<T>> Add for Dual<T, E> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Dual::new(self.re + rhs.re, self.eps.add(rhs.eps))
    }
}

impl<T: Float, E: Tangent<T>> Sub for Dual<T, E> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Dual::new(self.re - rhs.re, self.eps.sub(rhs.eps))
    }
}

impl_dual_number!([T: Float, E: Tangent<T>] Dual<T, E>);
impl_scalar_lhs!([E: Tangent<f64>] Dual<f64, E>, f64);
impl_scalar_lhs!([E: Tangent<f32>] Dual<f32, E>, f32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HyperDual;
    use num_traits::{NumCast, One, ToPrimitive};

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
    fn plain_float_operands_give_what_promoted_constants_give() {
        type S = DualVec<f64, 3>;
        let xs = [Dual::new(1.5, -2.0), Dual::new(-0.25, 0.0), Dual::new(0.0, 3.0), Dual::new(4.0, f64::INFINITY)];
        let cs = [2.5, -0.5, 0.0, f64::INFINITY, 1e-300];
        for x in xs {
            let (s, h) = (S::new(x.re, Tangents([x.eps, 0.0, -x.eps])), HyperDual::new(x.re, x.eps, 1.0, 0.5));
            for c in cs {
                let k = Dual::constant(c);
                let same = |a: Dual<f64>, b: Dual<f64>| {
                    assert!(a.re.to_bits() == b.re.to_bits() || (a.re.is_nan() && b.re.is_nan()), "{a:?} vs {b:?}");
                    assert!(a.eps == b.eps || (a.eps.is_nan() && b.eps.is_nan()), "{a:?} vs {b:?} at {x:?}, {c}");
                };
                same(x + c, x + k);
                same(x - c, x - k);
                same(x * c, x * k);
                same(x / c, x / k);
                same(x % c, x % k);
                same(c + x, k + x);
                same(c - x, k - x);
                same(c * x, k * x);
                same(c / x, k / x);
                let sk = S::constant(c);
                for (a, b) in [(s * c, s * sk), (s + c, s + sk), (c - s, sk - s), (s / c, s / sk)] {
                    assert_eq!(a.re.to_bits(), b.re.to_bits());
                    let (ta, tb) = (a.eps.0, b.eps.0);
                    assert!(ta.iter().zip(tb).all(|(p, q)| p == &q || (p.is_nan() && q.is_nan())), "{ta:?} vs {tb:?}");
                }
                // Promoted, an infinite first tangent times the constant's zero second one
                // makes the promoted product's `eps12` NaN; the plain operand keeps it finite.
                if x.eps.is_infinite() {
                    continue;
                }
                let hk = HyperDual::constant(c);
                for (a, b) in [(h * c, h * hk), (h - c, h - hk), (c - h, hk - h), (h / c, h / hk)] {
                    let parts = |d: HyperDual<f64>| [d.re, d.eps1, d.eps2, d.eps12];
                    assert!(
                        parts(a).iter().zip(parts(b)).all(|(p, q)| p == &q || (p.is_nan() && q.is_nan())),
                        "{a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn constants_stay_constant_where_the_derivative_is_not_finite() {
        assert_eq!(Dual::<f64>::constant(0.0).sqrt().eps, 0.0);
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
    fn single_precision_works_the_same() {
        let y = Dual::variable(2.0_f32).powi(3) + 1.0_f32;
        assert_eq!((y.re, y.eps), (9.0_f32, 12.0_f32));
        let z = Dual::variable(0.5_f32).atan2(Dual::constant(1.0));
        assert!((z.eps - 1.0 / 1.25).abs() < 1e-6);
    }

    #[test]
    fn several_tangents_at_once() {
        let x = DualVec::<f64, 3>::variable_at(2.0, 0);
        let y = DualVec::<f64, 3>::variable_at(5.0, 1);
        let f = x * y + x.sin();
        assert_eq!(f.eps.0, [5.0 + 2.0_f64.cos(), 2.0, 0.0]);
    }

    #[test]
    fn conversions_keep_the_value() {
        let x: Dual<f64> = NumCast::from(3_u8).unwrap_or_else(Dual::nan);
        assert_eq!((x.re, x.eps), (3.0, 0.0));
        assert_eq!(Dual::new(2.7_f64, 1.0).to_i64(), Some(2));
        assert_eq!(format!("{}", Dual::new(1.5, 2.0)), "1.5 + 2ε");
        assert_eq!(format!("{}", DualVec::<f64, 2>::variable_at(1.5, 1)), "1.5 + [0.0, 1.0]ε");
    }
}
