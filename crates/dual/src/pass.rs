//! Tangents of a chunked pass, kept in a per-thread buffer: the dual holds only where its
//! lanes are, and which of the `N` lanes it has.

use core::cell::RefCell;
use core::fmt;
use core::marker::PhantomData;
use std::sync::atomic::{AtomicU16, Ordering};

use num_traits::Float;

use crate::tangent::{scale_entry, Tangent};

/// The lanes of the tangents made during the open passes on this thread: rows of
/// consecutive lanes, appended as values are computed and dropped when their pass ends.
#[derive(Debug)]
pub struct LaneBuffer<T> {
    /// Rows `..top` are in use; the rest is room, kept between passes.
    lanes: Vec<T>,
    top: usize,
    generation: u16,
}

/// The plain floats whose duals can keep their tangents in a [`LaneBuffer`]: `f32`, `f64`.
pub trait LaneScalar: Float + fmt::Debug + Send + Sync + 'static {
    /// Runs `f` on this thread's buffer of `Self`.
    fn with_lanes<R>(f: impl FnOnce(&mut LaneBuffer<Self>) -> R) -> R;
}

macro_rules! lane_scalar {
    ($($t:ty => $name:ident),*) => {$(
        thread_local! {
            static $name: RefCell<LaneBuffer<$t>> = const { RefCell::new(LaneBuffer { lanes: Vec::new(), top: 0, generation: 0 }) };
        }
        impl LaneScalar for $t {
            #[inline(always)]
            fn with_lanes<R>(f: impl FnOnce(&mut LaneBuffer<Self>) -> R) -> R {
                $name.with_borrow_mut(f)
            }
        }
    )*};
}
lane_scalar!(f32 => LANES_F32, f64 => LANES_F64);

/// Generations are drawn from one counter, so a dual taken to another thread, or kept
/// past its pass, does not match the pass it is used in.
static NEXT_GENERATION: AtomicU16 = AtomicU16::new(1);

/// `N` tangents of which only lanes `lo..lo + len` may be nonzero, those kept in this
/// thread's [`LaneBuffer`] for the duration of one pass of [`crate::gradient`] or
/// [`crate::jacobian`]; `len == 0` is a constant, which has no lanes at all.
///
/// So a constant costs no tangent work, a value whose tangent passes through unchanged
/// (`x + c`, a running sum past the seeded inputs) copies nothing, and a value that depends
/// on a few seeded inputs (a term of a sum) carries only their lanes. Values of this type
/// live only inside the pass that made them: the helpers hand them to your closure and
/// read its result; using one after its pass, or on another thread, panics.
#[derive(Clone, Copy)]
pub struct PassTangents<T, const N: usize> {
    start: u32,
    lo: u8,
    len: u8,
    generation: u16,
    _lanes: PhantomData<fn() -> T>,
}

impl<T, const N: usize> fmt::Debug for PassTangents<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            f.write_str("constant")
        } else {
            write!(f, "lanes {}..{}", self.lo, self.lo + self.len)
        }
    }
}

#[cold]
#[inline(never)]
fn used_outside_its_pass() -> ! {
    panic!(
        "a chunked dual was used outside the pass that made it: its tangents live only inside the closure \
         given to gradient or jacobian, on its thread (return values; do not keep duals)"
    )
}

/// `dst = factor · src`, zero entries left zero when `factor` is not finite.
#[inline(always)]
fn scale_into<T: Float>(dst: &mut [T], src: &[T], factor: T, finite: bool) {
    if finite {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = factor * s);
    } else {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = scale_entry(s, factor));
    }
}

/// `dst += factor · src`, zero entries left zero when `factor` is not finite.
#[inline(always)]
fn add_scaled<T: Float>(dst: &mut [T], src: &[T], factor: T, finite: bool) {
    if finite {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + factor * s);
    } else {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + scale_entry(s, factor));
    }
}

/// Where the previous pass left the buffer, restored by [`LaneBuffer::end_pass`].
#[derive(Debug)]
pub(crate) struct PassMark {
    len: usize,
    generation: u16,
}

