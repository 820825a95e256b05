//! The structural ops' own rules: output shape, primal and VJP of each reduction and
//! product, one type per row of the structural table in [`op`](crate::op).
//!
//! A structural op's derivative is not the elementwise chain rule, so its VJP is written by
//! hand here, next to its primal and independent of it: forward mode (the primal evaluated
//! on duals) and reverse mode (this VJP) check each other on every structural op.

use nalgebra::{DMatrixView, DMatrixViewMut, Dyn, MatrixView};
use slope_dual::rules::chain;
use slope_dual::Scalar;

use crate::shape::Broadcast;
use crate::{Error, Shape, MAX_RANK};

/// An input of a structural op: its values and shape.
pub type Input<'a, S> = (&'a [S], Shape);

/// What a row of the structural table must provide; the table's generated `match`es call
/// these, so a row without all of them does not compile.
pub trait StructuralRule {
    /// The output shape for these inputs (their number is the row's arity), or the error a
    /// caller should see. Most rows read the shapes only; a row whose constant input is a
    /// parameter (`slice`'s range) reads its values.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error>;

    /// Checks input values recording needs beyond their shapes (indices in range).
    fn check_values(_inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        Ok(())
    }

    /// Evaluates the op, appending the output's elements to `out`.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>);

    /// Adds to `adjoint` (input `input`'s adjoint) the contribution of the output's adjoint
    /// `g`: the vector-Jacobian product for one input.
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]);

    /// [`vjp`](StructuralRule::vjp) into an adjoint that holds nothing yet (a sweep's first
    /// contribution to it): by default it is zeroed and added to; a rule that writes it in
    /// one pass says so here, with the same result bit for bit.
    fn vjp_fresh<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        adjoint.fill(S::zero());
        Self::vjp(input, inputs, g, adjoint);
    }

    /// The one value every element of input `input`'s adjoint receives, where the op
    /// spreads its output's adjoint evenly (`sum`, `mean`), else `None`: bit for bit what
    /// [`vjp`](StructuralRule::vjp) adds to a zeroed adjoint at each element. A sweep keeps
    /// such an adjoint as that value, and an elementwise VJP reads it without a buffer.
    fn uniform_vjp<S: Scalar>(_input: usize, _inputs: &[Input<'_, S>], _g: &[S]) -> Option<S> {
        None
    }
}

/// Sum of all elements.
pub struct Sum;
/// Mean of all elements.
pub struct Mean;
/// Product of all elements.
pub struct Prod;
/// Inner product of two vectors.
pub struct Dot;
/// Matrix product.
pub struct Matmul;
/// Matrix transpose.
pub struct Transpose;
/// The dimensions reordered.
pub struct Permute;
/// A range of a vector's elements.
pub struct Slice;
/// A sum down to a shape that broadcasts to the input's.
pub struct SumToSize;
/// Elements clamped to constant bounds.
pub struct Clamp;
/// The largest element.
pub struct Max;
/// The smallest element.
pub struct Min;
/// The largest element of each row along the last dimension.
pub struct Amax;
/// The smallest element of each row along the last dimension.
pub struct Amin;
/// Softmax along the last dimension.
pub struct Softmax;
/// Log-softmax along the last dimension.
pub struct LogSoftmax;
/// Log-sum-exp along the last dimension.
pub struct LogSumExp;
/// Mean squared error.
pub struct MseLoss;
/// Cross-entropy of logits against class labels.
pub struct CrossEntropy;
/// The input's elements in rows.
pub struct Reshape;
/// The input's elements as a vector.
pub struct Flatten;
/// Two tensors joined along the first dimension.
pub struct Cat;
/// Rows (a vector's elements) picked by constant indices.
pub struct IndexSelect;
/// Elements of one of two tensors, picked by a constant mask.
pub struct Where;
/// The input broadcast to a larger shape.
pub struct Expand;
/// Elements picked along the last dimension by an index tensor.
pub struct Gather;
/// Elements added into a tensor along the last dimension at an index tensor's positions.
pub struct ScatterAdd;

/// Lanes of [`sum_of`]: independent partial sums, so the additions overlap instead of each
/// waiting for the one before (a sequential sum runs at one addition per latency) and the
/// compiler can vectorise them.
const SUM_LANES: usize = 8;

/// `Σ f(k)` for `k < n`, in a fixed order: lane `j` sums the terms `k ≡ j (mod 8)` in
/// order, then the lanes are added pairwise. The same order at every scalar type and on
/// every run, so forward and reverse mode evaluate the same sum.
#[inline(always)]
pub(crate) fn sum_of<S: Scalar>(n: usize, f: impl Fn(usize) -> S) -> S {
    let mut lanes = [S::zero(); SUM_LANES];
    let whole = n - n % SUM_LANES;
    for base in (0..whole).step_by(SUM_LANES) {
        for (j, lane) in lanes.iter_mut().enumerate() {
            *lane += f(base + j);
        }
    }
    for (j, lane) in lanes.iter_mut().enumerate().take(n - whole) {
        *lane += f(whole + j);
    }
    let [a, b, c, d, e, g, h, i] = lanes;
    ((a + b) + (c + d)) + ((e + g) + (h + i))
}

fn count<S: Scalar>(n: usize) -> S {
    S::from(n).unwrap_or_else(S::nan)
}

impl StructuralRule for Sum {
    fn output_shape(_: &'static str, _: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(Shape::Scalar)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let x = inputs[0].0;
        out.push(sum_of(x.len(), |k| x[k]));
    }
    fn vjp<S: Scalar>(_: usize, _: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        adjoint.iter_mut().for_each(|adj| *adj += g[0]);
    }
    fn uniform_vjp<S: Scalar>(_: usize, _: &[Input<'_, S>], g: &[S]) -> Option<S> {
        Some(S::zero() + g[0])
    }
}

impl StructuralRule for Mean {
    fn output_shape(_: &'static str, _: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(Shape::Scalar)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let x = inputs[0].0;
        out.push(sum_of(x.len(), |k| x[k]) / count(x.len()));
    }
    fn vjp<S: Scalar>(_: usize, _: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let share = g[0] / count(adjoint.len());
        adjoint.iter_mut().for_each(|adj| *adj += share);
    }
    fn uniform_vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S]) -> Option<S> {
        Some(S::zero() + g[0] / count(inputs[0].0.len()))
    }
}

impl StructuralRule for Prod {
    fn output_shape(_: &'static str, _: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(Shape::Scalar)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.push(inputs[0].0.iter().fold(S::one(), |p, &v| p * v));
    }
    /// `∂/∂x_i = Π_{j≠i} x_j`, from the products before and after `i` (never `prod / x_i`),
    /// so zeros among the elements get their exact gradient, as in PyTorch.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let x = inputs[0].0;
        let mut after = vec![S::one(); x.len() + 1];
        for i in (0..x.len()).rev() {
            after[i] = after[i + 1] * x[i];
        }
        let mut before = S::one();
        for (i, adj) in adjoint.iter_mut().enumerate() {
            *adj += chain(g[0], before * after[i + 1]);
            before *= x[i];
        }
    }
}

