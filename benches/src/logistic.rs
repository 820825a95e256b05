//! The training workload: logistic regression (200 points, 3 features) fitted by gradient
//! descent, with the graph reused (parameters and data before a checkpoint, a rewind per
//! step), recorded naively (one graph that grows), and by hand.

use slope::prelude::*;
use slope::NodeId;

/// Step size of the descent.
pub const RATE: f64 = 0.5;

/// `n` points in 3 features (row-major) and their 0/1 labels, from a known plane with
/// some overlap; deterministic.
pub fn logistic_data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::with_capacity(n * 3);
    let mut y = Vec::with_capacity(n);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    for _ in 0..n {
        let row = [uniform(), uniform(), uniform()];
        let margin = 1.5 * row[0] - 2.0 * row[1] + 0.5 * row[2] + 0.3 + 0.4 * uniform();
        x.extend_from_slice(&row);
        y.push(if margin > 0.0 { 1.0 } else { 0.0 });
    }
    (x, y)
}

/// Mean binary cross-entropy of `sigmoid(X w + b)` against `y`, as one writes it in PyTorch.
pub fn logistic_loss<'g>(x: Tensor<'g>, y: Tensor<'g>, w: Tensor<'g>, b: Tensor<'g>) -> Tensor<'g> {
    let p = (x.matmul(w) + b).sigmoid();
    -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean()
}

/// The parameters, for the descent by hand and the naive loop.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LogisticParams {
    /// Weights.
    pub w: [f64; 3],
    /// Bias.
    pub b: f64,
}

impl LogisticParams {
    /// One descent step with the gradient by hand (`∂/∂w = Xᵀ (p - y) / n`,
    /// `∂/∂b = mean(p - y)`); returns the loss before the step.
    pub fn step_by_hand(&mut self, x: &[f64], y: &[f64]) -> f64 {
        let (mut loss, mut gw, mut gb) = (0.0, [0.0; 3], 0.0);
        for (row, &label) in x.chunks_exact(3).zip(y) {
            let z = row[0] * self.w[0] + row[1] * self.w[1] + row[2] * self.w[2] + self.b;
            let p = 1.0 / (1.0 + (-z).exp());
            loss -= label * p.ln() + (1.0 - label) * (1.0 - p).ln();
            let r = p - label;
            gw.iter_mut().zip(row).for_each(|(g, x)| *g += r * x);
            gb += r;
        }
        let n = y.len() as f64;
        self.w.iter_mut().zip(gw).for_each(|(w, g)| *w -= RATE * g / n);
        self.b -= RATE * gb / n;
        loss / n
    }

    /// One step the naive way: the parameters recorded again on a graph that is never
    /// rewound. Returns the loss before the step.
    pub fn step_naive<'g>(&mut self, g: &'g Graph, x: Tensor<'g>, y: Tensor<'g>) -> Result<f64, slope::Error> {
        let (w, b) = (g.vector(&self.w).requires_grad_(), g.scalar(self.b).requires_grad_());
        let loss = logistic_loss(x, y, w, b);
        loss.backward()?;
        let (gw, gb) = (w.grad().unwrap_or_else(|| Value::vector(vec![0.0; 3])), b.grad());
        for (w, g) in self.w.iter_mut().zip(gw.as_slice()) {
            *w -= RATE * g;
        }
        self.b -= RATE * gb.and_then(|g| g.item()).unwrap_or(0.0);
        Ok(loss.item()?)
    }
}

/// The reuse pattern's parameters and data, recorded once, reached by id each step.
#[derive(Clone, Copy, Debug)]
pub struct LogisticIds {
    /// Weights (a leaf that requires grad).
    pub w: NodeId,
    /// Bias.
    pub b: NodeId,
    /// The points.
    pub x: NodeId,
    /// The labels.
    pub y: NodeId,
}

impl LogisticIds {
    /// Records zero parameters and the data on `g`.
    pub fn record(g: &Graph, x: &[f64], y: &[f64]) -> LogisticIds {
        LogisticIds {
            w: g.vector(&[0.0; 3]).requires_grad_().id(),
            b: g.scalar(0.0).requires_grad_().id(),
            x: g.matrix(y.len(), 3, x).unwrap_or_else(|e| panic!("{e}")).id(),
            y: g.vector(y).id(),
        }
    }

    /// One descent step: loss, backward, parameters set in place, gradients zeroed. The
    /// caller rewinds to a checkpoint taken after [`record`](LogisticIds::record).
    pub fn step(&self, g: &mut Graph) -> Result<f64, slope::Error> {
        let (w, b) = (g.tensor(self.w)?, g.tensor(self.b)?);
        let loss = logistic_loss(g.tensor(self.x)?, g.tensor(self.y)?, w, b);
        loss.backward()?;
        let (gw, gb) = (w.grad(), b.grad());
        let (gw, gb) = (gw.as_ref().map_or(&[][..], Value::as_slice), gb.and_then(|g| g.item()).unwrap_or(0.0));
        let new_w: Vec<f64> = w.to_vec().iter().zip(gw).map(|(w, g)| w - RATE * g).collect();
        let (new_b, loss) = (b.item()? - RATE * gb, loss.item()?);
        // Setting values takes the graph by `&mut`: the step's handles end here.
        g.set_value(self.w, &new_w)?;
        g.set_value(self.b, &[new_b])?;
        g.zero_grad();
        Ok(loss)
    }

    /// The current parameters.
    pub fn params(&self, g: &Graph) -> Result<LogisticParams, slope::Error> {
        let w = g.tensor(self.w)?.to_vec();
        Ok(LogisticParams { w: [w[0], w[1], w[2]], b: g.tensor(self.b)?.item()? })
    }
}
