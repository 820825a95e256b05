//! Graphs that are reused: rewinding to a checkpoint, stale ids, values set in place,
//! `no_grad`, new values for data leaves, sweeps that cost what the output reaches, and
//! the cached partials of the scalar tape against partials evaluated afresh.

use slope::graph::forward;
use slope::prelude::*;
use slope::{Adjoints, GraphError as SlopeError, NodeId};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn a_rewound_step_keeps_parameters_and_drops_everything_else() {
    let mut g = Graph::new();
    let w = g.vector(&[0.5, -1.0]).requires_grad_().id();
    let data = g.vector(&[2.0, 3.0]).id();
    let start = g.checkpoint();
    let mut dropped: Vec<NodeId> = Vec::new();
    let mut capacity = None;
    for step in 0..50 {
        let (wt, x) = (g.tensor(w).unwrap(), g.tensor(data).unwrap());
        let loss = (wt * x).sum().powi(2);
        loss.backward().unwrap();
        // d/dw (w·x)^2 = 2 (w·x) x
        let dot = 0.5 * 2.0 - 3.0;
        let grad = wt.grad().unwrap().into_vec();
        assert!(close(grad[0], 2.0 * dot * 2.0) && close(grad[1], 2.0 * dot * 3.0), "step {step}: {grad:?}");
        dropped.push(loss.id());
        g.zero_grad();
        g.rewind(start).unwrap();
        assert_eq!(g.len(), 2);
        // after the first step the buffers hold their capacity: nothing grows
        let held = g.memory_bytes();
        assert_eq!(*capacity.get_or_insert(held), held, "step {step}");
    }
    assert!(g.tensor(w).is_ok() && g.tensor(data).is_ok());
    let fresh = g.tensor(w).unwrap().exp();
    assert_eq!(fresh.id().index() as usize, start.len(), "the first dropped index is reused by a new node");
    for id in dropped {
        let err = g.tensor(id).unwrap_err();
        assert!(matches!(err, SlopeError::DroppedNode { .. }), "a dropped node's id is refused: {err}");
        assert!(err.to_string().contains("dropped by a rewind"), "{err}");
    }
}

#[test]
fn a_checkpoint_taken_after_a_dropped_node_is_refused_and_clear_empties() {
    let mut g = Graph::new();
    let start = g.checkpoint();
    let x = g.scalar(1.0).requires_grad_().id();
    let late = g.checkpoint();
    g.rewind(start).unwrap();
    assert!(g.rewind(late).is_err());
    assert!(g.tensor(x).is_err());
    let _ = g.scalar(2.0);
    g.clear();
    assert!(g.is_empty());
    let other = Graph::new();
    assert!(matches!(g.rewind(other.checkpoint()), Err(SlopeError::ForeignNode { .. })));
}

#[test]
fn backward_through_a_node_computed_before_its_leaf_was_set_is_refused() {
    let mut g = Graph::new();
    let w = g.scalar(2.0).requires_grad_().id();
    let y = {
        let w = g.tensor(w).unwrap();
        (w * w).id()
    };
    g.set_value(w, &[5.0]).unwrap();
    let (w, y) = (g.tensor(w).unwrap(), g.tensor(y).unwrap());
    assert_eq!(w.item().unwrap(), 5.0);
    let err = y.backward().unwrap_err();
    assert!(matches!(err, slope::Error::Graph(SlopeError::ModifiedInPlace { .. })), "{err}");
    assert!(err.to_string().contains("set in place"), "{err}");
    // recorded after the update: correct, with the new value
    let z = w * w;
    let d = slope::grad(z, &[w]).unwrap();
    assert_eq!(d[0].item(), Some(10.0));
    // computed nodes cannot be set, and the length must fit
    let (z, w) = (z.id(), w.id());
    assert!(matches!(g.set_value(z, &[1.0]), Err(SlopeError::NotALeaf { .. })));
    assert!(matches!(g.set_value(w, &[1.0, 2.0]), Err(SlopeError::DataLength { .. })));
}

#[test]
fn setting_a_leaf_after_backward_then_rewinding_is_the_training_step() {
    let mut g = Graph::new();
    let w = g.scalar(3.0).requires_grad_().id();
    let start = g.checkpoint();
    let mut value = 3.0;
    for _ in 0..20 {
        let wt = g.tensor(w).unwrap();
        let loss = (wt - 1.0).powi(2);
        loss.backward().unwrap();
        let grad = wt.grad().unwrap().item().unwrap();
        assert!(close(grad, 2.0 * (value - 1.0)));
        value -= 0.25 * grad;
        g.set_value(w, &[value]).unwrap();
        g.zero_grad();
        g.rewind(start).unwrap();
    }
    assert!((value - 1.0).abs() < 1e-5, "gradient descent converged: {value}");
}

