//! The number traits, written once for every dual type.
//!
//! A dual type provides a `re` field, `constant`, `is_constant`, and the two chain rules
//! `unary(rule)` and `binary(other, rule)`, which apply a rule of [`crate::rules`]; this
//! macro derives from them `Float`, the arithmetic operators, and the `num_traits`
//! conversions, so every dual type differentiates exactly the same set of functions with
//! exactly the same rules.

/// The `float` rows of the op table on a dual type: each applies its rule.
macro_rules! dual_float_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        $(dual_float_methods!(@one $kind $method);)*
    };
    (@one float $method:ident) => {
        #[inline(always)]
        fn $method(self) -> Self {
            self.unary(crate::rules::$method)
        }
    };
    (@one $kind:ident $method:ident) => {};
}

/// The piecewise constant functions on a dual type: constants.
macro_rules! dual_piecewise_constant {
    ($($name:ident),*) => {$(
        /// Piecewise constant: the derivative is 0 wherever it exists.
        fn $name(self) -> Self {
            Self::constant(self.re.$name())
        }
    )*};
}

/// The `scalar` rows of the op table on a dual type: each applies its rule.
macro_rules! dual_scalar_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        $(dual_scalar_methods!(@one $kind $method);)*
    };
    (@one scalar $method:ident) => {
        #[inline(always)]
        fn $method(self) -> Self {
            self.unary(crate::rules::$method)
        }
    };
    (@one $kind:ident $method:ident) => {};
}

macro_rules! impl_dual_number {
    ([$($gen:tt)*] $ty:ty) => {
        impl<$($gen)*> PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.re == other.re
            }
        }

        impl<$($gen)*> PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
                self.re.partial_cmp(&other.re)
            }
        }

        impl<$($gen)*> core::ops::Mul for $ty {
            type Output = Self;
            #[inline(always)]
            fn mul(self, rhs: Self) -> Self {
                self.binary(rhs, crate::rules::mul)
            }
        }

        impl<$($gen)*> core::ops::Div for $ty {
            type Output = Self;
            #[inline(always)]
            fn div(self, rhs: Self) -> Self {
                self.binary(rhs, crate::rules::div)
            }
        }

        impl<$($gen)*> core::ops::Rem for $ty {
            type Output = Self;
            #[inline(always)]
            fn rem(self, rhs: Self) -> Self {
                self.binary(rhs, crate::rules::rem)
            }
        }

        // A plain-float operand is a constant whose tangent is zero, so `x + c` keeps `x`'s
        // tangents and `x * c` scales them: no product rule, no promoted constant.
        impl_dual_number!(@assign [$($gen)*] $ty, Add add AddAssign add_assign, |x: Self, c: T| x.shifted(c));
        impl_dual_number!(@assign [$($gen)*] $ty, Sub sub SubAssign sub_assign, |x: Self, c: T| x.shifted(-c));
        impl_dual_number!(@assign [$($gen)*] $ty, Mul mul MulAssign mul_assign, |x: Self, c: T| x.scaled(c));
        impl_dual_number!(@assign [$($gen)*] $ty, Div div DivAssign div_assign, |x: Self, c: T| x.divided(c));
        impl_dual_number!(@assign [$($gen)*] $ty, Rem rem RemAssign rem_assign, |x: Self, c: T| x % Self::constant(c));

        impl<$($gen)*> core::iter::Sum for $ty {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                iter.fold(<Self as num_traits::Zero>::zero(), |a, b| a + b)
            }
        }

        impl<$($gen)*> core::iter::Product for $ty {
            fn product<I: Iterator<Item = Self>>(iter: I) -> Self {
                iter.fold(<Self as num_traits::One>::one(), |a, b| a * b)
            }
        }

        impl<$($gen)*> num_traits::Zero for $ty {
            fn zero() -> Self {
                Self::constant(T::zero())
            }
            fn is_zero(&self) -> bool {
                self.re.is_zero()
            }
        }

        impl<$($gen)*> num_traits::One for $ty {
            fn one() -> Self {
                Self::constant(T::one())
            }
        }

        impl<$($gen)*> num_traits::Num for $ty {
            type FromStrRadixErr = T::FromStrRadixErr;
            fn from_str_radix(s: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
                T::from_str_radix(s, radix).map(Self::constant)
            }
        }

        impl<$($gen)*> num_traits::ToPrimitive for $ty {
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

        impl<$($gen)*> num_traits::NumCast for $ty {
            fn from<N: num_traits::ToPrimitive>(n: N) -> Option<Self> {
                <T as num_traits::NumCast>::from(n).map(Self::constant)
            }
        }

        impl<$($gen)*> num_traits::FromPrimitive for $ty {
            fn from_i64(n: i64) -> Option<Self> {
                <T as num_traits::NumCast>::from(n).map(Self::constant)
            }
            fn from_u64(n: u64) -> Option<Self> {
                <T as num_traits::NumCast>::from(n).map(Self::constant)
            }
            fn from_f64(n: f64) -> Option<Self> {
                <T as num_traits::NumCast>::from(n).map(Self::constant)
            }
        }

        impl<$($gen)*> num_traits::Signed for $ty {
            fn abs(&self) -> Self {
                num_traits::Float::abs(*self)
            }
            fn abs_sub(&self, other: &Self) -> Self {
                num_traits::Float::abs_sub(*self, *other)
            }
            fn signum(&self) -> Self {
                num_traits::Float::signum(*self)
            }
            fn is_positive(&self) -> bool {
                self.re > T::zero()
            }
            fn is_negative(&self) -> bool {
                self.re < T::zero()
            }
        }

        impl<$($gen)*> num_traits::Float for $ty {
            impl_dual_number!(@constants nan, infinity, neg_infinity, neg_zero, min_value, min_positive_value, max_value, epsilon);
            impl_dual_number!(@predicates is_nan, is_infinite, is_finite, is_normal, is_sign_positive, is_sign_negative);
            crate::piecewise_constant_functions!(dual_piecewise_constant);
            crate::unary_table!(dual_float_methods);
            impl_dual_number!(@unary fract);

            fn classify(self) -> core::num::FpCategory {
                self.re.classify()
            }

            fn mul_add(self, a: Self, b: Self) -> Self {
                self * a + b
            }

            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                self.unary(|x| crate::rules::powi(x, n))
            }

            /// `self^n`; with a constant exponent the power rule, otherwise the rule of
            /// `a^b` in both operands.
            #[inline(always)]
            fn powf(self, n: Self) -> Self {
                if n.is_constant() {
                    self.powf_by(n.re)
                } else {
                    self.binary(n, crate::rules::pow)
                }
            }

            fn log(self, base: Self) -> Self {
                self.ln() / base.ln()
            }

            fn max(self, other: Self) -> Self {
                if crate::rules::max_is_left(self.re, other.re) { self } else { other }
            }

            fn min(self, other: Self) -> Self {
                if crate::rules::min_is_left(self.re, other.re) { self } else { other }
            }

            fn abs_sub(self, other: Self) -> Self {
                if crate::rules::abs_sub_is_zero(self.re, other.re) { <Self as num_traits::Zero>::zero() } else { self - other }
            }

            #[inline(always)]
            fn hypot(self, other: Self) -> Self {
                self.binary(other, crate::rules::hypot)
            }

            #[inline(always)]
            fn atan2(self, other: Self) -> Self {
                self.binary(other, crate::rules::atan2)
            }

            #[inline(always)]
            fn sin_cos(self) -> (Self, Self) {
                (self.sin(), self.cos())
            }

            fn integer_decode(self) -> (u64, i16, i8) {
                self.re.integer_decode()
            }
        }

        impl<$($gen)*> crate::Scalar for $ty
        where
            T: crate::Scalar,
            Self: core::fmt::Debug + Send + Sync + 'static,
        {
            crate::unary_table!(dual_scalar_methods);
            #[inline(always)]
            fn int_power(self, n: i32) -> Self {
                num_traits::Float::powi(self, n)
            }
            #[inline(always)]
            fn maximum(self, other: Self) -> Self {
                self.binary(other, crate::rules::maximum)
            }
            #[inline(always)]
            fn minimum(self, other: Self) -> Self {
                self.binary(other, crate::rules::minimum)
            }
            #[inline(always)]
            fn leaky_relu(self, negative_slope: Self) -> Self {
                self.binary(negative_slope, crate::rules::leaky_relu)
            }
            fn detach(self) -> Self {
                Self::constant(self.re)
            }
            #[inline(always)]
            fn is_exactly_zero(self) -> bool {
                self.re.is_exactly_zero() && self.is_constant()
            }
        }
    };

    (@assign [$($gen:tt)*] $ty:ty, $Op:ident $op:ident $OpAssign:ident $op_assign:ident, $with_float:expr) => {
        impl<$($gen)*> core::ops::$Op<T> for $ty {
            type Output = Self;
            #[inline(always)]
            fn $op(self, rhs: T) -> Self {
                ($with_float)(self, rhs)
            }
        }
        impl<$($gen)*> core::ops::$OpAssign for $ty {
            #[inline(always)]
            fn $op_assign(&mut self, rhs: Self) {
                *self = core::ops::$Op::$op(*self, rhs);
            }
        }
        impl<$($gen)*> core::ops::$OpAssign<T> for $ty {
            #[inline(always)]
            fn $op_assign(&mut self, rhs: T) {
                *self = ($with_float)(*self, rhs);
            }
        }
    };

    (@constants $($name:ident),*) => {$(
        fn $name() -> Self {
            Self::constant(T::$name())
        }
    )*};

    (@predicates $($name:ident),*) => {$(
        fn $name(self) -> bool {
            self.re.$name()
        }
    )*};

    (@unary $($name:ident),*) => {$(
        #[inline(always)]
        fn $name(self) -> Self {
            self.unary(crate::rules::$name)
        }
    )*};
}

