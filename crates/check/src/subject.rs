//! What the checker differentiates: anything that can give its primal, a forward-mode
//! JVP, a reverse-mode VJP and (optionally) a second-order forward Hessian, at any point.

use slope_dual::{Dual, Function, HyperDual, Scalar};
use slope_graph::op::eval_into;
use slope_graph::{forward, Domain, FrozenGraph, Graph, NodeId, Op, Shape};

/// A differentiable map `x ∈ ℝⁿ ↦ y ∈ ℝᵐ`, with its derivatives computed three ways.
///
/// The checker implements it for an op of the table, a recorded graph and a function
/// written over `Float`; tests implement it for ops with rules planted wrong.
pub trait Subject {
    /// What is checked, for reports.
    fn name(&self) -> String;
    /// `y = f(x)`, in plain `f64`.
    fn primal(&self, x: &[f64]) -> Vec<f64>;
    /// `J(x) · v`, by forward mode.
    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64>;
    /// `J(x)ᵀ · u`, by reverse mode.
    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64>;
    /// The Hessian of `w · f` at `x` by second-order forward mode, if the subject has one.
    fn hessian(&self, x: &[f64], w: &[f64]) -> Option<Vec<Vec<f64>>>;
    /// The first finite-difference step for coordinate `i` at `x`, small enough to stay
    /// inside the domain and off any kink.
    fn step(&self, x: &[f64], i: usize) -> f64 {
        1e-2 * x[i].abs().max(1.0)
    }
}

/// A symmetric `n x n` matrix from its upper triangle, entry by entry.
fn symmetric(n: usize, mut entry: impl FnMut(usize, usize) -> Option<f64>) -> Option<Vec<Vec<f64>>> {
    let mut h = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in i..n {
            let v = entry(i, j)?;
            h[i][j] = v;
            h[j][i] = v;
        }
    }
    Some(h)
}

/// `seed(k, i, j)`: the hyper-dual number of coordinate `k` when differentiating in `i`, `j`.
fn hyper_seed(x: f64, k: usize, i: usize, j: usize) -> HyperDual<f64> {
    let one = |b: bool| if b { 1.0 } else { 0.0 };
    HyperDual::new(x, one(k == i), one(k == j), 0.0)
}

/// The first finite-difference step at `x` in a domain.
pub fn step_in(domain: &Domain, x: f64) -> f64 {
    let mut h = 1e-2 * x.abs().max(1.0);
    let (lo, hi) = domain.support;
    if lo.is_finite() {
        h = h.min(0.25 * (x - lo));
    }
    if hi.is_finite() {
        h = h.min(0.25 * (hi - x));
    }
    for k in domain.kinks {
        h = h.min(0.25 * (x - k.at).abs());
    }
    h
}

/// One op of the table at fixed input shapes. The differentiated inputs are flattened into
/// `x`; constant inputs (the exponent of `powi`) keep the values given.
#[derive(Clone, Debug)]
pub struct OpSubject {
    op: Op,
    shapes: Vec<Shape>,
    /// Values of the inputs that are not differentiated (`None` for those that are).
    fixed: Vec<Option<Vec<f64>>>,
}

impl OpSubject {
    /// `op` with these inputs; those the op differentiates become the variables.
    pub fn new(op: Op, inputs: &[(Shape, Vec<f64>)]) -> OpSubject {
        OpSubject {
            op,
            shapes: inputs.iter().map(|i| i.0).collect(),
            fixed: inputs.iter().enumerate().map(|(k, i)| (!op.differentiates(k)).then(|| i.1.clone())).collect(),
        }
    }

    /// The point: the differentiated inputs' values, flattened.
    pub fn point(op: Op, inputs: &[(Shape, Vec<f64>)]) -> Vec<f64> {
        inputs
            .iter()
            .enumerate()
            .filter(|(k, _)| op.differentiates(*k))
            .flat_map(|(_, i)| i.1.iter().copied())
            .collect()
    }

    /// The op.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The input shapes.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// Which op input and domain coordinate `i` of `x` belongs to.
    fn input_of(&self, mut i: usize) -> usize {
        for (k, shape) in self.shapes.iter().enumerate() {
            if self.fixed[k].is_some() {
                continue;
            }
            if i < shape.len() {
                return k;
            }
            i -= shape.len();
        }
        0
    }

