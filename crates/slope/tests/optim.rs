//! The optimisers against the update rules of PyTorch's documentation, written out here by
//! hand, on a quadratic whose gradient is known in closed form.

use slope::optim::{Adam, AdamOptions, Sgd, SgdOptions};
use slope::prelude::*;
use slope::{Checkpoint, GraphError, NodeId};

const TARGET: [f64; 3] = [1.0, -2.0, 0.5];

/// One step's gradient: `loss = sum((w - TARGET)²)` recorded on `g` from `start` (just
/// after `w`), and swept.
fn backward(g: &mut Graph, w: NodeId, start: Checkpoint) {
    g.zero_grad();
    g.rewind(start).unwrap();
    let t = g.tensor(w).unwrap();
    let loss = (t - g.vector(&TARGET)).powi(2).sum();
    loss.backward().unwrap();
}

fn closed_form_grad(p: &[f64]) -> Vec<f64> {
    p.iter().zip(TARGET).map(|(p, c)| 2.0 * (p - c)).collect()
}

#[test]
fn sgd_follows_pytorchs_rule_with_momentum_dampening_and_weight_decay() {
    for (momentum, dampening, weight_decay, nesterov) in
        [(0.0, 0.0, 0.0, false), (0.9, 0.0, 0.0, false), (0.9, 0.1, 0.01, false), (0.8, 0.0, 0.05, true)]
    {
        let options = SgdOptions { lr: 0.05, momentum, dampening, weight_decay, nesterov };
        let mut g = Graph::new();
        let w = g.vector(&[0.0, 0.0, 0.0]).requires_grad_().id();
        let start = g.checkpoint();
        let mut opt = Sgd::new(&[w], options).unwrap();
        let (mut p, mut buf): (Vec<f64>, Option<Vec<f64>>) = (vec![0.0; 3], None);
        for step in 0..5 {
            backward(&mut g, w, start);
            opt.step(&mut g).unwrap();
            // torch.optim.SGD, as its documentation writes the algorithm
            let d: Vec<f64> = closed_form_grad(&p).iter().zip(&p).map(|(d, p)| d + weight_decay * p).collect();
            let mut direction = d.clone();
            if momentum != 0.0 {
                let b = match buf.take() {
                    None => d.clone(),
                    Some(b) => b.iter().zip(&d).map(|(b, d)| momentum * b + (1.0 - dampening) * d).collect(),
                };
                direction =
                    if nesterov { d.iter().zip(&b).map(|(d, b)| d + momentum * b).collect() } else { b.clone() };
                buf = Some(b);
            }
            p = p.iter().zip(&direction).map(|(p, d)| p - 0.05 * d).collect();
            let got = g.tensor(w).unwrap().to_vec();
            for (a, b) in got.iter().zip(&p) {
                assert!((a - b).abs() <= 1e-15, "{options:?} step {step}: {got:?} vs {p:?}");
            }
        }
    }
}

#[test]
fn adam_follows_pytorchs_rule_and_its_first_step_is_lr_times_the_sign() {
    let options = AdamOptions { lr: 0.01, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.02 };
    let mut g = Graph::new();
    let w = g.vector(&[0.0, 0.0, 0.0]).requires_grad_().id();
    let start = g.checkpoint();
    let mut opt = Adam::new(&[w], options).unwrap();
    let (mut p, mut m, mut v) = (vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]);
    for t in 1..=6 {
        backward(&mut g, w, start);
        opt.step(&mut g).unwrap();
        let d: Vec<f64> = closed_form_grad(&p).iter().zip(&p).map(|(d, p)| d + 0.02 * p).collect();
        for k in 0..3 {
            m[k] = 0.9 * m[k] + 0.1 * d[k];
            v[k] = 0.999 * v[k] + 0.001 * d[k] * d[k];
            let (m_hat, v_hat) = (m[k] / (1.0 - 0.9f64.powi(t)), v[k] / (1.0 - 0.999f64.powi(t)));
            p[k] -= 0.01 * m_hat / (v_hat.sqrt() + 1e-8);
        }
        let got = g.tensor(w).unwrap().to_vec();
        for (a, b) in got.iter().zip(&p) {
            assert!((a - b).abs() <= 1e-15, "step {t}: {got:?} vs {p:?}");
        }
        if t == 1 {
            // m̂ / √v̂ = g / |g| at the first step: each parameter moves by lr toward the target
            for (a, c) in got.iter().zip(TARGET) {
                assert!((a.abs() - 0.01).abs() < 1e-9 && a.signum() == c.signum(), "{got:?}");
            }
        }
    }
}

