//! Optimisers over a graph's parameter leaves, as `torch.optim` has them: [`Sgd`] (momentum,
//! dampening, Nesterov, weight decay) and [`Adam`] (weight decay as PyTorch's `Adam` adds
//! it, to the gradient).
//!
//! An optimiser holds the ids of the parameters and its own state (momentum buffers,
//! moment estimates); [`step`](Sgd::step) reads the gradient `backward` stored on each
//! parameter and changes its value in place ([`Graph::update_leaf`]), skipping a parameter
//! with no stored gradient, as PyTorch skips one whose `.grad` is `None`. The update
//! formulas, their order of operations included, are PyTorch's.
//!
//! ```
//! use slope::optim::{Sgd, SgdOptions};
//! use slope::prelude::*;
//!
//! # fn main() -> Result<(), slope::Error> {
//! let mut g = Graph::new();
//! let w = g.vector(&[3.0, -2.0]).requires_grad_().id();
//! let start = g.checkpoint();
//! let mut opt = Sgd::new(&[w], SgdOptions { lr: 0.1, momentum: 0.9, ..SgdOptions::default() })?;
//! for _ in 0..500 {
//!     let loss = g.tensor(w)?.powi(2).sum();   // minimum at 0
//!     loss.backward()?;
//!     opt.step(&mut g)?;
//!     g.zero_grad();
//!     g.rewind(start)?;
//! }
//! assert!(g.tensor(w)?.to_vec().iter().all(|v| v.abs() < 1e-6));
//! # Ok(())
//! # }
//! ```

use slope_graph::{Graph, NodeId};

use crate::Error;

/// A setting that must be a finite number, at least 0.
fn non_negative(optimizer: &'static str, name: &'static str, value: f64) -> Result<(), Error> {
    check(optimizer, name, value, value >= 0.0 && value.is_finite(), "a finite number, at least 0")
}

fn check(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), Error> {
    if ok && !value.is_nan() {
        Ok(())
    } else {
        Err(slope_graph::Error::Hyperparameter { optimizer, name, value, expected }.into())
    }
}

/// The settings of [`Sgd`], PyTorch's names and defaults (`lr` 1e-3, the rest 0, no
/// Nesterov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// Learning rate, at least 0.
    pub lr: f64,
    /// Momentum factor, at least 0.
    pub momentum: f64,
    /// Dampening of the momentum, at least 0.
    pub dampening: f64,
    /// L2 penalty added to the gradient (`grad + weight_decay * param`), at least 0.
    pub weight_decay: f64,
    /// Nesterov momentum (needs a momentum above 0 and no dampening).
    pub nesterov: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD`: with `g = grad + weight_decay
/// · p`, the momentum buffer `b = g` at the first step and `b = momentum · b + (1 -
/// dampening) · g` after, the step direction `g + momentum · b` (Nesterov) or `b`, then
/// `p -= lr · direction`.
#[derive(Clone, Debug)]
pub struct Sgd {
    params: Vec<NodeId>,
    options: SgdOptions,
    /// Momentum buffer per parameter, made at its first step with a gradient.
    momentum: Vec<Option<Vec<f64>>>,
}

impl Sgd {
    /// An optimiser of `params` (leaves of one graph), or the error naming a setting out of
    /// range, as PyTorch refuses it when the optimiser is made.
    pub fn new(params: &[NodeId], options: SgdOptions) -> Result<Sgd, Error> {
        let SgdOptions { lr, momentum, dampening, weight_decay, nesterov } = options;
        non_negative("SGD", "lr", lr)?;
        non_negative("SGD", "momentum", momentum)?;
        non_negative("SGD", "dampening", dampening)?;
        non_negative("SGD", "weight_decay", weight_decay)?;
        if nesterov {
            check("SGD", "momentum", momentum, momentum > 0.0, "above 0 with nesterov")?;
            check("SGD", "dampening", dampening, dampening == 0.0, "0 with nesterov")?;
        }
        Ok(Sgd { params: params.to_vec(), options, momentum: vec![None; params.len()] })
    }

    /// The settings.
    pub fn options(&self) -> SgdOptions {
        self.options
    }

