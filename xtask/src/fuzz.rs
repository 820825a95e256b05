//! `cargo xtask fuzz [--secs N] [--target NAME]`: runs each cargo-fuzz target of `fuzz/` for
//! N seconds (nightly and cargo-fuzz needed), from the committed seeds and regressions.

use std::path::Path;
use std::process::{Command, ExitCode};

pub const TARGETS: [&str; 3] = ["formula", "graph_file", "op_program"];

/// The longest input libFuzzer generates for a target (`-max_len`): a formula up to 1 MiB,
/// so that long and deeply nested formulas are tried; the others stay short.
fn max_len(target: &str) -> usize {
    match target {
        "formula" => slope::fuzzing::MAX_FORMULA,
        _ => slope::fuzzing::MAX_INPUT,
    }
}

pub struct Options {
    secs: u64,
    target: Option<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { secs: 60, target: None };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--secs" => {
                    let v = value()?;
                    options.secs = v
                        .parse()
                        .ok()
                        .filter(|&s| s > 0)
                        .ok_or(format!("--secs needs a positive integer, got `{v}`"))?;
                }
                "--target" => {
                    let v = value()?;
                    if !TARGETS.contains(&v.as_str()) {
                        return Err(format!("unknown target `{v}`; targets: {}", TARGETS.join(", ")));
                    }
                    options.target = Some(v.clone());
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

pub fn run(options: &Options) -> ExitCode {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut failed = Vec::new();
    for target in TARGETS.iter().filter(|t| options.target.as_deref().is_none_or(|o| o == **t)) {
        let corpus = fuzz.join("corpus").join(target);
        let _ = std::fs::create_dir_all(&corpus);
        println!("== {target}: {} s", options.secs);
        // libFuzzer stops at a corpus folder that does not exist: pass only those there are.
        let committed = ["seeds", "regressions"].map(|dir| fuzz.join(dir).join(target));
        let status = Command::new("cargo")
            .current_dir(&fuzz)
            .args(["+nightly", "fuzz", "run", target])
            .arg(&corpus)
            .args(committed.iter().filter(|dir| dir.is_dir()))
            .arg("--")
            .arg(format!("-max_total_time={}", options.secs))
            .arg(format!("-max_len={}", max_len(target)))
            // Long inputs from the start, not grown slowly from short ones: the formula
            // target exists to try long and deep formulas.
            .arg(format!("-len_control={}", if *target == "formula" { 0 } else { 100 }))
            .status();
        match status {
            Ok(s) if s.success() => println!("== {target}: nothing found"),
            Ok(_) => failed.push(*target),
            Err(e) => {
                eprintln!("cannot run cargo fuzz ({e}): install it with `cargo install cargo-fuzz` (needs the nightly toolchain)");
                return ExitCode::from(2);
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "fuzzing found a failure in: {}. The crashing input is under fuzz/artifacts/; minimize it with \
             `cargo +nightly fuzz tmin <target> <file>`, copy it to fuzz/regressions/<target>/ and fix the bug",
            failed.join(", ")
        );
        ExitCode::FAILURE
    }
}
