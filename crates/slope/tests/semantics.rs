//! PyTorch's semantics where users rely on them, and what slope does on bad input.

use slope::prelude::*;
use slope::{Error, GraphError};

#[test]
fn only_what_depends_on_a_requiring_leaf_is_tracked() {
    let g = Graph::new();
    let a = g.scalar(2.0);
    let b = a * 3.0;
    assert!(!b.requires_grad() && b.is_leaf() && b.grad_fn().is_none());
    let x = g.scalar(1.0).requires_grad_();
    let c = b * x;
    assert!(c.requires_grad() && !c.is_leaf());
    assert_eq!(c.grad_fn().unwrap().name(), "MulBackward0");
    c.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(6.0));
    assert!(a.grad().is_none() && b.grad().is_none());
}

#[test]
fn grad_fn_names_follow_pytorch() {
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0]).requires_grad_();
    let name = |t: Tensor<'_>| t.grad_fn().unwrap().name();
    assert_eq!(name(x + x), "AddBackward0");
    assert_eq!(name(x - 1.0), "SubBackward0");
    assert_eq!(name(2.0 * x), "MulBackward0");
    assert_eq!(name(x / x), "DivBackward0");
    assert_eq!(name(-x), "NegBackward0");
    assert_eq!(name(x.powi(2)), "PowBackward0");
    assert_eq!(name(x.powf(0.5)), "PowBackward0");
    assert_eq!(name(x.pow(x)), "PowBackward1");
    assert_eq!(name(x.sum()), "SumBackward0");
    assert_eq!(name(x.mean()), "MeanBackward0");
    assert_eq!(name(x.relu()), "ReluBackward0");
    assert_eq!(name(x.sigmoid()), "SigmoidBackward0");
    assert_eq!(name(x.dot(x)), "DotBackward0");
    assert_eq!(x.grad_fn().map(|f| f.to_string()), None);
    assert_eq!((x * x).grad_fn().unwrap().to_string(), "<MulBackward0>");
}

/// Values and gradients of the activation functions at `[-1, 0, 1, 25]` against their closed
/// forms evaluated in 40-digit arithmetic (mpmath) and rounded to `f64`, with PyTorch's
/// conventions (`softplus` is the identity above its threshold 20) and `grad_fn` names.
#[test]
fn activations_match_their_closed_forms_and_pytorch_names() {
    #[allow(clippy::type_complexity)]
    let cases: [(&str, fn(Tensor<'_>) -> Tensor<'_>, [f64; 4], [f64; 4]); 4] = [
        (
            "GeluBackward0",
            |x| x.gelu(),
            [-0.15865525393145705, 0.0, 0.8413447460685429, 25.0],
            [-0.0833154705876863, 0.5, 1.0833154705876864, 1.0],
        ),
        (
            "SiluBackward0",
            |x| x.silu(),
            [-0.2689414213699951, 0.0, 0.7310585786300049, 24.9999999996528],
            [0.07232948812851327, 0.5, 0.9276705118714867, 1.0000000003333107],
        ),
        (
            "SoftplusBackward0",
            |x| x.softplus(),
            [0.3132616875182228, std::f64::consts::LN_2, 1.3132616875182228, 25.0],
            [0.2689414213699951, 0.5, 0.7310585786300049, 1.0],
        ),
        (
            "LogSigmoidBackward0",
            |x| x.log_sigmoid(),
            [-1.3132616875182228, -std::f64::consts::LN_2, -0.3132616875182228, -1.3887943864867583e-11],
            [0.7310585786300049, 0.5, 0.2689414213699951, 1.3887943864771146e-11],
        ),
    ];
    for (grad_fn, f, values, grads) in cases {
        let g = Graph::new();
        let x = g.vector(&[-1.0, 0.0, 1.0, 25.0]).requires_grad_();
        let y = f(x);
        assert_eq!(y.grad_fn().unwrap().name(), grad_fn);
        y.sum().backward().unwrap();
        for (k, (&got, &want)) in y.value().as_slice().iter().zip(&values).enumerate() {
            assert!((got - want).abs() <= 4.5e-16 * want.abs(), "{grad_fn} value {k}: {got} vs {want}");
        }
        for (k, (&got, &want)) in x.grad().unwrap().as_slice().iter().zip(&grads).enumerate() {
            assert!((got - want).abs() <= 4.5e-16 * want.abs(), "{grad_fn} grad {k}: {got} vs {want}");
        }
    }
}

#[test]
fn gradients_accumulate_on_leaves_until_zeroed() {
    let g = Graph::new();
    let x = g.scalar(3.0).requires_grad_();
    let y = x.powi(2);
    y.backward().unwrap();
    y.backward().unwrap(); // allowed: slope keeps the graph (PyTorch needs retain_graph=True)
    assert_eq!(x.grad().unwrap().item(), Some(12.0));
    x.zero_grad();
    assert!(x.grad().is_none());
    (x * 5.0).backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(5.0));
    g.zero_grad();
    assert!(x.grad().is_none());
}

