//! The Gaussian mixture objective of ADBench / GradBench at the suite's sizes
//! (D, K) = (2, 5), (10, 5), (10, 25), (20, 10), (64, 10) with N = 1000 points, on the
//! suite's own data (`slope_benches::gmm`): its value and gradient in tensor form (a fresh
//! `Graph` per evaluation, `backward`, the four gradients read) timed against the plain-`f64`
//! objective, reported as J/f, the suite's measure. Before timing, at (2, 5) the tensor
//! form's value and gradient are checked against the `f64` objective, against the same
//! objective written over `Float` through `slope::gradient`, and against central finite
//! differences at every coordinate.
//!
//! `cargo run --release -p slope-benches --example gmm` (add `-- --scalar` to time the
//! scalar form through `slope::gradient` too; at (64, 10) it records 43 million nodes).
use std::time::Instant;

use slope::prelude::*;
use slope_benches::gmm::{factor_rows, objective, objective_tensor, GmmInput, GmmLeaves};
use slope_benches::race::median;

const N: usize = 1000;
const SIZES: [(usize, usize); 5] = [(2, 5), (10, 5), (10, 25), (20, 10), (64, 10)];

/// Median milliseconds of `run`, over at least 5 runs and about half a second.
fn time(mut run: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    let begin = Instant::now();
    while times.len() < 5 || (begin.elapsed().as_secs_f64() < 0.5 && times.len() < 200) {
        let start = Instant::now();
        run();
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    median(times)
}

/// Value and gradient (`alpha`, `mu`, `q`, `l` in order) in tensor form, on a fresh graph.
fn tensor_gradient(input: &GmmInput, rows: &[usize]) -> (f64, Vec<f64>) {
    let g = Graph::new();
    let leaves = GmmLeaves::new(&g, input);
    let y = objective_tensor(&g, input, leaves, rows);
    y.backward().expect("a scalar objective");
    let grad = [leaves.alpha, leaves.mu, leaves.q, leaves.l]
        .iter()
        .flat_map(|t| t.grad().expect("a leaf that requires grad").as_slice().to_vec())
        .collect();
    (y.item().expect("a scalar objective"), grad)
}

fn check(input: &GmmInput) {
    let rows = factor_rows(input.d);
    let p = input.params();
    let reference = objective(input, &p);
    let (value, grad) = tensor_gradient(input, &rows);
    let (scalar_value, scalar_grad) = slope::gradient(|v| objective(input, v), &p).expect("a scalar objective");
    let relative = |a: f64, b: f64| (a - b).abs() / (1.0 + b.abs());
    assert!(relative(value, reference) < 1e-12 && relative(scalar_value, reference) < 1e-12);
    let against_scalar = grad.iter().zip(&scalar_grad).map(|(&a, &b)| relative(a, b)).fold(0.0, f64::max);
    let mut against_fd = 0.0f64;
    for j in 0..p.len() {
        let h = 1e-6 * (1.0 + p[j].abs());
        let (mut up, mut down) = (p.clone(), p.clone());
        up[j] += h;
        down[j] -= h;
        let fd = (objective(input, &up) - objective(input, &down)) / (2.0 * h);
        against_fd = against_fd.max(relative(grad[j], fd));
    }
    println!(
        "check at (D, K, N) = ({}, {}, {}): value {value:.10e}; gradient ({} entries) against the scalar form {against_scalar:.1e}, against finite differences {against_fd:.1e}",
        input.d,
        input.k,
        input.n,
        p.len()
    );
    assert!(against_scalar < 1e-10, "the tensor and scalar forms disagree");
    assert!(against_fd < 1e-5, "the gradient disagrees with finite differences");
}

fn main() {
    let scalar = std::env::args().any(|a| a == "--scalar");
    check(&GmmInput::generate(2, 5, N));
    println!("GMM, N = {N}: J/f = time of value and gradient / time of the f64 objective (medians)");
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>8} {:>12} {:>10}",
        "(D, K)", "params", "f ms", "tensor J ms", "J/f", "scalar J ms", "J/f"
    );
    for (d, k) in SIZES {
        let input = GmmInput::generate(d, k, N);
        let (p, rows) = (input.params(), factor_rows(d));
        let f = time(|| {
            std::hint::black_box(objective(&input, std::hint::black_box(&p)));
        });
        let tensor = time(|| {
            std::hint::black_box(tensor_gradient(&input, &rows));
        });
        let scalar_cell = if scalar {
            let j = time(|| {
                std::hint::black_box(slope::gradient(|v| objective(&input, v), &p).expect("a scalar objective"));
            });
            format!("{j:>12.2} {:>10.1}", j / f)
        } else {
            format!("{:>12} {:>10}", "-", "-")
        };
        println!(
            "{:>8} {:>10} {f:>12.3} {tensor:>12.3} {:>8.2} {scalar_cell}",
            format!("({d}, {k})"),
            p.len(),
            tensor / f
        );
    }
}
