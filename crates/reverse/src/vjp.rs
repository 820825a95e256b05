//! The reverse rule of every op: an exhaustive match over the op table.
//!
//! Elementwise ops take their local partials from the primal evaluated on duals
//! (`UnaryOp::partial`, `BinaryOp::partial_left/right`), so their derivatives are the rules
//! of `slope_dual::rules` and nothing here repeats them. Structural ops (reductions,
//! products, transposes) have hand-written VJPs, independent of their forward evaluation,
//! so forward mode and reverse mode check each other on them.

use nalgebra::{DMatrixView, DMatrixViewMut};
use slope_graph::op::matmul_dims;
use slope_graph::{Arena, BinaryOp, Op, Shape, StructuralOp};

/// Adds the contribution of node `node`, whose adjoint is `g`, to the adjoints of its
/// inputs in `lower` (the adjoint buffer below the node's own value).
pub(crate) fn accumulate(arena: &Arena, node: u32, op: Op, g: &[f64], lower: &mut [f64]) {
    let inputs = arena.inputs(node);
    let wants = |k: usize| op.differentiates(k) && arena.requires_grad(inputs[k]);
    match op {
        Op::Unary(u) => {
            let a = inputs[0];
            if wants(0) {
                let x = arena.value(a);
                let adj = &mut lower[arena.value_range(a)];
                for ((adj, &x), &g) in adj.iter_mut().zip(x).zip(g) {
                    *adj += g * u.partial(x);
                }
            }
        }
        Op::Binary(b) => {
            for side in 0..2 {
                if wants(side) {
                    binary_side(arena, b, inputs, side, g, lower);
                }
            }
        }
        Op::Structural(s) => structural(arena, s, inputs, &wants, g, lower),
    }
}

fn binary_side(arena: &Arena, op: BinaryOp, inputs: &[u32], side: usize, g: &[f64], lower: &mut [f64]) {
    let (a, b) = (arena.value(inputs[0]), arena.value(inputs[1]));
    let pick = |v: &[f64], k: usize| if v.len() == 1 { v[0] } else { v[k] };
    let partial = |k: usize| {
        let (x, y) = (pick(a, k), pick(b, k));
        if side == 0 {
            op.partial_left(x, y)
        } else {
            op.partial_right(x, y)
        }
    };
    let target = inputs[side];
    let range = arena.value_range(target);
    let adj = &mut lower[range];
    if adj.len() == 1 && g.len() != 1 {
        // A scalar broadcast against a tensor receives the sum of the contributions.
        adj[0] += g.iter().enumerate().map(|(k, &g)| g * partial(k)).sum::<f64>();
    } else {
        for (k, (adj, &g)) in adj.iter_mut().zip(g).enumerate() {
            *adj += g * partial(k);
        }
    }
}

fn structural(
    arena: &Arena,
    op: StructuralOp,
    inputs: &[u32],
    wants: &dyn Fn(usize) -> bool,
    g: &[f64],
    lower: &mut [f64],
) {
    let a = inputs[0];
    match op {
        StructuralOp::Sum => {
            if wants(0) {
                lower[arena.value_range(a)].iter_mut().for_each(|adj| *adj += g[0]);
            }
        }
        StructuralOp::Mean => {
            if wants(0) {
                let adj = &mut lower[arena.value_range(a)];
                let share = g[0] / adj.len() as f64;
                adj.iter_mut().for_each(|adj| *adj += share);
            }
        }
        StructuralOp::Dot => {
            for side in 0..2 {
                if wants(side) {
                    let other = arena.value(inputs[1 - side]);
                    let adj = &mut lower[arena.value_range(inputs[side])];
                    adj.iter_mut().zip(other).for_each(|(adj, &o)| *adj += g[0] * o);
                }
            }
        }
        StructuralOp::Transpose => {
            if wants(0) {
                let adj = &mut lower[arena.value_range(a)];
                match arena.shape(a) {
                    Shape::Matrix(r, c) => {
                        for i in 0..r {
                            for j in 0..c {
                                adj[i * c + j] += g[j * r + i];
                            }
                        }
                    }
                    _ => adj.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g),
                }
            }
        }
        StructuralOp::Matmul => {
            let b = inputs[1];
            let Ok((m, k, n, _)) = matmul_dims(arena.shape(a), arena.shape(b)) else {
                unreachable!("a recorded matmul has compatible shapes")
            };
            // Row-major data read as column-major is the transpose, so with C = A B:
            // dA^T = B G^T  and  dB^T = G^T A, written into the row-major adjoints.
            let g_t = DMatrixView::from_slice(g, n, m);
            if wants(0) {
                let b_t = DMatrixView::from_slice(arena.value(b), n, k);
                let mut da_t = DMatrixViewMut::from_slice(&mut lower[arena.value_range(a)], k, m);
                da_t.gemm_tr(1.0, &b_t, &g_t, 1.0);
            }
            if wants(1) {
                let a_t = DMatrixView::from_slice(arena.value(a), k, m);
                let a_rows = a_t.transpose();
                let mut db_t = DMatrixViewMut::from_slice(&mut lower[arena.value_range(b)], n, k);
                db_t.gemm(1.0, &g_t, &a_rows, 1.0);
            }
        }
    }
}
