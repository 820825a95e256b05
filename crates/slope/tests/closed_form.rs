//! Every op's reverse rule against its closed-form derivative, written here by hand and
//! independently of the dual-number rules, at several points of its domain, through the
//! scalar (`Var`) path and the tensor path.

mod common;
use common::numbers;
use slope::prelude::*;
use slope::{BinaryOp, Domain, Op, StructuralOp, UnaryOp};

const LN2: f64 = std::f64::consts::LN_2;
const LN10: f64 = std::f64::consts::LN_10;

/// `f'(x)` by hand. No `_` arm: a new unary op does not compile here until it has one.
fn unary_derivative(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -1.0,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Exp2 => x.exp2() * LN2,
        UnaryOp::ExpM1 => x.exp(),
        UnaryOp::Log => 1.0 / x,
        UnaryOp::Log2 => 1.0 / (x * LN2),
        UnaryOp::Log10 => 1.0 / (x * LN10),
        UnaryOp::Log1p => 1.0 / (1.0 + x),
        UnaryOp::Sqrt => 0.5 / x.sqrt(),
        UnaryOp::Cbrt => x.powf(-2.0 / 3.0) / 3.0,
        UnaryOp::Recip => -1.0 / (x * x),
        UnaryOp::Sin => x.cos(),
        UnaryOp::Cos => -x.sin(),
        UnaryOp::Tan => 1.0 / (x.cos() * x.cos()),
        UnaryOp::Asin => 1.0 / (1.0 - x * x).sqrt(),
        UnaryOp::Acos => -1.0 / (1.0 - x * x).sqrt(),
        UnaryOp::Atan => 1.0 / (1.0 + x * x),
        UnaryOp::Sinh => x.cosh(),
        UnaryOp::Cosh => x.sinh(),
        UnaryOp::Tanh => 1.0 / (x.cosh() * x.cosh()),
        UnaryOp::Asinh => 1.0 / (x * x + 1.0).sqrt(),
        UnaryOp::Acosh => 1.0 / (x * x - 1.0).sqrt(),
        UnaryOp::Atanh => 1.0 / (1.0 - x * x),
        UnaryOp::Sigmoid => (-x).exp() / (1.0 + (-x).exp()).powi(2),
        UnaryOp::Silu => {
            let s = 1.0 / (1.0 + (-x).exp());
            s + x * s * (1.0 - s)
        }
        UnaryOp::Softplus if x > 20.0 => 1.0,
        UnaryOp::Softplus => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::LogSigmoid => 1.0 / (1.0 + x.exp()),
        UnaryOp::Gelu => normal_cdf(x) + x * normal_density(x),
        UnaryOp::Relu => f64::from(u8::from(x > 0.0)),
        UnaryOp::Abs => x.signum() * f64::from(u8::from(x != 0.0)),
        UnaryOp::Erf => 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
    }
}

