//! W2 `sum(x**2)`, n = 10^5, as the notebook writes it: a fresh `Graph::new()` per call,
//! `backward`, then the gradient read. Each spelling runs alone in its process (what the
//! allocator keeps between calls is part of what is measured), so run one per process:
//! `cargo run --release -p slope-benches --example w2_fresh -- fresh|into|kept|hand` (`into`: a fresh graph,
//! the gradient written by `grad_into` into a buffer kept across calls).
//! Prints the median of 200 calls after 20 warm-up calls.
use std::hint::black_box;
use std::time::Instant;

use slope::prelude::*;

fn median(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "fresh".into());
    let x = slope::expr::linspace(-10.0, 10.0, 100_000);
    let seconds = match which.as_str() {
        "fresh" => median(|| {
            let g = Graph::new();
            let t = g.vector(black_box(&x)).requires_grad_();
            t.powi(2).sum().backward().unwrap();
            black_box(t.grad().unwrap());
        }),
        "into" => {
            let mut grad = vec![0.0; x.len()];
            median(|| {
                let g = Graph::new();
                let t = g.vector(black_box(&x)).requires_grad_();
                slope::grad_into(t.powi(2).sum(), &[t], &mut [&mut grad]).unwrap();
                black_box(&grad);
            })
        }
        "kept" => {
            let mut g = Graph::new();
            median(|| {
                g.clear();
                let t = g.vector(black_box(&x)).requires_grad_();
                t.powi(2).sum().backward().unwrap();
                black_box(t.grad().unwrap());
            })
        }
        "hand" => median(|| {
            let mut grad = vec![0.0; x.len()];
            let s = slope_benches::sum_squares_gradient(black_box(&x), &mut grad);
            black_box((s, grad));
        }),
        other => panic!("fresh, into, kept or hand, not {other}"),
    };
    println!("{which}: {:.1} µs", seconds * 1e6);
}
