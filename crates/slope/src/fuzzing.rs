//! The oracles of slope's fuzz targets (`fuzz/`), kept here so that stable tests replay the
//! committed corpus through exactly the code the fuzzers run. Each takes arbitrary bytes,
//! must never panic, and panics (with the reason) only when an oracle is violated.

use crate::expr::{Formula, Point};
use crate::prelude::*;
use crate::{FrozenGraph, Op};

/// Inputs longer than this are ignored by the graph and program targets: their interesting
/// cases are short, and long ones only slow the fuzzer down.
pub const MAX_INPUT: usize = 4096;

/// The longest formula the formula target takes (1 MiB): long sums and deep nesting are
/// what once aborted the process, so they are fuzzed too.
pub const MAX_FORMULA: usize = 1 << 20;

/// Forward and reverse mode agree on one entry of a gradient: equal to within rounding, or
/// the same non-finite value (both NaN, or the same infinity). The singular-point
/// convention (`crates/slope/tests/singular.rs`) holds the modes equal at singular points
/// too, so a finite entry on one side and a non-finite one on the other is a disagreement.
///
/// The modes round differently: a derivative that cancels to 0 in exact arithmetic
/// (`(a·x)/x` in `x`) comes out as a different residue in each, and reverse mode adds the
/// contributions to an adjoint in another order than forward mode (`2` added to `-9e38` and
/// then `+9e38` is `0`). An entry is a sum over the graph's paths of products of local
/// partials; each of its terms is at most `A · T`, the largest adjoint of a node the output
/// depends on (reverse) times the largest tangent of one (forward), and each mode's
/// rounding is a few ulps of such terms per node. So the tolerance is relative to `scale`:
/// the largest entry of either gradient, `A`, and `A · T`.
///
/// One exception, the singular-point convention: where an op sits at a singular point of
/// its derivative (a non-finite local partial at finite operands, such as `hypot(0, 0)` or
/// `1 / 0`), forward mode's zero tangents absorb it (`Tangent::scale`) before the
/// cancellations upstream of it happen, while reverse mode's adjoint carries it into them
/// (`hypot(fmod(x, -x), fmod(x, -x))`: the tangent of `fmod(x, -x)` is `1 - 1 = 0`, so
/// forward mode gives 0, but reverse mode sends `NaN · 1` and `NaN · -1` to `x`). Such a
/// graph (`singular`) may then be finite in one mode and NaN in the other.
fn agree(forward: f64, reverse: f64, scale: f64, singular: bool) -> bool {
    if !forward.is_finite() || !reverse.is_finite() {
        return (forward.is_nan() && reverse.is_nan()) || forward == reverse || singular;
    }
    (forward - reverse).abs() <= 1e-9 * forward.abs().max(reverse.abs()).max(scale).max(1.0)
}

/// Whether some node `out` depends on is at a singular point of its derivative: finite
/// operands and a non-finite local partial in one of its inputs (each input's elements
/// moved together, on duals, through the one evaluator of the graph): a pole (`1 / 0`),
/// a root at 0, `hypot(0, 0)`, an overflow (`exp(1000)`).
fn at_a_singular_point(out: Tensor<'_>) -> bool {
    use crate::Dual;
    out.graph().with_arena(|arena| {
        let last = out.id().index();
        let needed = arena.needed_by(&[last], last);
        let finite = |index: u32| arena.value(index).iter().all(|v| v.is_finite());
        let computed = |node: u32| needed[node as usize] && arena.op(node).is_some();
        (0..=last).filter(|&node| computed(node)).any(|node| {
            let inputs = arena.inputs(node);
            if !inputs.iter().all(|&i| finite(i)) {
                return false;
            }
            (0..inputs.len()).any(|k| {
                let lifted: Vec<Vec<Dual<f64>>> = inputs
                    .iter()
                    .map(|&i| {
                        let tangent = if i == inputs[k] { 1.0 } else { 0.0 };
                        arena.value(i).iter().map(|&v| Dual::new(v, tangent)).collect()
                    })
                    .collect();
                let value_of = |i: u32| inputs.iter().position(|&j| j == i).map_or(&[][..], |p| &lifted[p][..]);
                let mut out = Vec::new();
                arena.evaluate_node(node, value_of, &mut out).is_ok() && out.iter().any(|d| !d.eps.is_finite())
            })
        })
    })
}

