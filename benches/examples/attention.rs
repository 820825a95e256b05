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

/// A batch: features `[batch, seq, WIDTH]` and the label of every position.
fn batch(rng: &mut Rng, batch: usize, seq: usize) -> (Vec<f64>, Vec<f64>) {
    let width = VALUES + seq + NOISE;
    let mut x = vec![0.0; batch * seq * width];
    let mut labels = Vec::with_capacity(batch * seq);
    for b in 0..batch {
        let tokens: Vec<usize> = (0..seq).map(|_| (rng.uniform() * VALUES as f64) as usize % VALUES).collect();
        for (t, &token) in tokens.iter().enumerate() {
            let row = &mut x[(b * seq + t) * width..(b * seq + t + 1) * width];
            row[token] = 1.0;
            row[VALUES + t] = 1.0;
            for noise in &mut row[VALUES + seq..] {
                *noise = 0.1 * rng.normal();
            }
            labels.push(tokens[t.saturating_sub(1)] as f64);
        }
    }
    (x, labels)
}

/// The block's weights, `[WIDTH, HEAD]` thrice and `[HEAD, VALUES]`, as leaves of `g`.
fn weights(g: &Graph, rng: &mut Rng, width: usize) -> [NodeId; 4] {
    let mut leaf = |rows: usize, cols: usize| {
        let scale = 1.0 / (rows as f64).sqrt();
        let data: Vec<f64> = (0..rows * cols).map(|_| scale * rng.normal()).collect();
        g.matrix(rows, cols, &data).expect("a whole matrix").requires_grad_().id()
    };
    [leaf(width, HEAD), leaf(width, HEAD), leaf(width, HEAD), leaf(HEAD, VALUES)]
}

/// The logits `[batch · seq, VALUES]` of the attention block on `x` `[batch, seq, width]`.
fn logits<'g>(g: &'g Graph, w: &[NodeId; 4], x: Tensor<'g>) -> Tensor<'g> {
    let [wq, wk, wv, wo] = w.map(|id| g.tensor(id).expect("the weights are kept"));
    let (q, k, v) = (x.matmul(wq), x.matmul(wk), x.matmul(wv));
    let scores = q.matmul(k.transpose(-2, -1)) * (1.0 / (HEAD as f64).sqrt());
    let context = scores.softmax(-1).matmul(v);
    let dims = x.shape().dims();
    context.matmul(wo).view(&[(dims[0] * dims[1]) as isize, VALUES as isize])
}

/// Share of positions whose largest logit is their label.
fn accuracy(logits: &[f64], labels: &[f64]) -> f64 {
    let hits = logits
        .chunks_exact(VALUES)
        .zip(labels)
        .filter(|(row, &label)| {
            let best = row.iter().enumerate().fold(0, |b, (k, &v)| if v > row[b] { k } else { b });
            best as f64 == label
        })
        .count();
    hits as f64 / labels.len() as f64
}

/// The gradient of the loss of a small instance (2 sequences of 5 tokens) with respect to
/// every weight and the input, checked by forward mode, reverse mode and finite
/// differences.
fn check_small_instance() {
    let mut rng = Rng::new(7);
    let (seq, width) = (5, VALUES + 5 + NOISE);
    let g = Graph::new();
    let w = weights(&g, &mut rng, width);
    let (x, labels) = batch(&mut rng, 2, seq);
    let x = g.try_tensor(Shape::of(&[2, seq, width]), &x).expect("a whole batch").requires_grad_();
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
    let w = weights(&g, &mut rng, WIDTH);
    let start = g.checkpoint();
    let mut adam = Adam::new(&w, AdamOptions { lr: 0.01, ..AdamOptions::default() }).expect("valid settings");
    let (mut forward_times, mut step_times) = (Vec::new(), Vec::new());
    let shape = Shape::of(&[BATCH, SEQ, WIDTH]);
    println!("attention block: batches of {BATCH} x {SEQ} tokens, width {WIDTH}, head {HEAD}, bar {BAR}");
    for step in 1..=MAX_STEPS {
        let (x, labels) = batch(&mut rng, BATCH, SEQ);
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
            (loss.item().expect("a scalar loss"), accuracy(&out.to_vec(), &labels))
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
