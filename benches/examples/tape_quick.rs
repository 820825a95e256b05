//! Quick interleaved timing of the scalar tape against the `reverse` crate (kept tape),
//! medians of many runs: a development aid beside the criterion benches.
use std::hint::black_box;
use std::time::Instant;

use reverse::Gradient as _;
use slope_benches::*;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    median(t)
}

fn main() {
    let x = rosenbrock_point(10_000);
    let tape = reverse::Tape::new();
    let w1_slope = time(200, || {
        black_box(slope::gradient(|v| rosenbrock(v), black_box(&x)).unwrap());
    });
    let w1_peer = time(200, || {
        tape.clear();
        let vars = tape.add_vars(black_box(&x));
        black_box(peers::rosenbrock_peer(&vars).grad().wrt(&vars));
    });
    println!("W1 slope {w1_slope:.0} µs  reverse {w1_peer:.0} µs  ratio {:.2}", w1_slope / w1_peer);

    let x2 = slope::expr::linspace(-10.0, 10.0, 100_000);
    let w2_slope = time(100, || {
        black_box(slope::gradient(|v| sum_squares(v), black_box(&x2)).unwrap());
    });
    let w2_peer = time(100, || {
        tape.clear();
        let vars = tape.add_vars(black_box(&x2));
        black_box(peers::sum_squares_peer(&vars).grad().wrt(&vars));
    });
    println!("W2 slope {w2_slope:.0} µs  reverse {w2_peer:.0} µs  ratio {:.2}", w2_slope / w2_peer);

    let w3_slope = time(200, || {
        black_box(slope::gradient(|v| chain(v[0], 10_000), &[black_box(0.7)]).unwrap());
    });
    let w3_peer = time(200, || {
        tape.clear();
        let v = tape.add_var(black_box(0.7));
        black_box(peers::chain_peer(v, 10_000).grad().wrt(&v));
    });
    println!("W3 slope {w3_slope:.0} µs  reverse {w3_peer:.0} µs  ratio {:.2}", w3_slope / w3_peer);

    let (w, d) = w4_data(64);
    let dc: Vec<slope::Var<'static>> = d.iter().map(|&v| slope::Var::constant(v)).collect();
    let w4_slope = time(300, || {
        black_box(slope::gradient(|v| w4(v, &dc), black_box(&w)).unwrap());
    });
    let w4_peer = time(300, || {
        tape.clear();
        let vars = tape.add_vars(black_box(&w));
        black_box(peers::w4_peer(&vars, &d).grad().wrt(&vars));
    });
    println!("W4 slope {w4_slope:.0} µs  reverse {w4_peer:.0} µs  ratio {:.2}", w4_slope / w4_peer);
}
