//! Tensors of rank 3 and up against loops written out by hand: values and gradients of
//! broadcasting, batched `matmul`, reductions and normalisations along a dimension, and the
//! ops that move dimensions (`permute`, `transpose`, `cat`, `stack`, `view`).

mod common;
use common::numbers;
use slope::prelude::*;
use slope::Shape;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

fn all_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| close(x, y))
}

/// Row-major index of `at` in a tensor of dimensions `dims`.
fn index(dims: &[usize], at: &[usize]) -> usize {
    dims.iter().zip(at).fold(0, |i, (&d, &a)| i * d + a)
}

/// Every index of a tensor of dimensions `dims`, in row-major order.
fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out.into_iter().flat_map(|prefix| (0..d).map(move |k| [prefix.clone(), vec![k]].concat())).collect();
    }
    out
}

#[test]
fn broadcasting_at_rank_three_matches_loops_in_value_and_gradient() {
    // a [2, 1, 3] * b [4, 1] -> [2, 4, 3]
    let g = Graph::new();
    let (av, bv, w) = (numbers(1, 6), numbers(2, 4), numbers(3, 24));
    let a = g.try_tensor(Shape::of(&[2, 1, 3]), &av).unwrap().requires_grad_();
    let b = g.matrix(4, 1, &bv).unwrap().requires_grad_();
    let c = a * b;
    assert_eq!(c.shape().dims(), vec![2, 4, 3]);
    let out = [2, 4, 3];
    for at in indices(&out) {
        let (i, j, k) = (at[0], at[1], at[2]);
        assert_eq!(c.to_vec()[index(&out, &at)], av[i * 3 + k] * bv[j]);
    }
    (c * g.try_tensor(Shape::of(&out), &w).unwrap()).sum().backward().unwrap();
    let (mut da, mut db) = (vec![0.0; 6], vec![0.0; 4]);
    for at in indices(&out) {
        let (i, j, k) = (at[0], at[1], at[2]);
        da[i * 3 + k] += w[index(&out, &at)] * bv[j];
        db[j] += w[index(&out, &at)] * av[i * 3 + k];
    }
    assert!(all_close(a.grad().unwrap().as_slice(), &da));
    assert!(all_close(b.grad().unwrap().as_slice(), &db));
    // shapes that do not broadcast are refused
    let wrong = g.try_tensor(Shape::of(&[3, 1, 3]), &[0.0; 9]).unwrap();
    assert!(a.try_add(g.try_tensor(Shape::of(&[2, 2, 2]), &[0.0; 8]).unwrap()).is_err());
    assert!(a.try_add(wrong).is_err());
}

#[test]
fn batched_matmul_broadcasts_its_batch_and_matches_loops() {
    // A [2, 1, 2, 3] @ B [3, 3, 2] -> C [2, 3, 2, 2]; loss = sum(W ∘ C)
    let g = Graph::new();
    let (av, bv, w) = (numbers(4, 12), numbers(5, 18), numbers(6, 24));
    let a = g.try_tensor(Shape::of(&[2, 1, 2, 3]), &av).unwrap().requires_grad_();
    let b = g.try_tensor(Shape::of(&[3, 3, 2]), &bv).unwrap().requires_grad_();
    let c = a.matmul(b);
    let out = [2, 3, 2, 2];
    assert_eq!(c.shape().dims(), out.to_vec());
    let av_at = |p: usize, i: usize, l: usize| av[(p * 2 + i) * 3 + l];
    let bv_at = |q: usize, l: usize, j: usize| bv[(q * 3 + l) * 2 + j];
    for at in indices(&out) {
        let (p, q, i, j) = (at[0], at[1], at[2], at[3]);
        let want: f64 = (0..3).map(|l| av_at(p, i, l) * bv_at(q, l, j)).sum();
        assert!(close(c.to_vec()[index(&out, &at)], want));
    }
    (c * g.try_tensor(Shape::of(&out), &w).unwrap()).sum().backward().unwrap();
    let (mut da, mut db) = (vec![0.0; 12], vec![0.0; 18]);
    for at in indices(&out) {
        let (p, q, i, j) = (at[0], at[1], at[2], at[3]);
        for l in 0..3 {
            da[(p * 2 + i) * 3 + l] += w[index(&out, &at)] * bv_at(q, l, j);
            db[(q * 3 + l) * 2 + j] += w[index(&out, &at)] * av_at(p, i, l);
        }
    }
    assert!(all_close(a.grad().unwrap().as_slice(), &da));
    assert!(all_close(b.grad().unwrap().as_slice(), &db));
    // a vector on either side is a row or a column, dropped from the result
    let v = g.vector(&[1.0, -1.0, 2.0]);
    assert_eq!(a.matmul(v).shape().dims(), vec![2, 1, 2]);
    assert_eq!(g.vector(&[1.0, 2.0]).matmul(a).shape().dims(), vec![2, 1, 3]);
    // batch dimensions that do not broadcast, and inner dimensions that differ, are refused
    let b2 = g.try_tensor(Shape::of(&[2, 3, 2]), &[0.0; 12]).unwrap();
    assert!(g.try_tensor(Shape::of(&[3, 2, 3]), &[0.0; 18]).unwrap().try_matmul(b2).is_err());
    assert!(a.try_matmul(a).is_err());
}