impl StructuralRule for Dot {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match (inputs[0].1, inputs[1].1) {
            (Shape::Vector(n), Shape::Vector(m)) if n == m => Ok(Shape::Scalar),
            (left, right) => Err(Error::ShapeMismatch { op, left, right }),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (a, b) = (inputs[0].0, inputs[1].0);
        out.push(sum_of(a.len(), |k| a[k] * b[k]));
    }
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let other = inputs[1 - input].0;
        adjoint.iter_mut().zip(other).for_each(|(adj, &o)| *adj += chain(g[0], o));
    }
    fn vjp_fresh<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let other = inputs[1 - input].0;
        adjoint.iter_mut().zip(other).for_each(|(adj, &o)| *adj = S::zero() + chain(g[0], o));
    }
}

impl StructuralRule for Transpose {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match inputs[0].1 {
            Shape::Matrix(r, c) => Ok(Shape::Matrix(c, r)),
            shape @ Shape::Tensor(_) => Err(Error::RankAbove { op, shape, max: 2 }),
            other => Ok(other),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, shape) = inputs[0];
        match shape {
            Shape::Matrix(r, c) => out.extend((0..c).flat_map(|j| (0..r).map(move |i| x[i * c + j]))),
            _ => out.extend_from_slice(x),
        }
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        match inputs[0].1 {
            Shape::Matrix(r, c) => {
                for i in 0..r {
                    for j in 0..c {
                        adjoint[i * c + j] += g[j * r + i];
                    }
                }
            }
            _ => adjoint.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g),
        }
    }
}

/// The permutation of `rank` dimensions whose Lehmer code is `code` (the permutations
/// in lexicographic order, numbered from 0), or `None` for a code of `rank!` or more.
pub fn permutation(code: usize, rank: usize) -> Option<[usize; MAX_RANK]> {
    let factorial = |n: usize| (1..=n).product::<usize>();
    if rank > MAX_RANK || code >= factorial(rank) {
        return None;
    }
    // The dimensions not yet placed, in order, in the first `rank - k` slots of `left`.
    let mut left = [0, 1, 2, 3, 4, 5];
    let mut perm = [0; MAX_RANK];
    let mut rest = code;
    for (k, slot) in perm.iter_mut().enumerate().take(rank) {
        let place = factorial(rank - 1 - k);
        let pick = rest / place;
        *slot = left[pick];
        left.copy_within(pick + 1..rank - k, pick);
        rest %= place;
    }
    Some(perm)
}

/// The Lehmer code of a permutation of `0..perm.len()` (the inverse of [`permutation`]),
/// or `None` if `perm` is not one.
pub fn permutation_code(perm: &[usize]) -> Option<usize> {
    let rank = perm.len();
    let mut seen = [false; MAX_RANK];
    if rank > MAX_RANK || perm.iter().any(|&p| p >= rank || core::mem::replace(&mut seen[p], true)) {
        return None;
    }
    let factorial = |n: usize| (1..=n).product::<usize>();
    Some((0..rank).map(|k| perm[k + 1..].iter().filter(|&&p| p < perm[k]).count() * factorial(rank - 1 - k)).sum())
}

/// The input's shape, the permutation and, for each output dimension, the input's stride
/// along it: what [`Permute`]'s rules walk. `None` for a code that is no permutation of
/// the input's rank (a re-evaluation at a moved code leaf).
fn permute_layout<S: Scalar>(inputs: &[Input<'_, S>]) -> Option<([usize; MAX_RANK], [usize; MAX_RANK], usize)> {
    let (shape, code) = (inputs[0].1, inputs[1].0.first()?.to_usize()?);
    let mut dims = [0; MAX_RANK];
    let rank = shape.dims_into(&mut dims);
    let perm = permutation(code, rank)?;
    let mut strides = [0; MAX_RANK];
    let mut step = 1;
    for k in (0..rank).rev() {
        strides[k] = step;
        step *= dims[k];
    }
    let mut out_dims = [1; MAX_RANK];
    let mut out_strides = [0; MAX_RANK];
    for k in 0..rank {
        out_dims[k] = dims[perm[k]];
        out_strides[k] = strides[perm[k]];
    }
    Some((out_dims, out_strides, rank))
}

/// Calls `visit(output index, input index)` for every element of a permuted tensor, the
/// output in row-major order.
fn each_permuted(
    out_dims: &[usize; MAX_RANK],
    in_strides: &[usize; MAX_RANK],
    rank: usize,
    mut visit: impl FnMut(usize, usize),
) {
    let total: usize = out_dims[..rank].iter().product();
    let mut index = [0usize; MAX_RANK];
    let mut at = 0;
    for o in 0..total {
        visit(o, at);
        for k in (0..rank).rev() {
            index[k] += 1;
            at += in_strides[k];
            if index[k] < out_dims[k] {
                break;
            }
            at -= in_strides[k] * index[k];
            index[k] = 0;
        }
    }
}

impl StructuralRule for Permute {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        let (shape, (code, code_shape)) = (inputs[0].1, inputs[1]);
        let rank = shape.rank();
        let whole = code_shape.is_scalar() && code[0] >= 0.0 && code[0].fract() == 0.0;
        match (whole, permute_layout(inputs)) {
            (true, Some((dims, ..))) => Ok(Shape::of(&dims[..rank])),
            _ => Err(Error::Dim { op, dim: code.first().map_or(-1, |&c| c as isize), shape, rank }),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let x = inputs[0].0;
        let Some((dims, strides, rank)) = permute_layout(inputs) else {
            // a re-evaluation at a code that is no permutation: NaN rather than a panic
            return out.extend(x.iter().map(|_| S::nan()));
        };
        let start = out.len();
        out.resize(start + x.len(), S::zero());
        let y = &mut out[start..];
        each_permuted(&dims, &strides, rank, |o, i| y[o] = x[i]);
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let Some((dims, strides, rank)) = permute_layout(inputs) else { return };
        each_permuted(&dims, &strides, rank, |o, i| adjoint[i] += g[o]);
    }
    fn vjp_fresh<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        adjoint.fill(S::zero());
        let Some((dims, strides, rank)) = permute_layout(inputs) else { return };
        each_permuted(&dims, &strides, rank, |o, i| adjoint[i] = S::zero() + g[o]);
    }
}

