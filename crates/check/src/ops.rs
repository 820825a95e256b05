//! Checking the op table: random points in each op's domain, its edge cases, every shape
//! it takes, broadcasting, and its conventions at kinks.

use slope_graph::{Domain, Op, Shape};

use crate::compare::check_at;
use crate::report::{Pair, Report, Row};
use crate::rng::Rng;
use crate::subject::{OpSubject, Subject};
use crate::Options;

/// A random value for element `k` of `n` in a domain, at least `1e-6` from its kinks.
fn sample(domain: &Domain, k: usize, n: usize, rng: &mut Rng) -> f64 {
    loop {
        let x = domain.at_element(rng.uniform(0.0, 1.0), k, n);
        if domain.kinks.iter().all(|k| (x - k.at).abs() > 1e-6) {
            return x;
        }
    }
}

fn inputs(op: Op, shapes: &[Shape], rng: &mut Rng) -> Vec<(Shape, Vec<f64>)> {
    shapes
        .iter()
        .zip(op.domains())
        .map(|(&s, d)| (s, (0..s.len()).map(|k| sample(d, k, s.len(), rng)).collect()))
        .collect()
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
    let cases = op.shape_cases();
    let mut report = Report::default();
    for p in 0..options.points {
        let shapes = cases[p % cases.len()];
        report.extend(check(op, &inputs(op, shapes, &mut rng), options));
    }
    let scalar = cases[0];
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
    let mut row = Row::new(op.name(), Pair::Convention, 0.0);
    for (k, domain) in op.domains().iter().enumerate() {
        for kink in domain.kinks {
            let mut args = inputs(op, scalar, &mut rng);
            args[k].1 = vec![kink.at];
            let subject = OpSubject::new(op, &args);
            let x = OpSubject::point(op, &args);
            let mut seed = vec![0.0; x.len()];
            seed[k] = 1.0;
            let forward = subject.jvp(&x, &seed)[0];
            let reverse = subject.vjp(&x, &[1.0])[k];
            row.compare(|| format!("forward at the kink of input {k}"), &x, forward, kink.derivative);
            row.compare(|| format!("reverse at the kink of input {k}"), &x, reverse, kink.derivative);
        }
    }
    if row.comparisons > 0 {
        report.rows.push(row);
    }
    report
}
