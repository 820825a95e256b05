//! `Tensor`: a handle to a node of a [`Graph`], with PyTorch's names and semantics.

use core::fmt;
use core::ops::{Add, Div, Mul, Neg, Sub};

use crate::arena::NodeId;
use crate::op::{BinaryOp, Op, StructuralOp, UnaryOp};
use crate::{Broadcast, Error, Graph, Shape, Value};

/// A node of a [`Graph`]: a scalar, vector or matrix, recorded eagerly.
///
/// `Tensor` is `Copy` (a graph reference and an index). Methods mirror PyTorch's:
/// `requires_grad_`, `is_leaf`, `grad_fn`, `grad`, `retain_grad`, `detach`, `item`.
/// Gradients come from `backward` in `slope-reverse` (re-exported by the `slope` crate).
///
/// Operators (`+ - * /`, unary `-`) work between tensors and with `f64` on either side;
/// shapes broadcast as in NumPy and PyTorch (a scalar, a row `[n]` or `[1, n]`, a column
/// `[m, 1]` against a matrix; see [`Broadcast`](crate::Broadcast)).
///
/// # Panics
/// Operators and the infallible methods panic when shapes do not fit (the message names
/// both shapes) or when the graph is full. Each has a `try_` form that returns the same
/// error as a `Result` instead.
///
/// ```
/// use slope_graph::{Graph, Shape};
///
/// let g = Graph::new();
/// let x = g.linspace(-10.0, 10.0, 10).unwrap().requires_grad_();
/// let y = (x * x).sum();
/// assert_eq!(y.shape(), Shape::Scalar);
/// assert!((y.item().unwrap() - 407.4074).abs() < 1e-4);
/// assert!(x.try_add(g.vector(&[1.0, 2.0])).is_err());
/// ```
#[derive(Clone, Copy)]
pub struct Tensor<'g> {
    graph: &'g Graph,
    index: u32,
}

/// The op that computed a tensor, named as PyTorch names its backward node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GradFn(pub Op);

impl GradFn {
    /// PyTorch's name, such as `"PowBackward0"`.
    pub fn name(self) -> &'static str {
        self.0.grad_fn_name()
    }
}

impl fmt::Display for GradFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.name())
    }
}

/// How a loss reduces its per-element (per-row) values, PyTorch's `reduction` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// No reduction: one loss per element (per row of a cross-entropy), `'none'`.
    None,
    /// The mean, PyTorch's default, `'mean'`.
    #[default]
    Mean,
    /// The sum, `'sum'`.
    Sum,
}

impl Reduction {
    /// `losses` reduced.
    fn apply(self, losses: Tensor<'_>) -> Result<Tensor<'_>, Error> {
        match self {
            Reduction::None => Ok(losses),
            Reduction::Mean => losses.try_op(Op::Structural(StructuralOp::Mean), &[]),
            Reduction::Sum => losses.try_op(Op::Structural(StructuralOp::Sum), &[]),
        }
    }
}

/// The documented panic of the operator forms: the same message as the `try_` form.
fn or_panic<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

impl<'g> Tensor<'g> {
    pub(crate) fn new(graph: &'g Graph, index: u32) -> Tensor<'g> {
        Tensor { graph, index }
    }

    /// The graph this tensor belongs to.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The node's id, valid after the graph is frozen.
    pub fn id(&self) -> NodeId {
        self.graph.arena().node_id(self.index)
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.graph.arena().shape(self.index)
    }

    /// The value (PyTorch's `.data`), copied out.
    pub fn value(&self) -> Value {
        let arena = self.graph.arena();
        Value::copied(arena.shape(self.index), arena.value(self.index))
    }

    /// The elements, row-major.
    pub fn to_vec(&self) -> Vec<f64> {
        self.graph.arena().value(self.index).to_vec()
    }

    /// The number of a one-element tensor (PyTorch's `item()`).
    pub fn item(&self) -> Result<f64, Error> {
        let arena = self.graph.arena();
        match arena.value(self.index) {
            [x] => Ok(*x),
            _ => Err(Error::NeedsScalar { what: "item()", shape: arena.shape(self.index) }),
        }
    }

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.graph.arena().requires_grad(self.index)
    }

    /// Marks a leaf as requiring grad and returns it (PyTorch's `requires_grad_()`).
    /// Ops recorded from now on track it; on a computed tensor, which already requires
    /// grad, it changes nothing.
    pub fn requires_grad_(self) -> Tensor<'g> {
        if self.is_leaf() {
            self.graph.set_flag(self.index, false, true);
        }
        self
    }

