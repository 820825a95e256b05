//! Forward mode beside the primal, the hand-written derivative and num-dual in its fastest
//! documented form (`benches/src/num_dual_peer.rs`): W3 (deep chain) on one tangent; W1
//! (Rosenbrock) and W4 (`sum(tanh(W d))`, the gradient in `W`) chunked gradients; a Jacobian,
//! a Hessian and a Jacobian-vector product.
//!
//! The Hessian and the JVP run W1 written with `f64` operands on both sides
//! (`rosenbrock_f64_operands`, operation for operation num-dual's copy); the chunked
//! gradients run the generic `rosenbrock`, whose `T` constants cost `ChunkDual` nothing.
//!
//! slope's helpers are measured as documented: `gradient::<f64, N>` (a workspace per call),
//! `Workspace::gradient` (kept between calls) and `Function::gradient` (the chunk chosen by
//! size). num-dual has no chunked gradient: its `gradient` seeds every input at once, which
//! is measured where `n` is small enough for its stack-allocated `DualSVec64<n>`, and its
//! users' loop for larger `n` is measured at chunks 8 to 64 with the input vector kept.
//! `[profile.bench]` builds in one codegen unit, which num-dual needs: in the default 16 its
//! operators are not inlined into the workloads and it runs 4-15x slower.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use num_dual::Dual64;
use slope::dual::{gradient, hessian, jacobian, jvp, ChunkDual, Function, Workspace};
use slope::Dual;
use slope_benches::num_dual_peer::*;
use slope_benches::*;

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
            b.iter(|| chain_nd(Dual64::from_re(black_box(x)).derivative(), d).eps)
        });
    }
    group.finish();
}

struct Rosenbrock;
impl Function for Rosenbrock {
    fn eval<T: num_traits::Float>(&self, x: &[T]) -> T {
        rosenbrock(x)
    }
}

/// W4 as a [`Function`] of `W`, with `d` fixed.
struct W4<'a>(&'a [f64]);
impl Function for W4<'_> {
    fn eval<T: num_traits::Float>(&self, w: &[T]) -> T {
        let d: Vec<T> = self.0.iter().map(|&v| T::from(v).unwrap_or_else(T::nan)).collect();
        w4(w, &d)
    }
}

macro_rules! slope_chunks {
    ($group:expr, $x:expr, $f:expr, $($n:literal),*) => {$(
        $group.bench_function(BenchmarkId::new(concat!("slope_chunk", $n), $x.len()), |b| {
            b.iter(|| gradient::<f64, $n>(|d: &[ChunkDual<f64, $n>]| $f(d), black_box($x)))
        });
    )*};
}

macro_rules! num_dual_chunks {
    ($group:expr, $x:expr, $f:expr, $($n:literal),*) => {$(
        let mut peer = ChunkedGradient::<$n>::default();
        let mut grad = vec![0.0; $x.len()];
        $group.bench_function(BenchmarkId::new(concat!("num_dual_chunk", $n), $x.len()), |b| {
            b.iter(|| peer.gradient(|d| $f(d), black_box($x), &mut grad))
        });
    )*};
}

fn w1_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_forward");
    for n in [10, 100, 1_000] {
        let x = rosenbrock_point(n);
        let x = x.as_slice();
        let mut grad = vec![0.0; n];
        group.bench_function(BenchmarkId::new("primal", n), |b| b.iter(|| rosenbrock(black_box(x))));
        group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| rosenbrock_gradient(black_box(x), &mut grad)));
        slope_chunks!(group, x, rosenbrock, 64, 128, 255);
        let mut workspace = Workspace::<f64, 255>::new();
        group.bench_function(BenchmarkId::new("slope_workspace255", n), |b| {
            b.iter(|| workspace.gradient(|d: &[ChunkDual<f64, 255>]| rosenbrock(d), black_box(x), &mut grad))
        });
        group.bench_function(BenchmarkId::new("slope_function", n), |b| b.iter(|| Rosenbrock.gradient(black_box(x))));
        num_dual_chunks!(group, x, rosenbrock_nd, 8, 16, 32);
        match n {
            10 => group.bench_function(BenchmarkId::new("num_dual_gradient", n), |b| {
                b.iter(|| gradient_nd::<10>(rosenbrock_nd, black_box(x)))
            }),
            100 => group.bench_function(BenchmarkId::new("num_dual_gradient", n), |b| {
                b.iter(|| gradient_nd::<100>(rosenbrock_nd, black_box(x)))
            }),
            _ => &mut group,
        };
    }
    group.finish();
}

