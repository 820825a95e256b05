//! Tangents of a chunked pass: the two highest lanes a value depends on kept in the dual
//! itself, any lower ones in a per-thread buffer.

use core::cell::RefCell;
use core::fmt;
use core::marker::PhantomData;

use num_traits::Float;

use crate::tangent::{scale_entry, Tangent};

/// The lanes of the rows made during the open passes on this thread: rows of consecutive
/// lanes, appended as values are computed and dropped when their pass ends.
#[derive(Debug)]
pub struct LaneBuffer<T> {
    /// Lanes `..top` are in use; the rest is room, kept between passes.
    lanes: Vec<T>,
    top: usize,
    generation: u8,
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

/// What a tangent's marker stands for: its lane type, and `'p`, the pass that made it. The
/// helpers hand each pass's closure duals of a lifetime of that call alone (`for<'p>`), so
/// no dual can be kept past its pass or carried into a later one: the compiler refuses it.
/// The raw pointer makes the tangents neither `Send` nor `Sync`, since their lanes live in
/// this thread's buffer.
type Brand<'p, T> = (fn() -> T, *const &'p ());

#[cold]
#[inline(never)]
fn nested_too_deep() -> ! {
    panic!("more than 255 chunked passes are nested on this thread: take the inner gradients outside the closure")
}

/// A window lane index no window has: the dual has no window.
const NO_WINDOW: u8 = u8::MAX;

/// `N` tangents of which only lanes `row_lo..row_lo + row_len` (a row of this thread's
/// [`LaneBuffer`]) and `window_lo..window_lo + 2` (kept in the dual) may be nonzero, for
/// the duration of one pass of [`crate::gradient`] or [`crate::jacobian`].
///
/// The window lies at or above the end of the row, so each lane is in one place. A
/// constant has neither and costs no tangent work; a value that depends on two adjacent
/// seeded inputs (a term of a sum over neighbours) is all in its window and touches no
/// buffer; a running sum keeps its newest lanes in the window and appends the ones its
/// terms have moved past to its row, so it grows by a lane or two per term instead of
/// being copied.
///
/// Values of this type live only inside the pass that made them, on its thread: the
/// helpers hand them to your closure and read its result. The compiler enforces it: `'p`
/// is the lifetime of one call of your closure, so a dual cannot be kept past it (in a
/// `Mutex`, a `static`, a captured cell) nor moved to another thread (the type is neither
/// `Send` nor `Sync`). What is left to run time is the one thing lifetimes allow: a dual of
/// an enclosing pass used inside a nested pass, whose lanes are refused (a panic) until
/// the nested pass ends; values that need no lanes of the buffer stay exact.
#[derive(Clone, Copy)]
pub struct PassTangents<'p, T, const N: usize> {
    window: [T; 2],
    meta: Meta,
    _lanes: PhantomData<Brand<'p, T>>,
}

impl<T: Float, const N: usize> fmt::Debug for PassTangents<'_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.band() {
            None => f.write_str("constant"),
            Some((lo, hi)) => write!(f, "lanes {lo}..{hi}"),
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

/// `factor · lane`, a zero lane left zero when `factor` is not finite.
#[inline(always)]
fn scaled_lane<T: Float>(lane: T, factor: T, finite: bool) -> T {
    if finite {
        factor * lane
    } else {
        scale_entry(lane, factor)
    }
}

/// `dst = factor · src`, zero entries left zero when `factor` is not finite.
#[inline(always)]
fn scale_into<T: Float>(dst: &mut [T], src: &[T], factor: T, finite: bool) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = scaled_lane(s, factor, finite));
}

/// `dst += factor · src`, zero entries left zero when `factor` is not finite.
#[inline(always)]
fn add_scaled<T: Float>(dst: &mut [T], src: &[T], factor: T, finite: bool) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + scaled_lane(s, factor, finite));
}

/// Where the previous pass left the buffer, restored by [`LaneBuffer::end_pass`].
#[derive(Debug)]
pub(crate) struct PassMark {
    len: usize,
    generation: u8,
}

impl<T: LaneScalar> LaneBuffer<T> {
    /// Opens a pass: rows made from here on belong to it, and duals of an outer pass are
    /// refused until it ends. Returns the mark that closes it and its generation: its depth
    /// among the passes open on this thread, so it never wraps and differs from every
    /// enclosing pass's (a dual of an ended pass cannot reach a later one: the brand).
    pub(crate) fn begin_pass() -> (PassMark, u8) {
        T::with_lanes(|buffer| {
            let Some(generation) = buffer.generation.checked_add(1) else { nested_too_deep() };
            let mark = PassMark { len: buffer.top, generation: buffer.generation };
            buffer.generation = generation;
            (mark, generation)
        })
    }

    /// Closes the pass `mark` opened, dropping its rows.
    pub(crate) fn end_pass(mark: PassMark) {
        T::with_lanes(|buffer| {
            buffer.top = mark.len;
            buffer.generation = mark.generation;
        });
    }

    /// Where the row of `t` starts, after checking that it belongs to the open pass.
    #[inline(always)]
    fn row_start(&self, t: Meta) -> usize {
        let start = t.start() as usize;
        if t.generation() != self.generation || start + usize::from(t.row_len()) > self.top {
            used_outside_its_pass()
        }
        start
    }

    #[inline(always)]
    fn row(&self, t: Meta) -> &[T] {
        let start = self.row_start(t);
        &self.lanes[start..start + usize::from(t.row_len())]
    }

