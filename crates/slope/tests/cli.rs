//! The `slope` command: the notebook's formulas give the notebook's numbers, every bad
//! input exits with status 2 and a message that says what to do, a failing check exits 1.

use std::process::{Command, Output};

fn slope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slope")).args(args).output().expect("the slope binary runs")
}

fn stdout(args: &[&str]) -> String {
    let out = slope(args);
    assert!(out.status.success(), "slope {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&stdout(args)).unwrap()
}

/// Exit status 2, and stderr containing each of `needles`.
fn bad_input(args: &[&str], needles: &[&str]) {
    let out = slope(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "slope {args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "slope {args:?}: stderr lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_notebooks_derivatives() {
    assert_eq!(stdout(&["grad", "x**2 + 2*x + 1", "--at", "x=2"]), "value: 9\ngradient:\n  x: 6\n");
    let v = json(&["grad", "x**2", "--at", "x=2", "--json"]);
    assert_eq!((v["value"].as_f64(), v["gradient"]["x"].as_f64()), (Some(4.0), Some(4.0)));
    let v = json(&["grad", "2*x**3 + x", "--at", "x=1", "--json"]);
    assert_eq!((v["value"].as_f64(), v["gradient"]["x"].as_f64()), (Some(3.0), Some(7.0)));
    let v = json(&["grad", "u*v + u**2", "--at", "u=1,v=2", "--json", "--hessian"]);
    assert_eq!(v["value"].as_f64(), Some(3.0));
    assert_eq!((v["gradient"]["u"].as_f64(), v["gradient"]["v"].as_f64()), (Some(4.0), Some(1.0)));
    assert_eq!(v["hessian"], serde_json::json!([[2.0, 1.0], [1.0, 0.0]]));
}

#[test]
fn the_notebooks_vector_cells_in_both_modes() {
    for mode in ["reverse", "forward"] {
        let v = json(&["grad", "sum(x**2)", "--at", "x=linspace(-10,10,10)", "--json", "--mode", mode]);
        assert!((v["value"].as_f64().unwrap() - 407.4074).abs() < 1e-4);
        let g: Vec<f64> = v["gradient"]["x"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let xs = slope::expr::linspace(-10.0, 10.0, 10);
        assert_eq!(g.len(), 10);
        assert!(g.iter().zip(&xs).all(|(g, x)| (g - 2.0 * x).abs() < 1e-12), "{mode}: {g:?}");
    }
    let v = json(&["grad", "sum(relu(x))", "--at", "x=linspace(-10,10,1000)", "--json"]);
    let g = v["gradient"]["x"].as_array().unwrap();
    assert_eq!(g.iter().filter(|d| d.as_f64() == Some(0.0)).count(), 500);
    assert_eq!(g.iter().filter(|d| d.as_f64() == Some(1.0)).count(), 500);
}

#[test]
fn check_prints_the_three_modes_and_passes() {
    let out = stdout(&["check", "sin(x) * exp(y) + x**y", "--at", "x=1.5,y=0.5"]);
    for pair in ["fwd/rev", "fwd/fd", "rev/fd", "2nd/fd"] {
        assert!(out.contains(pair), "{out}");
    }
    assert!(!out.contains("FAIL"));
}

#[test]
fn a_failing_check_exits_1() {
    // relu at its kink: reverse and forward follow the convention (0), finite differences see 0.5
    let out = slope(&["check", "relu(x)", "--at", "x=0"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn bad_input_exits_2_with_a_message_that_says_what_to_do() {
    bad_input(&["grad", "x ** * 2", "--at", "x=1"], &["column 6", "^"]);
    bad_input(&["grad", "sine(x)", "--at", "x=1"], &["unknown function `sine`", "did you mean `sin`?"]);
    bad_input(&["grad", "x + y", "--at", "x=1"], &["`y` has no value", "--at"]);
    bad_input(&["grad", "x**2", "--at", "x=1,z=2"], &["`z`", "does not use"]);
    bad_input(&["grad", "x**2", "--at", "x=[1,2]"], &["shape [2]", "sum(...)"]);
    bad_input(&["grad", "x", "--at", "x=linspace(0,1)"], &["in --at"]);
    bad_input(&["grad", "x + y", "--at", "x=[1,2],y=[1,2,3]"], &["[2] and [3]"]);
    bad_input(
        &["plot", "x*y", "--var", "x", "--range", "-1,1", "--at", "y=[1,2]", "--out", "/tmp/never.svg"],
        &["a vector where a scalar is needed"],
    );
    bad_input(&["plot", "x**2", "--var", "x", "--range", "1,1", "--out", "/tmp/never.svg"], &["is empty"]);
    bad_input(&["plot", "x**2", "--var", "x", "--range", "1", "--out", "/tmp/never.svg"], &["two numbers"]);
    bad_input(&["plot", "x**2", "--var", "y", "--range", "-1,1", "--out", "/tmp/never.svg"], &["no variable `y`"]);
    bad_input(&["frobnicate"], &["unrecognized subcommand"]);
    bad_input(&["grad"], &["EXPR"]);
}

#[test]
fn plot_writes_an_svg_with_both_curves() {
    let path = std::env::temp_dir().join(format!("slope-plot-{}.svg", std::process::id()));
    let path_str = path.to_str().unwrap();
    stdout(&["plot", "x**2", "--var", "x", "--range", "-10,10", "--points", "10", "--out", path_str]);
    let svg = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let stroke = |color: &str| {
        doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color)).count()
    };
    // each curve and its legend sample
    assert_eq!((stroke("#1F77B4"), stroke("#FF7F0E")), (2, 2));
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
    for label in ["x**2", "function", "derivative", "x"] {
        assert!(texts.contains(&label), "no text {label:?} in {texts:?}");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn dot_labels_nodes_with_grad_fn_names() {
    let out = stdout(&["dot", "x**2 + 2*x + 1", "--at", "x=2"]);
    assert!(out.starts_with("digraph slope {"));
    for label in ["PowBackward0", "MulBackward0", "AddBackward0", "x\\n[]"] {
        assert!(out.contains(label), "{out}");
    }
}

#[test]
fn formulas_may_begin_with_a_sign_and_use_constants_and_infinities() {
    assert_eq!(stdout(&["grad", "-x**2", "--at", "x=3"]), "value: -9\ngradient:\n  x: -6\n");
    assert_eq!(stdout(&["grad", "-x", "--at", "x=-inf"]), "value: inf\ngradient:\n  x: -1\n");
    let v = json(&["grad", "sin(pi * x) + e", "--at", "x=0", "--json"]);
    assert_eq!(v["value"].as_f64(), Some(std::f64::consts::E));
    assert_eq!(v["gradient"]["x"].as_f64(), Some(std::f64::consts::PI));
    bad_input(&["grad", "x * 2", "--at", "x=1,e=2"], &["`e` is a constant"]);
}

#[test]
fn the_hessian_of_vector_variables_is_explained_and_check_names_the_formula() {
    let out = stdout(&["grad", "sum(x*x)", "--at", "x=[1,2]", "--hessian"]);
    assert!(
        out.ends_with("hessian: none: it covers the scalar variables, and every variable here is a vector\n"),
        "{out}"
    );
    let out = stdout(&["check", "sin(x)*y", "--at", "x=1,y=2"]);
    assert!(out.lines().skip(1).all(|line| line.starts_with("sin(x)*y ")), "{out}");
}

#[test]
fn a_formula_without_variables_has_a_value_and_nothing_to_check() {
    assert_eq!(stdout(&["grad", "2*3"]), "value: 6\ngradient: none: the formula has no variables\n");
    let v = json(&["grad", "2*3", "--json"]);
    assert_eq!(v["value"].as_f64(), Some(6.0));
    bad_input(&["check", "2*3"], &["no variables"]);
}

#[test]
fn a_check_on_a_kink_says_it_is_the_kink() {
    let out = slope(&["check", "relu(x) + x", "--at", "x=0"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("note: the point is on a kink of relu (its input is 0)"), "{text}");
    let out = slope(&["check", "relu(x) + x", "--at", "x=0.5"]);
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("kink"));
}
