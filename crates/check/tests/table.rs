//! The whole op table passes the checker (a short run of `cargo xtask gradcheck`), and
//! the graph and function entry points check what they are given.

use num_traits::Float;
use slope_check::{check_function, check_graph, check_table, Function, Options, Tolerances};
use slope_graph::Graph;

#[test]
fn every_op_passes_every_pair() {
    let report = check_table(&Options { points: 30, seed: 3, ..Options::default() });
    assert!(report.passed(), "{report}");
    assert!(report.comparisons() > 40_000);
}

#[test]
fn a_recorded_graph_is_checked_at_its_point() {
    let g = Graph::new();
    let x = g.linspace(-1.0, 1.0, 4).unwrap().requires_grad_();
    let w = g.matrix(2, 4, &[0.5, -1.0, 0.25, 2.0, 1.0, 0.0, -0.5, 0.3]).unwrap().requires_grad_();
    let h = w.matmul(x.sigmoid()).tanh();
    let y = (h * h).sum() + x.dot(x).sqrt();
    let (x, w, y) = (x.id(), w.id(), y.id());
    let report = check_graph(&g.freeze(), &[x, w], y, &Tolerances::default()).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.rows.len(), 4);
}

#[test]
fn check_graph_rejects_nodes_it_cannot_differentiate() {
    let g = Graph::new();
    let x = g.scalar(1.0).requires_grad_();
    let c = g.scalar(2.0);
    let y = x * c;
    let (x, c, y) = (x.id(), c.id(), y.id());
    let frozen = g.freeze();
    assert!(check_graph(&frozen, &[c], y, &Tolerances::default()).is_err());
    assert!(check_graph(&frozen, &[y], y, &Tolerances::default()).is_err());
    assert!(check_graph(&Graph::new().freeze(), &[x], y, &Tolerances::default()).is_err());
}

struct Kitchen;
impl Function for Kitchen {
    fn eval<T: Float>(&self, x: &[T]) -> T {
        let two = T::from(2.0).unwrap_or_else(T::nan);
        x[0].sin() * x[1].exp() + x[0].hypot(x[1]) + (x[0] / x[1]).atan() + x[1].powf(x[0]) - x[0].powi(3) / two
    }
}

#[test]
fn a_float_function_is_checked_in_all_modes() {
    let report = check_function(&Kitchen, &[0.7, 1.3], &Tolerances::default());
    assert!(report.passed(), "{report}");
    assert_eq!(report.rows.len(), 4);
    assert!(report.rows.iter().all(|r| r.subject == "Kitchen"));
}