    /// A new row of `len` lanes for a tangent of generation `generation`, its start
    /// returned; its lanes hold whatever the buffer held there (every caller writes them
    /// all). Only the open pass makes rows: a row made for an enclosing pass's dual would be
    /// dropped with this pass while the dual lives on.
    #[inline(always)]
    fn new_row(&mut self, len: usize, generation: u8) -> usize {
        if generation != self.generation {
            used_outside_its_pass()
        }
        let start = self.top;
        let end = start + len;
        if end > self.lanes.len() {
            self.lanes.resize(end.max(2 * self.lanes.len()).max(4096), T::zero());
        }
        self.top = end;
        start
    }

    #[inline(always)]
    fn start_index(start: usize) -> u32 {
        let Ok(start) = u32::try_from(start) else {
            panic!("a chunked pass made more than 2^32 tangent lanes; use a smaller chunk")
        };
        start
    }

    /// The `N` lanes of `t`, zeros outside its row and window, written to `out` (at most
    /// `N` long).
    pub(crate) fn read<'p, const N: usize>(t: PassTangents<'p, T, N>, out: &mut [T]) {
        out.fill(T::zero());
        if t.has_row() {
            T::with_lanes(|buffer| {
                for (slot, &v) in out.iter_mut().skip(usize::from(t.meta.row_lo())).zip(buffer.row(t.meta)) {
                    *slot = v;
                }
            });
        }
        if t.has_window() {
            for (slot, &v) in out.iter_mut().skip(usize::from(t.meta.window_lo())).zip(&t.window) {
                *slot = v;
            }
        }
    }

    /// The row of `t` scaled by `factor` into a new row: the meta word of `factor · t`
    /// (whose window the caller scales).
    #[inline(never)]
    fn scaled_row(t: u64, factor: T) -> u64 {
        let t = Meta(t);
        let finite = factor.is_finite();
        T::with_lanes(|buffer| {
            let from = buffer.row_start(t);
            let len = usize::from(t.row_len());
            let start = buffer.new_row(len, t.generation());
            let (old, new) = buffer.lanes.split_at_mut(start);
            scale_into(&mut new[..len], &old[from..from + len], factor, finite);
            t.with_start(Self::start_index(start)).0
        })
    }

    /// The meta word of `holder` with `first` (and `second` if `flushed` is 2) appended to
    /// its row as lanes `flush_lo..` (zeros between the row's end and `flush_lo`), and its
    /// window at `window_lo`. The row grows in place when it is the newest of the buffer,
    /// the usual case for a running sum; otherwise it is copied first. Only words and
    /// lanes pass in and out, in registers.
    #[inline(never)]
    fn append_lanes(holder: u64, flush_lo: usize, first: T, second: T, flushed: usize, window_lo: usize) -> u64 {
        let holder = Meta(holder);
        // The running sum's case: the holder's row is the newest, and the lanes follow it.
        let grown = T::with_lanes(|buffer| {
            let end = holder.start() as usize + usize::from(holder.row_len());
            let newest = holder.has_row() && holder.generation() == buffer.generation && end == buffer.top;
            if newest && flush_lo == holder.row_end() {
                // Both lanes written (the second past the row when one is flushed: room).
                if let Some([a, b]) = buffer.lanes.get_mut(end..end + 2) {
                    (*a, *b) = (first, second);
                    buffer.top = end + flushed;
                    return Some(Meta(holder.0 + ((flushed as u64) << 40)).with_window_lo(window_lo as u8));
                }
            }
            None
        });
        match grown {
            Some(meta) => meta.0,
            None => Self::append_lanes_anywhere(holder, flush_lo, first, second, flushed, window_lo),
        }
    }

    /// `holder`'s row with the first `flushed` of `flush` appended as lanes `flush_lo..`,
    /// and the window `window` at `window_lo`: [`LaneBuffer::append_lanes`] made a tangent.
    #[inline(always)]
    fn appended<'p, const N: usize>(
        holder: Meta,
        flush_lo: usize,
        flush: [T; 2],
        flushed: usize,
        window: [T; 2],
        window_lo: usize,
    ) -> PassTangents<'p, T, N> {
        let meta = Self::append_lanes(holder.0, flush_lo, flush[0], flush[1], flushed, window_lo);
        PassTangents { window, meta: Meta(meta), _lanes: PhantomData }
    }

    /// [`LaneBuffer::append_lanes`] where the holder has no row, its row is not the newest,
    /// there is a gap to fill or the buffer must grow.
    #[cold]
    #[inline(never)]
    fn append_lanes_anywhere(
        holder: Meta,
        flush_lo: usize,
        first: T,
        second: T,
        flushed: usize,
        window_lo: usize,
    ) -> u64 {
        T::with_lanes(|buffer| {
            let (start, row_lo, row_len) = if holder.has_row() {
                let from = buffer.row_start(holder);
                let len = usize::from(holder.row_len());
                if from + len == buffer.top {
                    (from, usize::from(holder.row_lo()), len)
                } else {
                    let start = buffer.new_row(len, holder.generation());
                    buffer.lanes.copy_within(from..from + len, start);
                    (start, usize::from(holder.row_lo()), len)
                }
            } else {
                (buffer.top, flush_lo, 0)
            };
            let gap = flush_lo - (row_lo + row_len);
            let at = buffer.new_row(gap + flushed, holder.generation());
            for k in 0..gap {
                buffer.lanes[at + k] = T::zero();
            }
            buffer.lanes[at + gap] = first;
            if flushed == 2 {
                buffer.lanes[at + gap + 1] = second;
            }
            Meta::new(
                Self::start_index(start),
                row_lo as u8,
                (row_len + gap + flushed) as u8,
                window_lo as u8,
                holder.generation(),
            )
            .0
        })
    }

    /// `fa · a + fb · b` for two non-constant tangents of one pass that
    /// [`PassTangents::merged`] does not take: the window returned, the meta word written to
    /// `meta`.
    #[inline(never)]
    fn combined<'p, const N: usize>(
        a: &PassTangents<'p, T, N>,
        fa: T,
        b: &PassTangents<'p, T, N>,
        fb: T,
        meta: &mut u64,
    ) -> (T, T) {
        let (a, b) = (*a, *b);
        let finite = fa.is_finite() && fb.is_finite();
        // A running sum and a term above its row whose windows are further apart, or whose
        // factors are not finite: the sum's row grows.
        let extended = if fa == T::one() && !b.has_row() && usize::from(b.meta.window_lo()) >= a.meta.row_end() {
            Self::extended(a, b, fb)
        } else if fb == T::one() && !a.has_row() && usize::from(a.meta.window_lo()) >= b.meta.row_end() {
            Self::extended(b, a, fa)
        } else {
            None
        };
        let (window, m) = match extended {
            Some(t) => (t.window, t.meta.0),
            None => ([T::zero(); 2], Self::materialized(a, fa, b, fb, finite)),
        };
        *meta = m;
        (window[0], window[1])
    }

    /// `holder + factor · other` for an `other` with only a window, at or above the end of
    /// `holder`'s row: the lanes below the new window are appended to the row, the rest kept
    /// in the window. `None` where `other`'s window lies below `holder`'s. Each lane is
    /// `holder + factor · other` as the dense lanes are (`1 · h = h`, and `0 + x` where the
    /// holder has none).
    fn extended<'p, const N: usize>(
        holder: PassTangents<'p, T, N>,
        other: PassTangents<'p, T, N>,
        factor: T,
    ) -> Option<PassTangents<'p, T, N>> {
        let finite = factor.is_finite();
        let zero = T::zero();
        let other_lo = usize::from(other.meta.window_lo());
        let holder_lo = if holder.has_window() { usize::from(holder.meta.window_lo()) } else { other_lo };
        if holder_lo > other_lo + 2 {
            return None;
        }
        if other_lo > holder_lo + 2 {
            // `other`'s window far above `holder`'s: all of `holder`'s window goes to the row.
            let window = other.window.map(|lane| scaled_lane(lane, factor, finite));
            return Some(Self::appended(holder.meta, holder_lo, holder.window, 2, window, other_lo));
        }
        // Both windows within four lanes from `base`.
        let base = holder_lo.min(other_lo);
        let mut lanes = [zero; 4];
        if holder.has_window() {
            lanes[holder_lo - base] = holder.window[0];
            lanes[holder_lo - base + 1] = holder.window[1];
        }
        for (k, &lane) in other.window.iter().enumerate() {
            lanes[other_lo - base + k] = lanes[other_lo - base + k] + scaled_lane(lane, factor, finite);
        }
        let Some(highest) = lanes.iter().rposition(|&lane| lane != zero) else {
            return Some(if holder.has_row() { holder.with_window([zero; 2], NO_WINDOW) } else { Tangent::zero() });
        };
        let keep = highest.saturating_sub(1);
        let window = [lanes[keep], lanes[keep + 1]];
        Some(if keep == 0 {
            holder.with_window(window, base as u8)
        } else {
            Self::appended(holder.meta, base, [lanes[0], lanes[1]], keep, window, base + keep)
        })
    }

    /// `fa · a + fb · b` written whole to a new row, without a window: its meta word.
    fn materialized<'p, const N: usize>(
        a: PassTangents<'p, T, N>,
        fa: T,
        b: PassTangents<'p, T, N>,
        fb: T,
        finite: bool,
    ) -> u64 {
        let (a_lo, a_hi) = a.extent();
        let (b_lo, b_hi) = b.extent();
        let (lo, hi) = (a_lo.min(b_lo), a_hi.max(b_hi));
        let len = hi - lo;
        T::with_lanes(|buffer| {
            let (a_from, b_from) = (
                if a.has_row() { buffer.row_start(a.meta) } else { 0 },
                if b.has_row() { buffer.row_start(b.meta) } else { 0 },
            );
            let start = buffer.new_row(len, a.meta.generation());
            let (old, new) = buffer.lanes.split_at_mut(start);
            let new = &mut new[..len];
            new.fill(T::zero());
            // `fa · a` written where `a` has lanes (its row and window are apart), then
            // `fb · b` added: each lane `fa · a + fb · b`, as the dense lanes are.
            for (t, factor, from, add) in [(a, fa, a_from, false), (b, fb, b_from, true)] {
                if t.has_row() {
                    let at = usize::from(t.meta.row_lo()) - lo;
                    let row_len = usize::from(t.meta.row_len());
                    let (dst, src) = (&mut new[at..at + row_len], &old[from..from + row_len]);
                    if add {
                        add_scaled(dst, src, factor, finite);
                    } else {
                        scale_into(dst, src, factor, finite);
                    }
                }
                if t.has_window() {
                    for (k, &lane) in t.window.iter().enumerate() {
                        if let Some(slot) = new.get_mut(usize::from(t.meta.window_lo()) + k - lo) {
                            let scaled = scaled_lane(lane, factor, finite);
                            *slot = if add { *slot + scaled } else { scaled };
                        }
                    }
                }
            }
            Meta::new(Self::start_index(start), lo as u8, len as u8, NO_WINDOW, a.meta.generation()).0
        })
    }

    fn all_zero(t: Meta) -> bool {
        T::with_lanes(|buffer| buffer.row(t).iter().all(|&x| x == T::zero()))
    }
}

