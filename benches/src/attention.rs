//! The attention workload: a single-head self-attention block on a generated sequence task
//! (each position's label is the token one position back, so a query has to find its
//! neighbour by position), every tensor of rank 3 (`[batch, sequence, width]`). Shared by
//! `--example attention` and the `models` bench.

use slope::prelude::*;
use slope::NodeId;

use crate::mlp::Rng;

/// The sizes of a task and its block.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Sequences per batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// Values a token takes.
    pub values: usize,
    /// Features of noise per token.
    pub noise: usize,
    /// Width of the queries, keys and values.
    pub head: usize,
}

impl Sizes {
    /// Features per token: a one-hot value, a one-hot position, the noise.
    pub fn width(self) -> usize {
        self.values + self.seq + self.noise
    }
}

/// A batch: features `[batch, seq, width]` and the label of every position.
pub fn batch(rng: &mut Rng, sizes: Sizes) -> (Vec<f64>, Vec<f64>) {
    let Sizes { batch, seq, values, .. } = sizes;
    let width = sizes.width();
    let mut x = vec![0.0; batch * seq * width];
    let mut labels = Vec::with_capacity(batch * seq);
    for b in 0..batch {
        let tokens: Vec<usize> = (0..seq).map(|_| (rng.uniform() * values as f64) as usize % values).collect();
        for (t, &token) in tokens.iter().enumerate() {
            let row = &mut x[(b * seq + t) * width..(b * seq + t + 1) * width];
            row[token] = 1.0;
            row[values + t] = 1.0;
            for noise in &mut row[values + seq..] {
                *noise = 0.1 * rng.normal();
            }
            labels.push(tokens[t.saturating_sub(1)] as f64);
        }
    }
    (x, labels)
}

/// The block's weights, `[width, head]` thrice and `[head, values]`, as leaves of `g`.
pub fn weights(g: &Graph, rng: &mut Rng, sizes: Sizes) -> [NodeId; 4] {
    let (width, head) = (sizes.width(), sizes.head);
    let mut leaf = |rows: usize, cols: usize| {
        let scale = 1.0 / (rows as f64).sqrt();
        let data: Vec<f64> = (0..rows * cols).map(|_| scale * rng.normal()).collect();
        g.matrix(rows, cols, &data).expect("a whole matrix").requires_grad_().id()
    };
    [leaf(width, head), leaf(width, head), leaf(width, head), leaf(head, sizes.values)]
}

/// The logits `[batch · seq, values]` of the attention block on `x` `[batch, seq, width]`.
pub fn logits<'g>(g: &'g Graph, w: &[NodeId; 4], x: Tensor<'g>) -> Tensor<'g> {
    let [wq, wk, wv, wo] = w.map(|id| g.tensor(id).expect("the weights are kept"));
    let (q, k, v) = (x.matmul(wq), x.matmul(wk), x.matmul(wv));
    let head = wq.shape().dims()[1];
    let scores = q.matmul(k.transpose(-2, -1)) * (1.0 / (head as f64).sqrt());
    let context = scores.softmax(-1).matmul(v);
    let values = wo.shape().dims()[1];
    context.matmul(wo).view(&[-1, values as isize])
}

/// Share of positions whose largest logit is their label.
pub fn accuracy(logits: &[f64], labels: &[f64], values: usize) -> f64 {
    let hits = logits
        .chunks_exact(values)
        .zip(labels)
        .filter(|(row, &label)| {
            let best = row.iter().enumerate().fold(0, |b, (k, &v)| if v > row[b] { k } else { b });
            best as f64 == label
        })
        .count();
    hits as f64 / labels.len() as f64
}