impl<T: LaneScalar> LaneBuffer<T> {
    /// Opens a pass: lanes made from here on belong to it, and duals of an outer pass are
    /// refused until it ends.
    pub(crate) fn begin_pass() -> PassMark {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        T::with_lanes(|buffer| {
            let mark = PassMark { len: buffer.top, generation: buffer.generation };
            buffer.generation = generation;
            mark
        })
    }

    /// Closes the pass `mark` opened, dropping its lanes.
    pub(crate) fn end_pass(mark: PassMark) {
        T::with_lanes(|buffer| {
            buffer.top = mark.len;
            buffer.generation = mark.generation;
        });
    }

    /// Where the lanes of `t` start, after checking that they belong to the open pass.
    #[inline(always)]
    fn row_start<const N: usize>(&self, t: PassTangents<T, N>) -> usize {
        let start = t.start as usize;
        if t.generation != self.generation || start + usize::from(t.len) > self.top {
            used_outside_its_pass()
        }
        start
    }

    #[inline(always)]
    fn row<const N: usize>(&self, t: PassTangents<T, N>) -> &[T] {
        let start = self.row_start(t);
        &self.lanes[start..start + usize::from(t.len)]
    }

    #[inline(always)]
    fn handle<const N: usize>(&self, start: usize, lo: usize, len: usize) -> PassTangents<T, N> {
        let Ok(start) = u32::try_from(start) else {
            panic!("a chunked pass made more than 2^32 tangent lanes; use a smaller chunk")
        };
        // lo + len <= N <= 255, checked when the pass was opened.
        PassTangents { start, lo: lo as u8, len: len as u8, generation: self.generation, _lanes: PhantomData }
    }

    /// The unit tangents `e_0, e_1, ...` written to `seeds`: one row holding a single 1,
    /// which every seed reads at its own lane (rows are never written twice).
    pub(crate) fn units<'a, const N: usize>(seeds: impl Iterator<Item = (usize, &'a mut PassTangents<T, N>)>) {
        T::with_lanes(|buffer| {
            let start = buffer.new_row(1);
            buffer.lanes[start] = T::one();
            for (i, seed) in seeds {
                *seed = buffer.handle(start, i, 1);
            }
        });
    }

    /// The `N` lanes of `t`, zeros outside its band, written to `out` (at most `N` long).
    pub(crate) fn read<const N: usize>(t: PassTangents<T, N>, out: &mut [T]) {
        out.fill(T::zero());
        if t.len == 0 {
            return;
        }
        T::with_lanes(|buffer| {
            let row = buffer.row(t);
            let lo = usize::from(t.lo);
            for (slot, &v) in out.iter_mut().skip(lo).zip(row) {
                *slot = v;
            }
        });
    }

    /// A new row of `len` lanes, its start returned; its lanes hold whatever the buffer
    /// held there (every caller writes them all).
    #[inline(always)]
    fn new_row(&mut self, len: usize) -> usize {
        let start = self.top;
        let end = start + len;
        if end > self.lanes.len() {
            self.lanes.resize(end.max(2 * self.lanes.len()).max(4096), T::zero());
        }
        self.top = end;
        start
    }

    #[inline(never)]
    fn scaled<const N: usize>(t: PassTangents<T, N>, factor: T) -> PassTangents<T, N> {
        T::with_lanes(|buffer| {
            let from = buffer.row_start(t);
            let len = usize::from(t.len);
            let start = buffer.new_row(len);
            let (old, new) = buffer.lanes.split_at_mut(start);
            scale_into(&mut new[..len], &old[from..from + len], factor, factor.is_finite());
            buffer.handle(start, usize::from(t.lo), len)
        })
    }

    #[inline(never)]
    fn combined<const N: usize>(a: PassTangents<T, N>, fa: T, b: PassTangents<T, N>, fb: T) -> PassTangents<T, N> {
        T::with_lanes(|buffer| {
            let (a_from, b_from) = (buffer.row_start(a), buffer.row_start(b));
            let finite = fa.is_finite() && fb.is_finite();
            let (a_lo, a_len, b_lo, b_len) =
                (usize::from(a.lo), usize::from(a.len), usize::from(b.lo), usize::from(b.len));
            // A sum of two rows that already lie side by side in the buffer, in the order of
            // their bands (a running sum and the term made just after it), is both rows
            // read as one: no lane is written.
            if fa == T::one() && fb == T::one() {
                let (first, second) = if a_lo < b_lo { (&a, &b) } else { (&b, &a) };
                let (first_end, first_lo) = (first.start as usize + usize::from(first.len), usize::from(first.lo));
                if first_end == second.start as usize && first_lo + usize::from(first.len) == usize::from(second.lo) {
                    return buffer.handle(first.start as usize, first_lo, a_len + b_len);
                }
            }
            let lo = a_lo.min(b_lo);
            let len = (a_lo + a_len).max(b_lo + b_len) - lo;
            let start = buffer.new_row(len);
            let (old, new) = buffer.lanes.split_at_mut(start);
            let new = &mut new[..len];
            let (x, y) = (&old[a_from..a_from + a_len], &old[b_from..b_from + b_len]);
            if a_len == len && b_len == len {
                if finite {
                    new.iter_mut().zip(x.iter().zip(y)).for_each(|(d, (&x, &y))| *d = fa * x + fb * y);
                } else {
                    new.iter_mut()
                        .zip(x.iter().zip(y))
                        .for_each(|(d, (&x, &y))| *d = scale_entry(x, fa) + scale_entry(y, fb));
                }
                return buffer.handle(start, lo, len);
            }
            // The wider band first, written whole; then the other added into its place.
            let ((wide, wide_lo, wide_f), (narrow, narrow_lo, narrow_f)) =
                if a_len == len { ((x, a_lo, fa), (y, b_lo, fb)) } else { ((y, b_lo, fb), (x, a_lo, fa)) };
            // Each lane written once, then the narrow band's lanes added where they overlap:
            // the lanes outside the wide band are zero, or the narrow band's own.
            let (wide_at, narrow_at) = (wide_lo - lo, narrow_lo - lo);
            scale_into(&mut new[wide_at..wide_at + wide.len()], wide, wide_f, finite);
            new[..wide_at].fill(T::zero());
            new[wide_at + wide.len()..].fill(T::zero());
            add_scaled(&mut new[narrow_at..narrow_at + narrow.len()], narrow, narrow_f, finite);
            buffer.handle(start, lo, len)
        })
    }

    fn all_zero<const N: usize>(t: PassTangents<T, N>) -> bool {
        T::with_lanes(|buffer| buffer.row(t).iter().all(|&x| x == T::zero()))
    }
}

