//! Interleaved timing of the tensor path against hand-written gradients: W2 `sum(x**2)` in its
//! three spellings, W1 in tensor form, W4 in tensor form. Each repetition times every
//! contender back to back and the medians are printed with their ratio to the first. A
//! development aid beside the criterion benches: `cargo run --release -p slope-benches
//! --example tensor_quick [w2|w1|w4] [name filter]`, `N=` the length for W2
//! (10^5 unless set), `RAYON_NUM_THREADS=1` for one thread.
use std::hint::black_box;

use slope::prelude::*;
use slope_benches::race::race;
use slope_benches::*;

fn main() {
    let only = std::env::args().nth(2).unwrap_or_default();
    let which = std::env::args().nth(1).unwrap_or_else(|| "w2".into());
    let reps = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(200);
    match which.as_str() {
        "w2" => {
            let n = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
            let x = slope::expr::linspace(-10.0, 10.0, n);
            let mut grad = vec![0.0; n];
            println!("W2 n = {n}");
            let spell = |f: fn(Tensor<'_>) -> Tensor<'_>| {
                let x = x.clone();
                move || {
                    let g = Graph::new();
                    let t = g.vector(black_box(&x)).requires_grad_();
                    f(t).backward().unwrap();
                    t.with_grad(|g| black_box(g[0]));
                }
            };
            let kept = |f: fn(Tensor<'_>) -> Tensor<'_>| {
                let x = x.clone();
                let mut g = Graph::new();
                move || {
                    g.clear();
                    let t = g.vector(black_box(&x)).requires_grad_();
                    f(t).backward().unwrap();
                    t.with_grad(|g| black_box(g[0]));
                }
            };
            race(
                reps,
                &only,
                &mut [
                    ("hand", &mut || {
                        let s = slope_benches::sum_squares_gradient(black_box(&x), &mut grad);
                        black_box((s, &grad));
                    }),
                    ("powi(2).sum()", &mut spell(|t| t.powi(2).sum())),
                    ("(x*x).sum()", &mut spell(|t| (t * t).sum())),
                    ("x.dot(x)", &mut spell(|t| t.dot(t))),
                    ("tanh(x).sum()", &mut spell(|t| t.tanh().sum())),
                    ("kept powi(2).sum()", &mut kept(|t| t.powi(2).sum())),
                    ("kept (x*x).sum()", &mut kept(|t| (t * t).sum())),
                    ("kept x.dot(x)", &mut kept(|t| t.dot(t))),
                ],
            );
        }
        "w1" => {
            let n = 10_000;
            let x = rosenbrock_point(n);
            let mut grad = vec![0.0; n];
            println!("W1 tensor n = {n}");
            race(
                reps,
                &only,
                &mut [
                    ("primal", &mut || {
                        black_box(rosenbrock(black_box(&x)));
                    }),
                    ("hand", &mut || {
                        black_box(rosenbrock_gradient(black_box(&x), &mut grad));
                    }),
                    ("tensor", &mut || {
                        let g = Graph::new();
                        let t = g.vector(black_box(&x)).requires_grad_();
                        rosenbrock_tensor(t).backward().unwrap();
                        t.with_grad(|g| black_box(g[0]));
                    }),
                ],
            );
        }
        _ => {
            let (w, data) = w4_data(64);
            let mut grad = vec![0.0; w.len()];
            println!("W4 tensor 64x64");
            race(
                reps,
                &only,
                &mut [
                    ("primal", &mut || {
                        black_box(w4(black_box(&w), &data));
                    }),
                    ("hand", &mut || {
                        black_box(w4_gradient(black_box(&w), &data, &mut grad));
                    }),
                    ("tensor", &mut || {
                        let g = Graph::new();
                        let tw = g.matrix(64, 64, black_box(&w)).unwrap().requires_grad_();
                        let tx = g.vector(&data);
                        tw.matmul(tx).tanh().sum().backward().unwrap();
                        black_box(tw.grad());
                    }),
                ],
            );
        }
    }
}
