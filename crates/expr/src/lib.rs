//! The formula language of slope: expressions typed as in the PyTorch notebook, parsed and
//! recorded as nodes of a [`Graph`].
//!
//! - numbers `2`, `2.5`, `1e-3`, and the constants `pi`, `e`, `inf`, `nan`; variables
//!   `[a-z][a-z0-9_]*` (other than those four)
//! - `+ - * /` and `**` (right-associative, tighter than unary minus: `-x**2 == -(x**2)`)
//! - functions: every elementwise op of the table by its name (`sin`, `exp`, `log`, `sqrt`,
//!   `tanh`, `sigmoid`, `relu`, `abs`, ...), `pow(a, b)`, `atan2`, `hypot`, `fmod`,
//!   `sum(e)`, `mean(e)`, `dot(a, b)`, `matmul(a, b)`, `t(e)`, and with PyTorch's signatures
//!   `clamp(x, min, max)` / `clamp(x, min)` (constant bounds), `leaky_relu(x, slope)` /
//!   `leaky_relu(x)` (slope 0.01), `max(a, b)` / `min(a, b)`
//!   (elementwise; `max(x)` is the reduction), `where(cond, x, y)`, `norm(x)`, `var(x)`,
//!   `std(x)` (unbiased), `binary_cross_entropy(p, y)`, `binary_cross_entropy_with_logits(x, y)`
//! - comparisons `>`, `<`, `>=`, `<=`, `==`, `!=` (below `+ -`, one per expression): a
//!   constant mask of ones and zeros, as `(x > 0) * x` or `where(x > 0, x, 0.1 * x)`
//! - a point: `x=2,y=-1.5`, `x=linspace(-10,10,10)`, `x=[1,2.5,3]`
//!
//! Errors carry the column, print the line with a caret under it, and suggest the nearest
//! name for a misspelt function or variable.
//!
//! ```
//! use slope_expr::{Formula, Point};
//! use slope_graph::Graph;
//!
//! let f = Formula::parse("x**2 + 2*x + 1").unwrap();
//! let g = Graph::new();
//! let y = f.record(&g, &Point::parse("x=2").unwrap()).unwrap();
//! assert_eq!(y.output.item().unwrap(), 9.0);
//!
//! let err = Formula::parse("sine(x)").unwrap().record(&g, &Point::parse("x=1").unwrap()).unwrap_err();
//! assert!(err.to_string().contains("did you mean `sin`?"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod error;
mod parse;

use std::collections::{BTreeMap, BTreeSet};

pub use error::{Error, ErrorKind};
pub use parse::{constant, linspace, Expr, MAX_NESTING};

use slope_graph::{BinaryOp, Comparison, Graph, Op, Tensor};

/// A parsed formula.
#[derive(Clone, Debug, PartialEq)]
pub struct Formula {
    expr: Expr,
    source: String,
}

/// Values for the variables of a formula: scalars and vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    vars: BTreeMap<String, (Vec<f64>, bool)>,
}

impl Point {
    /// Parses `x=2,y=-1.5`, `x=linspace(-10,10,10)` or `x=[1,2.5,3]`.
    pub fn parse(source: &str) -> Result<Point, Error> {
        let mut lexer = parse::Lexer::new(source).map_err(|e| Error { kind: ErrorKind::Point, ..e })?;
        if lexer.at_end() {
            return Ok(Point { vars: BTreeMap::new() });
        }
        let mut vars = BTreeMap::new();
        for (name, values, vector, column) in lexer.point()? {
            if vars.insert(name.clone(), (values, vector)).is_some() {
                return Err(Error::new(ErrorKind::Point, format!("`{name}` is given twice"), column, source));
            }
        }
        Ok(Point { vars })
    }

    /// A point from names and values; a value with one element is a scalar unless `vector`.
    pub fn from_values(vars: impl IntoIterator<Item = (String, Vec<f64>, bool)>) -> Point {
        Point { vars: vars.into_iter().map(|(n, v, vector)| (n, (v, vector))).collect() }
    }

    /// The variable names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// A variable's values and whether it is a vector.
    pub fn get(&self, name: &str) -> Option<(&[f64], bool)> {
        self.vars.get(name).map(|(v, vector)| (&v[..], *vector))
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, values: Vec<f64>, vector: bool) {
        self.vars.insert(name.to_string(), (values, vector));
    }

    /// Removes a variable.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }
}

