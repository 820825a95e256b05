//! The reverse rule of every op: an exhaustive match over the op table.
//!
//! Elementwise ops take their local partials from the primal evaluated on duals
//! (`UnaryOp::partial`, `BinaryOp::partial_left/right`), so their derivatives are the rules
//! of `slope_dual::rules` and nothing here repeats them. Structural ops (reductions,
//! products, transposes) have hand-written VJPs in their rows' rules
//! (`slope_graph::structural`), independent of their forward evaluation, so forward mode
//! and reverse mode check each other on them.
//!
//! The rules are generic over the scalar type: `f64` for gradients, and dual numbers for
//! forward-over-reverse Hessian-vector products. Node values come from the arena (`f64`)
//! or from a re-evaluation at another scalar type. Scalar elementwise nodes of scalar
//! inputs do not come here: the sweep applies their cached partials itself.

use core::ops::Range;
use std::time::{Duration, Instant};

use slope_dual::ops::{exponent_loop, Kernel1, Kernel2};
use slope_dual::rules::chain;
use slope_dual::Scalar;
use slope_graph::{Arena, Below, Broadcast, GraphScalar, NodeView, Op, Shape};

/// Elementwise loops of at least this many elements may run on rayon's threads, if their
/// first chunk shows them compute-bound (`over_chunks`). Each element is independent, so
/// the result is bitwise the same as the sequential loop. Chosen by measurement when every
/// partial was evaluated on duals (`cargo run --release -p slope-benches --example
/// w2_backward`, 2 threads against 1): the split lost 4-20 % up to 32768 elements and won
/// 14 % at 131072 and 32 % at 10^6.
pub const PARALLEL_ELEMENTS: usize = 1 << 16;

/// A first chunk of an elementwise loop (4096 elements) that takes longer than this is
/// compute-bound, and the rest of the loop runs on rayon's threads (see `over_chunks`).
const COMPUTE_BOUND_CHUNK: Duration = Duration::from_micros(10);

/// A node's adjoint as a VJP reads it: its slots, or one value for every element (what
/// `sum` and `mean` send down, kept unwritten until something needs the elements).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Grad<'a, S> {
    /// One slot per element.
    Slots(&'a [S]),
    /// The same value at every element.
    Uniform(S),
}

impl<S: Copy> Grad<'_, S> {
    #[inline(always)]
    fn at(self, k: usize) -> S {
        match self {
            Grad::Slots(g) => g[k],
            Grad::Uniform(g) => g,
        }
    }
}

/// Whether a VJP of `op` reads a [`Grad::Uniform`] adjoint as it is (the elementwise
/// loops); the sweep writes the slots out for the others.
pub(crate) fn reads_uniform(op: Op) -> bool {
    matches!(op, Op::Unary(_) | Op::Binary(_))
}

