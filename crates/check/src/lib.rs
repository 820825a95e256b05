//! The gradient checker of slope: finite differences that cross-validate forward and
//! reverse mode.
//!
//! Every derivative is computed three independent ways and compared entry by entry:
//! forward mode (the primal evaluated on dual numbers), reverse mode (the VJPs), and
//! central differences of the primal with Richardson extrapolation. Second derivatives
//! are compared too: the hyper-dual Hessian against finite differences of the reverse
//! gradient. A [`Report`] names the worst entry of each comparison.
//!
//! - [`check_op`]: one op of the table, over random points of its domain, its edge cases,
//!   its shapes and broadcasting, and its kink conventions. [`check_table`]: all of them.
//! - [`check_graph`]: a recorded graph, at its recorded point.
//! - [`check_function`]: a function written once over `Float`.
//! - [`check_at`] with any [`Subject`]: anything else, including rules planted wrong.
//!
//! ```
//! use slope_check::{check_op, Options};
//! use slope_graph::Op;
//!
//! let report = check_op(Op::from_name("tanh").unwrap(), &Options { points: 20, ..Options::default() });
//! assert!(report.passed(), "{report}");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
// Jacobians and Hessians read best with the indices of their entries.
#![allow(clippy::needless_range_loop)]

mod compare;
pub mod fd;
mod ops;
mod report;
pub mod rng;
mod subject;

pub use compare::check_at;
pub use ops::check_op;
pub use report::{relative_error, Pair, Report, Row, Worst};
pub use slope_dual::Function;
pub use subject::{step_in, FunctionSubject, GraphSubject, OpSubject, Subject};

use serde::Serialize;
use slope_graph::{FrozenGraph, NodeId, Op};

/// How close two computations must be, as `|a - b| / max(|a|, |b|, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerances {
    /// Forward against reverse mode: both exact up to rounding.
    pub analytic: f64,
    /// Either mode against Richardson-extrapolated central differences.
    pub finite_difference: f64,
    /// The hyper-dual Hessian against finite differences of the reverse gradient.
    pub second_order: f64,
}

impl Default for Tolerances {
    /// `1e-12`, `1e-8`, `1e-7`: at least 100 times tighter than PyTorch's gradcheck
    /// (atol `1e-5`, rtol `1e-3`).
    fn default() -> Tolerances {
        Tolerances { analytic: 1e-12, finite_difference: 1e-8, second_order: 1e-7 }
    }
}

/// What [`check_op`] and [`check_table`] do.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Options {
    /// Random points per op (edge cases and kinks come on top).
    pub points: usize,
    /// Seed of the random points: the same seed checks the same points.
    pub seed: u64,
    /// Also compare second derivatives.
    pub second_order: bool,
    /// Tolerances.
    pub tolerances: Tolerances,
}

impl Default for Options {
    fn default() -> Options {
        Options { points: 100, seed: 17, second_order: true, tolerances: Tolerances::default() }
    }
}

/// Checks every op of the table ([`Op::all`]), so a new op is checked without being listed.
pub fn check_table(options: &Options) -> Report {
    let mut report = Report::default();
    for op in Op::all() {
        report.extend(check_op(op, options));
    }
    report
}

/// Checks a recorded graph at its recorded point: `output` as a function of `inputs`
/// (leaves that require grad).
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.vector(&[0.5, -1.0, 2.0]).requires_grad_();
/// let w = g.matrix(2, 3, &[1.0, 0.5, -0.5, 2.0, 0.0, 1.0]).unwrap().requires_grad_();
/// let y = w.matmul(x).tanh().sum();
/// let (x, w, y) = (x.id(), w.id(), y.id());
/// let report = slope_check::check_graph(&g.freeze(), &[x, w], y, &Default::default()).unwrap();
/// assert!(report.passed(), "{report}");
/// ```
pub fn check_graph(
    graph: &FrozenGraph,
    inputs: &[NodeId],
    output: NodeId,
    tolerances: &Tolerances,
) -> Result<Report, slope_graph::Error> {
    let subject = GraphSubject::new(graph, inputs, output)?;
    Ok(check_at(&subject, &subject.point(), tolerances, true))
}

/// A node of a graph whose input sits exactly on a kink of its op (`relu` or `abs` at 0):
/// there the derivative is a convention, which finite differences cannot see.
#[derive(Clone, Debug, PartialEq)]
pub struct KinkHit {
    /// The op's name.
    pub op: &'static str,
    /// Where the kink is.
    pub at: f64,
    /// The derivative slope reports there.
    pub derivative: f64,
}

/// The kinks the recorded values of `graph` sit on, up to node `output`: why a check at
/// this point can disagree with finite differences although every rule is right.
///
/// ```
/// use slope_graph::Graph;
///
/// let g = Graph::new();
/// let x = g.scalar(0.0).requires_grad_();
/// let y = (x.relu() + x).id();
/// let hits = slope_check::kinks_at(&g.freeze(), y).unwrap();
/// assert_eq!((hits[0].op, hits[0].at, hits[0].derivative), ("relu", 0.0, 0.0));
/// ```
pub fn kinks_at(graph: &FrozenGraph, output: NodeId) -> Result<Vec<KinkHit>, slope_graph::Error> {
    let arena = graph.arena();
    let last = arena.resolve(output)?;
    let mut hits = Vec::new();
    for id in arena.ids().take_while(|id| id.index() <= last) {
        let node = arena.node_info(id)?;
        let Some(op) = node.op.filter(|op| op.differentiates(0)) else { continue };
        let (Some(kinks), Some(&input)) = (op.domains().first().map(|d| d.kinks), node.inputs.first()) else {
            continue;
        };
        let values = arena.node_info(input)?.value;
        for kink in kinks {
            if values.contains(&kink.at) && !hits.iter().any(|h: &KinkHit| h.op == op.name() && h.at == kink.at) {
                hits.push(KinkHit { op: op.name(), at: kink.at, derivative: kink.derivative });
            }
        }
    }
    Ok(hits)
}

/// Checks a function written once over `Float` at `x`, in all three modes and at second
/// order.
pub fn check_function<F: Function>(f: &F, x: &[f64], tolerances: &Tolerances) -> Report {
    check_at(&FunctionSubject(f), x, tolerances, true)
}
