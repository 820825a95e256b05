//! Checking one subject at one point: Jacobians three ways, Hessians two ways.

use crate::fd::richardson_adaptive;
use crate::report::{Pair, Report, Row};
use crate::subject::Subject;
use crate::Tolerances;

fn unit(n: usize, i: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    v[i] = 1.0;
    v
}

/// Fixed weights for the scalar loss `w · f` whose Hessian is checked.
pub(crate) fn weights(m: usize) -> Vec<f64> {
    (0..m).map(|i| 1.0 + 0.25 * i as f64).collect()
}

fn get(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Compares forward mode, reverse mode and finite differences on the full Jacobian at `x`,
/// and, with `second_order`, the forward Hessian of `w · f` against finite differences of
/// the reverse gradient.
pub fn check_at(subject: &dyn Subject, x: &[f64], tolerances: &Tolerances, second_order: bool) -> Report {
    let name = subject.name();
    let (n, m) = (x.len(), subject.primal(x).len());
    let mut fr = Row::new(&name, Pair::ForwardReverse, tolerances.analytic);
    let mut ffd = Row::new(&name, Pair::ForwardFiniteDifference, tolerances.finite_difference);
    let mut rfd = Row::new(&name, Pair::ReverseFiniteDifference, tolerances.finite_difference);

    let moved = |j: usize, t: f64| {
        let mut p = x.to_vec();
        p[j] += t;
        p
    };
    let forward: Vec<Vec<f64>> = (0..n).map(|j| subject.jvp(x, &unit(n, j))).collect();
    let reverse: Vec<Vec<f64>> = (0..m).map(|i| subject.vjp(x, &unit(m, i))).collect();
    let numeric: Vec<_> =
        (0..n).map(|j| richardson_adaptive(|t| subject.primal(&moved(j, t)), subject.step(x, j))).collect();
    for i in 0..m {
        for j in 0..n {
            let (f, r) = (get(&forward[j], i), get(&reverse[i], j));
            let d = numeric[j].get(i).map_or(f64::NAN, |e| e.value);
            let entry = || format!("J[{i}][{j}]");
            fr.compare(entry, x, f, r);
            ffd.compare(entry, x, f, d);
            rfd.compare(entry, x, r, d);
        }
    }
    let mut report = Report { rows: vec![fr, ffd, rfd] };
    if second_order {
        let w = weights(m);
        if let Some(h) = subject.hessian(x, &w) {
            let mut row = Row::new(&name, Pair::SecondOrder, tolerances.second_order);
            for j in 0..n {
                let column = richardson_adaptive(|t| subject.vjp(&moved(j, t), &w), subject.step(x, j));
                for i in 0..n {
                    let d = column.get(i).map_or(f64::NAN, |e| e.value);
                    let a = h.get(i).map_or(f64::NAN, |r| get(r, j));
                    row.compare(|| format!("H[{i}][{j}]"), x, a, d);
                }
            }
            report.rows.push(row);
        }
    }
    report
}
