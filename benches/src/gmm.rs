//! The Gaussian mixture model objective of the ADBench / GradBench suite (`gmm`), its data
//! generator, and the objective written three ways: over plain `f64` (the reference `f` of
//! the suite's J/f), over `num_traits::Float` (for `slope::gradient`, recorded scalar by
//! scalar), and in tensor form on a slope `Graph`.
//!
//! The definition follows GradBench's `cpp/gradbench/evals/gmm.hpp` (from ADBench's
//! `gmm.h`): for `K` components in `D` dimensions, weights `alpha` (`K`), means `mu`
//! (`K x D`), and for each component `q_k` (`D`) and `l_k` (`D(D-1)/2`), with
//! `Q_k = diag(exp q_k) + L_k`, `L_k` strictly lower triangular, filled from `l_k` column by
//! column,
//!
//! `f = -N D/2 ln 2π + Σ_n logsumexp_k(alpha_k + Σ q_k - ½ |Q_k (x_n - mu_k)|²)
//!      - N logsumexp(alpha) - Σ_k (½ γ² (|exp q_k|² + |l_k|²) - m Σ q_k) + K C(D, γ, m)`
//!
//! with the Wishart prior's `γ = 1`, `m = 0`. The data are the suite's: NumPy's legacy
//! generator seeded with 31337 draws `200 D` uniforms, then `200 (1 + D + D(D-1)/2) + 10⁴ D`
//! normals; `alpha` takes the first `K` normals, `mu` the first `K D` uniforms, the inverse
//! covariance factors (`q_k` then `l_k` per component) the next normals, `x` the next `N D`
//! (`python/gradbench/gradbench/evals/gmm/data_gen.py`). [`Mt19937`] is NumPy's legacy
//! generator (Mersenne Twister, `random_sample`, the polar `gauss`), checked against values
//! NumPy gives.

use num_traits::Float;
use slope::prelude::*;
use slope::{Shape, Tensor};

/// NumPy's legacy `RandomState`: MT19937 seeded by `init_genrand`, `random_sample` from two
/// 32-bit words, and the polar Box-Muller `gauss` that keeps its second value.
#[derive(Clone, Debug)]
pub struct Mt19937 {
    state: Vec<u32>,
    index: usize,
    gauss: Option<f64>,
}

impl Mt19937 {
    /// `np.random.seed(seed)`.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = vec![0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624, gauss: None }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 == 1 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `np.random.random_sample()`: uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        let (a, b) = (self.next_u32() >> 5, self.next_u32() >> 6);
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// `np.random.normal()`: NumPy's legacy polar method, two values per accepted pair.
    pub fn normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.uniform() - 1.0;
            let x2 = 2.0 * self.uniform() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }
}

/// One instance of the suite: sizes, parameters and points.
#[derive(Clone, Debug)]
pub struct GmmInput {
    /// Dimensions.
    pub d: usize,
    /// Components.
    pub k: usize,
    /// Points.
    pub n: usize,
    /// Component weights (log-space), `K`.
    pub alpha: Vec<f64>,
    /// Means, `K x D` row-major.
    pub mu: Vec<f64>,
    /// Log-diagonals of the inverse covariance factors, `K x D`.
    pub q: Vec<f64>,
    /// Strictly lower parts of the factors, `K x D(D-1)/2`, each column by column.
    pub l: Vec<f64>,
    /// Points, `N x D`.
    pub x: Vec<f64>,
    /// The Wishart prior's `γ`.
    pub gamma: f64,
    /// The Wishart prior's `m`.
    pub m: usize,
}

impl GmmInput {
    /// The suite's instance of sizes `(d, k, n)` (`gmm_d{d}_K{k}_N{n}`), `n` at most 10⁴.
    pub fn generate(d: usize, k: usize, n: usize) -> GmmInput {
        const K_MAX: usize = 200;
        const N_MAX: usize = 10_000;
        let mut rng = Mt19937::new(31337);
        let uniforms: Vec<f64> = (0..K_MAX * d).map(|_| rng.uniform()).collect();
        let normals: Vec<f64> = (0..K_MAX * (1 + d + d * (d - 1) / 2) + N_MAX * d).map(|_| rng.normal()).collect();
        let icf_len = d + d * (d - 1) / 2;
        let alpha = normals[..k].to_vec();
        let icf = &normals[k..k + k * icf_len];
        let x = normals[k + k * icf_len..k + k * icf_len + n * d].to_vec();
        let (mut q, mut l) = (Vec::with_capacity(k * d), Vec::with_capacity(k * (icf_len - d)));
        for row in icf.chunks_exact(icf_len) {
            q.extend_from_slice(&row[..d]);
            l.extend_from_slice(&row[d..]);
        }
        GmmInput { d, k, n, alpha, mu: uniforms[..k * d].to_vec(), q, l, x, gamma: 1.0, m: 0 }
    }

    /// Length of each `l_k`.
    pub fn l_len(&self) -> usize {
        self.d * (self.d - 1) / 2
    }

