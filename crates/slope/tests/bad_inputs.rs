//! Malformed input across the library, the formula language, the command line and
//! deserialization: each gets its error kind, and the graph or process stays usable after.

use std::process::Command;

use slope::expr::{ErrorKind, Formula, Point};
use slope::prelude::*;
use slope::{Error, FrozenGraph, GraphError, Op, Shape, ShapeError, StructuralOp};

/// After a failure, the graph still records and differentiates correctly.
fn still_usable(g: &Graph) {
    let before = g.len();
    let x = g.scalar(3.0).requires_grad_();
    let y = x * x;
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(6.0));
    assert_eq!(g.len(), before + 2);
}

#[test]
fn library_api() {
    let g = Graph::new();
    let v3 = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let v2 = g.vector(&[1.0, 2.0]);
    let m = g.matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let s = g.scalar(1.0);
    let nodes = g.len();
    // 1-6: shapes
    assert!(matches!(v3.try_add(v2), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(v3.try_mul(m), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(m.try_matmul(v3), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(v3.try_dot(v2), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(g.scalar(1.0).try_matmul(v3), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(s.try_slice(0, 1), Err(GraphError::SliceRange { .. })));
    assert!(matches!(m.try_slice(1, 3), Err(GraphError::SliceRange { .. })));
    // 7-9: slices and constructors
    assert!(matches!(v3.try_slice(2, 1), Err(GraphError::SliceRange { .. })));
    assert!(matches!(v3.try_slice(0, 4), Err(GraphError::SliceRange { .. })));
    assert!(matches!(g.matrix(3, 3, &[1.0; 8]), Err(GraphError::DataLength { expected: 9, got: 8, .. })));
    // 10-12: sizes refused before allocating
    assert!(matches!(g.zeros(Shape::Matrix(usize::MAX, 2)), Err(GraphError::CapacityExceeded { .. })));
    assert!(matches!(g.full(Shape::Vector(1 << 40), 1.0), Err(GraphError::CapacityExceeded { .. })));
    assert!(matches!(g.linspace(0.0, 1.0, usize::MAX), Err(GraphError::CapacityExceeded { .. })));
    // 13-16: backward and grad
    assert!(matches!(v3.backward(), Err(Error::NonScalarOutput { .. })));
    assert!(matches!((v3 * 2.0).backward_with(&[1.0]), Err(Error::SeedShape { .. })));
    assert!(matches!(v2.sum().backward(), Err(Error::Graph(GraphError::NotTracked { .. }))));
    assert!(matches!(slope::grad(v3.sum(), &[v2]), Err(Error::Graph(GraphError::NotTracked { .. }))));
    // 17-18: flags
    assert!(matches!((v3 * 2.0).set_requires_grad(false), Err(GraphError::NotALeaf { .. })));
    assert!(matches!(v2.retain_grad(), Err(GraphError::NotTracked { .. })));
    // 19: item of a vector
    assert!(matches!(v3.item(), Err(GraphError::NeedsScalar { .. })));
    // 20-21: foreign handles and ids
    let other = Graph::new();
    let w = other.scalar(1.0).requires_grad_();
    assert!(matches!(v3.try_mul(w), Err(GraphError::ForeignNode { .. })));
    let frozen = other.freeze();
    let mut adjoints = slope::Adjoints::new();
    assert!(matches!(
        slope::graph_vjp(&frozen, v3.id(), &[1.0], &[], &mut adjoints),
        Err(Error::Graph(GraphError::ForeignNode { .. }))
    ));
    // 22-23: forward helpers
    assert!(matches!(
        slope::dual::jvp(|x| x.to_vec(), &[1.0, 2.0], &[1.0]),
        Err(slope::dual::Error::InputLength { .. })
    ));
    assert!(slope::graph::forward::jvp_tensors(v3.sum(), &[(v2, &[1.0, 1.0])]).is_err());
    // nothing was recorded by the failures (the `* 2.0` and `.sum()` operands aside)
    assert!(g.len() <= nodes + 8, "failed operations left nodes behind");
    still_usable(&g);
}

/// The ops that record a constant beside the op (a target shape, indices, a mask, a pair
/// to select from) fail whole: each error leaves exactly the nodes there were.
#[test]
fn compound_recordings_fail_whole() {
    let g = Graph::new();
    let v3 = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap().requires_grad_();
    let six = g.try_tensor(Shape::of(&[1; 6]), &[1.0]).unwrap();
    let t = g.try_tensor(Shape::of(&[2, 1, 3]), &[0.0; 6]).unwrap();
    let (ones3, ones2, halves) = (g.vector(&[1.0; 3]), g.vector(&[1.0; 2]), g.vector(&[0.5; 3]));
    let nodes = g.len();
    let err = v3.try_reshape(Shape::Matrix(2, 2)).unwrap_err();
    assert!(matches!(err, GraphError::Reshape { target: Shape::Matrix(2, 2), .. }), "{err}");
    assert!(err.to_string().contains("must hold its 3 element(s)"), "{err}");
    assert!(matches!(m.try_reshape(Shape::Scalar), Err(GraphError::Reshape { target: Shape::Scalar, .. })));
    assert!(matches!(m.try_reshape(Shape::Vector(5)), Err(GraphError::Reshape { .. })));
    assert!(matches!(Tensor::try_cat(&[v3, m], 0), Err(GraphError::ShapeMismatch { op: "cat", .. })));
    assert!(matches!(Tensor::try_cat(&[m, m, v3], 1), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(Tensor::try_cat(&[], 0), Err(GraphError::Arity { .. })));
    assert!(matches!(Tensor::try_cat(&[m], 2), Err(GraphError::Dim { .. })));
    assert!(matches!(Tensor::try_stack(&[v3, m], 0), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(Tensor::try_stack(&[m, m], 3), Err(GraphError::Dim { .. })));
    assert!(matches!(Tensor::try_stack(&[six, six], 0), Err(GraphError::BadShape { op: "unsqueeze", .. })));
    assert!(matches!(m.try_permute(&[0, 0]), Err(GraphError::Permutation { .. })));
    assert!(matches!(m.try_permute(&[1, 0, 2]), Err(GraphError::Permutation { .. })));
    assert!(matches!(six.try_transpose(0, 6), Err(GraphError::Dim { .. })));
    assert!(matches!(
        t.try_op(Op::Structural(StructuralOp::Transpose), &[]),
        Err(GraphError::RankAbove { op: "t", .. })
    ));
    assert!(matches!(Shape::new(&[1; 7]), Err(ShapeError::Rank(7))));
    assert!(matches!(Tensor::try_stack(&[v3, v3], 2), Err(GraphError::Dim { .. })));
    let err = m.try_index_select(&[0, 2]).unwrap_err();
    assert_eq!(err, GraphError::RowIndex { index: 2.0, rows: 2 });
    assert!(matches!(m.try_where_(ones2, m), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(v3.try_where_(ones3, ones2), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(v3.try_where_(ones2, v3), Err(GraphError::ShapeMismatch { .. })));
    assert!(matches!(v3.try_where_(halves, v3), Err(GraphError::MaskValue { value: 0.5 })));
    assert!(matches!(m.try_sum_to_size(Shape::Vector(2)), Err(GraphError::ShapeMismatch { .. })));
    assert_eq!(g.len(), nodes, "a failed call left nodes behind");
    // a mask recorded directly is checked too
    let mask = g.vector(&[1.0, 0.5, 0.0]);
    let err = v3.try_op(Op::Structural(StructuralOp::Where), &[v3, mask]).unwrap_err();
    assert_eq!(err, GraphError::MaskValue { value: 0.5 });
    still_usable(&g);
}

#[test]
fn ieee_values_are_reported_not_passed() {
    let g = Graph::new();
    let x = g.scalar(-1.0).requires_grad_();
    let y = x.sqrt();
    assert!(y.item().unwrap().is_nan());
    y.backward().unwrap();
    assert!(x.grad().unwrap().item().unwrap().is_nan());
    // 24: the checker reports NaN as a failure, never as a pass
    let (xid, yid) = (x.id(), y.id());
    let frozen = g.freeze();
    let report = slope::check::check_graph(&frozen, &[xid], yid, &Default::default()).unwrap();
    assert!(!report.passed(), "{report}");
}

#[test]
fn formula_language() {
    let cases: [(&str, &str, ErrorKind); 8] = [
        ("x +", "x=1", ErrorKind::Syntax),                // 25
        ("x $ 2", "x=1", ErrorKind::Syntax),              // 26
        ("2 ** ** 3", "", ErrorKind::Syntax),             // 27
        ("cosh(x, x)", "x=1", ErrorKind::Arity),          // 28
        ("tanhh(x)", "x=1", ErrorKind::UnknownFunction),  // 29
        ("x * z", "x=1", ErrorKind::UnknownVariable),     // 30
        ("x", "x=1,y=2", ErrorKind::UnknownVariable),     // 31
        ("dot(x, y)", "x=[1,2],y=[1]", ErrorKind::Shape), // 32
    ];
    let g = Graph::new();
    for (src, at, kind) in cases {
        let err =
            Formula::parse(src).and_then(|f| f.record(&g, &Point::parse(at).unwrap()).map(|_| ())).expect_err(src);
        assert_eq!(err.kind, kind, "{src}: {err}");
        assert!(err.column >= 1 && err.to_string().contains('^'), "{src}: {err}");
    }
    // 33-35: points
    for bad in ["x=[1,,2]", "x=linspace(1,2,3.5)", "x=1;y=2"] {
        assert_eq!(Point::parse(bad).unwrap_err().kind, ErrorKind::Point, "{bad}");
    }
    still_usable(&g);
}

#[test]
fn deserialization() {
    let cases = [
        ("", "not a graph file"),                                                       // 36
        ("[1, 2]", "not a graph file"),                                                 // 37
        (r#"{"version":2,"nodes":[{"shape":[2],"values":[1.0]}]}"#, "holds 2"),         // 38
        (r#"{"version":2,"nodes":[{"op":"exp","inputs":[0],"shape":[]}]}"#, "earlier"), // 39
        (r#"{"version":2,"nodes":[{"shape":[],"values":[1.0]},{"op":"exp","inputs":[0],"shape":[]}]}"#, "leaf"), // 40
        (
            r#"{"version":2,"nodes":[{"shape":[3],"values":[1,2,3],"requires_grad":true},{"op":"slice","inputs":[0],"shape":[1],"requires_grad":true,"attrs":[{"shape":[2],"values":[7,1]}]}]}"#,
            "slice index",
        ), // 41
        (r#"{"version":2,"nodes":[{"shape":[],"values":[null]}]}"#, "not a graph file"), // 42
        (r#"{"version":2,"nodes":[{"shape":[99999999999],"values":[]}]}"#, "holds"),    // 43
    ];
    for (json, needle) in cases {
        let err = FrozenGraph::from_json(json).expect_err(json);
        assert!(matches!(err, GraphError::Malformed { .. }), "{json}: {err}");
        assert!(err.to_string().contains(needle), "{json}: {err}");
    }
    // a valid file still loads afterwards
    let ok = r#"{"version":2,"nodes":[{"shape":[],"values":[2.0],"requires_grad":true},{"op":"exp","inputs":[0],"shape":[],"requires_grad":true}]}"#;
    let g = FrozenGraph::from_json(ok).unwrap();
    assert_eq!(g.value(g.node_id(1).unwrap()).unwrap().item(), Some(2.0_f64.exp()));
}

#[test]
fn command_line() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_slope")).args(args).output().unwrap();
    for args in [
        &["grad", "x**", "--at", "x=1"][..],                                       // 44
        &["grad", "x", "--at", "x="],                                              // 45
        &["grad", "x", "--mode", "sideways", "--at", "x=1"],                       // 46
        &["plot", "x", "--var", "x", "--range", "a,b", "--out", "/tmp/never.svg"], // 47
        &["plot", "x", "--var", "x", "--range", "0,1", "--points", "1", "--out", "/tmp/never.svg"], // 48
        &["plot", "x", "--var", "x", "--range", "0,1", "--out", "/nonexistent-dir/x.svg"], // 49
        &["dot", "x +", "--at", "x=1"],                                            // 50
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.trim().is_empty(), "{args:?}: {err}");
    }
    // the process, run again, works
    assert!(run(&["grad", "x**2", "--at", "x=3"]).status.success());
}

#[test]
fn slice_ranges_recorded_directly_are_checked() {
    use slope::{Op, StructuralOp};
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0, 3.0]).requires_grad_();
    let slice = Op::Structural(StructuralOp::Slice);
    for (range, want) in [
        ([-1.0, 1.0], GraphError::SliceIndex { index: -1.0, len: 3 }),
        ([0.0, 1.5], GraphError::SliceIndex { index: 1.5, len: 3 }),
        ([0.0, 4.0], GraphError::SliceIndex { index: 4.0, len: 3 }),
        ([2.0, 2.0], GraphError::SliceRange { start: 2, end: 4, shape: Shape::Vector(3) }),
    ] {
        let nodes = g.len();
        assert_eq!(g.try_record_with(slice, &[x], &[(&range, Shape::Vector(2))]).unwrap_err(), want);
        assert_eq!(g.len(), nodes, "a refused slice records nothing");
    }
    assert!(matches!(
        g.try_record_with(slice, &[x], &[(&[0.0], Shape::Vector(1))]),
        Err(GraphError::ShapeMismatch { .. })
    ));
    assert_eq!(x.try_op(slice, &[x]).unwrap_err(), GraphError::AttributeRequiresGrad { op: "slice" });
    assert_eq!(
        x.try_op(slice, &[g.vector(&[1.0, 1.0])]).unwrap().to_vec(),
        vec![2.0],
        "a constant tensor gives its values"
    );
    assert!(matches!(
        g.try_record_with(slice, &[x], &[(&[0.0; 9], Shape::Vector(9))]),
        Err(GraphError::Attributes { values: 9, .. })
    ));
    assert_eq!(g.try_record_with(slice, &[x], &[(&[2.0, 1.0], Shape::Vector(2))]).unwrap().to_vec(), vec![3.0]);
}

/// The index rows of `gather` and `scatter_add` recorded directly (not through the
/// `Tensor` methods, which turn the dimension first) are checked as the methods' are.
#[test]
fn gather_and_scatter_add_rows_check_their_index() {
    use slope::{Op, StructuralOp};
    let g = Graph::new();
    let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap().requires_grad_();
    let gather = Op::Structural(StructuralOp::Gather);
    let scatter = Op::Structural(StructuralOp::ScatterAdd);
    let (row, scalar) = (g.vector(&[0.0, 1.0]), g.scalar(0.0));
    let tall = g.matrix(3, 1, &[0.0; 3]).unwrap();
    let s = g.scalar(1.0).requires_grad_();
    let nodes = g.len();
    assert!(matches!(m.try_op(gather, &[row]), Err(GraphError::ShapeMismatch { .. })), "another rank");
    assert!(matches!(s.try_op(gather, &[scalar]), Err(GraphError::ShapeMismatch { .. })), "rank 0");
    assert!(matches!(m.try_op(gather, &[tall]), Err(GraphError::ShapeMismatch { .. })), "3 index rows, 2 rows");
    assert!(matches!(m.try_op(scatter, &[m, row]), Err(GraphError::ShapeMismatch { .. })), "src and index differ");
    assert!(matches!(m.try_op(scatter, &[tall, tall]), Err(GraphError::ShapeMismatch { .. })), "3 index rows, 2 rows");
    assert_eq!(g.len(), nodes, "a refused record leaves nothing");
    let big = g.matrix(1, 1, &[3.0]).unwrap();
    assert_eq!(m.try_op(gather, &[big]).unwrap_err(), GraphError::GatherIndex { op: "gather", index: 3.0, size: 3 });
    let ok = m.try_op(gather, &[g.matrix(1, 2, &[2.0, 0.0]).unwrap()]).unwrap();
    assert_eq!(ok.to_vec(), vec![3.0, 1.0]);
}
