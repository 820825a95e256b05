//! The model workload: a two-layer perceptron (784 -> 128 -> 10, relu, softmax cross-entropy,
//! `f64`) on a generated, seeded classification set, its loss and gradient of every weight
//! taken by slope and by a careful hand-written nalgebra backprop, so the two are measured
//! (and held equal) side by side.
//!
//! Data and parameters are row-major, as slope stores them: a batch `X` is `[B, 784]`, `W1`
//! is `[784, 128]`, `W2` is `[128, 10]`. Read as column-major by nalgebra they are the
//! transposes, so the hand-written backprop works on transposes throughout
//! (`Hᵀ = W1ᵀ Xᵀ`), and every transposed factor is a strided view passed to `gemm`, which
//! keeps nalgebra on its blocked kernel (`tr_mul` and `gemm_tr` compute dot products).

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, Dyn, MatrixView};
use slope::prelude::*;

/// Inputs per example.
pub const FEATURES: usize = 784;
/// Hidden units.
pub const HIDDEN: usize = 128;
/// Classes.
pub const CLASSES: usize = 10;
/// Examples per batch.
pub const BATCH: usize = 256;

/// SplitMix64: a small, seeded generator, so data and weights are the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * core::f64::consts::PI * v).cos()
    }
}

/// A classification set: `examples` rows of [`FEATURES`] (row-major) and their labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `[examples, FEATURES]`, row-major.
    pub x: Vec<f64>,
    /// One class per example, as `f64` (slope's labels are a tensor).
    pub labels: Vec<f64>,
}

impl Dataset {
    /// Ten classes, each a random centre in 784 dimensions (entries `±0.1`) plus unit
    /// Gaussian noise per feature: separable by a linear map only roughly, so a network
    /// has to learn.
    pub fn generate(examples: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let centres: Vec<f64> = (0..CLASSES * FEATURES).map(|_| if rng.uniform() < 0.5 { -0.1 } else { 0.1 }).collect();
        let mut x = Vec::with_capacity(examples * FEATURES);
        let mut labels = Vec::with_capacity(examples);
        for _ in 0..examples {
            let class = (rng.uniform() * CLASSES as f64) as usize % CLASSES;
            labels.push(class as f64);
            x.extend(centres[class * FEATURES..(class + 1) * FEATURES].iter().map(|c| c + rng.normal()));
        }
        Dataset { x, labels }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Batch `k` of [`BATCH`] examples: `(x, labels)`.
    pub fn batch(&self, k: usize) -> (&[f64], &[f64]) {
        let rows = k * BATCH..(k + 1) * BATCH;
        (&self.x[rows.start * FEATURES..rows.end * FEATURES], &self.labels[rows])
    }
}

/// The weights, row-major, as slope's leaves hold them.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `[FEATURES, HIDDEN]`.
    pub w1: Vec<f64>,
    /// `[HIDDEN]`.
    pub b1: Vec<f64>,
    /// `[HIDDEN, CLASSES]`.
    pub w2: Vec<f64>,
    /// `[CLASSES]`.
    pub b2: Vec<f64>,
}

impl Params {
    /// He-initialised weights (uniform, seeded), zero biases.
    pub fn init(seed: u64) -> Params {
        let mut rng = Rng::new(seed);
        let mut layer = |fan_in: usize, len: usize| {
            let bound = (6.0 / fan_in as f64).sqrt();
            (0..len).map(|_| (2.0 * rng.uniform() - 1.0) * bound).collect::<Vec<f64>>()
        };
        let w1 = layer(FEATURES, FEATURES * HIDDEN);
        let w2 = layer(HIDDEN, HIDDEN * CLASSES);
        Params { w1, b1: vec![0.0; HIDDEN], w2, b2: vec![0.0; CLASSES] }
    }

    /// Zeros of every shape: a gradient buffer.
    pub fn zeros() -> Params {
        Params {
            w1: vec![0.0; FEATURES * HIDDEN],
            b1: vec![0.0; HIDDEN],
            w2: vec![0.0; HIDDEN * CLASSES],
            b2: vec![0.0; CLASSES],
        }
    }

    /// `self -= rate * grad`: one step of gradient descent.
    pub fn descend(&mut self, grad: &Params, rate: f64) {
        for (p, g) in
            [(&mut self.w1, &grad.w1), (&mut self.b1, &grad.b1), (&mut self.w2, &grad.w2), (&mut self.b2, &grad.b2)]
        {
            p.iter_mut().zip(g).for_each(|(p, g)| *p -= rate * g);
        }
    }
}

