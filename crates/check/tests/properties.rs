//! Property tests: random points for every op, and random expression graphs built from the
//! whole op table, checked in every mode. Failures shrink to a minimal plan; proptest keeps
//! them in `proptest-regressions/`, which is committed and replayed first.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use slope_check::{check_at, check_graph, OpSubject, Tolerances};
use slope_graph::{BinaryOp, Domain, Error, Graph, Op, Shape, StructuralOp, Tensor};

fn op_at(index: usize) -> Op {
    Op::all().nth(index % Op::COUNT).unwrap_or(Op::Structural(StructuralOp::Sum))
}

/// `unit ∈ [0, 1)` mapped into a domain's sampling interval.
fn into_domain(d: &Domain, unit: f64) -> f64 {
    d.at(unit)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_op_agrees_across_modes_at_random_points(
        index in 0..Op::COUNT,
        units in proptest::collection::vec(0.0..1.0f64, 6),
        case in any::<usize>(),
    ) {
        let op = op_at(index);
        let cases = op.shape_cases();
        let shapes = cases[case % cases.len()];
        let mut u = units.iter().cycle();
        let inputs: Vec<(Shape, Vec<f64>)> = shapes
            .iter()
            .zip(op.domains())
            .map(|(&s, d)| (s, (0..s.len()).map(|k| d.at_element(*u.next().unwrap_or(&0.5), k, s.len())).collect()))
            .collect();
        // off the kinks, where finite differences do not apply
        let off_kinks = inputs.iter().zip(op.domains()).all(|((_, v), d)| v.iter().all(|x| d.kinks.iter().all(|k| (x - k.at).abs() > 1e-6)));
        prop_assume!(off_kinks);
        let report = check_at(&OpSubject::new(op, &inputs), &OpSubject::point(op, &inputs), &Tolerances::default(), true);
        prop_assert!(report.passed(), "{} at {:?}\n{}", op.name(), inputs, report);
    }
}

/// One node of a random graph: an op of the table (by index), two operands among the
/// nodes before it (by index), and a number for a constant exponent.
#[derive(Clone, Debug)]
struct Step {
    op: usize,
    a: usize,
    b: usize,
    constant: f64,
}

fn step() -> impl Strategy<Value = Step> {
    (0..Op::COUNT, any::<usize>(), any::<usize>(), 0.0..1.0f64).prop_map(|(op, a, b, constant)| Step {
        op,
        a,
        b,
        constant,
    })
}

/// Whether every element of `t` lies inside the domain's support, off its kinks, with a margin.
fn fits(t: &Tensor<'_>, d: &Domain) -> bool {
    t.to_vec().iter().all(|&x| {
        let margin = 1e-2 * x.abs().max(1.0);
        x > d.support.0 + margin && x < d.support.1 - margin && d.kinks.iter().all(|k| (x - k.at).abs() > 1e-2)
    })
}

/// Why a step was not recorded: its op is outside its domain at these operands (the step is
/// skipped, so shrinking stays meaningful), or the graph refused the operands' shapes.
/// Any other error fails the test: random graphs must not meet one.
fn refused_for_shapes(e: &Error) -> bool {
    matches!(
        e,
        Error::ShapeMismatch { .. }
            | Error::Arity { .. }
            | Error::NeedsScalar { .. }
            | Error::Reshape { .. }
            | Error::RankAbove { .. }
            | Error::Permutation { .. }
            | Error::BadShape { .. }
            | Error::Dim { .. }
            | Error::EmptyReduction { .. }
            | Error::DataLength { .. }
            | Error::RowIndex { .. }
            | Error::ClassLabel { .. }
            | Error::SliceRange { .. }
    )
}

