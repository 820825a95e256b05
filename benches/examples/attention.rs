//! Trains a single-head self-attention block on a generated sequence task until its
//! training accuracy passes the bar: batches of 32 sequences of 32 tokens, each token given
//! as 64 features (a one-hot of its value among 16 and a one-hot of its position among 32,
//! plus 16 features of noise); Q, K, V projections to 32, `softmax(Q Kᵀ / √32) V`, a linear
//! head to the 16 values, cross-entropy against the token one position back (position 0
//! against itself), so each query has to find its neighbour by position. Every tensor of the
//! block has rank 3 (`[batch, sequence, width]`) and the products are batched `matmul`s.
//!
//! Before training, the block's gradient is checked by `slope-check` (forward mode, reverse
//! mode and finite differences) on a small instance. While training, the time of the
//! forward pass alone (recorded, no `backward`) and of a whole step (forward, `backward`) is
//! taken per batch, and the medians' ratio is printed.
//! `cargo run --release -p slope-benches --example attention`.
use std::time::Instant;

use slope::optim::{Adam, AdamOptions};
use slope::prelude::*;
use slope::{NodeId, Shape};
use slope_benches::attention::{accuracy, batch, logits, weights, Sizes};
use slope_benches::mlp::Rng;
use slope_benches::race::median;

const BATCH: usize = 32;
const SEQ: usize = 32;
const VALUES: usize = 16;
const NOISE: usize = 16;
const WIDTH: usize = VALUES + SEQ + NOISE;
const HEAD: usize = 32;
const BAR: f64 = 0.95;
const MAX_STEPS: usize = 600;

/// The gradient of the loss of a small instance (2 sequences of 3 tokens of 3 values, a
/// head of 4) with respect to every weight and the input, checked by forward mode, reverse
/// mode and finite differences.
fn check_small_instance() {
    let mut rng = Rng::new(7);
    let sizes = Sizes { batch: 2, seq: 3, values: 3, noise: 1, head: 4 };
    let g = Graph::new();
    let w = weights(&g, &mut rng, sizes);
    let (x, labels) = batch(&mut rng, sizes);
    let shape = Shape::of(&[sizes.batch, sizes.seq, sizes.width()]);
    let x = g.try_tensor(shape, &x).expect("a whole batch").requires_grad_();
    let loss = logits(&g, &w, x).cross_entropy(g.vector(&labels));
    let inputs: Vec<NodeId> = w.iter().copied().chain([x.id()]).collect();
    let output = loss.id();
    let report = slope::check::check_graph(&g.freeze(), &inputs, output, &Default::default())
        .expect("the instance's nodes belong to it");
    println!("{report}");
    assert!(report.passed(), "the attention block's gradient disagrees between modes");
}

fn main() {
    check_small_instance();
    let mut rng = Rng::new(1);
    let mut g = Graph::new();
    let sizes = Sizes { batch: BATCH, seq: SEQ, values: VALUES, noise: NOISE, head: HEAD };
    let w = weights(&g, &mut rng, sizes);
    let start = g.checkpoint();
    let mut adam = Adam::new(&w, AdamOptions { lr: 0.01, ..AdamOptions::default() }).expect("valid settings");
    let (mut forward_times, mut step_times) = (Vec::new(), Vec::new());
    let shape = Shape::of(&[BATCH, SEQ, WIDTH]);
    println!("attention block: batches of {BATCH} x {SEQ} tokens, width {WIDTH}, head {HEAD}, bar {BAR}");
    for step in 1..=MAX_STEPS {
        let (x, labels) = batch(&mut rng, sizes);
        // The forward pass alone, then dropped.
        let begin = Instant::now();
        {
            let input = g.try_tensor(shape, &x).expect("a whole batch");
            let loss = logits(&g, &w, input).cross_entropy(g.vector(&labels));
            std::hint::black_box(loss.item().expect("a scalar loss"));
        }
        forward_times.push(begin.elapsed().as_secs_f64() * 1e3);
        g.rewind(start).expect("the checkpoint of this graph");
        // A whole step: forward and backward (the optimiser's update is not timed).
        let begin = Instant::now();
        let (loss, acc) = {
            let input = g.try_tensor(shape, &x).expect("a whole batch");
            let out = logits(&g, &w, input);
            let loss = out.cross_entropy(g.vector(&labels));
            loss.backward().expect("a scalar loss");
            step_times.push(begin.elapsed().as_secs_f64() * 1e3);
            (loss.item().expect("a scalar loss"), accuracy(&out.to_vec(), &labels, VALUES))
        };
        adam.step(&mut g).expect("the weights are leaves");
        g.zero_grad();
        g.rewind(start).expect("the checkpoint of this graph");
        if step % 25 == 0 || acc >= BAR {
            println!("step {step}: loss {loss:.4}, batch accuracy {acc:.3}");
        }
        if acc >= BAR {
            let (forward, whole) = (median(forward_times), median(step_times));
            println!("reached {BAR} after {step} steps");
            println!(
                "median forward {forward:.2} ms, forward + backward {whole:.2} ms: the gradient costs {:.2}x the forward pass",
                whole / forward
            );
            return;
        }
    }
    eprintln!("the bar {BAR} was not reached in {MAX_STEPS} steps");
    std::process::exit(1);
}