/// A formula recorded on a graph: its output and the leaf of each variable it uses.
#[derive(Clone, Debug)]
pub struct Recorded<'g> {
    /// The formula's value.
    pub output: Tensor<'g>,
    /// Each variable the formula uses, as a leaf that requires grad, in name order.
    pub variables: BTreeMap<String, Tensor<'g>>,
}

/// The functions the language knows (the op table's and the registered custom ops), by name.
fn functions() -> impl Iterator<Item = (&'static str, Op)> {
    Op::all().chain(slope_graph::custom::registered_ops()).filter(|op| op.is_function()).map(|op| (op.name(), op))
}

impl Formula {
    /// Parses a formula.
    pub fn parse(source: &str) -> Result<Formula, Error> {
        let mut lexer = parse::Lexer::new(source)?;
        let expr = lexer.expr()?;
        if !lexer.at_end() {
            return Err(Error::new(
                ErrorKind::Syntax,
                "unexpected text after the formula: a missing operator, or an extra `)`?",
                lexer.column_now(),
                source,
            ));
        }
        Ok(Formula { expr, source: source.to_string() })
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The variables it uses, sorted.
    pub fn variables(&self) -> BTreeSet<String> {
        fn walk(e: &Expr, out: &mut BTreeSet<String>) {
            match e {
                Expr::Number(_) => {}
                Expr::Variable(name, _) => {
                    out.insert(name.clone());
                }
                Expr::Neg(a) => walk(a, out),
                Expr::Chain(first, rest) => {
                    walk(first, out);
                    rest.iter().for_each(|(_, e, _)| walk(e, out));
                }
                Expr::Power(a, b, _) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Call(_, args, _) => args.iter().for_each(|a| walk(a, out)),
                Expr::Compare(a, _, b, _) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.expr, &mut out);
        out
    }

    /// Records the formula on `graph` at `point`: each variable becomes a leaf that
    /// requires grad. Errors name the column of what went wrong; a variable of `point` that
    /// the formula does not use is an error too (it is most likely a typo).
    pub fn record<'g>(&self, graph: &'g Graph, point: &Point) -> Result<Recorded<'g>, Error> {
        let used = self.variables();
        if let Some(extra) = point.names().find(|n| !used.contains(*n)) {
            let message = match error::suggest(extra, used.iter().map(String::as_str)) {
                _ if constant(extra).is_some() => {
                    format!("`{extra}` is a constant in formulas, not a variable; name the variable otherwise")
                }
                Some(s) => format!("the point gives `{extra}`, which the formula does not use; did you mean `{s}`?"),
                None => format!("the point gives `{extra}`, which the formula does not use"),
            };
            return Err(Error::new(ErrorKind::UnknownVariable, message, 1, &self.source));
        }
        let mut variables = BTreeMap::new();
        for name in &used {
            if let Some((values, vector)) = point.get(name) {
                let t = if vector { graph.vector(values) } else { graph.scalar(values[0]) };
                variables.insert(name.clone(), t.requires_grad_());
            }
        }
        let output = self.build(graph, &self.expr, &variables, point)?;
        Ok(Recorded { output, variables })
    }

    fn error(&self, kind: ErrorKind, message: impl Into<String>, column: usize) -> Error {
        Error::new(kind, message, column, &self.source)
    }

