//! The workloads of slope's benchmarks, each with its plain-`f64` primal and a hand-written
//! derivative, so every AD figure is a ratio to code measured in the same run.
//!
//! The workloads are the design's: W1 Rosenbrock, W3 a deep scalar chain. The tests below
//! hold each hand-written derivative against slope, so a baseline cannot be wrong silently.

use num_traits::Float;

pub mod attention;
pub mod gmm;
pub mod logistic;
pub mod mlp;
pub mod num_dual_peer;
pub mod peers;
pub mod race;

pub use logistic::{logistic_data, logistic_loss, LogisticIds, LogisticParams};

/// W1: the extended Rosenbrock function `Σ 100 (x[i+1] - x[i]²)² + (1 - x[i])²`.
pub fn rosenbrock<T: Float>(x: &[T]) -> T {
    let hundred = T::from(100.0).unwrap_or_else(T::nan);
    let one = T::one();
    let mut sum = T::zero();
    for w in x.windows(2) {
        let t = w[1] - w[0] * w[0];
        let u = one - w[0];
        sum = sum + hundred * t * t + u * u;
    }
    sum
}

/// W1 written as its num-dual copy is (`num_dual_peer::rosenbrock_nd`): `f64` operands as
/// `f64`, which slope's duals apply as scalings and shifts of the tangent rather than as
/// promoted constants; the same operations in the same order as the copy.
pub fn rosenbrock_f64_operands<D>(x: &[D]) -> D
where
    D: Copy
        + num_traits::Zero
        + core::ops::Sub<Output = D>
        + core::ops::Mul<Output = D>
        + core::ops::Mul<f64, Output = D>
        + core::ops::Sub<f64, Output = D>,
{
    let mut sum = D::zero();
    for w in x.windows(2) {
        let t = w[1] - w[0] * w[0];
        let u = w[0] - 1.0;
        sum = sum + (t * t * 100.0 + u * u);
    }
    sum
}

/// W1's gradient, by hand.
pub fn rosenbrock_gradient(x: &[f64], grad: &mut [f64]) -> f64 {
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut sum = 0.0;
    for i in 0..x.len().saturating_sub(1) {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        sum += 100.0 * t * t + u * u;
        grad[i] += -400.0 * t * x[i] - 2.0 * u;
        grad[i + 1] += 200.0 * t;
    }
    sum
}

/// A point for W1 of `n` coordinates.
pub fn rosenbrock_point(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 + 0.01 * (i % 7) as f64).collect()
}

/// W2 on a scalar tape: `sum(x * x)`.
pub fn sum_squares<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |sum, &v| sum + v * v)
}

/// W2's gradient by hand: writes `2 x` into `grad` and returns `sum(x * x)`, one pass.
#[inline]
pub fn sum_squares_gradient(x: &[f64], grad: &mut [f64]) -> f64 {
    let mut s = 0.0;
    for (g, &v) in grad.iter_mut().zip(x) {
        s += v * v;
        *g = 2.0 * v;
    }
    s
}

/// W3: a deep serial chain, `y ← sin(y)·x + exp(-y·y)`, `depth` times from `y = x`.
pub fn chain<T: Float>(x: T, depth: usize) -> T {
    let mut y = x;
    for _ in 0..depth {
        y = y.sin() * x + (-(y * y)).exp();
    }
    y
}

/// W3 and its derivative in `x`, by hand.
pub fn chain_derivative(x: f64, depth: usize) -> (f64, f64) {
    let (mut y, mut dy) = (x, 1.0);
    for _ in 0..depth {
        let (s, c) = y.sin_cos();
        let e = (-y * y).exp();
        dy = c * dy * x + s - 2.0 * y * e * dy;
        y = s * x + e;
    }
    (y, dy)
}

/// W1 in tensor form, as one writes it with PyTorch: `x[1:] - x[:-1]**2` on whole vectors.
pub fn rosenbrock_tensor<'g>(x: slope::Tensor<'g>) -> slope::Tensor<'g> {
    let n = x.shape().len();
    let head = x.slice(0, n - 1);
    let t = x.slice(1, n) - head.powi(2);
    let u = 1.0 - head;
    100.0 * (t * t).sum() + (u * u).sum()
}

/// W4: `sum(tanh(W x))` for a square `W` (row-major) and its gradient in `W`, by hand.
pub fn w4_gradient(w: &[f64], x: &[f64], grad: &mut [f64]) -> f64 {
    let n = x.len();
    let mut sum = 0.0;
    for i in 0..n {
        let row = &w[i * n..(i + 1) * n];
        let z: f64 = row.iter().zip(x).map(|(a, b)| a * b).sum();
        let t = z.tanh();
        sum += t;
        let d = 1.0 - t * t;
        for (g, &xj) in grad[i * n..(i + 1) * n].iter_mut().zip(x) {
            *g = d * xj;
        }
    }
    sum
}