/// The elements of `shape` that rows `start..start + len` along its first dimension hold
/// (`range` is `[start, len]`, in rows), clamped into the tensor.
fn slice_range<T: Scalar>(range: &[T], shape: Shape) -> core::ops::Range<usize> {
    let rows = shape.dim(0).max(1);
    let inner = if shape.rank() == 0 { 1 } else { shape.len() / rows.max(1) };
    let at = |k: usize| range.get(k).and_then(|v| v.to_usize()).unwrap_or(usize::MAX);
    let start = at(0).min(rows.saturating_add(1));
    let end = start.saturating_add(at(1).min(rows));
    start.saturating_mul(inner)..end.saturating_mul(inner)
}

impl StructuralRule for Slice {
    /// The range is `[start, len]`, whole numbers with `start + len` inside the first
    /// dimension of a tensor of rank 1 or more.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        let ((_, shape), (range, range_shape)) = (inputs[0], inputs[1]);
        if shape.rank() == 0 || range_shape != Shape::Vector(2) {
            return Err(Error::ShapeMismatch { op, left: shape, right: range_shape });
        }
        let n = shape.dim(0);
        let whole = |v: f64| v >= 0.0 && v <= n as f64 && (v as usize) as f64 == v;
        if let Some(&index) = range.iter().find(|&&v| !whole(v)) {
            return Err(Error::SliceIndex { index, len: n });
        }
        let (start, len) = (range[0] as usize, range[1] as usize);
        if start + len > n {
            return Err(Error::SliceRange { start, end: start + len, shape });
        }
        Ok(with_first(shape, len))
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), range) = (inputs[0], inputs[1].0);
        let range = slice_range(range, shape);
        match x.get(range.clone()) {
            Some(part) => out.extend_from_slice(part),
            // unreachable for a recorded node (its range was checked): NaN, not a panic
            None => out.extend(range.map(|_| S::nan())),
        }
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let range = slice_range(inputs[1].0, inputs[0].1);
        if let Some(part) = adjoint.get_mut(range) {
            part.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g);
        }
    }
    /// The range's adjoint is the output's, copied, and zero around it.
    fn vjp_fresh<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let range = slice_range(inputs[1].0, inputs[0].1);
        adjoint.fill(S::zero());
        if let Some(part) = adjoint.get_mut(range) {
            part.iter_mut().zip(g).for_each(|(adj, &g)| *adj = S::zero() + g);
        }
    }
}

/// The layout of a matrix product at any rank, PyTorch's `matmul`: a vector on the left
/// is read as `[1, k]` and on the right as `[k, 1]` (that dimension dropped from the
/// output), and the dimensions before the last two are batch dimensions, broadcast.
#[derive(Clone, Copy, Debug)]
pub struct MatmulLayout {
    /// Rows of each left factor.
    pub m: usize,
    /// The inner dimension.
    pub k: usize,
    /// Columns of each right factor.
    pub n: usize,
    /// The output's shape.
    pub out: Shape,
    /// How the batch dimensions broadcast (`None` for one product, no batch dimension).
    batch: Option<Broadcast>,
}

impl MatmulLayout {
    /// Each product of the batch: the index of its left and right factor (one pair without
    /// batch dimensions), in the output's order.
    fn pairs(&self) -> impl Iterator<Item = [usize; 2]> + '_ {
        let one = self.batch.is_none().then_some([0, 0]);
        let batched = self.batch.iter().flat_map(|b| {
            let [(lr, lc), (rr, rc)] = b.strides;
            b.block_starts().flat_map(move |[l0, r0]| {
                (0..b.rows).flat_map(move |i| (0..b.cols).map(move |j| [l0 + i * lr + j * lc, r0 + i * rr + j * rc]))
            })
        });
        one.into_iter().chain(batched)
    }
}

/// The layout of `left @ right`, or the error PyTorch gives (a scalar factor, inner
/// dimensions that differ, batch dimensions that do not broadcast).
pub fn matmul_dims(left: Shape, right: Shape) -> Result<MatmulLayout, Error> {
    let mismatch = Error::ShapeMismatch { op: "matmul", left, right };
    let (mut l, mut r) = ([0; MAX_RANK], [0; MAX_RANK]);
    let (lrank, rrank) = (left.dims_into(&mut l), right.dims_into(&mut r));
    if lrank == 0 || rrank == 0 {
        return Err(mismatch);
    }
    let (m, k1, lbatch) = if lrank == 1 { (1, l[0], &l[..0]) } else { (l[lrank - 2], l[lrank - 1], &l[..lrank - 2]) };
    let (k2, n, rbatch) = if rrank == 1 { (r[0], 1, &r[..0]) } else { (r[rrank - 2], r[rrank - 1], &r[..rrank - 2]) };
    if k1 != k2 {
        return Err(mismatch);
    }
    // A batch of left factors against one right factor is one product of their rows
    // stacked (`[b, m, k] @ [k, n]` as `[b·m, k] @ [k, n]`, the data already laid out so),
    // as PyTorch folds it: one large product instead of `b` small ones.
    let folded_rows = (rbatch.is_empty() && !lbatch.is_empty()).then(|| lbatch.iter().product::<usize>() * m);
    let batch = if lbatch.is_empty() && rbatch.is_empty() || folded_rows.is_some() {
        None
    } else {
        let (lb, rb) = (Shape::new(lbatch), Shape::new(rbatch));
        let (Ok(lb), Ok(rb)) = (lb, rb) else { return Err(mismatch) };
        Some(Broadcast::of(lb, rb).ok_or(mismatch.clone())?)
    };
    // The output: the batch dimensions (or, folded, the left factor's), then `m` and `n`
    // where their side is not a vector. At most MAX_RANK dimensions: the inputs have at
    // most that many.
    let mut dims = [0; MAX_RANK];
    let mut rank = match folded_rows {
        Some(_) => {
            dims[..lbatch.len()].copy_from_slice(lbatch);
            lbatch.len()
        }
        None => batch.map_or(0, |b| b.shape.dims_into(&mut dims)),
    };
    if lrank > 1 {
        dims[rank] = m;
        rank += 1;
    }
    if rrank > 1 {
        dims[rank] = n;
        rank += 1;
    }
    let out = Shape::new(&dims[..rank]).map_err(|reason| Error::BadShape { op: "matmul", reason })?;
    let m = folded_rows.unwrap_or(m);
    Ok(MatmulLayout { m, k: k1, n, out, batch })
}

/// A row-major `rows x cols` matrix as a view of itself (strides `cols, 1`).
fn row_major<S: Scalar>(data: &[S], rows: usize, cols: usize) -> StridedView<'_, S> {
    StridedView::from_slice_with_strides_generic(data, Dyn(rows), Dyn(cols), Dyn(cols), Dyn(1))
}

type StridedView<'a, S> = MatrixView<'a, S, Dyn, Dyn, Dyn, Dyn>;

