//! Interleaved timing of slope's chunked forward gradient against num-dual's best chunk (its
//! input vector kept, `benches/src/num_dual_peer.rs`): each repetition times one gradient of
//! each, back to back, and the medians are printed with the median of the per-repetition
//! ratios, which a shared, noisy machine disturbs less than two separate runs. A development
//! aid beside the criterion benches: `cargo run --release -p slope-benches --example
//! forward_quick [w1|w4] [n]`.
use std::hint::black_box;

use slope::dual::{ChunkDual, Workspace};
use slope_benches::num_dual_peer::*;
use slope_benches::race::race;
use slope_benches::*;

macro_rules! slope_run {
    ($n:literal, $f:expr, $x:expr, $g:expr) => {{
        let mut ws = Workspace::<f64, $n>::new();
        let (x, g): (&[f64], &mut [f64]) = ($x, $g);
        move || {
            let _ = black_box(ws.gradient(|d: &[ChunkDual<f64, $n>]| $f(d), black_box(x), g));
        }
    }};
}
macro_rules! nd_run {
    ($n:literal, $f:expr, $x:expr, $g:expr) => {{
        let mut ws = ChunkedGradient::<$n>::default();
        let (x, g): (&[f64], &mut [f64]) = ($x, $g);
        move || {
            black_box(ws.gradient(|d| $f(d), black_box(x), g));
        }
    }};
}

fn main() {
    let only = std::env::args().nth(3).unwrap_or_default();
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("w1", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let reps = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(if n >= 4000 { 40 } else { 400 });
    match which {
        "w1" => {
            let x = rosenbrock_point(n);
            let mut g: Vec<Vec<f64>> = vec![vec![0.0; n]; 9];
            let [g0, g1, g2, g3, g4, g5, g6, g7, g8] = g.as_mut_slice() else { unreachable!() };
            println!("W1 n = {n}");
            race(
                reps,
                &only,
                &mut [
                    ("num-dual chunk 16", &mut nd_run!(16, rosenbrock_nd, &x, g0)),
                    ("num-dual chunk 8", &mut nd_run!(8, rosenbrock_nd, &x, g1)),
                    ("num-dual chunk 32", &mut nd_run!(32, rosenbrock_nd, &x, g2)),
                    ("slope chunk 16", &mut slope_run!(16, rosenbrock, &x, g3)),
                    ("slope chunk 32", &mut slope_run!(32, rosenbrock, &x, g4)),
                    ("slope chunk 64", &mut slope_run!(64, rosenbrock, &x, g5)),
                    ("slope chunk 128", &mut slope_run!(128, rosenbrock, &x, g6)),
                    ("slope chunk 255", &mut slope_run!(255, rosenbrock, &x, g7)),
                    ("primal", &mut || {
                        black_box(rosenbrock(black_box(&x)));
                    }),
                    ("hand", &mut || {
                        black_box(rosenbrock_gradient(black_box(&x), g8));
                    }),
                ],
            );
        }
        _ => {
            let (w, data) = w4_data(64);
            let d = data.as_slice();
            macro_rules! slope_w4 {
                ($n:literal, $g:expr) => {{
                    let constants: &[ChunkDual<f64, $n>] =
                        Vec::leak(d.iter().map(|&v| ChunkDual::constant(v)).collect());
                    slope_run!($n, |v| w4(v, constants), &w, $g)
                }};
            }
            let mut g: Vec<Vec<f64>> = vec![vec![0.0; w.len()]; 9];
            let [g0, g1, g2, g3, g4, g5, g6, g7, g8] = g.as_mut_slice() else { unreachable!() };
            println!("W4 64x64");
            race(
                40,
                &only,
                &mut [
                    ("num-dual chunk 16", &mut nd_run!(16, |v| w4_nd(v, d), &w, g0)),
                    ("num-dual chunk 8", &mut nd_run!(8, |v| w4_nd(v, d), &w, g1)),
                    ("num-dual chunk 32", &mut nd_run!(32, |v| w4_nd(v, d), &w, g2)),
                    ("slope chunk 32", &mut slope_w4!(32, g3)),
                    ("slope chunk 64", &mut slope_w4!(64, g4)),
                    ("slope chunk 128", &mut slope_w4!(128, g5)),
                    ("slope chunk 255", &mut slope_w4!(255, g6)),
                    ("primal", &mut || {
                        black_box(w4(black_box(&w), d));
                    }),
                    ("hand", &mut || {
                        black_box(w4_gradient(black_box(&w), d, g7));
                    }),
                ],
            );
            let _ = g8;
        }
    }
}