/// Where a tangent's lanes are, in one word so that a dual is built and copied whole: the
/// row's start in the buffer (bits 0-31), its first lane and length (32-39, 40-47), the
/// window's first lane (48-55, [`NO_WINDOW`] for none) and the pass's generation (56-63).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Meta(u64);

impl Meta {
    #[inline(always)]
    const fn new(start: u32, row_lo: u8, row_len: u8, window_lo: u8, generation: u8) -> Self {
        Meta(
            start as u64
                | (row_lo as u64) << 32
                | (row_len as u64) << 40
                | (window_lo as u64) << 48
                | (generation as u64) << 56,
        )
    }
    #[inline(always)]
    const fn start(self) -> u32 {
        self.0 as u32
    }
    #[inline(always)]
    const fn row_lo(self) -> u8 {
        (self.0 >> 32) as u8
    }
    #[inline(always)]
    const fn row_len(self) -> u8 {
        (self.0 >> 40) as u8
    }
    #[inline(always)]
    const fn window_lo(self) -> u8 {
        (self.0 >> 48) as u8
    }
    #[inline(always)]
    const fn generation(self) -> u8 {
        (self.0 >> 56) as u8
    }
    #[inline(always)]
    const fn has_row(self) -> bool {
        self.row_len() != 0
    }
    /// Every tangent of a pass carries its generation (never 0), with a row or a window
    /// or both; a constant has generation 0 and neither, so one comparison tells it.
    #[inline(always)]
    const fn is_constant(self) -> bool {
        self.0 < 1 << 56
    }
    /// The constant's word: no row, no window, generation 0.
    const CONSTANT: Meta = Meta::new(0, 0, 0, NO_WINDOW, 0);
    /// The first lane above the row (0 without one).
    #[inline(always)]
    const fn row_end(self) -> usize {
        self.row_lo() as usize + self.row_len() as usize
    }
    #[inline(always)]
    const fn with_start(self, start: u32) -> Self {
        Meta(self.0 & !0xffff_ffff | start as u64)
    }
    #[inline(always)]
    const fn with_window_lo(self, window_lo: u8) -> Self {
        Meta(self.0 & !(0xff << 48) | (window_lo as u64) << 48)
    }
}

