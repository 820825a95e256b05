//! Trains a two-layer perceptron (784 -> 128 -> 10, relu, softmax cross-entropy, batches of
//! 256, `f64`) by gradient descent on a generated, seeded classification set until its
//! training accuracy passes the bar, with slope's tensors and `slope::optim::Sgd` (the
//! weights are leaves of one graph, moved in place); a hand-written nalgebra backprop
//! takes the same steps beside it, so the per-step times are compared on one machine in
//! one run and the two sets of weights are held equal. `cargo run --release --example mlp`
//! (`MATMUL_NUM_THREADS=1` or `2` sets the threads of the matrix products).
use std::time::Instant;

use slope_benches::mlp::*;
use slope_benches::race::median;

/// The training accuracy to reach.
const BAR: f64 = 0.95;
const EXAMPLES: usize = 10 * BATCH;
const RATE: f64 = 0.05;
const MAX_EPOCHS: usize = 40;

fn main() {
    let data = Dataset::generate(EXAMPLES, 1);
    let params = Params::init(2);
    let mut hand_params = params.clone();
    let mut hand_grad = Params::zeros();
    let mut model = SlopeModel::new(&params, RATE);
    let mut buffers = HandBuffers::new(BATCH);
    let (mut slope_times, mut hand_times) = (Vec::new(), Vec::new());
    println!("MLP 784 -> 128 -> 10, {EXAMPLES} examples in batches of {BATCH}, rate {RATE}, bar {BAR}");
    println!("epoch 0: training accuracy {:.3}", accuracy(&params, &data));
    for epoch in 1..=MAX_EPOCHS {
        let mut loss = 0.0;
        for k in 0..EXAMPLES / BATCH {
            let (x, labels) = data.batch(k);
            let start = Instant::now();
            loss += model.step(x, labels);
            slope_times.push(start.elapsed().as_secs_f64() * 1e3);
            let start = Instant::now();
            hand_step(&mut buffers, &hand_params, x, labels, &mut hand_grad);
            hand_params.descend(&hand_grad, RATE);
            hand_times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let params = model.params();
        let drift = params.w1.iter().zip(&hand_params.w1).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(drift < 1e-9, "slope and the hand-written backprop drifted apart: {drift}");
        let acc = accuracy(&params, &data);
        println!("epoch {epoch}: mean loss {:.4}, training accuracy {acc:.3}", loss / (EXAMPLES / BATCH) as f64);
        if acc >= BAR {
            let (ours, hand) = (median(slope_times.clone()), median(hand_times.clone()));
            println!("reached {BAR} after {epoch} epochs ({} steps)", slope_times.len());
            // The same bits on every run and at every thread count: the products split
            // their output blocks between threads, never a sum.
            let bits = params.w1.iter().chain(&params.w2).fold(0u64, |h, v| h.rotate_left(5) ^ v.to_bits());
            println!("fingerprint of the trained weights: {bits:016x}");
            println!(
                "median step (loss, every gradient, the update): slope {ours:.2} ms, hand-written nalgebra {hand:.2} ms, ratio {:.2}",
                ours / hand
            );
            return;
        }
    }
    eprintln!("the bar {BAR} was not reached in {MAX_EPOCHS} epochs");
    std::process::exit(1);
}
