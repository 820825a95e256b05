//! Call sequences that once returned a wrong gradient with no error, or panicked inside the
//! library: each now gives the right number or a typed error. (Those the compiler refuses
//! are `compile_fail` examples: `Graph::set_value`, `slope_dual::gradient`.)

use std::sync::OnceLock;

use slope::custom::{register, CustomOp};
use slope::graph::forward;
use slope::graph::structural::Input;
use slope::prelude::*;
use slope::{GraphError, Op, Scalar};

/// A variable reached again after its leaf was set holds the new value.
#[test]
fn a_var_reached_again_after_set_value_computes_at_the_new_value() {
    let mut g = Graph::new();
    let x = g.var(2.0).id().unwrap();
    g.set_value(x, &[5.0]).unwrap();
    let x = g.var_of(x).unwrap();
    let y = x * x;
    assert_eq!(y.value(), 25.0);
    assert_eq!(slope::var_grad(y, &[x]).unwrap(), vec![10.0]);
}

/// The sequence 3: forward mode through a node computed before its leaf was set.
#[test]
fn forward_mode_through_a_node_computed_before_set_value_is_refused() {
    let mut g = Graph::new();
    let (x, y) = {
        let x = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
        (x.id(), x.powi(2).sum().id())
    };
    g.set_value(x, &[2.0, 4.0, 6.0]).unwrap();
    let (xt, yt) = (g.tensor(x).unwrap(), g.tensor(y).unwrap());
    assert_eq!(yt.item().unwrap(), 14.0, "y keeps the value of the old x");
    for err in [
        forward::gradient(yt, &[xt]).unwrap_err(),
        forward::jvp_tensors(yt, &[(xt, &[1.0, 0.0, 0.0])]).unwrap_err(),
        g.with_arena(|a| forward::evaluate::<f64>(a, &[(x, vec![2.0, 4.0, 6.0])], &[y])).unwrap_err(),
    ] {
        assert!(matches!(err, GraphError::ModifiedInPlace { .. }), "{err}");
        assert!(err.to_string().contains("set in place with set_value"), "{err}");
    }
    // Reverse mode refuses the same sweep with the same error.
    let err = slope::grad(yt, &[xt]).unwrap_err();
    assert!(matches!(err, slope::Error::Graph(GraphError::ModifiedInPlace { .. })), "{err}");
    // The checker says why instead of reporting failures.
    let frozen = g.to_frozen();
    let err = slope::check::check_graph(&frozen, &[x], y, &Default::default()).unwrap_err();
    assert!(matches!(err, GraphError::ModifiedInPlace { .. }), "{err}");
    // Seeded elsewhere, forward mode re-evaluates no stale node: `∂z/∂w` is the recorded
    // `y`, the value `z` was computed with. Seeded at the leaf set in place: refused.
    let w = g.scalar(1.0).requires_grad_();
    let z = g.tensor(y).unwrap() * w + g.tensor(x).unwrap().sum();
    assert_eq!(forward::gradient(z, &[w]).unwrap()[0].item(), Some(14.0));
    assert!(matches!(forward::gradient(z, &[xt]), Err(GraphError::ModifiedInPlace { .. })));
    // Recorded again after the update: both modes, at the new point.
    let y2 = xt.powi(2).sum();
    assert_eq!(forward::gradient(y2, &[xt]).unwrap()[0].as_slice(), &[4.0, 8.0, 12.0]);
    assert_eq!(slope::grad(y2, &[xt]).unwrap()[0].as_slice(), &[4.0, 8.0, 12.0]);
    // A copy moved to other leaves re-evaluates every node: nothing in it is stale.
    let moved = frozen.with_leaves(&[(x, &[1.0, 1.0, 1.0])]).unwrap();
    let report = slope::check::check_graph(&moved, &[x], y, &Default::default()).unwrap();
    assert!(report.passed(), "{report}");
}

/// A two-input op written with `zip`, which writes the shorter input's length.
struct ZippedProduct;

impl CustomOp for ZippedProduct {
    fn name(&self) -> &'static str {
        "zipped_product"
    }
    fn arity(&self) -> usize {
        2
    }
    fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.extend(inputs[0].0.iter().zip(inputs[1].0).map(|(&a, &b)| a * b));
    }
    fn vjp<S: Scalar>(&self, input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let other = inputs[1 - input].0;
        for ((adj, &g), &o) in adjoint.iter_mut().zip(g).zip(other) {
            *adj += g * o;
        }
    }
}

fn zipped() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    *OP.get_or_init(|| register(ZippedProduct).unwrap())
}

