//! The backward sweep: one reverse loop over the nodes the output can reach.

use slope_dual::rules::chain;
use slope_graph::{Arena, GraphScalar, NodeId, NodeSlots, Operand};

use crate::vjp::{self, Grad};
use crate::Error;

/// Adjoint buffers for backward sweeps, kept apart from the graph so that one graph can be
/// swept many times (and, frozen, by many threads) without allocating after the first
/// sweep.
///
/// `S` is the scalar type of the sweep: `f64` for gradients, `Dual<f64>` for the
/// forward-over-reverse sweeps of Hessian-vector products.
#[derive(Clone, Debug)]
pub struct Adjoints<S = f64> {
    slots: NodeSlots<S>,
    /// Per node of the window: whether the sweep reached it. Empty after a values-only
    /// sweep.
    reached: Vec<bool>,
    /// Tensor nodes whose adjoint is one value at every element (sent by `sum` or `mean`),
    /// kept in the node's scalar slot and not yet written to its elements.
    uniform: Vec<u32>,
    /// The arena the last sweep ran on and its recording (`Arena::sweep_stamp`), so a result is
    /// never read against another graph, a copy, or the graph after a rewind.
    swept: Option<(u64, u32)>,
}

impl<S> Default for Adjoints<S> {
    fn default() -> Self {
        Adjoints { slots: NodeSlots::default(), reached: Vec::new(), uniform: Vec::new(), swept: None }
    }
}

impl Adjoints<f64> {
    /// The gradient sweep of the `Var` helpers: from scalar node `output` with seed 1.
    /// Where every computed node of the window is a cached step with finite partials
    /// ([`Arena::cached_only`]), it skips zero adjoints instead of tracking which nodes it
    /// reached: bitwise the same adjoints, one load and two stores fewer per node. Read the
    /// results with [`scalar_adjoint`](Adjoints::scalar_adjoint).
    pub(crate) fn sweep_gradient(&mut self, arena: &Arena, output: u32) -> Result<(), Error> {
        if output as usize >= arena.len() || !arena.shape(output).is_scalar() || !arena.cached_only(arena.low(output)) {
            return self.sweep_index(arena, output, &[1.0], Reads::All);
        }
        let low = arena.low(output);
        self.slots.reset(arena, low, output, 0.0);
        self.reached.clear();
        if !arena.requires_grad(output) {
            return Ok(());
        }
        let adjoints = &mut self.slots.scalars[..];
        adjoints[(output - low) as usize] = 1.0;
        // Every computed node here has cached partials (`cached_only`); a leaf has no input
        // to send an adjoint to.
        // The leaves at the start of the arena (a gradient's variables) send nothing on.
        let first = low.max(arena.leaf_prefix()).min(output);
        let complete = arena.steps_down(first, output, |node, inputs, [p0, p1], tracks| {
            let g = adjoints[(node - low) as usize];
            if g == 0.0 {
                // Skipping a zero adjoint is what the exact sweep does, unless a partial is
                // infinite or NaN (0 · ∞ is NaN): then stop and sweep again, exactly.
                return (!tracks[0] || p0.is_finite()) && (!tracks[1] || p1.is_finite());
            }
            if tracks[0] {
                adjoints[(inputs[0] - low) as usize] += chain(g, p0);
            }
            if tracks[1] {
                adjoints[(inputs[1] - low) as usize] += chain(g, p1);
            }
            true
        });
        if !complete {
            return self.sweep_index(arena, output, &[1.0], Reads::All);
        }
        Ok(())
    }

    /// The adjoints of `Var` nodes (scalar, and requiring grad, as every recorded `Var` is)
    /// after [`sweep_gradient`](Adjoints::sweep_gradient) or [`sweep`](Adjoints::sweep):
    /// zero where the sweep did not reach, or for a constant (`None`).
    pub(crate) fn var_adjoints(&self, nodes: impl Iterator<Item = Option<u32>>) -> Vec<f64> {
        if !self.reached.is_empty() {
            return nodes.map(|n| n.and_then(|n| self.of_scalar(n)).unwrap_or(0.0)).collect();
        }
        let (low, high) = (self.slots.low(), self.slots.high());
        let window = &self.slots.scalars[..];
        nodes
            .map(|n| match n {
                Some(n) if n >= low && n <= high => window.get((n - low) as usize).copied().unwrap_or(0.0),
                _ => 0.0,
            })
            .collect()
    }
}

