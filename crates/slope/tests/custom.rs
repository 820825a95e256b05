//! Custom ops: a user's primal and VJP recorded, swept, frozen, saved, parallelised and
//! checked like a built-in op; a wrong VJP is caught by the checker.

use std::sync::OnceLock;

use slope::check::{check_op, Options};
use slope::custom::{register, CustomOp};
use slope::graph::structural::Input;
use slope::prelude::*;
use slope::{FrozenGraph, Op, Scalar};

/// `ln(1 + e^x)` without overflow; its derivative is the logistic function.
struct Softplus {
    name: &'static str,
    /// A deliberately wrong VJP (`e^x` instead of `sigmoid(x)`), to be caught.
    wrong: bool,
}

impl CustomOp for Softplus {
    fn name(&self) -> &'static str {
        self.name
    }
    fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.extend(inputs[0].0.iter().map(|&x| if x > S::zero() { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }));
    }
    fn vjp<S: Scalar>(&self, _: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        for ((adj, &x), &g) in adjoint.iter_mut().zip(inputs[0].0).zip(g) {
            *adj += g * if self.wrong { x.exp() } else { x.sigmoid() };
        }
    }
}

/// `a * b^2`, a custom op of two inputs.
struct ScaledSquare;

impl CustomOp for ScaledSquare {
    fn name(&self) -> &'static str {
        "scaled_square"
    }
    fn arity(&self) -> usize {
        2
    }
    fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let pick = |v: &[S], k: usize| if v.len() == 1 { v[0] } else { v[k] };
        let n = inputs[0].0.len().max(inputs[1].0.len());
        out.extend((0..n).map(|k| pick(inputs[0].0, k) * pick(inputs[1].0, k) * pick(inputs[1].0, k)));
    }
    fn vjp<S: Scalar>(&self, input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let pick = |v: &[S], k: usize| if v.len() == 1 { v[0] } else { v[k] };
        let (a, b) = (inputs[0].0, inputs[1].0);
        for (k, &g) in g.iter().enumerate() {
            let partial = if input == 0 { pick(b, k) * pick(b, k) } else { (pick(a, k) + pick(a, k)) * pick(b, k) };
            // a scalar broadcast against a tensor receives the sum
            let slot = if adjoint.len() == 1 { 0 } else { k };
            adjoint[slot] += g * partial;
        }
    }
}

fn softplus() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    *OP.get_or_init(|| register(Softplus { name: "my_softplus", wrong: false }).unwrap())
}

fn scaled_square() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    *OP.get_or_init(|| register(ScaledSquare).unwrap())
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn the_checker_passes_a_right_vjp_and_catches_a_wrong_one() {
    let options = Options { points: 30, ..Options::default() };
    let report = check_op(softplus(), &options);
    assert!(report.passed(), "{report}");
    assert!(report.comparisons() > 1000);
    let report = check_op(scaled_square(), &options);
    assert!(report.passed(), "{report}");

    let wrong = register(Softplus { name: "softplus_wrong", wrong: true }).unwrap();
    let report = check_op(wrong, &options);
    assert!(!report.passed(), "a wrong VJP must fail the check");
    let failed: Vec<_> = report.failures().map(|row| row.pair.label()).collect();
    // The primal is right, so forward mode agrees with finite differences; every pair with
    // the reverse VJP fails.
    assert_eq!(failed, ["fwd/rev", "rev/fd", "2nd/fd"]);
}

#[test]
fn records_on_tensors_and_vars_with_the_closed_form_gradient() {
    let g = Graph::new();
    let xs = [-30.0, -1.5, 0.0, 0.7, 40.0];
    let x = g.vector(&xs).requires_grad_();
    let y = x.try_op(softplus(), &[]).unwrap();
    assert_eq!(y.grad_fn().unwrap().name(), "MySoftplusBackward");
    assert_eq!(y.to_vec()[4], 40.0);
    y.sum().backward().unwrap();
    for (&x, &d) in xs.iter().zip(x.grad().unwrap().as_slice()) {
        assert!((d - sigmoid(x)).abs() < 1e-15, "softplus'({x}) = {d}");
    }
    // On Var: a cached scalar step like any elementwise op, also through gradient().
    let (value, grad) = slope::gradient(|v| v[0].try_op(softplus(), &[]).unwrap() * v[1], &[0.7, 3.0]).unwrap();
    assert!((value - 3.0 * (1.0 + 0.7f64.exp()).ln()).abs() < 1e-14);
    assert!((grad[0] - 3.0 * sigmoid(0.7)).abs() < 1e-14 && (grad[1] - (1.0 + 0.7f64.exp()).ln()).abs() < 1e-14);
    // Two inputs, a constant among them.
    let (_, grad) = slope::gradient(|v| v[0].try_op(scaled_square(), &[Var::constant(3.0)]).unwrap(), &[2.0]).unwrap();
    assert_eq!(grad, vec![9.0]);
    let (_, grad) = slope::gradient(|v| v[0].try_op(scaled_square(), &[v[1]]).unwrap(), &[2.0, 3.0]).unwrap();
    assert_eq!(grad, vec![9.0, 12.0]);
    // Constants only: evaluated, nothing recorded.
    let c = Var::constant(2.0).try_op(scaled_square(), &[Var::constant(3.0)]).unwrap();
    assert_eq!((c.value(), c.id()), (18.0, None));
}

