//! Tangents: what a dual number carries beside its value.

use core::fmt;

use num_traits::Float;

/// The tangent part of a dual number: one derivative (`T` itself) or several at once
/// ([`Tangents`]). A vector space over `T`, with a *structural zero*: scaling a zero
/// tangent gives zero even by an infinite or NaN factor, so constants stay constants where
/// a derivative is not finite (`sqrt` at 0).
pub trait Tangent<T>: Copy + Send + Sync + 'static {
    /// The zero tangent (a constant).
    fn zero() -> Self;
    /// `self + other`.
    fn add(self, other: Self) -> Self;
    /// `self - other`.
    fn sub(self, other: Self) -> Self;
    /// `-self`.
    fn neg(self) -> Self;
    /// `factor · self`, with zero entries left zero.
    fn scale(self, factor: T) -> Self;
    /// True when every entry is zero.
    fn is_zero(&self) -> bool;
}

#[inline]
fn scale_entry<T: Float>(tangent: T, factor: T) -> T {
    if tangent == T::zero() {
        T::zero()
    } else {
        factor * tangent
    }
}

impl<T: Float + Send + Sync + 'static> Tangent<T> for T {
    #[inline]
    fn zero() -> Self {
        T::zero()
    }
    #[inline]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline]
    fn sub(self, other: Self) -> Self {
        self - other
    }
    #[inline]
    fn neg(self) -> Self {
        -self
    }
    #[inline]
    fn scale(self, factor: T) -> Self {
        scale_entry(self, factor)
    }
    #[inline]
    fn is_zero(&self) -> bool {
        *self == T::zero()
    }
}

/// `N` tangents carried together, so one evaluation yields `N` directional derivatives.
/// Stored inline as an array, so the compiler vectorizes the chain rule over them.
#[derive(Clone, Copy, PartialEq)]
pub struct Tangents<T, const N: usize>(pub [T; N]);

impl<T: Float, const N: usize> Tangents<T, N> {
    /// The `i`-th unit tangent (`∂/∂x_i`); all zeros if `i >= N`.
    pub fn unit(i: usize) -> Self {
        let mut t = [T::zero(); N];
        if let Some(slot) = t.get_mut(i) {
            *slot = T::one();
        }
        Tangents(t)
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for Tangents<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T: Float + Send + Sync + 'static, const N: usize> Tangent<T> for Tangents<T, N> {
    #[inline]
    fn zero() -> Self {
        Tangents([T::zero(); N])
    }
    #[inline]
    fn add(mut self, other: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = *a + b;
        }
        self
    }
    #[inline]
    fn sub(mut self, other: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = *a - b;
        }
        self
    }
    #[inline]
    fn neg(mut self) -> Self {
        for a in &mut self.0 {
            *a = -*a;
        }
        self
    }
    #[inline]
    fn scale(mut self, factor: T) -> Self {
        for a in &mut self.0 {
            *a = scale_entry(*a, factor);
        }
        self
    }
    #[inline]
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&a| a == T::zero())
    }
}
