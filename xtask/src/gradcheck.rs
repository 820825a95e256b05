//! `cargo xtask gradcheck`: every op of the table, reverse mode against central differences
//! of the primal, at points spread over its checking domain.
//!
//! This is the interim check of the foundation; the cross-validating checker
//! (`slope-check`: forward vs reverse vs Richardson-extrapolated differences, second order)
//! replaces its core when it lands.

use std::process::{Command, ExitCode};

use slope::prelude::Backward;
use slope::{BinaryOp, Domain, Graph, Op, Shape, StructuralOp};

/// Relative agreement demanded of reverse mode and a central difference.
const TOLERANCE: f64 = 1e-6;

pub struct Options {
    op: Option<Op>,
    points: usize,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { op: None, points: 16 };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--op" => {
                    let name = value()?;
                    let names: Vec<&str> = Op::all().map(Op::name).collect();
                    options.op =
                        Some(Op::from_name(name).ok_or(format!("unknown op `{name}`; ops: {}", names.join(", ")))?);
                }
                "--points" => {
                    let n = value()?;
                    options.points = n
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or(format!("--points needs a positive integer, got `{n}`"))?;
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

/// Points spread over a domain, away from its kinks.
fn sample(d: &Domain, count: usize, offset: f64) -> Vec<f64> {
    if d.integer {
        return (d.low.ceil() as i64..=d.high.floor() as i64).map(|n| n as f64).collect();
    }
    (0..count)
        .map(|i| d.low + (d.high - d.low) * ((i as f64 + offset) / count as f64))
        .filter(|x| d.kinks.iter().all(|k| (x - k.at).abs() > 1e-3))
        .collect()
}

/// Inputs of an op at one sample: shapes and values.
fn inputs(op: Op, points: usize) -> Vec<(Shape, Vec<f64>)> {
    let domains = op.domains();
    match op {
        Op::Unary(_) => {
            let a = sample(&domains[0], points, 0.5);
            vec![(Shape::Vector(a.len()), a)]
        }
        Op::Binary(b) => {
            let a = sample(&domains[0], points, 0.5);
            let mut c = sample(&domains[1], points, 0.31);
            if matches!(b, BinaryOp::PowI | BinaryOp::PowF) {
                // a constant exponent is one scalar, broadcast
                c.truncate(1);
                return vec![(Shape::Vector(a.len()), a), (Shape::Scalar, c)];
            }
            let n = a.len().min(c.len());
            vec![(Shape::Vector(n), a[..n].to_vec()), (Shape::Vector(n), c[..n].to_vec())]
        }
        Op::Structural(s) => {
            let v = |offset| sample(&Domain::interval(-2.0, 2.0), 6, offset);
            match s {
                StructuralOp::Sum | StructuralOp::Mean => vec![(Shape::Vector(6), v(0.5))],
                StructuralOp::Dot => vec![(Shape::Vector(6), v(0.5)), (Shape::Vector(6), v(0.2))],
                StructuralOp::Matmul => vec![(Shape::Matrix(2, 3), v(0.5)), (Shape::Matrix(3, 2), v(0.2))],
                StructuralOp::Transpose => vec![(Shape::Matrix(2, 3), v(0.5))],
            }
        }
    }
}

/// `sum(w ∘ op(inputs))` with fixed weights `w`, so every output element matters.
fn loss(op: Op, inputs: &[(Shape, Vec<f64>)]) -> f64 {
    let g = Graph::new();
    let tensors: Vec<_> = inputs.iter().map(|(s, v)| g.try_tensor(*s, v).expect("valid sample")).collect();
    weighted(&g, op, &tensors).item().expect("scalar loss")
}

fn weighted<'g>(g: &'g Graph, op: Op, tensors: &[slope::Tensor<'g>]) -> slope::Tensor<'g> {
    let y = tensors[0].try_op(op, &tensors[1..]).expect("shapes fit the op");
    let weights: Vec<f64> = (0..y.shape().len()).map(|i| 1.0 + 0.25 * i as f64).collect();
    let w = g.try_tensor(y.shape(), &weights).expect("weights fit");
    (y * w).sum()
}

struct Row {
    op: Op,
    points: usize,
    worst: f64,
    at: String,
}

fn check(op: Op, points: usize) -> Row {
    let samples = inputs(op, points);
    let g = Graph::new();
    let tensors: Vec<_> = samples
        .iter()
        .enumerate()
        .map(|(k, (s, v))| {
            let t = g.try_tensor(*s, v).expect("valid sample");
            if op.differentiates(k) {
                t.requires_grad_()
            } else {
                t
            }
        })
        .collect();
    weighted(&g, op, &tensors).backward().expect("backward of a scalar loss");
    let mut row = Row { op, points: 0, worst: 0.0, at: String::new() };
    for (k, t) in tensors.iter().enumerate() {
        if !op.differentiates(k) {
            continue;
        }
        let analytic = t.grad().expect("a differentiated input has a gradient");
        for (i, &reverse) in analytic.as_slice().iter().enumerate() {
            let x = samples[k].1[i];
            let h = 1e-6 * x.abs().max(1.0);
            let at = |dx: f64| {
                let mut moved = samples.clone();
                moved[k].1[i] += dx;
                loss(op, &moved)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            let error = (reverse - numeric).abs() / numeric.abs().max(1.0);
            row.points += 1;
            if error.is_nan() || error > row.worst {
                row.worst = error;
                row.at = format!("input {k}[{i}] = {x:.4}: reverse {reverse:.10}, central difference {numeric:.10}");
            }
        }
    }
    row
}

pub fn run(options: &Options) -> ExitCode {
    let ops: Vec<Op> = match options.op {
        Some(op) => vec![op],
        None => Op::all().collect(),
    };
    println!("reverse mode vs central differences, tolerance {TOLERANCE:e} relative");
    println!("{:<12} {:<20} {:>7} {:>12}  result", "op", "grad_fn", "points", "worst error");
    let mut failures = Vec::new();
    let checked = ops.len();
    for op in ops {
        let row = check(op, options.points);
        let pass = row.worst <= TOLERANCE;
        println!(
            "{:<12} {:<20} {:>7} {:>12.2e}  {}",
            row.op.name(),
            row.op.grad_fn_name(),
            row.points,
            row.worst,
            if pass { "ok" } else { "FAIL" }
        );
        if !pass {
            failures.push(row);
        }
    }
    for row in &failures {
        eprintln!("FAIL {}: worst at {}", row.op.name(), row.at);
        eprintln!("  reproduce: cargo xtask gradcheck --op {} --points {}", row.op.name(), options.points);
    }
    if !failures.is_empty() {
        return ExitCode::FAILURE;
    }
    println!("\nall {checked} op(s) agree; replaying the notebook (cargo run --example notebook):\n");
    let status = Command::new(env!("CARGO")).args(["run", "--quiet", "-p", "slope", "--example", "notebook"]).status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => {
            eprintln!("the notebook example failed: run `cargo run --example notebook`");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_agrees_with_central_differences() {
        for op in Op::all() {
            let row = check(op, 5);
            assert!(row.points > 0, "{}: nothing checked", op.name());
            assert!(row.worst <= TOLERANCE, "{}: worst at {}", op.name(), row.at);
        }
    }

    #[test]
    fn options_reject_bad_arguments() {
        let parse = |args: &[&str]| Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(parse(&["--op", "sine"]).is_err());
        assert!(parse(&["--points", "0"]).is_err());
        assert!(parse(&["--points"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert_eq!(parse(&["--op", "sin", "--points", "3"]).map(|o| (o.op, o.points)), Ok((Op::from_name("sin"), 3)));
    }
}
