//! Forward mode over a recorded graph: Jacobian-vector products by evaluating the op table
//! on dual numbers.
//!
//! The sweep re-evaluates every node the seeds reach with [`op::eval_into`](crate::op::eval_into)
//! on [`Dual<f64>`], so its derivatives come from the primals and the dual rules alone. It
//! never calls a reverse rule, which is what lets forward and reverse mode check each other.

use slope_dual::Dual;

use crate::op::eval_into;
use crate::{Arena, Error, NodeId, Tensor, Value};

/// Tangents of `outputs` when each seeded leaf moves along its tangent: `J · v`.
///
/// Each seed is a leaf that requires grad and a tangent of its shape; leaves not seeded
/// have tangent zero. Only nodes downstream of a seed are re-evaluated.
pub fn jvp(arena: &Arena, seeds: &[(NodeId, &[f64])], outputs: &[NodeId]) -> Result<Vec<Value>, Error> {
    let outputs = outputs.iter().map(|&id| arena.resolve(id)).collect::<Result<Vec<_>, _>>()?;
    let Some(&last) = outputs.iter().max() else { return Ok(Vec::new()) };
    let mut tangent = vec![0.0; arena.value_range(last).end];
    let mut moved = vec![false; last as usize + 1];
    for &(id, v) in seeds {
        let leaf = arena.resolve(id)?;
        let shape = arena.shape(leaf);
        if !arena.is_leaf(leaf) {
            return Err(Error::InvalidArgument(format!(
                "a JVP seed must be a leaf; node {} was computed by {}",
                leaf,
                arena.op(leaf).map_or("?", |op| op.name())
            )));
        }
        if !arena.requires_grad(leaf) {
            return Err(Error::NotTracked { what: "a JVP seed" });
        }
        if v.len() != shape.len() {
            return Err(Error::DataLength { shape, expected: shape.len(), got: v.len() });
        }
        if let Some(slot) = moved.get_mut(leaf as usize) {
            *slot = true;
            tangent[arena.value_range(leaf)].copy_from_slice(v);
        }
    }
    let mut out = Vec::new();
    for node in 0..=last {
        let Some(op) = arena.op(node) else { continue };
        let inputs = arena.inputs(node);
        if !inputs.iter().any(|&i| moved[i as usize]) {
            continue;
        }
        let duals: Vec<Vec<Dual<f64>>> = inputs
            .iter()
            .map(|&i| {
                let range = arena.value_range(i);
                arena.value(i).iter().zip(&tangent[range]).map(|(&x, &t)| Dual::new(x, t)).collect()
            })
            .collect();
        let args: Vec<(&[Dual<f64>], _)> = duals.iter().zip(inputs).map(|(d, &i)| (&d[..], arena.shape(i))).collect();
        out.clear();
        eval_into(op, &args, &mut out);
        for (slot, d) in tangent[arena.value_range(node)].iter_mut().zip(&out) {
            *slot = d.eps;
        }
        moved[node as usize] = true;
    }
    Ok(outputs.iter().map(|&o| Value::from_parts(arena.shape(o), tangent[arena.value_range(o)].to_vec())).collect())
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