    /// Sets `requires_grad` (PyTorch's `requires_grad_(flag)`); only leaves can be switched off.
    pub fn set_requires_grad(self, on: bool) -> Result<Tensor<'g>, Error> {
        if let Some(grad_fn) = self.grad_fn() {
            if !on {
                return Err(Error::NotALeaf { what: "switching requires_grad off", grad_fn: grad_fn.name() });
            }
            return Ok(self);
        }
        self.graph.set_flag(self.index, false, on);
        Ok(self)
    }

    /// A leaf: made by a constructor or `detach`, or computed only from tensors that do
    /// not require grad.
    pub fn is_leaf(&self) -> bool {
        self.graph.arena().is_leaf(self.index)
    }

    /// The op that computed this tensor; `None` for a leaf.
    pub fn grad_fn(&self) -> Option<GradFn> {
        self.graph.arena().op(self.index).map(GradFn)
    }

    /// The gradient accumulated by `backward`: on leaves that require grad, and on other
    /// tensors only after [`retain_grad`](Tensor::retain_grad). `None` before any backward.
    pub fn grad(&self) -> Option<Value> {
        self.graph.stored_grad(self.id()).ok().flatten()
    }

    /// Runs `read` on the stored gradient without copying it (`grad()` copies it into a
    /// [`Value`]); `None` before any backward. What a training loop reads its gradients
    /// through.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0]).requires_grad_();
    /// assert_eq!(x.with_grad(|grad| grad.to_vec()), None);
    /// g.accumulate_grad_from(x.id(), &[0.5, 0.25]).unwrap();
    /// assert_eq!(x.with_grad(|grad| grad.iter().sum::<f64>()), Some(0.75));
    /// ```
    pub fn with_grad<R>(&self, read: impl FnOnce(&[f64]) -> R) -> Option<R> {
        self.graph.with_stored_grad(self.id(), read).ok().flatten()
    }

    /// Keeps this non-leaf's gradient after `backward` (a no-op on leaves, as in PyTorch).
    pub fn retain_grad(&self) -> Result<(), Error> {
        if !self.requires_grad() {
            return Err(Error::NotTracked { what: "retain_grad()" });
        }
        if !self.is_leaf() {
            self.graph.set_flag(self.index, true, true);
        }
        Ok(())
    }

    /// Whether this tensor keeps its gradient although it is not a leaf.
    pub fn retains_grad(&self) -> bool {
        self.graph.arena().retains_grad(self.index)
    }

    /// Forgets the stored gradient (PyTorch's `x.grad = None`).
    pub fn zero_grad(&self) {
        self.graph.clear_grad(self.index);
    }

    /// A new leaf with the same value and no history; it does not require grad.
    /// (PyTorch shares storage; slope copies the value.)
    pub fn detach(&self) -> Tensor<'g> {
        Tensor::new(self.graph, or_panic(self.graph.push_detached(self.index)))
    }

    /// Records `op` with this tensor as the first input.
    ///
    /// The inputs past the op's [`node_arity`](Op::node_arity) are its attributes (clamp's
    /// bounds, a slice's range, a permutation's code, a target shape): their values and
    /// shapes are kept in the node, and none of them may require grad.
    pub fn try_op(self, op: Op, others: &[Tensor<'g>]) -> Result<Tensor<'g>, Error> {
        let nodes = op.node_arity();
        if nodes < op.arity() && 1 + others.len() == op.arity() && nodes >= 1 {
            let (inputs, attributes) = others.split_at(nodes - 1);
            let mut kept = Vec::with_capacity(attributes.len());
            for t in attributes {
                self.graph.check(t)?;
                if t.requires_grad() {
                    return Err(Error::AttributeRequiresGrad { op: op.name() });
                }
                kept.push((t.to_vec(), t.shape()));
            }
            let attrs: Vec<(&[f64], Shape)> = kept.iter().map(|(v, s)| (&v[..], *s)).collect();
            let mut all = Vec::with_capacity(nodes);
            all.push(self);
            all.extend_from_slice(inputs);
            return self.graph.try_record_with(op, &all, &attrs);
        }
        match others {
            [] => self.graph.try_record(op, &[self]),
            [b] => self.graph.try_record(op, &[self, *b]),
            [b, c] => self.graph.try_record(op, &[self, *b, *c]),
            _ => Err(Error::Arity { op: op.name(), expected: op.arity(), got: 1 + others.len() }),
        }
    }

    /// Applies an elementwise function.
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn apply(self, op: UnaryOp) -> Tensor<'g> {
        or_panic(self.try_op(Op::Unary(op), &[]))
    }

    /// An elementwise binary op with another tensor; the shapes broadcast.
    pub fn try_binary(self, op: BinaryOp, rhs: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Binary(op), &[rhs])
    }

    /// An elementwise binary op with a constant, which is never differentiated.
    pub fn try_binary_scalar(self, op: BinaryOp, rhs: f64) -> Result<Tensor<'g>, Error> {
        self.try_with_constant(op, rhs, false)
    }

    fn try_with_constant(self, op: BinaryOp, x: f64, constant_left: bool) -> Result<Tensor<'g>, Error> {
        let index = self.graph.record_with_constant(op, self.index, x, constant_left)?;
        Ok(Tensor::new(self.graph, index))
    }

    fn scalar_binary(self, op: BinaryOp, x: f64, constant_left: bool) -> Tensor<'g> {
        or_panic(self.try_with_constant(op, x, constant_left))
    }

    /// `self ** n` for an integer constant, as `x ** 2` in PyTorch (`PowBackward0`).
    pub fn powi(self, n: i32) -> Tensor<'g> {
        self.scalar_binary(BinaryOp::PowI, f64::from(n), false)
    }

    /// `self ** c` for a real constant.
    pub fn powf(self, c: f64) -> Tensor<'g> {
        self.scalar_binary(BinaryOp::PowF, c, false)
    }

    /// Product of all elements (PyTorch's `torch.prod(x)`); its gradient is exact where
    /// elements are zero.
    pub fn prod(self) -> Tensor<'g> {
        or_panic(self.try_op(Op::Structural(StructuralOp::Prod), &[]))
    }

    /// Sum of all elements (PyTorch's `torch.sum(x)`).
    pub fn sum(self) -> Tensor<'g> {
        or_panic(self.try_op(Op::Structural(StructuralOp::Sum), &[]))
    }

    /// The largest element (PyTorch's `x.max()`, `MaxBackward1`): NaN if any element is,
    /// and a tie shares the gradient evenly. Errors on an empty tensor.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// assert_eq!(g.vector(&[1.0, 5.0, 3.0]).try_max().unwrap().item().unwrap(), 5.0);
    /// assert!(g.vector(&[]).try_max().is_err());
    /// ```
    pub fn try_max(self) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::Max), &[])
    }

    /// The largest element.
    ///
    /// # Panics
    /// On an empty tensor; see [`try_max`](Tensor::try_max).
    pub fn max(self) -> Tensor<'g> {
        or_panic(self.try_max())
    }

    /// The smallest element (PyTorch's `x.min()`, `MinBackward1`); see
    /// [`try_max`](Tensor::try_max).
    pub fn try_min(self) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::Min), &[])
    }

    /// The smallest element.
    ///
    /// # Panics
    /// On an empty tensor; see [`try_min`](Tensor::try_min).
    pub fn min(self) -> Tensor<'g> {
        or_panic(self.try_min())
    }

    /// Sums this tensor down to `shape`, which must broadcast to its shape (PyTorch's
    /// `sum_to_size`, `SumBackward1`): the reverse of broadcasting.
    pub fn try_sum_to_size(self, shape: Shape) -> Result<Tensor<'g>, Error> {
        self.graph.try_record_with(Op::Structural(StructuralOp::SumToSize), &[self], &[(&[], shape)])
    }

    /// Sum along dimension `dim` (PyTorch's `sum(x, dim, keepdim)`, `SumBackward1`), the
    /// dimension kept with size 1 if `keepdim`: a matrix's column sums are `sum_dim(0, _)`,
    /// its row sums `sum_dim(1, _)` (or `-1`).
    ///
    /// ```
    /// use slope_graph::{Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.try_sum_dim(0, false).unwrap().to_vec(), vec![5.0, 7.0, 9.0]);
    /// let rows = m.try_sum_dim(1, true).unwrap();
    /// assert_eq!((rows.shape(), rows.to_vec()), (Shape::Matrix(2, 1), vec![6.0, 15.0]));
    /// assert!((m - m.try_mean_dim(1, true).unwrap()).sum().item().unwrap().abs() < 1e-12);
    /// ```
    pub fn try_sum_dim(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        let last = self.is_last_dim("sum", dim)?;
        match (self.shape(), last, keepdim) {
            (Shape::Matrix(r, _), true, true) => self.try_sum_to_size(Shape::Matrix(r, 1)),
            // row sums without the kept dimension: the transpose's column sums
            (Shape::Matrix(r, _), true, false) => self.t().try_sum_to_size(Shape::Vector(r)),
            (Shape::Matrix(_, c), false, true) => self.try_sum_to_size(Shape::Matrix(1, c)),
            (Shape::Matrix(_, c), false, false) => self.try_sum_to_size(Shape::Vector(c)),
            (Shape::Vector(_), _, true) => self.try_sum_to_size(Shape::Vector(1)),
            (shape @ Shape::Tensor(_), ..) => {
                // the sum with the dimension kept, then (if not kept) a reshape dropping it
                let mut dims = shape.dims();
                let at = self.dim_index("sum", dim, dims.len())?;
                dims[at] = 1;
                let kept = Shape::of(&dims);
                if keepdim {
                    return self.try_sum_to_size(kept);
                }
                dims.remove(at);
                self.graph.all_or_nothing(|| self.try_sum_to_size(kept)?.try_reshape(Shape::of(&dims)))
            }
            (shape, ..) => self.try_sum_to_size(if keepdim { shape } else { Shape::Scalar }),
        }
    }

    /// Sum along `dim`.
    ///
    /// # Panics
    /// If the tensor has no dimension `dim`; see [`try_sum_dim`](Tensor::try_sum_dim).
    pub fn sum_dim(self, dim: isize, keepdim: bool) -> Tensor<'g> {
        or_panic(self.try_sum_dim(dim, keepdim))
    }

    /// Mean along `dim` (PyTorch's `mean(x, dim, keepdim)`): [`try_sum_dim`](Tensor::try_sum_dim)
    /// divided by the dimension's size, so its `grad_fn` is `DivBackward0` (PyTorch's is
    /// `MeanBackward1`).
    pub fn try_mean_dim(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        let sum = self.try_sum_dim(dim, keepdim)?;
        let size = (self.shape().len() / sum.shape().len().max(1)) as f64;
        self.graph.record_with_constant(BinaryOp::Div, sum.index, size, false).map(|i| Tensor::new(self.graph, i))
    }

    /// Mean along `dim`.
    ///
    /// # Panics
    /// If the tensor has no dimension `dim`; see [`try_mean_dim`](Tensor::try_mean_dim).
    pub fn mean_dim(self, dim: isize, keepdim: bool) -> Tensor<'g> {
        or_panic(self.try_mean_dim(dim, keepdim))
    }

    /// Mean of all elements.
    pub fn mean(self) -> Tensor<'g> {
        or_panic(self.try_op(Op::Structural(StructuralOp::Mean), &[]))
    }

    /// Inner product of two vectors of one length.
    pub fn try_dot(self, rhs: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::Dot), &[rhs])
    }

    /// Inner product.
    ///
    /// # Panics
    /// Unless both are vectors of one length; see [`try_dot`](Tensor::try_dot).
    pub fn dot(self, rhs: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_dot(rhs))
    }

    /// Matrix product: `[m,k]@[k,n]`, `[m,k]@[k]`, `[k]@[k,n]` or `[k]@[k]`.
    pub fn try_matmul(self, rhs: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::Matmul), &[rhs])
    }

    /// Matrix product.
    ///
    /// # Panics
    /// If the inner dimensions differ; see [`try_matmul`](Tensor::try_matmul).
    pub fn matmul(self, rhs: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_matmul(rhs))
    }

    /// Transpose of a matrix; vectors and scalars are returned unchanged in value
    /// (PyTorch's `t()`).
    pub fn t(self) -> Tensor<'g> {
        or_panic(self.try_op(Op::Structural(StructuralOp::Transpose), &[]))
    }

    /// Rows `start..end` along the first dimension (a vector's elements), as PyTorch's
    /// `x[start:end]` (`SliceBackward0`).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(x.try_slice(1, 4).unwrap().to_vec(), vec![2.0, 3.0, 4.0]); // x[1:]
    /// assert_eq!(x.try_slice(0, 3).unwrap().to_vec(), vec![1.0, 2.0, 3.0]); // x[:-1]
    /// assert!(x.try_slice(2, 9).is_err());
    /// let m = g.matrix(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.try_slice(1, 3).unwrap().to_vec(), vec![3.0, 4.0, 5.0, 6.0]); // m[1:]
    /// ```
    pub fn try_slice(self, start: usize, end: usize) -> Result<Tensor<'g>, Error> {
        let shape = self.shape();
        if shape.rank() == 0 || start > end || end > shape.dim(0) {
            return Err(Error::SliceRange { start, end, shape });
        }
        let range = [start as f64, (end - start) as f64];
        self.graph.try_record_with(Op::Structural(StructuralOp::Slice), &[self], &[(&range, Shape::Vector(2))])
    }

    /// PyTorch's `narrow(dim, start, length)`: indices `start..start + length` along `dim`
    /// (`SliceBackward0`; along another dimension than the first through `transpose`).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.try_narrow(1, 1, 2).unwrap().to_vec(), vec![2.0, 3.0, 5.0, 6.0]); // m[:, 1:3]
    /// assert!(m.try_narrow(1, 2, 2).is_err());
    /// ```
    pub fn try_narrow(self, dim: isize, start: usize, length: usize) -> Result<Tensor<'g>, Error> {
        let shape = self.shape();
        let at = self.dim_index("narrow", dim, shape.rank().max(1))?;
        if at == 0 {
            return self.try_slice(start, start.saturating_add(length));
        }
        if start.saturating_add(length) > shape.dim(at) {
            return Err(Error::SliceRange { start, end: start.saturating_add(length), shape });
        }
        self.graph.all_or_nothing(|| {
            self.try_transpose(0, at as isize)?.try_slice(start, start + length)?.try_transpose(0, at as isize)
        })
    }

    /// Indices `start..start + length` along `dim`.
    ///
    /// # Panics
    /// If the range is outside the dimension; see [`try_narrow`](Tensor::try_narrow).
    pub fn narrow(self, dim: isize, start: usize, length: usize) -> Tensor<'g> {
        or_panic(self.try_narrow(dim, start, length))
    }

    /// PyTorch's `select(dim, index)` (`x[i]`, `x[:, j]`): index `index` along `dim`, that
    /// dimension removed (recorded as [`narrow`](Tensor::narrow) and a reshape, so its
    /// `grad_fn` is `ViewBackward0`; PyTorch's is `SelectBackward0`).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.try_select(1, 2).unwrap().to_vec(), vec![3.0, 6.0]); // m[:, 2]
    /// assert_eq!(m.try_select(0, 1).unwrap().to_vec(), vec![4.0, 5.0, 6.0]); // m[1]
    /// ```
    pub fn try_select(self, dim: isize, index: usize) -> Result<Tensor<'g>, Error> {
        let at = self.dim_index("select", dim, self.shape().rank().max(1))?;
        self.graph.all_or_nothing(|| self.try_narrow(at as isize, index, 1)?.try_squeeze(at as isize))
    }

    /// Index `index` along `dim`, the dimension removed.
    ///
    /// # Panics
    /// If the index is outside the dimension; see [`try_select`](Tensor::try_select).
    pub fn select(self, dim: isize, index: usize) -> Tensor<'g> {
        or_panic(self.try_select(dim, index))
    }

    /// The same elements, in order, in shape `shape`, of any rank (PyTorch's `reshape` and
    /// `view`, `ViewBackward0`; slope copies them): the shape must hold as many elements.
    ///
    /// ```
    /// use slope_graph::{Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).requires_grad_();
    /// let m = x.try_reshape(Shape::Matrix(2, 3)).unwrap();
    /// assert_eq!((m.shape(), m.grad_fn().unwrap().name()), (Shape::Matrix(2, 3), "ViewBackward0"));
    /// let t = x.try_reshape(Shape::of(&[3, 1, 2])).unwrap();
    /// assert_eq!(t.shape().dims(), vec![3, 1, 2]);
    /// assert!(x.try_reshape(Shape::Matrix(4, 2)).is_err()); // 8 elements asked of 6
    /// ```
    pub fn try_reshape(self, shape: Shape) -> Result<Tensor<'g>, Error> {
        if shape.checked_len() != Some(self.shape().len()) {
            return Err(Error::Reshape { op: "reshape", shape: self.shape(), target: shape });
        }
        self.graph.record_op(Op::Structural(StructuralOp::Reshape), &[self], &[], Some(shape))
    }

    /// [`try_reshape`](Tensor::try_reshape) to `dims`, one of which may be `-1`, the size
    /// that makes the shape hold every element (PyTorch's `view(2, -1)`).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// assert_eq!(x.try_view(&[2, -1, 1]).unwrap().shape().dims(), vec![2, 3, 1]);
    /// assert!(x.try_view(&[4, -1]).is_err());
    /// ```
    pub fn try_view(self, dims: &[isize]) -> Result<Tensor<'g>, Error> {
        let len = self.shape().len();
        let known: usize = dims.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
        let free = dims.iter().filter(|&&d| d < 0).count();
        let bad = |target| Error::Reshape { op: "view", shape: self.shape(), target };
        let mut sizes = Vec::with_capacity(dims.len());
        for &d in dims {
            sizes.push(match d {
                -1 if known > 0 && len % known == 0 => len / known,
                d if d >= 0 => d as usize,
                _ => return Err(bad(Shape::Vector(len))),
            });
        }
        if free > 1 || dims.iter().any(|&d| d < -1) {
            return Err(bad(Shape::Vector(len)));
        }
        let shape = Shape::new(&sizes).map_err(|reason| Error::BadShape { op: "view", reason })?;
        self.try_reshape(shape)
    }

    /// [`try_view`](Tensor::try_view).
    ///
    /// # Panics
    /// If the dimensions do not hold the elements.
    pub fn view(self, dims: &[isize]) -> Tensor<'g> {
        or_panic(self.try_view(dims))
    }

    /// [`try_unsqueeze`](Tensor::try_unsqueeze).
    ///
    /// # Panics
    /// If `dim` is out of range or the tensor has rank 6 already.
    pub fn unsqueeze(self, dim: isize) -> Tensor<'g> {
        or_panic(self.try_unsqueeze(dim))
    }

    /// [`try_squeeze`](Tensor::try_squeeze).
    ///
    /// # Panics
    /// If `dim` is out of range.
    pub fn squeeze(self, dim: isize) -> Tensor<'g> {
        or_panic(self.try_squeeze(dim))
    }

    /// A new dimension of size 1 at `dim` (`-1` appends it), as PyTorch's `unsqueeze`: a
    /// reshape.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0]);
    /// assert_eq!(x.try_unsqueeze(0).unwrap().shape().dims(), vec![1, 2]);
    /// assert_eq!(x.try_unsqueeze(-1).unwrap().shape().dims(), vec![2, 1]);
    /// ```
    pub fn try_unsqueeze(self, dim: isize) -> Result<Tensor<'g>, Error> {
        let shape = self.shape();
        let mut dims = shape.dims();
        let at = self.dim_index("unsqueeze", dim, dims.len() + 1)?;
        dims.insert(at, 1);
        let target = Shape::new(&dims).map_err(|reason| Error::BadShape { op: "unsqueeze", reason })?;
        self.try_reshape(target)
    }

    /// Dimension `dim` removed if its size is 1 (otherwise the tensor unchanged), as
    /// PyTorch's `squeeze(dim)`: a reshape.
    pub fn try_squeeze(self, dim: isize) -> Result<Tensor<'g>, Error> {
        let mut dims = self.shape().dims();
        let at = self.dim_index("squeeze", dim, dims.len().max(1))?;
        if dims.get(at) != Some(&1) {
            return Ok(self);
        }
        dims.remove(at);
        self.try_reshape(Shape::of(&dims))
    }

    /// The dimensions reordered: output dimension `k` is dimension `perm[k]` (PyTorch's
    /// `permute`, `PermuteBackward0`); `perm` holds each of `0..rank` once. A matrix's
    /// `permute(&[1, 0])` is its transpose.
    ///
    /// ```
    /// use slope_graph::{Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let x = g.try_tensor(Shape::of(&[2, 1, 3]), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// let y = x.try_permute(&[2, 0, 1]).unwrap();
    /// assert_eq!((y.shape().dims(), y.to_vec()), (vec![3, 2, 1], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    /// assert!(x.try_permute(&[0, 0, 1]).is_err());
    /// ```
    pub fn try_permute(self, perm: &[usize]) -> Result<Tensor<'g>, Error> {
        let shape = self.shape();
        let rank = shape.rank();
        let code = crate::structural::permutation_code(perm).filter(|_| perm.len() == rank);
        let Some(code) = code else {
            return Err(Error::Permutation { shape, perm: perm.to_vec() });
        };
        if code == 0 {
            return Ok(self);
        }
        if rank == 2 {
            return self.try_op(Op::Structural(StructuralOp::Transpose), &[]);
        }
        self.graph.try_record_with(Op::Structural(StructuralOp::Permute), &[self], &[(&[code as f64], Shape::Scalar)])
    }

    /// The dimensions reordered.
    ///
    /// # Panics
    /// If `perm` is no permutation of the dimensions; see [`try_permute`](Tensor::try_permute).
    pub fn permute(self, perm: &[usize]) -> Tensor<'g> {
        or_panic(self.try_permute(perm))
    }

    /// Dimensions `dim0` and `dim1` swapped (PyTorch's `transpose`; negative dims count from
    /// the end): `transpose(-2, -1)` of a batch of matrices transposes each.
    ///
    /// ```
    /// use slope_graph::{Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let x = g.try_tensor(Shape::of(&[1, 2, 3]), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// let y = x.try_transpose(-2, -1).unwrap();
    /// assert_eq!((y.shape().dims(), y.to_vec()), (vec![1, 3, 2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    /// ```
    pub fn try_transpose(self, dim0: isize, dim1: isize) -> Result<Tensor<'g>, Error> {
        let rank = self.shape().rank();
        let (a, b) = (self.dim_index("transpose", dim0, rank.max(1))?, self.dim_index("transpose", dim1, rank.max(1))?);
        if rank < 2 {
            return Ok(self);
        }
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        self.try_permute(&perm)
    }

    /// Dimensions `dim0` and `dim1` swapped.
    ///
    /// # Panics
    /// If either dimension is out of range; see [`try_transpose`](Tensor::try_transpose).
    pub fn transpose(self, dim0: isize, dim1: isize) -> Tensor<'g> {
        or_panic(self.try_transpose(dim0, dim1))
    }

    /// Each matrix of a batch transposed, `transpose(-2, -1)` (PyTorch's `mT`).
    ///
    /// # Panics
    /// On a tensor of rank below 2.
    #[allow(non_snake_case)]
    pub fn mT(self) -> Tensor<'g> {
        if self.shape().rank() < 2 {
            panic!("mT: expects a tensor of rank 2 or more, got shape {}", self.shape());
        }
        self.transpose(-2, -1)
    }

    /// `dim` (negative counts from the end) as an index below `rank`, or the error.
    fn dim_index(self, op: &'static str, dim: isize, rank: usize) -> Result<usize, Error> {
        let span = rank as isize;
        if !(-span..span).contains(&dim) {
            return Err(Error::Dim { op, dim, shape: self.shape(), rank });
        }
        Ok(dim.rem_euclid(span) as usize)
    }

    /// The same elements in shape `shape`.
    ///
    /// # Panics
    /// If the shape does not hold the elements; see [`try_reshape`](Tensor::try_reshape).
    pub fn reshape(self, shape: Shape) -> Tensor<'g> {
        or_panic(self.try_reshape(shape))
    }

    /// The elements, in order, as a vector (PyTorch's `flatten`, `ViewBackward0`).
    ///
    /// # Panics
    /// Only if the graph is full.
    pub fn flatten(self) -> Tensor<'g> {
        or_panic(self.try_op(Op::Structural(StructuralOp::Flatten), &[]))
    }

    /// `tensors` joined along `dim` (PyTorch's `cat`, `CatBackward0`): vectors end to end, or
    /// matrices of one width stacked (`dim` 0) or of one height side by side (`dim` 1,
    /// recorded through transposes).
    ///
    /// ```
    /// use slope_graph::{forward, Graph, Shape, Tensor};
    ///
    /// let g = Graph::new();
    /// let a = g.matrix(1, 2, &[1.0, 2.0]).unwrap().requires_grad_();
    /// let b = g.matrix(1, 2, &[3.0, 4.0]).unwrap();
    /// let rows = Tensor::try_cat(&[a, b, a], 0).unwrap();
    /// assert_eq!((rows.shape(), rows.to_vec()), (Shape::Matrix(3, 2), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]));
    /// let side = Tensor::try_cat(&[a, b], 1).unwrap();
    /// assert_eq!((side.shape(), side.to_vec()), (Shape::Matrix(1, 4), vec![1.0, 2.0, 3.0, 4.0]));
    /// let da = forward::gradient(rows.sum(), &[a]).unwrap();
    /// assert_eq!(da[0].as_slice(), &[2.0, 2.0]); // joined twice
    /// assert!(Tensor::try_cat(&[a, g.vector(&[1.0])], 0).is_err());
    /// ```
    pub fn try_cat(tensors: &[Tensor<'g>], dim: isize) -> Result<Tensor<'g>, Error> {
        let Some((&first, rest)) = tensors.split_first() else {
            return Err(Error::Arity { op: "cat", expected: 1, got: 0 });
        };
        let rank = first.shape().rank();
        if let Some(other) = rest.iter().find(|t| t.shape().rank() != rank) {
            return Err(Error::ShapeMismatch { op: "cat", left: first.shape(), right: other.shape() });
        }
        let at = first.dim_index("cat", dim, rank.max(1))?;
        first.graph.all_or_nothing(|| {
            // `cat` joins along the first dimension: another one is turned to the front first
            // (a matrix's columns through its transpose) and back after.
            let turn = |t: Tensor<'g>| if at == 0 { Ok(t) } else { t.try_transpose(0, at as isize) };
            let mut joined = turn(first)?;
            for &t in rest {
                joined = joined.try_op(Op::Structural(StructuralOp::Cat), &[turn(t)?])?;
            }
            turn(joined)
        })
    }

    /// `tensors` joined along `dim`.
    ///
    /// # Panics
    /// If the shapes do not join; see [`try_cat`](Tensor::try_cat).
    pub fn cat(tensors: &[Tensor<'g>], dim: isize) -> Tensor<'g> {
        or_panic(Tensor::try_cat(tensors, dim))
    }

    /// `tensors` stacked along a new dimension `dim`.
    ///
    /// # Panics
    /// If the shapes differ; see [`try_stack`](Tensor::try_stack).
    pub fn stack(tensors: &[Tensor<'g>], dim: isize) -> Tensor<'g> {
        or_panic(Tensor::try_stack(tensors, dim))
    }

    /// `tensors`, each of one shape, stacked along a new dimension `dim` (PyTorch's
    /// `stack`): scalars into a vector, vectors into the rows (`dim` 0) or the columns
    /// (`dim` 1) of a matrix. Recorded as reshapes and `cat` (`grad_fn` `CatBackward0`
    /// where PyTorch says `StackBackward0`).
    ///
    /// ```
    /// use slope_graph::{Graph, Shape, Tensor};
    ///
    /// let g = Graph::new();
    /// let a = g.vector(&[1.0, 2.0]);
    /// let b = g.vector(&[3.0, 4.0]);
    /// assert_eq!(Tensor::try_stack(&[a, b], 0).unwrap().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let columns = Tensor::try_stack(&[a, b], 1).unwrap();
    /// assert_eq!((columns.shape(), columns.to_vec()), (Shape::Matrix(2, 2), vec![1.0, 3.0, 2.0, 4.0]));
    /// ```
    pub fn try_stack(tensors: &[Tensor<'g>], dim: isize) -> Result<Tensor<'g>, Error> {
        let Some(&first) = tensors.first() else {
            return Err(Error::Arity { op: "stack", expected: 1, got: 0 });
        };
        let shape = first.shape();
        let rank = shape.rank() + 1;
        first.dim_index("stack", dim, rank)?;
        if let Some(other) = tensors.iter().find(|t| t.shape() != shape) {
            return Err(Error::ShapeMismatch { op: "stack", left: shape, right: other.shape() });
        }
        first.graph.all_or_nothing(|| {
            let parts: Vec<Tensor<'g>> = tensors.iter().map(|t| t.try_unsqueeze(dim)).collect::<Result<_, _>>()?;
            Tensor::try_cat(&parts, dim)
        })
    }

    /// Rows of a matrix, or elements of a vector, picked by `indices` in any order, repeats
    /// allowed (PyTorch's `index_select(0, indices)` and `x[indices]`,
    /// `IndexSelectBackward0`); a picked row's gradient adds into the row it came from.
    ///
    /// ```
    /// use slope_graph::{forward, Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap().requires_grad_();
    /// let picked = m.try_index_select(&[2, 0, 2]).unwrap();
    /// assert_eq!((picked.shape(), picked.to_vec()), (Shape::Matrix(3, 2), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]));
    /// let dm = forward::gradient(picked.sum(), &[m]).unwrap();
    /// assert_eq!(dm[0].as_slice(), &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// assert!(m.try_index_select(&[3]).is_err());
    /// ```
    pub fn try_index_select(self, indices: &[usize]) -> Result<Tensor<'g>, Error> {
        let rows: Vec<f64> = indices.iter().map(|&i| i as f64).collect();
        self.graph.all_or_nothing(|| {
            let idx = self.graph.try_tensor(Shape::Vector(rows.len()), &rows)?;
            self.try_op(Op::Structural(StructuralOp::IndexSelect), &[idx])
        })
    }

    /// Rows (elements) picked by `indices`.
    ///
    /// # Panics
    /// If an index is out of range; see [`try_index_select`](Tensor::try_index_select).
    pub fn index_select(self, indices: &[usize]) -> Tensor<'g> {
        or_panic(self.try_index_select(indices))
    }

    /// PyTorch's `gather(self, dim, index)` (`GatherBackward0`): `out[.., j, ..] =
    /// self[.., index[.., j, ..], ..]` along `dim`. `index` holds whole numbers, has this
    /// tensor's rank and at most its size along every other dimension, and gives the output
    /// its shape; it is never differentiated. The gradient adds into the elements picked.
    ///
    /// ```
    /// use slope_graph::{forward, Graph};
    ///
    /// let g = Graph::new();
    /// let x = g.matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap().requires_grad_();
    /// let index = g.matrix(2, 2, &[2.0, 0.0, 1.0, 1.0]).unwrap();
    /// let y = x.try_gather(1, index).unwrap();
    /// assert_eq!(y.to_vec(), vec![3.0, 1.0, 5.0, 5.0]);
    /// let dx = forward::gradient(y.sum(), &[x]).unwrap();
    /// assert_eq!(dx[0].as_slice(), &[1.0, 0.0, 1.0, 0.0, 2.0, 0.0]);
    /// ```
    pub fn try_gather(self, dim: isize, index: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        let (last, turn) = self.turn_to_last("gather", dim, index)?;
        self.graph.all_or_nothing(|| {
            let gathered = turn(self)?.try_op(Op::Structural(StructuralOp::Gather), &[turn(index)?])?;
            if last {
                Ok(gathered)
            } else {
                turn(gathered)
            }
        })
    }

    /// Elements picked along `dim` by `index`.
    ///
    /// # Panics
    /// If an index is out of range or the shapes do not fit; see
    /// [`try_gather`](Tensor::try_gather).
    pub fn gather(self, dim: isize, index: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_gather(dim, index))
    }

    /// PyTorch's `self.scatter_add(dim, index, src)` (`ScatterAddBackward0`): this tensor
    /// with each `src[.., j, ..]` added at `[.., index[.., j, ..], ..]` along `dim` (repeated
    /// indices add up). `src` has `index`'s shape, which fits this tensor as in
    /// [`try_gather`](Tensor::try_gather). This tensor's gradient is the output's; `src`'s is
    /// the output's gathered at `index`.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let counts = g.zeros(slope_graph::Shape::Vector(3)).unwrap();
    /// let src = g.vector(&[1.0, 2.0, 4.0]).requires_grad_();
    /// let index = g.vector(&[2.0, 0.0, 2.0]);
    /// let y = counts.try_scatter_add(0, index, src).unwrap();
    /// assert_eq!(y.to_vec(), vec![2.0, 0.0, 5.0]);
    /// ```
    pub fn try_scatter_add(self, dim: isize, index: Tensor<'g>, src: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        let (last, turn) = self.turn_to_last("scatter_add", dim, index)?;
        self.graph.all_or_nothing(|| {
            let (target, src, index) = (turn(self)?, turn(src)?, turn(index)?);
            let added = target.try_op(Op::Structural(StructuralOp::ScatterAdd), &[src, index])?;
            if last {
                Ok(added)
            } else {
                turn(added)
            }
        })
    }

    /// `src` added into this tensor along `dim` at `index`.
    ///
    /// # Panics
    /// If an index is out of range or the shapes do not fit; see
    /// [`try_scatter_add`](Tensor::try_scatter_add).
    pub fn scatter_add(self, dim: isize, index: Tensor<'g>, src: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_scatter_add(dim, index, src))
    }

    /// For the ops that work along the last dimension of this tensor and an index of its
    /// rank: whether `dim` is the last one, and what moves it there and back (a swap with
    /// the last dimension, its own inverse).
    #[allow(clippy::type_complexity)]
    fn turn_to_last(
        self,
        op: &'static str,
        dim: isize,
        index: Tensor<'g>,
    ) -> Result<(bool, impl Fn(Tensor<'g>) -> Result<Tensor<'g>, Error>), Error> {
        let rank = self.shape().rank();
        if index.shape().rank() != rank {
            return Err(Error::ShapeMismatch { op, left: self.shape(), right: index.shape() });
        }
        let at = self.dim_index(op, dim, rank.max(1))?;
        let last = rank.saturating_sub(1);
        Ok((
            at == last,
            move |t: Tensor<'g>| if at == last { Ok(t) } else { t.try_transpose(at as isize, last as isize) },
        ))
    }

    /// PyTorch's `where(condition, self, other)` (`self.where(condition, other)`,
    /// `WhereBackward0`): each element of `self` where `condition` is 1, of `other` where it
    /// is 0. The three shapes broadcast; `condition` holds zeros and ones (a comparison such
    /// as [`gt`](Tensor::gt) makes one) and is never differentiated. The gradient goes to the
    /// element picked.
    ///
    /// ```
    /// use slope_graph::{forward, Graph};
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[-1.0, 2.0, -3.0]).requires_grad_();
    /// let y = x.try_where_(x.gt(0.0), x * 0.1).unwrap(); // a leaky relu
    /// assert_eq!(y.grad_fn().unwrap().name(), "WhereBackward0");
    /// assert_eq!(y.to_vec(), vec![-0.1, 2.0, -0.30000000000000004]);
    /// let dx = forward::gradient(y.sum(), &[x]).unwrap();
    /// assert_eq!(dx[0].as_slice(), &[0.1, 1.0, 0.1]);
    /// ```
    #[doc(alias = "where")]
    pub fn try_where_(self, condition: Tensor<'g>, other: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        let mismatch = |left, right| Error::ShapeMismatch { op: "where", left, right };
        let xy = Broadcast::of(self.shape(), other.shape()).ok_or(mismatch(self.shape(), other.shape()))?;
        let shape = Broadcast::of(condition.shape(), xy.shape).ok_or(mismatch(condition.shape(), xy.shape))?.shape;
        self.graph.all_or_nothing(|| {
            let (x, y, mask) =
                (self.try_broadcast_to(shape)?, other.try_broadcast_to(shape)?, condition.try_broadcast_to(shape)?);
            x.try_op(Op::Structural(StructuralOp::Where), &[y, mask])
        })
    }

    /// `self` where `condition` is 1, `other` elsewhere.
    ///
    /// # Panics
    /// If the shapes do not broadcast or the condition holds another number than 0 or 1;
    /// see [`try_where_`](Tensor::try_where_).
    pub fn where_(self, condition: Tensor<'g>, other: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_where_(condition, other))
    }

    /// This tensor broadcast to `shape` (PyTorch's `broadcast_to`, `ExpandBackward0`): the
    /// shapes must broadcast to `shape`; itself if it has that shape already. Its gradient
    /// sums over the repeated dimensions.
    ///
    /// ```
    /// use slope_graph::{Graph, Shape};
    ///
    /// let g = Graph::new();
    /// let x = g.matrix(2, 1, &[1.0, 2.0]).unwrap();
    /// let y = x.try_broadcast_to(Shape::Matrix(2, 3)).unwrap();
    /// assert_eq!(y.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert!(x.try_broadcast_to(Shape::Matrix(3, 3)).is_err());
    /// ```
    pub fn try_broadcast_to(self, shape: Shape) -> Result<Tensor<'g>, Error> {
        if self.shape() == shape {
            return Ok(self);
        }
        self.graph.try_record_with(Op::Structural(StructuralOp::Expand), &[self], &[(&[], shape)])
    }

    /// This tensor broadcast to `shape`.
    ///
    /// # Panics
    /// If it does not broadcast to `shape`; see [`try_broadcast_to`](Tensor::try_broadcast_to).
    pub fn broadcast_to(self, shape: Shape) -> Tensor<'g> {
        or_panic(self.try_broadcast_to(shape))
    }

    /// This tensor broadcast to `sizes`, `-1` keeping a size.
    ///
    /// # Panics
    /// If it does not broadcast to `sizes`; see [`try_expand`](Tensor::try_expand).
    pub fn expand(self, sizes: &[isize]) -> Tensor<'g> {
        or_panic(self.try_expand(sizes))
    }

    /// PyTorch's `expand(*sizes)`: this tensor broadcast to `sizes`, where `-1` keeps the
    /// size of that dimension (aligned at the last dimension); see
    /// [`try_broadcast_to`](Tensor::try_broadcast_to).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0, 3.0]);
    /// assert_eq!(x.try_expand(&[2, -1]).unwrap().shape().dims(), vec![2, 3]);
    /// ```
    pub fn try_expand(self, sizes: &[isize]) -> Result<Tensor<'g>, Error> {
        let own = self.shape().dims();
        let lead = sizes.len().checked_sub(own.len());
        let bad = || Error::Reshape { op: "expand", shape: self.shape(), target: self.shape() };
        let lead = lead.ok_or_else(bad)?;
        let mut dims = Vec::with_capacity(sizes.len());
        for (k, &size) in sizes.iter().enumerate() {
            dims.push(match (size, k.checked_sub(lead).map(|j| own[j])) {
                (-1, Some(keep)) => keep,
                (size, _) if size >= 0 => size as usize,
                _ => return Err(bad()),
            });
        }
        self.try_broadcast_to(Shape::new(&dims)?)
    }

    /// Whether `dim` is this tensor's last dimension (`false` for the first of a matrix),
    /// or the error: PyTorch's `dim`, negative from the end.
    fn is_last_dim(self, op: &'static str, dim: isize) -> Result<bool, Error> {
        let shape = self.shape();
        let rank = shape.rank();
        let span = rank.max(1) as isize;
        if !(-span..span).contains(&dim) {
            return Err(Error::Dim { op, dim, shape, rank });
        }
        Ok(dim.rem_euclid(span) == span - 1)
    }

    /// A row of the table that works along the last dimension, along `dim`: the first
    /// dimension of a matrix through its transpose.
    fn along(self, op: StructuralOp, dim: isize, transpose_back: bool) -> Result<Tensor<'g>, Error> {
        if self.is_last_dim(op.name(), dim)? {
            return self.try_op(Op::Structural(op), &[]);
        }
        let last = self.shape().rank() as isize - 1;
        self.graph.all_or_nothing(|| {
            let moved = self.try_transpose(dim, last)?.try_op(Op::Structural(op), &[])?;
            match (transpose_back, moved.shape().rank()) {
                (true, _) => moved.try_transpose(dim, last),
                // the last dimension is gone: the one swapped there goes back in its place
                (false, rank) if (dim.rem_euclid(last + 1) as usize) + 1 < rank => {
                    // the swapped-in last dimension sits at `dim`: it goes to the end
                    let at = dim.rem_euclid(last + 1) as usize;
                    let perm: Vec<usize> = (0..rank).filter(|&p| p != at).chain([at]).collect();
                    moved.try_permute(&perm)
                }
                _ => Ok(moved),
            }
        })
    }

    /// Softmax along `dim` (PyTorch's `softmax(x, dim)`), stable for large inputs.
    /// `SoftmaxBackward0` along the last dimension; along the first dimension of a matrix it
    /// is computed on the transpose, so its `grad_fn` is `TBackward0`.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let p = g.vector(&[1000.0, 1000.0]).try_softmax(-1).unwrap();
    /// assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    /// assert!(g.vector(&[1.0]).try_softmax(1).is_err());
    /// ```
    pub fn try_softmax(self, dim: isize) -> Result<Tensor<'g>, Error> {
        self.along(StructuralOp::Softmax, dim, true)
    }

    /// Softmax along `dim`.
    ///
    /// # Panics
    /// If the tensor has no dimension `dim`; see [`try_softmax`](Tensor::try_softmax).
    pub fn softmax(self, dim: isize) -> Tensor<'g> {
        or_panic(self.try_softmax(dim))
    }

    /// Log-softmax along `dim` (PyTorch's `log_softmax(x, dim)`), stable; as
    /// [`try_softmax`](Tensor::try_softmax) for the `grad_fn` along a matrix's first dimension.
    pub fn try_log_softmax(self, dim: isize) -> Result<Tensor<'g>, Error> {
        self.along(StructuralOp::LogSoftmax, dim, true)
    }

    /// Log-softmax along `dim`.
    ///
    /// # Panics
    /// If the tensor has no dimension `dim`; see [`try_log_softmax`](Tensor::try_log_softmax).
    pub fn log_softmax(self, dim: isize) -> Tensor<'g> {
        or_panic(self.try_log_softmax(dim))
    }

    /// `ln(sum(exp(x)))` along `dim`, the dimension removed (PyTorch's `logsumexp(x, dim)`),
    /// without overflow.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let y = g.vector(&[1000.0, 1000.0]).try_logsumexp(0).unwrap();
    /// assert_eq!(y.item().unwrap(), 1000.0 + std::f64::consts::LN_2);
    /// ```
    pub fn try_logsumexp(self, dim: isize) -> Result<Tensor<'g>, Error> {
        self.along(StructuralOp::LogSumExp, dim, false)
    }

    /// `ln(sum(exp(x)))` along `dim`.
    ///
    /// # Panics
    /// If the tensor has no dimension `dim`; see [`try_logsumexp`](Tensor::try_logsumexp).
    pub fn logsumexp(self, dim: isize) -> Tensor<'g> {
        or_panic(self.try_logsumexp(dim))
    }

    /// Each element clamped to `[lo, hi]` (PyTorch's `clamp(x, min, max)`, `ClampBackward1`):
    /// `hi` where `lo > hi`; pass `f64::NEG_INFINITY` or `f64::INFINITY` for no bound. The
    /// gradient is 1 where `lo <= x <= hi`, bounds included, as in PyTorch.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[-2.0, 0.5, 3.0]);
    /// assert_eq!(x.try_clamp(-1.0, 1.0).unwrap().to_vec(), vec![-1.0, 0.5, 1.0]);
    /// ```
    pub fn try_clamp(self, lo: f64, hi: f64) -> Result<Tensor<'g>, Error> {
        self.graph.try_record_with(Op::Structural(StructuralOp::Clamp), &[self], &[(&[lo, hi], Shape::Vector(2))])
    }

    /// Each element clamped to `[lo, hi]`.
    ///
    /// # Panics
    /// Only if the graph is full; see [`try_clamp`](Tensor::try_clamp).
    pub fn clamp(self, lo: f64, hi: f64) -> Tensor<'g> {
        or_panic(self.try_clamp(lo, hi))
    }

    /// Mean squared error against `target` of the same shape (PyTorch's
    /// `mse_loss(input, target)`, mean reduction); both are differentiated.
    pub fn try_mse_loss(self, target: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::MseLoss), &[target])
    }

    /// Mean squared error against `target`.
    ///
    /// # Panics
    /// If the shapes differ; see [`try_mse_loss`](Tensor::try_mse_loss).
    pub fn mse_loss(self, target: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_mse_loss(target))
    }

    /// [`try_mse_loss`](Tensor::try_mse_loss) with PyTorch's `reduction`: `(input -
    /// target)²` per element, their sum, or their mean (the `mse_loss` row,
    /// `MseLossBackward0`).
    ///
    /// ```
    /// use slope_graph::{Graph, Reduction};
    ///
    /// let g = Graph::new();
    /// let (x, y) = (g.vector(&[1.0, 2.0]), g.vector(&[0.0, 4.0]));
    /// assert_eq!(x.try_mse_loss_reduced(y, Reduction::None).unwrap().to_vec(), vec![1.0, 4.0]);
    /// assert_eq!(x.try_mse_loss_reduced(y, Reduction::Sum).unwrap().item().unwrap(), 5.0);
    /// assert_eq!(x.try_mse_loss_reduced(y, Reduction::Mean).unwrap().item().unwrap(), 2.5);
    /// ```
    pub fn try_mse_loss_reduced(self, target: Tensor<'g>, reduction: Reduction) -> Result<Tensor<'g>, Error> {
        if reduction == Reduction::Mean {
            return self.try_mse_loss(target);
        }
        self.same_shape("mse_loss", target)?;
        self.graph.all_or_nothing(|| reduction.apply(self.try_sub(target)?.try_binary_scalar(BinaryOp::PowI, 2.0)?))
    }

    /// Cross-entropy of these logits against class `labels` (PyTorch's
    /// `cross_entropy(input, target)`, mean reduction): logits `[C]` with a scalar label, or
    /// `[B, C]` with a vector of `B` labels, whole numbers in `0..C`.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let logits = g.matrix(2, 3, &[2.0, 0.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
    /// let loss = logits.try_cross_entropy(g.vector(&[0.0, 2.0])).unwrap();
    /// let want = ((2f64.exp() + 2.0).ln() - 2.0 + 3f64.ln()) / 2.0;
    /// assert!((loss.item().unwrap() - want).abs() < 1e-15);
    /// assert!(logits.try_cross_entropy(g.vector(&[0.0, 3.0])).is_err()); // no class 3
    /// ```
    pub fn try_cross_entropy(self, labels: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_op(Op::Structural(StructuralOp::CrossEntropy), &[labels])
    }

    /// Cross-entropy against class `labels`.
    ///
    /// # Panics
    /// If the shapes or labels do not fit; see [`try_cross_entropy`](Tensor::try_cross_entropy).
    pub fn cross_entropy(self, labels: Tensor<'g>) -> Tensor<'g> {
        or_panic(self.try_cross_entropy(labels))
    }

    /// [`try_cross_entropy`](Tensor::try_cross_entropy) with PyTorch's `reduction`:
    /// `logsumexp(row) - row[label]` per row (`[B]`, or a scalar for logits `[C]`), their sum,
    /// or their mean (the `cross_entropy` row).
    pub fn try_cross_entropy_reduced(self, labels: Tensor<'g>, reduction: Reduction) -> Result<Tensor<'g>, Error> {
        if reduction == Reduction::Mean {
            return self.try_cross_entropy(labels);
        }
        self.graph.all_or_nothing(|| {
            self.try_op(Op::Structural(StructuralOp::LogSoftmax), &[])?.try_nll_loss_reduced(labels, reduction)
        })
    }

    /// Elements `start..end` of a vector.
    ///
    /// # Panics
    /// If the range is outside the vector; see [`try_slice`](Tensor::try_slice).
    pub fn slice(self, start: usize, end: usize) -> Tensor<'g> {
        or_panic(self.try_slice(start, end))
    }
}

/// Statistics and losses composed of the table's rows: their gradients are those rows'
/// (each checked by `cargo xtask gradcheck`), and so is their `grad_fn` (the last row
/// recorded), where PyTorch has one node of its own (`VarBackward0`, `NormBackward1`,
/// `BinaryCrossEntropyBackward0`, `NllLossBackward0`).
impl<'g> Tensor<'g> {
    /// Variance of all elements, `Σ (x - mean)² / (N - correction)` (PyTorch's
    /// `var(correction=1)`: `correction` 1 is the unbiased estimate, 0 the population
    /// variance; `N <= correction` gives `inf` or NaN, as in PyTorch).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(x.try_var(1).unwrap().item().unwrap(), 5.0 / 3.0);
    /// assert_eq!(x.try_std(0).unwrap().item().unwrap(), 1.25f64.sqrt());
    /// ```
    pub fn try_var(self, correction: usize) -> Result<Tensor<'g>, Error> {
        let n = self.shape().len();
        self.graph.all_or_nothing(|| {
            let centred = self.try_sub(self.try_op(Op::Structural(StructuralOp::Mean), &[])?)?;
            let squares = centred.try_mul(centred)?;
            squares
                .try_op(Op::Structural(StructuralOp::Sum), &[])?
                .try_binary_scalar(BinaryOp::Div, n as f64 - correction as f64)
        })
    }

    /// Variance along `dim` (PyTorch's `var(dim, correction, keepdim)`).
    pub fn try_var_dim(self, dim: isize, correction: usize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        let rank = self.shape().rank().max(1);
        let n = self.shape().dim(self.dim_index("var", dim, rank)?);
        self.graph.all_or_nothing(|| {
            let centred = self.try_sub(self.try_mean_dim(dim, true)?)?;
            let squares = centred.try_mul(centred)?;
            squares.try_sum_dim(dim, keepdim)?.try_binary_scalar(BinaryOp::Div, n as f64 - correction as f64)
        })
    }

    /// Standard deviation of all elements, the square root of [`try_var`](Tensor::try_var).
    pub fn try_std(self, correction: usize) -> Result<Tensor<'g>, Error> {
        self.graph.all_or_nothing(|| self.try_var(correction)?.try_op(Op::Unary(UnaryOp::Sqrt), &[]))
    }

    /// Standard deviation along `dim`.
    pub fn try_std_dim(self, dim: isize, correction: usize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        self.graph.all_or_nothing(|| self.try_var_dim(dim, correction, keepdim)?.try_op(Op::Unary(UnaryOp::Sqrt), &[]))
    }

    /// The Euclidean (Frobenius) norm of all elements, `sqrt(Σ x²)` (PyTorch's `norm()`);
    /// at the origin its gradient is 0, slope's rule at a singular point, where PyTorch's
    /// is NaN.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// assert_eq!(g.vector(&[3.0, 4.0]).norm().item().unwrap(), 5.0);
    /// ```
    pub fn norm(self) -> Tensor<'g> {
        or_panic(self.graph.all_or_nothing(|| {
            self.try_mul(self)?.try_op(Op::Structural(StructuralOp::Sum), &[])?.try_op(Op::Unary(UnaryOp::Sqrt), &[])
        }))
    }

    /// Binary cross-entropy of logits against targets in `[0, 1]` of the same shape, the
    /// mean of `softplus(x) - x · y` (PyTorch's `binary_cross_entropy_with_logits`, mean
    /// reduction), stable for logits of any size.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let loss = g.vector(&[0.0, 800.0]).try_binary_cross_entropy_with_logits(g.vector(&[1.0, 1.0])).unwrap();
    /// assert_eq!(loss.item().unwrap(), std::f64::consts::LN_2 / 2.0);
    /// ```
    pub fn try_binary_cross_entropy_with_logits(self, target: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_binary_cross_entropy_with_logits_reduced(target, Reduction::Mean)
    }

    /// [`try_binary_cross_entropy_with_logits`](Tensor::try_binary_cross_entropy_with_logits)
    /// with PyTorch's `reduction`: `softplus(x) - x · y` per element, their sum or their mean.
    pub fn try_binary_cross_entropy_with_logits_reduced(
        self,
        target: Tensor<'g>,
        reduction: Reduction,
    ) -> Result<Tensor<'g>, Error> {
        self.same_shape("binary_cross_entropy_with_logits", target)?;
        self.graph.all_or_nothing(|| {
            let softplus = self.try_op(Op::Unary(UnaryOp::Softplus), &[])?;
            reduction.apply(softplus.try_sub(self.try_mul(target)?)?)
        })
    }

    /// Binary cross-entropy of probabilities in `[0, 1]` against targets of the same shape,
    /// `-mean(y ln p + (1 - y) ln(1 - p))`, each logarithm clamped below at -100 as PyTorch's
    /// `binary_cross_entropy` does (mean reduction).
    pub fn try_binary_cross_entropy(self, target: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_binary_cross_entropy_reduced(target, Reduction::Mean)
    }

    /// [`try_binary_cross_entropy`](Tensor::try_binary_cross_entropy) with PyTorch's
    /// `reduction`: `-(y ln p + (1 - y) ln(1 - p))` per element, their sum or their mean.
    pub fn try_binary_cross_entropy_reduced(
        self,
        target: Tensor<'g>,
        reduction: Reduction,
    ) -> Result<Tensor<'g>, Error> {
        self.same_shape("binary_cross_entropy", target)?;
        self.graph.all_or_nothing(|| {
            let clamped_log =
                |t: Tensor<'g>| t.try_op(Op::Unary(UnaryOp::Log), &[])?.try_binary_scalar(BinaryOp::Maximum, -100.0);
            let one_minus =
                |t: Tensor<'g>| t.try_binary_scalar(BinaryOp::Sub, 1.0)?.try_op(Op::Unary(UnaryOp::Neg), &[]);
            let positive = target.try_mul(clamped_log(self)?)?;
            let negative = one_minus(target)?.try_mul(clamped_log(one_minus(self)?)?)?;
            let likelihood = positive.try_add(negative)?;
            // reduced before the sign: the mean as PyTorch's kernel and this crate always had it
            reduction.apply(likelihood)?.try_op(Op::Unary(UnaryOp::Neg), &[])
        })
    }

    /// The negative log-likelihood of log-probabilities `[B, C]` (or `[C]`) at class
    /// `labels` (`[B]`, or a scalar), `-mean_i x[i, label_i]` (PyTorch's `nll_loss`, mean
    /// reduction): `cross_entropy` is `nll_loss` of `log_softmax`.
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let logp = g.matrix(2, 3, &[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]).unwrap();
    /// assert_eq!(logp.try_nll_loss(g.vector(&[2.0, 0.0])).unwrap().item().unwrap(), 3.5);
    /// ```
    pub fn try_nll_loss(self, labels: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        self.try_nll_loss_reduced(labels, Reduction::Mean)
    }

    /// [`try_nll_loss`](Tensor::try_nll_loss) with PyTorch's `reduction`: `-x[i, label_i]`
    /// per row (`[B]`, or a scalar for `[C]`), their sum or their mean.
    pub fn try_nll_loss_reduced(self, labels: Tensor<'g>, reduction: Reduction) -> Result<Tensor<'g>, Error> {
        let (rows, classes) = match (self.shape(), labels.shape()) {
            (Shape::Vector(c), Shape::Scalar) => (1, c),
            (Shape::Matrix(b, c), Shape::Vector(n)) if b == n => (b, c),
            (left, right) => return Err(Error::ShapeMismatch { op: "nll_loss", left, right }),
        };
        let mut picks = Vec::with_capacity(rows);
        for (i, label) in labels.to_vec().into_iter().enumerate() {
            if !(label >= 0.0 && label.fract() == 0.0 && (label as usize) < classes) {
                return Err(Error::ClassLabel { label, classes });
            }
            picks.push(i * classes + label as usize);
        }
        self.graph.all_or_nothing(|| {
            let picked = self.try_op(Op::Structural(StructuralOp::Flatten), &[])?.try_index_select(&picks)?;
            let loss = reduction.apply(picked)?.try_op(Op::Unary(UnaryOp::Neg), &[])?;
            match reduction {
                Reduction::None if labels.shape().is_scalar() => loss.try_reshape(Shape::Scalar),
                _ => Ok(loss),
            }
        })
    }

    /// The largest element along `dim`, the dimension removed or kept with size 1 (PyTorch's
    /// `amax(x, dim, keepdim)`, `AmaxBackward0`): ties share the gradient evenly, NaN wins.
    ///
    /// ```
    /// use slope_graph::{forward, Graph};
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(2, 3, &[1.0, 5.0, 5.0, 4.0, 2.0, 0.0]).unwrap().requires_grad_();
    /// let columns = m.try_amax(0, false).unwrap();
    /// assert_eq!(columns.to_vec(), vec![4.0, 5.0, 5.0]);
    /// let rows = m.try_amax(1, true).unwrap();
    /// assert_eq!((rows.shape().dims(), rows.to_vec()), (vec![2, 1], vec![5.0, 4.0]));
    /// let d = forward::gradient(rows.sum(), &[m]).unwrap();
    /// assert_eq!(d[0].as_slice(), &[0.0, 0.5, 0.5, 1.0, 0.0, 0.0]); // a tie splits
    /// ```
    pub fn try_amax(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        self.extreme_along(StructuralOp::Amax, dim, keepdim)
    }

    /// The smallest element along `dim` (PyTorch's `amin(x, dim, keepdim)`).
    pub fn try_amin(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        self.extreme_along(StructuralOp::Amin, dim, keepdim)
    }

    /// PyTorch's `max(x, dim, keepdim)`: the largest values along `dim` (as
    /// [`try_amax`](Tensor::try_amax), so a tie shares the gradient, where PyTorch's `max`
    /// gives it to the index it returns) and the index of the first of them (a constant
    /// tensor of whole numbers; NaN counts as the largest).
    ///
    /// ```
    /// use slope_graph::Graph;
    ///
    /// let g = Graph::new();
    /// let m = g.matrix(2, 3, &[1.0, 5.0, 5.0, 4.0, 2.0, 0.0]).unwrap();
    /// let (values, indices) = m.try_max_dim(1, false).unwrap();
    /// assert_eq!((values.to_vec(), indices.to_vec()), (vec![5.0, 4.0], vec![1.0, 0.0]));
    /// assert_eq!(m.try_argmin(1, false).unwrap().to_vec(), vec![0.0, 2.0]);
    /// ```
    pub fn try_max_dim(self, dim: isize, keepdim: bool) -> Result<(Tensor<'g>, Tensor<'g>), Error> {
        let values = self.try_amax(dim, keepdim)?;
        Ok((values, self.try_argmax(dim, keepdim)?))
    }

    /// PyTorch's `min(x, dim, keepdim)`: the smallest values and the index of the first.
    pub fn try_min_dim(self, dim: isize, keepdim: bool) -> Result<(Tensor<'g>, Tensor<'g>), Error> {
        let values = self.try_amin(dim, keepdim)?;
        Ok((values, self.try_argmin(dim, keepdim)?))
    }

    /// The index along `dim` of the first largest element (PyTorch's `argmax(dim, keepdim)`),
    /// a constant tensor of whole numbers.
    pub fn try_argmax(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        self.arg_extreme("argmax", dim, keepdim, |a, b| a > b || (a.is_nan() && !b.is_nan()))
    }

    /// The index along `dim` of the first smallest element (PyTorch's `argmin`).
    pub fn try_argmin(self, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        self.arg_extreme("argmin", dim, keepdim, |a, b| a < b || (a.is_nan() && !b.is_nan()))
    }

    fn extreme_along(self, op: StructuralOp, dim: isize, keepdim: bool) -> Result<Tensor<'g>, Error> {
        let rank = self.shape().rank();
        let at = self.dim_index(op.name(), dim, rank.max(1))?;
        self.graph.all_or_nothing(|| {
            let reduced = self.along(op, dim, false)?;
            if keepdim && rank > 0 {
                reduced.try_unsqueeze(at as isize)
            } else {
                Ok(reduced)
            }
        })
    }

    fn arg_extreme(
        self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        beats: impl Fn(f64, f64) -> bool,
    ) -> Result<Tensor<'g>, Error> {
        let shape = self.shape();
        let mut dims = shape.dims();
        let at = self.dim_index(op, dim, dims.len().max(1))?;
        if dims.is_empty() {
            return self.graph.try_tensor(Shape::Scalar, &[0.0]);
        }
        let (size, inner) = (dims[at], dims[at + 1..].iter().product::<usize>());
        if size == 0 {
            return Err(Error::EmptyReduction { op });
        }
        let outer = shape.len() / (size * inner).max(1);
        let x = self.to_vec();
        let mut picked = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at_k = |k: usize| x[(o * size + k) * inner + i];
                let best = (1..size).fold(0, |best, k| if beats(at_k(k), at_k(best)) { k } else { best });
                picked.push(best as f64);
            }
        }
        if keepdim {
            dims[at] = 1;
        } else {
            dims.remove(at);
        }
        self.graph.try_tensor(Shape::of(&dims), &picked)
    }

    fn same_shape(self, op: &'static str, other: Tensor<'g>) -> Result<(), Error> {
        if self.shape() == other.shape() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch { op, left: self.shape(), right: other.shape() })
        }
    }
}