    /// The inputs at point `x`, each lifted to `S` by `lift(flat index, value)`.
    fn inputs<S: Scalar>(&self, x: &[f64], lift: impl Fn(usize, f64) -> S) -> Vec<Vec<S>> {
        let mut offset = 0;
        self.shapes
            .iter()
            .zip(&self.fixed)
            .map(|(shape, fixed)| match fixed {
                Some(values) => values.iter().map(|&v| S::from(v).unwrap_or_else(S::nan)).collect(),
                None => {
                    let v = (0..shape.len()).map(|k| lift(offset + k, x[offset + k])).collect();
                    offset += shape.len();
                    v
                }
            })
            .collect()
    }

    fn eval<S: slope_graph::GraphScalar>(&self, inputs: &[Vec<S>]) -> Vec<S> {
        let args: Vec<(&[S], Shape)> = inputs.iter().zip(&self.shapes).map(|(v, &s)| (&v[..], s)).collect();
        let mut out = Vec::new();
        match eval_into(self.op, &args, &mut out) {
            Ok(()) => out,
            // A custom op whose primal breaks its shape's promise: NaN, which never passes.
            Err(slope_graph::Error::CustomOpOutput { expected, .. }) => vec![S::nan(); expected],
            Err(_) => Vec::new(),
        }
    }
}

impl Subject for OpSubject {
    fn name(&self) -> String {
        self.op.name().to_string()
    }

    fn primal(&self, x: &[f64]) -> Vec<f64> {
        self.eval(&self.inputs::<f64>(x, |_, v| v))
    }

    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        self.eval(&self.inputs(x, |k, xk| Dual::new(xk, v[k]))).iter().map(|d| d.eps).collect()
    }

    /// Records the op on a fresh graph and sweeps it backward; an op that cannot be
    /// recorded at these inputs (bad shapes or indices) gives NaN, which never passes.
    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64> {
        let g = Graph::new();
        let inputs = self.inputs::<f64>(x, |_, v| v);
        let recorded = (|| -> Result<_, slope_reverse::Error> {
            let mut tensors = Vec::with_capacity(inputs.len());
            for ((v, &s), fixed) in inputs.iter().zip(&self.shapes).zip(&self.fixed) {
                let t = g.try_tensor(s, v)?;
                tensors.push(if fixed.is_none() { t.requires_grad_() } else { t });
            }
            let y = tensors[0].try_op(self.op, &tensors[1..])?;
            let wrt: Vec<_> = tensors.iter().zip(&self.fixed).filter(|(_, f)| f.is_none()).map(|(t, _)| *t).collect();
            slope_reverse::grad_with(y, u, &wrt)
        })();
        match recorded {
            Ok(grads) => grads.into_iter().flat_map(|v| v.into_vec()).collect(),
            Err(_) => vec![f64::NAN; x.len()],
        }
    }

    fn hessian(&self, x: &[f64], w: &[f64]) -> Option<Vec<Vec<f64>>> {
        symmetric(x.len(), |i, j| {
            let y = self.eval(&self.inputs(x, |k, xk| hyper_seed(xk, k, i, j)));
            Some(y.iter().zip(w).fold(0.0, |acc, (y, &w)| acc + w * y.eps12))
        })
    }

    fn step(&self, x: &[f64], i: usize) -> f64 {
        step_in(&self.op.domains()[self.input_of(i)], x[i])
    }
}

/// A recorded graph: the output as a function of some leaves that require grad.
#[derive(Clone, Debug)]
pub struct GraphSubject<'a> {
    graph: &'a FrozenGraph,
    inputs: Vec<(NodeId, usize)>,
    output: NodeId,
}

impl<'a> GraphSubject<'a> {
    /// `output` as a function of `inputs`; errors name ids that are not in the graph.
    pub fn new(graph: &'a FrozenGraph, inputs: &[NodeId], output: NodeId) -> Result<Self, slope_graph::Error> {
        let arena = graph.arena();
        let mut sized = Vec::with_capacity(inputs.len());
        for &id in inputs {
            let index = arena.resolve(id)?;
            if !arena.is_leaf(index) || !arena.requires_grad(index) {
                return Err(slope_graph::Error::NotTracked { what: "checking a graph with respect to a node" });
            }
            sized.push((id, arena.shape(index).len()));
        }
        arena.resolve(output)?;
        // A graph computed partly before a leaf was set in place has no one point to check
        // at: refused here, with the reason, rather than reported as failures later.
        let seeds: Vec<(NodeId, Vec<f64>)> =
            sized.iter().map(|&(id, _)| (id, arena.value(id.index()).to_vec())).collect();
        slope_graph::forward::evaluate::<f64>(arena, &seeds, &[output])?;
        Ok(GraphSubject { graph, inputs: sized, output })
    }

