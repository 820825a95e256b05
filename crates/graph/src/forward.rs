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
    let slots = replay(arena, seeds, last, Some(&outputs))?;
    Ok(outputs.iter().map(|&o| slots.get(arena, o).map(<[S]>::to_vec).unwrap_or_default()).collect())
}

/// Like [`evaluate`], but returns every node's value, laid out as the arena lays out
/// values: what a backward sweep at scalar type `S` reads (forward-over-reverse).
pub fn evaluate_all<S: GraphScalar>(arena: &Arena, seeds: &[(NodeId, Vec<S>)]) -> Result<NodeSlots<S>, Error> {
    match arena.len().checked_sub(1) {
        Some(last) => replay(arena, seeds, last as u32, None),
        None => Ok(NodeSlots::new()),
    }
}

/// The one evaluator of a graph at scalar type `S`, nodes `0..=last`: every node starts
/// from its recorded value as a constant, seeded leaves take their seeds, and every node
/// downstream of a seed is evaluated by [`Arena::evaluate_node`]. Refused if a node that
/// `outputs` depend on (every node, for `None`) is re-evaluated from a leaf set in place
/// after the node was recorded.
fn replay<S: GraphScalar>(
    arena: &Arena,
    seeds: &[(NodeId, Vec<S>)],
    last: u32,
    outputs: Option<&[u32]>,
) -> Result<NodeSlots<S>, Error> {
    let mut slots = NodeSlots::new();
    slots.reset_to_recorded(arena, 0, last, |x| S::from(x).unwrap_or_else(S::nan));
    let mut live = vec![false; last as usize + 1];
    for (id, v) in seeds {
        let leaf = arena.resolve(*id)?;
        if let Some(op) = arena.op(leaf) {
            return Err(Error::NotALeaf { what: "a seed of a forward sweep", grad_fn: op.grad_fn_name() });
        }
        if !arena.requires_grad(leaf) {
            return Err(Error::NotTracked { what: "a seed of a forward sweep" });
        }
        let shape = arena.shape(leaf);
        if v.len() != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
        }
        if let Some(slot) = slots.get_mut(arena, leaf) {
            slot.clone_from_slice(v);
            live[leaf as usize] = true;
        }
    }
    let mut out = Vec::new();
    for node in 0..=last {
        if live[node as usize] {
            continue;
        }
        if arena.op(node).is_none() || !arena.inputs(node).iter().any(|&i| live[i as usize]) {
            continue;
        }
        out.clear();
        arena.evaluate_node(node, |i| slots.get(arena, i).unwrap_or(&[]), &mut out)?;
        live[node as usize] = true;
        if let Some(slot) = slots.get_mut(arena, node) {
            slot.clone_from_slice(&out);
        }
    }
    // A node re-evaluated here from a leaf set in place after it was recorded would mix the
    // new point with the recorded values of the rest of the graph.
    if arena.stale_reads(0, last).any(|(node, _)| live[node as usize]) {
        let needed = outputs.map(|outputs| arena.needed_by(outputs, last));
        let needs = |node: u32| needed.as_ref().is_none_or(|n| n[node as usize]);
        if let Some((node, _)) = arena.stale_reads(0, last).find(|&(node, _)| live[node as usize] && needs(node)) {
            let grad_fn = arena.op(node).map_or("a leaf", |op| op.grad_fn_name());
            return Err(Error::ModifiedInPlace { node: arena.node_id(node), grad_fn });
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

/// The gradient of a one-element `output` with respect to each of `wrt` in forward mode:
/// one JVP per input element, each seeded with a unit tangent (PyTorch's forward-mode
/// `jacfwd` for a scalar function). Each `wrt` must be a leaf that requires grad.
///
/// ```
/// use slope_graph::{forward, Graph};
///
/// let g = Graph::new();
/// let x = g.vector(&[1.0, 2.0]).requires_grad_();
/// let y = (x * x).sum();
/// let grads = forward::gradient(y, &[x]).unwrap();
/// assert_eq!(grads[0].as_slice(), &[2.0, 4.0]);
/// ```
pub fn gradient<'g>(output: Tensor<'g>, wrt: &[Tensor<'g>]) -> Result<Vec<Value>, Error> {
    let shape = output.shape();
    if shape.len() != 1 {
        return Err(Error::NeedsScalar { what: "a forward-mode gradient's output", shape });
    }
    let mut grads = Vec::with_capacity(wrt.len());
    for leaf in wrt {
        let n = leaf.shape().len();
        let mut seed = vec![0.0; n];
        let mut column = Vec::with_capacity(n);
        for k in 0..n {
            seed[k] = 1.0;
            column.push(jvp_tensors(output, &[(*leaf, &seed)])?.as_slice()[0]);
            seed[k] = 0.0;
        }
        grads.push(Value::new(leaf.shape(), column)?);
    }
    Ok(grads)
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
