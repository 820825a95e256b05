//! Many sweeps over one frozen graph at once: Jacobians (a VJP per output row), Hessians
//! (a forward-over-reverse Hessian-vector product per column) and batched VJPs, spread over
//! rayon's threads with one reusable adjoint buffer per thread.
//!
//! Each row or column is computed by the same sequential sweep, whichever thread runs it,
//! so the results are bitwise identical to a sequential loop and do not depend on the
//! number of threads.

use rayon::prelude::*;
use slope_dual::Dual;
use slope_graph::{forward, Arena, FrozenGraph, NodeId};

use crate::sweep::Reads;
use crate::{Adjoints, Error};

/// The indices of `output` and of `wrt`; every `wrt` must require grad, as for `grad`.
pub(crate) fn resolve(arena: &Arena, output: NodeId, wrt: &[NodeId]) -> Result<(u32, Vec<u32>), Error> {
    let out = arena.resolve(output)?;
    let mut indices = Vec::with_capacity(wrt.len());
    for &id in wrt {
        let index = arena.resolve(id)?;
        if !arena.requires_grad(index) {
            return Err(slope_graph::Error::NotTracked { what: "a derivative with respect to a node" }.into());
        }
        indices.push(index);
    }
    Ok((out, indices))
}

/// The gradient of `output` seeded with `seed`, flattened over `wrt`, from `adjoints`.
fn flatten<S: slope_graph::GraphScalar>(arena: &Arena, adjoints: &Adjoints<S>, wrt: &[u32]) -> Vec<S> {
    wrt.iter().flat_map(|&i| adjoints.of_or_zero(arena, i)).collect()
}

/// `seedᵀ · ∂output/∂wrt` for every seed, in parallel; each result flattened over `wrt`.
pub fn graph_vjp_batch(
    graph: &FrozenGraph,
    output: NodeId,
    seeds: &[Vec<f64>],
    wrt: &[NodeId],
) -> Result<Vec<Vec<f64>>, Error> {
    let arena = graph.arena();
    let (out, wrt) = resolve(arena, output, wrt)?;
    seeds
        .par_iter()
        .map_init(Adjoints::new, |adjoints, seed| {
            adjoints.sweep_index(arena, out, seed, Reads::Nodes(&wrt))?;
            Ok(flatten(arena, adjoints, &wrt))
        })
        .collect()
}

/// The Jacobian of `output` (any shape, flattened: one row per element) with respect to
/// `wrt` (flattened: one column per element), one backward sweep per row, in parallel.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.vector(&[1.0, 2.0]).requires_grad_();
/// let y = (x * x).id();
/// let x = x.id();
/// let j = slope_reverse::graph_jacobian(&g.freeze(), y, &[x]).unwrap();
/// assert_eq!(j, vec![vec![2.0, 0.0], vec![0.0, 4.0]]);
/// ```
pub fn graph_jacobian(graph: &FrozenGraph, output: NodeId, wrt: &[NodeId]) -> Result<Vec<Vec<f64>>, Error> {
    let arena = graph.arena();
    let m = arena.shape(arena.resolve(output)?).len();
    let seeds: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            let mut s = vec![0.0; m];
            s[i] = 1.0;
            s
        })
        .collect();
    graph_vjp_batch(graph, output, &seeds, wrt)
}

/// The Hessian-vector product `H · v` of a scalar `output`, forward over reverse: the
/// graph is re-evaluated on duals moving along `v`, then swept backward in dual
/// arithmetic; the tangent of the gradient is `H · v`. `v` is flattened over `wrt`.
pub fn graph_hvp(graph: &FrozenGraph, output: NodeId, wrt: &[NodeId], v: &[f64]) -> Result<Vec<f64>, Error> {
    let mut adjoints = Adjoints::default();
    hvp_with(graph, output, wrt, v, &mut adjoints)
}

fn hvp_with(
    graph: &FrozenGraph,
    output: NodeId,
    wrt: &[NodeId],
    v: &[f64],
    adjoints: &mut Adjoints<Dual<f64>>,
) -> Result<Vec<f64>, Error> {
    let arena = graph.arena();
    let (out, indices) = resolve(arena, output, wrt)?;
    let shape = arena.shape(out);
    if !shape.is_scalar() {
        return Err(Error::NonScalarOutput { shape });
    }
    let total: usize = indices.iter().map(|&i| arena.shape(i).len()).sum();
    if v.len() != total {
        let shape = slope_graph::Shape::Vector(total);
        return Err(Error::SeedShape { shape, expected: total, got: v.len() });
    }
    let mut offset = 0;
    let seeds: Vec<(NodeId, Vec<Dual<f64>>)> = wrt
        .iter()
        .zip(&indices)
        .map(|(&id, &i)| {
            let x = arena.value(i);
            let seed = x.iter().zip(&v[offset..offset + x.len()]).map(|(&x, &t)| Dual::new(x, t)).collect();
            offset += x.len();
            (id, seed)
        })
        .collect();
    let values = forward::evaluate_all(arena, &seeds)?;
    adjoints.sweep_at(arena, &values, output, &[Dual::constant(1.0)])?;
    Ok(flatten(arena, adjoints, &indices).iter().map(|d| d.eps).collect())
}

/// The Hessian of a scalar `output` with respect to `wrt` (flattened), one
/// forward-over-reverse Hessian-vector product per column, in parallel.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.vector(&[1.5, -0.5]).requires_grad_();
/// let y = (x.powi(3)).sum().id();
/// let x = x.id();
/// let h = slope_reverse::graph_hessian(&g.freeze(), y, &[x]).unwrap();
/// assert_eq!(h, vec![vec![9.0, 0.0], vec![0.0, -3.0]]);
/// ```
pub fn graph_hessian(graph: &FrozenGraph, output: NodeId, wrt: &[NodeId]) -> Result<Vec<Vec<f64>>, Error> {
    let arena = graph.arena();
    let (_, indices) = resolve(arena, output, wrt)?;
    let n: usize = indices.iter().map(|&i| arena.shape(i).len()).sum();
    (0..n)
        .into_par_iter()
        .map_init(Adjoints::<Dual<f64>>::default, |adjoints, j| {
            let mut v = vec![0.0; n];
            v[j] = 1.0;
            hvp_with(graph, output, wrt, &v, adjoints)
        })
        .collect()
}
