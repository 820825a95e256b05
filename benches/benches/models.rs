//! The workloads of rank 3 and of a fresh graph per step, each beside its own baseline in
//! the same run: W2 `sum(x**2)` at n = 10^5 through a new `Graph` per gradient (the
//! notebook's spelling) beside the hand-written gradient; the attention block
//! (`slope_benches::attention`, 32 x 32 tokens, width 64, head 32) forward alone and forward
//! with `backward`; and the GMM objective of ADBench / GradBench (`slope_benches::gmm`,
//! N = 1000, the suite's five sizes) over plain `f64` and as value and gradient in tensor
//! form, whose ratio is the suite's J/f.
//! `cargo bench -p slope-benches --bench models`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use slope::prelude::*;
use slope::Shape;
use slope_benches::attention::{batch, logits, weights, Sizes};
use slope_benches::gmm::{factor_rows, objective, objective_tensor, GmmInput, GmmLeaves};
use slope_benches::mlp::Rng;
use slope_benches::sum_squares_gradient;

fn w2_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_fresh_graph");
    let n = 100_000;
    let x = slope::expr::linspace(-10.0, 10.0, n);
    let mut grad = vec![0.0; n];
    group.bench_function(BenchmarkId::new("hand", n), |b| b.iter(|| sum_squares_gradient(black_box(&x), &mut grad)));
    group.bench_function(BenchmarkId::new("slope_new_graph", n), |b| {
        b.iter(|| {
            let g = Graph::new();
            let t = g.vector(black_box(&x)).requires_grad_();
            let loss = t.powi(2).sum();
            loss.backward().unwrap();
            t.with_grad(|d| d[0]).unwrap_or(f64::NAN) + loss.item().unwrap()
        })
    });
    group.finish();
}

fn attention(c: &mut Criterion) {
    let mut group = c.benchmark_group("attention_32x32x64");
    let sizes = Sizes { batch: 32, seq: 32, values: 16, noise: 16, head: 32 };
    let mut rng = Rng::new(1);
    let mut g = Graph::new();
    let w = weights(&g, &mut rng, sizes);
    let start = g.checkpoint();
    let (x, labels) = batch(&mut rng, sizes);
    let shape = Shape::of(&[sizes.batch, sizes.seq, sizes.width()]);
    group.bench_function("forward", |b| {
        b.iter(|| {
            let loss = {
                let input = g.try_tensor(shape, black_box(&x)).unwrap();
                logits(&g, &w, input).cross_entropy(g.vector(&labels)).item().unwrap()
            };
            g.rewind(start).unwrap();
            loss
        })
    });
    group.bench_function("forward_backward", |b| {
        b.iter(|| {
            let loss = {
                let input = g.try_tensor(shape, black_box(&x)).unwrap();
                let loss = logits(&g, &w, input).cross_entropy(g.vector(&labels));
                loss.backward().unwrap();
                loss.item().unwrap()
            };
            g.zero_grad();
            g.rewind(start).unwrap();
            loss
        })
    });
    group.finish();
}

fn gmm(c: &mut Criterion) {
    for (d, k) in [(2, 5), (10, 5), (10, 25), (20, 10), (64, 10)] {
        let mut group = c.benchmark_group(format!("gmm_d{d}_k{k}_n1000"));
        let input = GmmInput::generate(d, k, 1000);
        let (p, rows) = (input.params(), factor_rows(d));
        group.bench_function("f64_objective", |b| b.iter(|| objective(&input, black_box(&p))));
        group.bench_function("tensor_value_and_gradient", |b| {
            b.iter(|| {
                let g = Graph::new();
                let leaves = GmmLeaves::new(&g, &input);
                let y = objective_tensor(&g, &input, leaves, &rows);
                y.backward().unwrap();
                leaves.l.with_grad(|d| d[0]).unwrap_or(0.0) + y.item().unwrap()
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(1500));
    targets = w2_fresh, attention, gmm
}
criterion_main!(benches);
