//! Repeats W2's backward sweep at n = 10^6 (a profiling aid).
use slope::prelude::*;
fn main() {
    let n = 1_000_000;
    let x = slope::expr::linspace(-10.0, 10.0, n);
    let g = Graph::new();
    let t = g.vector(&x).requires_grad_();
    let s = t.powi(2).sum();
    let id = s.id();
    let xid = t.id();
    let frozen = g.freeze();
    let mut adj = slope::Adjoints::new();
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
        slope::vjp(&frozen, id, &[1.0], &[xid], &mut adj).unwrap();
    }
    println!("{:?} per sweep", t0.elapsed() / 20);
}