fn w4_forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_forward");
    let (w, d) = w4_data(64);
    let (w, d) = (w.as_slice(), d.as_slice());
    let constants64: Vec<ChunkDual<f64, 64>> = d.iter().map(|&v| ChunkDual::constant(v)).collect();
    let constants128: Vec<ChunkDual<f64, 128>> = d.iter().map(|&v| ChunkDual::constant(v)).collect();
    let constants255: Vec<ChunkDual<f64, 255>> = d.iter().map(|&v| ChunkDual::constant(v)).collect();
    let mut grad = vec![0.0; w.len()];
    let n = w.len();
    group.bench_function(BenchmarkId::new("primal", n), |b| b.iter(|| w4(black_box(w), d)));
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| w4_gradient(black_box(w), d, &mut grad)));
    slope_chunks!(group, w, |v| w4(v, &constants64), 64);
    slope_chunks!(group, w, |v| w4(v, &constants128), 128);
    slope_chunks!(group, w, |v| w4(v, &constants255), 255);
    group.bench_function(BenchmarkId::new("slope_function", n), |b| b.iter(|| W4(d).gradient(black_box(w))));
    num_dual_chunks!(group, w, |v| w4_nd(v, d), 8, 16, 32, 64);
    group.finish();
}

/// The Jacobian of `tanh(W d)` in `d` (64 x 64), the Hessian of W1 (n = 10), and a
/// directional derivative of W1 (n = 1000).
fn jacobian_hessian_jvp(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward_other");
    let (w, d) = w4_data(64);
    let (w, d) = (w.as_slice(), d.as_slice());
    fn layer<'p, const N: usize>(w: &[f64], x: &[ChunkDual<'p, f64, N>]) -> Vec<ChunkDual<'p, f64, N>> {
        (0..64)
            .map(|i| {
                let mut z = ChunkDual::constant(0.0);
                for j in 0..64 {
                    z += x[j] * w[i * 64 + j];
                }
                num_traits::Float::tanh(z)
            })
            .collect()
    }
    group.bench_function("jacobian_64/slope_chunk16", |b| {
        b.iter(|| jacobian::<f64, 16>(|x| layer(w, x), black_box(d)).unwrap())
    });
    group.bench_function("jacobian_64/slope_chunk64", |b| {
        b.iter(|| jacobian::<f64, 64>(|x| layer(w, x), black_box(d)).unwrap())
    });
    group.bench_function("jacobian_64/num_dual_jacobian", |b| {
        b.iter(|| jacobian_nd::<64>(|x| tanh_layer_nd(w, x), black_box(d)))
    });

    let x = rosenbrock_point(10);
    group.bench_function("hessian_10/hand", |b| b.iter(|| rosenbrock_hessian(black_box(&x))));
    group.bench_function("hessian_10/slope", |b| b.iter(|| hessian(rosenbrock_f64_operands, black_box(&x))));
    group.bench_function("hessian_10/num_dual_hessian", |b| b.iter(|| hessian_nd::<10>(rosenbrock_nd, black_box(&x))));

    let x = rosenbrock_point(1000);
    let v: Vec<f64> = (0..1000).map(|i| ((i % 5) as f64 - 2.0) / 3.0).collect();
    group.bench_function("jvp_1000/slope", |b| {
        b.iter(|| jvp(|d| vec![rosenbrock_f64_operands(d)], black_box(&x), &v).unwrap())
    });
    group.bench_function("jvp_1000/num_dual", |b| {
        b.iter(|| {
            let seeded: Vec<Dual64> = black_box(&x).iter().zip(&v).map(|(&x, &v)| Dual64::new(x, v)).collect();
            rosenbrock_nd(&seeded).eps
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = w3_chain, w1_gradient, w4_forward, jacobian_hessian_jvp
}
criterion_main!(benches);