impl<T: LaneScalar, const N: usize> PassTangents<T, N> {
    #[inline(always)]
    fn is_constant(self) -> bool {
        self.len == 0
    }
}

impl<T: LaneScalar, const N: usize> Tangent<T> for PassTangents<T, N> {
    #[inline(always)]
    fn zero() -> Self {
        PassTangents { start: 0, lo: 0, len: 0, generation: 0, _lanes: PhantomData }
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.scale_add(T::one(), other, T::one())
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self.scale_add(T::one(), other, -T::one())
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self.scale(-T::one())
    }
    #[inline(always)]
    fn scale(self, factor: T) -> Self {
        // `1 · x` is `x`: a tangent passed through unchanged (`x * 1`, `sum + c`) shares its row.
        if self.is_constant() || factor == T::one() {
            self
        } else {
            LaneBuffer::scaled(self, factor)
        }
    }
    #[inline(always)]
    fn is_zero(&self) -> bool {
        self.is_constant() || LaneBuffer::all_zero(*self)
    }
    #[inline(always)]
    fn scale_add(self, a: T, other: Self, b: T) -> Self {
        match (self.is_constant(), other.is_constant()) {
            (true, true) => self,
            (false, true) => self.scale(a),
            (true, false) => other.scale(b),
            (false, false) => LaneBuffer::combined(self, a, other, b),
        }
    }
}

/// A value and `N` tangents kept in this thread's lane buffer for one pass: the number
/// type the chunked helpers ([`crate::gradient`], [`crate::jacobian`], [`crate::Workspace`])
/// evaluate your function on. It implements `num_traits::Float` (and [`crate::Scalar`]), so
/// a function written over `T: Float` runs on it; the helpers make the seeded inputs, and
/// [`Dual::constant`](crate::Dual::constant) makes a constant anywhere.
pub type ChunkDual<T, const N: usize> = crate::Dual<T, PassTangents<T, N>>;

