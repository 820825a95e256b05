//! Timing helpers of the development races (`examples/tape_quick.rs`,
//! `examples/forward_quick.rs`), which time contenders back to back in each repetition so
//! that a shared, noisy machine disturbs them alike.

use std::time::Instant;

/// The median of `times` (the upper one of an even count); NaN for none.
pub fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Microseconds one call of `f` takes.
pub fn timed(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e6
}