/// A training loop clears its graph each step: the gradient buffers of the last step are
/// reused for the next one's, and must hold the new step's gradient, never the old one's.
#[test]
fn a_cleared_graph_stores_fresh_gradients_in_reused_buffers() {
    let mut g = Graph::new();
    for step in 0..4 {
        g.clear();
        let scale = 1.0 + step as f64;
        let x = g.vector(&[1.0, -2.0, 3.0]).requires_grad_();
        let w = g.vector(&[0.5, 0.25]).requires_grad_();
        ((x * scale).powi(2).sum() + w.sum()).backward().unwrap();
        let expected: Vec<f64> = [1.0, -2.0, 3.0].iter().map(|v| 2.0 * scale * scale * v).collect();
        assert_eq!(x.grad().unwrap().as_slice(), &expected[..]);
        assert_eq!(x.with_grad(|grad| grad.to_vec()), Some(expected));
        assert_eq!(w.with_grad(|grad| grad.to_vec()), Some(vec![1.0, 1.0]));
        x.zero_grad();
        assert_eq!(x.with_grad(|grad| grad.len()), None);
        assert_eq!(w.with_grad(|grad| grad.len()), Some(2));
    }
}

/// NumPy's and PyTorch's broadcasting: a row `[3]` against `[2, 3]`, a column `[2, 1]`, an
/// outer `[2, 1] x [1, 3]`; a repeated input's gradient is the sum over the repeats.
#[test]
fn elementwise_ops_broadcast_rows_columns_and_outer_products() {
    let g = Graph::new();
    let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap().requires_grad_();
    let row = g.vector(&[10.0, 20.0, 30.0]).requires_grad_();
    let sum = m + row;
    assert_eq!(sum.shape(), Shape::Matrix(2, 3));
    assert_eq!(sum.to_vec(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    (m * row).sum().backward().unwrap();
    assert_eq!(row.grad().unwrap().as_slice(), &[5.0, 7.0, 9.0]); // column sums of m
    assert_eq!(m.grad().unwrap().as_slice(), &[10.0, 20.0, 30.0, 10.0, 20.0, 30.0]);

    let col = g.matrix(2, 1, &[2.0, 3.0]).unwrap().requires_grad_();
    let out = g.matrix(1, 3, &[1.0, 10.0, 100.0]).unwrap().requires_grad_();
    let outer = col * out;
    assert_eq!(outer.shape(), Shape::Matrix(2, 3));
    assert_eq!(outer.to_vec(), vec![2.0, 20.0, 200.0, 3.0, 30.0, 300.0]);
    outer.sum().backward().unwrap();
    assert_eq!(col.grad().unwrap().as_slice(), &[111.0, 111.0]);
    assert_eq!(out.grad().unwrap().as_slice(), &[5.0, 5.0, 5.0]);

    let err = m.try_add(g.vector(&[1.0, 2.0])).unwrap_err();
    assert!(err.to_string().contains("[2, 3]") && err.to_string().contains("[2]"), "{err}");
}

/// `maximum` and `minimum` as PyTorch's: NaN propagates, and a tie splits the gradient.
#[test]
fn maximum_and_minimum_split_ties_and_propagate_nan() {
    let g = Graph::new();
    let a = g.vector(&[1.0, 5.0, 2.0, f64::NAN]).requires_grad_();
    let b = g.vector(&[3.0, 4.0, 2.0, 0.0]).requires_grad_();
    let hi = a.try_maximum(b).unwrap();
    assert_eq!(hi.grad_fn().unwrap().name(), "MaximumBackward0");
    assert_eq!(&hi.to_vec()[..3], &[3.0, 5.0, 2.0]);
    assert!(hi.to_vec()[3].is_nan());
    hi.slice(0, 3).sum().backward().unwrap();
    assert_eq!(&a.grad().unwrap().as_slice()[..3], &[0.0, 1.0, 0.5]);
    assert_eq!(&b.grad().unwrap().as_slice()[..3], &[1.0, 0.0, 0.5]);
    g.zero_grad();
    let lo = a.try_minimum(b).unwrap();
    assert_eq!(&lo.to_vec()[..3], &[1.0, 4.0, 2.0]);
    lo.slice(0, 3).sum().backward().unwrap();
    assert_eq!(&a.grad().unwrap().as_slice()[..3], &[1.0, 0.0, 0.5]);
}

/// A sweep zeroes a tensor's adjoint when it first reaches it, not beforehand: sweeps of
/// different graphs through the same reused buffers, and of tensors the output does not
/// reach, must still see only their own contributions.
#[test]
fn reused_adjoint_buffers_hold_only_the_current_sweep() {
    let first = Graph::new();
    let x = first.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    (x * x * 7.0).sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[14.0, 28.0, 42.0]);
    let second = Graph::new();
    let unused = second.vector(&[5.0, 5.0, 5.0]).requires_grad_();
    let y = second.vector(&[1.0, 1.0, 1.0]).requires_grad_();
    let _ = unused * 3.0; // recorded, not reached by the output
    (y * 2.0).sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().as_slice(), &[2.0, 2.0, 2.0]);
    assert!(unused.grad().is_none());
    (y + y).sum().backward().unwrap(); // one input twice, reached once
    assert_eq!(y.grad().unwrap().as_slice(), &[4.0, 4.0, 4.0]);
}