/// Records `step` on `nodes`, keeping to each op's domain: `Ok(None)` when the op does not
/// fit its operands (outside its domain, or shapes the op refuses), an error for any other
/// refusal.
fn record<'g>(nodes: &[Tensor<'g>], step: &Step) -> Result<Option<Tensor<'g>>, Error> {
    let op = op_at(step.op);
    let a = nodes[step.a % nodes.len()];
    let b = nodes[step.b % nodes.len()];
    let domains = op.domains();
    let attempt: Option<Result<Tensor<'g>, Error>> = match op {
        Op::Unary(_) => fits(&a, &domains[0]).then(|| a.try_op(op, &[])),
        // a constant exponent, drawn from its domain
        Op::Binary(b) if !b.differentiates(1) => {
            fits(&a, &domains[0]).then(|| a.try_binary_scalar(b, into_domain(&domains[1], step.constant)))
        }
        Op::Binary(BinaryOp::Rem) => {
            // fmod jumps where a / b is an integer, which no domain of one input can say:
            // keep well away
            match a.try_div(b) {
                Err(e) => Some(Err(e)),
                Ok(q) => {
                    let q = q.to_vec();
                    let far = q.iter().all(|q| (q - q.round()).abs() > 0.1) && b.to_vec().iter().all(|b| b.abs() > 0.5);
                    far.then(|| a.try_op(op, &[b]))
                }
            }
        }
        Op::Binary(BinaryOp::Maximum | BinaryOp::Minimum) => {
            // the kink is where the operands meet, which no domain of one input can say
            match a.try_sub(b) {
                Err(e) => Some(Err(e)),
                Ok(d) => d.to_vec().iter().all(|d| d.abs() > 0.1).then(|| a.try_op(op, &[b])),
            }
        }
        Op::Binary(_) => (fits(&a, &domains[0]) && fits(&b, &domains[1])).then(|| a.try_op(op, &[b])),
        Op::Structural(StructuralOp::Max | StructuralOp::Min | StructuralOp::Amax | StructuralOp::Amin) => {
            // the kink is where two elements meet: keep them apart
            let mut v = a.to_vec();
            v.sort_by(f64::total_cmp);
            v.windows(2).all(|w| w[1] - w[0] > 0.1).then(|| a.try_op(op, &[]))
        }
        Op::Structural(StructuralOp::Clamp) => {
            // constant bounds, kept away from every element (the kinks)
            let (lo, hi) = (step.constant * 2.0 - 1.5, step.constant * 2.0 - 0.5);
            let apart = a.to_vec().iter().all(|v| (v - lo).abs() > 0.1 && (v - hi).abs() > 0.1);
            apart.then(|| a.try_clamp(lo, hi))
        }
        Op::Structural(StructuralOp::CrossEntropy) => {
            // logits against a constant label drawn from the classes
            let classes = a.shape().len();
            let label = a.graph().scalar((step.constant * classes as f64).floor());
            Some(a.try_op(op, &[label]))
        }
        Op::Structural(StructuralOp::IndexSelect) => {
            // constant rows drawn from the rows there are, one repeated
            let rows = a.shape().len().max(1);
            let pick = (step.constant * rows as f64).floor() as usize;
            Some(a.try_index_select(&[pick, 0, pick]))
        }
        Op::Structural(StructuralOp::Slice) => {
            // a constant range drawn from the elements there are, at least one long
            let len = a.shape().len();
            let start = ((step.constant * len as f64).floor() as usize).min(len.saturating_sub(1));
            Some(a.try_slice(start, len))
        }
        Op::Structural(StructuralOp::Reshape) => {
            // to rank 3, so later steps broadcast and reduce tensors of rank 3 too
            Some(a.try_view(&[1, -1, 1]))
        }
        Op::Structural(StructuralOp::Permute) => {
            // a permutation drawn from those of rank 3 (a lower rank is viewed as rank 3 first)
            let perm = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]][(step.constant * 5.0) as usize % 5];
            let a = if a.shape().rank() == 3 { Ok(a) } else { a.try_view(&[-1, 1, 1]) };
            Some(a.and_then(|a| a.try_permute(&perm)))
        }
        Op::Structural(StructuralOp::Where) => {
            // a constant mask from the bits of the step's number, of the shape `a` and `b` make
            let Some(layout) = slope_graph::Broadcast::of(a.shape(), b.shape()) else { return Ok(None) };
            let bits = (step.constant * 256.0) as usize;
            let mask: Vec<f64> = (0..layout.shape.len()).map(|k| ((bits >> (k % 8)) & 1) as f64).collect();
            Some(a.graph().try_tensor(layout.shape, &mask).and_then(|mask| a.try_where_(mask, b)))
        }
        Op::Structural(StructuralOp::Gather | StructuralOp::ScatterAdd) if a.shape().rank() > 0 => {
            // a constant index of `a`'s shape, drawn from the step's number
            let width = a.shape().last_dim();
            let bits = (step.constant * 256.0) as usize;
            let picks: Vec<f64> = (0..a.shape().len()).map(|k| ((bits >> (k % 8)) % width) as f64).collect();
            let index = a.graph().try_tensor(a.shape(), &picks)?;
            Some(match op {
                Op::Structural(StructuralOp::Gather) => a.try_gather(-1, index),
                _ => b.try_broadcast_to(a.shape()).and_then(|src| a.try_scatter_add(-1, index, src)),
            })
        }
        Op::Structural(StructuralOp::SumToSize) => Some(a.try_sum_to_size(b.shape())),
        Op::Structural(StructuralOp::Expand) => (a.shape() != b.shape()).then(|| a.try_broadcast_to(b.shape())),
        Op::Structural(_) | Op::Custom(_) => Some(if op.arity() == 1 { a.try_op(op, &[]) } else { a.try_op(op, &[b]) }),
    };
    let result = match attempt {
        None => return Ok(None),
        Some(Err(e)) if refused_for_shapes(&e) => return Ok(None),
        Some(Err(e)) => return Err(e),
        Some(Ok(t)) => t,
    };
    let values = result.to_vec();
    Ok((values.iter().all(|v| v.is_finite() && v.abs() < 1e3)).then_some(result))
}