    /// The parameters as one vector: `alpha`, `mu`, `q`, `l`.
    pub fn params(&self) -> Vec<f64> {
        [&self.alpha[..], &self.mu, &self.q, &self.l].concat()
    }

    /// The constant terms: `-N D/2 ln 2π + K C(D, γ, m)`.
    pub fn constant(&self) -> f64 {
        let (d, k, n) = (self.d as f64, self.k as f64, self.n as f64);
        let dof = self.d + self.m + 1;
        let c = dof as f64 * d * (self.gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distrib(dof, self.d);
        -n * d * 0.5 * (2.0 * core::f64::consts::PI).ln() + k * c
    }
}

/// `ln Γ(t / 2)` for a whole `t > 0`, exactly as a sum of logarithms: `Γ(1) = 1`,
/// `Γ(1/2) = √π`, `Γ(x + 1) = x Γ(x)`.
fn ln_gamma_half(t: usize) -> f64 {
    let mut x = if t.is_multiple_of(2) { 1.0 } else { 0.5 };
    let mut out = if t.is_multiple_of(2) { 0.0 } else { 0.5 * core::f64::consts::PI.ln() };
    while 2.0 * x < t as f64 {
        out += x.ln();
        x += 1.0;
    }
    out
}

/// The multivariate log-gamma `ln Γ_p(dof / 2)` of the Wishart normaliser.
fn log_gamma_distrib(dof: usize, p: usize) -> f64 {
    let pf = p as f64;
    0.25 * pf * (pf - 1.0) * core::f64::consts::PI.ln() + (1..=p).map(|j| ln_gamma_half(dof + 1 - j)).sum::<f64>()
}

fn logsumexp<T: Float>(xs: &[T]) -> T {
    let mx = xs.iter().fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
    let total = xs.iter().fold(T::zero(), |s, &v| s + (v - mx).exp());
    total.ln() + mx
}

/// The objective over any `Float`, in the suite's loop order, the parameters as
/// [`GmmInput::params`] lays them out: the plain-`f64` reference (`T = f64`) and the scalar
/// form `slope::gradient` records (`T = Var`).
// The loops keep the suite's indices (`gmm.hpp`), so the two read side by side.
#[allow(clippy::needless_range_loop)]
pub fn objective<T: Float>(input: &GmmInput, params: &[T]) -> T {
    let (d, k, n, ll) = (input.d, input.k, input.n, input.l_len());
    let (alpha, rest) = params.split_at(k);
    let (mu, rest) = rest.split_at(k * d);
    let (q, l) = rest.split_at(k * d);
    let c = |v: f64| T::from(v).unwrap_or_else(T::nan);
    let qdiags: Vec<T> = q.iter().map(|v| v.exp()).collect();
    let sum_qs: Vec<T> = q.chunks_exact(d).map(|row| row.iter().fold(T::zero(), |s, &v| s + v)).collect();
    let (mut xcentered, mut qx, mut main) = (vec![T::zero(); d], vec![T::zero(); d], vec![T::zero(); k]);
    let mut slse = T::zero();
    for ix in 0..n {
        let point = &input.x[ix * d..(ix + 1) * d];
        for ik in 0..k {
            for j in 0..d {
                xcentered[j] = c(point[j]) - mu[ik * d + j];
            }
            for j in 0..d {
                qx[j] = qdiags[ik * d + j] * xcentered[j];
            }
            let mut at = ik * ll;
            for i in 0..d {
                for j in i + 1..d {
                    qx[j] = qx[j] + l[at] * xcentered[i];
                    at += 1;
                }
            }
            let sq = qx.iter().fold(T::zero(), |s, &v| s + v * v);
            main[ik] = alpha[ik] + sum_qs[ik] - c(0.5) * sq;
        }
        slse = slse + logsumexp(&main);
    }
    let mut prior = T::zero();
    for ik in 0..k {
        let frobenius = qdiags[ik * d..(ik + 1) * d].iter().fold(T::zero(), |s, &v| s + v * v)
            + l[ik * ll..(ik + 1) * ll].iter().fold(T::zero(), |s, &v| s + v * v);
        prior = prior + c(0.5 * input.gamma * input.gamma) * frobenius - c(input.m as f64) * sum_qs[ik];
    }
    c(input.constant()) + slse - c(n as f64) * logsumexp(alpha) - prior
}

/// The parameters of the tensor form, as leaves that require grad.
#[derive(Clone, Copy, Debug)]
pub struct GmmLeaves<'g> {
    /// `[K]`.
    pub alpha: Tensor<'g>,
    /// `[K, D]`.
    pub mu: Tensor<'g>,
    /// `[K, D]`.
    pub q: Tensor<'g>,
    /// `[K, D(D-1)/2]`.
    pub l: Tensor<'g>,
}