/// Whether nalgebra's `gemm` runs this product on its blocked kernel (`matrixmultiply`):
/// `f64` with every dimension above 5. That kernel takes views of any strides, so the
/// transposed factors of the VJPs are strided views, with no transposed copy and none of
/// the dot-product loops of `gemm_tr` (measured on the MLP workload: a step 1.25x -> 1.11x
/// the hand-written backprop). nalgebra's loops for other types and smaller sizes assume
/// unit row strides, so those keep contiguous operands.
fn blocked<S: 'static>(dims: [usize; 3]) -> bool {
    core::any::TypeId::of::<S>() == core::any::TypeId::of::<f64>() && dims.iter().all(|&d| d > 5)
}

impl StructuralRule for Matmul {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        matmul_dims(inputs[0].1, inputs[1].1).map(|layout| layout.out)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, xs), (y, ys)) = (inputs[0], inputs[1]);
        let Ok(layout) = matmul_dims(xs, ys) else { unreachable!("matmul shapes are validated before evaluation") };
        let MatmulLayout { m, k, n, .. } = layout;
        let start = out.len();
        out.resize(start + layout.out.len(), S::zero());
        let products = out[start..].chunks_exact_mut((m * n).max(1));
        for (c, [i, j]) in products.zip(layout.pairs()) {
            product(&x[i * m * k..(i + 1) * m * k], &y[j * k * n..(j + 1) * k * n], [m, k, n], c);
        }
    }
    /// Each product's VJP, added into the factors it read (a factor broadcast over the
    /// batch sums the VJPs of every product that read it).
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let ((a, a_shape), (b, b_shape)) = (inputs[0], inputs[1]);
        let Ok(layout) = matmul_dims(a_shape, b_shape) else { unreachable!("a recorded matmul has compatible shapes") };
        let MatmulLayout { m, k, n, .. } = layout;
        let (a_len, b_len, g_len) = (m * k, k * n, m * n);
        for (p, [i, j]) in layout.pairs().enumerate() {
            let (a, b, g) =
                (&a[i * a_len..(i + 1) * a_len], &b[j * b_len..(j + 1) * b_len], &g[p * g_len..(p + 1) * g_len]);
            let own = if input == 0 {
                &mut adjoint[i * a_len..(i + 1) * a_len]
            } else {
                &mut adjoint[j * b_len..(j + 1) * b_len]
            };
            product_vjp(input, a, b, [m, k, n], g, own);
        }
    }
}

/// One row-major product `c = x y` of `[m, k] @ [k, n]`, written over `c`.
fn product<S: Scalar>(x: &[S], y: &[S], [m, k, n]: [usize; 3], c: &mut [S]) {
    if n == 1 {
        // A x: a dot product per row, both contiguous.
        for (i, c) in c.iter_mut().enumerate() {
            *c = sum_of(k, |l| x[i * k + l] * y[l]);
        }
    } else if m == 1 {
        // xᵀ B: the rows of B scaled and added, in order.
        c.fill(S::zero());
        for (l, &xl) in x.iter().enumerate() {
            c.iter_mut().zip(&y[l * n..(l + 1) * n]).for_each(|(c, &b)| *c += xl * b);
        }
    } else {
        // Row-major data read as column-major is the transpose: Cᵀ = Bᵀ Aᵀ, in place.
        let mut c_t = DMatrixViewMut::from_slice(c, n, m);
        c_t.gemm(S::one(), &DMatrixView::from_slice(y, n, k), &DMatrixView::from_slice(x, k, m), S::zero());
    }
}

/// The VJP of one product `[m, k] @ [k, n]` for input `input`, added to `adjoint`.
fn product_vjp<S: Scalar>(input: usize, a: &[S], b: &[S], [m, k, n]: [usize; 3], g: &[S], adjoint: &mut [S]) {
    // Row-major data read as column-major is the transpose, so with C = A B:
    // dAᵀ = B Gᵀ  and  dBᵀ = Gᵀ A, written into the row-major adjoints.
    if n == 1 || m == 1 {
        return matrix_vector_vjp(input, a, b, [m, k, n], g, adjoint);
    }
    let g_t = DMatrixView::from_slice(g, n, m);
    let fast = blocked::<S>([m, k, n]);
    if input == 0 {
        let mut da_t = DMatrixViewMut::from_slice(adjoint, k, m);
        if fast {
            da_t.gemm(S::one(), &row_major(b, k, n), &g_t, S::one());
        } else {
            da_t.gemm_tr(S::one(), &DMatrixView::from_slice(b, n, k), &g_t, S::one());
        }
        return;
    }
    let mut db_t = DMatrixViewMut::from_slice(adjoint, n, k);
    if fast {
        db_t.gemm(S::one(), &g_t, &row_major(a, m, k), S::one());
    } else {
        let a_rows = DMatrixView::from_slice(a, k, m).transpose();
        db_t.gemm(S::one(), &g_t, &a_rows, S::one());
    }
}

/// The VJPs of a product with a vector side (`n == 1`: `A x`; `m == 1`: `xᵀ B`), as loops
/// over contiguous rows: below nalgebra's blocked sizes its `gemm` walks columns, which
/// here are strided (W4, `tanh(W x)` 64 x 64: 15.9 µs a gradient, 58 % of it in the product,
/// before these loops).
fn matrix_vector_vjp<S: Scalar>(input: usize, a: &[S], b: &[S], [m, k, n]: [usize; 3], g: &[S], adjoint: &mut [S]) {
    match (input, n == 1) {
        // dA = g bᵀ, an outer product
        (0, true) => {
            for (row, &gi) in adjoint.chunks_exact_mut(k.max(1)).zip(g) {
                row.iter_mut().zip(b).for_each(|(d, &bl)| *d += gi * bl);
            }
        }
        // da = B g, a dot product per row of B
        (0, false) => {
            for (l, d) in adjoint.iter_mut().enumerate() {
                *d += sum_of(n, |j| g[j] * b[l * n + j]);
            }
        }
        // db = Aᵀ g, the rows of A scaled and added, in order
        (_, true) => {
            for (i, &gi) in g.iter().enumerate().take(m) {
                adjoint.iter_mut().zip(&a[i * k..(i + 1) * k]).for_each(|(d, &al)| *d += gi * al);
            }
        }
        // dB = a gᵀ, an outer product
        (_, false) => {
            for (row, &al) in adjoint.chunks_exact_mut(n.max(1)).zip(a) {
                row.iter_mut().zip(g).for_each(|(d, &gj)| *d += al * gj);
            }
        }
    }
}