/// The fraction of `data` the network classifies right.
pub fn accuracy(params: &Params, data: &Dataset) -> f64 {
    let mut right = 0;
    for (k, &label) in data.labels.iter().enumerate() {
        let x = &data.x[k * FEATURES..(k + 1) * FEATURES];
        let mut h = params.b1.clone();
        for (f, &xf) in x.iter().enumerate() {
            for (h, &w) in h.iter_mut().zip(&params.w1[f * HIDDEN..(f + 1) * HIDDEN]) {
                *h += xf * w;
            }
        }
        let mut logits = params.b2.clone();
        for (j, &hj) in h.iter().enumerate() {
            let hj = hj.max(0.0);
            for (l, &w) in logits.iter_mut().zip(&params.w2[j * CLASSES..(j + 1) * CLASSES]) {
                *l += hj * w;
            }
        }
        let best = (0..CLASSES).fold(0, |best, c| if logits[c] > logits[best] { c } else { best });
        right += usize::from(best as f64 == label);
    }
    right as f64 / data.len().max(1) as f64
}

/// The loss of one batch and the gradient of every weight into `grad`, through slope's
/// tensors on `graph` (cleared first, so a loop allocates nothing once warm).
pub fn slope_step(graph: &mut Graph, params: &Params, x: &[f64], labels: &[f64], grad: &mut Params) -> f64 {
    graph.clear();
    let g = &*graph;
    let rows = labels.len();
    let input = g.matrix(rows, FEATURES, x).expect("a batch of whole rows");
    let w1 = g.matrix(FEATURES, HIDDEN, &params.w1).expect("W1 is 784 x 128").requires_grad_();
    let b1 = g.vector(&params.b1).requires_grad_();
    let w2 = g.matrix(HIDDEN, CLASSES, &params.w2).expect("W2 is 128 x 10").requires_grad_();
    let b2 = g.vector(&params.b2).requires_grad_();
    let hidden = (input.matmul(w1) + b1).relu();
    let logits = hidden.matmul(w2) + b2;
    let loss = logits.cross_entropy(g.vector(labels));
    loss.backward().expect("a scalar loss");
    for (leaf, out) in [(w1, &mut grad.w1), (b1, &mut grad.b1), (w2, &mut grad.w2), (b2, &mut grad.b2)] {
        leaf.with_grad(|g| out.copy_from_slice(g));
    }
    loss.item().expect("a scalar loss")
}

/// The network as a PyTorch training loop holds it: the weights are leaves of one graph,
/// recorded once, and `slope::optim::Sgd` moves them in place after each `backward`; each
/// step records its batch after a checkpoint and rewinds to it.
pub struct SlopeModel {
    graph: Graph,
    weights: [slope::NodeId; 4],
    start: slope::Checkpoint,
    optimizer: slope::optim::Sgd,
}

impl SlopeModel {
    /// The model at `params`, trained by SGD at rate `lr` (no momentum: the same steps as
    /// [`Params::descend`]).
    pub fn new(params: &Params, lr: f64) -> SlopeModel {
        let graph = Graph::new();
        let weights = [
            graph.matrix(FEATURES, HIDDEN, &params.w1).expect("W1 is 784 x 128").requires_grad_().id(),
            graph.vector(&params.b1).requires_grad_().id(),
            graph.matrix(HIDDEN, CLASSES, &params.w2).expect("W2 is 128 x 10").requires_grad_().id(),
            graph.vector(&params.b2).requires_grad_().id(),
        ];
        let start = graph.checkpoint();
        let options = slope::optim::SgdOptions { lr, ..slope::optim::SgdOptions::default() };
        let optimizer = slope::optim::Sgd::new(&weights, options).expect("a rate of at least 0");
        SlopeModel { graph, weights, start, optimizer }
    }

    /// One step on a batch: the loss, `backward`, the optimiser's step; returns the loss.
    pub fn step(&mut self, x: &[f64], labels: &[f64]) -> f64 {
        let loss = {
            let g = &self.graph;
            let [w1, b1, w2, b2] = self.weights.map(|id| g.tensor(id).expect("the weights are kept"));
            let input = g.matrix(labels.len(), FEATURES, x).expect("a batch of whole rows");
            let hidden = (input.matmul(w1) + b1).relu();
            let loss = (hidden.matmul(w2) + b2).cross_entropy(g.vector(labels));
            loss.backward().expect("a scalar loss");
            loss.item().expect("a scalar loss")
        };
        self.optimizer.step(&mut self.graph).expect("the weights are leaves");
        self.graph.zero_grad();
        self.graph.rewind(self.start).expect("the checkpoint of this graph");
        loss
    }

    /// The current weights.
    pub fn params(&self) -> Params {
        let [w1, b1, w2, b2] = self.weights.map(|id| self.graph.tensor(id).expect("the weights are kept").to_vec());
        Params { w1, b1, w2, b2 }
    }
}

/// The buffers of [`hand_step`], kept between steps.
#[derive(Clone, Debug)]
pub struct HandBuffers {
    pre: DMatrix<f64>,
    hidden: DMatrix<f64>,
    logits: DMatrix<f64>,
    d_hidden: DMatrix<f64>,
}