impl<'p, T, const N: usize> PassTangents<'p, T, N> {
    #[inline(always)]
    fn with_window(self, window: [T; 2], window_lo: u8) -> Self {
        PassTangents { window, meta: self.meta.with_window_lo(window_lo), _lanes: PhantomData }
    }
    #[inline(always)]
    const fn has_row(&self) -> bool {
        self.meta.has_row()
    }
    #[inline(always)]
    const fn has_window(&self) -> bool {
        self.meta.window_lo() != NO_WINDOW
    }
    #[inline(always)]
    const fn is_constant(&self) -> bool {
        self.meta.is_constant()
    }
}

impl<'p, T: Float, const N: usize> PassTangents<'p, T, N> {
    /// The unit tangent `e_lane` of a pass of generation `generation`.
    pub(crate) fn unit(lane: usize, generation: u8) -> Self {
        PassTangents {
            window: [T::one(), T::zero()],
            meta: Meta::new(0, 0, 0, lane as u8, generation),
            _lanes: PhantomData,
        }
    }

    /// The lanes `lo..hi` the row and window span: a window's upper lane only where it is
    /// nonzero (so never lane `N`, which is always zero).
    fn extent(&self) -> (usize, usize) {
        let (mut lo, mut hi) = (usize::MAX, 0);
        if self.has_row() {
            (lo, hi) = (usize::from(self.meta.row_lo()), self.meta.row_end());
        }
        if self.has_window() {
            let w = usize::from(self.meta.window_lo());
            let width = if self.window[1] == T::zero() { 1 } else { 2 };
            (lo, hi) = (lo.min(w), hi.max(w + width));
        }
        (lo, hi)
    }

    /// The lanes `lo..hi` that may be nonzero, `None` for a constant.
    fn band(&self) -> Option<(usize, usize)> {
        (!self.is_constant()).then(|| self.extent())
    }
}

impl<'p, T: LaneScalar, const N: usize> PassTangents<'p, T, N> {
    /// `fa · self + fb · other` for two tangents of one pass where the factors are finite,
    /// at most one of the two has a row, whose factor is 1 and which ends at or below the
    /// other's window (a running sum and its next term), and the windows are at most two
    /// lanes apart: the windows merged here, the lanes below the new window moved to the
    /// row. `None` for every other case.
    #[inline(always)]
    fn merged(self, fa: T, other: Self, fb: T) -> Option<Self> {
        if !(fa.is_finite() && fb.is_finite()) {
            return None;
        }
        let (a_lo, b_lo) = (self.meta.window_lo(), other.meta.window_lo());
        let ([a0, a1], [b0, b1]) = (self.window, other.window);
        // Without rows both have windows; a row's holder without a window takes the other's.
        let holder = match (self.has_row(), other.has_row()) {
            (false, false) => self.meta,
            (true, false) if fa == T::one() && usize::from(b_lo) >= self.meta.row_end() => {
                if !self.has_window() {
                    let window = [fb * b0, fb * b1];
                    return Some(PassTangents { window, meta: self.meta.with_window_lo(b_lo), _lanes: PhantomData });
                }
                self.meta
            }
            (false, true) if fb == T::one() && usize::from(a_lo) >= other.meta.row_end() => {
                if !other.has_window() {
                    let window = [fa * a0, fa * a1];
                    return Some(PassTangents { window, meta: other.meta.with_window_lo(a_lo), _lanes: PhantomData });
                }
                other.meta
            }
            _ => return None,
        };
        if a_lo == b_lo {
            return Some(PassTangents {
                window: [fa * a0 + fb * b0, fa * a1 + fb * b1],
                meta: holder.with_window_lo(a_lo),
                _lanes: PhantomData,
            });
        }
        // The lower window `l` at lane `lo`, the upper `u` one or two lanes above; each lane
        // `fa · a + fb · b` as the dense lanes are (`fa · a` alone where `b` has none).
        let (lo, [l0, l1], [u0, u1], apart) = if b_lo > a_lo {
            (a_lo, [fa * a0, fa * a1], [fb * b0, fb * b1], b_lo - a_lo)
        } else {
            (b_lo, [fb * b0, fb * b1], [fa * a0, fa * a1], a_lo - b_lo)
        };
        let zero = T::zero();
        let append = |flush_lo: u8, flush: [T; 2], flushed: usize, window: [T; 2], window_lo: u8| {
            LaneBuffer::appended(holder, usize::from(flush_lo), flush, flushed, window, usize::from(window_lo))
        };
        match apart {
            1 if u1 == zero => {
                Some(PassTangents { window: [l0, l1 + u0], meta: holder.with_window_lo(lo), _lanes: PhantomData })
            }
            1 => Some(append(lo, [l0, zero], 1, [l1 + u0, u1], lo + 1)),
            2 if u1 == zero && u0 == zero => {
                Some(PassTangents { window: [l0, l1], meta: holder.with_window_lo(lo), _lanes: PhantomData })
            }
            2 if u1 == zero => Some(append(lo, [l0, zero], 1, [l1, u0], lo + 1)),
            2 => Some(append(lo, [l0, l1], 2, [u0, u1], lo + 2)),
            _ => None,
        }
    }
}