/// The largest element as a constant shift for `exp` (NaN elements skipped; 0 where it is
/// not finite, so that `-inf` rows stay `-inf` and `+inf` rows `+inf`, as in PyTorch).
fn shift_of<S: Scalar>(row: &[S]) -> S {
    let m = row.iter().fold(S::neg_infinity(), |m, &v| if v > m { v } else { m });
    if m.is_finite() {
        m.detach()
    } else {
        S::zero()
    }
}

/// `(shift, ln Σ exp(x - shift))` of one row.
fn log_sum_exp_parts<S: Scalar>(row: &[S]) -> (S, S) {
    let m = shift_of(row);
    (m, sum_of(row.len(), |k| (row[k] - m).exp()).ln())
}

/// `ln Σ exp(x)` of one row, stably.
fn log_sum_exp<S: Scalar>(row: &[S]) -> S {
    let (m, log_sum) = log_sum_exp_parts(row);
    m + log_sum
}

/// The softmax of one row, written to `out`.
fn softmax_into<S: Scalar>(row: &[S], out: &mut [S]) {
    let m = shift_of(row);
    for (o, &x) in out.iter_mut().zip(row) {
        *o = (x - m).exp();
    }
    let total = sum_of(out.len(), |k| out[k]);
    out.iter_mut().for_each(|o| *o /= total);
}

impl StructuralRule for Softmax {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(inputs[0].1)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, shape) = inputs[0];
        let (rows, n) = Shape::as_rows_cols(shape);
        let start = out.len();
        out.resize(start + rows * n, S::zero());
        for (row, o) in x.chunks_exact(n.max(1)).zip(out[start..].chunks_exact_mut(n.max(1))) {
            softmax_into(row, o);
        }
    }
    /// `dx = y ∘ (g - Σ g ∘ y)` per row, with `y` the softmax.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        each_row_softmax(inputs[0], g, adjoint, |y, g, adj| {
            let along = sum_of(y.len(), |k| g[k] * y[k]);
            for ((a, &y), &g) in adj.iter_mut().zip(y).zip(g) {
                *a += y * (g - along);
            }
        });
    }
}

/// Runs `rule(softmax(row), g_row, adjoint_row)` for each row along the last dimension:
/// the shape of the VJPs of softmax and log-softmax.
fn each_row_softmax<S: Scalar>(
    (x, shape): Input<'_, S>,
    g: &[S],
    adjoint: &mut [S],
    rule: impl Fn(&[S], &[S], &mut [S]),
) {
    let (_, n) = Shape::as_rows_cols(shape);
    let mut y = vec![S::zero(); n];
    for ((row, g), adj) in
        x.chunks_exact(n.max(1)).zip(g.chunks_exact(n.max(1))).zip(adjoint.chunks_exact_mut(n.max(1)))
    {
        softmax_into(row, &mut y);
        rule(&y, g, adj);
    }
}

impl StructuralRule for LogSoftmax {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(inputs[0].1)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, shape) = inputs[0];
        let (_, n) = Shape::as_rows_cols(shape);
        for row in x.chunks_exact(n.max(1)) {
            let (m, log_sum) = log_sum_exp_parts(row);
            out.extend(row.iter().map(|&v| (v - m) - log_sum));
        }
    }
    /// `dx = g - softmax(x) · Σ g` per row.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        each_row_softmax(inputs[0], g, adjoint, |y, g, adj| {
            let total = sum_of(g.len(), |k| g[k]);
            for ((a, &y), &g) in adj.iter_mut().zip(y).zip(g) {
                *a += g - y * total;
            }
        });
    }
}

impl StructuralRule for LogSumExp {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(inputs[0].1.without_last())
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, shape) = inputs[0];
        let (rows, n) = Shape::as_rows_cols(shape);
        out.extend((0..rows).map(|i| log_sum_exp(&x[i * n..(i + 1) * n])));
    }
    /// `dx = g_row · softmax(x)` per row.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let (x, shape) = inputs[0];
        let (rows, n) = Shape::as_rows_cols(shape);
        let mut y = vec![S::zero(); n];
        for i in 0..rows {
            softmax_into(&x[i * n..(i + 1) * n], &mut y);
            for (a, &y) in adjoint[i * n..(i + 1) * n].iter_mut().zip(&y) {
                *a += chain(g[i], y);
            }
        }
    }
}

impl StructuralRule for MseLoss {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match (inputs[0].1, inputs[1].1) {
            (left, right) if left == right => Ok(Shape::Scalar),
            (left, right) => Err(Error::ShapeMismatch { op, left, right }),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (a, b) = (inputs[0].0, inputs[1].0);
        out.push(sum_of(a.len(), |k| (a[k] - b[k]) * (a[k] - b[k])) / count(a.len()));
    }
    /// `d/da = 2 (a - b) / n`, `d/db = -2 (a - b) / n`.
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let (a, b) = (inputs[0].0, inputs[1].0);
        let two: S = count(2);
        let scale = if input == 0 { two } else { -two } / count(adjoint.len());
        for ((adj, &a), &b) in adjoint.iter_mut().zip(a).zip(b) {
            *adj += chain(g[0], scale * (a - b));
        }
    }
}

/// The class of a label as an index; recording has checked it is one (a re-evaluation at
/// moved label leaves gets `usize::MAX`, which no row has).
fn class_of<S: Scalar>(label: S) -> usize {
    label.to_usize().unwrap_or(usize::MAX)
}

impl StructuralRule for CrossEntropy {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match (inputs[0].1, inputs[1].1) {
            (Shape::Vector(_), Shape::Scalar) => Ok(Shape::Scalar),
            (Shape::Matrix(b, _), Shape::Vector(labels)) if b == labels => Ok(Shape::Scalar),
            (left, right) => Err(Error::ShapeMismatch { op, left, right }),
        }
    }
    fn check_values(inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        let (_, classes) = Shape::as_rows_cols(inputs[0].1);
        let is_class = |l: f64| l >= 0.0 && l.fract() == 0.0 && (l as usize) < classes;
        match inputs[1].0.iter().find(|&&l| !is_class(l)) {
            None => Ok(()),
            Some(&label) => Err(Error::ClassLabel { label, classes }),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), labels) = (inputs[0], inputs[1].0);
        let (rows, n) = Shape::as_rows_cols(shape);
        let loss = |i: usize| {
            let row = &x[i * n..(i + 1) * n];
            log_sum_exp(row) - row.get(class_of(labels[i])).copied().unwrap_or_else(S::nan)
        };
        out.push(sum_of(rows, loss) / count(rows));
    }
    /// `dx = g · (softmax(row) - onehot(label)) / B` per row.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let ((x, shape), labels) = (inputs[0], inputs[1].0);
        let (rows, n) = Shape::as_rows_cols(shape);
        let share = g[0] / count(rows);
        let mut y = vec![S::zero(); n];
        for i in 0..rows {
            softmax_into(&x[i * n..(i + 1) * n], &mut y);
            if let Some(p) = y.get_mut(class_of(labels[i])) {
                *p -= S::one();
            }
            for (a, &y) in adjoint[i * n..(i + 1) * n].iter_mut().zip(&y) {
                *a += chain(share, y);
            }
        }
    }
}