    /// The recorded point: the inputs' values, flattened.
    pub fn point(&self) -> Vec<f64> {
        let arena = self.graph.arena();
        self.inputs.iter().flat_map(|(id, _)| arena.value(id.index()).to_vec()).collect()
    }

    fn split<'x>(&self, x: &'x [f64]) -> Vec<(NodeId, &'x [f64])> {
        let mut offset = 0;
        self.inputs
            .iter()
            .map(|&(id, len)| {
                let part = &x[offset..offset + len];
                offset += len;
                (id, part)
            })
            .collect()
    }

    fn at(&self, x: &[f64]) -> Option<FrozenGraph> {
        self.graph.with_leaves(&self.split(x)).ok()
    }
}

impl Subject for GraphSubject<'_> {
    fn name(&self) -> String {
        format!("graph #{} node {}", self.output.graph(), self.output.index())
    }

    fn primal(&self, x: &[f64]) -> Vec<f64> {
        self.at(x).and_then(|g| g.value(self.output).ok()).map_or_else(|| vec![f64::NAN], |v| v.into_vec())
    }

    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        let seeds: Vec<(NodeId, Vec<Dual<f64>>)> = self
            .split(x)
            .into_iter()
            .zip(self.split(v))
            .map(|((id, xs), (_, vs))| (id, xs.iter().zip(vs).map(|(&a, &b)| Dual::new(a, b)).collect()))
            .collect();
        match forward::evaluate(self.graph.arena(), &seeds, &[self.output]) {
            Ok(mut out) => out.pop().unwrap_or_default().iter().map(|d| d.eps).collect(),
            Err(_) => vec![f64::NAN],
        }
    }

    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64> {
        let Some(g) = self.at(x) else { return vec![f64::NAN; x.len()] };
        let ids: Vec<NodeId> = self.inputs.iter().map(|i| i.0).collect();
        let mut adjoints = slope_reverse::Adjoints::new();
        match slope_reverse::graph_vjp(&g, self.output, u, &ids, &mut adjoints) {
            Ok(v) => v.into_iter().flat_map(|v| v.into_vec()).collect(),
            Err(_) => vec![f64::NAN; x.len()],
        }
    }

    /// Smaller than for single ops: a step through a graph is amplified by everything
    /// downstream, and must not carry an inner relu, abs or fmod across its kink.
    fn step(&self, x: &[f64], i: usize) -> f64 {
        1e-4 * x[i].abs().max(1.0)
    }

    fn hessian(&self, x: &[f64], w: &[f64]) -> Option<Vec<Vec<f64>>> {
        symmetric(x.len(), |i, j| {
            let mut offset = 0;
            let seeds: Vec<(NodeId, Vec<HyperDual<f64>>)> = self
                .inputs
                .iter()
                .map(|&(id, len)| {
                    let v = (offset..offset + len).map(|k| hyper_seed(x[k], k, i, j)).collect();
                    offset += len;
                    (id, v)
                })
                .collect();
            let y = forward::evaluate(self.graph.arena(), &seeds, &[self.output]).ok()?.pop()?;
            Some(y.iter().zip(w).fold(0.0, |acc, (y, &w)| acc + w * y.eps12))
        })
    }
}

/// A [`Function`] as a [`Subject`]: forward mode on `Dual`, reverse mode on the tape
/// variable, second order on `HyperDual`.
pub struct FunctionSubject<'f, F>(pub &'f F);

impl<F: Function> Subject for FunctionSubject<'_, F> {
    fn name(&self) -> String {
        self.0.name()
    }

    fn primal(&self, x: &[f64]) -> Vec<f64> {
        vec![self.0.eval(x)]
    }

    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        let d: Vec<Dual<f64>> = x.iter().zip(v).map(|(&a, &b)| Dual::new(a, b)).collect();
        vec![self.0.eval(&d).eps]
    }

    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64> {
        match slope_reverse::gradient(|v| self.0.eval(v), x) {
            Ok((_, g)) => g.iter().map(|g| g * u[0]).collect(),
            Err(_) => vec![f64::NAN; x.len()],
        }
    }

    fn hessian(&self, x: &[f64], w: &[f64]) -> Option<Vec<Vec<f64>>> {
        let (_, _, h) = slope_dual::hessian(|v| self.0.eval(v), x);
        Some(h.into_iter().map(|row| row.into_iter().map(|e| e * w[0]).collect()).collect())
    }
}