/// Each unary row of the op table as a `Tensor` method of its name (PyTorch's); an
/// `operator` row is the operator (`-x`).
macro_rules! tensor_unary_methods {
    ($($variant:ident: $kind:ident $method:ident, $name:ident, $grad_fn:literal, $domain:ident, $doc:literal;)*) => {
        impl<'g> Tensor<'g> {
            $(tensor_unary_methods!(@one $kind $name $variant $doc $grad_fn);)*
        }
    };
    (@one operator $name:ident $variant:ident $doc:literal $grad_fn:literal) => {};
    (@one $kind:ident $name:ident $variant:ident $doc:literal $grad_fn:literal) => {
        #[doc = concat!("Elementwise ", $doc, " (`", $grad_fn, "`).")]
        pub fn $name(self) -> Tensor<'g> {
            self.apply(UnaryOp::$variant)
        }
    };
}
slope_dual::unary_table!(tensor_unary_methods);

/// An elementwise comparison: what [`Tensor::try_compare`] tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `a > b` (PyTorch's `gt`).
    Gt,
    /// `a < b` (`lt`).
    Lt,
    /// `a >= b` (`ge`).
    Ge,
    /// `a <= b` (`le`).
    Le,
    /// `a == b` (`eq`).
    Eq,
    /// `a != b` (`ne`).
    Ne,
}

