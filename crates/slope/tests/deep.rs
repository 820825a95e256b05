//! Formulas of any length, and nesting up to a stated depth: nothing a user types aborts
//! the process. A long flat sum is a wide tree (one chain node), so parsing, recording,
//! differentiating and dropping it never recurse per term; nesting deeper than
//! `MAX_NESTING` is refused with an error that says so.

use std::process::Command;

use slope::expr::{ErrorKind, Formula, Point, MAX_NESTING};
use slope::prelude::*;

fn gradient_at(source: &str, at: &str) -> Result<(f64, f64), slope::expr::Error> {
    let formula = Formula::parse(source)?;
    let g = Graph::new();
    let recorded = formula.record(&g, &Point::parse(at)?)?;
    recorded.output.backward().unwrap();
    let x = recorded.variables["x"];
    Ok((recorded.output.item().unwrap(), x.grad().unwrap().item().unwrap()))
}

fn too_deep(source: &str) {
    let err = Formula::parse(source).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep, "{err}");
    assert!(err.message.contains(&MAX_NESTING.to_string()), "{err}");
}

#[test]
fn a_flat_sum_of_a_million_terms_parses_records_differentiates_and_drops() {
    let source = vec!["x"; 1_000_000].join("+");
    let (value, grad) = gradient_at(&source, "x=0.5").unwrap();
    assert_eq!((value, grad), (500_000.0, 1_000_000.0));
    let product = vec!["x"; 100_000].join("*");
    let (value, grad) = gradient_at(&product, "x=1").unwrap();
    assert_eq!((value, grad), (1.0, 100_000.0));
}

#[test]
fn nesting_is_refused_beyond_the_limit_and_works_below_it() {
    let n = 100_000;
    too_deep(&format!("{}x{}", "(".repeat(n), ")".repeat(n)));
    too_deep(&format!("{}x{}", "sin(".repeat(10_000), ")".repeat(10_000)));
    too_deep(&format!("{}x", "-".repeat(20_000)));
    too_deep(&vec!["x"; 30_000].join("**"));
    // The outermost operand is one level, each parenthesis one more.
    let deepest = MAX_NESTING - 1;
    let (value, grad) = gradient_at(&format!("{}x{}", "(".repeat(deepest), ")".repeat(deepest)), "x=3").unwrap();
    assert_eq!((value, grad), (3.0, 1.0));
    let (value, _) = gradient_at(&format!("{}x", "-".repeat(MAX_NESTING - 1)), "x=3").unwrap();
    assert_eq!(value, -3.0);
    too_deep(&format!("{}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING)));
}

#[test]
fn the_command_takes_long_formulas_and_refuses_deep_ones_with_exit_status_2() {
    let slope = |formula: &str| {
        Command::new(env!("CARGO_BIN_EXE_slope")).args(["grad", formula, "--at", "x=0.5"]).output().unwrap()
    };
    let out = slope(&vec!["x"; 30_000].join("+"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 15000\ngradient:\n  x: 30000\n");
    let out = slope(&format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000)));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nests more than") && !err.contains("panicked"), "{err}");
}
