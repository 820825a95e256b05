//! Interleaved timing of the scalar tape against the `reverse` crate (its tape kept and
//! cleared): each repetition times one slope gradient and one peer gradient back to back,
//! and the median of the per-repetition ratios is printed, which a shared, noisy machine
//! disturbs less than two separate medians. A development aid beside the criterion benches:
//! `cargo run --release -p slope-benches --example tape_quick`.
use std::hint::black_box;

use reverse::Gradient as _;
use slope_benches::peers::*;
use slope_benches::race::{median, timed};
use slope_benches::*;

fn compare(name: &str, reps: usize, mut slope: impl FnMut(), mut peer: impl FnMut()) {
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let (x, y) = (timed(&mut slope), timed(&mut peer));
        a.push(x);
        b.push(y);
        r.push(x / y);
    }
    println!("{name}: slope {:.0} µs, reverse {:.0} µs, ratio {:.2}", median(a), median(b), median(r));
}

fn main() {
    let tape = reverse::Tape::new();
    for n in [100, 1000] {
        let x = rosenbrock_point(n);
        compare(
            &format!("W1 n = {n}"),
            3000,
            || drop(black_box(slope::gradient(|v| rosenbrock(v), black_box(&x)).unwrap())),
            || {
                tape.clear();
                let vars = tape.add_vars(black_box(&x));
                black_box(rosenbrock_peer(&vars).grad().wrt(&vars));
            },
        );
    }
    let x = rosenbrock_point(10_000);
    compare(
        "W1",
        300,
        || drop(black_box(slope::gradient(|v| rosenbrock(v), black_box(&x)).unwrap())),
        || {
            tape.clear();
            let vars = tape.add_vars(black_box(&x));
            black_box(rosenbrock_peer(&vars).grad().wrt(&vars));
        },
    );
    let x2 = slope::expr::linspace(-10.0, 10.0, 100_000);
    compare(
        "W2",
        100,
        || drop(black_box(slope::gradient(|v| sum_squares(v), black_box(&x2)).unwrap())),
        || {
            tape.clear();
            let vars = tape.add_vars(black_box(&x2));
            black_box(sum_squares_peer(&vars).grad().wrt(&vars));
        },
    );
    compare(
        "W3",
        300,
        || drop(black_box(slope::gradient(|v| chain(v[0], 10_000), &[black_box(0.7)]).unwrap())),
        || {
            tape.clear();
            let v = tape.add_var(black_box(0.7));
            black_box(chain_peer(v, 10_000).grad().wrt(&v));
        },
    );
    let (w, d) = w4_data(64);
    let dc: Vec<slope::Var<'static>> = d.iter().map(|&v| slope::Var::constant(v)).collect();
    compare(
        "W4",
        1000,
        || drop(black_box(slope::gradient(|v| w4(v, &dc), black_box(&w)).unwrap())),
        || {
            tape.clear();
            let vars = tape.add_vars(black_box(&w));
            black_box(w4_peer(&vars, &d).grad().wrt(&vars));
        },
    );
}