    fn build<'g>(
        &self,
        g: &'g Graph,
        e: &Expr,
        vars: &BTreeMap<String, Tensor<'g>>,
        point: &Point,
    ) -> Result<Tensor<'g>, Error> {
        let shape_error =
            |column: usize| move |err: slope_graph::Error| self.error(ErrorKind::Shape, err.to_string(), column);
        match e {
            Expr::Number(v) => Ok(g.scalar(*v)),
            Expr::Variable(name, column) => vars.get(name).copied().ok_or_else(|| {
                let message = match error::suggest(name, point.names()) {
                    Some(s) => format!("`{name}` has no value: give it with --at {name}=...; did you mean `{s}`?"),
                    None => format!("`{name}` has no value: give it with --at, as in --at {name}=1.5"),
                };
                self.error(ErrorKind::UnknownVariable, message, *column)
            }),
            Expr::Neg(a) => Ok(-self.build(g, a, vars, point)?),
            Expr::Chain(first, rest) => {
                let mut left = self.build(g, first, vars, point)?;
                for (op, e, column) in rest {
                    let right = self.build(g, e, vars, point)?;
                    let op = match op {
                        '+' => BinaryOp::Add,
                        '-' => BinaryOp::Sub,
                        '*' => BinaryOp::Mul,
                        _ => BinaryOp::Div,
                    };
                    left = left.try_binary(op, right).map_err(shape_error(*column))?;
                }
                Ok(left)
            }
            Expr::Power(base, exponent, column) => self.power(g, base, exponent, *column, vars, point),
            Expr::Compare(a, op, b, column) => {
                let (a, b) = (self.build(g, a, vars, point)?, self.build(g, b, vars, point)?);
                a.try_compare(*op, b).map_err(shape_error(*column))
            }
            Expr::Call(name, args, column) => {
                if let Some(recorded) = self.call_with_signature(g, name, args, *column, vars, point)? {
                    return Ok(recorded);
                }
                let Some((_, op)) = functions().find(|(f, _)| f == name) else {
                    let message = match error::suggest(name, functions().map(|f| f.0)) {
                        Some(s) => format!("unknown function `{name}`; did you mean `{s}`?"),
                        None => format!(
                            "unknown function `{name}`; functions: {}",
                            functions().map(|f| f.0).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(self.error(ErrorKind::UnknownFunction, message, *column));
                };
                let arity = op.arity();
                if args.len() != arity {
                    return Err(self.error(
                        ErrorKind::Arity,
                        format!("`{name}` takes {arity} argument(s), got {}", args.len()),
                        *column,
                    ));
                }
                if name == "pow" {
                    return self.power(g, &args[0], &args[1], *column, vars, point);
                }
                let values = args.iter().map(|a| self.build(g, a, vars, point)).collect::<Result<Vec<_>, _>>()?;
                values[0].try_op(op, &values[1..]).map_err(shape_error(*column))
            }
        }
    }

    /// The functions whose PyTorch signature is not their op's inputs: `clamp(x, min, max)`
    /// and `clamp(x, min)` (constant bounds), `leaky_relu(x, negative_slope)` (constant,
    /// 0.01 if left out), `max(a, b)` and `min(a, b)` (elementwise, as
    /// `torch.max(input, other)`; `max(x)` is the reduction), `where(cond, x, y)` (`x` where
    /// `cond` is nonzero, `y` elsewhere, the three broadcast). `None` for any other call.
    fn call_with_signature<'g>(
        &self,
        g: &'g Graph,
        name: &str,
        args: &[Expr],
        column: usize,
        vars: &BTreeMap<String, Tensor<'g>>,
        point: &Point,
    ) -> Result<Option<Tensor<'g>>, Error> {
        let shape_error = |err: slope_graph::Error| self.error(ErrorKind::Shape, err.to_string(), column);
        let arity = |range: core::ops::RangeInclusive<usize>, usage: &str| {
            if range.contains(&args.len()) {
                Ok(())
            } else {
                Err(self.error(
                    ErrorKind::Arity,
                    format!("`{name}` takes {usage}, got {} argument(s)", args.len()),
                    column,
                ))
            }
        };
        let built = match name {
            "clamp" => {
                arity(2..=3, "`clamp(x, min, max)` or `clamp(x, min)`")?;
                let x = self.build(g, &args[0], vars, point)?;
                let lo = self.constant_setting(g, &args[1], "clamp's min", vars, point)?;
                let hi = match args.get(2) {
                    Some(e) => self.constant_setting(g, e, "clamp's max", vars, point)?,
                    None => f64::INFINITY,
                };
                x.try_clamp(lo, hi).map_err(shape_error)?
            }
            "leaky_relu" => {
                arity(1..=2, "`leaky_relu(x, negative_slope)` or `leaky_relu(x)` (slope 0.01)")?;
                let x = self.build(g, &args[0], vars, point)?;
                let slope = match args.get(1) {
                    Some(e) => self.constant_setting(g, e, "leaky_relu's negative_slope", vars, point)?,
                    None => 0.01,
                };
                x.leaky_relu(slope)
            }
            "max" | "min" if args.len() == 2 => {
                let (a, b) = (self.build(g, &args[0], vars, point)?, self.build(g, &args[1], vars, point)?);
                let op = if name == "max" { BinaryOp::Maximum } else { BinaryOp::Minimum };
                a.try_binary(op, b).map_err(shape_error)?
            }
            "where" => {
                arity(3..=3, "`where(cond, x, y)`")?;
                let cond = self.build(g, &args[0], vars, point)?;
                let (x, y) = (self.build(g, &args[1], vars, point)?, self.build(g, &args[2], vars, point)?);
                select(g, cond, x, y).map_err(shape_error)?
            }
            "norm" | "var" | "std" => {
                arity(1..=1, "one argument (all elements; `var` and `std` unbiased, as PyTorch's defaults)")?;
                let x = self.build(g, &args[0], vars, point)?;
                match name {
                    "norm" => x.norm(),
                    "var" => x.try_var(1).map_err(shape_error)?,
                    _ => x.try_std(1).map_err(shape_error)?,
                }
            }
            "binary_cross_entropy" | "binary_cross_entropy_with_logits" => {
                arity(2..=2, "`(input, target)`")?;
                let (x, y) = (self.build(g, &args[0], vars, point)?, self.build(g, &args[1], vars, point)?);
                let loss = if name == "binary_cross_entropy" {
                    x.try_binary_cross_entropy(y)
                } else {
                    x.try_binary_cross_entropy_with_logits(y)
                };
                loss.map_err(shape_error)?
            }
            _ => return Ok(None),
        };
        Ok(Some(built))
    }

    /// A constant setting of a function (`clamp`'s bounds, `leaky_relu`'s slope): an
    /// expression of numbers, one number.
    fn constant_setting<'g>(
        &self,
        g: &'g Graph,
        e: &Expr,
        which: &str,
        vars: &BTreeMap<String, Tensor<'g>>,
        point: &Point,
    ) -> Result<f64, Error> {
        let column = first_column(e);
        let t = self.build(g, e, vars, point)?;
        if t.requires_grad() || !t.shape().is_scalar() {
            let message = format!(
                "{which} is a constant number here (an expression of numbers, as `-1` or `pi/2`); \
                 it is {} of shape {}",
                if t.requires_grad() { "a function of the variables" } else { "a tensor" },
                t.shape()
            );
            return Err(self.error(ErrorKind::Shape, message, column));
        }
        t.item().map_err(|err| self.error(ErrorKind::Shape, err.to_string(), column))
    }

    /// `base ** exponent`: a constant exponent is kept in the node (`powi` for a whole
    /// number up to 64 in size, `powf` otherwise), as `x ** 2` in PyTorch.
    fn power<'g>(
        &self,
        g: &'g Graph,
        base: &Expr,
        exponent: &Expr,
        column: usize,
        vars: &BTreeMap<String, Tensor<'g>>,
        point: &Point,
    ) -> Result<Tensor<'g>, Error> {
        let left = self.build(g, base, vars, point)?;
        if let Expr::Number(c) = *exponent {
            return Ok(if c.fract() == 0.0 && c.abs() <= 64.0 { left.powi(c as i32) } else { left.powf(c) });
        }
        let right = self.build(g, exponent, vars, point)?;
        left.try_binary(BinaryOp::Pow, right).map_err(|err| self.error(ErrorKind::Shape, err.to_string(), column))
    }
}