impl<'g> GmmLeaves<'g> {
    /// The instance's parameters as leaves of `g`.
    pub fn new(g: &'g Graph, input: &GmmInput) -> GmmLeaves<'g> {
        let (d, k) = (input.d, input.k);
        let leaf = |rows, cols, data: &[f64]| g.matrix(rows, cols, data).expect("whole rows").requires_grad_();
        GmmLeaves {
            alpha: g.vector(&input.alpha).requires_grad_(),
            mu: leaf(k, d, &input.mu),
            q: leaf(k, d, &input.q),
            l: leaf(k, input.l_len(), &input.l),
        }
    }
}

/// Where each entry of a `D x D` factor comes from in the rows of
/// `[exp q (D rows); l (D(D-1)/2 rows); 0]`: its diagonal from `exp q`, its strictly lower
/// part from `l` column by column, the rest from the zero row.
pub fn factor_rows(d: usize) -> Vec<usize> {
    let ll = d * (d - 1) / 2;
    let mut rows = vec![d + ll; d * d];
    let mut at = 0;
    for i in 0..d {
        rows[i * d + i] = i;
        for j in i + 1..d {
            rows[j * d + i] = d + at;
            at += 1;
        }
    }
    rows
}

/// The objective in tensor form: `Q` of every component at once (`[K, D, D]`, gathered by
/// `index_select`), the centred points `[K, N, D]` by broadcasting, one batched `matmul`,
/// `logsumexp` over the components.
pub fn objective_tensor<'g>(g: &'g Graph, input: &GmmInput, p: GmmLeaves<'g>, rows: &[usize]) -> Tensor<'g> {
    let (d, k, n) = (input.d, input.k, input.n);
    let x = g.matrix(n, d, &input.x).expect("whole points");
    let qdiags = p.q.exp();
    let zero = g.zeros(Shape::Matrix(1, k)).expect("a row of zeros");
    // [D + L + 1, K] -> the factors' entries [D·D, K] -> [K, D, D]
    let sources = Tensor::cat(&[qdiags.t(), p.l.t(), zero], 0);
    let factors = sources.index_select(rows).t().view(&[k as isize, d as isize, d as isize]);
    let centred = x.unsqueeze(0) - p.mu.unsqueeze(1);
    // (Q_k (x_n - mu_k))ᵀ = (x_n - mu_k)ᵀ Q_kᵀ, for every component and point: [K, N, D]
    let qx = centred.matmul(factors.mT());
    let sum_qs = p.q.sum_dim(1, true);
    let main = (p.alpha.unsqueeze(1) + sum_qs) - (qx * qx).sum_dim(-1, false) * 0.5;
    let slse = main.logsumexp(0).sum();
    let half_gamma_sq = 0.5 * input.gamma * input.gamma;
    let prior = ((qdiags * qdiags).sum() + (p.l * p.l).sum()) * half_gamma_sq - sum_qs.sum() * input.m as f64;
    slse - p.alpha.logsumexp(0) * n as f64 - prior + input.constant()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.random.seed(0)` then `np.random.random_sample()`, and again then
    /// `np.random.normal()`: the values NumPy prints.
    #[test]
    fn the_generator_is_numpys_legacy_one() {
        assert_eq!(Mt19937::new(0).uniform(), 0.548_813_503_927_324_8);
        assert_eq!(Mt19937::new(0).normal(), 1.764_052_345_967_664);
    }

    #[test]
    fn ln_gamma_of_halves_is_exact_enough() {
        assert!((ln_gamma_half(1) - core::f64::consts::PI.sqrt().ln()).abs() < 1e-15);
        assert!((ln_gamma_half(10) - 24f64.ln()).abs() < 1e-14);
        assert!((ln_gamma_half(7) - (15.0 / 8.0 * core::f64::consts::PI.sqrt()).ln()).abs() < 1e-14);
    }

    #[test]
    fn the_tensor_form_is_the_loop_form_in_value_and_gradient() {
        let input = GmmInput::generate(3, 4, 10);
        let reference = objective(&input, &input.params());
        let (value, grad) = slope::gradient(|p| objective(&input, p), &input.params()).unwrap();
        assert!((value - reference).abs() < 1e-12 * reference.abs());
        let g = Graph::new();
        let leaves = GmmLeaves::new(&g, &input);
        let y = objective_tensor(&g, &input, leaves, &factor_rows(input.d));
        assert!((y.item().unwrap() - reference).abs() < 1e-12 * reference.abs());
        y.backward().unwrap();
        let tensor_grad: Vec<f64> = [leaves.alpha, leaves.mu, leaves.q, leaves.l]
            .iter()
            .flat_map(|t| t.grad().unwrap().as_slice().to_vec())
            .collect();
        for (a, b) in tensor_grad.iter().zip(&grad) {
            assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} against {b}");
        }
        // and finite differences of the f64 objective, coordinate by coordinate
        let p = input.params();
        for j in 0..p.len() {
            let h = 1e-5;
            let (mut up, mut down) = (p.clone(), p.clone());
            up[j] += h;
            down[j] -= h;
            let fd = (objective(&input, &up) - objective(&input, &down)) / (2.0 * h);
            assert!((fd - grad[j]).abs() < 1e-6 * (1.0 + fd.abs()), "coordinate {j}: {fd} against {}", grad[j]);
        }
    }
}
