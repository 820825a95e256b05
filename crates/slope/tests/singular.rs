//! One convention at singular points, in every mode: a local derivative that is exactly zero
//! absorbs whatever flows through it (`slope_dual::rules::chain`), as forward mode's zero
//! tangent does. Every unary op composed with `x*x`, `x - x` and `abs(x)` (and those with
//! it), at 0 and at the op's kinks, gets the same derivative from forward mode on duals,
//! forward mode over a graph, reverse mode through `Var` and reverse mode over tensors:
//! equal, or NaN in all four.
#![allow(clippy::eq_op)] // `x - x` is the point: a derivative that cancels to zero

use proptest::prelude::*;
use slope::prelude::*;
use slope::UnaryOp;

/// What makes a point singular: an inner function whose derivative is zero there.
#[derive(Clone, Copy, Debug)]
enum Inner {
    Square,
    Difference,
    Abs,
    Identity,
}

const INNERS: [Inner; 4] = [Inner::Square, Inner::Difference, Inner::Abs, Inner::Identity];

fn inner<T: Float>(kind: Inner, x: T) -> T {
    match kind {
        Inner::Square => x * x,
        Inner::Difference => x - x,
        Inner::Abs => x.abs(),
        Inner::Identity => x,
    }
}

fn inner_tensor<'g>(kind: Inner, x: Tensor<'g>) -> Tensor<'g> {
    match kind {
        Inner::Square => x * x,
        Inner::Difference => x - x,
        Inner::Abs => x.abs(),
        Inner::Identity => x,
    }
}

/// `ops` applied in turn after `first`, then `last` on the result: `last(ops(first(x)))`.
#[derive(Clone, Debug)]
struct Chain {
    first: Inner,
    ops: Vec<UnaryOp>,
    last: Inner,
}

impl Chain {
    fn eval<T: Float>(&self, x: T, apply: impl Fn(UnaryOp, T) -> T) -> T {
        let mut y = inner(self.first, x);
        for &op in &self.ops {
            y = apply(op, y);
        }
        inner(self.last, y)
    }

    /// `(value, derivative)` in each of the four ways.
    fn derivatives(&self, x: f64) -> [(f64, f64); 4] {
        let dual = slope::dual::derivative(|d: Dual<f64>| self.eval(d, |op, y| op.eval(y)), x);
        let (v, g) = slope::gradient(|v| self.eval(v[0], |op, y| y.apply(op)), &[x]).unwrap();
        let graph = Graph::new();
        let t = graph.scalar(x).requires_grad_();
        let mut y = inner_tensor(self.first, t);
        for &op in &self.ops {
            y = y.apply(op);
        }
        let y = inner_tensor(self.last, y);
        let forward = slope::graph::forward::gradient(y, &[t]).unwrap()[0].as_slice()[0];
        let reverse = slope::grad(y, &[t]).unwrap()[0].as_slice()[0];
        let value = y.item().unwrap();
        [dual, (v, g[0]), (value, forward), (value, reverse)]
    }
}

/// Where either answer is singular (zero, infinite or NaN), the same answer (NaN both, or
/// equal); elsewhere equal up to the rounding of multiplying the same local derivatives in
/// another order.
fn same(a: f64, b: f64) -> bool {
    let singular = |v: f64| v == 0.0 || !v.is_finite();
    if singular(a) || singular(b) {
        a == b || (a.is_nan() && b.is_nan())
    } else {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }
}

fn assert_agree(chain: &Chain, x: f64) {
    let d = chain.derivatives(x);
    let names = ["forward on duals", "reverse through Var", "forward over a graph", "reverse over tensors"];
    for (k, (value, derivative)) in d.iter().enumerate().skip(1) {
        assert!(same(*value, d[0].0), "{chain:?} at {x}: value {value} by {} vs {}", names[k], d[0].0);
        assert!(
            same(*derivative, d[0].1),
            "{chain:?} at {x}: derivative {derivative} by {} vs {} by {}",
            names[k],
            d[0].1,
            names[0]
        );
    }
}

#[test]
fn every_unary_op_after_and_before_a_singular_inner_function_agrees_across_modes() {
    let mut checked = 0;
    for &op in UnaryOp::ALL {
        let mut points = vec![0.0];
        points.extend(op.domain().kinks.iter().map(|k| k.at));
        for first in INNERS {
            for last in INNERS {
                let chain = Chain { first, ops: vec![op], last };
                for &x in &points {
                    assert_agree(&chain, x);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 27 * 16, "{checked}");
}

#[test]
fn the_norm_at_the_origin_and_the_square_root_of_a_square_have_derivative_zero() {
    let (v, g) = slope::gradient(|v| (v[0] * v[0] + v[1] * v[1]).sqrt(), &[0.0, 0.0]).unwrap();
    assert_eq!((v, g), (0.0, vec![0.0, 0.0]));
    let (_, g) = slope::dual::gradient::<f64, 2>(|v| (v[0] * v[0] + v[1] * v[1]).sqrt(), &[0.0, 0.0]);
    assert_eq!(g, vec![0.0, 0.0]);
    let graph = Graph::new();
    let x = graph.vector(&[0.0, 0.0]).requires_grad_();
    let norm = (x * x).sum().sqrt();
    assert_eq!(slope::grad(norm, &[x]).unwrap()[0].as_slice(), &[0.0, 0.0]);
    // A zero adjoint meeting an infinite derivative stays NaN, in both modes.
    let (_, g) = slope::gradient(|v| v[0] + 0.0 * v[1].ln(), &[1.5, 0.0]).unwrap();
    let d = slope::dual::derivative(|z: Dual<f64>| 0.0 * z.ln(), 0.0).1;
    assert!(g[1].is_nan() && d.is_nan());
}

fn chains() -> impl Strategy<Value = Chain> {
    let op = (0..UnaryOp::ALL.len()).prop_map(|i| UnaryOp::ALL[i]);
    let inner = (0..INNERS.len()).prop_map(|i| INNERS[i]);
    (inner.clone(), proptest::collection::vec(op, 0..4), inner).prop_map(|(first, ops, last)| Chain {
        first,
        ops,
        last,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_chains_agree_across_modes_at_singular_points(chain in chains(), x in prop_oneof![Just(0.0), Just(-0.0), -2.0..2.0f64]) {
        assert_agree(&chain, x);
    }
}
