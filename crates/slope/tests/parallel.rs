//! Parallel sweeps give bitwise the results of sequential ones, whatever the thread count,
//! and forward-over-reverse Hessians agree with the hyper-dual ones.

use slope::check::{GraphSubject, Subject};
use slope::prelude::*;
use slope::{FrozenGraph, NodeId};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

fn bits(m: &[Vec<f64>]) -> Vec<Vec<u64>> {
    m.iter().map(|r| r.iter().map(|x| x.to_bits()).collect()).collect()
}

/// A deterministic family of graphs: `y = tanh(W x + b) * sigmoid(x0) + ...`, a 6 -> 5 map.
fn graph(seed: u64) -> (FrozenGraph, Vec<NodeId>, NodeId, NodeId) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let g = Graph::new();
    let x = g.vector(&(0..6).map(|_| next()).collect::<Vec<_>>()).requires_grad_();
    let w = g.matrix(5, 6, &(0..30).map(|_| next()).collect::<Vec<_>>()).unwrap().requires_grad_();
    let b = g.vector(&(0..5).map(|_| next()).collect::<Vec<_>>()).requires_grad_();
    let h = (w.matmul(x) + b).tanh();
    let y = h * x.sum().sigmoid() + h.powi(3) / (1.0 + x.dot(x));
    let loss = (y * y).sum().sqrt() + x.exp().mean();
    let ids = vec![x.id(), w.id(), b.id()];
    let (y, loss) = (y.id(), loss.id());
    (g.freeze(), ids, y, loss)
}

#[test]
fn jacobians_are_bitwise_identical_for_1_2_and_4_threads() {
    for seed in 0..8 {
        let (g, wrt, y, _) = graph(seed);
        let sequential: Vec<Vec<f64>> = (0..5)
            .map(|i| {
                let mut u = vec![0.0; 5];
                u[i] = 1.0;
                let mut adjoints = slope::Adjoints::new();
                let v = slope::graph_vjp(&g, y, &u, &wrt, &mut adjoints).unwrap();
                v.into_iter().flat_map(Value::into_vec).collect()
            })
            .collect();
        for threads in [1, 2, 4] {
            let j = pool(threads).install(|| slope::graph_jacobian(&g, y, &wrt)).unwrap();
            assert_eq!(bits(&j), bits(&sequential), "seed {seed}, {threads} threads");
        }
    }
}

#[test]
fn hessians_are_bitwise_identical_across_threads_and_match_hyper_duals() {
    for seed in 0..4 {
        let (g, wrt, _, loss) = graph(seed);
        let n = 6 + 30 + 5;
        let sequential: Vec<Vec<f64>> = (0..n)
            .map(|j| {
                let mut v = vec![0.0; n];
                v[j] = 1.0;
                slope::graph_hvp(&g, loss, &wrt, &v).unwrap()
            })
            .collect();
        for threads in [1, 2, 4] {
            let h = pool(threads).install(|| slope::graph_hessian(&g, loss, &wrt)).unwrap();
            assert_eq!(bits(&h), bits(&sequential), "seed {seed}, {threads} threads");
        }
        // forward-over-reverse against forward-over-forward (hyper-dual numbers)
        let subject = GraphSubject::new(&g, &wrt, loss).unwrap();
        let hyper = subject.hessian(&subject.point(), &[1.0]).unwrap();
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (sequential[i][j], hyper[i][j]);
                assert!((a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0), "H[{i}][{j}]: {a} vs {b}");
            }
        }
    }
}

#[test]
fn split_elementwise_kernels_are_bitwise_identical_across_threads() {
    let n = 3 * slope::reverse::PARALLEL_ELEMENTS + 17;
    let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.001).sin()).collect();
    let run = |threads: usize| {
        pool(threads).install(|| {
            let g = Graph::new();
            let x = g.vector(&xs).requires_grad_();
            let c = g.vector(&xs.iter().map(|v| v * 0.5 + 1.0).collect::<Vec<_>>()).requires_grad_();
            ((x.tanh() * c).sum() + (x / c).mean()).backward().unwrap();
            (x.grad().unwrap().into_vec(), c.grad().unwrap().into_vec())
        })
    };
    let (x1, c1) = run(1);
    for threads in [2, 4] {
        let (x, c) = run(threads);
        assert!(x.iter().zip(&x1).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads");
        assert!(c.iter().zip(&c1).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads");
    }
    // and the values are right: d/dx_k = (1 - tanh²) c_k + 1/(n c_k)
    let k = n / 2;
    let c = xs[k] * 0.5 + 1.0;
    let want = (1.0 - xs[k].tanh().powi(2)) * c + 1.0 / (n as f64 * c);
    assert!((x1[k] - want).abs() < 1e-12);
}

#[test]
fn batched_vjps_and_their_errors() {
    let (g, wrt, y, loss) = graph(1);
    let seeds = vec![vec![1.0, 0.0, 0.0, 0.0, 0.0], vec![0.5; 5]];
    let batch = slope::graph_vjp_batch(&g, y, &seeds, &wrt).unwrap();
    assert_eq!(batch.len(), 2);
    assert!(matches!(slope::graph_vjp_batch(&g, y, &[vec![1.0]], &wrt), Err(slope::Error::SeedShape { .. })));
    assert!(matches!(slope::graph_hessian(&g, y, &wrt), Err(slope::Error::NonScalarOutput { .. })));
    assert!(matches!(slope::graph_hvp(&g, loss, &wrt, &[1.0]), Err(slope::Error::SeedShape { .. })));
    let other = Graph::new().freeze();
    assert!(slope::graph_jacobian(&other, y, &wrt).is_err());
}

#[test]
fn every_helper_refuses_a_derivative_with_respect_to_what_does_not_require_grad() {
    let g = Graph::new();
    let x = g.vector(&[1.0, 2.0]).requires_grad_();
    let c = g.vector(&[3.0, 4.0]);
    let y = (x * c).sum();
    assert!(slope::grad(y, &[c]).is_err());
    let not_tracked = |r: Result<Vec<Vec<f64>>, slope::Error>| {
        matches!(r, Err(slope::Error::Graph(slope::GraphError::NotTracked { .. })))
    };
    let (x, c, y) = (x.id(), c.id(), y.id());
    let frozen = g.freeze();
    assert!(not_tracked(slope::graph_jacobian(&frozen, y, &[x, c])));
    assert!(not_tracked(slope::graph_hessian(&frozen, y, &[c])));
    assert!(not_tracked(slope::graph_vjp_batch(&frozen, y, &[vec![1.0]], &[c])));
    let vjp = slope::graph_vjp(&frozen, y, &[1.0], &[c], &mut slope::Adjoints::new());
    assert!(matches!(vjp, Err(slope::Error::Graph(slope::GraphError::NotTracked { .. }))));
    assert_eq!(slope::graph_jacobian(&frozen, y, &[x]).unwrap(), vec![vec![3.0, 4.0]]);
}