#[test]
fn both_reach_the_minimum() {
    let mut g = Graph::new();
    let (a, b) = (g.vector(&[0.0; 3]).requires_grad_().id(), g.vector(&[0.0; 3]).requires_grad_().id());
    let mut sgd = Sgd::new(&[a], SgdOptions { lr: 0.1, momentum: 0.5, ..SgdOptions::default() }).unwrap();
    let mut adam = Adam::new(&[b], AdamOptions { lr: 0.05, ..AdamOptions::default() }).unwrap();
    let start = g.checkpoint();
    for _ in 0..2000 {
        let target = g.vector(&TARGET);
        let loss = (g.tensor(a).unwrap() - target).powi(2).sum() + (g.tensor(b).unwrap() - target).powi(2).sum();
        loss.backward().unwrap();
        sgd.step(&mut g).unwrap();
        adam.step(&mut g).unwrap();
        g.zero_grad();
        g.rewind(start).unwrap();
    }
    for id in [a, b] {
        let p = g.tensor(id).unwrap().to_vec();
        assert!(p.iter().zip(TARGET).all(|(p, c)| (p - c).abs() < 1e-6), "{p:?}");
    }
}

#[test]
fn a_parameter_without_a_gradient_stays_and_bad_settings_are_refused() {
    let mut g = Graph::new();
    let (w, frozen) = (g.scalar(1.0).requires_grad_().id(), g.scalar(5.0).requires_grad_().id());
    let mut opt = Sgd::new(&[w, frozen], SgdOptions { lr: 0.5, ..SgdOptions::default() }).unwrap();
    g.tensor(w).unwrap().powi(2).backward().unwrap();
    opt.step(&mut g).unwrap();
    assert_eq!(g.tensor(w).unwrap().item().unwrap(), 0.0);
    assert_eq!(g.tensor(frozen).unwrap().item().unwrap(), 5.0, "no stored gradient: not moved (PyTorch skips it)");

    let refused = |e: slope::Error, needle: &str| {
        assert!(matches!(e, slope::Error::Graph(GraphError::Hyperparameter { .. })), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    };
    refused(Sgd::new(&[w], SgdOptions { lr: -1.0, ..SgdOptions::default() }).unwrap_err(), "lr = -1");
    refused(Sgd::new(&[w], SgdOptions { lr: f64::NAN, ..SgdOptions::default() }).unwrap_err(), "lr = NaN");
    refused(
        Sgd::new(&[w], SgdOptions { nesterov: true, ..SgdOptions::default() }).unwrap_err(),
        "above 0 with nesterov",
    );
    refused(Adam::new(&[w], AdamOptions { betas: (0.9, 1.0), ..AdamOptions::default() }).unwrap_err(), "betas.1");
    refused(Adam::new(&[w], AdamOptions { eps: -1e-8, ..AdamOptions::default() }).unwrap_err(), "eps");

    // a computed node is not a parameter
    let y = g.tensor(w).unwrap().exp().id();
    let mut bad = Adam::new(&[y], AdamOptions::default()).unwrap();
    assert!(matches!(bad.step(&mut g), Err(slope::Error::Graph(GraphError::NotALeaf { .. }))));
}

/// An optimiser's ids are checked at every step: a parameter dropped by a rewind, or an
/// optimiser stepped on another graph, is a typed error, and nothing moves.
#[test]
fn an_optimiser_refuses_dropped_and_foreign_parameters() {
    let mut g = Graph::new();
    let start = g.checkpoint();
    let w = g.vector(&[1.0, 2.0]).requires_grad_().id();
    let mut opt = Adam::new(&[w], AdamOptions::default()).unwrap();
    g.tensor(w).unwrap().powi(2).sum().backward().unwrap();
    g.rewind(start).unwrap();
    let again = g.vector(&[1.0, 2.0]).requires_grad_().id();
    assert_eq!(again.index(), w.index(), "a new leaf in the dropped one's slot");
    g.accumulate_grad(again, vec![1.0, 1.0]).unwrap();
    let err = opt.step(&mut g).unwrap_err();
    assert!(matches!(err, slope::Error::Graph(GraphError::DroppedNode { .. })), "{err}");
    assert_eq!(g.tensor(again).unwrap().to_vec(), [1.0, 2.0], "the new leaf did not move");

    let mut other = Graph::new();
    let v = other.vector(&[1.0, 2.0]).requires_grad_().id();
    other.accumulate_grad(v, vec![1.0, 1.0]).unwrap();
    let mut sgd = Sgd::new(&[again], SgdOptions { lr: 0.5, ..SgdOptions::default() }).unwrap();
    let err = sgd.step(&mut other).unwrap_err();
    assert!(matches!(err, slope::Error::Graph(GraphError::ForeignNode { .. })), "{err}");
    assert_eq!(other.tensor(v).unwrap().to_vec(), [1.0, 2.0]);
}
