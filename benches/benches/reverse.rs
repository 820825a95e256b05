//! Reverse mode through the scalar tape: W1, W2, W3, W4, a 64 -> 64 Jacobian and the
//! Rosenbrock Hessian, each beside the primal, a hand-written gradient and the `reverse`
//! crate (its tape kept and cleared between gradients, its fastest documented form; the
//! workloads in `slope_benches::peers`); the Jacobian and Hessian on 1 and 2 threads; a
//! training step, with the reuse pattern and the naive loop.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use reverse::Gradient as _;
use slope::prelude::*;
use slope_benches::peers::*;
use slope_benches::*;

fn w1(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_reverse");
    for n in [10, 100, 1_000, 10_000] {
        let x = rosenbrock_point(n);
        let mut grad = vec![0.0; n];
        group.bench_with_input(BenchmarkId::new("primal", n), &x, |b, x| b.iter(|| rosenbrock(black_box(x))));
        group.bench_with_input(BenchmarkId::new("hand", n), &x, |b, x| {
            b.iter(|| rosenbrock_gradient(black_box(x), &mut grad))
        });
        group.bench_with_input(BenchmarkId::new("slope_var", n), &x, |b, x| {
            b.iter(|| slope::gradient(|v| rosenbrock(v), black_box(x)).unwrap())
        });
        let tape = reverse::Tape::new();
        group.bench_with_input(BenchmarkId::new("reverse_crate", n), &x, |b, x| {
            b.iter(|| {
                tape.clear();
                let vars = tape.add_vars(black_box(x));
                rosenbrock_peer(&vars).grad().wrt(&vars)
            })
        });
    }
    group.finish();
}

fn w2(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_reverse");
    for n in [10, 1_000, 100_000, 1_000_000] {
        let x = slope::expr::linspace(-10.0, 10.0, n);
        let mut grad = vec![0.0; n];
        group.bench_with_input(BenchmarkId::new("primal", n), &x, |b, x| {
            b.iter(|| black_box(x).iter().map(|v| v * v).sum::<f64>())
        });
        group.bench_with_input(BenchmarkId::new("hand", n), &x, |b, x| {
            b.iter(|| sum_squares_gradient(black_box(x), &mut grad))
        });
        if n <= 100_000 {
            group.bench_with_input(BenchmarkId::new("slope_var", n), &x, |b, x| {
                b.iter(|| slope::gradient(|v| sum_squares(v), black_box(x)).unwrap())
            });
            let tape = reverse::Tape::new();
            group.bench_with_input(BenchmarkId::new("reverse_crate", n), &x, |b, x| {
                b.iter(|| {
                    tape.clear();
                    let vars = tape.add_vars(black_box(x));
                    sum_squares_peer(&vars).grad().wrt(&vars)
                })
            });
        }
    }
    group.finish();
}

fn w3(c: &mut Criterion) {
    let mut group = c.benchmark_group("w3_reverse");
    for depth in [100, 1_000, 10_000] {
        let x = 0.7;
        group.bench_with_input(BenchmarkId::new("primal", depth), &depth, |b, &d| b.iter(|| chain(black_box(x), d)));
        group.bench_with_input(BenchmarkId::new("hand", depth), &depth, |b, &d| {
            b.iter(|| chain_derivative(black_box(x), d))
        });
        group.bench_with_input(BenchmarkId::new("slope_var", depth), &depth, |b, &d| {
            b.iter(|| slope::gradient(|v| chain(v[0], d), &[black_box(x)]).unwrap())
        });
        let tape = reverse::Tape::new();
        group.bench_with_input(BenchmarkId::new("reverse_crate", depth), &depth, |b, &d| {
            b.iter(|| {
                tape.clear();
                let v = tape.add_var(black_box(x));
                chain_peer(v, d).grad().wrt(&v)
            })
        });
    }
    group.finish();
}

