//! Forward mode over a recorded graph: Jacobian-vector products by evaluating the op table
//! on dual numbers.
//!
//! The sweep re-evaluates every node the seeds reach with [`op::eval_into`](crate::op::eval_into)
//! on [`Dual<f64>`], so its derivatives come from the primals and the dual rules alone. It
//! never calls a reverse rule, which is what lets forward and reverse mode check each other.

use slope_dual::Dual;

use crate::{Arena, Error, GraphScalar, NodeId, NodeSlots, Tensor, Value};

/// Re-evaluates the graph at scalar type `S`: seeded leaves take the given values, every
/// other leaf its recorded value as a constant, and every node downstream of a seed is
/// recomputed from the op table. Returns the values of `outputs`.
///
/// With `S = Dual<f64>` this is a JVP; with `S = HyperDual<f64>`, second derivatives;
/// with `S = f64` and moved leaves, the graph at another point (finite differences).
///
/// Each seed must be a leaf that requires grad, with one value per element of its shape.
pub fn evaluate<S: GraphScalar>(
    arena: &Arena,
    seeds: &[(NodeId, Vec<S>)],
    outputs: &[NodeId],
) -> Result<Vec<Vec<S>>, Error> {
    let outputs = outputs.iter().map(|&id| arena.resolve(id)).collect::<Result<Vec<_>, _>>()?;
    let Some(&last) = outputs.iter().max() else { return Ok(Vec::new()) };
    let mut values: Vec<Option<Vec<S>>> = vec![None; last as usize + 1];
    for (id, v) in seeds {
        let leaf = arena.resolve(*id)?;
        let shape = arena.shape(leaf);
        if let Some(op) = arena.op(leaf) {
            return Err(Error::NotALeaf { what: "a seed of a forward sweep", grad_fn: op.grad_fn_name() });
        }
        if !arena.requires_grad(leaf) {
            return Err(Error::NotTracked { what: "a seed of a forward sweep" });
        }
        if v.len() != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
        }
        if let Some(slot) = values.get_mut(leaf as usize) {
            *slot = Some(v.clone());
        }
    }
    let constant = |i: u32| -> Vec<S> { arena.value(i).iter().map(|&x| S::from(x).unwrap_or_else(S::nan)).collect() };
    let mut live = vec![false; values.len()];
    for (slot, value) in live.iter_mut().zip(&values) {
        *slot = value.is_some();
    }
    let mut out = Vec::new();
    for node in 0..=last {
        if arena.op(node).is_none() {
            continue;
        }
        let inputs = arena.inputs(node);
        if inputs.iter().all(|&i| !live[i as usize]) {
            continue;
        }
        for &i in inputs {
            if values[i as usize].is_none() {
                values[i as usize] = Some(constant(i));
            }
        }
        out.clear();
        arena.evaluate_node(node, |i| values[i as usize].as_deref().unwrap_or(&[]), &mut out);
        values[node as usize] = Some(core::mem::take(&mut out));
        live[node as usize] = true;
    }
    Ok(outputs.iter().map(|&o| values[o as usize].clone().unwrap_or_else(|| constant(o))).collect())
}

/// Like [`evaluate`], but returns every node's value, laid out as the arena lays out
/// values: what a backward sweep at scalar type `S` reads (forward-over-reverse).
pub fn evaluate_all<S: GraphScalar>(arena: &Arena, seeds: &[(NodeId, Vec<S>)]) -> Result<NodeSlots<S>, Error> {
    let mut slots = NodeSlots::new();
    let Some(last) = arena.len().checked_sub(1) else { return Ok(slots) };
    slots.reset(arena, 0, last as u32, S::zero());
    for node in 0..arena.len() as u32 {
        if arena.op(node).is_none() {
            let x = arena.value(node).iter().map(|&x| S::from(x).unwrap_or_else(S::nan));
            if let Some(slot) = slots.get_mut(arena, node) {
                slot.iter_mut().zip(x).for_each(|(s, x)| *s = x);
            }
        }
    }
    for (id, v) in seeds {
        let leaf = arena.resolve(*id)?;
        let shape = arena.shape(leaf);
        if !arena.is_leaf(leaf) || !arena.requires_grad(leaf) {
            return Err(Error::NotTracked { what: "a seed of a forward sweep (a leaf that requires grad)" });
        }
        if v.len() != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
        }
        if let Some(slot) = slots.get_mut(arena, leaf) {
            slot.clone_from_slice(v);
        }
    }
    let mut out = Vec::new();
    for node in 0..arena.len() as u32 {
        if arena.op(node).is_none() {
            continue;
        }
        out.clear();
        arena.evaluate_node(node, |i| slots.get(arena, i).unwrap_or(&[]), &mut out);
        if let Some(slot) = slots.get_mut(arena, node) {
            slot.clone_from_slice(&out);
        }
    }
    Ok(slots)
}