/// Whose adjoints a caller reads after a sweep. An adjoint sent as one value for every
/// element (by `sum` or `mean`) and read by elementwise VJPs only is never written out,
/// unless it is read afterwards: a leaf's always is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reads<'a> {
    /// Any node's (the public sweeps).
    All,
    /// Leaves' and those of tensors that called `retain_grad` (`backward`).
    Retained,
    /// These nodes' (what `grad` and the vector-Jacobian products return).
    Nodes(&'a [u32]),
}

impl Reads<'_> {
    fn includes(self, arena: &Arena, node: u32) -> bool {
        match self {
            Reads::All => true,
            Reads::Retained => arena.retains_grad(node),
            Reads::Nodes(nodes) => nodes.contains(&node),
        }
    }
}

/// Where a sweep gets the local partials of a scalar elementwise node.
trait LocalPartials<S> {
    fn partials(&self, arena: &Arena, node: u32, cached: [f64; 2]) -> [S; 2];
}

/// The partials cached in the node when it was recorded: the `f64` sweep.
struct Cached;

impl LocalPartials<f64> for Cached {
    #[inline(always)]
    fn partials(&self, _: &Arena, _: u32, cached: [f64; 2]) -> [f64; 2] {
        cached
    }
}

/// Partials evaluated from values of another scalar type (forward-over-reverse), by the
/// same dual rules that filled the cache.
struct FromValues<'a, S>(&'a NodeSlots<S>);

impl<S: GraphScalar> LocalPartials<S> for FromValues<'_, S> {
    fn partials(&self, arena: &Arena, node: u32, _: [f64; 2]) -> [S; 2] {
        let (operands, arity) = arena.operands(node);
        let value = |k: usize| match operands[k] {
            _ if k >= arity => S::zero(),
            Operand::Node(i) => self.0.get(arena, i).map_or_else(S::nan, |v| v[0]),
            Operand::Constant(c) => S::from(c).unwrap_or_else(S::nan),
        };
        arena.cached_partials(node, value(0), value(1))
    }
}

impl Adjoints<f64> {
    /// Empty buffers; they grow to the size of the first graph swept.
    pub fn new() -> Adjoints {
        Adjoints::default()
    }

    /// Bytes held by the buffers (their capacity), kept for the next sweep.
    pub fn memory_bytes(&self) -> usize {
        self.slots.memory_bytes() + self.reached.capacity() + self.uniform.capacity() * core::mem::size_of::<u32>()
    }

    /// Runs a backward sweep from node `output` with adjoint `seed`: afterwards
    /// [`of`](Adjoints::of) holds `seedᵀ · ∂output/∂node` for every node the output
    /// depends on through nodes that require grad.
    ///
    /// Only nodes the output reaches are visited, within `arena.low(output)..=output`, so
    /// the cost follows the output's graph, not the arena's length, and a NaN partial
    /// elsewhere in the graph cannot leak into these gradients. Scalar elementwise nodes
    /// use the partials cached when they were recorded.
    ///
    /// Errors if `output` is not a node of `arena` or the seed does not have its shape.
    pub fn sweep(&mut self, arena: &Arena, output: NodeId, seed: &[f64]) -> Result<(), Error> {
        self.sweep_index(arena, arena.resolve(output)?, seed, Reads::All)
    }

    /// [`sweep`](Adjoints::sweep) from an index the caller resolved against `arena`, for a
    /// caller that reads the adjoints `reads` names.
    pub(crate) fn sweep_index(
        &mut self,
        arena: &Arena,
        output: u32,
        seed: &[f64],
        reads: Reads<'_>,
    ) -> Result<(), Error> {
        self.run(arena, &|i| arena.value(i), &Cached, output, seed, reads)
    }
}

impl<S: GraphScalar> Adjoints<S> {
    /// A backward sweep in scalar type `S`, with node values taken from `values` (from
    /// [`slope_graph::forward::evaluate_all`]) instead of the arena's own; the local
    /// partials are evaluated from them.
    pub fn sweep_at(&mut self, arena: &Arena, values: &NodeSlots<S>, output: NodeId, seed: &[S]) -> Result<(), Error> {
        let output = arena.resolve(output)?;
        if !values.covers(arena.low(output)) || !values.covers(output) {
            return Err(Error::ValuesDoNotCover);
        }
        let value = |i: u32| values.get(arena, i).unwrap_or(&[]);
        self.run(arena, &value, &FromValues(values), output, seed, Reads::All)
    }