fn w4_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_reverse");
    let n = 64;
    let (w, x) = w4_data(n);
    let mut grad = vec![0.0; n * n];
    group.bench_function(BenchmarkId::new("primal", n), |b| b.iter(|| w4(black_box(&w), &x)));
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| w4_gradient(black_box(&w), &x, &mut grad)));
    group.bench_function(BenchmarkId::new("slope_var", n), |b| {
        let xc: Vec<Var<'static>> = x.iter().map(|&v| Var::constant(v)).collect();
        b.iter(|| slope::gradient(|v| w4(v, &xc), black_box(&w)).unwrap())
    });
    let tape = reverse::Tape::new();
    group.bench_function(BenchmarkId::new("reverse_crate", n), |b| {
        b.iter(|| {
            tape.clear();
            let vars = tape.add_vars(black_box(&w));
            w4_peer(&vars, &x).grad().wrt(&vars)
        })
    });
    group.finish();
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"))
}

fn parallel(c: &mut Criterion) {
    let mut group = c.benchmark_group("jacobian_64");
    let n = 64;
    let (w, x) = w4_data(n);
    let g = Graph::new();
    let tx = g.vector(&x).requires_grad_();
    let y = g.matrix(n, n, &w).unwrap().matmul(tx).tanh();
    let (xid, yid) = (tx.id(), y.id());
    let frozen = g.freeze();
    group.bench_function(BenchmarkId::new("hand", n), |b| {
        b.iter(|| {
            // J = diag(1 - tanh²(W x)) W
            let mut j = vec![0.0; n * n];
            for i in 0..n {
                let z: f64 = w[i * n..(i + 1) * n].iter().zip(&x).map(|(a, b)| a * b).sum();
                let d = 1.0 - z.tanh().powi(2);
                for k in 0..n {
                    j[i * n + k] = d * w[i * n + k];
                }
            }
            j
        })
    });
    for threads in [1, 2] {
        let p = pool(threads);
        group.bench_function(BenchmarkId::new(format!("slope_{threads}_threads"), n), |b| {
            b.iter(|| p.install(|| slope::graph_jacobian(&frozen, yid, &[xid]).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("hessian_rosenbrock");
    let n = 64;
    let x = rosenbrock_point(n);
    let g = Graph::new();
    let tx = g.vector(&x).requires_grad_();
    let y = rosenbrock_tensor(tx);
    let (xid, yid) = (tx.id(), y.id());
    let frozen = g.freeze();
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| rosenbrock_hessian(black_box(&x))));
    for threads in [1, 2] {
        let p = pool(threads);
        group.bench_function(BenchmarkId::new(format!("slope_{threads}_threads"), n), |b| {
            b.iter(|| p.install(|| slope::graph_hessian(&frozen, yid, &[xid]).unwrap()))
        });
    }
    group.finish();
}

fn training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    let (xs, ys) = logistic_data(200);
    let mut hand = LogisticParams::default();
    group.bench_function("hand", |b| b.iter(|| hand.step_by_hand(black_box(&xs), &ys)));
    // The reuse pattern: parameters and data before a checkpoint, a rewind per step.
    let mut g = Graph::new();
    let ids = LogisticIds::record(&g, &xs, &ys);
    let start = g.checkpoint();
    group.bench_function("slope_reuse", |b| {
        b.iter(|| {
            ids.step(&mut g).unwrap();
            g.rewind(start).unwrap();
        })
    });
    // The naive loop: one graph that grows, parameters made again each step (the arena
    // reaches millions of nodes over a run; each step sweeps only its own).
    let naive = Graph::new();
    let (nx, ny) = (naive.matrix(200, 3, &xs).unwrap(), naive.vector(&ys));
    let mut params = LogisticParams::default();
    group.bench_function("slope_naive", |b| b.iter(|| params.step_naive(&naive, nx, ny).unwrap()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(1500));
    targets = w1, w2, w3, w4_bench, parallel, training
}
criterion_main!(benches);