/// The largest finite derivative of `out` with respect to any node it depends on: the
/// largest term the reverse sweep added.
fn largest_derivative_inside(out: Tensor<'_>) -> f64 {
    out.graph().with_arena(|arena| {
        let mut adjoints = crate::Adjoints::new();
        if adjoints.sweep(arena, out.id(), &[1.0]).is_err() {
            return 0.0;
        }
        arena.ids().filter_map(|id| adjoints.of(arena, id).ok().flatten()).flatten().fold(0.0, |m: f64, a| {
            if a.is_finite() {
                m.max(a.abs())
            } else {
                m
            }
        })
    })
}

/// The largest finite tangent of a node `out` depends on, over forward sweeps seeded with
/// each element of `leaves` in turn: the largest factor forward mode carried.
fn largest_tangent_inside(out: Tensor<'_>, leaves: &[Tensor<'_>]) -> f64 {
    use crate::Dual;
    out.graph().with_arena(|arena| {
        let last = out.id().index();
        let needed = arena.needed_by(&[last], last);
        let mut largest: f64 = 0.0;
        for (k, leaf) in leaves.iter().enumerate() {
            for element in 0..leaf.shape().len() {
                let seeds: Vec<(crate::NodeId, Vec<Dual<f64>>)> = leaves
                    .iter()
                    .enumerate()
                    .map(|(j, l)| {
                        let values = l.to_vec();
                        let tangent = |e: usize| if (j, e) == (k, element) { 1.0 } else { 0.0 };
                        (l.id(), values.iter().enumerate().map(|(e, &v)| Dual::new(v, tangent(e))).collect())
                    })
                    .collect();
                let Ok(slots) = crate::graph::forward::evaluate_all(arena, &seeds) else { return f64::INFINITY };
                for node in (0..=last).filter(|&n| needed[n as usize]) {
                    let tangents = slots.get(arena, node).unwrap_or_default().iter().map(|d| d.eps.abs());
                    largest = tangents.filter(|t| t.is_finite()).fold(largest, f64::max);
                }
            }
        }
        largest
    })
}

/// Every entry of the gradient of scalar `out` with respect to `leaves`, by forward mode and
/// by reverse mode; panics where they disagree (see [`agree`]), or where one mode refuses
/// the sweep and the other does not.
fn compare_modes(out: Tensor<'_>, leaves: &[Tensor<'_>], what: &dyn Fn() -> String) {
    let (forward, reverse) = match (crate::graph::forward::gradient(out, leaves), crate::grad(out, leaves)) {
        (Ok(forward), Ok(reverse)) => (forward, reverse),
        (Err(_), Err(_)) => return,
        (forward, reverse) => {
            panic!("{}: one mode refused the sweep: forward {forward:?}, reverse {reverse:?}", what())
        }
    };
    let pairs: Vec<(f64, f64)> = forward
        .iter()
        .zip(&reverse)
        .flat_map(|(f, r)| f.as_slice().iter().copied().zip(r.as_slice().iter().copied()))
        .collect();
    let entries = pairs.iter().flat_map(|&(f, r)| [f, r]).filter(|v| v.is_finite()).fold(0.0, |m, v| v.abs().max(m));
    let adjoints = largest_derivative_inside(out);
    let scale = entries.max(adjoints).max(adjoints * largest_tangent_inside(out, leaves));
    let singular = pairs.iter().any(|&(f, r)| !f.is_finite() || !r.is_finite()) && at_a_singular_point(out);
    for (fwd, rev) in pairs {
        assert!(agree(fwd, rev, scale, singular), "{}: forward {fwd} vs reverse {rev} (scale {scale})", what());
    }
}