impl<'p, T: LaneScalar, const N: usize> Tangent<T> for PassTangents<'p, T, N> {
    #[inline(always)]
    fn zero() -> Self {
        PassTangents { window: [T::zero(); 2], meta: Meta::CONSTANT, _lanes: PhantomData }
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
        // A constant's result is the constant, built anew rather than copied, so the caller
        // need not load its window.
        if self.is_constant() {
            return Tangent::zero();
        }
        if self.has_row() && factor == T::one() {
            return self;
        }
        let finite = factor.is_finite();
        let window = self.window.map(|lane| scaled_lane(lane, factor, finite));
        let meta = if self.has_row() { Meta(LaneBuffer::scaled_row(self.meta.0, factor)) } else { self.meta };
        PassTangents { window, meta, _lanes: PhantomData }
    }
    #[inline(always)]
    fn is_zero(&self) -> bool {
        (!self.has_window() || self.window.iter().all(|&lane| lane == T::zero()))
            && (!self.has_row() || LaneBuffer::<T>::all_zero(self.meta))
    }
    #[inline(always)]
    fn scale_add(self, a: T, other: Self, b: T) -> Self {
        match (self.is_constant(), other.is_constant()) {
            (true, true) => Tangent::zero(),
            (false, true) => self.scale(a),
            (true, false) => other.scale(b),
            (false, false) => {
                if (self.meta.0 ^ other.meta.0) >> 56 != 0 {
                    used_outside_its_pass()
                }
                if let Some(merged) = self.merged(a, other, b) {
                    return merged;
                }
                let mut meta = 0;
                let (w0, w1) = LaneBuffer::combined(&self, a, &other, b, &mut meta);
                PassTangents { window: [w0, w1], meta: Meta(meta), _lanes: PhantomData }
            }
        }
    }
}

/// A value and `N` tangents, the highest two lanes it depends on kept in the dual and any
/// lower ones in this thread's lane buffer for one pass: the number type the chunked
/// helpers ([`crate::gradient`], [`crate::jacobian`], [`crate::Workspace`]) evaluate your
/// function on. It implements `num_traits::Float` (and [`crate::Scalar`]), so a function
/// written over `T: Float` runs on it; the helpers make the seeded inputs, and
/// [`Dual::constant`](crate::Dual::constant) makes a constant anywhere.
pub type ChunkDual<'p, T, const N: usize> = crate::Dual<T, PassTangents<'p, T, N>>;