impl<T: LaneScalar, const N: usize> ChunkDual<T, N> {
    /// The `N` tangents, zeros outside the lanes the value depends on; read inside the pass
    /// that made it (outside it, this panics).
    pub fn tangents(&self) -> [T; N] {
        let mut out = [T::zero(); N];
        self.write_tangents(&mut out);
        out
    }

    /// The first `out.len()` (at most `N`) tangents written to `out`.
    pub(crate) fn write_tangents(&self, out: &mut [T]) {
        LaneBuffer::read(self.eps, out);
    }
}

/// One open pass on this thread, closed when dropped (also when the closure panics): its
/// lanes are dropped and the enclosing pass, if any, is current again.
pub(crate) struct Pass<T: LaneScalar> {
    mark: Option<PassMark>,
    _lanes: PhantomData<T>,
}

impl<T: LaneScalar> Pass<T> {
    /// Opens a pass in which `inputs` take the unit tangents `e_0, e_1, ...`.
    pub(crate) fn open<const N: usize>(inputs: &mut [ChunkDual<T, N>]) -> Self {
        const { assert!(N > 0 && N < 256, "a chunk carries 1 to 255 tangents") };
        let pass = Pass { mark: Some(LaneBuffer::<T>::begin_pass()), _lanes: PhantomData };
        LaneBuffer::units(inputs.iter_mut().map(|d| &mut d.eps).enumerate());
        pass
    }
}

