//! Forward mode (the op table evaluated on duals) against reverse mode (the VJPs) on every
//! op of the table: full Jacobians, for scalar, vector and matrix shapes and broadcasting.
//! The two are computed independently, so they must agree to rounding.

use slope::graph::forward;
use slope::prelude::*;
use slope::{Domain, Op};

fn sample(d: &Domain, n: usize, offset: f64) -> Vec<f64> {
    if d.integer {
        let ints: Vec<f64> = (d.low.ceil() as i64..=d.high.floor() as i64).map(|k| k as f64).collect();
        return (0..n).map(|i| ints[i % ints.len()]).collect();
    }
    (0..n).map(|i| d.at((i as f64 + offset) / n as f64)).collect()
}

/// Input shapes and values to try for an op: the table's shape cases, values spread over
/// each input's domain.
fn cases(op: Op) -> Vec<Vec<(Shape, Vec<f64>)>> {
    op.shape_cases()
        .iter()
        .map(|shapes| {
            shapes
                .iter()
                .zip(op.domains())
                .enumerate()
                .map(|(k, (&shape, d))| (shape, sample(d, shape.len(), 0.3 + 0.3 * k as f64)))
                .collect()
        })
        .collect()
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
