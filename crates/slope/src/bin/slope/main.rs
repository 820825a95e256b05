//! `slope`: formulas on the command line.
//!
//! `slope grad`, `slope check`, `slope plot`, `slope dot`. Exit status: 0 on success,
//! 2 on bad input (the message on stderr says what to do), 1 when a check fails.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use slope::expr::{Formula, Point, Recorded};
use slope::prelude::*;
use slope::NodeId;

mod plot;

#[derive(Parser)]
#[command(
    name = "slope",
    version,
    about = "Derivatives of formulas typed as in Python: values, gradients, Hessians, checks, plots"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Reverse,
    Forward,
}

#[derive(Subcommand)]
enum Command {
    /// Value and gradient of a formula at a point (and its Hessian over the scalar variables).
    Grad {
        /// The formula, e.g. 'x**2 + 2*x + 1' (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The point, e.g. x=2,y=-1.5 or x=linspace(-10,10,10) or x=[1,2.5,3].
        #[arg(long, default_value = "")]
        at: String,
        /// Also print the Hessian over the scalar variables, in name order.
        #[arg(long)]
        hessian: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Which mode computes the gradient.
        #[arg(long, value_enum, default_value = "reverse")]
        mode: Mode,
    },
    /// Forward mode, reverse mode and finite differences side by side; exit 1 if they disagree.
    Check {
        /// The formula (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The point.
        #[arg(long, default_value = "")]
        at: String,
    },
    /// The function and its derivative on one figure, as an SVG file.
    Plot {
        /// The formula (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The variable on the horizontal axis.
        #[arg(long)]
        var: String,
        /// The range of that variable, e.g. -10,10.
        #[arg(long, allow_hyphen_values = true)]
        range: String,
        /// Number of points.
        #[arg(long, default_value_t = 200)]
        points: usize,
        /// Values of the other variables.
        #[arg(long, default_value = "")]
        at: String,
        /// Where to write the SVG.
        #[arg(long)]
        out: String,
        /// The figure's title (default: the formula).
        #[arg(long)]
        title: Option<String>,
    },
    /// The graph as Graphviz DOT, nodes labelled with their grad_fn names.
    Dot {
        /// The formula (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The point.
        #[arg(long, default_value = "")]
        at: String,
    },
}

/// A failure and its exit status.
struct Failure(u8, String);

fn bad(message: impl ToString) -> Failure {
    Failure(2, message.to_string())
}

fn parse(expr: &str, at: &str) -> Result<(Formula, Point), Failure> {
    let formula = Formula::parse(expr).map_err(bad)?;
    let point = Point::parse(at).map_err(|e| bad(format!("in --at: {e}")))?;
    Ok((formula, point))
}

