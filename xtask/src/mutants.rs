//! `cargo xtask mutants [--file PATH]`: cargo-mutants over the derivative code (the rules,
//! the structural ops' VJPs, the reverse rules, custom ops, the chunked passes' tangents),
//! each file with the tests that exercise it, so every branch of a rule has a test that
//! fails when it is changed.
//! Surviving mutants are listed; the README names the ones that are equivalent.

use std::path::Path;
use std::process::{Command, ExitCode};

/// Each file mutated, with the `cargo test` arguments (split at spaces) whose tests reach it.
const FILES: [(&str, &str); 5] = [
    (
        "crates/dual/src/rules.rs",
        "-p slope-dual -p slope --lib --test closed_form --test modes --test singular --test generic",
    ),
    (
        "crates/graph/src/structural.rs",
        "-p slope-graph --lib -p slope --test closed_form --test modes --test custom --test bad_inputs --test semantics",
    ),
    (
        "crates/reverse/src/vjp.rs",
        "-p slope --test closed_form --test modes --test custom --test parallel --test singular",
    ),
    ("crates/graph/src/custom.rs", "-p slope --test custom"),
    ("crates/dual/src/pass.rs", "-p slope-dual --lib"),
];

pub struct Options {
    file: Option<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        match args {
            [] => Ok(Options { file: None }),
            [flag, file] if flag == "--file" => {
                if FILES.iter().any(|(f, _)| f == file) {
                    Ok(Options { file: Some(file.clone()) })
                } else {
                    Err(format!(
                        "`{file}` is not one of the mutated files: {}",
                        FILES.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                    ))
                }
            }
            _ => Err("usage: cargo xtask mutants [--file PATH]".into()),
        }
    }
}

pub fn run(options: &Options) -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut survived = false;
    for (file, tests) in FILES.iter().filter(|(f, _)| options.file.as_deref().is_none_or(|o| o == *f)) {
        println!("== {file}");
        let out = root.join("target").join("mutants").join(file.replace('/', "_"));
        let status = Command::new("cargo")
            .current_dir(&root)
            .args(["mutants", "--gitignore", "true", "-f", file, "-o"])
            .arg(&out)
            .arg("--")
            .args(tests.split_whitespace())
            .status();
        match status {
            Ok(s) if s.success() => println!("== {file}: every mutant caught or unviable"),
            // cargo-mutants exits 2 when mutants survive and 3 when some timed out (which
            // takes precedence); the lists are in the output directory.
            Ok(s) if matches!(s.code(), Some(2 | 3)) => {
                survived = true;
                let read = |name: &str| std::fs::read_to_string(out.join("mutants.out").join(name)).unwrap_or_default();
                println!("== {file}: survived:\n{}timed out:\n{}", read("missed.txt"), read("timeout.txt"));
            }
            Ok(s) => {
                eprintln!("cargo mutants failed on {file} ({s})");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("cannot run cargo mutants ({e}): install it with `cargo install cargo-mutants`");
                return ExitCode::from(2);
            }
        }
    }
    if survived {
        println!("surviving mutants are listed above; the README names the equivalent ones");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