#[test]
fn no_grad_records_nothing_and_resumes() {
    let g = Graph::new();
    let w = g.scalar(3.0).requires_grad_();
    let v = g.var(2.0);
    let before = g.len();
    let (t, u) = g.no_grad(|| {
        assert!(!g.is_grad_enabled());
        (w * 2.0 + 1.0, (v * v).sin())
    });
    assert!(g.is_grad_enabled());
    assert!(t.is_leaf() && !t.requires_grad() && t.item().unwrap() == 7.0);
    assert!(u.id().is_none() && u.value() == 4.0_f64.sin());
    // the tensor results and their constant operands, as leaves; the Var ops record nothing
    assert_eq!(g.len(), before + 4);
    // a panic inside does not leave recording paused
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.no_grad(|| panic!("inside"))));
    assert!(caught.is_err() && g.is_grad_enabled());
}

#[test]
fn a_frozen_graph_takes_a_new_minibatch_in_its_data_leaves() {
    let g = Graph::new();
    let w = g.vector(&[1.0, 2.0]).requires_grad_();
    let x = g.vector(&[3.0, 4.0]);
    let y = (w * x).sum();
    let (wid, xid, yid) = (w.id(), x.id(), y.id());
    let frozen = g.freeze();
    let moved = frozen.with_leaves(&[(xid, &[5.0, 6.0])]).unwrap();
    assert_eq!(moved.value(yid).unwrap().item(), Some(17.0));
    let j = slope::graph_jacobian(&moved, yid, &[wid]).unwrap();
    assert_eq!(j, vec![vec![5.0, 6.0]]);
    assert!(frozen.with_leaves(&[(yid, &[0.0])]).is_err(), "a computed node is not a leaf");
}

#[test]
fn a_sweep_covers_only_what_the_output_reaches() {
    // The naive loop: one graph, parameters made again each step. Each loss reaches only
    // its own step's nodes, so a sweep's window does not grow with the arena.
    let g = Graph::new();
    let mut widths = Vec::new();
    for step in 0..300 {
        let w = g.vector(&[0.1 * step as f64, 1.0]).requires_grad_();
        let loss = (w * w).sum();
        loss.backward().unwrap();
        let out = loss.id().index();
        widths.push(out - g.with_arena(|arena| arena.low(out)));
    }
    assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}");
    assert_eq!(g.len(), 300 * 3, "the arena grew: a leaf, a product and a sum per step");
}

#[test]
fn cached_partials_equal_partials_evaluated_afresh_bitwise() {
    let g = Graph::new();
    let x = g.vars(&[0.7, -1.3, 2.1]);
    let mut y = x[0];
    for k in 0..30 {
        let v = x[k % 3];
        y = match k % 6 {
            0 => (y * v).sin() + 2.0 * v,
            1 => y.exp() / (1.0 + v * v),
            2 => (y - v).tanh().powi(3) - 1.5,
            3 => y.atan2(v) * y.hypot(v),
            4 => (y * y + 1.0).ln() + v.powf(slope::Var::constant(1.5)).sqrt(),
            _ => 3.0 - y.sigmoid() * v.abs(),
        };
    }
    let out = y.id().unwrap();
    g.with_arena(|arena| {
        let mut cached = Adjoints::new();
        cached.sweep(arena, out, &[1.0]).unwrap();
        // every leaf seeded with its own value, so every node is evaluated again
        let seeds: Vec<_> = x.iter().map(|v| (v.id().unwrap(), vec![v.value()])).collect();
        let values = forward::evaluate_all::<f64>(arena, &seeds).unwrap();
        let mut fresh = Adjoints::<f64>::default();
        fresh.sweep_at(arena, &values, out, &[1.0]).unwrap();
        for v in &x {
            let id = v.id().unwrap();
            let (a, b) = (cached.of(arena, id).unwrap().unwrap()[0], fresh.of(arena, id).unwrap().unwrap()[0]);
            assert_eq!(a.to_bits(), b.to_bits(), "{id:?}: {a} vs {b}");
        }
        // and the re-evaluation reproduces every recorded value
        for i in 0..arena.len() as u32 {
            assert_eq!(values.get(arena, i).unwrap()[0].to_bits(), arena.value(i)[0].to_bits(), "node {i}");
        }
    });
}