impl<'p, T: LaneScalar, const N: usize> ChunkDual<'p, T, N> {
    /// The `N` tangents, zeros outside the lanes the value depends on; read inside the pass
    /// that made it (outside it, a value with lanes in the buffer panics).
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
/// rows are dropped and the enclosing pass, if any, is current again.
pub(crate) struct Pass<T: LaneScalar> {
    mark: Option<PassMark>,
    generation: u8,
    _lanes: PhantomData<T>,
}

impl<T: LaneScalar> Pass<T> {
    /// Opens a pass in which `inputs` take the unit tangents `e_0, e_1, ...`.
    pub(crate) fn open<const N: usize>(inputs: &mut [ChunkDual<'_, T, N>]) -> Self {
        const { assert!(N > 0 && N < 256, "a chunk carries 1 to 255 tangents") };
        let (mark, generation) = LaneBuffer::<T>::begin_pass();
        for (lane, input) in inputs.iter_mut().enumerate() {
            input.eps = PassTangents::unit(lane, generation);
        }
        Pass { mark: Some(mark), generation, _lanes: PhantomData }
    }

    /// Checks that `t` was made in this pass (a value built only from its window may
    /// otherwise carry another pass's lanes unnoticed).
    pub(crate) fn owns<const N: usize>(&self, t: &PassTangents<'_, T, N>) {
        if !t.is_constant() && t.meta.generation() != self.generation {
            used_outside_its_pass()
        }
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
    use proptest::test_runner::TestCaseError;

    /// A closure of a pass with its signature spelled out: a closure kept in a variable gets
    /// no higher-ranked signature from its own annotation.
    fn of_pass<const N: usize, F>(f: F) -> F
    where
        F: for<'p> Fn(&[ChunkDual<'p, f64, N>]) -> ChunkDual<'p, f64, N>,
    {
        f
    }

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
            gradient::<f64, 1>(|x| bands(x), &x),
            gradient::<f64, 3>(|x| bands(x), &x),
            gradient::<f64, 4>(|x| bands(x), &x),
            gradient::<f64, 16>(|x| bands(x), &x),
        ] {
            assert_eq!(value.to_bits(), want_value.to_bits());
            assert_eq!(grad, want);
        }
        assert_eq!(lanes_in_use(), 0, "every pass returns its lanes");
    }

    #[test]
    fn a_running_sum_appends_a_lane_per_term() {
        let lanes_per_step = std::cell::RefCell::new(Vec::new());
        let dense_sum = of_pass::<8, _>(|x| {
            let mut z = ChunkDual::constant(0.5);
            for (j, &xj) in x.iter().enumerate() {
                let before = lanes_in_use();
                z += xj * (j as f64 + 1.0);
                lanes_per_step.borrow_mut().push(lanes_in_use() - before);
            }
            z.tanh()
        });
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
        // Lanes written per step, two passes of 8 and 2 inputs. Pass 1: `x0 * 1` is the seed
        // itself, and the sum keeps `x0` and `x1` in its window; from `x2` on, each term
        // moves the window up a lane and the lane it leaves is appended to the sum's row.
        // Constants write nothing. A sum that copied its row would write 2, 3, 4, ... lanes.
        let steps = lanes_per_step.into_inner();
        assert_eq!(steps, [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn an_infinite_factor_leaves_zero_lanes_zero() {
        // sqrt at 0 has an infinite derivative: the lanes its argument lacks stay zero, and
        // so do lanes that are computed zeros inside a band, as in dense mode.
        let f = of_pass::<4, _>(|x| (x[0] - x[0]).sqrt() + (x[1] * 0.0 + x[2] * x[2]).sqrt() + x[3]);
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
        let f = of_pass::<2, _>(|x| x[1] * (x[0] * 0.0) + x[0] * x[1]);
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

    #[test]
    fn an_infinite_factor_on_a_term_two_lanes_above_a_window() {
        // `s · t` with `s = 3 x0 = ∞` (window [3, 0] at lane 0) and `t = x2 x3 = 1` (window
        // [1, 1] at lane 2): `s`'s factor is 1, `t`'s is ∞; the lanes are 3, 0, ∞, ∞, the
        // zero between kept.
        let f = of_pass::<4, _>(|x| (x[0] * 3.0) * (x[2] * x[3]));
        let x = [f64::INFINITY, 5.0, 1.0, 1.0];
        let dense = {
            let d: Vec<DualVec<f64, 4>> = x.iter().enumerate().map(|(i, &v)| DualVec::variable_at(v, i)).collect();
            ((d[0] * 3.0) * (d[2] * d[3])).eps.0.to_vec()
        };
        assert_eq!(dense, vec![3.0, 0.0, f64::INFINITY, f64::INFINITY]);
        assert_eq!(gradient(f, &x).1, dense);
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
        fn agrees(
            f: impl for<'p> Fn(&[ChunkDual<'p, f64, 2>]) -> ChunkDual<'p, f64, 2>,
            dense: fn(&[DualVec<f64, 2>]) -> DualVec<f64, 2>,
            x: [f64; 2],
        ) -> Vec<f64> {
            let (_, grad) = gradient(f, &x);
            let want = dense(&[DualVec::variable_at(x[0], 0), DualVec::variable_at(x[1], 1)]).eps.0;
            assert!(
                grad.iter().zip(want).all(|(g, w)| *g == w || (g.is_nan() && w.is_nan())),
                "at {x:?}: {grad:?} vs {want:?}"
            );
            grad
        }
        assert_eq!(agrees(|x| same_band(x), same_band, [1000.0, 1.0]), vec![f64::INFINITY, 0.0]);
        assert_eq!(agrees(|x| signed(x), signed, [1.0, f64::INFINITY]), vec![f64::NEG_INFINITY, -2.0]);
        assert_eq!(agrees(|x| negated(x), negated, [2.0, 3.0]), vec![-3.0, -3.0]);
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
                assert_eq!(format!("{:?}", ChunkDual::<'_, f64, 4>::constant(1.0).eps), "constant");
                wide
            },
            &[1.0, 2.0, 3.0],
        );
    }

    // A dual kept past its pass, or sent to another thread, does not compile: see the
    // `compile_fail` examples of `crate::gradient`. What lifetimes allow is a dual of an
    // enclosing pass used inside a nested one.
    #[test]
    fn a_dual_of_an_enclosing_pass_is_refused_inside_a_nested_pass_however_many_passes_ran() {
        let refused = |f: &dyn Fn()| {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
            let message = caught.downcast_ref::<&str>().copied().unwrap_or_default();
            assert!(message.contains("outside the pass that made it"), "{message}");
        };
        let (value, grad) = gradient::<f64, 4>(
            |x| {
                let with_row = x[0] * x[3];
                assert!(with_row.eps.has_row());
                // More passes than a byte counts, each nested in this one and ended.
                for k in 0..300 {
                    let (v, _) = gradient::<f64, 2>(|z| z[0] * z[1], &[k as f64, 2.0]);
                    assert_eq!(v, 2.0 * k as f64);
                }
                let (inner, _) = gradient::<f64, 2>(
                    |z| {
                        // Its lanes are in the enclosing pass's rows: refused.
                        refused(&|| {
                            let _ = (with_row * 2.0).re;
                        });
                        refused(&|| {
                            let _ = with_row.tangents();
                        });
                        // Two windows that need a row: a row of this pass would outlive it.
                        refused(&|| {
                            let _ = (x[0] + x[3]).re;
                        });
                        // Windows that merge in the dual need no buffer: exact.
                        assert_eq!((x[0] + x[1]).tangents(), [1.0, 1.0, 0.0, 0.0]);
                        z[0] * z[1]
                    },
                    &[3.0, 5.0],
                );
                assert_eq!(inner, 15.0);
                with_row + x[1]
            },
            &[1.0, 2.0, 3.0, 4.0],
        );
        assert_eq!((value, grad), (6.0, vec![4.0, 1.0, 0.0, 1.0]));
        assert_eq!(lanes_in_use(), 0);
    }

    #[test]
    fn passes_nest_255_deep_and_no_deeper() {
        fn nest(depth: usize) -> f64 {
            if depth == 0 {
                return 1.0;
            }
            gradient::<f64, 1>(|x| x[0] * nest(depth - 1), &[2.0]).1[0]
        }
        assert_eq!(nest(255), 1.0);
        let caught = std::panic::catch_unwind(|| nest(256)).unwrap_err();
        let message = caught.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(message.contains("more than 255 chunked passes are nested"), "{message}");
        assert_eq!(lanes_in_use(), 0);
        assert_eq!(gradient::<f64, 2>(|x| x[0] * x[1], &[3.0, 4.0]), (12.0, vec![4.0, 3.0]));
    }

    #[test]
    fn passes_nest_and_a_panicking_closure_closes_its_pass() {
        // A gradient inside the function of another: the inner passes stack on the outer one.
        let outer = of_pass::<2, _>(|x| {
            let (inner_value, inner_grad) = gradient::<f64, 2>(|y| y[0] * y[1] * y[2], &[1.0, 2.0, 3.0]);
            x[0] * inner_value + x[1] * inner_grad[2]
        });
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
        fn map<'p>(x: &[ChunkDual<'p, f64, 2>]) -> Vec<ChunkDual<'p, f64, 2>> {
            vec![x[0] * x[2], x[1] - x[2] * 2.0, x[2].exp()]
        }
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

    struct Program<'a>(&'a [Step]);
    impl crate::Function for Program<'_> {
        fn eval<T: Float>(&self, x: &[T]) -> T {
            run(self.0, x)
        }
    }

    /// `f`'s value and gradient through chunks of one lane, of a few (windows meet the
    /// chunk's end) and of all inputs, against the value and the gradient taken one input
    /// at a time on `Dual<f64>` (NaN matching NaN).
    fn agrees_with_one_tangent(f: &impl crate::Function, x: &[f64]) -> Result<(), TestCaseError> {
        let one_at_a_time: Vec<f64> = (0..x.len())
            .map(|i| {
                let seeded: Vec<Dual<f64>> =
                    x.iter().enumerate().map(|(k, &v)| Dual::new(v, if k == i { 1.0 } else { 0.0 })).collect();
                f.eval(&seeded).eps
            })
            .collect();
        let want = f.eval(x);
        for (value, grad) in [
            gradient::<f64, 1>(|d| f.eval(d), x),
            gradient::<f64, 3>(|d| f.eval(d), x),
            gradient::<f64, 32>(|d| f.eval(d), x),
        ] {
            prop_assert!(value.to_bits() == want.to_bits() || (value.is_nan() && want.is_nan()));
            for (b, d) in grad.iter().zip(&one_at_a_time) {
                prop_assert!(b == d || (b.is_nan() && d.is_nan()), "{:?} vs {:?}", grad, one_at_a_time);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn random_programs_give_the_one_tangent_gradient(
            x in prop::collection::vec(-2.0..2.0f64, 1..20),
            program in prop::collection::vec(step(), 1..30),
        ) {
            agrees_with_one_tangent(&Program(&program), &x)?;
        }
    }

    /// One step of a running sum `acc` over products of nearby inputs.
    #[derive(Clone, Debug)]
    enum SumStep {
        /// `acc + x_i · x_{i+k}`.
        Add(usize, usize),
        /// `acc - x_i · x_{i+k}`.
        Sub(usize, usize),
        /// `x_i · x_{i+k} + acc`: the term first.
        AddTo(usize, usize),
        /// `acc · x_i`: with `x_i = 1`, the sum's factor is 1 and the input's is `acc`.
        Mul(usize),
        /// `acc · x_i · x_{i+k}`, the same with a term of two lanes.
        MulTerm(usize, usize),
        /// `acc · c`.
        Scale(f64),
        /// `sin(acc)`: a row scaled.
        Sin,
        /// `acc · acc`: two rows.
        Square,
    }

    fn sum_step() -> impl Strategy<Value = SumStep> {
        let (i, k) = (0..24usize, 0..5usize);
        let factor = prop_oneof![Just(1.0), Just(0.0), Just(f64::INFINITY), -2.0..2.0];
        prop_oneof![
            4 => (i.clone(), k.clone()).prop_map(|(i, k)| SumStep::Add(i, k)),
            2 => (i.clone(), k.clone()).prop_map(|(i, k)| SumStep::Sub(i, k)),
            2 => (i.clone(), k).prop_map(|(i, k)| SumStep::AddTo(i, k)),
            1 => i.clone().prop_map(SumStep::Mul),
            1 => (i.clone(), 1..3usize).prop_map(|(i, k)| SumStep::MulTerm(i, k)),
            1 => factor.prop_map(SumStep::Scale),
            1 => Just(SumStep::Sin),
            1 => Just(SumStep::Square),
        ]
    }

    struct RunningSum<'a>(&'a [SumStep]);
    impl crate::Function for RunningSum<'_> {
        fn eval<T: Float>(&self, x: &[T]) -> T {
            running_sum(self.0, x)
        }
    }

    fn running_sum<T: Float>(steps: &[SumStep], x: &[T]) -> T {
        let n = x.len();
        let term = |i: usize, k: usize| x[i % n] * x[(i + k) % n];
        steps.iter().fold(T::zero(), |acc, step| match *step {
            SumStep::Add(i, k) => acc + term(i, k),
            SumStep::Sub(i, k) => acc - term(i, k),
            SumStep::AddTo(i, k) => term(i, k) + acc,
            SumStep::Mul(i) => acc * x[i % n],
            SumStep::MulTerm(i, k) => acc * term(i, k),
            SumStep::Scale(c) => acc * T::from(c).unwrap_or_else(T::nan),
            SumStep::Sin => acc.sin(),
            SumStep::Square => acc * acc,
        })
    }

    proptest! {
        /// Running sums whose terms land on, next to, below and far above the sum's window,
        /// with inputs of 1, 0 and infinity (factors of 1 that share a row, factors that are
        /// not finite), against the one-tangent gradient.
        #[test]
        fn running_sums_give_the_one_tangent_gradient(
            x in prop::collection::vec(prop_oneof![4 => -2.0..2.0f64, 1 => Just(1.0), 1 => Just(0.0), 1 => Just(f64::INFINITY)], 1..24),
            steps in prop::collection::vec(sum_step(), 1..40),
        ) {
            agrees_with_one_tangent(&RunningSum(&steps), &x)?;
        }
    }

    /// How `f`'s result keeps its lanes, and how many lanes the buffer gained making it.
    fn shape_of(
        f: impl for<'p> Fn(&[ChunkDual<'p, f64, 16>]) -> ChunkDual<'p, f64, 16>,
        x: &[f64],
    ) -> (String, bool, usize) {
        let shape = std::cell::RefCell::new(None);
        let _ = gradient::<f64, 16>(
            |d| {
                let before = lanes_in_use();
                let y = f(d);
                *shape.borrow_mut() = Some((format!("{:?}", y.eps), y.eps.has_row(), lanes_in_use() - before));
                y
            },
            x,
        );
        shape.into_inner().unwrap()
    }

    #[test]
    fn each_merge_keeps_its_lanes_where_expected() {
        let x = [0.5, 1.5, -2.0, 3.0, 0.25, -1.0, 2.0, 1.25];
        // Windows on the same lanes, one and two apart: merged in the dual.
        assert_eq!(shape_of(|d| d[2] * d[3] + d[2] * d[2], &x), ("lanes 2..4".into(), false, 0));
        assert_eq!(shape_of(|d| d[2] + d[3], &x), ("lanes 2..4".into(), false, 0));
        assert_eq!(shape_of(|d| d[3] - d[2], &x), ("lanes 2..4".into(), false, 0));
        // Two apart: the lanes below the upper window move to a new row.
        assert_eq!(shape_of(|d| d[2] * d[3] + d[4] * d[5], &x), ("lanes 2..6".into(), true, 2));
        assert_eq!(shape_of(|d| d[2] * d[3] + d[4], &x), ("lanes 2..5".into(), true, 1));
        // The same as products (no factor of 1, so no row could be shared): the upper
        // operand first, and windows one and two apart that fill three and four lanes.
        assert_eq!(shape_of(|d| d[3] * d[2], &x), ("lanes 2..4".into(), false, 0));
        assert_eq!(shape_of(|d| (d[2] * d[3]) * (d[3] * d[4]), &x), ("lanes 2..5".into(), true, 1));
        assert_eq!(shape_of(|d| (d[2] * d[3]) * (d[4] * d[5]), &x), ("lanes 2..6".into(), true, 2));
        // An upper window that is zero leaves the lower one as it is.
        assert_eq!(shape_of(|d| d[2] * d[3] + d[4] * 0.0, &x), ("lanes 2..4".into(), false, 0));
        // A sum with a row grows it by the lanes its window leaves behind.
        let sum = of_pass::<16, _>(|d| (0..6).fold(ChunkDual::constant(0.0), |acc, i| acc + d[i] * d[i + 1]));
        assert_eq!(shape_of(sum, &x), ("lanes 0..7".into(), true, 5));
        // A term far above a sum's window: the window goes to the row, the term's is kept.
        let far = of_pass::<16, _>(|d| (0..3).fold(ChunkDual::constant(0.0), |acc, i| acc + d[i] * d[i + 1]) + d[7]);
        assert_eq!(shape_of(far, &x), ("lanes 0..8".into(), true, 2 + 2));
        // Far apart: the product's lanes and the zeros between in one row of its own.
        assert_eq!(shape_of(|d| d[1] * d[6], &x), ("lanes 1..7".into(), true, 6));
        // A row and no window (a product of far lanes) takes the next term's window.
        assert_eq!(shape_of(|d| d[0] * d[3] + d[5], &x), ("lanes 0..6".into(), true, 4));
        // Two rows: a new row of their union, without a window.
        assert_eq!(shape_of(|d| (d[0] * d[3]) * (d[4] * d[7]), &x), ("lanes 0..8".into(), true, 4 + 4 + 8));
        // A computed zero band with a row is a constant.
        let _ = gradient::<f64, 8>(
            |d| {
                let far = d[0] * d[5];
                assert!(far.eps.has_row() && !far.is_constant());
                assert!((far - d[0] * d[5]).is_constant());
                far
            },
            &x,
        );
    }
}