/// The extreme element of `x` (`larger(a, b)`: `a` beats `b`), NaN if any element is NaN,
/// and how many elements hold it (the NaNs, for NaN): PyTorch's even split of the gradient
/// among ties.
fn extreme_of<S: Scalar>(x: &[S], larger: impl Fn(S, S) -> bool) -> (S, usize) {
    if let Some(&nan) = x.iter().find(|v| v.is_nan()) {
        return (nan, x.iter().filter(|v| v.is_nan()).count());
    }
    let best = x.iter().skip(1).fold(x[0], |m, &v| if larger(v, m) { v } else { m });
    (best, x.iter().filter(|&&v| v == best).count())
}

/// The primal of [`Max`] and [`Min`]: the extreme value, with the mean of the tied
/// elements' derivatives (`x - detach(x)` is exactly zero in value), so forward mode splits
/// a tie as the VJP does.
fn extreme_primal<S: Scalar>(x: &[S], larger: impl Fn(S, S) -> bool, out: &mut Vec<S>) {
    let (best, ties) = extreme_of(x, larger);
    let tied = |v: S| v == best || (best.is_nan() && v.is_nan());
    let share = x.iter().filter(|&&v| tied(v)).fold(S::zero(), |s, &v| s + (v - v.detach()));
    out.push(best.detach() + share / count(ties));
}

/// The VJP of [`Max`] and [`Min`]: `g / ties` to each tied element.
fn extreme_vjp<S: Scalar>(x: &[S], larger: impl Fn(S, S) -> bool, g: S, adjoint: &mut [S]) {
    let (best, ties) = extreme_of(x, larger);
    let share = g / count(ties);
    for (adj, &v) in adjoint.iter_mut().zip(x) {
        if v == best || (best.is_nan() && v.is_nan()) {
            *adj += share;
        }
    }
}

fn non_empty(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
    if inputs[0].1.is_empty() {
        return Err(Error::EmptyReduction { op });
    }
    Ok(Shape::Scalar)
}

impl StructuralRule for Max {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        non_empty(op, inputs)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        extreme_primal(inputs[0].0, |a, b| a > b, out);
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        extreme_vjp(inputs[0].0, |a, b| a > b, g[0], adjoint);
    }
}

impl StructuralRule for Min {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        non_empty(op, inputs)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        extreme_primal(inputs[0].0, |a, b| a < b, out);
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        extreme_vjp(inputs[0].0, |a, b| a < b, g[0], adjoint);
    }
}

/// The output shape of [`Amax`] and [`Amin`]: the input without its last dimension, which
/// must not be empty.
fn rows_non_empty(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
    let shape = inputs[0].1;
    if shape.last_dim() == 0 {
        return Err(Error::EmptyReduction { op });
    }
    Ok(shape.without_last())
}

/// [`extreme_primal`] of each row along the last dimension.
fn rows_extreme_primal<S: Scalar>((x, shape): Input<'_, S>, larger: impl Fn(S, S) -> bool + Copy, out: &mut Vec<S>) {
    let n = shape.last_dim().max(1);
    for row in x.chunks_exact(n) {
        extreme_primal(row, larger, out);
    }
}

/// [`extreme_vjp`] of each row along the last dimension.
fn rows_extreme_vjp<S: Scalar>(
    (x, shape): Input<'_, S>,
    larger: impl Fn(S, S) -> bool + Copy,
    g: &[S],
    adjoint: &mut [S],
) {
    let n = shape.last_dim().max(1);
    for ((row, adj), &g) in x.chunks_exact(n).zip(adjoint.chunks_exact_mut(n)).zip(g) {
        extreme_vjp(row, larger, g, adj);
    }
}

impl StructuralRule for Amax {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        rows_non_empty(op, inputs)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        rows_extreme_primal(inputs[0], |a, b| a > b, out);
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        rows_extreme_vjp(inputs[0], |a, b| a > b, g, adjoint);
    }
}

impl StructuralRule for Amin {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        rows_non_empty(op, inputs)
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        rows_extreme_primal(inputs[0], |a, b| a < b, out);
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        rows_extreme_vjp(inputs[0], |a, b| a < b, g, adjoint);
    }
}

/// Whether `x` passes through `clamp` to `[lo, hi]` unchanged: PyTorch's gradient mask,
/// bounds included (never where `lo > hi`, or for NaN).
fn passes<S: Scalar>(x: S, lo: S, hi: S) -> bool {
    x >= lo && x <= hi
}

impl StructuralRule for Clamp {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match inputs[1].1 {
            Shape::Vector(2) => Ok(inputs[0].1),
            other => Err(Error::ClampBounds { got: other.len() }),
        }
    }
    /// `min(max(x, lo), hi)`: `x` itself where it passes, else the bound, a constant.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, bounds) = (inputs[0].0, inputs[1].0);
        let (lo, hi) = (bounds[0].detach(), bounds[1].detach());
        out.extend(x.iter().map(|&v| match v {
            _ if v.is_nan() || passes(v, lo, hi) => v,
            _ if v > hi || lo > hi => hi,
            _ => lo,
        }));
    }
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let (x, bounds) = (inputs[0].0, inputs[1].0);
        for ((adj, &v), &g) in adjoint.iter_mut().zip(x).zip(g) {
            if passes(v, bounds[0], bounds[1]) {
                *adj += g;
            }
        }
    }
}

/// The broadcast of the target shape to the input's, if the target broadcasts to it.
fn sum_layout(input: Shape, target: Shape) -> Option<Broadcast> {
    Broadcast::of(target, input).filter(|b| b.shape == input)
}

/// `f(small, big)` for every element `big` of the larger shape of `layout` (a
/// [`sum_layout`] of it and a smaller shape), in element order, with the element `small` of
/// the smaller shape it broadcasts from: the one walk behind `sum_to_size` and `expand`,
/// each one's primal the other's VJP.
#[inline]
fn each_broadcast(layout: &Broadcast, mut f: impl FnMut(usize, usize)) {
    let [(rs, cs), _] = layout.strides;
    let block = layout.rows * layout.cols;
    for (k, [s0, _]) in layout.block_starts().enumerate() {
        for i in 0..layout.rows {
            for j in 0..layout.cols {
                f(s0 + i * rs + j * cs, k * block + i * layout.cols + j);
            }
        }
    }
}