fn scalar_output(recorded: &Recorded<'_>) -> Result<f64, Failure> {
    recorded.output.item().map_err(|_| {
        bad(format!(
            "the formula's value has shape {}, and a gradient needs a single number: wrap it in sum(...) or mean(...)",
            recorded.output.shape()
        ))
    })
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

fn json_number(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn gradient(recorded: &Recorded<'_>, mode: Mode) -> Result<BTreeMap<String, Vec<f64>>, Failure> {
    let names: Vec<&String> = recorded.variables.keys().collect();
    let leaves: Vec<Tensor<'_>> = recorded.variables.values().copied().collect();
    if leaves.is_empty() {
        return Ok(BTreeMap::new());
    }
    match mode {
        Mode::Reverse => {
            let grads = slope::grad(recorded.output, &leaves).map_err(bad)?;
            Ok(names.into_iter().cloned().zip(grads.into_iter().map(Value::into_vec)).collect())
        }
        Mode::Forward => {
            let grads = slope::graph::forward::gradient(recorded.output, &leaves).map_err(bad)?;
            Ok(names.into_iter().cloned().zip(grads.into_iter().map(Value::into_vec)).collect())
        }
    }
}

/// The Hessian over the scalar variables (name order), by forward-over-reverse sweeps over
/// the recorded formula (`slope::graph_hessian`).
fn hessian(recorded: &Recorded<'_>, graph: &Graph) -> Result<(Vec<String>, Vec<Vec<f64>>), Failure> {
    let scalars: Vec<(&String, &Tensor<'_>)> =
        recorded.variables.iter().filter(|(_, t)| t.shape().is_scalar()).collect();
    let ids: Vec<_> = scalars.iter().map(|(_, t)| t.id()).collect();
    let h = slope::graph_hessian(&graph.to_frozen(), recorded.output.id(), &ids).map_err(bad)?;
    Ok((scalars.into_iter().map(|(n, _)| n.clone()).collect(), h))
}

fn grad(expr: &str, at: &str, want_hessian: bool, json: bool, mode: Mode) -> Result<(), Failure> {
    let (formula, point) = parse(expr, at)?;
    let g = Graph::new();
    let recorded = formula.record(&g, &point).map_err(bad)?;
    let value = scalar_output(&recorded)?;
    let grads = gradient(&recorded, mode)?;
    let hess = if want_hessian { Some(hessian(&recorded, &g)?) } else { None };
    if json {
        let mut object = serde_json::Map::new();
        object.insert("value".into(), json_number(value));
        let gradient: serde_json::Map<String, serde_json::Value> = grads
            .iter()
            .map(|(name, g)| {
                let vector = recorded.variables.get(name).is_some_and(|t| !t.shape().is_scalar());
                let v = if vector { g.iter().map(|&x| json_number(x)).collect() } else { json_number(g[0]) };
                (name.clone(), v)
            })
            .collect();
        object.insert("gradient".into(), gradient.into());
        if let Some((_, h)) = &hess {
            let rows: Vec<serde_json::Value> = h.iter().map(|r| r.iter().map(|&x| json_number(x)).collect()).collect();
            object.insert("hessian".into(), rows.into());
        }
        println!("{}", serde_json::Value::Object(object));
        return Ok(());
    }
    println!("value: {}", number(value));
    if grads.is_empty() {
        println!("gradient: none: the formula has no variables");
        return Ok(());
    }
    println!("gradient:");
    for (name, g) in &grads {
        let vector = recorded.variables.get(name).is_some_and(|t| !t.shape().is_scalar());
        if vector {
            println!("  {name}: [{}]", g.iter().map(|&x| number(x)).collect::<Vec<_>>().join(", "));
        } else {
            println!("  {name}: {}", number(g[0]));
        }
    }
    if let Some((names, h)) = hess {
        if names.is_empty() {
            println!("hessian: none: it covers the scalar variables, and every variable here is a vector");
            return Ok(());
        }
        println!("hessian ({}):", names.join(", "));
        for row in h {
            println!("  [{}]", row.iter().map(|&x| number(x)).collect::<Vec<_>>().join(", "));
        }
    }
    Ok(())
}

fn check(expr: &str, at: &str) -> Result<(), Failure> {
    let (formula, point) = parse(expr, at)?;
    let g = Graph::new();
    let recorded = formula.record(&g, &point).map_err(bad)?;
    scalar_output(&recorded)?;
    if recorded.variables.is_empty() {
        return Err(bad(
            "the formula has no variables, so there is no derivative to check; use one, as in 'x*2' --at x=1",
        ));
    }
    let ids: Vec<_> = recorded.variables.values().map(|t| t.id()).collect();
    let out = recorded.output.id();
    drop(recorded);
    let frozen = g.freeze();
    let mut report = slope::check::check_graph(&frozen, &ids, out, &Default::default()).map_err(bad)?;
    report.rows.iter_mut().for_each(|row| row.subject = expr.to_string());
    print!("{report}");
    if report.passed() {
        Ok(())
    } else {
        let kinks = slope::check::kinks_at(&frozen, out).map_err(bad)?;
        for k in &kinks {
            println!(
                "note: the point is on a kink of {} (its input is {}), where the derivative is the convention {} \
                 (as PyTorch's); finite differences see an average of both sides, so pairs with fd disagree \
                 there. Check at a point off the kink.",
                k.op,
                number(k.at),
                number(k.derivative)
            );
        }
        Err(Failure(1, "forward mode, reverse mode and finite differences disagree (see the table above)".into()))
    }
}

fn dot(expr: &str, at: &str) -> Result<(), Failure> {
    let (formula, point) = parse(expr, at)?;
    let g = Graph::new();
    let recorded = formula.record(&g, &point).map_err(bad)?;
    let names: BTreeMap<NodeId, &String> = recorded.variables.iter().map(|(n, t)| (t.id(), n)).collect();
    let out = recorded.output.id();
    println!("digraph slope {{");
    println!("  node [fontname=\"Helvetica\", shape=box, style=\"rounded,filled\", fillcolor=\"lightgrey\"];");
    g.with_arena(|arena| -> Result<(), Failure> {
        for id in arena.ids().take_while(|id| id.index() <= out.index()) {
            let node = arena.node_info(id).map_err(bad)?;
            let (label, color) = match (node.op, names.get(&id)) {
                (Some(op), _) => {
                    (op.grad_fn_name().to_string(), if id == out { "darkolivegreen1" } else { "lightgrey" })
                }
                (None, Some(name)) => (format!("{name}\\n{}", node.shape), "lightblue"),
                (None, None) => {
                    let text =
                        if node.value.len() == 1 { number(node.value[0]) } else { format!("constant {}", node.shape) };
                    (text, "white")
                }
            };
            let i = id.index();
            println!("  n{i} [label=\"{label}\", fillcolor=\"{color}\"];");
            for input in &node.inputs {
                println!("  n{} -> n{i};", input.index());
            }
        }
        Ok(())
    })?;
    println!("}}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Grad { expr, at, hessian, json, mode } => grad(&expr, &at, hessian, json, mode),
        Command::Check { expr, at } => check(&expr, &at),
        Command::Plot { expr, var, range, points, at, out, title } => {
            plot::plot(&expr, &var, &range, points, &at, &out, title.as_deref())
        }
        Command::Dot { expr, at } => dot(&expr, &at),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
