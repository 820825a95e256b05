//! Logistic regression fitted by gradient descent, with the reuse pattern: parameters and
//! data recorded once, a checkpoint after them, and each step's nodes dropped by a rewind.
//!
//! `cargo run --release --example train` prints the loss as it falls, the time per step
//! beside a hand-written gradient, the graph's memory over 10^4 steps, and the same model
//! fitted the naive way (one graph that grows, parameters made again each step).

use std::time::Instant;

use slope::prelude::*;

const N: usize = 200;
const STEPS: usize = 10_000;
const RATE: f64 = 0.5;

/// 200 points in 3 features, labelled by a known plane with some overlap.
fn data() -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::with_capacity(N * 3);
    let mut y = Vec::with_capacity(N);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    for _ in 0..N {
        let row = [uniform(), uniform(), uniform()];
        let margin = 1.5 * row[0] - 2.0 * row[1] + 0.5 * row[2] + 0.3 + 0.4 * uniform();
        x.extend_from_slice(&row);
        y.push(if margin > 0.0 { 1.0 } else { 0.0 });
    }
    (x, y)
}

/// Mean binary cross-entropy of `sigmoid(X w + b)` against `y`.
fn loss<'g>(x: Tensor<'g>, y: Tensor<'g>, w: Tensor<'g>, b: Tensor<'g>) -> Tensor<'g> {
    let p = (x.matmul(w) + b).sigmoid();
    -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean()
}

/// The same loss and its gradient by hand: `∂/∂w = Xᵀ (p - y) / n`, `∂/∂b = mean(p - y)`.
fn hand_gradient(x: &[f64], y: &[f64], w: &[f64; 3], b: f64) -> (f64, [f64; 3], f64) {
    let (mut loss, mut gw, mut gb) = (0.0, [0.0; 3], 0.0);
    for (row, &label) in x.chunks_exact(3).zip(y) {
        let z = row[0] * w[0] + row[1] * w[1] + row[2] * w[2] + b;
        let p = 1.0 / (1.0 + (-z).exp());
        loss -= label * p.ln() + (1.0 - label) * (1.0 - p).ln();
        let r = p - label;
        for k in 0..3 {
            gw[k] += r * row[k];
        }
        gb += r;
    }
    let n = y.len() as f64;
    (loss / n, gw.map(|g| g / n), gb / n)
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (xs, ys) = data();

    // The reuse pattern.
    let mut g = Graph::new();
    let w = g.vector(&[0.0; 3]).requires_grad_().id();
    let b = g.scalar(0.0).requires_grad_().id();
    let x = g.matrix(N, 3, &xs)?.id();
    let y = g.vector(&ys).id();
    let start = g.checkpoint();
    let mut times = Vec::with_capacity(STEPS);
    let mut memory = Vec::new();
    let (mut first_loss, mut last_loss) = (0.0, 0.0);
    for step in 0..STEPS {
        let t = Instant::now();
        let (wt, bt) = (g.tensor(w)?, g.tensor(b)?);
        let l = loss(g.tensor(x)?, g.tensor(y)?, wt, bt);
        l.backward()?;
        let (gw, gb) = (wt.grad().ok_or("no gradient")?, bt.grad().ok_or("no gradient")?);
        let new_w: Vec<f64> = wt.to_vec().iter().zip(gw.as_slice()).map(|(w, g)| w - RATE * g).collect();
        let new_b = bt.item()? - RATE * gb.item().ok_or("not a scalar")?;
        let value = l.item()?;
        g.set_value(w, &new_w)?;
        g.set_value(b, &[new_b])?;
        g.zero_grad();
        g.rewind(start)?;
        times.push(t.elapsed().as_secs_f64());
        if step == 0 {
            first_loss = value;
        }
        last_loss = value;
        if step % 1000 == 0 || step == STEPS - 1 {
            memory.push(g.memory_bytes());
        }
        if step % 2000 == 0 {
            println!("step {step:>5}: loss {value:.6}");
        }
    }
    let fitted = g.tensor(w)?.to_vec();
    println!("step {STEPS:>5}: loss {last_loss:.6} (from {first_loss:.6}); w = {fitted:.3?}");

    // The same descent by hand, from the same start: the two must agree.
    let (mut hw, mut hb) = ([0.0; 3], 0.0);
    let mut hand_times = Vec::with_capacity(STEPS);
    let mut hand_loss = 0.0;
    for _ in 0..STEPS {
        let t = Instant::now();
        let (l, gw, gb) = hand_gradient(&xs, &ys, &hw, hb);
        for k in 0..3 {
            hw[k] -= RATE * gw[k];
        }
        hb -= RATE * gb;
        hand_loss = std::hint::black_box(l);
        hand_times.push(t.elapsed().as_secs_f64());
    }
    let agree = fitted.iter().zip(&hw).all(|(a, b)| (a - b).abs() <= 1e-9 * b.abs().max(1.0));
    println!("by hand: loss {hand_loss:.6}, w = {hw:.3?} ({})", if agree { "the same" } else { "DIFFERENT" });
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
    let (nx, ny) = (naive.matrix(N, 3, &xs)?, naive.vector(&ys));
    let (mut nw, mut nb) = (vec![0.0; 3], 0.0);
    let mut blocks = Vec::new();
    let mut t = Instant::now();
    for step in 1..=4000 {
        let (wt, bt) = (naive.vector(&nw).requires_grad_(), naive.scalar(nb).requires_grad_());
        loss(nx, ny, wt, bt).backward()?;
        let (gw, gb) = (wt.grad().ok_or("no gradient")?, bt.grad().ok_or("no gradient")?);
        nw.iter_mut().zip(gw.as_slice()).for_each(|(w, g)| *w -= RATE * g);
        nb -= RATE * gb.item().ok_or("not a scalar")?;
        if step % 1000 == 0 {
            blocks.push(t.elapsed().as_secs_f64() * 1e3);
            t = Instant::now();
        }
    }
    println!(
        "naive loop, ms per block of 1000 steps: {:.1?} (last / first = {:.2}); the graph grew to {} nodes",
        blocks,
        blocks[3] / blocks[0],
        naive.len()
    );
    if !agree || !flat {
        return Err("the fitted model or the memory check failed".into());
    }
    Ok(())
}
