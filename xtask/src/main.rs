//! Maintenance tasks: `cargo xtask <task>`.

mod bench;
mod fuzz;
mod gradcheck;
mod mutants;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  gradcheck [--op NAME] [--points N]   check every op's reverse-mode gradient against
                                       central differences, then replay the notebook
  bench [--filter NAME] [--no-run]     run the criterion benchmarks, print medians and
                                       ratios to the primal and the hand-written derivative
  fuzz [--secs N] [--target NAME]      run each cargo-fuzz target for N seconds (nightly)
  mutants [--file PATH]                cargo-mutants over the rules and the VJPs, each file
                                       with the tests that reach it (cargo-mutants needed)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gradcheck") => match gradcheck::Options::parse(&args[1..]) {
            Ok(options) => gradcheck::run(&options),
            Err(message) => {
                eprintln!("error: {message}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("bench") => match bench::Options::parse(&args[1..]) {
            Ok(options) => bench::run(&options),
            Err(message) => {
                eprintln!("error: {message}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("fuzz") => match fuzz::Options::parse(&args[1..]) {
            Ok(options) => fuzz::run(&options),
            Err(message) => {
                eprintln!("error: {message}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("mutants") => match mutants::Options::parse(&args[1..]) {
            Ok(options) => mutants::run(&options),
            Err(message) => {
                eprintln!("error: {message}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown task `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