    fn run<'v>(
        &mut self,
        arena: &Arena,
        value: &dyn Fn(u32) -> &'v [S],
        rule: &impl LocalPartials<S>,
        output: u32,
        seed: &[S],
        reads: Reads<'_>,
    ) -> Result<(), Error> {
        if output as usize >= arena.len() {
            return Err(slope_graph::Error::NoSuchNode { index: output, len: arena.len() }.into());
        }
        let shape = arena.shape(output);
        if seed.len() != shape.len() {
            return Err(Error::SeedShape { shape, expected: shape.len(), got: seed.len() });
        }
        let low = arena.low(output);
        self.swept = Some(arena.sweep_stamp());
        self.slots.reset_scalars(arena, low, output, S::zero());
        self.reached.clear();
        self.reached.resize(self.slots.scalars.len(), false);
        self.uniform.clear();
        if let Some(own) = self.slots.get_mut(arena, output) {
            own.clone_from_slice(seed);
        }
        let out_slot = (output - low) as usize;
        self.reached[out_slot] = arena.requires_grad(output);

        let mut next = Some(output);
        while let Some(node) = next {
            // The bulk of a tape recorded through `Float`: scalar nodes whose partials were
            // cached when recorded, a loop over (input, partial) pairs.
            next = self.cached_run(arena, rule, low, node);
            let Some(node) = next else { break };
            next = node.checked_sub(1).filter(|&n| n >= low);
            let k = (node - low) as usize;
            if !self.reached[k] {
                continue;
            }
            let view = arena.view(node);
            // a leaf, or a VJP that reads slots, gets the one value written out; so does a
            // node the caller reads afterwards
            let reads_uniform = view.op.is_some_and(vjp::reads_uniform);
            let mut uniform = self.take_uniform(node);
            if let Some(u) = uniform {
                if !reads_uniform || reads.includes(arena, node) {
                    self.slots.fill_node(arena, node, u);
                }
                uniform = uniform.filter(|_| reads_uniform);
            }
            let Some(op) = view.op else { continue };
            // A tensor input reached for the first time holds nothing yet: the VJP writes
            // it (or zeroes it first), so what the output does not reach is never written.
            let mut fresh = [false; 2];
            for ((fresh, &input), &tracks) in fresh.iter_mut().zip(&view.inputs).zip(&view.tracks) {
                if !tracks {
                    continue;
                }
                if !self.reached[(input - low) as usize] {
                    self.reached[(input - low) as usize] = true;
                    *fresh = !arena.shape(input).is_scalar();
                } else if let Some(u) = self.take_uniform(input) {
                    self.slots.fill_node(arena, input, u);
                }
            }
            let sent = if view.scalar {
                let g = [self.slots.scalars[k]];
                vjp::accumulate(arena, value, node, op, &view, Grad::Slots(&g), fresh, &mut self.slots.below_all())
            } else if let Some((mut below, g)) = self.slots.split_at_tensor(arena, node) {
                let g = match uniform {
                    Some(u) => Grad::Uniform(u),
                    None => Grad::Slots(g),
                };
                vjp::accumulate(arena, value, node, op, &view, g, fresh, &mut below)
            } else {
                for (&fresh, &input) in fresh.iter().zip(&view.inputs) {
                    if fresh {
                        self.slots.fill_node(arena, input, S::zero());
                    }
                }
                [None, None]
            };
            for (u, &input) in sent.into_iter().zip(&view.inputs) {
                if let Some(u) = u {
                    self.slots.scalars[(input - low) as usize] = u;
                    self.uniform.push(input);
                }
            }
        }
        self.check_modified(arena, low, output)
    }

    /// The one value node `node`'s adjoint holds at every element, if it is kept so; the
    /// node's adjoint is its slots from then on (the caller writes them).
    fn take_uniform(&mut self, node: u32) -> Option<S> {
        let at = self.uniform.iter().rposition(|&n| n == node)?;
        self.uniform.swap_remove(at);
        Some(self.slots.scalars[(node - self.slots.low()) as usize])
    }

    /// Sweeps down from `start` while nodes have cached partials; returns the first node
    /// that has not (a leaf, a tensor node, a structural op), or `None` past `low`.
    #[inline(always)]
    fn cached_run(&mut self, arena: &Arena, rule: &impl LocalPartials<S>, low: u32, start: u32) -> Option<u32> {
        let adjoints = &mut self.slots.scalars[..];
        let reached = &mut self.reached[..];
        let mut node = start;
        loop {
            let Some((inputs, partials, tracks)) = arena.cached_step(node) else { return Some(node) };
            let k = (node - low) as usize;
            if reached[k] {
                let [p0, p1] = rule.partials(arena, node, partials);
                let g = adjoints[k];
                // A branch per input rather than a write into a shared sink: the sink's
                // read-add-write chain serialised every one-input node (measured: W1 1.3x).
                if tracks[0] {
                    let s = (inputs[0] - low) as usize;
                    adjoints[s] += chain(g, p0);
                    reached[s] = true;
                }
                if tracks[1] {
                    let s = (inputs[1] - low) as usize;
                    adjoints[s] += chain(g, p1);
                    reached[s] = true;
                }
            }
            if node == low {
                return None;
            }
            node -= 1;
        }
    }

    /// Refuses a sweep that went through a node computed before one of its inputs was set
    /// in place: its value and partials are stale.
    fn check_modified(&self, arena: &Arena, low: u32, output: u32) -> Result<(), Error> {
        for (node, leaf) in arena.stale_reads(low, output) {
            let view = arena.view(node);
            let tracked = (0..2).any(|k| view.tracks[k] && view.inputs[k] == leaf);
            if tracked && self.reached[(node - low) as usize] {
                let grad_fn = view.op.map_or("a leaf", |op| op.grad_fn_name());
                return Err(slope_graph::Error::ModifiedInPlace { node: arena.node_id(node), grad_fn }.into());
            }
        }
        Ok(())
    }

    /// Whether the last sweep reached `node` (it requires grad and the output depends on it).
    pub(crate) fn reached(&self, node: u32) -> bool {
        self.slots.covers(node) && self.reached.get((node - self.slots.low()) as usize).copied().unwrap_or(false)
    }

    /// The nodes the last sweep's window held: every node it reached lies in this range.
    pub(crate) fn window(&self) -> core::ops::RangeInclusive<u32> {
        self.slots.low()..=self.slots.high()
    }

    /// The adjoint of scalar node `node` from the last sweep, or `None` if the sweep did not
    /// reach it (what a `Var` gradient reads, without looking the node up).
    ///
    /// The node must be scalar (every `Var` is): a tensor node's slot here is unused.
    #[inline]
    pub(crate) fn of_scalar(&self, node: u32) -> Option<S> {
        if !self.reached(node) {
            return None;
        }
        self.slots.scalars.get((node - self.slots.low()) as usize).cloned()
    }

    /// The adjoint of `node` from the last sweep, or `None` if the sweep did not reach it
    /// (the output does not depend on it through nodes that require grad).
    ///
    /// Errors if `node` is not a node of `arena`, or the last sweep ran on another graph.
    pub fn of<'a>(&'a self, arena: &Arena, node: NodeId) -> Result<Option<&'a [S]>, Error> {
        let index = arena.resolve(node)?;
        if self.swept.is_some_and(|stamp| stamp != arena.sweep_stamp()) {
            return Err(Error::StaleAdjoints);
        }
        Ok(self.of_index(arena, index))
    }

    /// [`of`](Adjoints::of) at an index of the arena the last sweep ran on.
    pub(crate) fn of_index<'a>(&'a self, arena: &Arena, node: u32) -> Option<&'a [S]> {
        if self.reached(node) {
            self.slots.get(arena, node)
        } else {
            None
        }
    }

    /// The adjoint of `node`, or zeros of its shape if the last sweep did not reach it.
    pub(crate) fn of_or_zero(&self, arena: &Arena, node: u32) -> Vec<S> {
        self.of_index(arena, node).map_or_else(|| vec![S::zero(); arena.shape(node).len()], <[S]>::to_vec)
    }
}