/// W4's primal.
pub fn w4<T: Float>(w: &[T], x: &[T]) -> T {
    let n = x.len();
    let mut sum = T::zero();
    for i in 0..n {
        let mut z = T::zero();
        for j in 0..n {
            z = z + w[i * n + j] * x[j];
        }
        sum = sum + z.tanh();
    }
    sum
}

/// A deterministic `W` and `x` for W4 and the Jacobian workload.
pub fn w4_data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let w = (0..n * n).map(|k| ((k * 7919 % 1000) as f64 / 1000.0 - 0.5) / (n as f64).sqrt()).collect();
    let x = (0..n).map(|k| ((k * 104_729 % 997) as f64 / 997.0) - 0.5).collect();
    (w, x)
}

/// The Hessian of W1 by hand (tridiagonal), row-major `n x n`.
pub fn rosenbrock_hessian(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut h = vec![0.0; n * n];
    for i in 0..n.saturating_sub(1) {
        h[i * n + i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
        h[(i + 1) * n + i + 1] += 200.0;
        h[i * n + i + 1] += -400.0 * x[i];
        h[(i + 1) * n + i] += -400.0 * x[i];
    }
    h
}

/// How many nodes slope records for W1 at `n` through the `Float` variable.
pub fn w1_recorded_nodes(n: usize) -> usize {
    let g = slope::Graph::new();
    let x = g.vars(&rosenbrock_point(n));
    let _ = rosenbrock(&x);
    g.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slope::Dual;

    #[test]
    fn rosenbrock_with_f64_operands_is_rosenbrock_and_its_copy() {
        let x = rosenbrock_point(13);
        let v: Vec<f64> = (0..13).map(|i| (i % 3) as f64 - 1.0).collect();
        let seeded: Vec<Dual<f64>> = x.iter().zip(&v).map(|(&x, &v)| Dual::new(x, v)).collect();
        let nd: Vec<num_dual::Dual64> = x.iter().zip(&v).map(|(&x, &v)| num_dual::Dual64::new(x, v)).collect();
        let (ours, generic, copy) =
            (rosenbrock_f64_operands(&seeded), rosenbrock(&seeded), num_dual_peer::rosenbrock_nd(&nd));
        assert_eq!((ours.re.to_bits(), ours.eps.to_bits()), (copy.re.to_bits(), copy.eps.to_bits()));
        assert!(
            (ours.re - generic.re).abs() < 1e-12 * generic.re.abs()
                && (ours.eps - generic.eps).abs() < 1e-12 * generic.eps.abs()
        );
    }

    #[test]
    fn hand_written_rosenbrock_gradient_matches_slope() {
        let x = rosenbrock_point(13);
        let mut grad = vec![0.0; 13];
        let value = rosenbrock_gradient(&x, &mut grad);
        let (v, g) = slope::gradient(|v| rosenbrock(v), &x).unwrap();
        assert!((value - v).abs() < 1e-12);
        for (a, b) in grad.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn tensor_form_and_hand_written_w4_and_hessian_match_slope() {
        let x = rosenbrock_point(9);
        let g = slope::Graph::new();
        let t = g.vector(&x).requires_grad_();
        let y = rosenbrock_tensor(t);
        slope::Backward::backward(&y).unwrap();
        let mut grad = vec![0.0; 9];
        let v = rosenbrock_gradient(&x, &mut grad);
        assert!((y.item().unwrap() - v).abs() < 1e-12);
        let got = t.grad().unwrap().into_vec();
        assert!(got.iter().zip(&grad).all(|(a, b)| (a - b).abs() < 1e-10));

        let (w, xs) = w4_data(8);
        let mut gw = vec![0.0; 64];
        let v = w4_gradient(&w, &xs, &mut gw);
        let (value, g2) =
            slope::gradient(|v| w4(v, &xs.iter().map(|&x| slope::Var::constant(x)).collect::<Vec<_>>()), &w).unwrap();
        assert!((value - v).abs() < 1e-12);
        assert!(g2.iter().zip(&gw).all(|(a, b)| (a - b).abs() < 1e-12));

        let g = slope::Graph::new();
        let t = g.vector(&x).requires_grad_();
        let id = (rosenbrock_tensor(t).id(), t.id());
        let h = slope::graph_hessian(&g.freeze(), id.0, &[id.1]).unwrap();
        let want = rosenbrock_hessian(&x);
        for i in 0..9 {
            for j in 0..9 {
                assert!((h[i][j] - want[i * 9 + j]).abs() < 1e-9, "H[{i}][{j}]");
            }
        }
    }

    #[test]
    fn hand_written_chain_derivative_matches_forward_mode() {
        for depth in [1, 10, 100] {
            let (y, dy) = chain_derivative(0.7, depth);
            let d = chain(Dual::variable(0.7), depth);
            assert!((y - d.re).abs() < 1e-12);
            assert!((dy - d.eps).abs() <= 1e-10 * dy.abs().max(1.0), "depth {depth}: {dy} vs {}", d.eps);
        }
    }
}