/// `sum` and `mean` send one value to every element of their input, which a sweep keeps
/// unwritten while only elementwise VJPs read it: each way such an adjoint ends (read by an
/// elementwise VJP, by a broadcast one, by a structural one, added to by a second path,
/// arriving at a leaf, read by `retain_grad` and by `grad`) gives forward mode's gradient.
#[test]
fn adjoints_sent_as_one_value_give_forward_modes_gradients() {
    let g = Graph::new();
    let x = g.vector(&[0.5, -1.25, 2.0, 0.75]).requires_grad_();
    let m = g.matrix(2, 2, &[0.3, -0.7, 1.1, 0.2]).unwrap().requires_grad_();
    let row = g.vector(&[0.25, -0.5]).requires_grad_();
    let y = x.sin();
    y.retain_grad().unwrap();
    let outputs: Vec<(&str, Tensor<'_>)> = vec![
        ("leaf", x.sum()),
        ("elementwise", x.exp().mean()),
        ("second path", (y * y).sum() + y.sum()),
        ("broadcast", (m + row).tanh().mean()),
        ("structural", m.matmul(x.slice(0, 2)).sum()),
        ("mean of a mean-weighted leaf", (x * 3.0).mean() * x.sum()),
    ];
    for (what, out) in outputs {
        for leaf in [x, m, row] {
            let reverse = slope::reverse::grad(out, &[leaf]).unwrap();
            let forward = slope::graph::forward::gradient(out, &[leaf]).unwrap();
            for (r, f) in reverse[0].as_slice().iter().zip(forward[0].as_slice()) {
                assert!((r - f).abs() <= 1e-14 * (1.0 + f.abs()), "{what}: {r} against {f}");
            }
        }
    }
    // an intermediate's adjoint, read by `grad` (after a sweep that wrote other values
    // there) and by `retain_grad`
    slope::reverse::grad((y * y).sum(), &[x]).unwrap();
    assert_eq!(slope::reverse::grad(y.sum() * 3.0, &[y]).unwrap()[0].as_slice(), &[3.0; 4]);
    let out = y.sum() * 2.0;
    out.backward().unwrap();
    assert_eq!(y.grad().unwrap().as_slice(), &[2.0; 4]);
    assert_eq!(slope::reverse::grad(out, &[y]).unwrap()[0].as_slice(), &[2.0; 4]);
    let cos: Vec<f64> = [0.5_f64, -1.25, 2.0, 0.75].iter().map(|v| 2.0 * v.cos()).collect();
    assert_eq!(x.grad().unwrap().as_slice(), &cos[..]);
}

