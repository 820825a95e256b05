//! Repeats one scalar-tape gradient (a profiling aid: `perf record`): `w1_var [w1|w2|w3|w4]`.
use slope_benches::*;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "w1".into());
    let x1 = rosenbrock_point(10_000);
    let x2 = slope::expr::linspace(-10.0, 10.0, 100_000);
    let (w, d) = w4_data(64);
    let dc: Vec<slope::Var<'static>> = d.iter().map(|&v| slope::Var::constant(v)).collect();
    let mut total = 0.0;
    let reps: u32 = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(1000);
    let t = std::time::Instant::now();
    for _ in 0..reps {
        let (v, g) = match which.as_str() {
            "w2" => slope::gradient(|v| sum_squares(v), &x2),
            "w3" => slope::gradient(|v| chain(v[0], 10_000), &[0.7]),
            "w4" => slope::gradient(|v| w4(v, &dc), &w),
            _ => slope::gradient(|v| rosenbrock(v), &x1),
        }
        .unwrap();
        total += v + g[0];
    }
    println!("{:?} per gradient ({total})", t.elapsed() / reps);
}
