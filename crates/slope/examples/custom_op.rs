//! A custom op: softplus, defined outside slope by its primal and its VJP, differentiated
//! in both modes, then checked by slope's gradient checker; a softplus with a deliberately
//! wrong VJP is checked too, and the report shows it failing. (slope has `softplus` built in;
//! this one, registered as `my_softplus`, shows how an op slope lacks is added.)
//!
//! `cargo run --example custom_op`

use slope::check::{check_op, Options};
use slope::custom::{register, CustomOp};
use slope::graph::structural::Input;
use slope::prelude::*;
use slope::Scalar;

/// `softplus(x) = ln(1 + e^x)`, PyTorch's `torch.nn.functional.softplus`.
struct Softplus {
    name: &'static str,
    /// Use `e^x` for the derivative instead of `sigmoid(x)`: the mistake to be caught.
    wrong_vjp: bool,
}

impl CustomOp for Softplus {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Written once over `Scalar`: values on `f64`, forward mode on duals, Hessians on
    /// hyper-duals. The branch keeps `e^x` from overflowing.
    fn primal<S: Scalar>(&self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.extend(inputs[0].0.iter().map(|&x| if x > S::zero() { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }));
    }

    /// `d softplus / dx = sigmoid(x)`, times the output's adjoint.
    fn vjp<S: Scalar>(&self, _input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        for ((adj, &x), &g) in adjoint.iter_mut().zip(inputs[0].0).zip(g) {
            *adj += g * if self.wrong_vjp { x.exp() } else { x.sigmoid() };
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let softplus = register(Softplus { name: "my_softplus", wrong_vjp: false })?;

    // Reverse mode on tensors, as PyTorch: y = sum(softplus(x)), dy/dx = sigmoid(x).
    let g = Graph::new();
    let x = g.vector(&[-2.0, 0.0, 3.0]).requires_grad_();
    let y = x.try_op(softplus, &[])?.sum();
    y.backward()?;
    println!("x            = {}", x.value());
    println!("softplus(x)  = {}", x.try_op(softplus, &[])?.value());
    println!("y.grad_fn    = {}", x.try_op(softplus, &[])?.grad_fn().map(|f| f.name()).unwrap_or("-"));
    println!("dy/dx        = {}", x.grad().ok_or("x has no gradient")?);

    // On Var, inside code written over Float, and in formulas by its name.
    let (value, grad) =
        slope::gradient(|v| v[0].try_op(softplus, &[]).expect("softplus of a scalar") * v[1], &[0.5, 2.0])?;
    println!("2 softplus(0.5) = {value:.6}, gradient {grad:?}");
    let formula = slope::expr::Formula::parse("my_softplus(x) ** 2")?;
    let recorded = formula.record(&g, &slope::expr::Point::parse("x=1")?)?;
    println!("softplus(1)^2 from a formula = {:.6}", recorded.output.item()?);

    // The checker treats it as a built-in op: forward mode (the primal on duals), reverse
    // mode (the VJP), finite differences and second derivatives, at random points, edges
    // and every shape.
    let options = Options { points: 50, ..Options::default() };
    let report = check_op(softplus, &options);
    println!("\nchecking softplus:\n{report}");

    let wrong = register(Softplus { name: "softplus_wrong_vjp", wrong_vjp: true })?;
    let report = check_op(wrong, &options);
    println!("checking softplus with a wrong VJP (e^x instead of sigmoid(x)):\n{report}");
    if report.passed() {
        return Err("the checker missed a wrong VJP".into());
    }
    Ok(())
}