impl StructuralRule for SumToSize {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match sum_layout(inputs[0].1, inputs[1].1) {
            Some(_) => Ok(inputs[1].1),
            None => Err(Error::ShapeMismatch { op, left: inputs[0].1, right: inputs[1].1 }),
        }
    }
    /// Output element `t` sums, in element order, the input elements `(i, j)` that
    /// broadcast from it (`t = i · row_stride + j · col_stride` of the target).
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), target) = (inputs[0], inputs[1].1);
        let Some(layout) = sum_layout(shape, target) else {
            unreachable!("sum_to_size shapes are validated before evaluation")
        };
        let start = out.len();
        out.resize(start + target.len(), S::zero());
        let sums = &mut out[start..];
        each_broadcast(&layout, |t, k| sums[t] += x[k]);
    }
    /// Broadcasting back: each input element receives its output element's adjoint.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let Some(layout) = sum_layout(inputs[0].1, inputs[1].1) else {
            unreachable!("a recorded sum_to_size has shapes that broadcast")
        };
        each_broadcast(&layout, |t, k| adjoint[k] += g[t]);
    }
}

impl StructuralRule for Reshape {
    /// The shape when none is given: a vector of the elements (a recording gives the node
    /// its own shape, of as many elements; the values are the same).
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(Shape::Vector(inputs[0].1.len()))
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.extend_from_slice(inputs[0].0);
    }
    fn vjp<S: Scalar>(_: usize, _: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        adjoint.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g);
    }
}

/// A reshape to a vector: [`Reshape`]'s copy and addition.
impl StructuralRule for Flatten {
    fn output_shape(_: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        Ok(Shape::Vector(inputs[0].1.len()))
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        Reshape::primal(inputs, out)
    }
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        Reshape::vjp(input, inputs, g, adjoint)
    }
}

impl StructuralRule for Cat {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        let (left, right) = (inputs[0].1, inputs[1].1);
        let joined = (left.rank() == right.rank() && left.rank() > 0 && rest_of(left) == rest_of(right))
            .then(|| with_first(left, left.dim(0).saturating_add(right.dim(0))));
        joined.ok_or(Error::ShapeMismatch { op, left, right })
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        out.extend_from_slice(inputs[0].0);
        out.extend_from_slice(inputs[1].0);
    }
    /// The first input's adjoint is the output's leading part, the second's the rest.
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let part = if input == 0 { &g[..inputs[0].0.len()] } else { &g[inputs[0].0.len()..] };
        adjoint.iter_mut().zip(part).for_each(|(adj, &g)| *adj += g);
    }
}

/// Row `i` of [`IndexSelect`] as `usize`; recording has checked it is a whole number among
/// the rows (a re-evaluation at moved index leaves gets `usize::MAX`, out of range).
fn row_index<T: Scalar>(i: T) -> usize {
    i.to_usize().unwrap_or(usize::MAX)
}

/// `(rows, row length)` of the input of [`IndexSelect`]: its first dimension and the
/// elements of each index along it (a vector's elements are its rows).
fn selectable(shape: Shape) -> Option<(usize, usize)> {
    (shape.rank() > 0).then(|| (shape.dim(0), rest_of(shape).len()))
}

/// The shape without its first dimension (the shape of one row along dimension 0).
fn rest_of(shape: Shape) -> Shape {
    let mut dims = [0; MAX_RANK];
    let rank = shape.dims_into(&mut dims);
    Shape::of(&dims[rank.min(1)..rank])
}

/// The shape with its first dimension set to `first` (a scalar becomes `[first]`).
fn with_first(shape: Shape, first: usize) -> Shape {
    let mut dims = [0; MAX_RANK];
    let rank = shape.dims_into(&mut dims).max(1);
    dims[0] = first;
    Shape::of(&dims[..rank])
}

impl StructuralRule for IndexSelect {
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match (inputs[0].1, inputs[1].1) {
            (left, Shape::Vector(k)) if left.rank() > 0 => Ok(with_first(left, k)),
            (left, right) => Err(Error::ShapeMismatch { op, left, right }),
        }
    }
    fn check_values(inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        let rows = selectable(inputs[0].1).map_or(0, |(rows, _)| rows);
        let valid = |i: f64| i >= 0.0 && i < rows as f64 && (i as usize) as f64 == i;
        match inputs[1].0.iter().find(|&&i| !valid(i)) {
            None => Ok(()),
            Some(&index) => Err(Error::RowIndex { index, rows }),
        }
    }
    /// A row index outside the input (a re-evaluation with moved index leaves) gives a row
    /// of NaN rather than a panic.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), indices) = (inputs[0], inputs[1].0);
        let Some((_, width)) = selectable(shape) else { return };
        for &i in indices {
            match x.get(row_index(i).saturating_mul(width)..).and_then(|rest| rest.get(..width)) {
                Some(row) => out.extend_from_slice(row),
                None => out.extend((0..width).map(|_| S::nan())),
            }
        }
    }
    /// Each picked row's adjoint is added into the row it was picked from (a row picked
    /// twice receives both).
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let Some((_, width)) = selectable(inputs[0].1) else { return };
        for (&i, g) in inputs[1].0.iter().zip(g.chunks_exact(width.max(1))) {
            let start = row_index(i).saturating_mul(width);
            if let Some(row) = adjoint.get_mut(start..).and_then(|rest| rest.get_mut(..width)) {
                row.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g);
            }
        }
    }
}

/// Whether element `k` of a mask of [`Where`] picks the first tensor (recording has checked
/// every element is 0 or 1).
#[inline]
fn picks_first<S: Scalar>(mask: S) -> bool {
    mask.to_f64().is_some_and(|m| m > 0.5)
}

impl StructuralRule for Where {
    /// `x`, `y` and the mask share one shape.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        let (x, y, mask) = (inputs[0].1, inputs[1].1, inputs[2].1);
        match (x == y, x == mask) {
            (true, true) => Ok(x),
            (false, _) => Err(Error::ShapeMismatch { op, left: x, right: y }),
            (true, false) => Err(Error::ShapeMismatch { op, left: x, right: mask }),
        }
    }
    fn check_values(inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        match inputs[2].0.iter().find(|&&m| m != 0.0 && m != 1.0) {
            None => Ok(()),
            Some(&value) => Err(Error::MaskValue { value }),
        }
    }
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let (x, y, mask) = (inputs[0].0, inputs[1].0, inputs[2].0);
        out.extend(mask.iter().zip(x.iter().zip(y)).map(|(&m, (&a, &b))| if picks_first(m) { a } else { b }));
    }
    /// The output's adjoint goes to the element that was picked; the other receives zero.
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let first = input == 0;
        for ((&m, &g), adj) in inputs[2].0.iter().zip(g).zip(adjoint) {
            if picks_first(m) == first {
                *adj += g;
            }
        }
    }
}

