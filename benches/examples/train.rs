//! Logistic regression fitted by gradient descent with the reuse pattern: parameters and
//! data recorded once, a checkpoint after them, and each step's nodes dropped by a rewind.
//!
//! `cargo run --release --example train` prints the loss as it falls, the time per step
//! beside the same descent with a hand-written gradient, the graph's memory over 10^4
//! steps, and the naive loop (one graph that grows, parameters made again each step).
//! The model is `slope_benches::logistic`, which the `train_step` benchmark also runs.

use std::time::Instant;

use slope::prelude::*;
use slope_benches::{logistic_data, LogisticIds, LogisticParams};

const STEPS: usize = 10_000;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (xs, ys) = logistic_data(200);

    // The reuse pattern.
    let mut g = Graph::new();
    let model = LogisticIds::record(&g, &xs, &ys);
    let start = g.checkpoint();
    let mut times = Vec::with_capacity(STEPS);
    let mut memory = Vec::new();
    let mut losses = Vec::with_capacity(STEPS);
    for step in 0..STEPS {
        let t = Instant::now();
        let loss = model.step(&mut g)?;
        g.rewind(start)?;
        times.push(t.elapsed().as_secs_f64());
        losses.push(loss);
        if step % 1000 == 0 {
            memory.push(g.memory_bytes());
        }
        if step % 2000 == 0 {
            println!("step {step:>5}: loss {loss:.6}");
        }
    }
    let fitted = model.params(&g)?;
    println!("after {STEPS} steps: loss {:.6}; w = {:.3?}, b = {:.3}", losses[STEPS - 1], fitted.w, fitted.b);

    // The same descent by hand, from the same start: the two must agree.
    let mut hand = LogisticParams::default();
    let mut hand_times = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        let t = Instant::now();
        std::hint::black_box(hand.step_by_hand(&xs, &ys));
        hand_times.push(t.elapsed().as_secs_f64());
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let agree = fitted.w.iter().zip(&hand.w).all(|(&a, &b)| close(a, b)) && close(fitted.b, hand.b);
    println!("by hand: w = {:.3?}, b = {:.3} ({})", hand.w, hand.b, if agree { "the same" } else { "DIFFERENT" });
    let (step_time, hand_time) = (median(times), median(hand_times));
    println!(
        "per step (median of {STEPS}): slope {:.1} µs, hand-written gradient {:.1} µs ({:.1}x)",
        step_time * 1e6,
        hand_time * 1e6,
        step_time / hand_time
    );
    let flat = memory.iter().all(|&m| m == memory[0]);
    println!("graph memory every 1000 steps: {} bytes{}", memory[0], if flat { ", flat" } else { ", NOT flat" });

    // The naive loop: one graph, never rewound, parameters made again each step.
    let naive = Graph::new();
    let (nx, ny) = (naive.matrix(200, 3, &xs)?, naive.vector(&ys));
    let mut params = LogisticParams::default();
    let mut blocks = Vec::new();
    let mut t = Instant::now();
    for step in 1..=4000 {
        params.step_naive(&naive, nx, ny)?;
        if step % 1000 == 0 {
            blocks.push(t.elapsed().as_secs_f64() * 1e3);
            t = Instant::now();
        }
    }
    println!(
        "naive loop, ms per block of 1000 steps: {blocks:.1?} (last / first = {:.2}); the graph grew to {} nodes",
        blocks[3] / blocks[0],
        naive.len()
    );
    if !agree || !flat {
        return Err("the fitted model or the memory check failed".into());
    }
    Ok(())
}
