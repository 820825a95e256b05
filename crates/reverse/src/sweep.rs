//! The backward sweep: one reverse loop over the arena.

use slope_dual::Scalar;
use slope_graph::{Arena, Op};

use crate::{vjp, Error};

/// Adjoint buffers for backward sweeps, kept apart from the graph so that one graph can be
/// swept many times (and, frozen, by many threads) without allocating after the first
/// sweep.
///
/// `S` is the scalar type of the sweep: `f64` for gradients, `Dual<f64>` for the
/// forward-over-reverse sweeps of Hessian-vector products.
#[derive(Clone, Debug)]
pub struct Adjoints<S = f64> {
    values: Vec<S>,
    reached: Vec<bool>,
    output: Option<u32>,
}

impl<S> Default for Adjoints<S> {
    fn default() -> Self {
        Adjoints { values: Vec::new(), reached: Vec::new(), output: None }
    }
}

impl Adjoints<f64> {
    /// Empty buffers; they grow to the size of the first graph swept.
    pub fn new() -> Adjoints {
        Adjoints::default()
    }

    /// Runs a backward sweep from node `output` with adjoint `seed`: afterwards
    /// [`of`](Adjoints::of) holds `seedᵀ · ∂output/∂node` for every node the output
    /// depends on through nodes that require grad.
    ///
    /// Only nodes the output reaches are visited, so a NaN partial elsewhere in the graph
    /// cannot leak into these gradients.
    pub fn sweep(&mut self, arena: &Arena, output: u32, seed: &[f64]) -> Result<(), Error> {
        self.sweep_at(arena, arena.values(), output, seed)
    }
}

impl<S: Scalar> Adjoints<S> {
    /// A backward sweep in scalar type `S`, with node values taken from `values` (laid out
    /// as `arena.values()`) instead of the arena's own.
    pub fn sweep_at(&mut self, arena: &Arena, values: &[S], output: u32, seed: &[S]) -> Result<(), Error> {
        if values.len() != arena.values().len() {
            return Err(slope_graph::Error::DataLength {
                shape: slope_graph::Shape::Vector(arena.values().len()),
                expected: arena.values().len(),
                got: values.len(),
            }
            .into());
        }
        if output as usize >= arena.len() {
            return Err(slope_graph::Error::NoSuchNode { index: output, len: arena.len() }.into());
        }
        let out = arena.value_range(output);
        if seed.len() != out.len() {
            let shape = arena.shape(output);
            return Err(Error::SeedShape { shape, expected: shape.len(), got: seed.len() });
        }
        self.values.clear();
        self.values.resize(out.end, S::zero());
        self.values[out].copy_from_slice(seed);
        self.reached.clear();
        self.reached.resize(output as usize + 1, false);
        self.reached[output as usize] = arena.requires_grad(output);
        self.output = Some(output);

        for node in (0..=output).rev() {
            if !self.reached[node as usize] {
                continue;
            }
            let view = arena.view(node);
            let Some(op) = view.op else { continue };
            let inputs = &view.inputs[..op.arity()];
            let mut scalar_inputs = true;
            for &input in inputs {
                let v = arena.view(input);
                scalar_inputs &= v.scalar;
                if v.requires_grad {
                    self.reached[input as usize] = true;
                }
            }
            if view.scalar && scalar_inputs {
                // Scalar elementwise nodes, the bulk of a tape recorded through `Float`: the
                // same rules as `vjp::accumulate`, without its slices.
                let g = self.values[view.value];
                match op {
                    Op::Unary(u) => {
                        let a = arena.view(inputs[0]);
                        if a.requires_grad {
                            let d = u.partial(values[a.value]);
                            self.values[a.value] += g * d;
                        }
                        continue;
                    }
                    Op::Binary(b) => {
                        let (a, c) = (arena.view(inputs[0]), arena.view(inputs[1]));
                        let (x, y) = (values[a.value], values[c.value]);
                        if a.requires_grad {
                            self.values[a.value] += g * b.partial_left(x, y);
                        }
                        if c.requires_grad && op.differentiates(1) {
                            self.values[c.value] += g * b.partial_right(x, y);
                        }
                        continue;
                    }
                    Op::Structural(_) => {}
                }
            }
            let range = arena.value_range(node);
            let (lower, upper) = self.values.split_at_mut(range.start);
            vjp::accumulate(arena, values, node, op, &upper[..range.len()], lower);
        }
        Ok(())
    }

    /// Whether the last sweep reached `node` (it requires grad and the output depends on it).
    pub fn reached(&self, node: u32) -> bool {
        self.reached.get(node as usize).copied().unwrap_or(false)
    }

    /// The adjoint of `node` from the last sweep, or `None` if the sweep did not reach it.
    pub fn of<'a>(&'a self, arena: &Arena, node: u32) -> Option<&'a [S]> {
        if self.reached(node) {
            self.values.get(arena.value_range(node))
        } else {
            None
        }
    }

    /// The adjoint of `node`, or zeros of its shape if the last sweep did not reach it.
    pub fn of_or_zero(&self, arena: &Arena, node: u32) -> Vec<S> {
        self.of(arena, node).map_or_else(|| vec![S::zero(); arena.shape(node).len()], <[S]>::to_vec)
    }
}