/// A formula and a point (`FORMULA\nPOINT`): parsing and recording never panic, every error
/// points at a column inside the text, and forward and reverse mode agree wherever the
/// result is finite.
pub fn formula(data: &[u8]) {
    if data.len() > MAX_FORMULA {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (source, at) = text.split_once('\n').unwrap_or((text, ""));
    let formula = match Formula::parse(source) {
        Ok(f) => f,
        Err(e) => {
            let chars = source.chars().count();
            assert!(e.column >= 1 && e.column <= chars + 1, "column {} outside `{source}`", e.column);
            assert!(e.to_string().contains('^'));
            return;
        }
    };
    let Ok(point) = Point::parse(at) else { return };
    if point.names().any(|n| point.get(n).is_some_and(|(v, _)| v.len() > 64)) {
        return;
    }
    let g = Graph::new();
    let Ok(recorded) = formula.record(&g, &point) else { return };
    let Ok(value) = recorded.output.item() else { return };
    if !value.is_finite() || !recorded.output.requires_grad() {
        return;
    }
    let leaves: Vec<Tensor<'_>> = recorded.variables.values().copied().collect();
    if data.len() > MAX_INPUT {
        // A long formula: one forward sweep per input element would take the fuzzer's time
        // from finding new shapes, so only the reverse sweep runs (it must not panic).
        let _ = crate::grad(recorded.output, &leaves);
        return;
    }
    compare_modes(recorded.output, &leaves, &|| format!("`{source}` at `{at}`"));
}

/// A serialized graph: loading never panics, and what loads saves and loads back to the
/// same graph, bit for bit.
pub fn graph_file(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(graph) = FrozenGraph::from_json(text) else { return };
    let json = graph.to_json();
    let back = FrozenGraph::from_json(&json).unwrap_or_else(|e| panic!("a saved graph does not load: {e}\n{json}"));
    let bits = |g: &FrozenGraph| g.arena().all_values().map(|v| v.to_bits()).collect::<Vec<_>>();
    if graph.arena().all_values().all(|v| v.is_finite()) {
        assert_eq!(bits(&graph), bits(&back), "values changed through JSON");
        assert_eq!(back.to_json(), json);
    }
}

/// An op program decoded from bytes: 3 leaves, then `(op, a, b)` steps over the table.
/// Recording never panics (bad shapes are errors), and forward and reverse mode agree on
/// the output's gradient wherever it is finite.
pub fn op_program(data: &[u8]) {
    if data.len() > MAX_INPUT || data.len() < 6 {
        return;
    }
    let value = |b: u8| f64::from(b) / 42.5 - 3.0;
    let g = Graph::new();
    let leaves = [
        g.vector(&[value(data[0]), value(data[1]), value(data[2])]).requires_grad_(),
        g.scalar(value(data[3])).requires_grad_(),
        g.matrix(1, 2, &[value(data[4]), value(data[5])]).unwrap_or_else(|_| g.scalar(0.0)).requires_grad_(),
    ];
    let mut nodes: Vec<Tensor<'_>> = leaves.to_vec();
    for step in data[6..].chunks_exact(3) {
        let op = Op::all().nth(usize::from(step[0]) % Op::COUNT).unwrap_or(Op::Unary(crate::UnaryOp::Neg));
        let (a, b) = (nodes[usize::from(step[1]) % nodes.len()], nodes[usize::from(step[2]) % nodes.len()]);
        let result = match (op.node_arity(), op.arity()) {
            (1, 1) => a.try_op(op, &[]),
            // an attribute: `b`'s values, in `b`'s shape
            (1, _) => g.try_record_with(op, &[a], &[(&b.to_vec(), b.shape())]),
            // an index or a mask of zeros and ones
            (3, _) if op == Op::Structural(crate::StructuralOp::Where) => a.try_where_(b.gt(0.0), b),
            (3, _) => a.try_op(op, &[b, b.gt(0.0)]),
            (2, 2) if !op.differentiates(1) => a.try_op(op, &[b.gt(0.0)]),
            _ => a.try_op(op, &[b]),
        };
        if let Ok(t) = result {
            nodes.push(t);
        }
    }
    let last = nodes[nodes.len() - 1];
    let Ok(out) = last.try_op(Op::Structural(crate::StructuralOp::Sum), &[]) else { return };
    let Ok(value) = out.item() else { return };
    if !value.is_finite() || !out.requires_grad() {
        return;
    }
    compare_modes(out, &leaves, &|| format!("program {data:?}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_equality_to_rounding_or_the_same_non_finite_value() {
        assert!(agree(1.0, 1.0 + 1e-12, 1.0, false));
        assert!(!agree(1.0, 1.0 + 1e-6, 1.0, false));
        assert!(agree(1.0, 1.0 + 1e-6, 1e4, false), "relative to the largest term summed");
        assert!(agree(f64::NAN, f64::NAN, 1.0, false));
        assert!(agree(f64::INFINITY, f64::INFINITY, 1.0, false));
        assert!(!agree(f64::INFINITY, f64::NEG_INFINITY, 1.0, false));
        assert!(!agree(0.0, f64::NAN, 1.0, false), "finite against NaN is a disagreement");
        assert!(!agree(f64::INFINITY, 2.0, 1.0, false));
        assert!(agree(0.0, f64::NAN, 1.0, true), "unless an op is at a singular point");
    }

    #[test]
    fn a_singular_point_is_found_only_where_a_local_partial_is_not_finite() {
        let g = Graph::new();
        let x = g.vector(&[0.5, 2.0]).requires_grad_();
        assert!(!at_a_singular_point((x * x).sin().sum()));
        let zero = x - x;
        assert!(at_a_singular_point(zero.sqrt().sum()), "sqrt at 0");
        assert!(!at_a_singular_point(zero.exp().sum()));
        assert!(at_a_singular_point(zero.reciprocal().sum()), "a pole: a non-finite value too");
    }
}
