//! The forward-mode workloads written for num-dual (0.13), in its fastest documented form, as
//! its maintainers would write them: `f64` operands as `f64` (num-dual's `Mul<F>`, `Add<F>`,
//! ... scale the derivative without promoting the constant), and for chunked gradients one
//! input vector kept for all passes, of which each pass resets only the previous chunk's
//! derivatives and seeds its own (`DualSVec64::derivative`). num-dual's duals implement its
//! own `DualNum`, not `num_traits::Float`, so each workload is a copy of the generic one in
//! `lib.rs`, the same operations in the same order (`1 - x` is written `x - 1`, whose square
//! is the same, because num-dual has no `f64 - dual`).

use nalgebra_for_num_dual::{Const, SVector, U1};
use num_dual::{Derivative, Dual2SVec64, DualNum, DualSVec64};

/// W1, Rosenbrock.
pub fn rosenbrock_nd<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut sum = D::zero();
    for w in x.windows(2) {
        let t = w[1] - w[0] * w[0];
        let u = w[0] - 1.0;
        sum += t * t * 100.0 + u * u;
    }
    sum
}

/// W3, the deep chain `y = sin(y) * x + exp(-y * y)`.
pub fn chain_nd<D: DualNum<f64> + Copy>(x: D, depth: usize) -> D {
    let mut y = x;
    for _ in 0..depth {
        y = y.sin() * x + (-(y * y)).exp();
    }
    y
}

/// W4, `sum(tanh(W d))` with `W` the variables (row-major) and `d` data.
pub fn w4_nd<D: DualNum<f64> + Copy>(w: &[D], d: &[f64]) -> D {
    let n = d.len();
    let mut sum = D::zero();
    for i in 0..n {
        let mut z = D::zero();
        for j in 0..n {
            z += w[i * n + j] * d[j];
        }
        sum += z.tanh();
    }
    sum
}

/// `tanh(W d)` with `d` the variables: the Jacobian workload.
pub fn tanh_layer_nd<D: DualNum<f64> + Copy>(w: &[f64], d: &[D]) -> Vec<D> {
    let n = d.len();
    (0..n)
        .map(|i| {
            let mut z = D::zero();
            for j in 0..n {
                z += d[j] * w[i * n + j];
            }
            z.tanh()
        })
        .collect()
}

/// A chunked gradient with num-dual's `DualSVec64<N>`: num-dual's own `gradient` seeds every
/// input at once (one pass, `n` derivatives per value), which is this loop's `N = n`; the
/// user's loop for larger `n` keeps `inputs` between calls and passes.
pub struct ChunkedGradient<const N: usize> {
    inputs: Vec<DualSVec64<N>>,
}

impl<const N: usize> Default for ChunkedGradient<N> {
    fn default() -> Self {
        ChunkedGradient { inputs: Vec::new() }
    }
}

impl<const N: usize> ChunkedGradient<N> {
    /// `f(x)`, with `∇f(x)` written to `grad`.
    pub fn gradient(&mut self, f: impl Fn(&[DualSVec64<N>]) -> DualSVec64<N>, x: &[f64], grad: &mut [f64]) -> f64 {
        self.inputs.clear();
        self.inputs.extend(x.iter().map(|&v| DualSVec64::<N>::from_re(v)));
        let mut value = 0.0;
        for start in (0..x.len()).step_by(N) {
            let end = (start + N).min(x.len());
            if start > 0 {
                for d in &mut self.inputs[start - N..start] {
                    d.eps = Derivative::none();
                }
            }
            for (k, d) in self.inputs[start..end].iter_mut().enumerate() {
                *d = d.derivative(k);
            }
            let y = f(&self.inputs);
            value = y.re;
            let eps = y.eps.unwrap_generic(Const::<N>, U1);
            grad[start..end].copy_from_slice(&eps.as_slice()[..end - start]);
        }
        value
    }
}

/// num-dual's documented `gradient`: every input seeded at once in one pass (`N = n`).
pub fn gradient_nd<const N: usize>(f: impl Fn(&[DualSVec64<N>]) -> DualSVec64<N>, x: &[f64]) -> (f64, SVector<f64, N>) {
    let v = SVector::<f64, N>::from_column_slice(x);
    num_dual::gradient(|x: SVector<DualSVec64<N>, N>| f(x.as_slice()), &v)
}

/// num-dual's documented `hessian` (`Dual2SVec64<N>`: one pass, value, gradient and Hessian
/// of every input at once).
pub fn hessian_nd<const N: usize>(
    f: impl Fn(&[Dual2SVec64<N>]) -> Dual2SVec64<N>,
    x: &[f64],
) -> (f64, SVector<f64, N>, nalgebra_for_num_dual::SMatrix<f64, N, N>) {
    let v = SVector::<f64, N>::from_column_slice(x);
    num_dual::hessian(|x: SVector<Dual2SVec64<N>, N>| f(x.as_slice()), &v)
}

/// num-dual's documented `jacobian` (`DualSVec64<N>`, every input at once).
pub fn jacobian_nd<const N: usize>(
    f: impl Fn(&[DualSVec64<N>]) -> Vec<DualSVec64<N>>,
    x: &[f64],
) -> (SVector<f64, N>, nalgebra_for_num_dual::SMatrix<f64, N, N>) {
    let v = SVector::<f64, N>::from_column_slice(x);
    num_dual::jacobian(|x: SVector<DualSVec64<N>, N>| SVector::<DualSVec64<N>, N>::from_vec(f(x.as_slice())), &v)
}