#[test]
fn reductions_and_normalisations_along_a_dimension_of_rank_three() {
    let g = Graph::new();
    let dims = [2, 3, 4];
    let xv = numbers(7, 24);
    let x = g.try_tensor(Shape::of(&dims), &xv).unwrap().requires_grad_();
    // sum along the middle dimension, kept and dropped
    let kept = x.sum_dim(1, true);
    let dropped = x.sum_dim(1, false);
    assert_eq!((kept.shape().dims(), dropped.shape().dims()), (vec![2, 1, 4], vec![2, 4]));
    for (i, k) in (0..2).flat_map(|i| (0..4).map(move |k| (i, k))) {
        let want: f64 = (0..3).map(|j| xv[index(&dims, &[i, j, k])]).sum();
        assert!(close(dropped.to_vec()[i * 4 + k], want) && close(kept.to_vec()[i * 4 + k], want));
    }
    // softmax along dimension 1: each (i, ·, k) sums to 1 and is exp over its sum
    let p = x.softmax(1);
    assert_eq!(p.shape().dims(), dims.to_vec());
    for (i, k) in (0..2).flat_map(|i| (0..4).map(move |k| (i, k))) {
        let total: f64 = (0..3).map(|j| xv[index(&dims, &[i, j, k])].exp()).sum();
        for j in 0..3 {
            let at = index(&dims, &[i, j, k]);
            assert!(close(p.to_vec()[at], xv[at].exp() / total));
        }
    }
    // logsumexp along dimension 0 drops it: [3, 4]
    let l = x.logsumexp(0);
    assert_eq!(l.shape().dims(), vec![3, 4]);
    for (j, k) in (0..3).flat_map(|j| (0..4).map(move |k| (j, k))) {
        let want = (0..2).map(|i| xv[index(&dims, &[i, j, k])].exp()).sum::<f64>().ln();
        assert!(close(l.to_vec()[j * 4 + k], want));
    }
    // the gradient of sum(w ∘ logsumexp(x, 0)) is w times the softmax along dimension 0
    let w = numbers(8, 12);
    (l * g.matrix(3, 4, &w).unwrap()).sum().backward().unwrap();
    let dx = x.grad().unwrap();
    for at in indices(&dims) {
        let (j, k) = (at[1], at[2]);
        let total: f64 = (0..2).map(|i| xv[index(&dims, &[i, j, k])].exp()).sum();
        assert!(close(dx.as_slice()[index(&dims, &at)], w[j * 4 + k] * xv[index(&dims, &at)].exp() / total));
    }
}