impl StructuralRule for Expand {
    /// The target is a shape the input broadcasts to.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match sum_layout(inputs[1].1, inputs[0].1) {
            Some(_) => Ok(inputs[1].1),
            None => Err(Error::ShapeMismatch { op, left: inputs[0].1, right: inputs[1].1 }),
        }
    }
    /// Output element `(block, i, j)` is the input element it broadcasts from.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), target) = (inputs[0], inputs[1].1);
        let Some(layout) = sum_layout(target, shape) else {
            unreachable!("expand shapes are validated before evaluation")
        };
        let start = out.len();
        out.resize(start + target.len(), S::zero());
        let y = &mut out[start..];
        each_broadcast(&layout, |s, k| y[k] = x[s]);
    }
    /// Each input element receives the sum, in element order, of the output elements that
    /// broadcast from it: `sum_to_size`'s primal.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let Some(layout) = sum_layout(inputs[1].1, inputs[0].1) else {
            unreachable!("a recorded expand has shapes that broadcast")
        };
        each_broadcast(&layout, |s, k| adjoint[s] += g[k]);
    }
}

/// How an index tensor of `gather`/`scatter_add` reads a tensor along its last dimension:
/// `index` has the tensor's rank and at most its size along every other dimension (PyTorch's
/// rule), and row `r` of `index` (its elements sharing the leading indices) addresses the row
/// of the tensor at the same leading indices.
#[derive(Clone, Copy)]
struct IndexedRows {
    /// Width of the tensor's rows (its last dimension).
    width: usize,
    /// Width of the index's rows.
    picks: usize,
    rows: usize,
    /// The index's and the tensor's leading dimensions.
    lead: [(usize, usize); MAX_RANK],
    rank: usize,
}

impl IndexedRows {
    fn of(tensor: Shape, index: Shape) -> Option<IndexedRows> {
        let rank = tensor.rank();
        if rank == 0 || index.rank() != rank {
            return None;
        }
        let (t, i) = (tensor.dims(), index.dims());
        let mut lead = [(1, 1); MAX_RANK];
        for d in 0..rank - 1 {
            if i[d] > t[d] {
                return None;
            }
            lead[d] = (i[d], t[d]);
        }
        let (width, picks) = (t[rank - 1], i[rank - 1]);
        Some(IndexedRows { width, picks, rows: index.len().checked_div(picks).unwrap_or(0), lead, rank })
    }

    /// `(start of the tensor's row, start of the index's row)` for each row of the index.
    fn rows(self) -> impl Iterator<Item = (usize, usize)> {
        (0..self.rows).map(move |r| {
            let (mut rest, mut start, mut stride) = (r, 0, self.width);
            for d in (0..self.rank - 1).rev() {
                let (size, full) = self.lead[d];
                start += (rest % size) * stride;
                rest /= size;
                stride *= full;
            }
            (start, r * self.picks)
        })
    }
}

/// Checks that every index picks an element of rows `width` wide.
fn check_indices(op: &'static str, indices: &[f64], width: usize) -> Result<(), Error> {
    let valid = |i: f64| i >= 0.0 && i < width as f64 && (i as usize) as f64 == i;
    match indices.iter().find(|&&i| !valid(i)) {
        None => Ok(()),
        Some(&index) => Err(Error::GatherIndex { op, index, size: width }),
    }
}

impl StructuralRule for Gather {
    /// The output has the index's shape.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        match IndexedRows::of(inputs[0].1, inputs[1].1) {
            Some(_) => Ok(inputs[1].1),
            None => Err(Error::ShapeMismatch { op, left: inputs[0].1, right: inputs[1].1 }),
        }
    }
    fn check_values(inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        check_indices("gather", inputs[1].0, inputs[0].1.last_dim())
    }
    /// `out[.., j] = x[.., index[.., j]]`; an index outside the row (unreachable once
    /// recorded) gives NaN.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((x, shape), (index, index_shape)) = (inputs[0], inputs[1]);
        let Some(layout) = IndexedRows::of(shape, index_shape) else { return };
        for (row, at) in layout.rows() {
            out.extend(index[at..at + layout.picks].iter().map(|&i| match i.to_usize() {
                Some(i) if i < layout.width => x[row + i],
                _ => S::nan(),
            }));
        }
    }
    /// Each output element's adjoint is added to the element it picked (one picked twice
    /// receives both), in element order.
    fn vjp<S: Scalar>(_: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        let Some(layout) = IndexedRows::of(inputs[0].1, inputs[1].1) else { return };
        let index = inputs[1].0;
        for (row, at) in layout.rows() {
            for k in at..at + layout.picks {
                if let Some(i) = index[k].to_usize().filter(|&i| i < layout.width) {
                    adjoint[row + i] += g[k];
                }
            }
        }
    }
}

impl StructuralRule for ScatterAdd {
    /// `self`, `src` and the index: `src` has the index's shape, which reads `self` as
    /// [`Gather`] reads its input; the output has `self`'s shape.
    fn output_shape(op: &'static str, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        let (target, src, index) = (inputs[0].1, inputs[1].1, inputs[2].1);
        if src != index {
            return Err(Error::ShapeMismatch { op, left: src, right: index });
        }
        match IndexedRows::of(target, index) {
            Some(_) => Ok(target),
            None => Err(Error::ShapeMismatch { op, left: target, right: index }),
        }
    }
    fn check_values(inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        check_indices("scatter_add", inputs[2].0, inputs[0].1.last_dim())
    }
    /// `self`, with `src[.., j]` added at `[.., index[.., j]]`, in element order.
    fn primal<S: Scalar>(inputs: &[Input<'_, S>], out: &mut Vec<S>) {
        let ((target, shape), src, (index, index_shape)) = (inputs[0], inputs[1].0, inputs[2]);
        let start = out.len();
        out.extend_from_slice(target);
        let Some(layout) = IndexedRows::of(shape, index_shape) else { return };
        let sums = &mut out[start..];
        for (row, at) in layout.rows() {
            for k in at..at + layout.picks {
                match index[k].to_usize().filter(|&i| i < layout.width) {
                    Some(i) => sums[row + i] += src[k],
                    None => sums[row] = S::nan(),
                }
            }
        }
    }
    /// `self` receives the output's adjoint; `src` gathers it at the index.
    fn vjp<S: Scalar>(input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
        if input == 0 {
            adjoint.iter_mut().zip(g).for_each(|(adj, &g)| *adj += g);
            return;
        }
        let Some(layout) = IndexedRows::of(inputs[0].1, inputs[2].1) else { return };
        let index = inputs[2].0;
        for (row, at) in layout.rows() {
            for k in at..at + layout.picks {
                if let Some(i) = index[k].to_usize().filter(|&i| i < layout.width) {
                    adjoint[k] += g[row + i];
                }
            }
        }
    }
}