fn normal_density(x: f64) -> f64 {
    (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `Φ(x)` by Marsaglia's series `1/2 + φ(x) (x + x³/3 + x⁵/(3·5) + ...)`, which needs no
/// `erf` (the rule under test is built on one).
fn normal_cdf(x: f64) -> f64 {
    if x.abs() > 12.0 {
        return if x > 0.0 { 1.0 } else { 0.0 };
    }
    let (mut term, mut sum) = (x, x);
    for k in 1..500 {
        term *= x * x / f64::from(2 * k + 1);
        sum += term;
        if term.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    0.5 + normal_density(x) * sum
}

/// `(∂f/∂a, ∂f/∂b)` by hand (zero for a constant exponent).
fn binary_derivative(op: BinaryOp, a: f64, b: f64) -> (f64, f64) {
    match op {
        BinaryOp::Add => (1.0, 1.0),
        BinaryOp::Sub => (1.0, -1.0),
        BinaryOp::Mul => (b, a),
        BinaryOp::Div => (1.0 / b, -a / (b * b)),
        BinaryOp::Pow => (b * a.powf(b - 1.0), a.powf(b) * a.ln()),
        BinaryOp::PowI | BinaryOp::PowF => (b * a.powf(b - 1.0), 0.0),
        BinaryOp::Atan2 => (b / (a * a + b * b), -a / (a * a + b * b)),
        BinaryOp::Hypot => (a / (a * a + b * b).sqrt(), b / (a * a + b * b).sqrt()),
        BinaryOp::Rem => (1.0, -(a / b).trunc()),
        // PyTorch splits the gradient evenly on a tie
        BinaryOp::LeakyRelu => (if a > 0.0 { 1.0 } else { b }, 0.0),
        BinaryOp::Maximum | BinaryOp::Minimum if a == b => (0.5, 0.5),
        BinaryOp::Maximum => {
            if a > b {
                (1.0, 0.0)
            } else {
                (0.0, 1.0)
            }
        }
        BinaryOp::Minimum => {
            if a < b {
                (1.0, 0.0)
            } else {
                (0.0, 1.0)
            }
        }
    }
}

/// Points inside a domain, off its kinks; integers for an integer domain.
fn points(d: &Domain, count: usize) -> Vec<f64> {
    if d.integer {
        return (d.low.ceil() as i64..=d.high.floor() as i64).map(|n| n as f64).collect();
    }
    (0..count)
        .map(|i| d.at((i as f64 + 0.37) / count as f64))
        .filter(|x| d.kinks.iter().all(|k| (x - k.at).abs() > 1e-3))
        .collect()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

#[test]
fn unary_ops_match_closed_forms_in_scalar_and_tensor_mode() {
    for op in Op::all() {
        let Op::Unary(u) = op else { continue };
        let xs = points(u.domain(), 7);
        for &x in &xs {
            let (_, grad) = slope::gradient(|v| v[0].apply(u), &[x]).unwrap();
            let want = unary_derivative(u, x);
            assert!(close(grad[0], want), "{}'({x}) = {} by Var, {want} by hand", op.name(), grad[0]);
        }
        let g = Graph::new();
        let x = g.vector(&xs).requires_grad_();
        x.apply(u).sum().backward().unwrap();
        for (&x, &d) in xs.iter().zip(x.grad().unwrap().as_slice()) {
            let want = unary_derivative(u, x);
            assert!(close(d, want), "{}'({x}) = {d} by Tensor, {want} by hand", op.name());
        }
    }
}

#[test]
fn kinks_follow_their_documented_convention() {
    for op in Op::all() {
        let Op::Unary(u) = op else { continue };
        for kink in u.domain().kinks {
            let (_, grad) = slope::gradient(|v| v[0].apply(u), &[kink.at]).unwrap();
            assert_eq!(grad[0], kink.derivative, "{} at its kink {}", op.name(), kink.at);
        }
    }
}

#[test]
fn binary_ops_match_closed_forms_in_scalar_and_tensor_mode() {
    for op in Op::all() {
        let Op::Binary(b) = op else { continue };
        let [da, db] = b.domains();
        let (xs, ys) = (points(da, 5), points(db, 5));
        let pairs: Vec<(f64, f64)> = xs.iter().flat_map(|&x| ys.iter().map(move |&y| (x, y))).collect();
        for &(x, y) in &pairs {
            let (want_a, want_b) = binary_derivative(b, x, y);
            let (_, grad) = if db.constant {
                slope::gradient(|v| v[0].apply_binary(b, Var::constant(y)), &[x]).unwrap()
            } else {
                slope::gradient(|v| v[0].apply_binary(b, v[1]), &[x, y]).unwrap()
            };
            assert!(close(grad[0], want_a), "{} d/da at ({x}, {y}): {} vs {want_a}", op.name(), grad[0]);
            if !db.constant {
                assert!(close(grad[1], want_b), "{} d/db at ({x}, {y}): {} vs {want_b}", op.name(), grad[1]);
            }
        }
        if db.constant {
            continue; // the tensor path takes constant exponents through powi/powf, below
        }
        let g = Graph::new();
        let a = g.vector(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()).requires_grad_();
        let c = g.vector(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()).requires_grad_();
        a.try_binary(b, c).unwrap().sum().backward().unwrap();
        let (ga, gc) = (a.grad().unwrap(), c.grad().unwrap());
        for (k, &(x, y)) in pairs.iter().enumerate() {
            let (want_a, want_b) = binary_derivative(b, x, y);
            assert!(close(ga.as_slice()[k], want_a), "{} tensor d/da at ({x}, {y})", op.name());
            assert!(close(gc.as_slice()[k], want_b), "{} tensor d/db at ({x}, {y})", op.name());
        }
    }
}

#[test]
fn constant_exponents_through_tensor_methods() {
    let g = Graph::new();
    let xs = [0.5, 1.5, 2.5];
    let x = g.vector(&xs).requires_grad_();
    (x.powi(3) + x.powf(-1.5)).sum().backward().unwrap();
    for (&x, &d) in xs.iter().zip(x.grad().unwrap().as_slice()) {
        assert!(close(d, 3.0 * x * x - 1.5 * x.powf(-2.5)));
    }
}

#[test]
fn a_scalar_broadcast_against_a_vector_receives_the_sum() {
    let g = Graph::new();
    let s = g.scalar(3.0).requires_grad_();
    let v = g.vector(&[1.0, 2.0, 4.0]).requires_grad_();
    (s * v).sum().backward().unwrap();
    assert_eq!(s.grad().unwrap().item(), Some(7.0));
    assert_eq!(v.grad().unwrap().as_slice(), &[3.0, 3.0, 3.0]);
    let s2 = g.scalar(2.0).requires_grad_();
    (v / s2).sum().backward().unwrap();
    assert!(close(s2.grad().unwrap().item().unwrap(), -7.0 / 4.0));
}

/// `C = A B` with `A: m x k`, `B: k x n`, row-major, by explicit loops.
fn product(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..c).flat_map(|j| (0..r).map(move |i| a[i * c + j])).collect()
}

fn all_close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| close(g, w))
}

#[test]
fn structural_ops_match_closed_forms() {
    // Every structural op is covered: the match has no `_` arm.
    for op in Op::all() {
        let Op::Structural(s) = op else { continue };
        let g = Graph::new();
        match s {
            StructuralOp::Sum | StructuralOp::Mean => {
                let x = g.vector(&numbers(1, 6)).requires_grad_();
                let y = if s == StructuralOp::Sum { x.sum() } else { x.mean() };
                y.backward().unwrap();
                let want = if s == StructuralOp::Sum { 1.0 } else { 1.0 / 6.0 };
                assert!(x.grad().unwrap().as_slice().iter().all(|&d| close(d, want)), "{}", op.name());
            }
            StructuralOp::Prod => {
                // d/dx_i prod(x) = prod of the others, also where elements are zero
                for data in [vec![1.5, -2.0, 0.5, 3.0], vec![2.0, 0.0, -1.0], vec![0.0, 4.0, 0.0]] {
                    let x = g.vector(&data).requires_grad_();
                    let p = x.prod();
                    assert_eq!(p.grad_fn().unwrap().name(), "ProdBackward0");
                    assert!(close(p.item().unwrap(), data.iter().product()));
                    p.backward().unwrap();
                    let want: Vec<f64> = (0..data.len())
                        .map(|i| data.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, v)| v).product())
                        .collect();
                    assert!(all_close(x.grad().unwrap().as_slice(), &want), "prod of {data:?}");
                }
            }
            StructuralOp::Dot => {
                let (a, b) = (numbers(2, 5), numbers(3, 5));
                let (ta, tb) = (g.vector(&a).requires_grad_(), g.vector(&b).requires_grad_());
                ta.dot(tb).backward().unwrap();
                assert!(all_close(ta.grad().unwrap().as_slice(), &b));
                assert!(all_close(tb.grad().unwrap().as_slice(), &a));
            }
            StructuralOp::Matmul => {
                // loss = sum(W ∘ (A B))  =>  dA = W Bᵀ,  dB = Aᵀ W
                for (m, k, n, left, right) in [
                    (2, 3, 4, Shape::Matrix(2, 3), Shape::Matrix(3, 4)),
                    (3, 4, 1, Shape::Matrix(3, 4), Shape::Vector(4)),
                    (1, 4, 3, Shape::Vector(4), Shape::Matrix(4, 3)),
                    (1, 5, 1, Shape::Vector(5), Shape::Vector(5)),
                    // above 5 in every dimension: nalgebra's blocked kernel, strided views
                    (7, 9, 6, Shape::Matrix(7, 9), Shape::Matrix(9, 6)),
                ] {
                    let (a, b, w) = (numbers(4, m * k), numbers(5, k * n), numbers(6, m * n));
                    let g = Graph::new();
                    let ta = g.try_tensor(left, &a).unwrap().requires_grad_();
                    let tb = g.try_tensor(right, &b).unwrap().requires_grad_();
                    let c = ta.matmul(tb);
                    assert!(all_close(&c.to_vec(), &product(&a, &b, m, k, n)), "matmul value {left} @ {right}");
                    let tw = g.try_tensor(c.shape(), &w).unwrap();
                    (c * tw).sum().backward().unwrap();
                    let da = product(&w, &transpose(&b, k, n), m, n, k);
                    let db = product(&transpose(&a, m, k), &w, k, m, n);
                    assert!(all_close(ta.grad().unwrap().as_slice(), &da), "dA of {left} @ {right}");
                    assert!(all_close(tb.grad().unwrap().as_slice(), &db), "dB of {left} @ {right}");
                }
            }
            StructuralOp::Slice => {
                // loss = sum(w ∘ x[1:3]) + sum(x[:-1])  =>  dx = [1, 1 + w0, 1 + w1, 0]
                let x = g.vector(&numbers(9, 4)).requires_grad_();
                let y = (x.slice(1, 3) * g.vector(&[2.0, -3.0])).sum() + x.slice(0, 3).sum();
                assert_eq!(x.slice(1, 3).grad_fn().unwrap().name(), "SliceBackward0");
                y.backward().unwrap();
                assert_eq!(x.grad().unwrap().as_slice(), &[1.0, 3.0, -2.0, 0.0]);
                // the row itself: the range [start, len] an attribute of the node
                let z = g.vector(&numbers(15, 4)).requires_grad_();
                let part = g.try_record_with(op, &[z], &[(&[1.0, 2.0], Shape::Vector(2))]).unwrap();
                assert_eq!(g.with_arena(|a| a.node_info(part.id()).unwrap().inputs.len()), 1, "the range is no node");
                assert_eq!(part.to_vec(), z.to_vec()[1..3].to_vec());
                (part * g.vector(&[10.0, 100.0])).sum().backward().unwrap();
                assert_eq!(z.grad().unwrap().as_slice(), &[0.0, 10.0, 100.0, 0.0]);
            }
            StructuralOp::Softmax | StructuralOp::LogSoftmax | StructuralOp::LogSumExp => {
                // by hand: y = e^x / Σ e^x; loss = Σ w ∘ f(x) per row
                let (x, w) = (numbers(10, 6), numbers(11, 6));
                let tx = g.matrix(2, 3, &x).unwrap().requires_grad_();
                let y = match s {
                    StructuralOp::Softmax => tx.softmax(-1),
                    StructuralOp::LogSoftmax => tx.log_softmax(1),
                    _ => tx.logsumexp(-1),
                };
                assert_eq!(y.grad_fn().unwrap().name(), s.grad_fn_name());
                let tw = g.try_tensor(y.shape(), &w[..y.shape().len()]).unwrap();
                (y * tw).sum().backward().unwrap();
                let (mut value, mut grad) = (Vec::new(), Vec::new());
                for i in 0..2 {
                    let row = &x[3 * i..3 * i + 3];
                    let total: f64 = row.iter().map(|v| v.exp()).sum();
                    let p: Vec<f64> = row.iter().map(|v| v.exp() / total).collect();
                    let wr = &w[3 * i..3 * i + 3];
                    match s {
                        StructuralOp::Softmax => {
                            value.extend(&p);
                            let along: f64 = (0..3).map(|k| wr[k] * p[k]).sum();
                            grad.extend((0..3).map(|k| p[k] * (wr[k] - along)));
                        }
                        StructuralOp::LogSoftmax => {
                            value.extend(p.iter().map(|p| p.ln()));
                            grad.extend((0..3).map(|k| wr[k] - p[k] * wr.iter().sum::<f64>()));
                        }
                        _ => {
                            value.push(total.ln());
                            grad.extend(p.iter().map(|p| w[i] * p));
                        }
                    }
                }
                assert!(all_close(&y.to_vec(), &value), "{} value", op.name());
                assert!(all_close(tx.grad().unwrap().as_slice(), &grad), "{} gradient", op.name());
                // stable where e^x overflows, and along the first dimension through the transpose
                let big = g.vector(&[1000.0, 1000.0]);
                assert_eq!(big.logsumexp(0).item().unwrap(), 1000.0 + std::f64::consts::LN_2);
                assert_eq!(big.softmax(0).to_vec(), vec![0.5, 0.5]);
                assert_eq!(big.log_softmax(0).to_vec(), vec![-std::f64::consts::LN_2; 2]);
                let columns = g.matrix(2, 3, &x).unwrap().softmax(0).to_vec();
                for j in 0..3 {
                    assert!(close(columns[j] + columns[3 + j], 1.0), "softmax along dim 0");
                }
            }
            StructuralOp::SumToSize => {
                // by hand: column sums, row sums, and d/dx of sum(w ∘ sums) = w broadcast back
                let x = numbers(16, 6);
                let tx = g.matrix(2, 3, &x).unwrap().requires_grad_();
                let columns = tx.sum_dim(0, false);
                assert_eq!(columns.grad_fn().unwrap().name(), "SumBackward1");
                let want: Vec<f64> = (0..3).map(|j| x[j] + x[3 + j]).collect();
                assert!(all_close(&columns.to_vec(), &want));
                let rows = tx.sum_dim(-1, true);
                assert_eq!(rows.shape(), Shape::Matrix(2, 1));
                assert!(all_close(&rows.to_vec(), &[x[0] + x[1] + x[2], x[3] + x[4] + x[5]]));
                let loss = (columns * g.vector(&[1.0, 2.0, 3.0])).sum()
                    + (rows * g.matrix(2, 1, &[10.0, 20.0]).unwrap()).sum();
                loss.backward().unwrap();
                assert_eq!(tx.grad().unwrap().as_slice(), &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0]);
                assert_eq!(tx.sum_dim(1, false).to_vec(), rows.to_vec());
                assert!(tx.try_sum_to_size(Shape::Vector(2)).is_err()); // [2] does not broadcast to [2, 3]
                assert!(tx.try_sum_dim(2, false).is_err());
            }
            StructuralOp::Clamp => {
                // by hand: the identity inside [lo, hi] (bounds included), the bound outside
                let x = g.vector(&[-2.0, -1.0, 0.25, 1.0, 4.0]).requires_grad_();
                let y = x.clamp(-1.0, 1.0);
                assert_eq!(y.grad_fn().unwrap().name(), "ClampBackward1");
                assert_eq!(y.to_vec(), vec![-1.0, -1.0, 0.25, 1.0, 1.0]);
                (y * g.vector(&[1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward().unwrap();
                assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 2.0, 3.0, 4.0, 0.0]);
                assert_eq!(x.clamp(2.0, 1.0).to_vec(), vec![1.0; 5]); // lo > hi: hi
                assert_eq!(x.clamp(f64::NEG_INFINITY, 0.0).to_vec(), vec![-2.0, -1.0, 0.0, 0.0, 0.0]);
                assert!(g.vector(&[f64::NAN]).clamp(0.0, 1.0).item().unwrap().is_nan());
            }
            StructuralOp::Amax | StructuralOp::Amin => {
                // along a dim: the indicator of each row's extreme element, a tie split evenly
                let m = g.matrix(2, 3, &[0.5, -2.0, 3.0, 1.0, 1.0, -4.0]).unwrap().requires_grad_();
                let y = if s == StructuralOp::Amax { m.try_amax(-1, false) } else { m.try_amin(-1, false) }.unwrap();
                assert_eq!(y.grad_fn().unwrap().name(), s.grad_fn_name());
                let (values, grad): (Vec<f64>, [f64; 6]) = if s == StructuralOp::Amax {
                    (vec![3.0, 1.0], [0.0, 0.0, 1.0, 0.5, 0.5, 0.0])
                } else {
                    (vec![-2.0, -4.0], [0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
                };
                assert_eq!(y.to_vec(), values);
                y.sum().backward().unwrap();
                assert_eq!(m.grad().unwrap().as_slice(), &grad);
                // along the first dimension of a rank-3 tensor, with the index PyTorch returns
                let t = g.try_tensor(Shape::of(&[3, 1, 2]), &[1.0, 9.0, 7.0, -1.0, 4.0, 2.0]).unwrap();
                let (values, indices) =
                    if s == StructuralOp::Amax { t.try_max_dim(0, true) } else { t.try_min_dim(0, true) }.unwrap();
                assert_eq!(values.shape().dims(), vec![1, 1, 2]);
                let want = if s == StructuralOp::Amax {
                    (vec![7.0, 9.0], vec![1.0, 0.0])
                } else {
                    (vec![1.0, -1.0], vec![0.0, 1.0])
                };
                assert_eq!((values.to_vec(), indices.to_vec()), want);
            }
            StructuralOp::Max | StructuralOp::Min => {
                // d max(x) / dx is the indicator of the largest element; a tie splits it evenly
                fn pick(s: StructuralOp, y: Tensor<'_>) -> Tensor<'_> {
                    if s == StructuralOp::Max {
                        y.max()
                    } else {
                        y.min()
                    }
                }
                let x = g.vector(&[0.5, -2.0, 3.0, 1.0]).requires_grad_();
                let y = pick(s, x);
                assert_eq!(y.grad_fn().unwrap().name(), s.grad_fn_name());
                assert_eq!(y.item().unwrap(), if s == StructuralOp::Max { 3.0 } else { -2.0 });
                y.backward().unwrap();
                let want = if s == StructuralOp::Max { [0.0, 0.0, 1.0, 0.0] } else { [0.0, 1.0, 0.0, 0.0] };
                assert_eq!(x.grad().unwrap().as_slice(), &want);
                let tied = g.vector(&[2.0, -2.0, 2.0, -2.0, 2.0]).requires_grad_();
                pick(s, tied).backward().unwrap();
                let third = 1.0 / 3.0;
                let want =
                    if s == StructuralOp::Max { [third, 0.0, third, 0.0, third] } else { [0.0, 0.5, 0.0, 0.5, 0.0] };
                assert_eq!(tied.grad().unwrap().as_slice(), &want);
                // forward mode splits the tie alike: the primal on duals, element 0 seeded
                let seeded: Vec<Dual<f64>> = [2.0, -2.0, 2.0, -2.0, 2.0]
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| Dual::new(v, f64::from(u8::from(k == 0))))
                    .collect();
                let mut out = Vec::new();
                s.primal(&[(&seeded[..], Shape::Vector(5))], &mut out);
                assert_eq!(out[0].eps, want[0], "{} forward at a tie", op.name());
                assert!(pick(s, g.vector(&[1.0, f64::NAN])).item().unwrap().is_nan());
                assert!(g.vector(&[]).try_max().is_err() && g.vector(&[]).try_min().is_err());
            }
            StructuralOp::MseLoss => {
                let (a, b) = (numbers(12, 5), numbers(13, 5));
                let (ta, tb) = (g.vector(&a).requires_grad_(), g.vector(&b).requires_grad_());
                let loss = ta.mse_loss(tb);
                let want: f64 = a.iter().zip(&b).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / 5.0;
                assert!(close(loss.item().unwrap(), want));
                loss.backward().unwrap();
                let da: Vec<f64> = a.iter().zip(&b).map(|(a, b)| 2.0 * (a - b) / 5.0).collect();
                assert!(all_close(ta.grad().unwrap().as_slice(), &da));
                assert!(all_close(tb.grad().unwrap().as_slice(), &da.iter().map(|d| -d).collect::<Vec<_>>()));
            }
            StructuralOp::CrossEntropy => {
                // mean over rows of ln Σ e^x - x[label]; gradient (softmax - onehot) / B
                let x = numbers(14, 6);
                let labels = [2.0, 0.0];
                let tx = g.matrix(2, 3, &x).unwrap().requires_grad_();
                let loss = tx.cross_entropy(g.vector(&labels));
                let mut want = 0.0;
                let mut grad = Vec::new();
                for i in 0..2 {
                    let row = &x[3 * i..3 * i + 3];
                    let total: f64 = row.iter().map(|v| v.exp()).sum();
                    want += (total.ln() - row[labels[i] as usize]) / 2.0;
                    grad.extend(
                        (0..3).map(|k| (row[k].exp() / total - f64::from(u8::from(k == labels[i] as usize))) / 2.0),
                    );
                }
                assert!(close(loss.item().unwrap(), want));
                loss.backward().unwrap();
                assert!(all_close(tx.grad().unwrap().as_slice(), &grad));
            }
            StructuralOp::Reshape | StructuralOp::Flatten => {
                // loss = sum(W ∘ reshape(x))  =>  dx = W's elements in order
                let (x, w) = (numbers(16, 6), numbers(17, 6));
                let tx = g.matrix(2, 3, &x).unwrap().requires_grad_();
                let y = if s == StructuralOp::Reshape { tx.reshape(Shape::Matrix(3, 2)) } else { tx.flatten() };
                assert_eq!(y.grad_fn().unwrap().name(), "ViewBackward0");
                assert_eq!(y.to_vec(), x);
                (y * g.try_tensor(y.shape(), &w).unwrap()).sum().backward().unwrap();
                assert_eq!(tx.grad().unwrap().as_slice(), &w[..]);
                let one = g.vector(&[2.5]).requires_grad_().reshape(Shape::Scalar);
                assert_eq!((one.shape(), one.item().ok()), (Shape::Scalar, Some(2.5)));
            }
            StructuralOp::Cat => {
                // loss = sum(w ∘ cat(a, b))  =>  da, db = w's leading part and the rest
                let (a, b, w) = (numbers(18, 2), numbers(19, 3), numbers(20, 5));
                let (ta, tb) = (g.vector(&a).requires_grad_(), g.vector(&b).requires_grad_());
                let c = Tensor::cat(&[ta, tb], 0);
                assert_eq!(c.grad_fn().unwrap().name(), "CatBackward0");
                assert_eq!(c.to_vec(), [a.clone(), b.clone()].concat());
                (c * g.vector(&w)).sum().backward().unwrap();
                assert_eq!(
                    (ta.grad().unwrap().as_slice().to_vec(), tb.grad().unwrap().as_slice().to_vec()),
                    (w[..2].to_vec(), w[2..].to_vec())
                );
                // matrices side by side (dim 1): row i is a's row i then b's
                let (ma, mb) =
                    (g.matrix(2, 1, &a).unwrap().requires_grad_(), g.matrix(2, 2, &b[..2].repeat(2)).unwrap());
                let side = Tensor::cat(&[ma, mb], 1);
                assert_eq!(side.to_vec(), vec![a[0], b[0], b[1], a[1], b[0], b[1]]);
                (side * g.matrix(2, 3, &numbers(21, 6)).unwrap()).sum().backward().unwrap();
                let w = numbers(21, 6);
                assert_eq!(ma.grad().unwrap().as_slice(), &[w[0], w[3]]);
            }
            StructuralOp::IndexSelect => {
                // loss = sum(W ∘ M[rows])  =>  dM[r] = Σ of W's rows that picked r
                let (m, w) = (numbers(22, 6), numbers(23, 8));
                let tm = g.matrix(3, 2, &m).unwrap().requires_grad_();
                let picked = tm.index_select(&[1, 1, 0, 2]);
                assert_eq!(picked.grad_fn().unwrap().name(), "IndexSelectBackward0");
                assert_eq!(picked.to_vec(), [&m[2..4], &m[2..4], &m[0..2], &m[4..6]].concat());
                (picked * g.matrix(4, 2, &w).unwrap()).sum().backward().unwrap();
                assert_eq!(tm.grad().unwrap().as_slice(), &[w[4], w[5], w[0] + w[2], w[1] + w[3], w[6], w[7]]);
            }
            StructuralOp::Where => {
                // loss = sum(w ∘ where(m, x, y))  =>  dx = w where m, dy = w elsewhere
                let (x, y, w) = (numbers(24, 4), numbers(25, 4), numbers(26, 4));
                let mask = g.vector(&[1.0, 0.0, 0.0, 1.0]);
                let (tx, ty) = (g.vector(&x).requires_grad_(), g.vector(&y).requires_grad_());
                let picked = tx.where_(mask, ty);
                assert_eq!(picked.grad_fn().unwrap().name(), "WhereBackward0");
                let reads = g.with_arena(|a| a.node_info(picked.id()).unwrap().inputs);
                assert_eq!(reads, vec![tx.id(), ty.id(), mask.id()], "x, y and the mask are the node's three inputs");
                assert_eq!(picked.to_vec(), vec![x[0], y[1], y[2], x[3]]);
                (picked * g.vector(&w)).sum().backward().unwrap();
                assert_eq!(tx.grad().unwrap().as_slice(), &[w[0], 0.0, 0.0, w[3]]);
                assert_eq!(ty.grad().unwrap().as_slice(), &[0.0, w[1], w[2], 0.0]);
                // a NaN not picked does not reach the value
                let nan = g.vector(&[f64::NAN; 4]);
                assert_eq!(tx.where_(g.vector(&[1.0; 4]), nan).to_vec(), x);
                // the three broadcast: a column condition, a row x, a scalar y
                let cond = g.matrix(2, 1, &[1.0, 0.0]).unwrap();
                let row = g.vector(&x[..3]).requires_grad_();
                let s = g.scalar(y[0]).requires_grad_();
                let both = row.where_(cond, s);
                assert_eq!(both.to_vec(), vec![x[0], x[1], x[2], y[0], y[0], y[0]]);
                (both * g.matrix(2, 3, &numbers(27, 6)).unwrap()).sum().backward().unwrap();
                let v = numbers(27, 6);
                assert_eq!(row.grad().unwrap().as_slice(), &v[..3]);
                assert!(close(s.grad().unwrap().item().unwrap(), v[3] + v[4] + v[5]));
            }
            StructuralOp::Expand => {
                // y[b, i, j] = x[i, 0]; loss = sum(W ∘ y)  =>  dx[i] = Σ_b Σ_j W[b, i, j]
                let (x, w) = (numbers(28, 3), numbers(29, 24));
                let tx = g.matrix(3, 1, &x).unwrap().requires_grad_();
                let y = tx.try_expand(&[2, -1, 4]).unwrap();
                assert_eq!((y.shape().dims(), y.grad_fn().unwrap().name()), (vec![2, 3, 4], "ExpandBackward0"));
                let at = |b: usize, i: usize, j: usize| (b * 3 + i) * 4 + j;
                for (b, i, j) in (0..2).flat_map(|b| (0..3).flat_map(move |i| (0..4).map(move |j| (b, i, j)))) {
                    assert_eq!(y.to_vec()[at(b, i, j)], x[i]);
                }
                (y * g.try_tensor(y.shape(), &w).unwrap()).sum().backward().unwrap();
                let dx = tx.grad().unwrap();
                for i in 0..3 {
                    let want: f64 = (0..2).flat_map(|b| (0..4).map(move |j| (b, j))).map(|(b, j)| w[at(b, i, j)]).sum();
                    assert!(close(dx.as_slice()[i], want), "dx[{i}]");
                }
                assert!(tx.try_expand(&[2, 2, 4]).is_err(), "3 rows do not broadcast to 2");
                assert!(tx.try_expand(&[-1, 4]).is_ok() && tx.try_expand(&[4]).is_err());
            }
            StructuralOp::Gather => {
                // y[i, j] = x[index[i, j], j] (dim 0); loss = sum(W ∘ y)  =>  dx[r, j] = Σ W[i, j] over index[i, j] = r
                let (x, w) = (numbers(30, 6), numbers(31, 8));
                let picks = [2.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0];
                let tx = g.matrix(3, 2, &x).unwrap().requires_grad_();
                let index = g.matrix(4, 2, &picks).unwrap();
                let y = tx.gather(0, index);
                assert_eq!(y.shape(), Shape::Matrix(4, 2));
                let mut dx = [0.0; 6];
                for i in 0..4 {
                    for j in 0..2 {
                        let r = picks[i * 2 + j] as usize;
                        assert_eq!(y.to_vec()[i * 2 + j], x[r * 2 + j]);
                        dx[r * 2 + j] += w[i * 2 + j];
                    }
                }
                (y * g.matrix(4, 2, &w).unwrap()).sum().backward().unwrap();
                assert!(all_close(tx.grad().unwrap().as_slice(), &dx));
                // the row along the last dimension, and its refusals
                let last = tx.gather(-1, g.matrix(3, 1, &[1.0, 0.0, 1.0]).unwrap());
                assert_eq!(
                    (last.to_vec(), last.grad_fn().unwrap().name()),
                    (vec![x[1], x[2], x[5]], "GatherBackward0")
                );
                assert!(matches!(
                    tx.try_gather(1, g.matrix(1, 1, &[2.0]).unwrap()),
                    Err(slope::GraphError::GatherIndex { index: 2.0, size: 2, .. })
                ));
                assert!(tx.try_gather(0, g.matrix(1, 3, &[0.0; 3]).unwrap()).is_err(), "3 columns of index, 2 of x");
                assert!(tx.try_gather(0, g.vector(&[0.0])).is_err(), "another rank");
            }
            StructuralOp::ScatterAdd => {
                // y = t with y[index[i, j], j] += s[i, j] (dim 0); loss = sum(W ∘ y)  =>  dt = W, ds[i, j] = W[index[i, j], j]
                let (t, s, w) = (numbers(32, 6), numbers(33, 8), numbers(34, 6));
                let picks = [2.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0];
                let (tt, ts) =
                    (g.matrix(3, 2, &t).unwrap().requires_grad_(), g.matrix(4, 2, &s).unwrap().requires_grad_());
                let y = tt.scatter_add(0, g.matrix(4, 2, &picks).unwrap(), ts);
                let mut want = t.clone();
                let mut ds = [0.0; 8];
                for i in 0..4 {
                    for j in 0..2 {
                        let r = picks[i * 2 + j] as usize;
                        want[r * 2 + j] += s[i * 2 + j];
                        ds[i * 2 + j] = w[r * 2 + j];
                    }
                }
                assert!(all_close(&y.to_vec(), &want));
                (y * g.matrix(3, 2, &w).unwrap()).sum().backward().unwrap();
                assert_eq!(tt.grad().unwrap().as_slice(), &w[..]);
                assert_eq!(ts.grad().unwrap().as_slice(), &ds[..]);
                let index = g.vector(&[0.0, 2.0]);
                let row = g.zeros(Shape::Vector(3)).unwrap().scatter_add(0, index, g.vector(&[1.0, 2.0]));
                assert_eq!(
                    (row.to_vec(), row.grad_fn()),
                    (vec![1.0, 0.0, 2.0], None),
                    "no input requires grad: a leaf"
                );
                let src = g.vector(&[1.0, 2.0]).requires_grad_();
                assert_eq!(
                    g.zeros(Shape::Vector(3)).unwrap().scatter_add(0, index, src).grad_fn().unwrap().name(),
                    "ScatterAddBackward0"
                );
                assert!(tt.try_scatter_add(0, index, src).is_err(), "another rank");
            }
            StructuralOp::Transpose => {
                // loss = sum(W ∘ Aᵀ)  =>  dA = Wᵀ
                let (a, w) = (numbers(7, 6), numbers(8, 6));
                let ta = g.matrix(2, 3, &a).unwrap().requires_grad_();
                let t = ta.t();
                assert_eq!(t.shape(), Shape::Matrix(3, 2));
                assert_eq!(t.to_vec(), transpose(&a, 2, 3));
                (t * g.matrix(3, 2, &w).unwrap()).sum().backward().unwrap();
                assert!(all_close(ta.grad().unwrap().as_slice(), &transpose(&w, 3, 2)));
            }
            StructuralOp::Permute => {
                // y[k, i, j] = x[i, j, k]; loss = sum(W ∘ y)  =>  dx[i, j, k] = W[k, i, j]
                let (x, w) = (numbers(9, 24), numbers(10, 24));
                let tx = g.try_tensor(Shape::of(&[2, 3, 4]), &x).unwrap().requires_grad_();
                let y = tx.permute(&[2, 0, 1]);
                assert_eq!((y.shape().dims(), y.grad_fn().unwrap().name()), (vec![4, 2, 3], "PermuteBackward0"));
                let at = |i: usize, j: usize, k: usize| (i * 3 + j) * 4 + k;
                let moved = |k: usize, i: usize, j: usize| (k * 2 + i) * 3 + j;
                for (i, j, k) in (0..2).flat_map(|i| (0..3).flat_map(move |j| (0..4).map(move |k| (i, j, k)))) {
                    assert_eq!(y.to_vec()[moved(k, i, j)], x[at(i, j, k)]);
                }
                (y * g.try_tensor(y.shape(), &w).unwrap()).sum().backward().unwrap();
                let dx = tx.grad().unwrap();
                for (i, j, k) in (0..2).flat_map(|i| (0..3).flat_map(move |j| (0..4).map(move |k| (i, j, k)))) {
                    assert_eq!(dx.as_slice()[at(i, j, k)], w[moved(k, i, j)]);
                }
            }
        }
    }
}

#[test]
fn the_same_node_used_twice_gets_both_contributions() {
    let g = Graph::new();
    let x = g.vector(&[1.0, -2.0, 3.0]).requires_grad_();
    x.dot(x).backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[2.0, -4.0, 6.0]);
    let m = g.matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]).unwrap().requires_grad_();
    m.matmul(m).sum().backward().unwrap();
    // d/dM sum(M M) = 1 Mᵀ + Mᵀ 1 with 1 the all-ones matrix
    assert_eq!(m.grad().unwrap().as_slice(), &[7.0, 11.0, 9.0, 13.0]);
}