/// Adds the contribution of node `node`, whose adjoint is `g`, to the adjoints of its
/// inputs in `below`. `value` gives every node's value. An input marked `fresh` is reached
/// for the first time and its slots hold nothing yet: an elementwise VJP writes them
/// (`0 + v`, bitwise what zeroing and adding gives) in the same pass; other VJPs see them
/// zeroed first, unless the op sends the input one value at every element
/// ([`StructuralOp::uniform_vjp`](slope_graph::StructuralOp::uniform_vjp)): then nothing is
/// written and that value is returned for the input, for the sweep to keep.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate<'v, S: GraphScalar>(
    arena: &Arena,
    value: &dyn Fn(u32) -> &'v [S],
    node: u32,
    op: Op,
    view: &NodeView,
    g: Grad<'_, S>,
    fresh: [bool; 2],
    below: &mut Below<'_, S>,
) -> [Option<S>; 2] {
    let mut uniform = [None; 2];
    let inputs = arena.inputs(node);
    // Structural and custom VJPs read slots; the sweep hands them slots (this copy is the
    // fall-back should a uniform adjoint reach them).
    let owned;
    let slots = match g {
        Grad::Slots(g) => g,
        Grad::Uniform(_) if reads_uniform(op) => &[],
        Grad::Uniform(u) => {
            owned = vec![u; arena.shape(node).len()];
            &owned[..]
        }
    };
    // Only the first two inputs are ever differentiated (the op table holds a third constant).
    let wants = |k: usize| k < 2 && view.tracks[k];
    match op {
        Op::Unary(u) => {
            let a = inputs[0];
            if wants(0) {
                u.with_partial(OneInputVjp { adj: below.of(arena, a), x: value(a), g, fresh: fresh[0] });
            }
        }
        Op::Binary(b) if wants(0) && wants(1) && inputs[0] == inputs[1] => {
            // `x - x`, `x * x`: one input, whose partial is the sum of both sides' (as a
            // `Var` records it), so an exact zero absorbs as forward mode's `1 - 1` does.
            let adj = below.of(arena, inputs[0]);
            b.with_partial(2, OneInputVjp { adj, x: value(inputs[0]), g, fresh: fresh[0] });
        }
        Op::Binary(b) => {
            for side in 0..2 {
                if wants(side) {
                    let shapes = [arena.shape(inputs[0]), arena.shape(inputs[1])];
                    let adj = below.of(arena, inputs[side]);
                    let (a, b_values, fresh) = (value(inputs[0]), value(inputs[1]), fresh[side]);
                    b.with_partial(side, BinaryVjp { a, b: b_values, shapes, side, g, adj, fresh });
                }
            }
        }
        Op::Structural(s) => each_wanted_input(
            arena,
            value,
            node,
            &inputs,
            &wants,
            // (a node read twice, `dot(x, x)`, is fresh on its first side only)
            |k, args, adjoint| {
                if fresh[k] {
                    uniform[k] = s.uniform_vjp(k, args, slots).filter(|_| inputs.len() == 1);
                    if uniform[k].is_none() {
                        s.vjp_fresh(k, args, slots, adjoint);
                    }
                } else {
                    s.vjp(k, args, slots, adjoint)
                }
            },
            below,
        ),
        Op::Custom(_) if fresh.contains(&true) => {
            for (&fresh, &input) in fresh.iter().zip(inputs.iter()) {
                if fresh {
                    below.of(arena, input).fill(S::zero());
                }
            }
            return accumulate(arena, value, node, op, view, g, [false; 2], below);
        }
        Op::Custom(id) => each_wanted_input(
            arena,
            value,
            node,
            &inputs,
            &wants,
            |k, args, adjoint| S::custom_vjp(id.op(), k, args, slots, adjoint),
            below,
        ),
    }
    uniform
}

/// What an adjoint slot adds to: zero where it is `fresh` (it holds nothing yet), else its
/// value. The condition is the same for a whole loop, which the compiler takes out of it.
#[inline(always)]
fn start<S: Scalar>(fresh: bool, adj: S) -> S {
    if fresh {
        S::zero()
    } else {
        adj
    }
}

/// Runs `run(chunk, range)` over `adj` in chunks, `range` being where the chunk lies in
/// `adj` (for the loop to slice its operands alike). A loop of at least
/// [`PARALLEL_ELEMENTS`] runs its first chunk alone and timed: where that chunk took more
/// than [`COMPUTE_BOUND_CHUNK`] (a transcendental partial, tens of nanoseconds an element)
/// the rest is split across rayon's threads; a loop bound by memory (a product's or a
/// power's partial, under a nanosecond an element) ran slower split than on one core of
/// this two-core machine (W2 `powi(2).sum()`, n = 10^5: 171 µs split against 107 µs), so it
/// stays on one. Each element is independent, so the result is the same bit for bit.
fn over_chunks<S: Send>(adj: &mut [S], run: impl Fn(&mut [S], Range<usize>) + Sync) {
    const CHUNK: usize = 4096;
    let len = adj.len();
    if len < PARALLEL_ELEMENTS || rayon::current_num_threads() == 1 {
        return run(adj, 0..len);
    }
    let (first, rest) = adj.split_at_mut(CHUNK);
    let started = Instant::now();
    run(first, 0..CHUNK);
    if started.elapsed() < COMPUTE_BOUND_CHUNK {
        return run(rest, CHUNK..len);
    }
    use rayon::prelude::*;
    rest.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let start = CHUNK * (i + 1);
        run(chunk, start..start + chunk.len())
    });
}

