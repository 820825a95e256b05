//! Tangents: what a dual number carries beside its value.

use core::fmt;

use num_traits::Float;

/// The tangent part of a dual number: one derivative (`T` itself) or several at once
/// ([`Tangents`]). A vector space over `T`, with a *structural zero*: scaling a zero
/// tangent gives zero even by an infinite or NaN factor, so constants stay constants where
/// a derivative is not finite (`sqrt` at 0).
pub trait Tangent<T>: Copy {
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
    /// `a · self + b · other`, with zero entries left zero by their factor: the tangent of
    /// a binary op, in one step so that a wide tangent is built once.
    #[inline(always)]
    fn scale_add(self, a: T, other: Self, b: T) -> Self {
        self.scale(a).add(other.scale(b))
    }
}

/// `factor · tangent`, zero for a zero tangent whatever the factor (a structural zero).
#[inline(always)]
pub(crate) fn scale_entry<T: Float>(tangent: T, factor: T) -> T {
    if tangent == T::zero() {
        T::zero()
    } else {
        factor * tangent
    }
}

impl<T: Float + Send + Sync + 'static> Tangent<T> for T {
    #[inline(always)]
    fn zero() -> Self {
        T::zero()
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self - other
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
    #[inline(always)]
    fn scale(self, factor: T) -> Self {
        scale_entry(self, factor)
    }
    #[inline(always)]
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
    #[inline(always)]
    fn zero() -> Self {
        Tangents([T::zero(); N])
    }
    #[inline(always)]
    fn add(mut self, other: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = *a + b;
        }
        self
    }
    #[inline(always)]
    fn sub(mut self, other: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = *a - b;
        }
        self
    }
    #[inline(always)]
    fn neg(mut self) -> Self {
        for a in &mut self.0 {
            *a = -*a;
        }
        self
    }
    #[inline(always)]
    fn scale(mut self, factor: T) -> Self {
        // A finite factor leaves zero entries zero by itself; only an infinite or NaN one
        // needs the entry-by-entry test, so the common case is one multiply per lane.
        if factor.is_finite() {
            for a in &mut self.0 {
                *a = factor * *a;
            }
        } else {
            for a in &mut self.0 {
                *a = scale_entry(*a, factor);
            }
        }
        self
    }
    #[inline(always)]
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&a| a == T::zero())
    }
    #[inline(always)]
    fn scale_add(mut self, a: T, other: Self, b: T) -> Self {
        if a.is_finite() && b.is_finite() {
            for (x, y) in self.0.iter_mut().zip(other.0) {
                *x = a * *x + b * y;
            }
        } else {
            for (x, y) in self.0.iter_mut().zip(other.0) {
                *x = scale_entry(*x, a) + scale_entry(y, b);
            }
        }
        self
    }
}

/// Serialized as a sequence of `N` numbers (serde's own array impls stop at 32).
#[cfg(feature = "serde")]
impl<T: serde::Serialize, const N: usize> serde::Serialize for Tangents<T, N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(N)?;
        for x in &self.0 {
            tuple.serialize_element(x)?;
        }
        tuple.end()
    }
}

#[cfg(feature = "serde")]
impl<'de, T: serde::Deserialize<'de> + Copy + Default, const N: usize> serde::Deserialize<'de> for Tangents<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T, const N: usize>(core::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de> + Copy + Default, const N: usize> serde::de::Visitor<'de> for Visitor<T, N> {
            type Value = Tangents<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a sequence of {N} tangents")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [T::default(); N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(N + 1, &self));
                }
                Ok(Tangents(out))
            }
        }
        deserializer.deserialize_tuple(N, Visitor::<T, N>(core::marker::PhantomData))
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use crate::{Dual, DualVec, HyperDual};

    #[test]
    fn duals_round_trip_through_json() {
        let d = Dual::new(1.5, -2.0);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"re":1.5,"eps":-2.0}"#);
        let back: Dual<f64> = serde_json::from_str(&json).unwrap();
        assert_eq!((back.re, back.eps), (1.5, -2.0));

        let v = DualVec::<f64, 3>::variable_at(0.5, 2);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"re":0.5,"eps":[0.0,0.0,1.0]}"#);
        let back: DualVec<f64, 3> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.eps, v.eps);
        assert!(serde_json::from_str::<DualVec<f64, 3>>(r#"{"re":0.5,"eps":[0.0,1.0]}"#).is_err());
        assert!(serde_json::from_str::<DualVec<f64, 3>>(r#"{"re":0.5,"eps":[0.0,1.0,2.0,3.0]}"#).is_err());

        let h = HyperDual::new(1.0, 2.0, 3.0, 4.0);
        let back: HyperDual<f64> = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!((back.re, back.eps1, back.eps2, back.eps12), (1.0, 2.0, 3.0, 4.0));
    }
}
