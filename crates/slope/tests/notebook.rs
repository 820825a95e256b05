//! The notebook's numbers, asserted: once through the example's own transcript, and once
//! through the API directly.

#[path = "../examples/notebook.rs"]
mod example;

use slope::prelude::*;

fn transcript() -> String {
    let mut out = Vec::new();
    example::run(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_example_prints_the_notebooks_values() {
    let t = transcript();
    for line in [
        "tensor(2., requires_grad=True)",
        "result of the function y :  4.0",
        "the derivative at x = 2 -> tensor(4.)",
        // In [8]: x
        "data: tensor(2.)\ngrad_fn: None\ngrad: tensor(4.)\nis_leaf: true\nrequires_grad: true",
        // In [9]: y
        "data: tensor(4.)\ngrad_fn: <PowBackward0>\ngrad: None\nis_leaf: false\nrequires_grad: true",
        "result of y equation ~  tensor(9., grad_fn=<AddBackward0>)",
        "x.grad: tensor(6.)",
        "x in y :  tensor(3., grad_fn=<AddBackward0>)",
        "x.grad: tensor(7.)",
        " X in derivative of y ->  tensor(7., grad_fn=<AddBackward0>)",
        "Result of the function :  tensor(3., grad_fn=<AddBackward0>)",
        "The partial derivative with respect to u:  tensor(4.)",
        "The partial derivative with respect to v:  tensor(1.)",
        "tensor([-10.0000,  -7.7778,  -5.5556,  -3.3333,  -1.1111,   1.1111,   3.3333,",
        "The value of function y.sum() :  tensor(407.4074, grad_fn=<SumBackward0>)",
        "x.grad: tensor([-20.0000, -15.5556, -11.1111,  -6.6667,  -2.2222,   2.2222,   6.6667,",
        "relu'(x) is 0 at 500 points (x < 0) and 1 at 500 points (x > 0)",
    ] {
        assert!(t.contains(line), "missing from the transcript: {line:?}\n---\n{t}");
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn derivatives_cells() {
    let g = Graph::new();
    let x = g.scalar(2.0).requires_grad_();
    let y = x.powi(2);
    assert_eq!(y.item().unwrap(), 4.0);
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(4.0));

    let x = g.scalar(2.0).requires_grad_();
    let y = x.powi(2) + 2.0 * x + 1.0;
    assert_eq!(y.item().unwrap(), 9.0);
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(6.0));

    let x = g.scalar(1.0).requires_grad_();
    let y = 2.0 * x.powi(3) + x;
    assert_eq!(y.item().unwrap(), 3.0);
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item(), Some(7.0));
    assert_eq!((6.0 * x.powi(2) + 1.0).item().unwrap(), 7.0);
}

#[test]
fn partial_derivatives_cell() {
    let g = Graph::new();
    let u = g.scalar(1.0).requires_grad_();
    let v = g.scalar(2.0).requires_grad_();
    let f = u * v + u.powi(2);
    assert_eq!(f.item().unwrap(), 3.0);
    f.backward().unwrap();
    assert_eq!(u.grad().unwrap().item(), Some(4.0));
    assert_eq!(v.grad().unwrap().item(), Some(1.0));
}

#[test]
fn linspace_sum_cell() {
    let g = Graph::new();
    let x = g.linspace(-10.0, 10.0, 10).unwrap().requires_grad_();
    let xs = x.to_vec();
    let expected_x = [-10.0, -7.7778, -5.5556, -3.3333, -1.1111, 1.1111, 3.3333, 5.5556, 7.7778, 10.0];
    assert!(xs.iter().zip(expected_x).all(|(&a, b)| close(a, b, 5e-5)), "{xs:?}");
    let big_y = x.powi(2);
    let expected_y = [100.0, 60.4938, 30.8642, 11.1111, 1.2346, 1.2346, 11.1111, 30.8642, 60.4938, 100.0];
    assert!(big_y.to_vec().iter().zip(expected_y).all(|(&a, b)| close(a, b, 5e-5)));
    let y = x.powi(2).sum();
    assert!(close(y.item().unwrap(), 407.4074, 5e-5));
    assert_eq!(y.grad_fn().unwrap().name(), "SumBackward0");
    y.backward().unwrap();
    let grad = x.grad().unwrap();
    let expected_grad = [-20.0, -15.5556, -11.1111, -6.6667, -2.2222, 2.2222, 6.6667, 11.1111, 15.5556, 20.0];
    assert!(grad.as_slice().iter().zip(expected_grad).all(|(&a, b)| close(a, b, 5e-5)));
    // and exactly 2x
    assert!(grad.as_slice().iter().zip(&xs).all(|(&d, &x)| d == 2.0 * x));
    // the plot's two curves come out of detach()
    assert!(x.detach().is_leaf() && !x.detach().requires_grad());
}

#[test]
fn relu_cell() {
    let g = Graph::new();
    let x = g.linspace(-10.0, 10.0, 1000).unwrap().requires_grad_();
    let big_y = x.relu();
    assert_eq!(big_y.grad_fn().unwrap().name(), "ReluBackward0");
    let y = big_y.sum();
    y.backward().unwrap();
    let xs = x.to_vec();
    let grad = x.grad().unwrap();
    for (&x, &d) in xs.iter().zip(grad.as_slice()) {
        assert_eq!(d, if x > 0.0 { 1.0 } else { 0.0 });
    }
    assert_eq!(grad.as_slice().iter().filter(|&&d| d == 0.0).count(), 500);
    assert_eq!(grad.as_slice().iter().filter(|&&d| d == 1.0).count(), 500);
    assert_eq!(big_y.to_vec().iter().filter(|&&v| v == 0.0).count(), 500);
}
