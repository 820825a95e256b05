//! Forward mode (the op table evaluated on duals) against reverse mode (the VJPs) on every
//! op of the table: full Jacobians, for scalar, vector and matrix shapes and broadcasting.
//! The two are computed independently, so they must agree to rounding.

use slope::graph::forward;
use slope::prelude::*;
use slope::{BinaryOp, Domain, Op, StructuralOp};

fn sample(d: &Domain, n: usize, offset: f64) -> Vec<f64> {
    if d.integer {
        let ints: Vec<f64> = (d.low.ceil() as i64..=d.high.floor() as i64).map(|k| k as f64).collect();
        return (0..n).map(|i| ints[i % ints.len()]).collect();
    }
    (0..n).map(|i| d.low + (d.high - d.low) * ((i as f64 + offset) / n as f64)).collect()
}

/// Input shapes and values to try for an op.
fn cases(op: Op) -> Vec<Vec<(Shape, Vec<f64>)>> {
    let d = op.domains();
    match op {
        Op::Unary(_) => vec![
            vec![(Shape::Scalar, sample(&d[0], 1, 0.3))],
            vec![(Shape::Vector(4), sample(&d[0], 4, 0.3))],
            vec![(Shape::Matrix(2, 3), sample(&d[0], 6, 0.3))],
        ],
        Op::Binary(BinaryOp::PowI | BinaryOp::PowF) => vec![
            vec![(Shape::Vector(4), sample(&d[0], 4, 0.3)), (Shape::Scalar, sample(&d[1], 1, 0.6))],
            vec![(Shape::Scalar, sample(&d[0], 1, 0.3)), (Shape::Scalar, sample(&d[1], 1, 0.9))],
        ],
        Op::Binary(_) => vec![
            vec![(Shape::Vector(4), sample(&d[0], 4, 0.3)), (Shape::Vector(4), sample(&d[1], 4, 0.6))],
            vec![(Shape::Scalar, sample(&d[0], 1, 0.3)), (Shape::Vector(3), sample(&d[1], 3, 0.6))],
            vec![(Shape::Matrix(2, 2), sample(&d[0], 4, 0.3)), (Shape::Scalar, sample(&d[1], 1, 0.6))],
        ],
        Op::Structural(s) => {
            let v = |n, o| sample(&d[0], n, o);
            match s {
                StructuralOp::Sum | StructuralOp::Mean | StructuralOp::Transpose => vec![
                    vec![(Shape::Vector(5), v(5, 0.3))],
                    vec![(Shape::Matrix(2, 3), v(6, 0.3))],
                    vec![(Shape::Scalar, v(1, 0.3))],
                ],
                StructuralOp::Dot => vec![vec![(Shape::Vector(4), v(4, 0.3)), (Shape::Vector(4), v(4, 0.7))]],
                StructuralOp::Slice => {
                    vec![vec![(Shape::Vector(4), v(4, 0.3)), (Shape::Vector(3), vec![2.0, 0.0, 2.0])]]
                }
                StructuralOp::Matmul => vec![
                    vec![(Shape::Matrix(2, 3), v(6, 0.3)), (Shape::Matrix(3, 2), v(6, 0.7))],
                    vec![(Shape::Matrix(2, 3), v(6, 0.3)), (Shape::Vector(3), v(3, 0.7))],
                    vec![(Shape::Vector(2), v(2, 0.3)), (Shape::Matrix(2, 3), v(6, 0.7))],
                    vec![(Shape::Vector(3), v(3, 0.3)), (Shape::Vector(3), v(3, 0.7))],
                ],
            }
        }
    }
}

fn unit(n: usize, i: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    v[i] = 1.0;
    v
}

#[test]
fn forward_and_reverse_jacobians_agree_on_every_op() {
    let mut checked = 0;
    for op in Op::all() {
        for inputs in cases(op) {
            let g = Graph::new();
            let tensors: Vec<Tensor<'_>> = inputs
                .iter()
                .enumerate()
                .map(|(k, (shape, data))| {
                    let t = g.try_tensor(*shape, data).unwrap();
                    if op.differentiates(k) {
                        t.requires_grad_()
                    } else {
                        t
                    }
                })
                .collect();
            let y = tensors[0].try_op(op, &tensors[1..]).unwrap();
            let m = y.shape().len();
            for (k, (x, (shape, _))) in tensors.iter().zip(&inputs).enumerate() {
                if !op.differentiates(k) {
                    continue;
                }
                for e in 0..shape.len() {
                    let seed = unit(shape.len(), e);
                    let column = forward::jvp_tensors(y, &[(*x, &seed)]).unwrap();
                    for o in 0..m {
                        let row = slope::grad_with(y, &unit(m, o), &[*x]).unwrap();
                        let (fwd, rev) = (column.as_slice()[o], row[0].as_slice()[e]);
                        let scale = fwd.abs().max(rev.abs()).max(1.0);
                        assert!(
                            (fwd - rev).abs() <= 1e-12 * scale,
                            "{} with inputs {:?}: J[{o}][{k}:{e}] forward {fwd} vs reverse {rev}",
                            op.name(),
                            inputs.iter().map(|i| i.0).collect::<Vec<_>>()
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} Jacobian entries compared");
}
