//! Times W2's backward sweep (`sum(x**2)` over `n` elements), to choose the size above which
//! elementwise VJP loops are split across threads: run it with `RAYON_NUM_THREADS=1` and `=2`.
use slope::prelude::*;
fn main() {
    for n in [4_096, 16_384, 32_768, 131_072, 1_048_576] {
        let x = slope::expr::linspace(-10.0, 10.0, n);
        let g = Graph::new();
        let t = g.vector(&x).requires_grad_();
        let s = (t.powi(2) * t.tanh()).sum();
        let (id, xid) = (s.id(), t.id());
        let frozen = g.freeze();
        let mut adj = slope::Adjoints::new();
        let reps = (20_000_000 / n).max(5);
        slope::graph_vjp(&frozen, id, &[1.0], &[xid], &mut adj).unwrap();
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            slope::graph_vjp(&frozen, id, &[1.0], &[xid], &mut adj).unwrap();
        }
        println!("n = {n:>8}: {:>10.1?} per sweep", t0.elapsed() / reps as u32);
    }
}
