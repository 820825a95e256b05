//! The workloads of slope's benchmarks, each with its plain-`f64` primal and a hand-written
//! derivative, so every AD figure is a ratio to code measured in the same run.
//!
//! The workloads are the design's: W1 Rosenbrock, W3 a deep scalar chain. The tests below
//! hold each hand-written derivative against slope, so a baseline cannot be wrong silently.

use num_traits::Float;

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

#[cfg(test)]
mod tests {
    use super::*;
    use slope::Dual;

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
    fn hand_written_chain_derivative_matches_forward_mode() {
        for depth in [1, 10, 100] {
            let (y, dy) = chain_derivative(0.7, depth);
            let d = chain(Dual::variable(0.7), depth);
            assert!((y - d.re).abs() < 1e-12);
            assert!((dy - d.eps).abs() <= 1e-10 * dy.abs().max(1.0), "depth {depth}: {dy} vs {}", d.eps);
        }
    }
}