#[test]
fn powers_at_a_zero_base_follow_pytorch() {
    // d/dx x^c at x = 0: 0 for c = 0 (the convention), infinite for 0 < c < 1, 1 for c = 1,
    // 0 for c > 1; through Var (powf) and in forward mode alike.
    for (c, want) in [(0.0, 0.0), (0.5, f64::INFINITY), (1.0, 1.0), (2.0, 0.0)] {
        let (_, g) = slope::gradient(|v| v[0].powf(Var::constant(c)), &[0.0]).unwrap();
        assert_eq!(g[0], want, "powf({c}) at 0");
        let d = slope::dual::derivative(|x: Dual<f64>| x.powf(Dual::constant(c)), 0.0).1;
        assert_eq!(d, want, "forward powf({c}) at 0");
    }
    // d/db a^b at a = 0: 0 where b >= 0 (PyTorch's limit from the right), and a^b ln a
    // elsewhere (infinite values times ln 0).
    for (b, want) in [(0.0, 0.0), (2.0, 0.0), (-1.0, f64::NEG_INFINITY)] {
        let (_, g) = slope::gradient(|v| v[0].powf(v[1]), &[0.0, b]).unwrap();
        assert_eq!(g[1], want, "d/db 0^{b}");
    }
}

#[test]
fn sigmoid_keeps_its_value_and_derivative_finite_far_out() {
    for x in [800.0, -800.0] {
        let (v, g) = slope::gradient(|v| v[0].sigmoid(), &[x]).unwrap();
        assert_eq!((v, g[0]), (if x > 0.0 { 1.0 } else { 0.0 }, 0.0), "sigmoid at {x}");
    }
    // just past where e^|x| overflows: e^-710 = 4.5e-309, a subnormal, on both sides
    let (v, g) = slope::gradient(|v| v[0].sigmoid(), &[-710.0]).unwrap();
    assert!(v > 0.0 && v < 1e-300 && g[0] == v, "{v} {g:?}");
    let (v, g) = slope::gradient(|v| v[0].sigmoid(), &[710.0]).unwrap();
    assert!(v == 1.0 && g[0] >= 0.0 && g[0] < 1e-300, "{v} {g:?}");
}

