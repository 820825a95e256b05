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

/// Times each of `runs` once per repetition, back to back, `reps` times, keeping those whose
/// name contains `only`, and prints each median with its ratio to the first's.
pub fn race(reps: usize, only: &str, runs: &mut [(&str, &mut dyn FnMut())]) {
    let mut runs: Vec<_> = runs.iter_mut().filter(|(name, _)| name.contains(only)).collect();
    let mut times = vec![Vec::new(); runs.len()];
    for _ in 0..reps {
        for (t, (_, f)) in times.iter_mut().zip(runs.iter_mut()) {
            t.push(timed(*f));
        }
    }
    let base = times.first().map_or(f64::NAN, |t| median(t.clone()));
    for ((name, _), t) in runs.iter().zip(times) {
        let m = median(t);
        println!("  {name:<22} {m:>10.2} µs  {:>5.2}x the first", m / base);
    }
}