#[test]
fn moving_dimensions_matches_loops() {
    let g = Graph::new();
    let dims = [2, 3, 4];
    let xv = numbers(9, 24);
    let x = g.try_tensor(Shape::of(&dims), &xv).unwrap().requires_grad_();
    // transpose(0, 2): y[k, j, i] = x[i, j, k]
    let y = x.transpose(0, 2);
    assert_eq!(y.shape().dims(), vec![4, 3, 2]);
    for at in indices(&dims) {
        assert_eq!(y.to_vec()[index(&[4, 3, 2], &[at[2], at[1], at[0]])], xv[index(&dims, &at)]);
    }
    // cat along dimension 1 and 2
    let z = g.try_tensor(Shape::of(&[2, 1, 4]), &numbers(10, 8)).unwrap();
    let joined = Tensor::cat(&[x, z], 1);
    assert_eq!(joined.shape().dims(), vec![2, 4, 4]);
    for at in indices(&[2, 4, 4]) {
        let want = if at[1] < 3 { xv[index(&dims, &at)] } else { z.to_vec()[at[0] * 4 + at[2]] };
        assert_eq!(joined.to_vec()[index(&[2, 4, 4], &at)], want);
    }
    let side = Tensor::cat(&[x, x], -1);
    assert_eq!(side.shape().dims(), vec![2, 3, 8]);
    for at in indices(&[2, 3, 8]) {
        assert_eq!(side.to_vec()[index(&[2, 3, 8], &at)], xv[index(&dims, &[at[0], at[1], at[2] % 4])]);
    }
    // stack of matrices along a new middle dimension
    let m = g.matrix(3, 4, &numbers(11, 12)).unwrap();
    let stacked = Tensor::stack(&[m, m * 2.0], 1);
    assert_eq!(stacked.shape().dims(), vec![3, 2, 4]);
    for at in indices(&[3, 2, 4]) {
        let scale = if at[1] == 0 { 1.0 } else { 2.0 };
        assert_eq!(stacked.to_vec()[index(&[3, 2, 4], &at)], scale * m.to_vec()[at[0] * 4 + at[2]]);
    }
    // views: the elements in order, -1 inferred, dimensions of size 1 added and removed
    let v = x.view(&[4, -1]);
    assert_eq!((v.shape(), v.to_vec()), (Shape::Matrix(4, 6), xv.clone()));
    assert_eq!(x.unsqueeze(1).shape().dims(), vec![2, 1, 3, 4]);
    assert_eq!(x.unsqueeze(1).squeeze(1).shape().dims(), vec![2, 3, 4]);
    // gradients through all of them at once: each input element is read once by y and
    // twice by `side`, and the views pass the gradient on unchanged
    (y.sum() + side.sum() + v.sum() * 0.5).backward().unwrap();
    assert!(x.grad().unwrap().as_slice().iter().all(|&d| d == 3.5));
}

#[test]
fn rank_six_is_the_limit() {
    let g = Graph::new();
    let x = g.try_tensor(Shape::of(&[1, 2, 1, 2, 1, 2]), &numbers(12, 8)).unwrap().requires_grad_();
    assert_eq!(x.shape().rank(), 6);
    assert!(x.try_unsqueeze(0).is_err());
    let y = (x.exp() * x.permute(&[5, 4, 3, 2, 1, 0]).sum()).sum();
    y.backward().unwrap();
    // d/dx_k [Σ_j exp(x_j) · Σ_i x_i] = exp(x_k) Σ x + Σ exp(x)
    let xv = x.to_vec();
    let (sum, sum_exp): (f64, f64) = (xv.iter().sum(), xv.iter().map(|v| v.exp()).sum());
    let want: Vec<f64> = xv.iter().map(|v| v.exp() * sum + sum_exp).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &want));
}

