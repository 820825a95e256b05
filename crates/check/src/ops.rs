//! Checking the op table: random points in each op's domain, its edge cases, every shape
//! it takes, broadcasting, and its conventions at kinks.

use slope_graph::{BinaryOp, Domain, Op, Shape, StructuralOp};

use crate::compare::check_at;
use crate::report::{Pair, Report, Row};
use crate::rng::Rng;
use crate::subject::{OpSubject, Subject};
use crate::Options;

/// The input shapes an op is checked at.
pub fn shape_cases(op: Op) -> Vec<Vec<Shape>> {
    use Shape::{Matrix as M, Scalar as S, Vector as V};
    match op {
        Op::Unary(_) => vec![vec![S], vec![V(3)], vec![M(2, 2)]],
        Op::Binary(BinaryOp::PowI | BinaryOp::PowF) => vec![vec![S, S], vec![V(3), S]],
        Op::Binary(_) => vec![vec![S, S], vec![V(3), V(3)], vec![S, V(3)], vec![V(3), S], vec![M(2, 2), M(2, 2)]],
        Op::Structural(s) => match s {
            StructuralOp::Sum | StructuralOp::Mean | StructuralOp::Transpose => {
                vec![vec![V(4)], vec![M(2, 3)], vec![S]]
            }
            StructuralOp::Dot => vec![vec![V(3), V(3)]],
            StructuralOp::Slice => vec![vec![V(3), V(2)], vec![V(4), V(5)]],
            StructuralOp::Matmul => {
                vec![vec![M(2, 3), M(3, 2)], vec![M(2, 3), V(3)], vec![V(2), M(2, 3)], vec![V(3), V(3)]]
            }
        },
    }
}

/// A random value in a domain, at least `1e-6` from its kinks.
fn sample(domain: &Domain, rng: &mut Rng) -> f64 {
    loop {
        let x = rng.uniform(domain.low, domain.high);
        let x = if domain.integer { x.round() } else { x };
        if domain.kinks.iter().all(|k| (x - k.at).abs() > 1e-6) {
            return x;
        }
    }
}

fn inputs(op: Op, shapes: &[Shape], rng: &mut Rng) -> Vec<(Shape, Vec<f64>)> {
    shapes.iter().zip(op.domains()).map(|(&s, d)| (s, (0..s.len()).map(|_| sample(d, rng)).collect())).collect()
}

fn check(op: Op, inputs: &[(Shape, Vec<f64>)], options: &Options) -> Report {
    let subject = OpSubject::new(op, inputs);
    let x = OpSubject::point(op, inputs);
    check_at(&subject, &x, &options.tolerances, options.second_order)
}

/// Checks one op: `options.points` random points spread over its shape cases, then each
/// edge case of each differentiated input (at scalar shape), then its kinks.
pub fn check_op(op: Op, options: &Options) -> Report {
    let mut rng =
        Rng::new(options.seed ^ (op.name().bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))));
    let cases = shape_cases(op);
    let mut report = Report::default();
    for p in 0..options.points {
        let shapes = &cases[p % cases.len()];
        report.extend(check(op, &inputs(op, shapes, &mut rng), options));
    }
    let scalar = &cases[0];
    for (k, domain) in op.domains().iter().enumerate() {
        if !op.differentiates(k) {
            continue;
        }
        for &edge in domain.edges {
            let mut args = inputs(op, scalar, &mut rng);
            args[k].1.iter_mut().for_each(|v| *v = edge);
            report.extend(check(op, &args, options));
        }
    }
    if let Op::Unary(u) = op {
        let mut row = Row::new(op.name(), Pair::Convention, 0.0);
        for kink in u.domain().kinks {
            let subject = OpSubject::new(op, &[(Shape::Scalar, vec![kink.at])]);
            let x = [kink.at];
            row.compare(|| "forward at the kink".into(), &x, subject.jvp(&x, &[1.0])[0], kink.derivative);
            row.compare(|| "reverse at the kink".into(), &x, subject.vjp(&x, &[1.0])[0], kink.derivative);
        }
        if row.comparisons > 0 {
            report.rows.push(row);
        }
    }
    report
}