    /// One step: every parameter with a stored gradient moves, in place.
    ///
    /// # Errors
    /// A parameter id that is not a leaf of `graph` (or was dropped by a rewind); the
    /// parameters before it have moved, those from it on have not.
    pub fn step(&mut self, graph: &mut Graph) -> Result<(), Error> {
        let SgdOptions { lr, momentum, dampening, weight_decay, nesterov } = self.options;
        for (&id, buffer) in self.params.iter().zip(&mut self.momentum) {
            graph.update_leaf(id, |p, grad| {
                let Some(grad) = grad else { return };
                let buffer = match buffer {
                    Some(b) if momentum != 0.0 => {
                        for ((b, &d), &p) in b.iter_mut().zip(grad).zip(p.iter()) {
                            *b = momentum * *b + (1.0 - dampening) * (d + weight_decay * p);
                        }
                        Some(&*b)
                    }
                    _ if momentum != 0.0 => {
                        let first = grad.iter().zip(p.iter()).map(|(&d, &p)| d + weight_decay * p).collect();
                        Some(&*buffer.insert(first))
                    }
                    _ => None,
                };
                match buffer {
                    None => p.iter_mut().zip(grad).for_each(|(p, &d)| *p -= lr * (d + weight_decay * *p)),
                    Some(b) if nesterov => p
                        .iter_mut()
                        .zip(grad)
                        .zip(b)
                        .for_each(|((p, &d), &b)| *p -= lr * ((d + weight_decay * *p) + momentum * b)),
                    Some(b) => p.iter_mut().zip(b).for_each(|(p, &b)| *p -= lr * b),
                }
            })?;
        }
        Ok(())
    }
}

/// The settings of [`Adam`], PyTorch's names and defaults (`lr` 1e-3, `betas` (0.9, 0.999),
/// `eps` 1e-8, no weight decay).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate, at least 0.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// Added to the denominator, at least 0.
    pub eps: f64,
    /// L2 penalty added to the gradient, at least 0.
    pub weight_decay: f64,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 }
    }
}

/// Adam, PyTorch's `torch.optim.Adam`: with `g = grad + weight_decay · p` and the step
/// count `t` of the parameter, `m = β₁ m + (1 - β₁) g`, `v = β₂ v + (1 - β₂) g²`, then
/// `p -= (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + eps)`.
#[derive(Clone, Debug)]
pub struct Adam {
    params: Vec<NodeId>,
    options: AdamOptions,
    /// Per parameter, made at its first step with a gradient.
    state: Vec<Option<AdamState>>,
}

/// Steps taken, first and second moment estimates.
#[derive(Clone, Debug)]
struct AdamState {
    steps: u64,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    /// An optimiser of `params`, or the error naming a setting out of range.
    pub fn new(params: &[NodeId], options: AdamOptions) -> Result<Adam, Error> {
        let AdamOptions { lr, betas: (b1, b2), eps, weight_decay } = options;
        non_negative("Adam", "lr", lr)?;
        check("Adam", "betas.0", b1, (0.0..1.0).contains(&b1), "in [0, 1)")?;
        check("Adam", "betas.1", b2, (0.0..1.0).contains(&b2), "in [0, 1)")?;
        non_negative("Adam", "eps", eps)?;
        non_negative("Adam", "weight_decay", weight_decay)?;
        Ok(Adam { params: params.to_vec(), options, state: vec![None; params.len()] })
    }

    /// The settings.
    pub fn options(&self) -> AdamOptions {
        self.options
    }

    /// One step: every parameter with a stored gradient moves, in place.
    ///
    /// # Errors
    /// As [`Sgd::step`].
    pub fn step(&mut self, graph: &mut Graph) -> Result<(), Error> {
        let AdamOptions { lr, betas: (b1, b2), eps, weight_decay } = self.options;
        for (&id, state) in self.params.iter().zip(&mut self.state) {
            graph.update_leaf(id, |p, grad| {
                let Some(grad) = grad else { return };
                let AdamState { steps: t, m, v } =
                    state.get_or_insert_with(|| AdamState { steps: 0, m: vec![0.0; p.len()], v: vec![0.0; p.len()] });
                *t += 1;
                // As PyTorch's single-tensor Adam: `beta ** step` in floating point, `m` by
                // `lerp`, the step as `addcdiv`.
                let (correction1, correction2) = (1.0 - b1.powf(*t as f64), 1.0 - b2.powf(*t as f64));
                let step_size = lr / correction1;
                let root2 = correction2.sqrt();
                let weight = 1.0 - b1;
                for (((p, &d), m), v) in p.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let d = d + weight_decay * *p;
                    *m = if weight < 0.5 { *m + weight * (d - *m) } else { d - (d - *m) * (1.0 - weight) };
                    *v = *v * b2 + (1.0 - b2) * (d * d);
                    *p -= step_size * (*m / (v.sqrt() / root2 + eps));
                }
            })?;
        }
        Ok(())
    }
}