#[test]
fn statistics_and_losses_match_closed_forms() {
    let g = Graph::new();
    let xv = numbers(15, 6);
    let n = xv.len() as f64;
    let mean = xv.iter().sum::<f64>() / n;
    let var = xv.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // var: d/dx_i = 2 (x_i - mean) / (N - 1); std: (x_i - mean) / ((N - 1) std)
    let x = g.vector(&xv).requires_grad_();
    let v = x.try_var(1).unwrap();
    assert!(close(v.item().unwrap(), var));
    v.backward().unwrap();
    let want: Vec<f64> = xv.iter().map(|x| 2.0 * (x - mean) / (n - 1.0)).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &want));
    let x = g.vector(&xv).requires_grad_();
    let s = x.try_std(1).unwrap();
    s.backward().unwrap();
    let want: Vec<f64> = xv.iter().map(|x| (x - mean) / ((n - 1.0) * var.sqrt())).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &want));
    // norm: x / |x|
    let x = g.vector(&xv).requires_grad_();
    let norm = xv.iter().map(|v| v * v).sum::<f64>().sqrt();
    x.norm().backward().unwrap();
    let want: Vec<f64> = xv.iter().map(|v| v / norm).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &want));
    // var along the middle dimension of a rank-3 tensor, population variance
    let dims = [2, 3, 2];
    let tv = numbers(16, 12);
    let t = g.try_tensor(Shape::of(&dims), &tv).unwrap();
    let vd = t.try_var_dim(1, 0, false).unwrap();
    assert_eq!(vd.shape(), Shape::Matrix(2, 2));
    for (i, k) in (0..2).flat_map(|i| (0..2).map(move |k| (i, k))) {
        let col: Vec<f64> = (0..3).map(|j| tv[index(&dims, &[i, j, k])]).collect();
        let m = col.iter().sum::<f64>() / 3.0;
        assert!(close(vd.to_vec()[i * 2 + k], col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / 3.0));
    }
    // binary cross-entropy with logits: d/dx = (sigmoid(x) - y) / N, d/dy = -x / N
    let yv = [0.0, 1.0, 0.25, 0.5, 1.0, 0.0];
    let (x, y) = (g.vector(&xv).requires_grad_(), g.vector(&yv).requires_grad_());
    let loss = x.try_binary_cross_entropy_with_logits(y).unwrap();
    let want: f64 = xv.iter().zip(&yv).map(|(x, y)| (1.0 + x.exp()).ln() - x * y).sum::<f64>() / n;
    assert!(close(loss.item().unwrap(), want));
    loss.backward().unwrap();
    let dx: Vec<f64> = xv.iter().zip(&yv).map(|(x, y)| (1.0 / (1.0 + (-x).exp()) - y) / n).collect();
    let dy: Vec<f64> = xv.iter().map(|x| -x / n).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &dx) && all_close(y.grad().unwrap().as_slice(), &dy));
    // binary cross-entropy of probabilities: d/dp = -(y / p - (1 - y) / (1 - p)) / N
    let pv: Vec<f64> = xv.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    let p = g.vector(&pv).requires_grad_();
    let loss = p.try_binary_cross_entropy(g.vector(&yv)).unwrap();
    let want = -pv.iter().zip(&yv).map(|(p, y)| y * p.ln() + (1.0 - y) * (1.0 - p).ln()).sum::<f64>() / n;
    assert!(close(loss.item().unwrap(), want));
    loss.backward().unwrap();
    let dp: Vec<f64> = pv.iter().zip(&yv).map(|(p, y)| -(y / p - (1.0 - y) / (1.0 - p)) / n).collect();
    assert!(all_close(p.grad().unwrap().as_slice(), &dp));
    // PyTorch clamps each logarithm at -100: p = 0 against y = 1 costs 100, not infinity
    let edge = g.vector(&[0.0]).try_binary_cross_entropy(g.vector(&[1.0])).unwrap();
    assert_eq!(edge.item().unwrap(), 100.0);
    // nll_loss: -1/B at each picked element, and cross_entropy is nll_loss of log_softmax
    let logits = g.matrix(2, 3, &xv).unwrap().requires_grad_();
    let labels = g.vector(&[2.0, 0.0]);
    let nll = logits.log_softmax(-1).try_nll_loss(labels).unwrap();
    assert!(close(nll.item().unwrap(), logits.cross_entropy(labels).item().unwrap()));
    let raw = g.matrix(2, 3, &xv).unwrap().requires_grad_();
    raw.try_nll_loss(labels).unwrap().backward().unwrap();
    assert_eq!(raw.grad().unwrap().as_slice(), &[0.0, 0.0, -0.5, -0.5, 0.0, 0.0]);
    assert!(raw.try_nll_loss(g.vector(&[3.0, 0.0])).is_err());
    assert!(x.try_binary_cross_entropy_with_logits(g.vector(&[1.0])).is_err());
}