/// `adj[k] += f(x[k], g[k])` for every `k` (`adj[k] = 0 + f(...)` where `fresh`: the slots
/// held nothing yet), split across threads when long.
fn elementwise<S: Scalar>(adj: &mut [S], x: &[S], g: Grad<'_, S>, fresh: bool, f: impl Fn(S, S) -> S + Copy + Sync) {
    // Each loop works on its own copy of `f`: what it captured (a broadcast operand) is then
    // a local the compiler hoists out of the loop, not a load through a reference.
    match g {
        Grad::Slots(g) => over_chunks(adj, move |adj, r| {
            let f = f;
            for ((adj, &x), &g) in adj.iter_mut().zip(&x[r.clone()]).zip(&g[r]) {
                *adj = start(fresh, *adj) + f(x, g);
            }
        }),
        Grad::Uniform(g) => over_chunks(adj, move |adj, r| {
            let f = f;
            for (adj, &x) in adj.iter_mut().zip(&x[r]) {
                *adj = start(fresh, *adj) + f(x, g);
            }
        }),
    }
}

/// The VJP into the one input of a node: a unary op's (`adj[k] += chain(g[k], f'(x[k]))`,
/// as a [`Kernel1`]) or a binary op's whose two inputs are one node (as a [`Kernel2`],
/// handed the sum of both partials), compiled for each op's partial.
struct OneInputVjp<'a, S> {
    adj: &'a mut [S],
    x: &'a [S],
    g: Grad<'a, S>,
    fresh: bool,
}

impl<S: Scalar> Kernel1<S> for OneInputVjp<'_, S> {
    type Output = ();
    #[inline(always)]
    fn run<F: Fn(S) -> S + Copy + Send + Sync>(self, partial: F) {
        elementwise(self.adj, self.x, self.g, self.fresh, move |x, g| chain(g, partial(x)));
    }
}

impl<S: Scalar> Kernel2<S> for OneInputVjp<'_, S> {
    type Output = ();
    #[inline(always)]
    fn run<F: Fn(S, S) -> S + Copy + Send + Sync>(self, partial: F) {
        Kernel1::run(self, move |x| partial(x, x));
    }
}

/// One side's VJP of a binary op (`side` 0 for `a`, 1 for `b`), compiled for each op's
/// partial; an input broadcast along a dimension receives the sum of its contributions
/// along it, in element order (sequential, so the result does not depend on the thread
/// count).
struct BinaryVjp<'a, S> {
    a: &'a [S],
    b: &'a [S],
    shapes: [Shape; 2],
    side: usize,
    g: Grad<'a, S>,
    adj: &'a mut [S],
    fresh: bool,
}

impl<S: Scalar> Kernel2<S> for BinaryVjp<'_, S> {
    type Output = ();
    #[inline(always)]
    fn run_exponent<F: Fn(S, S) -> S + Copy + Send + Sync>(self, partial: F) {
        match self.b {
            [c] if self.side == 0 && self.shapes[1].is_scalar() => exponent_loop(*c, partial, self),
            _ => self.run(partial),
        }
    }
    #[inline(always)]
    fn run<F: Fn(S, S) -> S + Copy + Send + Sync>(self, partial: F) {
        let BinaryVjp { a, b, shapes, side, g, adj, fresh } = self;
        let other = shapes[1 - side];
        if shapes[0] == shapes[1] {
            elementwise_pair(adj, a, b, g, fresh, move |x, y, g| chain(g, partial(x, y)));
        } else if other.is_scalar() && side == 0 {
            // a tensor against a broadcast scalar (such as the exponent of `powi`)
            let y = b[0];
            elementwise(adj, a, g, fresh, move |x, g| chain(g, partial(x, y)));
        } else if other.is_scalar() {
            let x = a[0];
            elementwise(adj, b, g, fresh, move |y, g| chain(g, partial(x, y)));
        } else {
            if fresh {
                adj.fill(S::zero());
            }
            let Some(layout) = Broadcast::of(shapes[0], shapes[1]) else {
                unreachable!("a recorded elementwise node has shapes that broadcast")
            };
            broadcast_vjp(&layout, a, b, side, g, adj, partial);
        }
    }
}

