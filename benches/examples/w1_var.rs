//! Repeats W1's scalar-tape gradient at n = 10^4 (a profiling aid: `perf record`).
fn main() {
    let x = slope_benches::rosenbrock_point(10_000);
    let mut total = 0.0;
    let t = std::time::Instant::now();
    for _ in 0..300 {
        let (v, g) = slope::gradient(|v| slope_benches::rosenbrock(v), &x).unwrap();
        total += v + g[0];
    }
    println!("{:?} per gradient ({total})", t.elapsed() / 300);
}
