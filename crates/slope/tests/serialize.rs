//! Random graphs survive a trip through JSON: the same values and the same gradients, bit
//! for bit.

use proptest::prelude::*;
use slope::prelude::*;
use slope::{Domain, FrozenGraph, Op};

fn fits(t: &Tensor<'_>, d: &Domain) -> bool {
    t.to_vec().iter().all(|&x| x > d.support.0 + 1e-2 && x < d.support.1 - 1e-2)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trips_keep_values_and_gradients(
        values in proptest::collection::vec(-2.0..2.0f64, 6),
        steps in proptest::collection::vec((0..Op::COUNT, any::<usize>(), any::<usize>()), 1..30),
    ) {
        let g = Graph::new();
        let leaves = vec![g.vector(&values[..3]).requires_grad_(), g.scalar(values[3]).requires_grad_(), g.vector(&values[4..]).requires_grad_()];
        let mut nodes = leaves.clone();
        for &(op, a, b) in &steps {
            let op = Op::all().nth(op).unwrap_or(Op::Unary(slope::UnaryOp::Sin));
            let (a, b) = (nodes[a % nodes.len()], nodes[b % nodes.len()]);
            let ok = op.domains().iter().zip([a, b]).take(op.arity()).all(|(d, t)| d.constant || fits(&t, d));
            if let (true, Ok(t)) = (ok, a.try_op(op, &[b]).or_else(|_| a.try_op(op, &[]))) {
                if t.to_vec().iter().all(|v| v.is_finite()) {
                    nodes.push(t);
                }
            }
        }
        let last = *nodes.last().unwrap_or(&leaves[0]);
        let out = if last.shape().is_scalar() { last } else { last.sum() };
        let ids: Vec<_> = leaves.iter().map(|t| t.id()).collect();
        let out_id = out.id();
        let frozen = g.freeze();
        let json = frozen.to_json();
        let back = FrozenGraph::from_json(&json).unwrap();
        prop_assert_eq!(back.arena().all_values().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        frozen.arena().all_values().map(|v| v.to_bits()).collect::<Vec<_>>());
        let remap = |id: slope::NodeId| back.node_id(id.index()).unwrap();
        let mut adj = slope::Adjoints::new();
        let before = slope::graph_vjp(&frozen, out_id, &[1.0], &ids, &mut adj).unwrap();
        let after = slope::graph_vjp(&back, remap(out_id), &[1.0], &ids.iter().map(|&i| remap(i)).collect::<Vec<_>>(), &mut adj).unwrap();
        for (a, b) in before.iter().zip(&after) {
            prop_assert_eq!(a.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        prop_assert_eq!(back.to_json(), json);
    }
}