impl Comparison {
    /// Whether it holds; NaN compares as IEEE 754 says (unequal to everything, ordered with
    /// nothing), as in PyTorch.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Gt => a > b,
            Comparison::Lt => a < b,
            Comparison::Ge => a >= b,
            Comparison::Le => a <= b,
            Comparison::Eq => a == b,
            Comparison::Ne => a != b,
        }
    }
}

macro_rules! comparisons_with_a_number {
    ($($method:ident $variant:ident $symbol:literal),*) => {
        impl<'g> Tensor<'g> {
            $(
                #[doc = concat!("`self ", $symbol, " rhs` elementwise: a mask of ones and zeros, a constant \
                    (PyTorch's `", stringify!($method), "`, its boolean tensor as numbers); against a tensor: \
                    [`try_compare`](Tensor::try_compare).\n\n# Panics\nOnly if the graph is full.")]
                pub fn $method(self, rhs: f64) -> Tensor<'g> {
                    or_panic(self.graph.try_tensor(Shape::Scalar, &[rhs]).and_then(|rhs| self.try_compare(Comparison::$variant, rhs)))
                }
            )*
        }
    };
}
comparisons_with_a_number!(gt Gt ">", lt Lt "<", ge Ge ">=", le Le "<=", eq Eq "==", ne Ne "!=");

