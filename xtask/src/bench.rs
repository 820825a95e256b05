//! `cargo xtask bench`: runs the criterion benchmarks and prints, per workload and size,
//! each variant's median and its ratios to the plain-`f64` primal and to the hand-written
//! derivative measured in the same run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

pub struct Options {
    run: bool,
    filter: Option<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { run: true, filter: None };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--no-run" => options.run = false,
                "--filter" => options.filter = Some(it.next().ok_or("--filter needs a value")?.clone()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

/// `(group, size) -> variant -> median seconds`.
type Table = BTreeMap<(String, u64), BTreeMap<String, f64>>;

fn median_ns(estimates: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(estimates).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn collect(root: &Path) -> Table {
    let mut table = Table::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p).map(|r| r.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()).unwrap_or_default()
    };
    for group in dirs(root) {
        for variant in dirs(&group) {
            for size in dirs(&variant) {
                let (Some(g), Some(v), Some(s)) = (group.file_name(), variant.file_name(), size.file_name()) else {
                    continue;
                };
                let (Some(n), Some(t)) =
                    (s.to_str().and_then(|s| s.parse().ok()), median_ns(&size.join("new/estimates.json")))
                else {
                    continue;
                };
                table.entry((g.to_string_lossy().into(), n)).or_default().insert(v.to_string_lossy().into(), t);
            }
        }
    }
    table
}

fn human(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.1} ns"),
        ns if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{:.2} ms", ns / 1e6),
    }
}

pub fn run(options: &Options) -> ExitCode {
    if options.run {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["bench", "-p", "slope-benches"]);
        if let Some(f) = &options.filter {
            cmd.args(["--", f]);
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            _ => {
                eprintln!("the benchmarks failed: run `cargo bench -p slope-benches` to see why");
                return ExitCode::FAILURE;
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let table = collect(&root);
    if table.is_empty() {
        eprintln!("no criterion results under {}: run `cargo xtask bench` without --no-run", root.display());
        return ExitCode::FAILURE;
    }
    println!("{:<14} {:>7}  {:<18} {:>11} {:>10} {:>10}", "workload", "size", "variant", "median", "/primal", "/hand");
    for ((group, size), variants) in &table {
        if options.filter.as_ref().is_some_and(|f| !group.contains(f.as_str())) {
            continue;
        }
        let primal = variants.get("primal").copied();
        let hand = variants.get("hand").copied();
        for (variant, &t) in variants {
            let ratio = |base: Option<f64>| base.map_or("-".into(), |b| format!("{:.2}x", t / b));
            println!("{group:<14} {size:>7}  {variant:<18} {:>11} {:>10} {:>10}", human(t), ratio(primal), ratio(hand));
        }
    }
    summary(&table);
    ExitCode::SUCCESS
}

/// The derived figures: parallel speedups, memory per node, nodes per second.
fn summary(table: &Table) {
    println!();
    for ((group, size), variants) in table {
        if let (Some(one), Some(two)) = (variants.get("slope_1_threads"), variants.get("slope_2_threads")) {
            println!("{group} {size}: 2 threads are {:.2}x faster than 1", one / two);
        }
    }
    let n = 10_000;
    let nodes = slope_benches::w1_recorded_nodes(n);
    let g = slope::Graph::new();
    let x = g.vars(&slope_benches::rosenbrock_point(n));
    let _ = slope_benches::rosenbrock(&x);
    let used = g.with_arena(|arena| arena.used_bytes());
    println!(
        "bytes per recorded scalar node: {:.1} in use ({}-byte node holding the value and partials), {:.1} held by the buffers",
        used as f64 / g.len() as f64,
        slope::graph::Arena::NODE_BYTES,
        g.memory_bytes() as f64 / g.len() as f64
    );
    if let Some(t) = table.get(&("w1_reverse".to_string(), n as u64)).and_then(|v| v.get("slope_var")) {
        println!(
            "W1 n = {n}: {nodes} nodes recorded and swept in {}: {:.1} million nodes per second",
            human(*t),
            nodes as f64 / t * 1e3
        );
    }
}
