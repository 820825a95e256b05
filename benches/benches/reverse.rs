//! Reverse mode: W1 (scalar tape and tensor form), W2, W3, W4, a 64 -> 64 Jacobian and the
//! Rosenbrock Hessian, each beside the primal, a hand-written gradient and the `reverse`
//! crate; the Jacobian and Hessian on 1 and 2 threads.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use reverse::Gradient as _;
use slope::prelude::*;
use slope_benches::*;

// The `reverse` crate's `Var` is not `num_traits::Float`; its copies of the workloads do
// the same operations in the same order.
fn rosenbrock_peer<'t>(x: &[reverse::Var<'t>]) -> reverse::Var<'t> {
    let mut sum = x[0] * 0.0;
    for w in x.windows(2) {
        let t = w[1] - w[0] * w[0];
        let u = 1.0 - w[0];
        sum = sum + t * t * 100.0 + u * u;
    }
    sum
}

fn chain_peer<'t>(x: reverse::Var<'t>, depth: usize) -> reverse::Var<'t> {
    let mut y = x;
    for _ in 0..depth {
        y = y.sin() * x + (-(y * y)).exp();
    }
    y
}

fn w4_peer<'t>(w: &[reverse::Var<'t>], x: &[f64]) -> reverse::Var<'t> {
    let n = x.len();
    let mut sum = w[0] * 0.0;
    for i in 0..n {
        let mut z = w[i * n] * x[0];
        for j in 1..n {
            z = z + w[i * n + j] * x[j];
        }
        sum = sum + z.tanh();
    }
    sum
}

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
        group.bench_with_input(BenchmarkId::new("slope_tensor", n), &x, |b, x| {
            b.iter(|| {
                let g = Graph::new();
                let t = g.vector(black_box(x)).requires_grad_();
                rosenbrock_tensor(t).backward().unwrap();
                t.grad()
            })
        });
        group.bench_with_input(BenchmarkId::new("reverse_crate", n), &x, |b, x| {
            b.iter(|| {
                let tape = reverse::Tape::new();
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
            b.iter(|| {
                let mut s = 0.0;
                for (g, &v) in grad.iter_mut().zip(black_box(x)) {
                    s += v * v;
                    *g = 2.0 * v;
                }
                s
            })
        });
        group.bench_with_input(BenchmarkId::new("slope_tensor", n), &x, |b, x| {
            b.iter(|| {
                let g = Graph::new();
                let t = g.vector(black_box(x)).requires_grad_();
                t.powi(2).sum().backward().unwrap();
                t.grad()
            })
        });
        if n <= 100_000 {
            group.bench_with_input(BenchmarkId::new("reverse_crate", n), &x, |b, x| {
                b.iter(|| {
                    let tape = reverse::Tape::new();
                    let vars = tape.add_vars(black_box(x));
                    let s: reverse::Var<'_> = vars.iter().map(|v| *v * *v).sum();
                    s.grad().wrt(&vars)
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
        group.bench_with_input(BenchmarkId::new("reverse_crate", depth), &depth, |b, &d| {
            b.iter(|| {
                let tape = reverse::Tape::new();
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
    group.bench_function(BenchmarkId::new("slope_tensor", n), |b| {
        b.iter(|| {
            let g = Graph::new();
            let tw = g.matrix(n, n, black_box(&w)).unwrap().requires_grad_();
            tw.matmul(g.vector(&x)).tanh().sum().backward().unwrap();
            tw.grad()
        })
    });
    group.bench_function(BenchmarkId::new("slope_var", n), |b| {
        let xc: Vec<Var<'static>> = x.iter().map(|&v| Var::constant(v)).collect();
        b.iter(|| slope::gradient(|v| w4(v, &xc), black_box(&w)).unwrap())
    });
    group.bench_function(BenchmarkId::new("reverse_crate", n), |b| {
        b.iter(|| {
            let tape = reverse::Tape::new();
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
            b.iter(|| p.install(|| slope::jacobian(&frozen, yid, &[xid]).unwrap()))
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
            b.iter(|| p.install(|| slope::hessian(&frozen, yid, &[xid]).unwrap()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(1500));
    targets = w1, w2, w3, w4_bench, parallel
}
criterion_main!(benches);