impl HandBuffers {
    /// Buffers for batches of `rows` examples.
    pub fn new(rows: usize) -> HandBuffers {
        HandBuffers {
            pre: DMatrix::zeros(HIDDEN, rows),
            hidden: DMatrix::zeros(HIDDEN, rows),
            logits: DMatrix::zeros(CLASSES, rows),
            d_hidden: DMatrix::zeros(HIDDEN, rows),
        }
    }
}

/// `mᵀ` as a strided view of `m`'s data (column-major `rows x cols`): no copy, and `gemm`
/// takes it to its blocked kernel.
fn transposed(data: &[f64], rows: usize, cols: usize) -> MatrixView<'_, f64, Dyn, Dyn, Dyn, Dyn> {
    MatrixView::from_slice_with_strides_generic(data, Dyn(cols), Dyn(rows), Dyn(rows), Dyn(1))
}

/// The loss of one batch and the gradient of every weight into `grad`, by hand: the
/// forward pass and backprop in nalgebra, every product a `gemm` into kept buffers.
pub fn hand_step(buffers: &mut HandBuffers, params: &Params, x: &[f64], labels: &[f64], grad: &mut Params) -> f64 {
    let rows = labels.len();
    let HandBuffers { pre, hidden, logits, d_hidden } = buffers;
    // Column-major views of row-major data are the transposes.
    let x_t = DMatrixView::from_slice(x, FEATURES, rows);
    let w1_t = DMatrixView::from_slice(&params.w1, HIDDEN, FEATURES);
    let w2_t = DMatrixView::from_slice(&params.w2, CLASSES, HIDDEN);
    // forward: preᵀ = W1ᵀ Xᵀ + b1, hiddenᵀ = relu, logitsᵀ = W2ᵀ hiddenᵀ + b2
    pre.gemm(1.0, &w1_t, &x_t, 0.0);
    for mut column in pre.column_iter_mut() {
        column.iter_mut().zip(&params.b1).for_each(|(p, b)| *p += b);
    }
    hidden.iter_mut().zip(pre.iter()).for_each(|(h, &p)| *h = p.max(0.0));
    logits.gemm(1.0, &w2_t, &*hidden, 0.0);
    // softmax cross-entropy, and its gradient (p - onehot) / B in place of the logits
    let mut loss = 0.0;
    for (mut column, &label) in logits.column_iter_mut().zip(labels) {
        column.iter_mut().zip(&params.b2).for_each(|(l, b)| *l += b);
        let shift = column.max();
        let total: f64 = column.iter().map(|l| (l - shift).exp()).sum();
        let class = label as usize;
        loss += total.ln() + shift - column[class];
        column.iter_mut().for_each(|l| *l = (*l - shift).exp() / total / rows as f64);
        column[class] -= 1.0 / rows as f64;
    }
    let d_logits = &*logits;
    // dW2ᵀ = dlogitsᵀ hidden, db2 = row sums of dlogitsᵀ
    let mut dw2_t = DMatrixViewMut::from_slice(&mut grad.w2, CLASSES, HIDDEN);
    dw2_t.gemm(1.0, d_logits, &transposed(hidden.as_slice(), HIDDEN, rows), 0.0);
    for (b, row) in grad.b2.iter_mut().zip(d_logits.row_iter()) {
        *b = row.sum();
    }
    // d hiddenᵀ = W2 dlogitsᵀ, through relu
    d_hidden.gemm(1.0, &transposed(&params.w2, CLASSES, HIDDEN), d_logits, 0.0);
    d_hidden.iter_mut().zip(pre.iter()).for_each(|(d, &p)| *d = if p > 0.0 { *d } else { 0.0 });
    // dW1ᵀ = d hiddenᵀ X, db1 = row sums of d hiddenᵀ
    let mut dw1_t = DMatrixViewMut::from_slice(&mut grad.w1, HIDDEN, FEATURES);
    dw1_t.gemm(1.0, &*d_hidden, &transposed(x, FEATURES, rows), 0.0);
    for (b, row) in grad.b1.iter_mut().zip(d_hidden.row_iter()) {
        *b = row.sum();
    }
    loss / rows as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The baseline is held to slope, so neither can be wrong silently.
    #[test]
    fn hand_written_backprop_matches_slope() {
        let data = Dataset::generate(BATCH, 7);
        let params = Params::init(8);
        let (x, labels) = data.batch(0);
        let (mut by_hand, mut by_slope) = (Params::zeros(), Params::zeros());
        let hand = hand_step(&mut HandBuffers::new(BATCH), &params, x, labels, &mut by_hand);
        let ours = slope_step(&mut Graph::new(), &params, x, labels, &mut by_slope);
        assert!((hand - ours).abs() <= 1e-12 * hand.abs(), "{hand} vs {ours}");
        for (a, b) in [
            (&by_hand.w1, &by_slope.w1),
            (&by_hand.b1, &by_slope.b1),
            (&by_hand.w2, &by_slope.w2),
            (&by_hand.b2, &by_slope.b2),
        ] {
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-10 * scale), "gradients differ");
        }
    }
}