/// `stack` and `where_` are recorded through other rows (reshapes, `cat`): values and
/// gradients as PyTorch gives them, in every shape they take.
#[test]
fn stack_and_where_give_pytorchs_values_and_gradients() {
    let g = Graph::new();
    let a = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let b = g.vector(&[4.0, 5.0, 6.0]).requires_grad_();
    let w = g.matrix(3, 2, &[1.0, 10.0, 100.0, 1000.0, 1e4, 1e5]).unwrap();
    let columns = Tensor::stack(&[a, b], -1);
    assert_eq!((columns.shape(), columns.to_vec()), (Shape::Matrix(3, 2), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    (columns * w).sum().backward().unwrap();
    assert_eq!(a.grad().unwrap().as_slice(), &[1.0, 100.0, 1e4]);
    assert_eq!(b.grad().unwrap().as_slice(), &[10.0, 1000.0, 1e5]);
    let (s, t) = (g.scalar(2.0).requires_grad_(), g.scalar(-3.0).requires_grad_());
    let pair = Tensor::stack(&[s, t, s], 0);
    assert_eq!((pair.shape(), pair.to_vec()), (Shape::Vector(3), vec![2.0, -3.0, 2.0]));
    (pair * g.vector(&[1.0, 2.0, 4.0])).sum().backward().unwrap();
    assert_eq!((s.grad().unwrap().item(), t.grad().unwrap().item()), (Some(5.0), Some(2.0)));
    let picked = s.where_(g.scalar(0.0), t);
    assert_eq!((picked.shape(), picked.item().ok()), (Shape::Scalar, Some(-3.0)));
    let m = g.matrix(2, 2, &[1.0, -2.0, -3.0, 4.0]).unwrap().requires_grad_();
    let relu = m.where_(m.gt(0.0), g.scalar(0.0));
    assert_eq!(relu.to_vec(), m.relu().to_vec());
    relu.sum().backward().unwrap();
    assert_eq!(m.grad().unwrap().as_slice(), &[1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn non_leaf_grads_only_with_retain_grad() {
    let g = Graph::new();
    let x = g.scalar(2.0).requires_grad_();
    let h = x.powi(3);
    let k = x.powi(3);
    k.retain_grad().unwrap();
    assert!(k.retains_grad() && !h.retains_grad());
    let y = (h + k) * 2.0;
    y.backward().unwrap();
    assert!(h.grad().is_none());
    assert_eq!(k.grad().unwrap().item(), Some(2.0));
    assert_eq!(x.grad().unwrap().item(), Some(48.0));
    // retain_grad on a leaf is a no-op; on an untracked tensor, an error
    x.retain_grad().unwrap();
    assert!(!x.retains_grad());
    let err = g.scalar(1.0).retain_grad().unwrap_err();
    assert!(matches!(err, GraphError::NotTracked { .. }));
}

#[test]
fn detach_gives_a_leaf_without_history() {
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0]).requires_grad_();
    let y = x * x;
    let d = y.detach();
    assert!(d.is_leaf() && !d.requires_grad() && d.grad_fn().is_none());
    assert_eq!(d.to_vec(), y.to_vec());
    let z = (d * x).sum();
    z.backward().unwrap();
    // d is a constant: dz/dx = d, not 3x²
    assert_eq!(x.grad().unwrap().as_slice(), &[1.0, 4.0]);
}

#[test]
fn backward_on_a_non_scalar_needs_a_seed() {
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let y = x * x;
    let err = y.backward().unwrap_err();
    assert_eq!(err, Error::NonScalarOutput { shape: Shape::Vector(3) });
    let message = err.to_string();
    assert!(message.contains("[3]") && message.contains(".sum()") && message.contains("backward_with"), "{message}");
    y.backward_with(&[1.0, 0.0, -1.0]).unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[2.0, 0.0, -6.0]);
    let err = y.backward_with(&[1.0]).unwrap_err();
    assert!(matches!(err, Error::SeedShape { expected: 3, got: 1, .. }));
}

#[test]
fn backward_of_an_untracked_tensor_is_an_error() {
    let g = Graph::new();
    let y = g.scalar(2.0) * 3.0;
    let err = y.backward().unwrap_err();
    assert!(err.to_string().contains("requires_grad_()"), "{err}");
}

#[test]
fn shape_mismatches_are_errors_that_name_both_shapes_and_leave_the_graph_intact() {
    let g = Graph::new();
    let a = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let b = g.matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let short = g.vector(&[1.0]);
    let nodes = g.len();
    let err = a.try_add(b).unwrap_err();
    assert_eq!(err, GraphError::ShapeMismatch { op: "add", left: Shape::Vector(3), right: Shape::Matrix(2, 2) });
    assert!(err.to_string().contains("[3] and [2, 2]"), "{err}");
    assert!(b.try_matmul(a).is_err());
    assert!(a.try_dot(short).is_err());
    assert!(a.try_pow(b).is_err());
    assert_eq!(g.len(), nodes, "a failed op must not record anything");
    // the graph still works
    (a * 2.0).sum().backward().unwrap();
    assert_eq!(a.grad().unwrap().as_slice(), &[2.0, 2.0, 2.0]);
}

#[test]
#[should_panic(expected = "add: shapes [3] and [2] do not match")]
fn the_operator_form_panics_with_the_same_message() {
    let g = Graph::new();
    let _ = g.vector(&[1.0, 2.0, 3.0]) + g.vector(&[1.0, 2.0]);
}

#[test]
fn handles_from_another_graph_are_rejected() {
    let g = Graph::new();
    let h = Graph::new();
    let x = g.scalar(1.0).requires_grad_();
    let y = h.scalar(2.0).requires_grad_();
    assert!(matches!(x.try_mul(y), Err(GraphError::ForeignNode { .. })));
    assert!(matches!(slope::grad(x * 2.0, &[y]), Err(Error::Graph(GraphError::ForeignNode { .. }))));
    let frozen = h.freeze();
    let id = (x * 3.0).id();
    let mut adjoints = slope::Adjoints::new();
    assert!(matches!(
        slope::graph_vjp(&frozen, id, &[1.0], &[], &mut adjoints),
        Err(Error::Graph(GraphError::ForeignNode { .. }))
    ));
}

#[test]
#[should_panic(expected = "different graphs")]
fn vars_from_two_graphs_panic_with_a_clear_message() {
    let g = Graph::new();
    let h = Graph::new();
    let _ = g.var(1.0) + h.var(2.0);
}

#[test]
fn bad_constructor_input_is_an_error() {
    let g = Graph::new();
    assert!(matches!(g.matrix(2, 3, &[1.0; 5]), Err(GraphError::DataLength { expected: 6, got: 5, .. })));
    assert!(matches!(g.zeros(Shape::Matrix(1 << 40, 1 << 40)), Err(GraphError::CapacityExceeded { .. })));
    assert!(matches!(g.linspace(0.0, 1.0, usize::MAX), Err(GraphError::CapacityExceeded { .. })));
    assert!(g.is_empty());
    assert!(g.scalar(1.0).item().is_ok());
    assert!(g.vector(&[1.0, 2.0]).item().is_err());
    assert!(matches!(
        (g.vector(&[1.0]).requires_grad_() * 2.0).set_requires_grad(false),
        Err(GraphError::NotALeaf { .. })
    ));
}

#[test]
fn ieee_semantics_for_values_and_gradients() {
    let g = Graph::new();
    let x = g.scalar(-1.0).requires_grad_();
    let y = x.log();
    assert!(y.item().unwrap().is_nan());
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(-1.0));
    let z = g.scalar(0.0).requires_grad_();
    z.sqrt().backward().unwrap();
    assert_eq!(z.grad().unwrap().item(), Some(f64::INFINITY));
}

#[test]
fn a_nan_partial_in_an_unrelated_branch_does_not_leak() {
    let g = Graph::new();
    let x = g.scalar(-4.0).requires_grad_();
    let _unrelated = x.sqrt(); // sqrt'(-4) is NaN
    let y = x * 2.0;
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(2.0));
}