/// A random graph's leaves and recorded nodes, from the property's inputs.
fn random_graph<'g>(
    g: &'g Graph,
    inputs: usize,
    vector: bool,
    values: &[f64],
    steps: &[Step],
) -> Result<(Vec<Tensor<'g>>, Vec<Tensor<'g>>), Error> {
    let len = if vector { 3 } else { 1 };
    let leaves: Vec<Tensor<'g>> = (0..inputs)
        .map(|i| {
            let v = &values[i * len..(i + 1) * len];
            if vector { g.vector(v) } else { g.scalar(v[0]) }.requires_grad_()
        })
        .collect();
    let mut nodes = leaves.clone();
    for s in steps {
        if let Some(t) = record(&nodes, s)? {
            nodes.push(t);
        }
    }
    Ok((leaves, nodes))
}

fn graph_inputs() -> impl Strategy<Value = (usize, bool, Vec<f64>, Vec<Step>)> {
    (1..=4usize, any::<bool>(), proptest::collection::vec(-2.0..2.0f64, 12), proptest::collection::vec(step(), 1..40))
}

/// The random graphs must reach every op of the table, or their agreement says nothing of
/// the ops they miss: 256 graphs drawn as the property draws them record each op at least
/// once (a new op whose operands the generator never fits fails here).
#[test]
fn random_graphs_record_every_op_of_the_table() {
    let mut runner = TestRunner::deterministic();
    let mut recorded = BTreeSet::new();
    for _ in 0..256 {
        let (inputs, vector, values, steps) = graph_inputs().new_tree(&mut runner).unwrap().current();
        let g = Graph::new();
        let (leaves, nodes) = random_graph(&g, inputs, vector, &values, &steps).unwrap();
        for t in &nodes[leaves.len()..] {
            recorded.insert(t.grad_fn().unwrap().0.name());
        }
    }
    let missing: Vec<&str> = Op::all().map(|op| op.name()).filter(|name| !recorded.contains(name)).collect();
    assert!(missing.is_empty(), "ops no random graph recorded: {missing:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_graphs_agree_across_modes((inputs, vector, values, steps) in graph_inputs()) {
        let g = Graph::new();
        let recorded = random_graph(&g, inputs, vector, &values, &steps);
        prop_assert!(recorded.is_ok(), "a refusal no random graph should meet: {:?}", recorded.err());
        let Ok((leaves, nodes)) = recorded else { unreachable!() };
        let last = *nodes.last().unwrap_or(&leaves[0]);
        let output = if last.shape().is_scalar() { last } else { last.sum() };
        let ids: Vec<_> = leaves.iter().map(|t| t.id()).collect();
        let out = output.id();
        let recorded = nodes.len() - leaves.len();
        // Forward and reverse mode stay exact; finite differences through up to 40 composed
        // ops carry the rounding of every op, so the reference is looser than for one op.
        let tolerances = Tolerances { finite_difference: 1e-6, second_order: 1e-5, ..Tolerances::default() };
        let report = check_graph(&g.freeze(), &ids, out, &tolerances).unwrap();
        prop_assert!(report.passed(), "{} recorded nodes\n{}", recorded, report);
    }
}
