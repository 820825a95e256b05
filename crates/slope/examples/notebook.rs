//! The PyTorch notebook "Pytorch Gradients (Derivatives)", cell by cell, in slope.
//!
//! Run with `cargo run --example notebook`. Each block names the notebook cell it
//! reproduces; the printed values are the notebook's.

use std::io::{self, Write};

use slope::prelude::*;

/// The notebook's `print('data:', ...)` block for one tensor.
fn describe(out: &mut dyn Write, t: &Tensor<'_>) -> io::Result<()> {
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "None".into());
    writeln!(out, "data: {}", t.value())?;
    writeln!(out, "grad_fn: {}", or_none(t.grad_fn().map(|f| f.to_string())))?;
    writeln!(out, "grad: {}", or_none(t.grad().map(|g| g.to_string())))?;
    writeln!(out, "is_leaf: {}", t.is_leaf())?;
    writeln!(out, "requires_grad: {}", t.requires_grad())
}

/// The first and last three elements of a long vector, as `[a, b, c, ..., x, y, z]`.
fn ends(v: &Value) -> String {
    let s = v.as_slice();
    let show = |xs: &[f64]| xs.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
    if s.len() <= 6 {
        return format!("[{}]", show(s));
    }
    format!("[{}, ..., {}] ({} elements)", show(&s[..3]), show(&s[s.len() - 3..]), s.len())
}

/// Prints the notebook's cells to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    let g = Graph::new();

    writeln!(out, "## Derivatives")?;
    // In [3]: x = torch.tensor(2.0, requires_grad = True)
    let x = g.scalar(2.0).requires_grad_();
    writeln!(out, "{x}")?;
    // In [5]: x.dtype
    writeln!(out, "dtype: f64")?;
    // In [6]: y = x ** 2
    let y = x.powi(2);
    writeln!(out, "result of the function y :  {:?}", y.item()?)?;
    // In [6]: y.backward()
    y.backward()?;
    writeln!(out, "the derivative at x = 2 -> {}", x.grad().ok_or("x.grad is None")?)?;
    // In [8] and In [9]: the attributes of x and y
    writeln!(out, "# x")?;
    describe(out, &x)?;
    writeln!(out, "# y")?;
    describe(out, &y)?;

    // In [10]-[13]: y = x ** 2 + 2 * x + 1 at x = 2
    let x = g.scalar(2.0).requires_grad_();
    let y = x.powi(2) + 2.0 * x + 1.0;
    writeln!(out, "result of y equation ~  {y}")?;
    y.backward()?;
    writeln!(out, "x.grad: {}", x.grad().ok_or("x.grad is None")?)?;

    // In [14]-[17]: y = 2 * x ** 3 + x at x = 1
    let x = g.scalar(1.0).requires_grad_();
    let y = 2.0 * x.powi(3) + x;
    writeln!(out, "x in y :  {y}")?;
    y.backward()?;
    writeln!(out, "x.grad: {}", x.grad().ok_or("x.grad is None")?)?;
    // In [18]: the derivative written by hand, 6 x^2 + 1, at the same x
    let dy = 6.0 * x.powi(2) + 1.0;
    writeln!(out, " X in derivative of y ->  {dy}")?;

    writeln!(out, "## Partial Derivatives")?;
    // In [19]: f = u * v + u ** 2
    let u = g.scalar(1.0).requires_grad_();
    let v = g.scalar(2.0).requires_grad_();
    let f = u * v + u.powi(2);
    writeln!(out, "Result of the function :  {f}")?;
    // In [20]: f.backward()
    f.backward()?;
    writeln!(out, "The partial derivative with respect to u:  {}", u.grad().ok_or("u.grad is None")?)?;
    writeln!(out, "The partial derivative with respect to v:  {}", v.grad().ok_or("v.grad is None")?)?;

    // In [21]: x = torch.linspace(-10, 10, 10, requires_grad = True)
    let x = g.linspace(-10.0, 10.0, 10)?.requires_grad_();
    let big_y = x.powi(2);
    let y = x.powi(2).sum();
    // In [22], [23]
    writeln!(out, "{x}")?;
    writeln!(out, "The value of function y :  {big_y}")?;
    writeln!(out, "The value of function y.sum() :  {y}")?;
    // In [24], [25]
    y.backward()?;
    let grad = x.grad().ok_or("x.grad is None")?;
    writeln!(out, "x.grad: {grad}")?;
    // In [26]: the function and its derivative, the two curves of the plot
    writeln!(out, "{:>10} {:>12} {:>12}", "x", "function", "derivative")?;
    let xs = x.detach().to_vec();
    for ((x, y), d) in xs.iter().zip(big_y.detach().to_vec()).zip(grad.as_slice()) {
        writeln!(out, "{x:>10.4} {y:>12.4} {d:>12.4}")?;
    }

    writeln!(out, "## Gradient of ReLu")?;
    // In [27]: x = torch.linspace(-10, 10, 1000, requires_grad = True); Y = torch.relu(x)
    let x = g.linspace(-10.0, 10.0, 1000)?.requires_grad_();
    let big_y = x.relu();
    writeln!(out, "relu: {}", ends(&big_y.value()))?;
    // In [30]: y = Y.sum(); y.backward()
    let y = big_y.sum();
    y.backward()?;
    // In [31]: x.grad
    let grad = x.grad().ok_or("x.grad is None")?;
    writeln!(out, "x.grad: {}", ends(&grad))?;
    let zeros = grad.as_slice().iter().filter(|&&d| d == 0.0).count();
    let ones = grad.as_slice().iter().filter(|&&d| d == 1.0).count();
    writeln!(out, "relu'(x) is 0 at {zeros} points (x < 0) and 1 at {ones} points (x > 0)")?;
    Ok(())
}

#[allow(dead_code)] // the integration test includes this file for `run`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&mut io::stdout().lock())
}