/// The column an expression starts at, for errors about it (1 for a bare number).
fn first_column(e: &Expr) -> usize {
    match e {
        Expr::Number(_) => 1,
        Expr::Variable(_, column) | Expr::Call(_, _, column) => *column,
        Expr::Neg(a) | Expr::Chain(a, _) | Expr::Power(a, _, _) | Expr::Compare(a, _, _, _) => first_column(a),
    }
}

/// PyTorch's `where(cond, x, y)`: `x` where `cond` is nonzero, `y` elsewhere; the three
/// shapes broadcast, and the gradient goes to the element picked.
fn select<'g>(g: &'g Graph, cond: Tensor<'g>, x: Tensor<'g>, y: Tensor<'g>) -> Result<Tensor<'g>, slope_graph::Error> {
    let nonzero = cond.try_compare(Comparison::Ne, g.scalar(0.0))?;
    x.try_where_(nonzero, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str, at: &str) -> f64 {
        let g = Graph::new();
        Formula::parse(src).unwrap().record(&g, &Point::parse(at).unwrap()).unwrap().output.item().unwrap()
    }

    fn err(src: &str, at: &str) -> Error {
        let g = Graph::new();
        match Formula::parse(src) {
            Err(e) => e,
            Ok(f) => f.record(&g, &Point::parse(at).unwrap()).unwrap_err(),
        }
    }

    /// The gradient of a recorded formula with respect to its one variable, in forward mode.
    fn derivative(src: &str, at: &str) -> Vec<f64> {
        let g = Graph::new();
        let recorded = Formula::parse(src).unwrap().record(&g, &Point::parse(at).unwrap()).unwrap();
        let x = *recorded.variables.values().next().unwrap();
        slope_graph::forward::gradient(recorded.output, &[x]).unwrap()[0].as_slice().to_vec()
    }

    #[test]
    fn functions_take_pytorchs_signatures() {
        assert_eq!(eval("sum(clamp(x, -1, 1))", "x=[-3,0.5,2]"), 0.5);
        assert_eq!(eval("sum(clamp(x, 0))", "x=[-3,0.5,2]"), 2.5);
        assert_eq!(eval("clamp(x, -pi/2, 2*1)", "x=-3"), -std::f64::consts::FRAC_PI_2);
        assert_eq!(eval("clamp(x, -inf, 0)", "x=2"), 0.0);
        assert_eq!(derivative("sum(clamp(x, -1, 1))", "x=[-3,0.5,1,2]"), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(eval("max(x, 1) + min(x, 1)", "x=3"), 4.0);
        assert_eq!(eval("max(x)", "x=[1,5,2]"), 5.0);
        assert_eq!(derivative("sum(max(x, 1))", "x=[0,1,2]"), [0.0, 0.5, 1.0]);
        assert_eq!(eval("sum(where(x > 0, x, 0))", "x=[-1,2,3]"), 5.0);
        assert_eq!(derivative("sum(where(x > 0, x, 0.1 * x))", "x=[-1,2,3]"), [0.1, 1.0, 1.0]);
        assert_eq!(derivative("where(x < 0, -x, x**2)", "x=-2"), [-1.0]);
        assert_eq!(eval("sum(where(x > 0, 1, 2))", "x=[-1,2,3]"), 4.0);
        assert_eq!(derivative("sum(leaky_relu(x, 0.2))", "x=[-1,0,3]"), [0.2, 0.2, 1.0]);
        assert_eq!(derivative("sum(leaky_relu(x))", "x=[-1,3]"), [0.01, 1.0]);
        assert!(err("leaky_relu(x, x)", "x=1").to_string().contains("negative_slope is a constant"));
        assert_eq!(eval("norm(x)", "x=[3,4]"), 5.0);
        let d = derivative("norm(x)", "x=[3,4]");
        assert!((d[0] - 0.6).abs() < 1e-15 && (d[1] - 0.8).abs() < 1e-15, "{d:?}");
        assert_eq!(eval("var(x)", "x=[1,2,3,4]"), 5.0 / 3.0);
        assert_eq!(eval("std(x)", "x=[1,3]"), 2f64.sqrt());
        assert_eq!(eval("binary_cross_entropy_with_logits(x, 1 + 0 * x)", "x=[0,800]"), std::f64::consts::LN_2 / 2.0);
        assert_eq!(eval("binary_cross_entropy(x, 1 + 0 * x)", "x=[1,0]"), 50.0);
    }

    #[test]
    fn comparisons_make_constant_masks() {
        assert_eq!(eval("sum(x > 0)", "x=[-1,2,3]"), 2.0);
        assert_eq!(eval("sum((x >= 2) * (x != 3))", "x=[-1,2,3]"), 1.0);
        assert_eq!(eval("(1 == 1) + (2 <= 1) + (x < 3)", "x=2"), 2.0);
        assert_eq!(eval("x > nan", "x=2"), 0.0);
        assert_eq!(eval("x != nan", "x=2"), 1.0);
        // a mask is a constant: the gradient flows only through the other factor
        assert_eq!(derivative("sum((x > 0) * x**2)", "x=[-1,2]"), [0.0, 4.0]);
        assert!(err("a < b < c", "a=1,b=2,c=3").to_string().contains("chain of comparisons"));
    }

    #[test]
    fn signature_errors_say_what_is_taken() {
        let e = err("clamp(x)", "x=1");
        assert_eq!(e.kind, ErrorKind::Arity);
        assert!(e.to_string().contains("clamp(x, min, max)"), "{e}");
        let e = err("clamp(x, y, 1)", "x=1,y=0");
        assert!(e.to_string().contains("min is a constant number"), "{e}");
        assert_eq!(e.column, 10, "{e}");
        let e = err("clamp(x, [0, 1])", "x=1");
        assert!(e.to_string().contains("expected"), "{e}");
        let e = err("where(x > 0, x)", "x=1");
        assert!(e.to_string().contains("where(cond, x, y)"), "{e}");
        let e = err("where(x > 0, x, y)", "x=[1,2],y=[1,2,3]");
        assert_eq!(e.kind, ErrorKind::Shape);
    }

    #[test]
    fn python_precedence() {
        assert_eq!(eval("-x**2", "x=3"), -9.0);
        assert_eq!(eval("2**3**2", ""), 512.0);
        assert_eq!(eval("2**-1", ""), 0.5);
        assert_eq!(eval("1 - 2 - 3", ""), -4.0);
        assert_eq!(eval("12 / 3 / 2", ""), 2.0);
        assert_eq!(eval("2 + 3 * 4", ""), 14.0);
        assert_eq!(eval("(2 + 3) * 4", ""), 20.0);
        assert_eq!(eval("+x - -x", "x=1.5"), 3.0);
        assert_eq!(eval("1e-3 * 2.5e3 + .5", ""), 3.0);
        assert_eq!(eval("u*v + u**2", "u=1,v=2"), 3.0);
        assert_eq!(eval("pow(x, 3) + pow(2, x)", "x=2"), 12.0);
        assert_eq!(eval("sum(x**2)", "x=linspace(-10,10,10)").round(), 407.0);
        assert_eq!(eval("mean(x) * 2", "x=[1,2.5,3.5]"), 14.0 / 3.0);
        assert_eq!(eval("sigmoid(0) + relu(-1) + abs(-2) + tanh(0)", ""), 2.5);
        // ln 2 - ln 2 + 2 Φ(2) + 0, Φ(2) to 30 digits
        assert!((eval("softplus(0) + log_sigmoid(0) + gelu(2) + silu(0)", "") - 1.9544997361036416).abs() < 1e-15);
        assert_eq!(eval("cos(pi) + log(e)", ""), 0.0);
        assert_eq!(eval("exp(-x)", "x=inf"), 0.0);
        assert_eq!(eval("x", "x=-inf"), f64::NEG_INFINITY);
        assert!(eval("x + 1", "x=nan").is_nan());
    }

    #[test]
    fn a_long_formula_is_shown_cut_around_the_column() {
        let source = format!("{} + sine(x)", vec!["x"; 100].join("+"));
        let shown = err(&source, "x=1").to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].starts_with("  …") && lines[1].ends_with("+ sine(x)"), "{shown}");
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('s'), "the caret sits under `sine`:\n{shown}");
    }

    #[test]
    fn errors_point_at_the_column_and_suggest() {
        let e = err("x ** * 2", "x=1");
        assert_eq!((e.kind.clone(), e.column), (ErrorKind::Syntax, 6));
        assert!(e.to_string().ends_with("  x ** * 2\n       ^"), "{e}");
        let e = err("sine(x)", "x=1");
        assert_eq!(e.kind, ErrorKind::UnknownFunction);
        assert!(e.message.contains("did you mean `sin`?"));
        let e = err("x + yy", "x=1,y=2");
        assert_eq!(e.kind, ErrorKind::UnknownVariable);
        let e = err("x + y", "x=1");
        assert_eq!((e.kind.clone(), e.column), (ErrorKind::UnknownVariable, 5));
        assert!(e.message.contains("--at"));
        assert_eq!(err("sin(x, x)", "x=1").kind, ErrorKind::Arity);
        assert_eq!(err("(x + 1", "x=1").kind, ErrorKind::Syntax);
        assert_eq!(err("x + 1)", "x=1").kind, ErrorKind::Syntax);
        assert_eq!(err("x ^ 2", "x=1").kind, ErrorKind::Syntax);
        assert_eq!(err("", "").kind, ErrorKind::Syntax);
        assert_eq!(err("X", "").kind, ErrorKind::Syntax);
        assert_eq!(err("x + y", "x=[1,2],y=[1,2,3]").kind, ErrorKind::Shape);
    }

    #[test]
    fn points() {
        let p = Point::parse("x=2, y=-1.5, z=[1, 2.5, -3], w=linspace(0,1,3)").unwrap();
        assert_eq!(p.get("x"), Some((&[2.0][..], false)));
        assert_eq!(p.get("y"), Some((&[-1.5][..], false)));
        assert_eq!(p.get("z"), Some((&[1.0, 2.5, -3.0][..], true)));
        assert_eq!(p.get("w"), Some((&[0.0, 0.5, 1.0][..], true)));
        for bad in ["x", "x=", "x=2,", "x=2 y=3", "x=[1,2", "x=linspace(0,1)", "x=linspace(0,1,0)", "x=1,x=2", "2=x"] {
            let e = Point::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Point, "{bad}: {e}");
        }
    }
}