/// Every loss with PyTorch's three reductions, against the per-element formulas written out
/// here: `none` is the formula, `sum` its sum and `mean` its mean, in value, and the gradient
/// of `sum` is the formula's derivative.
#[test]
fn losses_reduce_as_pytorchs_reduction_argument() {
    use slope::Reduction;
    let g = Graph::new();
    let (xv, yv) = (numbers(60, 6), numbers(61, 6));
    let probabilities: Vec<f64> = xv.iter().map(|v| 0.5 + 0.4 * v).collect();
    let targets: Vec<f64> = yv.iter().map(|v| 0.5 + 0.5 * v).collect();
    let labels = [2.0, 0.0];
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    type Loss = for<'g> fn(Tensor<'g>, Tensor<'g>, Reduction) -> Result<Tensor<'g>, slope::GraphError>;
    // (name, loss, input, target, shape, per-element value, derivative in the input)
    let per_row = |x: &[f64], k: usize| -> (f64, Vec<f64>) {
        let row = &x[k * 3..k * 3 + 3];
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        let label = labels[k] as usize;
        (lse - row[label], (0..3).map(|j| (row[j] - lse).exp() - if j == label { 1.0 } else { 0.0 }).collect())
    };
    type Case = (&'static str, Loss, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
    let cases: Vec<Case> = vec![
        (
            "mse_loss",
            |x, y, r| x.try_mse_loss_reduced(y, r),
            xv.clone(),
            yv.clone(),
            xv.iter().zip(&yv).map(|(x, y)| (x - y) * (x - y)).collect(),
            xv.iter().zip(&yv).map(|(x, y)| 2.0 * (x - y)).collect(),
        ),
        (
            "binary_cross_entropy",
            |x, y, r| x.try_binary_cross_entropy_reduced(y, r),
            probabilities.clone(),
            targets.clone(),
            probabilities.iter().zip(&targets).map(|(p, y)| -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())).collect(),
            probabilities.iter().zip(&targets).map(|(p, y)| (p - y) / (p * (1.0 - p))).collect(),
        ),
        (
            "binary_cross_entropy_with_logits",
            |x, y, r| x.try_binary_cross_entropy_with_logits_reduced(y, r),
            xv.clone(),
            targets.clone(),
            xv.iter().zip(&targets).map(|(x, y)| (1.0 + x.exp()).ln() - x * y).collect(),
            xv.iter().zip(&targets).map(|(x, y)| sigmoid(*x) - y).collect(),
        ),
        (
            "cross_entropy",
            |x, y, r| x.try_cross_entropy_reduced(y, r),
            xv.clone(),
            labels.to_vec(),
            (0..2).map(|k| per_row(&xv, k).0).collect(),
            (0..2).flat_map(|k| per_row(&xv, k).1).collect(),
        ),
        (
            "nll_loss",
            |x, y, r| x.try_nll_loss_reduced(y, r),
            xv.clone(),
            labels.to_vec(),
            (0..2).map(|k| -xv[k * 3 + labels[k] as usize]).collect(),
            (0..6).map(|e| if e % 3 == labels[e / 3] as usize { -1.0 } else { 0.0 }).collect(),
        ),
    ];
    for (name, loss, x, y, each, derivative) in cases {
        let classes = y.len() == 2;
        let tx = g.matrix(2, 3, &x).unwrap().requires_grad_();
        let ty = if classes { g.vector(&y) } else { g.matrix(2, 3, &y).unwrap() };
        let none = loss(tx, ty, Reduction::None).unwrap();
        assert!(all_close(&none.to_vec(), &each), "{name}, none: {:?} vs {each:?}", none.to_vec());
        let sum: f64 = each.iter().sum();
        assert!(close(loss(tx, ty, Reduction::Sum).unwrap().item().unwrap(), sum), "{name}, sum");
        let mean = loss(tx, ty, Reduction::Mean).unwrap().item().unwrap();
        assert!(close(mean, sum / each.len() as f64), "{name}, mean");
        let grad = slope::grad(loss(tx, ty, Reduction::Sum).unwrap(), &[tx]).unwrap();
        assert!(
            all_close(grad[0].as_slice(), &derivative),
            "{name}: d sum / dx {:?} vs {derivative:?}",
            grad[0].as_slice()
        );
    }
}
