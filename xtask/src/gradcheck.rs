//! `cargo xtask gradcheck`: the whole op table checked by slope-check, forward mode vs
//! reverse mode vs Richardson-extrapolated finite differences, first and second order.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use slope::check::{check_op, Options as CheckOptions, Pair, Report};
use slope::Op;

pub struct Options {
    op: Option<Op>,
    points: usize,
    seed: u64,
    json: Option<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { op: None, points: 2500, seed: 17, json: None };
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
                "--seed" => {
                    let n = value()?;
                    options.seed = n.parse().map_err(|_| format!("--seed needs an integer, got `{n}`"))?;
                }
                "--json" => options.json = Some(value()?.clone()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

const PAIRS: [Pair; 5] = [
    Pair::ForwardReverse,
    Pair::ForwardFiniteDifference,
    Pair::ReverseFiniteDifference,
    Pair::SecondOrder,
    Pair::Convention,
];

fn cell(report: &Report, op: Op, pair: Pair) -> String {
    match report.rows.iter().find(|r| r.subject == op.name() && r.pair == pair) {
        None => "-".into(),
        Some(row) => {
            let worst = row.worst.as_ref().map_or(0.0, |w| w.error);
            format!("{worst:.1e}{}", if row.passed() { "" } else { "!" })
        }
    }
}

pub fn run(options: &Options) -> ExitCode {
    let ops: Vec<Op> = options.op.map_or_else(|| Op::all().collect(), |op| vec![op]);
    let check = CheckOptions { points: options.points, seed: options.seed, ..CheckOptions::default() };
    let t = check.tolerances;
    println!(
        "forward vs reverse (tolerance {:.0e}), each vs Richardson finite differences ({:.0e}), second order ({:.0e})",
        t.analytic, t.finite_difference, t.second_order
    );
    println!("{} random points per op, seed {}, plus edge cases and kinks\n", options.points, options.seed);
    println!(
        "{:<11} {:<20} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7}  result",
        "op", "grad_fn", "entries", "fwd/rev", "fwd/fd", "rev/fd", "2nd/fd", "kink"
    );
    let started = Instant::now();
    let mut report = Report::default();
    for (k, &op) in ops.iter().enumerate() {
        eprint!("\r[{}/{}] {:<12}", k + 1, ops.len(), op.name());
        let _ = std::io::stderr().flush();
        let one = check_op(op, &check);
        eprint!("\r{:<24}\r", "");
        let points =
            one.rows.iter().filter(|r| r.pair == Pair::ForwardReverse).map(|r| r.comparisons).max().unwrap_or(0);
        let cells: Vec<String> = PAIRS.iter().map(|&p| cell(&one, op, p)).collect();
        println!(
            "{:<11} {:<20} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7}  {}",
            op.name(),
            op.grad_fn_name(),
            points,
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            if one.passed() { "ok" } else { "FAIL" }
        );
        report.extend(one);
    }
    let failed: Vec<_> = report.failures().collect();
    println!(
        "\n{} ops, {} comparisons, {} failed, in {:.1?}",
        ops.len(),
        report.comparisons(),
        failed.iter().map(|r| r.failures).sum::<u64>(),
        started.elapsed()
    );
    if let Some(path) = &options.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json).map_err(|e| format!("cannot write {path}: {e}")));
        if let Err(e) = written {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        println!("report written to {path}");
    }
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    for row in failed {
        if let Some(line) = row.failure() {
            eprintln!("{line}");
        }
        eprintln!(
            "  reproduce: cargo xtask gradcheck --op {} --seed {} --points {}",
            row.subject, options.seed, options.points
        );
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reject_bad_arguments() {
        let parse = |args: &[&str]| Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(parse(&["--op", "sine"]).is_err());
        assert!(parse(&["--points", "0"]).is_err());
        assert!(parse(&["--points"]).is_err());
        assert!(parse(&["--seed", "x"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        let o = parse(&["--op", "sin", "--points", "3", "--seed", "5", "--json", "r.json"]).unwrap();
        assert_eq!((o.op, o.points, o.seed, o.json.as_deref()), (Op::from_name("sin"), 3, 5, Some("r.json")));
    }
}