#[test]
fn forward_mode_and_hessians_run_through_the_generic_primal() {
    let g = Graph::new();
    let x = g.scalar(0.3).requires_grad_();
    let y = x.try_op(softplus(), &[]).unwrap();
    let tangent = slope::graph::forward::jvp_tensors(y, &[(x, &[1.0])]).unwrap();
    assert!((tangent.as_slice()[0] - sigmoid(0.3)).abs() < 1e-15);
    let (x, y) = (x.id(), y.id());
    let frozen = g.freeze();
    // softplus'' = sigmoid (1 - sigmoid), through forward-over-reverse (the VJP on duals)
    let h = slope::graph_hessian(&frozen, y, &[x]).unwrap();
    let s = sigmoid(0.3);
    assert!((h[0][0] - s * (1.0 - s)).abs() < 1e-14, "{h:?}");
}

#[test]
fn frozen_graphs_run_in_parallel_and_files_load_only_where_the_op_is_registered() {
    let g = Graph::new();
    let x = g.vector(&[-1.0, 0.5, 2.0]).requires_grad_();
    let w = g.matrix(2, 3, &[1.0, -1.0, 0.5, 0.0, 2.0, 1.0]).unwrap().requires_grad_();
    let y = w.matmul(x.try_op(softplus(), &[]).unwrap());
    let (xi, yi) = (x.id(), y.id());
    let frozen = g.freeze();
    let jacobian = slope::graph_jacobian(&frozen, yi, &[xi]).unwrap();
    let xs = [-1.0f64, 0.5, 2.0];
    let want = [[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]];
    for (row, want_row) in jacobian.iter().zip(want) {
        for ((&j, w), &x) in row.iter().zip(want_row).zip(&xs) {
            assert!((j - w * sigmoid(x)).abs() < 1e-15);
        }
    }

    let json = frozen.to_json();
    assert!(json.contains("\"my_softplus\""));
    let loaded = FrozenGraph::from_json(&json).unwrap();
    assert_eq!(loaded.arena().value(yi.index()), frozen.arena().value(yi.index()));
    let unknown = json.replace("\"my_softplus\"", "\"softplus_unregistered\"");
    let err = FrozenGraph::from_json(&unknown).unwrap_err();
    assert!(err.to_string().contains("register it"), "{err}");
}

#[test]
fn formulas_call_registered_ops_by_name() {
    let _ = softplus();
    let f = slope::expr::Formula::parse("my_softplus(x) * 2").unwrap();
    let g = Graph::new();
    let recorded = f.record(&g, &slope::expr::Point::parse("x=0").unwrap()).unwrap();
    assert!((recorded.output.item().unwrap() - 2.0 * 2f64.ln()).abs() < 1e-15);
}

#[test]
fn registration_refuses_what_it_cannot_hold() {
    let _ = softplus();
    let again = register(Softplus { name: "my_softplus", wrong: false }).unwrap_err();
    assert!(again.to_string().contains("is taken"), "{again}");
    let builtin = register(Softplus { name: "exp", wrong: false }).unwrap_err();
    assert!(builtin.to_string().contains("is taken"), "{builtin}");
    for name in ["Soft Plus", "soft plus", "2softplus", ""] {
        let bad = register(Softplus { name, wrong: false }).unwrap_err();
        assert!(bad.to_string().contains("lowercase"), "{name:?}: {bad}");
    }
    struct Three;
    impl CustomOp for Three {
        fn name(&self) -> &'static str {
            "three_inputs"
        }
        fn arity(&self) -> usize {
            3
        }
        fn primal<S: Scalar>(&self, _: &[Input<'_, S>], _: &mut Vec<S>) {}
        fn vjp<S: Scalar>(&self, _: usize, _: &[Input<'_, S>], _: &[S], _: &mut [S]) {}
    }
    let three = register(Three).unwrap_err();
    assert!(three.to_string().contains("1 or 2"), "{three}");
}
