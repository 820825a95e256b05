//! The checker must be able to fail: ops with a rule planted wrong are reported, naming
//! the op and the pair of modes that disagree.

use std::collections::BTreeSet;

use slope_check::{check_at, Pair, Report, Subject, Tolerances};
use slope_dual::Dual;

/// `sin` whose elementary rule says `sin' = cos + 0.01`. Forward and reverse mode both
/// take the partial from the one rule, as the real ops do, so they agree with each other;
/// only finite differences of the primal can see it.
struct WrongElementaryRule;

fn planted_rule(x: Dual<f64>) -> Dual<f64> {
    x.unary(|r| (r.sin(), r.cos() + 0.01))
}

impl Subject for WrongElementaryRule {
    fn name(&self) -> String {
        "planted_sin".into()
    }
    fn primal(&self, x: &[f64]) -> Vec<f64> {
        x.iter().map(|x| x.sin()).collect()
    }
    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        x.iter().zip(v).map(|(&x, &v)| planted_rule(Dual::new(x, v)).eps).collect()
    }
    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64> {
        x.iter().zip(u).map(|(&x, &u)| u * planted_rule(Dual::variable(x)).eps).collect()
    }
    fn hessian(&self, _: &[f64], _: &[f64]) -> Option<Vec<Vec<f64>>> {
        None
    }
}

/// `mean` whose forward mode is the primal on duals (right) but whose VJP spreads the
/// adjoint over `n - 1` elements instead of `n` (wrong).
struct WrongStructuralVjp;

fn mean<T: num_traits::Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &b| a + b) / T::from(x.len()).unwrap_or_else(T::nan)
}

impl Subject for WrongStructuralVjp {
    fn name(&self) -> String {
        "planted_mean".into()
    }
    fn primal(&self, x: &[f64]) -> Vec<f64> {
        vec![mean(x)]
    }
    fn jvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        let d: Vec<Dual<f64>> = x.iter().zip(v).map(|(&x, &v)| Dual::new(x, v)).collect();
        vec![mean(&d).eps]
    }
    fn vjp(&self, x: &[f64], u: &[f64]) -> Vec<f64> {
        vec![u[0] / (x.len() - 1) as f64; x.len()]
    }
    fn hessian(&self, x: &[f64], _: &[f64]) -> Option<Vec<Vec<f64>>> {
        Some(vec![vec![0.0; x.len()]; x.len()])
    }
}

fn failing_pairs(report: &Report) -> BTreeSet<Pair> {
    report.failures().map(|r| r.pair).collect()
}

#[test]
fn a_wrong_elementary_rule_is_caught_by_finite_differences() {
    let report = check_at(&WrongElementaryRule, &[0.3, -1.2, 2.0], &Tolerances::default(), true);
    assert_eq!(
        failing_pairs(&report),
        BTreeSet::from([Pair::ForwardFiniteDifference, Pair::ReverseFiniteDifference]),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("FAIL planted_sin fwd/fd") && text.contains("FAIL planted_sin rev/fd"), "{text}");
    let worst = report.failures().next().and_then(|r| r.worst.clone()).unwrap();
    assert!((worst.left - worst.right).abs() > 0.009, "the report names both values: {worst:?}");
}

#[test]
fn a_wrong_structural_vjp_is_caught_by_forward_mode_exactly() {
    let report = check_at(&WrongStructuralVjp, &[0.5, 1.5, -2.0, 4.0], &Tolerances::default(), true);
    assert_eq!(
        failing_pairs(&report),
        BTreeSet::from([Pair::ForwardReverse, Pair::ReverseFiniteDifference]),
        "{report}"
    );
    let row = report.rows.iter().find(|r| r.pair == Pair::ForwardReverse).unwrap();
    let worst = row.worst.as_ref().unwrap();
    assert_eq!((worst.left, worst.right), (0.25, 1.0 / 3.0), "forward 1/n against reverse 1/(n-1)");
    assert!(report.to_string().contains("FAIL planted_mean fwd/rev"));
}

#[test]
fn nan_never_passes() {
    struct Nan;
    impl Subject for Nan {
        fn name(&self) -> String {
            "nan".into()
        }
        fn primal(&self, x: &[f64]) -> Vec<f64> {
            x.to_vec()
        }
        fn jvp(&self, _: &[f64], _: &[f64]) -> Vec<f64> {
            vec![f64::NAN]
        }
        fn vjp(&self, _: &[f64], _: &[f64]) -> Vec<f64> {
            vec![f64::NAN]
        }
        fn hessian(&self, _: &[f64], _: &[f64]) -> Option<Vec<Vec<f64>>> {
            None
        }
    }
    let report = check_at(&Nan, &[1.0], &Tolerances::default(), false);
    assert_eq!(failing_pairs(&report).len(), 3, "{report}");
}

#[test]
fn reports_serialize_to_json() {
    let report = check_at(&WrongStructuralVjp, &[0.5, 1.5, -2.0], &Tolerances::default(), false);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rows"][0]["subject"], "planted_mean");
    assert_eq!(json["rows"][0]["pair"], "forward-reverse");
    assert!(json["rows"][0]["worst"]["error"].as_f64().unwrap() > 0.1);
}