/// The sequence 4: a custom op whose primal writes fewer elements than its shape.
#[test]
fn a_custom_op_that_writes_the_wrong_length_is_an_error_and_records_nothing() {
    let op = zipped();
    let g = Graph::new();
    let a = g.matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]).unwrap().requires_grad_();
    let b = g.vector(&[5.0, 6.0]).requires_grad_();
    let before = g.len();
    let err = a.try_op(op, &[b]).unwrap_err();
    assert_eq!(err, GraphError::CustomOpOutput { op: "zipped_product", expected: 4, got: 2 });
    assert!(err.to_string().contains("output_shape"), "{err}");
    assert_eq!(g.len(), before, "a refused op records nothing");
    // Where its primal keeps its promise, the op records and differentiates.
    let c = g.vector(&[7.0, 8.0]).requires_grad_();
    let y = b.try_op(op, &[c]).unwrap().sum();
    assert_eq!(slope::grad(y, &[b]).unwrap()[0].as_slice(), &[7.0, 8.0]);
    // The checker reports the broken shapes as failures, without a panic.
    let report = slope::check::check_op(op, &slope::check::Options::default());
    assert!(!report.passed(), "{report}");
}

/// A sweep's adjoints are read only against the arena swept, in its recording.
#[test]
fn adjoints_are_not_read_against_a_copy_or_after_a_rewind() {
    let mut g = Graph::new();
    let start = g.checkpoint();
    let (x, y) = {
        let x = g.vector(&[1.0, 2.0]).requires_grad_();
        (x.id(), (x * x).sum().id())
    };
    let mut adjoints = slope::Adjoints::new();
    g.with_arena(|a| adjoints.sweep(a, y, &[1.0])).unwrap();
    assert_eq!(g.with_arena(|a| adjoints.of(a, x).unwrap().map(<[f64]>::to_vec)), Some(vec![2.0, 4.0]));
    let copy = g.to_frozen();
    assert!(matches!(adjoints.of(copy.arena(), x), Err(slope::Error::StaleAdjoints)));
    // Rewound and recorded again at the same indices, with other shapes: refused.
    g.rewind(start).unwrap();
    let x2 = g.scalar(3.0).requires_grad_().id();
    let _ = g.tensor(x2).unwrap().exp();
    assert!(matches!(g.with_arena(|a| adjoints.of(a, x2)), Err(slope::Error::StaleAdjoints)));
    // The old ids: dropped by the rewind, and the message says so.
    let err = g.tensor(x).unwrap_err();
    assert!(matches!(err, GraphError::DroppedNode { .. }) && err.to_string().contains("rewind"), "{err}");
    // An id recorded after a copy was taken, looked up in the copy.
    let snapshot = g.to_frozen();
    let later = g.tensor(x2).unwrap().sin().id();
    let err = snapshot.value(later).unwrap_err();
    assert!(matches!(err, GraphError::NewerThanCopy { .. }) && err.to_string().contains("copy"), "{err}");
}

/// The raw accessors stop at the nodes in use: a dropped node is not read.
#[test]
fn raw_accessors_refuse_indices_past_the_nodes_in_use() {
    let mut g = Graph::new();
    let start = g.checkpoint();
    let x = g.vector(&[1.0, 2.0]).requires_grad_();
    let dropped = x.exp().id().index();
    g.rewind(start).unwrap();
    let _ = g.scalar(1.0);
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.with_arena(|a| a.shape(dropped))));
    assert!(read.is_err(), "index {dropped} is past the graph's {} node(s)", g.len());
}

/// A view shares its input's elements, so setting the input in place changes what the view
/// reads (as a PyTorch view does), while nodes computed from the view kept the old values:
/// both modes refuse a sweep through the view, through one view or a chain of them.
#[test]
fn a_sweep_through_a_view_of_a_leaf_set_in_place_is_refused() {
    let mut g = Graph::new();
    let (x, y) = {
        let x = g.vector(&[1.0, 2.0, 3.0, 4.0]).requires_grad_();
        (x.id(), x.view(&[2, 2]).flatten().powi(2).sum().id())
    };
    g.set_value(x, &[2.0, 4.0, 6.0, 8.0]).unwrap();
    let (xt, yt) = (g.tensor(x).unwrap(), g.tensor(y).unwrap());
    assert_eq!(yt.item().unwrap(), 30.0, "y keeps the value of the old x");
    let err = slope::grad(yt, &[xt]).unwrap_err();
    assert!(matches!(err, slope::Error::Graph(GraphError::ModifiedInPlace { .. })), "{err}");
    let err = forward::gradient(yt, &[xt]).unwrap_err();
    assert!(matches!(err, GraphError::ModifiedInPlace { .. }), "{err}");
}