/// [`BinaryVjp`] where the shapes differ: a loop over the output's rows and columns, in
/// each block of its leading dimensions.
fn broadcast_vjp<S: Scalar>(
    layout: &Broadcast,
    a: &[S],
    b: &[S],
    side: usize,
    g: Grad<'_, S>,
    adj: &mut [S],
    partial: impl Fn(S, S) -> S,
) {
    let [(ar, ac), (br, bc)] = layout.strides;
    let (own_row, own_col) = layout.strides[side];
    let block = layout.rows * layout.cols;
    for (k, starts) in layout.block_starts().enumerate() {
        let ([a0, b0], out0, own) = (starts, k * block, starts[side]);
        let term = |i: usize, j: usize| {
            chain(g.at(out0 + i * layout.cols + j), partial(a[a0 + i * ar + j * ac], b[b0 + i * br + j * bc]))
        };
        if own_row == 0 && own_col == 0 {
            // repeated over the block (a scalar, or `[1]`, `[1, 1]`): one sum
            let mut sum = S::zero();
            for i in 0..layout.rows {
                for j in 0..layout.cols {
                    sum += term(i, j);
                }
            }
            adj[own] += sum;
        } else if own_col == 0 {
            // a column repeated along each row
            for i in 0..layout.rows {
                let mut sum = S::zero();
                for j in 0..layout.cols {
                    sum += term(i, j);
                }
                adj[own + i * own_row] += sum;
            }
        } else {
            for i in 0..layout.rows {
                for j in 0..layout.cols {
                    adj[own + i * own_row + j * own_col] += term(i, j);
                }
            }
        }
    }
}

/// `adj[k] += f(x[k], y[k], g[k])` (`adj[k] = 0 + f(...)` where `fresh`), split across
/// threads when long, as [`elementwise`].
fn elementwise_pair<S: Scalar>(
    adj: &mut [S],
    x: &[S],
    y: &[S],
    g: Grad<'_, S>,
    fresh: bool,
    f: impl Fn(S, S, S) -> S + Copy + Sync,
) {
    match g {
        Grad::Slots(g) => over_chunks(adj, move |adj, r| {
            let f = f;
            for (((adj, &x), &y), &g) in adj.iter_mut().zip(&x[r.clone()]).zip(&y[r.clone()]).zip(&g[r]) {
                *adj = start(fresh, *adj) + f(x, y, g);
            }
        }),
        Grad::Uniform(g) => over_chunks(adj, move |adj, r| {
            let f = f;
            for ((adj, &x), &y) in adj.iter_mut().zip(&x[r.clone()]).zip(&y[r]) {
                *adj = start(fresh, *adj) + f(x, y, g);
            }
        }),
    }
}

/// Runs `vjp(k, inputs, adjoint of input k)` for every input the node sends an adjoint to.
fn each_wanted_input<'v, S: GraphScalar>(
    arena: &Arena,
    value: &dyn Fn(u32) -> &'v [S],
    node: u32,
    inputs: &[u32],
    wants: &dyn Fn(usize) -> bool,
    mut vjp: impl FnMut(usize, &[(&[S], Shape)], &mut [S]),
    below: &mut Below<'_, S>,
) {
    arena.with_args(node, value, |args| {
        for (k, &input) in inputs.iter().enumerate() {
            if wants(k) {
                vjp(k, args, below.of(arena, input));
            }
        }
    });
}