#[test]
fn constant_operands_are_kept_in_one_node() {
    let g = Graph::new();
    let x = g.var(1.5);
    let before = g.len();
    let y = (2.0 - x) * 3.0 + x.powi(2) / 4.0;
    // 2 - x, * 3, x^2, / 4, + : five nodes, no constant leaves
    assert_eq!(g.len(), before + 5);
    let (_, d) = slope::gradient(|v| (2.0 - v[0]) * 3.0 + v[0].powi(2) / 4.0, &[1.5]).unwrap();
    assert_eq!(d[0], -3.0 + 2.0 * 1.5 / 4.0);
    assert_eq!(y.value(), 0.5 * 3.0 + 2.25 / 4.0);
}

/// The gradient helpers skip zero adjoints where every partial is finite; the adjoints
/// must be bitwise those of the exact sweep, which tracks the nodes it reaches.
#[test]
fn the_gradient_sweep_equals_the_exact_sweep_bitwise_also_at_singular_points() {
    type VarFn = for<'g> fn(&[Var<'g>]) -> Var<'g>;
    let cases: Vec<(&str, VarFn, Vec<f64>)> = vec![
        ("smooth", |v| (v[0] * v[1]).sin() + v[0].exp() / (1.0 + v[1] * v[1]), vec![0.3, -1.2]),
        ("relu kills a branch", |v| (v[0] - 5.0).max(Var::constant(0.0)) * v[1].ln() + v[1], vec![1.0, 2.0]),
        // 0 · ln(y) at y = 0: a reached node with a zero adjoint and an infinite partial
        ("zero times infinite", |v| v[0] + 0.0 * v[1].ln(), vec![1.5, 0.0]),
        // an unused ln(0) between the inputs and the output: unreached, skipped
        (
            "unreached infinite",
            |v| {
                let _ = v[1].ln();
                v[0] * 2.0
            },
            vec![1.5, 0.0],
        ),
        ("sqrt at zero", |v| (v[0] * v[0]).sqrt() + v[1], vec![0.0, 1.0]),
    ];
    for (name, f, x) in cases {
        let (_, fast) = slope::gradient(f, &x).unwrap();
        let g = Graph::new();
        let vars = g.vars(&x);
        let y = f(&vars);
        g.with_arena(|arena| {
            let mut exact = Adjoints::new();
            exact.sweep(arena, y.id().unwrap(), &[1.0]).unwrap();
            for (k, v) in vars.iter().enumerate() {
                let want: f64 = exact.of(arena, v.id().unwrap()).unwrap().map_or(0.0, |a| a[0]);
                assert_eq!(fast[k].to_bits(), want.to_bits(), "{name}: d/dx{k} {} vs {want}", fast[k]);
            }
        });
    }
    // PyTorch's answer where a zero adjoint meets an infinite partial: NaN
    let (_, d) = slope::gradient(|v| v[0] + 0.0 * v[1].ln(), &[1.5, 0.0]).unwrap();
    assert!(d[1].is_nan() && d[0] == 1.0);
}

#[test]
fn an_op_on_one_variable_twice_is_one_input_with_both_partials() {
    let g = Graph::new();
    let x = g.var(1.7);
    let before = g.len();
    let (sq, ratio, diff, pw) = (x * x, x / x, x - x, x.powf(x));
    assert_eq!(g.len(), before + 4);
    let d = |y: Var<'_>| slope::var_grad(y, &[x]).unwrap()[0];
    assert_eq!(d(sq), 2.0 * 1.7);
    assert_eq!(d(ratio), 0.0);
    assert_eq!(d(diff), 0.0);
    let want = 1.7_f64.powf(1.7) * (1.7_f64.ln() + 1.0);
    assert!(close(d(pw), want), "{} vs {want}", d(pw));
    // moved to another point, the partials are evaluated again as the sum
    let id = x.id().unwrap();
    let (sq, pw) = (sq.id().unwrap(), pw.id().unwrap());
    let frozen = g.freeze();
    let moved = frozen.with_leaves(&[(id, &[3.0])]).unwrap();
    let j = slope::graph_jacobian(&moved, sq, &[id]).unwrap();
    assert_eq!(j, vec![vec![6.0]]);
    let j = slope::graph_jacobian(&moved, pw, &[id]).unwrap();
    assert!(close(j[0][0], 27.0 * (3.0_f64.ln() + 1.0)));
    let h = slope::graph_hessian(&moved, sq, &[id]).unwrap();
    assert_eq!(h, vec![vec![2.0]]);
}

