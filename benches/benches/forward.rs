//! Forward mode: W3 (deep chain) with `Dual<f64>`, and W1 (Rosenbrock) gradients with
//! `DualVec` chunks, each beside the primal, the hand-written derivative and num-dual.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nalgebra_for_num_dual::{Const, U1};
use num_dual::{Dual64, DualNum, DualSVec64};
use slope::dual::{gradient, DualVec, SparseDualVec};
use slope::Dual;
use slope_benches::{chain, chain_derivative, rosenbrock, rosenbrock_gradient, rosenbrock_point};

// num-dual's types implement its own `DualNum`, not `num_traits::Float`, so its copies of
// the workloads are written over `DualNum`, operation for operation as in `slope_benches`.
fn chain_num_dual<D: DualNum<f64> + Copy>(x: D, depth: usize) -> D {
    let mut y = x;
    for _ in 0..depth {
        y = y.sin() * x + (-(y * y)).exp();
    }
    y
}

fn rosenbrock_num_dual<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut sum = D::zero();
    for w in x.windows(2) {
        let t = w[1] - w[0] * w[0];
        let u = D::one() - w[0];
        sum += t * t * 100.0 + u * u;
    }
    sum
}

fn w3_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("w3_forward");
    for depth in [100, 1_000, 10_000] {
        let x = 0.7;
        group.bench_with_input(BenchmarkId::new("primal", depth), &depth, |b, &d| b.iter(|| chain(black_box(x), d)));
        group.bench_with_input(BenchmarkId::new("hand", depth), &depth, |b, &d| {
            b.iter(|| chain_derivative(black_box(x), d))
        });
        group.bench_with_input(BenchmarkId::new("slope_dual", depth), &depth, |b, &d| {
            b.iter(|| chain(Dual::variable(black_box(x)), d).eps)
        });
        group.bench_with_input(BenchmarkId::new("num_dual", depth), &depth, |b, &d| {
            b.iter(|| chain_num_dual(Dual64::from_re(black_box(x)).derivative(), d).eps)
        });
    }
    group.finish();
}

/// num-dual has no chunked gradient; this is the loop its users write.
fn num_dual_gradient<const N: usize>(x: &[f64], grad: &mut [f64]) -> f64 {
    let mut value = 0.0;
    for start in (0..x.len()).step_by(N) {
        let seeded: Vec<DualSVec64<N>> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let d = DualSVec64::<N>::from_re(v);
                if (start..start + N).contains(&i) {
                    d.derivative(i - start)
                } else {
                    d
                }
            })
            .collect();
        let y = rosenbrock_num_dual(&seeded);
        value = y.re;
        let eps = y.eps.unwrap_generic(Const::<N>, U1);
        for (k, g) in grad.iter_mut().skip(start).take(N).enumerate() {
            *g = eps[k];
        }
    }
    value
}

/// The same chunked loop with dense tangents (`DualVec`, constants carry zero lanes): the
/// comparison that chose sparse tangents for `slope::dual::gradient`.
fn dense_gradient<const N: usize>(x: &[f64], grad: &mut [f64]) -> f64 {
    let mut value = 0.0;
    for start in (0..x.len()).step_by(N) {
        let seeded: Vec<DualVec<f64, N>> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| match i.checked_sub(start) {
                Some(k) if k < N => DualVec::variable_at(v, k),
                _ => DualVec::constant(v),
            })
            .collect();
        let y = rosenbrock(&seeded);
        value = y.re;
        for (g, t) in grad.iter_mut().skip(start).zip(y.eps.0) {
            *g = t;
        }
    }
    value
}

fn w1_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_forward");
    for n in [10, 100, 1_000] {
        let x = rosenbrock_point(n);
        let mut grad = vec![0.0; n];
        group.bench_with_input(BenchmarkId::new("primal", n), &x, |b, x| b.iter(|| rosenbrock(black_box(x))));
        group.bench_with_input(BenchmarkId::new("hand", n), &x, |b, x| {
            b.iter(|| rosenbrock_gradient(black_box(x), &mut grad))
        });
        group.bench_with_input(BenchmarkId::new("slope_chunk4", n), &x, |b, x| {
            b.iter(|| gradient::<f64, 4>(|d: &[SparseDualVec<f64, 4>]| rosenbrock(d), black_box(x)))
        });
        group.bench_with_input(BenchmarkId::new("slope_chunk8", n), &x, |b, x| {
            b.iter(|| gradient::<f64, 8>(|d: &[SparseDualVec<f64, 8>]| rosenbrock(d), black_box(x)))
        });
        group.bench_with_input(BenchmarkId::new("slope_chunk16", n), &x, |b, x| {
            b.iter(|| gradient::<f64, 16>(|d: &[SparseDualVec<f64, 16>]| rosenbrock(d), black_box(x)))
        });
        group.bench_with_input(BenchmarkId::new("slope_dense8", n), &x, |b, x| {
            b.iter(|| dense_gradient::<8>(black_box(x), &mut grad))
        });
        group.bench_with_input(BenchmarkId::new("num_dual_chunk4", n), &x, |b, x| {
            b.iter(|| num_dual_gradient::<4>(black_box(x), &mut grad))
        });
        group.bench_with_input(BenchmarkId::new("num_dual_chunk8", n), &x, |b, x| {
            b.iter(|| num_dual_gradient::<8>(black_box(x), &mut grad))
        });
        group.bench_with_input(BenchmarkId::new("num_dual_chunk16", n), &x, |b, x| {
            b.iter(|| num_dual_gradient::<16>(black_box(x), &mut grad))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = w3_chain, w1_gradient
}
criterion_main!(benches);