impl<T: LaneScalar> Drop for Pass<T> {
    fn drop(&mut self) {
        if let Some(mark) = self.mark.take() {
            LaneBuffer::<T>::end_pass(mark);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{gradient, jacobian, Dual, DualVec, Workspace};
    use num_traits::Float;
    use proptest::prelude::*;

    fn lanes_in_use() -> usize {
        f64::with_lanes(|buffer| buffer.top)
    }

    /// Bands that are equal, nested, overlapping, adjacent and apart, with the running sum
    /// of a chunk: each shape of union the buffer builds.
    fn bands<T: Float>(x: &[T]) -> T {
        let mut sum = T::zero();
        for w in x.windows(3) {
            let same = w[0] * w[0];
            let overlapping = (w[0] - w[1]) * (w[1] + w[2]);
            let apart = w[0].sin() * w[2].exp();
            sum = sum + same * overlapping + apart / (T::one() + w[1] * w[1]);
        }
        sum
    }

    #[test]
    fn banded_tangents_give_the_dense_tangents_bitwise() {
        let x: Vec<f64> = (0..11).map(|i| 0.37 * i as f64 - 1.3).collect();
        let dense = |x: &[f64]| {
            let seeded: Vec<DualVec<f64, 11>> =
                x.iter().enumerate().map(|(i, &v)| DualVec::variable_at(v, i)).collect();
            let y = bands(&seeded);
            (y.re, y.eps.0.to_vec())
        };
        let (want_value, want) = dense(&x);
        for (value, grad) in [
            gradient::<f64, 1>(bands, &x),
            gradient::<f64, 3>(bands, &x),
            gradient::<f64, 4>(bands, &x),
            gradient::<f64, 16>(bands, &x),
        ] {
            assert_eq!(value.to_bits(), want_value.to_bits());
            assert_eq!(grad, want);
        }
        assert_eq!(lanes_in_use(), 0, "every pass returns its lanes");
    }

    #[test]
    fn a_running_sum_of_terms_made_in_order_writes_no_lanes() {
        let lanes_per_step = std::cell::RefCell::new(Vec::new());
        let dense_sum = |x: &[ChunkDual<f64, 8>]| {
            let mut z = ChunkDual::constant(0.5);
            for (j, &xj) in x.iter().enumerate() {
                let before = lanes_in_use();
                z += xj * (j as f64 + 1.0);
                lanes_per_step.borrow_mut().push(lanes_in_use() - before);
            }
            z.tanh()
        };
        let x = [0.1, -0.2, 0.3, 0.05, -0.15, 0.25, 0.0, 0.2, -0.1, 0.4];
        let (value, grad) = gradient(dense_sum, &x);
        let z: f64 = 0.5 + x.iter().enumerate().map(|(j, v)| v * (j as f64 + 1.0)).sum::<f64>();
        assert_eq!(value, z.tanh());
        let dense: Vec<DualVec<f64, 10>> = x.iter().enumerate().map(|(i, &v)| DualVec::variable_at(v, i)).collect();
        let mut zd = DualVec::constant(0.5);
        for (j, &xj) in dense.iter().enumerate() {
            zd += xj * (j as f64 + 1.0);
        }
        assert_eq!(grad, zd.tanh().eps.0.to_vec());
        // Lanes written per step, two passes of 8 and 2 inputs. Pass 1: `x0 * 1` shares the
        // seeds' row (the pass's last row, one lane holding 1); each product writes its one
        // lane right after the sum's row and the sum reads the two as one; constants write
        // nothing. A sum that copied its row would write 2, 3, 4, ... lanes.
        let steps = lanes_per_step.into_inner();
        assert_eq!(steps, [0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn an_infinite_factor_leaves_zero_lanes_zero() {
        // sqrt at 0 has an infinite derivative: the lanes its argument lacks stay zero, and
        // so do lanes that are computed zeros inside a band, as in dense mode.
        let f = |x: &[ChunkDual<f64, 4>]| (x[0] - x[0]).sqrt() + (x[1] * 0.0 + x[2] * x[2]).sqrt() + x[3];
        let (value, grad) = gradient(f, &[1.0, 2.0, 0.0, 5.0]);
        assert_eq!(value, 5.0);
        assert_eq!(grad, vec![0.0, 0.0, 0.0, 1.0]);
        let dense = {
            let x: Vec<DualVec<f64, 4>> =
                [1.0, 2.0, 0.0, 5.0].iter().enumerate().map(|(i, &v)| DualVec::variable_at(v, i)).collect();
            ((x[0] - x[0]).sqrt() + (x[1] * 0.0 + x[2] * x[2]).sqrt() + x[3]).eps.0
        };
        for (b, d) in grad.iter().zip(dense) {
            assert!(*b == d || (b.is_nan() && d.is_nan()), "{grad:?} vs {dense:?}");
        }
    }

    #[test]
    fn an_infinite_factor_in_a_union_of_bands_leaves_zero_lanes_zero() {
        // x1 · (x0 · 0): the product rule scales the row of `x0 · 0` (a computed zero) by
        // x1 = ∞, and x1's own lane by 0; the bands [0] and [1] make a new row of two.
        let f = |x: &[ChunkDual<f64, 2>]| x[1] * (x[0] * 0.0) + x[0] * x[1];
        let dense = |x: [f64; 2]| {
            let d = [DualVec::<f64, 2>::variable_at(x[0], 0), DualVec::variable_at(x[1], 1)];
            let y = d[1] * (d[0] * 0.0) + d[0] * d[1];
            y.eps.0.to_vec()
        };
        for x in [[2.0, f64::INFINITY], [f64::INFINITY, 3.0], [2.0, 3.0]] {
            let (_, grad) = gradient(f, &x);
            let want = dense(x);
            assert!(
                grad.iter().zip(&want).all(|(g, w)| g == w || (g.is_nan() && w.is_nan())),
                "at {x:?}: {grad:?} vs {want:?}"
            );
        }
        assert_eq!(gradient(f, &[2.0, f64::INFINITY]).1, vec![f64::INFINITY, 2.0]);
    }

    /// A dual type with plain `f64` operands, as both `ChunkDual` and `DualVec` are.
    trait WithF64: Float + core::ops::Mul<f64, Output = Self> + core::ops::Add<f64, Output = Self> {}
    impl<D: Float + core::ops::Mul<f64, Output = D> + core::ops::Add<f64, Output = D>> WithF64 for D {}

    /// One band, an infinite factor (`exp(1000)`) on a lane that is a computed zero.
    fn same_band<D: WithF64>(x: &[D]) -> D {
        (x[0] * 0.0 + 5.0) * x[0].exp()
    }
    /// A negative lane under an infinite factor keeps its sign.
    fn signed<D: WithF64>(x: &[D]) -> D {
        (x[0] * -2.0) * x[1]
    }
    fn negated<D: WithF64>(x: &[D]) -> D {
        -(x[0] * x[1]) - x[1]
    }

    #[test]
    fn negation_cancellation_and_infinite_factors_on_one_band() {
        let agrees = |f: fn(&[ChunkDual<f64, 2>]) -> ChunkDual<f64, 2>,
                      dense: fn(&[DualVec<f64, 2>]) -> DualVec<f64, 2>,
                      x: [f64; 2]| {
            let (_, grad) = gradient(f, &x);
            let want = dense(&[DualVec::variable_at(x[0], 0), DualVec::variable_at(x[1], 1)]).eps.0;
            assert!(
                grad.iter().zip(want).all(|(g, w)| *g == w || (g.is_nan() && w.is_nan())),
                "at {x:?}: {grad:?} vs {want:?}"
            );
            grad
        };
        assert_eq!(agrees(same_band, same_band, [1000.0, 1.0]), vec![f64::INFINITY, 0.0]);
        assert_eq!(agrees(signed, signed, [1.0, f64::INFINITY]), vec![f64::NEG_INFINITY, -2.0]);
        assert_eq!(agrees(negated, negated, [2.0, 3.0]), vec![-3.0, -3.0]);
        let (_, _) = gradient::<f64, 2>(
            |x| {
                let (p, q) = (x[0] * x[1], x[0] * x[1]);
                assert!((p - q).is_constant() && !p.is_constant(), "a band of computed zeros is a constant");
                p
            },
            &[2.0, 3.0],
        );
    }

    #[test]
    fn debug_shows_the_band() {
        let (_, _) = gradient::<f64, 4>(
            |x| {
                let wide = x[0] + x[1] * 2.0 + x[2] * 3.0;
                assert_eq!(format!("{:?}", wide.eps), "lanes 0..3");
                assert_eq!(format!("{:?}", (x[1] * x[2]).eps), "lanes 1..3");
                assert_eq!(format!("{:?}", ChunkDual::<f64, 4>::constant(1.0).eps), "constant");
                wide
            },
            &[1.0, 2.0, 3.0],
        );
    }

    #[test]
    fn a_dual_kept_past_its_pass_or_sent_to_another_thread_is_refused() {
        let kept = std::sync::Mutex::new(None);
        let _ = gradient::<f64, 2>(
            |x| {
                *kept.lock().unwrap() = Some(x[0] * x[1]);
                x[0] + x[1]
            },
            &[1.0, 2.0],
        );
        let stale = kept.lock().unwrap().unwrap();
        // The later pass has made rows past the stale one's, so only its pass tells them apart.
        let used_later = std::panic::catch_unwind(|| {
            gradient::<f64, 2>(|x| (x[0] * 3.0 + x[1] * 5.0 + x[0] * x[1]) * stale, &[3.0, 4.0])
        });
        let message = used_later.unwrap_err();
        let message = message.downcast_ref::<&str>().unwrap();
        assert!(message.contains("outside the pass that made it"), "{message}");

        let on_another_thread = gradient::<f64, 2>(
            |x| {
                let y = x[0] * x[1];
                let there = std::thread::spawn(move || std::panic::catch_unwind(|| (y * y).re).is_err());
                assert!(there.join().unwrap(), "another thread has no lanes of this pass");
                y
            },
            &[1.0, 2.0],
        );
        assert_eq!(on_another_thread, (2.0, vec![2.0, 1.0]));
    }

    #[test]
    fn passes_nest_and_a_panicking_closure_closes_its_pass() {
        // A gradient inside the function of another: the inner passes stack on the outer one.
        let outer = |x: &[ChunkDual<f64, 2>]| {
            let (inner_value, inner_grad) = gradient::<f64, 2>(|y| y[0] * y[1] * y[2], &[1.0, 2.0, 3.0]);
            x[0] * inner_value + x[1] * inner_grad[2]
        };
        assert_eq!(gradient(outer, &[4.0, 5.0, 6.0]), (4.0 * 6.0 + 5.0 * 2.0, vec![6.0, 2.0, 0.0]));

        let panicked = std::panic::catch_unwind(|| {
            gradient::<f64, 2>(|x| if x[0].re > 0.0 { panic!("the caller's bug") } else { x[0] }, &[1.0, 2.0])
        });
        assert!(panicked.is_err());
        assert_eq!(lanes_in_use(), 0, "the pass was closed while unwinding");
        assert_eq!(gradient::<f64, 2>(|x| x[0] * x[1], &[3.0, 4.0]), (12.0, vec![4.0, 3.0]));
    }

    #[test]
    fn jacobian_rows_through_banded_tangents() {
        let map = |x: &[ChunkDual<f64, 2>]| vec![x[0] * x[2], x[1] - x[2] * 2.0, x[2].exp()];
        let (y, j) = Workspace::new().jacobian(map, &[2.0, 3.0, 0.0]).unwrap();
        assert_eq!(y, vec![0.0, 3.0, 1.0]);
        assert_eq!(j, vec![vec![0.0, 0.0, 2.0], vec![0.0, 1.0, -2.0], vec![0.0, 0.0, 1.0]]);
        assert_eq!(jacobian(map, &[2.0, 3.0, 0.0]).unwrap().1, j);
    }

    /// One step of a random program: an op and the earlier values it reads.
    #[derive(Clone, Debug)]
    enum Step {
        Add(usize, usize),
        Sub(usize, usize),
        Mul(usize, usize),
        Div(usize, usize),
        Sin(usize),
        Exp(usize),
        Scale(usize, f64),
        Shift(usize, f64),
    }

    fn step() -> impl Strategy<Value = Step> {
        let i = 0..64usize;
        prop_oneof![
            (i.clone(), i.clone()).prop_map(|(a, b)| Step::Add(a, b)),
            (i.clone(), i.clone()).prop_map(|(a, b)| Step::Sub(a, b)),
            (i.clone(), i.clone()).prop_map(|(a, b)| Step::Mul(a, b)),
            (i.clone(), i.clone()).prop_map(|(a, b)| Step::Div(a, b)),
            i.clone().prop_map(Step::Sin),
            i.clone().prop_map(Step::Exp),
            (i.clone(), -3.0..3.0).prop_map(|(a, c)| Step::Scale(a, c)),
            (i, -3.0..3.0).prop_map(|(a, c)| Step::Shift(a, c)),
        ]
    }

    fn run<T: Float>(program: &[Step], x: &[T]) -> T {
        let mut values = x.to_vec();
        for step in program {
            let at = |i: usize| values[i % values.len()];
            let c = |v: f64| T::from(v).unwrap_or_else(T::nan);
            let next = match *step {
                Step::Add(a, b) => at(a) + at(b),
                Step::Sub(a, b) => at(a) - at(b),
                Step::Mul(a, b) => at(a) * at(b),
                Step::Div(a, b) => at(a) / (T::one() + at(b) * at(b)),
                Step::Sin(a) => at(a).sin(),
                Step::Exp(a) => (at(a) * c(0.1)).exp(),
                Step::Scale(a, k) => at(a) * c(k),
                Step::Shift(a, k) => at(a) + c(k),
            };
            values.push(next);
        }
        values.iter().skip(x.len()).fold(T::zero(), |acc, &v| acc + v)
    }

    proptest! {
        #[test]
        fn random_programs_give_the_one_tangent_gradient(
            x in prop::collection::vec(-2.0..2.0f64, 1..12),
            program in prop::collection::vec(step(), 1..30),
        ) {
            let one_at_a_time: Vec<f64> = (0..x.len())
                .map(|i| {
                    let seeded: Vec<Dual<f64>> =
                        x.iter().enumerate().map(|(k, &v)| Dual::new(v, if k == i { 1.0 } else { 0.0 })).collect();
                    run(&program, &seeded).eps
                })
                .collect();
            let (value, grad) = gradient::<f64, 3>(|d| run(&program, d), &x);
            prop_assert_eq!(value.to_bits(), run(&program, &x).to_bits());
            for (b, d) in grad.iter().zip(&one_at_a_time) {
                prop_assert!(b == d || (b.is_nan() && d.is_nan()), "{:?} vs {:?}", grad, one_at_a_time);
            }
        }
    }
}