/// A fresh graph per step starts from the buffers of the one dropped before it: after the
/// first step nothing grows, and the numbers are those of a graph made from nothing.
#[test]
fn a_fresh_graph_per_step_reuses_the_dropped_graphs_buffers() {
    slope::release_buffers();
    let x: Vec<f64> = (0..1000).map(|i| f64::from(i) / 100.0 - 5.0).collect();
    let step = || {
        let g = Graph::new();
        let t = g.vector(&x).requires_grad_();
        (t.powi(2) * t.tanh()).sum().backward().unwrap();
        let grad = t.grad().unwrap().into_vec();
        (g.memory_bytes(), grad)
    };
    let (first_bytes, first) = step();
    for _ in 0..5 {
        let (bytes, grad) = step();
        assert_eq!(bytes, first_bytes, "a graph made after a drop holds the dropped one's buffers");
        assert_eq!(grad, first, "stale numbers in a reused buffer never reach a result");
    }
    for (&v, &d) in x.iter().zip(&first) {
        let want = 2.0 * v * v.tanh() + v * v * (1.0 - v.tanh() * v.tanh());
        assert!(close(d, want), "d/dx x² tanh x at {v}: {d} vs {want}");
    }
    assert!(slope::release_buffers() >= first_bytes, "the pool held the last graph's buffers");
    assert_eq!(slope::release_buffers(), 0);
    let g = Graph::new();
    assert_eq!(g.memory_bytes(), 0, "after release a graph starts empty");
}

/// A graph rewound over longer values, then given shorter ones, reads only what it wrote.
#[test]
fn values_written_over_a_rewound_region_are_the_new_ones() {
    let mut g = Graph::new();
    let start = g.checkpoint();
    let a = g.vector(&[7.0; 64]).requires_grad_();
    let _ = (a * 3.0).exp();
    g.rewind(start).unwrap();
    let b = g.vector(&[1.0, 2.0]).requires_grad_();
    let c = g.linspace(0.0, 1.0, 3).unwrap();
    let y = b * 2.0;
    assert_eq!(y.value().as_slice(), &[2.0, 4.0]);
    assert_eq!(c.value().as_slice(), &[0.0, 0.5, 1.0]);
    let z = g.full(Shape::Vector(2), 0.25).unwrap();
    assert_eq!((y * z).sum().item().unwrap(), 1.5);
}

/// `grad_into` writes into the caller's buffers what `grad` returns, and stores nothing.
#[test]
fn grad_into_writes_what_grad_returns() {
    let g = Graph::new();
    let w = g.matrix(2, 3, &[0.5, -1.0, 2.0, 0.25, 1.5, -0.75]).unwrap().requires_grad_();
    let x = g.vector(&[1.0, -2.0, 0.5]).requires_grad_();
    let unused = g.scalar(4.0).requires_grad_();
    let y = w.matmul(x).tanh().sum();
    let want = slope::grad(y, &[w, x, unused]).unwrap();
    let (mut dw, mut dx, mut du) = (vec![f64::NAN; 6], vec![f64::NAN; 3], vec![f64::NAN; 1]);
    slope::grad_into(y, &[w, x, unused], &mut [&mut dw, &mut dx, &mut du]).unwrap();
    assert_eq!(dw, want[0].as_slice());
    assert_eq!(dx, want[1].as_slice());
    assert_eq!(du, [0.0], "an input the output does not reach gets zeros");
    assert!(w.grad().is_none() && x.grad().is_none());
    let err = slope::grad_into(y, &[w, x], &mut [&mut dw, &mut du]).unwrap_err();
    assert!(matches!(err, slope::Error::GradBuffers { .. }), "{err}");
    assert!(err.to_string().contains("[6, 3]") && err.to_string().contains("[6, 1]"), "{err}");
    let err = slope::grad_into(w.sum(), &[w], &mut []).unwrap_err();
    assert!(matches!(err, slope::Error::GradBuffers { .. }), "{err}");
}

/// `backward` on a one-element `[1]` tensor, as PyTorch allows, is `backward` on its element.
#[test]
fn backward_takes_a_one_element_vector() {
    let g = Graph::new();
    let x = g.vector(&[3.0]).requires_grad_();
    let y = x.powi(2);
    assert_eq!(y.shape(), Shape::Vector(1));
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[6.0]);
    let d = slope::grad(y, &[x]).unwrap();
    assert_eq!(d[0].as_slice(), &[6.0]);
    let two = g.vector(&[3.0, 4.0]).requires_grad_();
    assert!(matches!(two.powi(2).backward(), Err(slope::Error::NonScalarOutput { .. })));
}
