//! The tensor path beside hand-written gradients: W2 `sum(x**2)` at n = 10^5 in its three
//! spellings, W1 Rosenbrock in tensor form at n = 10^4, W4 `sum(tanh(W x))` 64 x 64, and the
//! model workload (a 784 -> 128 -> 10 perceptron, batch 256, `slope_benches::mlp`), each a
//! loss and the gradient of every leaf. slope is written as a training loop writes it: one
//! graph kept and cleared per step, the gradients read through `with_grad` (no copy).
//! Matrix products use `MATMUL_NUM_THREADS` threads (read once per process), so the MLP is
//! measured on 1 and 2 threads by running this bench with each:
//! `MATMUL_NUM_THREADS=1 cargo bench -p slope-benches --bench tensor` (and `=2`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use slope::prelude::*;
use slope_benches::mlp::{hand_step, slope_step, Dataset, HandBuffers, Params, BATCH};
use slope_benches::*;

/// A loss and gradient through slope's tensors on a kept graph: `f` of a leaf holding `x`.
fn tensor_gradient(graph: &mut Graph, x: &[f64], f: impl Fn(Tensor<'_>) -> Tensor<'_>) -> f64 {
    graph.clear();
    let t = graph.vector(x).requires_grad_();
    let loss = f(t);
    loss.backward().unwrap();
    t.with_grad(|g| g[0]).unwrap_or(f64::NAN) + loss.item().unwrap()
}

fn w2(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_tensor");
    let n = 100_000;
    let x = slope::expr::linspace(-10.0, 10.0, n);
    let mut grad = vec![0.0; n];
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| sum_squares_gradient(black_box(&x), &mut grad)));
    let mut graph = Graph::new();
    group.bench_function(BenchmarkId::new("slope_powi", n), |b| {
        b.iter(|| tensor_gradient(&mut graph, black_box(&x), |t| t.powi(2).sum()))
    });
    group.bench_function(BenchmarkId::new("slope_mul", n), |b| {
        b.iter(|| tensor_gradient(&mut graph, black_box(&x), |t| (t * t).sum()))
    });
    group.bench_function(BenchmarkId::new("slope_dot", n), |b| {
        b.iter(|| tensor_gradient(&mut graph, black_box(&x), |t| t.dot(t)))
    });
    group.finish();
}

fn w1(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_tensor");
    let n = 10_000;
    let x = rosenbrock_point(n);
    let mut grad = vec![0.0; n];
    group.bench_function(BenchmarkId::new("primal", n), |b| b.iter(|| rosenbrock(black_box(&x))));
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| rosenbrock_gradient(black_box(&x), &mut grad)));
    let mut graph = Graph::new();
    group.bench_function(BenchmarkId::new("slope", n), |b| {
        b.iter(|| tensor_gradient(&mut graph, black_box(&x), rosenbrock_tensor))
    });
    group.finish();
}

fn w4_tensor(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_tensor");
    let n = 64;
    let (w, x) = w4_data(n);
    let mut grad = vec![0.0; n * n];
    group.bench_function(BenchmarkId::new("primal", n), |b| b.iter(|| w4(black_box(&w), &x)));
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| w4_gradient(black_box(&w), &x, &mut grad)));
    let mut graph = Graph::new();
    group.bench_function(BenchmarkId::new("slope", n), |b| {
        b.iter(|| {
            graph.clear();
            let g = &graph;
            let tw = g.matrix(n, n, black_box(&w)).unwrap().requires_grad_();
            let loss = tw.matmul(g.vector(&x)).tanh().sum();
            loss.backward().unwrap();
            tw.with_grad(|d| d[0]).unwrap_or(f64::NAN) + loss.item().unwrap()
        })
    });
    group.finish();
}

fn mlp(c: &mut Criterion) {
    let threads = std::env::var("MATMUL_NUM_THREADS").unwrap_or_else(|_| "default".into());
    let mut group = c.benchmark_group(format!("mlp_matmul_threads_{threads}"));
    let data = Dataset::generate(BATCH, 1);
    let params = Params::init(2);
    let (x, labels) = data.batch(0);
    let mut grad = Params::zeros();
    let mut buffers = HandBuffers::new(BATCH);
    group.bench_function("hand", |b| b.iter(|| hand_step(&mut buffers, &params, black_box(x), labels, &mut grad)));
    let mut graph = Graph::new();
    group.bench_function("slope", |b| b.iter(|| slope_step(&mut graph, &params, black_box(x), labels, &mut grad)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(1500));
    targets = w2, w1, w4_tensor, mlp
}
criterion_main!(benches);