/// Tangents of `outputs` when each seeded leaf moves along its tangent: `J · v`.
///
/// Each seed is a leaf that requires grad and a tangent of its shape; leaves not seeded
/// have tangent zero. Only nodes downstream of a seed are re-evaluated.
pub fn jvp(arena: &Arena, seeds: &[(NodeId, &[f64])], outputs: &[NodeId]) -> Result<Vec<Value>, Error> {
    let mut duals = Vec::with_capacity(seeds.len());
    for &(id, v) in seeds {
        let leaf = arena.resolve(id)?;
        let x = arena.value(leaf);
        if v.len() != x.len() {
            let shape = arena.shape(leaf);
            return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
        }
        duals.push((id, x.iter().zip(v).map(|(&x, &t)| Dual::new(x, t)).collect()));
    }
    let results = evaluate::<Dual<f64>>(arena, &duals, outputs)?;
    Ok(outputs
        .iter()
        .zip(results)
        .map(|(&o, r)| {
            let shape = arena.shape(o.index());
            Value::from_parts(shape, r.iter().map(|d| d.eps).collect())
        })
        .collect())
}

/// [`jvp`] on tensors of one graph: the tangent of `output` when each seeded tensor moves
/// along its tangent.
///
/// ```
/// use slope_graph::{forward, Graph};
///
/// let g = Graph::new();
/// let x = g.vector(&[1.0, 2.0]).requires_grad_();
/// let y = (x * x).sum();
/// let dy = forward::jvp_tensors(y, &[(x, &[1.0, 0.5])]).unwrap();
/// assert_eq!(dy.item(), Some(2.0 * 1.0 + 4.0 * 0.5));
/// ```
pub fn jvp_tensors<'g>(output: Tensor<'g>, seeds: &[(Tensor<'g>, &[f64])]) -> Result<Value, Error> {
    let graph = output.graph();
    let mut ids = Vec::with_capacity(seeds.len());
    for (t, v) in seeds {
        let index = graph.check(t)?;
        ids.push((graph.arena().node_id(index), *v));
    }
    let arena = graph.arena();
    let mut values = jvp(&arena, &ids, &[output.id()])?;
    Ok(values.pop().unwrap_or_else(|| Value::scalar(0.0)))
}

#[cfg(test)]
mod tests {
    use crate::Graph;

    #[test]
    fn seeds_must_be_tracked_leaves_of_the_right_shape() {
        let g = Graph::new();
        let x = g.vector(&[1.0, 2.0]).requires_grad_();
        let c = g.vector(&[1.0, 2.0]);
        let y = (x * c).sum();
        assert!(super::jvp_tensors(y, &[(x, &[1.0])]).is_err());
        assert!(super::jvp_tensors(y, &[(c, &[1.0, 1.0])]).is_err());
        assert!(super::jvp_tensors(y, &[(x * 2.0, &[1.0, 1.0])]).is_err());
        assert_eq!(super::jvp_tensors(y, &[(x, &[1.0, 1.0])]).unwrap().item(), Some(3.0));
        assert_eq!(super::jvp_tensors(y, &[]).unwrap().item(), Some(0.0));
    }
}