impl<'g> Tensor<'g> {
    /// `self op rhs` elementwise, the shapes broadcast: a mask of ones and zeros recorded as
    /// a leaf that does not require grad (PyTorch's comparisons give boolean tensors, outside
    /// autograd); multiply by it, or pick with [`where_`](Tensor::where_).
    ///
    /// ```
    /// use slope_graph::{Comparison, Graph};
    ///
    /// let g = Graph::new();
    /// let x = g.vector(&[-1.0, 0.0, 2.0]).requires_grad_();
    /// let positive = x.gt(0.0);
    /// assert_eq!(positive.to_vec(), [0.0, 0.0, 1.0]);
    /// assert!(!positive.requires_grad());
    /// let m = x.try_compare(Comparison::Le, g.vector(&[0.0, 0.0, 0.0]))?;
    /// assert_eq!((m * x).to_vec(), [-1.0, 0.0, 0.0]);
    /// # Ok::<(), slope_graph::Error>(())
    /// ```
    pub fn try_compare(self, op: Comparison, rhs: Tensor<'g>) -> Result<Tensor<'g>, Error> {
        let (left, right) = (self.shape(), rhs.shape());
        if !core::ptr::eq(self.graph, rhs.graph) {
            return Err(Error::ForeignNode { expected: self.graph.id(), found: rhs.graph.id() });
        }
        let layout = Broadcast::of(left, right).ok_or(Error::ShapeMismatch { op: "comparison", left, right })?;
        let (a, b) = (self.to_vec(), rhs.to_vec());
        let [(ar, ac), (br, bc)] = layout.strides;
        let mut mask = Vec::with_capacity(layout.shape.len());
        for [a0, b0] in layout.block_starts() {
            for i in 0..layout.rows {
                for j in 0..layout.cols {
                    let holds = op.holds(a[a0 + i * ar + j * ac], b[b0 + i * br + j * bc]);
                    mask.push(if holds { 1.0 } else { 0.0 });
                }
            }
        }
        self.graph.try_tensor(layout.shape, &mask)
    }
}

/// Each binary row with a tensor operand as a fallible `Tensor` method (`try_add`, ...).
macro_rules! tensor_binary_methods {
    ($($variant:ident: $kind:ident $method:ident $($infallible:ident)?, $name:literal, $grad_fn:literal, $domains:ident,
       |$a:ident, $b:ident| $primal:expr, $doc:literal;)*) => {
        impl<'g> Tensor<'g> {
            $(tensor_binary_methods!(@one $kind $method $variant $doc $grad_fn);)*
            $($(tensor_binary_methods!(@infallible $infallible $method $doc $grad_fn);)?)*
        }
    };
    (@one exponent $method:ident $variant:ident $doc:literal $grad_fn:literal) => {};
    (@one parameter $method:ident $variant:ident $doc:literal $grad_fn:literal) => {
        #[doc = concat!("Elementwise ", $doc, " (`", $grad_fn, "`), the setting a constant.\n\n# Panics\n\
            Only if the graph is full.")]
        pub fn $method(self, setting: f64) -> Tensor<'g> {
            self.scalar_binary(BinaryOp::$variant, setting, false)
        }
    };
    (@one $kind:ident $method:ident $variant:ident $doc:literal $grad_fn:literal) => {
        #[doc = concat!("Elementwise ", $doc, " (`", $grad_fn, "`); the shapes broadcast.")]
        pub fn $method(self, rhs: Tensor<'g>) -> Result<Tensor<'g>, Error> {
            self.try_binary(BinaryOp::$variant, rhs)
        }
    };
    (@infallible $infallible:ident $method:ident $doc:literal $grad_fn:literal) => {
        #[doc = concat!("Elementwise ", $doc, " (`", $grad_fn, "`); the shapes broadcast.\n\n# Panics\n\
            If the shapes do not broadcast or the tensors belong to different graphs, as PyTorch \
            raises; [`", stringify!($method), "`](Tensor::", stringify!($method), ") returns the error instead.")]
        pub fn $infallible(self, rhs: Tensor<'g>) -> Tensor<'g> {
            or_panic(self.$method(rhs))
        }
    };
}
slope_dual::binary_table!(tensor_binary_methods);

impl<'g> Neg for Tensor<'g> {
    type Output = Tensor<'g>;
    fn neg(self) -> Tensor<'g> {
        self.apply(UnaryOp::Neg)
    }
}

macro_rules! binary_operators {
    ($($Trait:ident $method:ident $op:ident),*) => {$(
        impl<'g> $Trait for Tensor<'g> {
            type Output = Tensor<'g>;
            /// # Panics
            /// If the shapes do not broadcast, or the tensors belong to different graphs.
            fn $method(self, rhs: Tensor<'g>) -> Tensor<'g> {
                or_panic(self.try_binary(BinaryOp::$op, rhs))
            }
        }
        impl<'g> $Trait<f64> for Tensor<'g> {
            type Output = Tensor<'g>;
            fn $method(self, rhs: f64) -> Tensor<'g> {
                self.scalar_binary(BinaryOp::$op, rhs, false)
            }
        }
        impl<'g> $Trait<Tensor<'g>> for f64 {
            type Output = Tensor<'g>;
            fn $method(self, rhs: Tensor<'g>) -> Tensor<'g> {
                rhs.scalar_binary(BinaryOp::$op, self, true)
            }
        }
    )*};
}
binary_operators!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);

impl fmt::Display for Tensor<'_> {
    /// As PyTorch prints: `tensor(2., requires_grad=True)`, `tensor(9., grad_fn=<AddBackward0>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.grad_fn() {
            Some(grad_fn) => format!(", grad_fn={grad_fn}"),
            None if self.requires_grad() => ", requires_grad=True".to_string(),
            None => String::new(),
        };
        f.write_str(&self.value().format_with(&suffix))
    }
}

impl fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor(graph #{}, node {}) = {}", self.graph.id(), self.index, self)
    }
}