#[test]
fn grad_returns_without_storing() {
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0]).requires_grad_();
    let unused = g.scalar(5.0).requires_grad_();
    let y = (x * x).sum();
    let d = slope::grad(y, &[x, unused]).unwrap();
    assert_eq!(d[0].as_slice(), &[2.0, 4.0]);
    assert_eq!(d[1].item(), Some(0.0));
    assert!(x.grad().is_none());
}

#[test]
fn a_frozen_graph_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<slope::FrozenGraph>();
    let g = Graph::new();
    let w = g.matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]).unwrap().requires_grad_();
    let x = g.vector(&[1.0, -1.0]).requires_grad_();
    let y = w.matmul(x).tanh();
    let (w_id, x_id, y_id) = (w.id(), x.id(), y.id());
    let frozen = g.freeze();
    // Jacobian rows of y = tanh(W x), one thread per row.
    let rows: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let frozen = &frozen;
                s.spawn(move || {
                    let mut seed = [0.0; 2];
                    seed[i] = 1.0;
                    let mut adjoints = slope::Adjoints::new();
                    let d = slope::graph_vjp(frozen, y_id, &seed, &[x_id, w_id], &mut adjoints).unwrap();
                    d[0].as_slice().to_vec()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // closed form: d tanh(Wx)_i / dx_j = (1 - tanh²(Wx)_i) W_ij, with Wx = [-1, -1]
    let s = 1.0 - (-1.0_f64).tanh().powi(2);
    assert_eq!(rows, vec![vec![s * 1.0, s * 2.0], vec![s * 3.0, s * 4.0]]);
}

/// Comparisons make constant masks, broadcast as arithmetic does; the gradient flows only
/// through what the mask multiplies or picks.
#[test]
fn comparisons_make_masks_outside_autograd() {
    use slope::graph::Comparison;
    let g = Graph::new();
    let x = g.vector(&[-2.0, 0.0, 3.0, f64::NAN]).requires_grad_();
    assert_eq!(x.gt(0.0).to_vec(), [0.0, 0.0, 1.0, 0.0]);
    assert_eq!(x.le(0.0).to_vec(), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(x.eq(0.0).to_vec(), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(x.ne(0.0).to_vec(), [1.0, 0.0, 1.0, 1.0], "NaN is unequal to everything");
    assert_eq!(x.ge(3.0).to_vec(), [0.0, 0.0, 1.0, 0.0]);
    assert_eq!(x.lt(-1.0).to_vec(), [1.0, 0.0, 0.0, 0.0]);
    let column = g.matrix(2, 1, &[0.0, 1.0]).unwrap();
    let row = g.vector(&[0.5, 1.0, 1.5]);
    let outer = row.try_compare(Comparison::Gt, column).unwrap();
    assert_eq!(outer.shape(), Shape::Matrix(2, 3));
    assert_eq!(outer.to_vec(), [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
    assert!(row.try_compare(Comparison::Eq, g.vector(&[1.0, 2.0])).is_err());
    let y = g.vector(&[-2.0, 1.0, 3.0]).requires_grad_();
    let relu_like = (y.gt(0.0) * y * y).sum();
    relu_like.backward().unwrap();
    assert_eq!(y.grad().unwrap().as_slice(), &[0.0, 2.0, 6.0]);
}

/// The two-argument functions have PyTorch's infallible methods beside the `try_` ones.
#[test]
fn two_argument_functions_have_infallible_methods() {
    let g = Graph::new();
    let x = g.vector(&[1.0, -2.0, 3.0]).requires_grad_();
    let y = g.vector(&[2.0, -2.0, 0.5]);
    assert_eq!(x.maximum(y).to_vec(), [2.0, -2.0, 3.0]);
    assert_eq!(x.minimum(y).to_vec(), [1.0, -2.0, 0.5]);
    assert_eq!(x.fmod(y).to_vec(), x.try_fmod(y).unwrap().to_vec());
    assert_eq!(x.hypot(y).to_vec(), x.try_hypot(y).unwrap().to_vec());
    assert_eq!(x.atan2(y).to_vec(), x.try_atan2(y).unwrap().to_vec());
    assert_eq!(x.maximum(y).grad_fn().unwrap().name(), "MaximumBackward0");
    x.maximum(y).sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 0.5, 1.0], "a tie splits the gradient, as in PyTorch");
    let wrong = g.vector(&[1.0, 2.0]);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.maximum(wrong)));
    assert!(panic.is_err(), "shapes that do not broadcast panic, as PyTorch raises");
}

/// `leaky_relu` as PyTorch has it: the slope a constant, the derivative at 0 the slope.
#[test]
fn leaky_relu_follows_pytorch() {
    let g = Graph::new();
    let x = g.vector(&[-2.0, 0.0, 3.0]).requires_grad_();
    let y = x.leaky_relu(0.2);
    assert_eq!(y.grad_fn().unwrap().name(), "LeakyReluBackward0");
    assert_eq!(y.to_vec(), [-0.4, 0.0, 3.0]);
    y.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.2, 0.2, 1.0]);
    let (value, grad) = slope::gradient(|v| v[0].leaky_relu(0.25) * v[1], &[-4.0, 2.0]).unwrap();
    assert_eq!((value, grad), (-2.0, vec![0.5, -1.0]));
}
