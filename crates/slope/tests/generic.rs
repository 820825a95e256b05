//! Functions written once over `num_traits::Float`, differentiated through the tape (`Var`)
//! and checked against hand-written gradients and against forward mode (`Dual`).

use num_traits::{NumCast, One};
use slope::prelude::*;

fn rosenbrock<T: Float>(x: &[T]) -> T {
    let hundred = T::from(100.0).unwrap();
    x.windows(2)
        .map(|w| hundred * (w[1] - w[0] * w[0]).powi(2) + (T::one() - w[0]).powi(2))
        .fold(T::zero(), |a, b| a + b)
}

fn rosenbrock_gradient(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let t = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * t;
    }
    g
}

/// Exercises the `Float` methods that are not single ops of the table.
fn kitchen_sink<T: Float>(x: &[T]) -> T {
    let (a, b) = (x[0], x[1]);
    let two = T::from(2.0).unwrap();
    a.mul_add(b, a)
        + a.log(two)
        + b.fract()
        + a.hypot(b)
        + b.atan2(a)
        + a.max(b) * a.min(b)
        + a.powf(b)
        + (a % b)
        + a.abs_sub(b)
        + a.clamp(T::zero(), T::one())
        + a.to_degrees()
        + a.sin_cos().0 * a.sin_cos().1
        + b.recip()
        + a.log10()
        + a.exp_m1()
}

/// The forward-mode derivative of `f` along coordinate `i`.
fn forward(f: impl Fn(&[Dual<f64>]) -> Dual<f64>, x: &[f64], i: usize) -> f64 {
    let duals: Vec<Dual<f64>> =
        x.iter().enumerate().map(|(k, &v)| if k == i { Dual::variable(v) } else { Dual::constant(v) }).collect();
    f(&duals).eps
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn rosenbrock_gradient_matches_the_hand_written_one() {
    for x in [vec![1.0, 1.0], vec![-1.2, 1.0, 0.5], vec![0.3, -0.7, 2.0, 1.5, -0.1]] {
        let (value, grad) = slope::gradient(|v| rosenbrock(v), &x).unwrap();
        assert_eq!(value, rosenbrock(&x));
        let want = rosenbrock_gradient(&x);
        assert!(grad.iter().zip(&want).all(|(&g, &w)| close(g, w)), "{grad:?} vs {want:?}");
    }
}

#[test]
fn reverse_and_forward_mode_agree_on_float_generic_code() {
    for x in [[0.7, 1.3], [2.5, 0.4], [1.9, 3.2]] {
        let (value, grad) = slope::gradient(|v| kitchen_sink(v), &x).unwrap();
        assert!(close(value, kitchen_sink(&x)));
        for (i, &g) in grad.iter().enumerate() {
            let f = forward(kitchen_sink, &x, i);
            assert!(close(g, f), "d/dx{i} at {x:?}: reverse {g}, forward {f}");
        }
    }
}

#[test]
fn constants_need_no_tape() {
    let one: Var<'static> = Var::one();
    let c = one + Var::constant(2.0) * 3.0;
    assert_eq!(c.value(), 7.0);
    assert!(c.id().is_none() && c.graph().is_none());
    // A function that ignores its input has a zero gradient.
    let (value, grad) = slope::gradient(|_| <Var<'_> as NumCast>::from(5.0).unwrap(), &[1.0, 2.0]).unwrap();
    assert_eq!((value, grad), (5.0, vec![0.0, 0.0]));
}

#[test]
fn branches_follow_the_values() {
    fn f<T: Float>(x: &[T]) -> T {
        if x[0] > T::zero() {
            x[0] * x[0]
        } else {
            -x[0]
        }
    }
    assert_eq!(slope::gradient(|v| f(v), &[3.0]).unwrap().1, vec![6.0]);
    assert_eq!(slope::gradient(|v| f(v), &[-3.0]).unwrap().1, vec![-1.0]);
    // max picks a branch; its gradient goes to the larger argument only
    let (_, g) = slope::gradient(|v| v[0].max(v[1]) * 2.0, &[1.0, 4.0]).unwrap();
    assert_eq!(g, vec![0.0, 2.0]);
}

#[test]
fn piecewise_constant_functions_have_zero_gradient() {
    let (_, g) = slope::gradient(|v| v[0].floor() + v[0].round() + v[0].signum() + v[0].ceil(), &[2.3]).unwrap();
    assert_eq!(g, vec![0.0]);
    let (_, g) = slope::gradient(|v| v[0].fract(), &[2.3]).unwrap();
    assert_eq!(g, vec![1.0]);
}

#[test]
fn a_variable_exponent_is_differentiated_a_constant_one_is_not() {
    let (_, g) = slope::gradient(|v| v[0].powf(v[1]), &[2.0, 3.0]).unwrap();
    assert!(close(g[0], 12.0) && close(g[1], 8.0 * 2.0_f64.ln()));
    let (_, g) = slope::gradient(|v| v[0].powf(Var::constant(3.0)), &[2.0]).unwrap();
    assert_eq!(g, vec![12.0]);
}

#[test]
fn fract_is_f64_fract_in_both_modes_also_below_zero() {
    for x in [-2.75, -0.5, 0.25, 3.5] {
        let (value, g) = slope::gradient(|v| v[0].fract(), &[x]).unwrap();
        assert_eq!((value, g), (x.fract(), vec![1.0]), "fract at {x}");
        let d = Float::fract(Dual::variable(x));
        assert_eq!((d.re, d.eps), (x.fract(), 1.0));
    }
}

#[test]
fn closure_jacobians_and_hessians_match_forward_mode() {
    let x = [0.7, 1.3];
    let (value, grad, hess) = slope::hessian(|v| kitchen_sink(v), &x).unwrap();
    let (fvalue, fgrad, fhess) = slope::dual::hessian(kitchen_sink, &x);
    assert!(close(value, fvalue));
    assert!(grad.iter().zip(&fgrad).all(|(&a, &b)| close(a, b)), "{grad:?} vs {fgrad:?}");
    for (row, frow) in hess.iter().zip(&fhess) {
        assert!(
            row.iter().zip(frow).all(|(&a, &b)| (a - b).abs() <= 1e-10 * b.abs().max(1.0)),
            "{hess:?} vs {fhess:?}"
        );
    }
    let (ys, jac) = slope::jacobian(|v| vec![rosenbrock(v), kitchen_sink(v)], &x).unwrap();
    assert_eq!(ys, vec![rosenbrock(&x), kitchen_sink(&x)]);
    assert_eq!(jac[0], rosenbrock_gradient(&x));
    assert!(jac[1].iter().zip(&fgrad).all(|(&a, &b)| close(a, b)));
    // A constant function has a zero Hessian.
    let (_, _, h) = slope::hessian(|_| Var::constant(2.0), &x).unwrap();
    assert_eq!(h, vec![vec![0.0; 2]; 2]);
}