#[test]
fn narrow_and_select_along_every_dimension_match_loops_in_value_and_gradient() {
    let dims = [2, 3, 4];
    let xv = numbers(40, 24);
    for dim in 0..3 {
        for (start, length) in [(0, 1), (1, dims[dim] - 1)] {
            let g = Graph::new();
            let x = g.try_tensor(Shape::of(&dims), &xv).unwrap().requires_grad_();
            let y = x.narrow(dim as isize, start, length);
            let mut out = dims;
            out[dim] = length;
            assert_eq!(y.shape().dims(), out.to_vec());
            let w = numbers(41 + dim as u64, y.shape().len());
            let mut dx = [0.0; 24];
            for at in indices(&out) {
                let mut from = at.clone();
                from[dim] += start;
                assert_eq!(y.to_vec()[index(&out, &at)], xv[index(&dims, &from)], "narrow({dim}, {start}, {length})");
                dx[index(&dims, &from)] += w[index(&out, &at)];
            }
            (y * g.try_tensor(y.shape(), &w).unwrap()).sum().backward().unwrap();
            assert_eq!(x.grad().unwrap().as_slice(), &dx[..]);
        }
        // select: the dimension removed
        let g = Graph::new();
        let x = g.try_tensor(Shape::of(&dims), &xv).unwrap().requires_grad_();
        let last = dims[dim] - 1;
        let y = x.select(dim as isize, last);
        let out: Vec<usize> = dims.iter().enumerate().filter(|&(k, _)| k != dim).map(|(_, &d)| d).collect();
        assert_eq!(y.shape().dims(), out);
        for at in indices(&out) {
            let mut from = at.clone();
            from.insert(dim, last);
            assert_eq!(y.to_vec()[index(&out, &at)], xv[index(&dims, &from)]);
        }
        y.sum().backward().unwrap();
        let picked = x.grad().unwrap().as_slice().iter().filter(|&&d| d == 1.0).count();
        assert_eq!(picked, 24 / dims[dim], "the gradient reaches exactly the selected slab");
        assert!(x.try_select(dim as isize, dims[dim]).is_err());
        assert!(x.try_narrow(dim as isize, 1, dims[dim]).is_err());
    }
}

/// `reshape`, `view`, `flatten`, `squeeze` and `unsqueeze` of a tensor that requires grad are
/// views: they share their input's elements (the value buffer does not grow, one node of
/// 40 bytes is all they add), while each keeps an adjoint of its own, so a view and its
/// input read through both paths get their own gradients.
#[test]
fn reshapes_are_views_that_copy_nothing_and_keep_their_own_gradient() {
    let g = Graph::new();
    let xv = numbers(50, 24);
    let x = g.try_tensor(Shape::of(&[2, 3, 4]), &xv).unwrap().requires_grad_();
    let bytes = |g: &Graph| g.with_arena(|a| a.used_bytes());
    let before = bytes(&g);
    let v = x.view(&[6, -1]);
    let w = v.flatten().unsqueeze(0).squeeze(0).reshape(Shape::of(&[4, 3, 2]));
    assert_eq!(bytes(&g) - before, 5 * slope::graph::Arena::NODE_BYTES, "five nodes, no element copied");
    let same = |a: Tensor<'_>, b: Tensor<'_>| {
        g.with_arena(|ar| ar.value(a.id().index()).as_ptr() == ar.value(b.id().index()).as_ptr())
    };
    assert!(same(v, x) && same(w, x), "the views read the input's elements");
    assert_eq!(w.to_vec(), xv);
    // out = sum(2 v) + sum(3 x) + sum(c ∘ w): dv = 2 + c, dx = 3 + dv
    let c = numbers(51, 24);
    v.retain_grad().unwrap();
    let out = (v * 2.0).sum() + (x * 3.0).sum() + (w * g.try_tensor(w.shape(), &c).unwrap()).sum();
    out.backward().unwrap();
    let dv: Vec<f64> = c.iter().map(|c| 2.0 + c).collect();
    assert!(all_close(v.grad().unwrap().as_slice(), &dv), "the view's own adjoint");
    let dx: Vec<f64> = dv.iter().map(|d| 3.0 + d).collect();
    assert!(all_close(x.grad().unwrap().as_slice(), &dx));
    // forward mode and forward-over-reverse through the views agree
    let fwd = slope::graph::forward::gradient(out, &[x]).unwrap();
    assert!(all_close(fwd[0].as_slice(), &dx));
    let square = (w * w).sum();
    let ids = [x.id()];
    let (out_id, frozen) = (square.id(), g.freeze());
    let h = slope::graph_hessian(&frozen, out_id, &ids).unwrap();
    for (i, row) in h.iter().enumerate() {
        for (j, &e) in row.iter().enumerate() {
            assert_eq!(e, if i == j { 2.0 } else { 0.0 }, "H[{i}][{j}] of sum(w²)");
        }
    }
    // a reshape of a constant, or of a scalar, is a copy as before
    let g = Graph::new();
    let k = g.vector(&[1.0, 2.0]);
    let before = bytes(&g);
    let _ = k.reshape(Shape::Matrix(2, 1));
    assert_eq!(bytes(&g) - before, slope::graph::Arena::NODE_BYTES + 16);
}
