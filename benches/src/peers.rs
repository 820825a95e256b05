//! The workloads written for the `reverse` crate (0.2), the simplest Rust scalar tape, in
//! its fastest documented form: `f64` operands as constants (one node each), sums started
//! from the first term rather than a zero node, one `Tape` kept and cleared between
//! gradients (`Tape::clear`) by the callers. Its `Var` is not `num_traits::Float`, so each
//! workload is a copy of the generic one in `lib.rs`, the same operations in the same order.

use reverse::Var;

/// W1, Rosenbrock.
pub fn rosenbrock_peer<'t>(x: &[Var<'t>]) -> Var<'t> {
    x.windows(2)
        .map(|w| {
            let t = w[1] - w[0] * w[0];
            let u = 1.0 - w[0];
            100.0 * t * t + u * u
        })
        .sum()
}

/// W2, `sum(x * x)`.
pub fn sum_squares_peer<'t>(x: &[Var<'t>]) -> Var<'t> {
    x.iter().map(|&v| v * v).sum()
}

/// W3, the deep chain `y = sin(y) * x + exp(-y * y)`.
pub fn chain_peer(x: Var<'_>, depth: usize) -> Var<'_> {
    let mut y = x;
    for _ in 0..depth {
        y = y.sin() * x + (-(y * y)).exp();
    }
    y
}

/// W4, `sum(tanh(W d))` with `W` the variables (row-major) and `d` data.
pub fn w4_peer<'t>(w: &[Var<'t>], d: &[f64]) -> Var<'t> {
    let n = d.len();
    (0..n)
        .map(|i| {
            let row = &w[i * n..(i + 1) * n];
            let z: Var<'t> = row.iter().zip(d).map(|(&w, &d)| w * d).sum();
            z.tanh()
        })
        .sum()
}