/// `f64 + dual`, `f32 * dual`, ...: the operators with a plain float on the left.
macro_rules! impl_scalar_lhs {
    ([$($gen:tt)*] $ty:ty, $t:ty) => {
        impl_scalar_lhs!(@each [$($gen)*] $ty, $t, Add add, |c: $t, x: $ty| x.shifted(c));
        impl_scalar_lhs!(@each [$($gen)*] $ty, $t, Sub sub, |c: $t, x: $ty| (-x).shifted(c));
        impl_scalar_lhs!(@each [$($gen)*] $ty, $t, Mul mul, |c: $t, x: $ty| x.scaled(c));
        impl_scalar_lhs!(@each [$($gen)*] $ty, $t, Div div, |c: $t, x: $ty| <$ty>::constant(c) / x);
        impl_scalar_lhs!(@each [$($gen)*] $ty, $t, Rem rem, |c: $t, x: $ty| <$ty>::constant(c) % x);
    };
    (@each [$($gen:tt)*] $ty:ty, $t:ty, $Op:ident $op:ident, $with_float:expr) => {
        impl<$($gen)*> core::ops::$Op<$ty> for $t {
            type Output = $ty;
            #[inline(always)]
            fn $op(self, rhs: $ty) -> $ty {
                ($with_float)(self, rhs)
            }
        }
    };
}

pub(crate) use impl_scalar_lhs;
pub(crate) use {dual_float_methods, dual_piecewise_constant, dual_scalar_methods, impl_dual_number};
