//! The op table: every differentiable operation of slope, one row per op.
//!
//! The elementwise ops are the rows of [`slope_dual::unary_table!`] and
//! [`slope_dual::binary_table!`] ([`UnaryOp`], [`BinaryOp`]): their names, `grad_fn`
//! names, primals (written once over [`Scalar`]) and checking domains; their local partials
//! come from evaluating the primal on duals, that is, from the rules of `slope_dual::rules`.
//! The structural ops (reductions, products, transposes) are the rows of
//! [`structural_table!`](crate::structural_table) below, each with a type of [`crate::structural`]
//! holding its output shape, primal and VJP. Everything else about an op (arity, which
//! inputs are differentiated, the shapes it is checked at, its `Tensor`, `Var` and formula
//! methods) is derived from these rows; no other file lists ops.

use slope_dual::Scalar;

use slope_dual::ops::{exponent_loop, Kernel1, Kernel2};
pub use slope_dual::ops::{BinaryOp, Domain, Kink, UnaryOp};

use crate::custom::{CustomOpId, GraphScalar};
use crate::shape::Broadcast;
use crate::structural::{self, Input, StructuralRule};
use crate::{Error, Shape};

/// Every operation a node can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// An elementwise function of one input.
    Unary(UnaryOp),
    /// An elementwise function of two inputs; the shapes broadcast (NumPy's rules).
    Binary(BinaryOp),
    /// A reduction or linear-algebra op with its own reverse rule.
    Structural(StructuralOp),
    /// An op a user registered ([`custom::register`](crate::custom::register)).
    Custom(CustomOpId),
}

/// The rows of the structural ops, handed to the macro `$then`.
///
/// Row: `Variant: "name", "GradFnBackward0", [DOMAIN per input], [shape cases], "doc";`.
/// The row's rules are the type of the same name in [`structural`](crate::structural)
/// (output shape, primal, VJP); the domains name constants of [`slope_dual::domain`]; the
/// shape cases are the input shapes the checker and the mode tests try.
#[macro_export]
macro_rules! structural_table {
    ($then:ident) => {
        $then! {
            Sum: "sum", "SumBackward0", [STRUCTURAL], [[V(4)], [M(2, 3)], [S], [T(&[2, 1, 3])]],
                "Sum of all elements, a scalar.";
            Mean: "mean", "MeanBackward0", [STRUCTURAL], [[V(4)], [M(2, 3)], [S], [T(&[2, 1, 3])]],
                "Mean of all elements, a scalar (NaN for an empty tensor, as in PyTorch).";
            Prod: "prod", "ProdBackward0", [STRUCTURAL], [[V(4)], [M(2, 3)], [S], [T(&[2, 1, 3])]],
                "Product of all elements, a scalar.";
            Dot: "dot", "DotBackward0", [STRUCTURAL, STRUCTURAL], [[V(3), V(3)]],
                "Inner product of two vectors of equal length.";
            Matmul: "matmul", "MmBackward0", [STRUCTURAL, STRUCTURAL],
                [[M(2, 3), M(3, 2)], [M(2, 3), V(3)], [V(2), M(2, 3)], [V(3), V(3)],
                 [T(&[2, 2, 3]), M(3, 2)], [T(&[2, 1, 2, 3]), T(&[3, 3, 2])], [V(2), T(&[2, 2, 3])], [T(&[2, 2, 3]), V(3)]],
                "Matrix product with PyTorch's `matmul` semantics: `[m,k]@[k,n]`, `[m,k]@[k]`, \
                 `[k]@[k,n]`, `[k]@[k]`, and at rank 3 and up a batch of products, the dimensions \
                 before the last two broadcast (`[b,m,k]@[k,n]`, `[b,1,m,k]@[c,k,n]`), a vector \
                 side read as a row or a column and dropped (`grad_fn` of the 2-D case).";
            Transpose: "t", "TBackward0", [STRUCTURAL], [[V(4)], [M(2, 3)], [S]],
                "Matrix transpose; the identity on vectors and scalars, as PyTorch's `t()`.";
            Permute: "permute", "PermuteBackward0", [STRUCTURAL, PERMUTATION], [[T(&[2, 3, 2]), S], [T(&[1, 2, 3]), S]],
                "The dimensions reordered (PyTorch's `permute`; `Tensor::transpose(d0, d1)` and \
                 `mT` record it at rank 3 and up): output dimension `k` is input dimension \
                 `perm[k]`, the permutation a constant, its index among the permutations of the \
                 rank (Lehmer code) as a scalar second input. A copy, its gradient the inverse \
                 permutation.";
            Slice: "slice", "SliceBackward0", [STRUCTURAL, RANGE], [[V(4), V(2)], [V(5), V(2)], [M(4, 2), V(2)], [T(&[4, 1, 2]), V(2)]],
                "Rows `start..start + len` along the first dimension (a vector's elements, a \
                 matrix's rows), the range `[start, len]` an attribute (`x[1:]`, `x[:-1]`; \
                 `Tensor::slice`, and `narrow`/`select` along any dimension, record it): a copy \
                 of the range, and its gradient an addition into it.";
            SumToSize: "sum_to_size", "SumBackward1", [STRUCTURAL, SHAPE_ONLY],
                [[M(2, 3), V(3)], [M(2, 3), M(2, 1)], [M(2, 3), M(1, 3)], [M(2, 3), S], [V(4), S], [V(4), V(1)],
                 [T(&[2, 3, 2]), T(&[2, 1, 2])], [T(&[2, 3, 2]), M(3, 1)]],
                "Sums the input down to the shape of the second input (read for its shape only), \
                 the reverse of broadcasting: each output element sums the input elements that \
                 broadcast from it (PyTorch's `sum_to_size`; `sum(dim, keepdim)` is made of it).";
            Max: "max", "MaxBackward1", [EXTREMUM], [[V(4)], [M(2, 3)], [S], [T(&[2, 1, 2])]],
                "The largest element, a scalar (NaN if any element is; ties share the gradient \
                 evenly, as in PyTorch).";
            Min: "min", "MinBackward1", [EXTREMUM], [[V(4)], [M(2, 3)], [S], [T(&[2, 1, 2])]],
                "The smallest element, a scalar (NaN if any element is; ties share the gradient).";
            Amax: "amax", "AmaxBackward0", [EXTREMUM], [[V(4)], [M(2, 3)], [S], [T(&[2, 2, 3])]],
                "The largest element along the last dimension, which is removed (PyTorch's \
                 `amax(x, -1)`; `Tensor::amax`/`max_dim` along any dim): NaN where a row holds \
                 one, ties share the gradient evenly, as PyTorch's `amax`.";
            Amin: "amin", "AminBackward0", [EXTREMUM], [[V(4)], [M(2, 3)], [S], [T(&[2, 2, 3])]],
                "The smallest element along the last dimension, which is removed (PyTorch's \
                 `amin(x, -1)`), ties sharing the gradient.";
            Clamp: "clamp", "ClampBackward1", [CLAMPED, BOUNDS], [[V(4), V(2)], [M(2, 3), V(2)], [S, V(2)], [T(&[2, 1, 2]), V(2)]],
                "Each element clamped to `[lo, hi]`, the bounds a constant `[lo, hi]` (`hi` where \
                 `lo > hi`, as PyTorch's `clamp(x, min, max)`); the gradient passes where \
                 `lo <= x <= hi`, bounds included, as in PyTorch.";
            Softmax: "softmax", "SoftmaxBackward0", [NORMALIZING], [[V(4)], [M(2, 3)], [S], [T(&[2, 2, 3])]],
                "`exp(x) / sum(exp(x))` along the last dimension (each row of a matrix, of each matrix of a batch), computed stably.";
            LogSoftmax: "log_softmax", "LogSoftmaxBackward0", [NORMALIZING], [[V(4)], [M(2, 3)], [S], [T(&[2, 2, 3])]],
                "`x - logsumexp(x)` along the last dimension, computed stably.";
            LogSumExp: "logsumexp", "LogsumexpBackward0", [NORMALIZING], [[V(4)], [M(2, 3)], [S], [T(&[2, 2, 3])]],
                "`ln(sum(exp(x)))` along the last dimension (a scalar of a vector, a vector of a \
                 matrix's rows), without overflow: `logsumexp([1000, 1000])` is `1000 + ln 2`.";
            MseLoss: "mse_loss", "MseLossBackward0", [NORMALIZING, NORMALIZING], [[V(4), V(4)], [M(2, 3), M(2, 3)], [S, S], [T(&[2, 1, 2]), T(&[2, 1, 2])]],
                "Mean squared error of two tensors of one shape, `mean((input - target)²)` (PyTorch's \
                 `mse_loss`, mean reduction); both are differentiated.";
            CrossEntropy: "cross_entropy", "NllLossBackward0", [NORMALIZING, CLASSES], [[V(3), S], [M(2, 3), V(2)]],
                "Cross-entropy of logits against class labels, the mean over the batch of \
                 `logsumexp(row) - row[label]` (PyTorch's `cross_entropy`: logits `[C]` with one \
                 label or `[B, C]` with `B` labels, whole numbers in `0..C`).";
            Reshape: "reshape", "ViewBackward0", [STRUCTURAL], [[V(6)], [M(2, 3)], [T(&[2, 1, 3])], [S]],
                "The input's elements, in order, in a shape of as many elements that the node \
                 keeps (`Tensor::reshape` gives it; a file names it), of any rank (PyTorch's \
                 `reshape` and `view`). Recorded without a shape, the elements as a vector.";
            Flatten: "flatten", "ViewBackward0", [STRUCTURAL], [[M(2, 3)], [V(4)], [S], [T(&[2, 1, 3])]],
                "The input's elements, in order, as a vector (PyTorch's `flatten`).";
            Cat: "cat", "CatBackward0", [STRUCTURAL, STRUCTURAL], [[V(2), V(3)], [M(1, 3), M(2, 3)], [T(&[1, 2, 2]), T(&[2, 2, 2])]],
                "Two tensors of one rank whose dimensions after the first agree, joined along the \
                 first dimension (what `Tensor::cat` and `Tensor::stack` record, a pair at a time; \
                 along another dimension through `permute`).";
            IndexSelect: "index_select", "IndexSelectBackward0", [STRUCTURAL, INDICES], [[V(4), V(3)], [M(3, 2), V(4)], [T(&[3, 1, 2]), V(2)]],
                "Slices along the first dimension (rows of a matrix, elements of a vector) picked \
                 by a constant vector of indices, repeats allowed: PyTorch's \
                 `index_select(0, indices)`, `x[indices]`.";
            Where: "where", "WhereBackward0", [STRUCTURAL, STRUCTURAL, MASK],
                [[V(3), V(3), V(3)], [M(2, 3), M(2, 3), M(2, 3)], [S, S, S], [T(&[2, 1, 2]), T(&[2, 1, 2]), T(&[2, 1, 2])]],
                "PyTorch's `where(mask, x, y)`, inputs `x`, `y` and the constant mask, of one shape \
                 (`Tensor::where_` broadcasts them first): `x` where the mask is 1, `y` where it is \
                 0; the gradient goes to the element picked.";
            Expand: "expand", "ExpandBackward0", [STRUCTURAL, SHAPE_ONLY],
                [[V(1), V(3)], [M(2, 1), M(2, 3)], [S, M(2, 3)], [V(3), T(&[2, 2, 3])], [T(&[2, 1, 1]), T(&[2, 3, 2])]],
                "The input broadcast to a larger shape, the attribute (PyTorch's `expand`, \
                 `broadcast_to`): the reverse of `sum_to_size`, whose sum is its gradient.";
            Gather: "gather", "GatherBackward0", [STRUCTURAL, INDICES],
                [[V(3), V(4)], [M(2, 3), M(2, 2)], [M(2, 3), M(1, 4)], [T(&[2, 2, 3]), T(&[2, 1, 2])]],
                "PyTorch's `gather(x, -1, index)`: `out[.., j] = x[.., index[.., j]]` along the last \
                 dimension (`Tensor::gather` along any), the constant index of `x`'s rank and at \
                 most its size along the other dimensions; the gradient adds into the elements \
                 picked.";
            ScatterAdd: "scatter_add", "ScatterAddBackward0", [ADDITIVE, ADDITIVE, INDICES],
                [[V(3), V(4), V(4)], [M(2, 3), M(2, 2), M(2, 2)], [T(&[2, 2, 3]), T(&[2, 1, 2]), T(&[2, 1, 2])]],
                "PyTorch's `x.scatter_add(-1, index, src)`: `x` with `src[.., j]` added at \
                 `[.., index[.., j]]` along the last dimension (`Tensor::scatter_add` along any), \
                 `src` of the constant index's shape; `x`'s gradient is the output's, `src`'s \
                 the output's gathered at the index.";
        }
    };
}

macro_rules! define_structural_ops {
    ($($variant:ident: $name:literal, $grad_fn:literal, [$($domain:ident),+], [$([$($shape:expr),+]),+], $doc:literal;)*) => {
        /// Reductions and linear algebra: the rows of [`structural_table!`](crate::structural_table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum StructuralOp {
            $(#[doc = $doc] $variant,)*
        }

        impl StructuralOp {
            /// Every structural op, in table order.
            pub const ALL: &'static [StructuralOp] = &[$(StructuralOp::$variant),*];

            /// The method name.
            #[inline]
            pub const fn name(self) -> &'static str {
                match self {
                    $(StructuralOp::$variant => $name,)*
                }
            }

            /// PyTorch's `grad_fn` name.
            #[inline]
            pub const fn grad_fn_name(self) -> &'static str {
                match self {
                    $(StructuralOp::$variant => $grad_fn,)*
                }
            }

            /// Where each input is sampled when checking (one per input); a constant domain
            /// is an input that is never differentiated.
            #[inline]
            pub const fn domains(self) -> &'static [Domain] {
                match self {
                    $(StructuralOp::$variant => &[$(slope_dual::domain::$domain),+],)*
                }
            }

            /// The input shapes the op is checked at.
            #[inline]
            pub const fn shape_cases(self) -> &'static [&'static [Shape]] {
                #[allow(unused_imports)]
                use Shape::{Matrix as M, Scalar as S, Vector as V};
                #[allow(non_snake_case, dead_code)]
                const fn T(dims: &[usize]) -> Shape {
                    Shape::of(dims)
                }
                match self {
                    $(StructuralOp::$variant => {
                        const CASES: &[&[Shape]] = &[$(&[$($shape),+]),+];
                        CASES
                    },)*
                }
            }

            fn output_shape(self, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
                match self {
                    $(StructuralOp::$variant => structural::$variant::output_shape($name, inputs),)*
                }
            }

            fn check_values(self, inputs: &[Input<'_, f64>]) -> Result<(), Error> {
                match self {
                    $(StructuralOp::$variant => structural::$variant::check_values(inputs),)*
                }
            }

            /// Evaluates the op, appending the output to `out`; shapes must have passed
            /// [`Op::output_shape`].
            pub fn primal<S: Scalar>(self, inputs: &[Input<'_, S>], out: &mut Vec<S>) {
                match self {
                    $(StructuralOp::$variant => structural::$variant::primal(inputs, out),)*
                }
            }

            /// Adds the contribution of the output's adjoint `g` to input `input`'s adjoint.
            pub fn vjp<S: Scalar>(self, input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
                match self {
                    $(StructuralOp::$variant => structural::$variant::vjp(input, inputs, g, adjoint),)*
                }
            }

            /// [`vjp`](StructuralOp::vjp) into an adjoint that holds nothing yet (a sweep's
            /// first contribution to it): the result is that of zeroing it and adding.
            pub fn vjp_fresh<S: Scalar>(self, input: usize, inputs: &[Input<'_, S>], g: &[S], adjoint: &mut [S]) {
                match self {
                    $(StructuralOp::$variant => structural::$variant::vjp_fresh(input, inputs, g, adjoint),)*
                }
            }

            /// The one value every element of input `input`'s adjoint receives, where the op
            /// spreads its output's adjoint evenly (`sum`, `mean`): what [`vjp`](StructuralOp::vjp)
            /// adds to a zeroed adjoint at each element, bit for bit.
            pub fn uniform_vjp<S: Scalar>(self, input: usize, inputs: &[Input<'_, S>], g: &[S]) -> Option<S> {
                match self {
                    $(StructuralOp::$variant => structural::$variant::uniform_vjp(input, inputs, g),)*
                }
            }
        }
    };
}
structural_table!(define_structural_ops);

impl StructuralOp {
    /// Whether input `input` is differentiated (its domain is not constant).
    #[inline]
    pub const fn differentiates(self, input: usize) -> bool {
        input < self.arity() && !self.domains()[input].constant
    }

    /// Number of inputs: one per domain in its row, attributes included.
    #[inline]
    pub const fn arity(self) -> usize {
        self.domains().len()
    }

    /// Number of inputs that are nodes: the row's domains that are not attributes, which
    /// come first.
    #[inline]
    pub const fn node_arity(self) -> usize {
        let domains = self.domains();
        let mut k = 0;
        while k < domains.len() && !domains[k].attribute {
            k += 1;
        }
        k
    }
}

/// The most inputs a node reads, and the most attributes it keeps.
pub const MAX_NODE_INPUTS: usize = 3;
/// The most attributes a node keeps.
pub const MAX_ATTRIBUTES: usize = 2;
/// The most operands (node inputs and attributes) an op takes.
pub const MAX_OPERANDS: usize = 3;

// The node layout the arena assumes, held for every row: attributes after the node inputs,
// at most three node inputs of which only the first two are differentiated (a node keeps
// two `tracks` flags and two inputs inline; a third lives in its side table).
const _: () = {
    let mut i = 0;
    while i < StructuralOp::ALL.len() {
        let op = StructuralOp::ALL[i];
        let (domains, nodes) = (op.domains(), op.node_arity());
        assert!(domains.len() <= MAX_OPERANDS && nodes <= MAX_NODE_INPUTS && domains.len() - nodes <= MAX_ATTRIBUTES);
        let mut k = 0;
        while k < domains.len() {
            assert!(domains[k].attribute == (k >= nodes), "attributes come after the node inputs");
            assert!(k < 2 || domains[k].constant, "a third input is never differentiated");
            k += 1;
        }
        i += 1;
    }
};

impl Op {
    /// Every op in the table, in a fixed order (the built-in ops; registered custom ops are
    /// not part of the table).
    pub fn all() -> impl Iterator<Item = Op> {
        let unary = UnaryOp::ALL.iter().map(|&u| Op::Unary(u));
        let binary = BinaryOp::ALL.iter().map(|&b| Op::Binary(b));
        unary.chain(binary).chain(StructuralOp::ALL.iter().map(|&s| Op::Structural(s)))
    }

    /// Number of built-in ops.
    pub const COUNT: usize = UnaryOp::ALL.len() + BinaryOp::ALL.len() + StructuralOp::ALL.len();

    /// PyTorch's name for the backward node this op records (`y.grad_fn` in PyTorch).
    #[inline]
    pub fn grad_fn_name(self) -> &'static str {
        match self {
            Op::Unary(op) => op.grad_fn_name(),
            Op::Binary(op) => op.grad_fn_name(),
            Op::Structural(op) => op.grad_fn_name(),
            Op::Custom(id) => id.grad_fn_name(),
        }
    }

    /// The method name, as typed in slope and PyTorch (`exp`, `add`, `matmul`, ...).
    #[inline]
    pub fn name(self) -> &'static str {
        match self {
            Op::Unary(op) => op.name(),
            Op::Binary(op) => op.name(),
            Op::Structural(op) => op.name(),
            Op::Custom(id) => id.op().name(),
        }
    }

    /// Number of inputs, attributes included.
    #[inline]
    pub fn arity(self) -> usize {
        match self {
            Op::Unary(_) => 1,
            Op::Binary(_) => 2,
            Op::Structural(op) => op.arity(),
            Op::Custom(id) => id.op().arity(),
        }
    }

    /// Number of inputs that are nodes; the rest of [`arity`](Op::arity) are attributes
    /// (constants the node keeps: clamp's bounds, a slice's range, a permutation, a shape).
    #[inline]
    pub fn node_arity(self) -> usize {
        match self {
            Op::Structural(op) => op.node_arity(),
            op => op.arity(),
        }
    }

    /// Checking domain of each input (`arity()` entries).
    #[inline]
    pub fn domains(self) -> &'static [Domain] {
        match self {
            Op::Unary(op) => core::slice::from_ref(op.domain()),
            Op::Binary(op) => op.domains(),
            Op::Structural(op) => op.domains(),
            Op::Custom(id) => id.op().domains(),
        }
    }

    /// Whether input `input` is differentiated: every input whose domain is not constant
    /// (not the exponent of `powi`/`powf`, not slice indices).
    #[inline]
    pub fn differentiates(self, input: usize) -> bool {
        // Recording asks this of every node: the built-in ops answer from constants.
        match self {
            Op::Unary(_) => input == 0,
            Op::Binary(op) => op.differentiates(input),
            Op::Structural(op) => op.differentiates(input),
            Op::Custom(id) => id.op().domains().get(input).is_some_and(|d| !d.constant),
        }
    }

    /// Whether the formula language calls it by name: every op but the arithmetic operators
    /// and the constant-exponent powers, which formulas reach through `+ - * / **`.
    #[inline]
    pub fn is_function(self) -> bool {
        match self {
            Op::Unary(_) | Op::Structural(_) | Op::Custom(_) => true,
            Op::Binary(op) => op.is_function(),
        }
    }

    /// The input shapes the op is checked at (by the checker and the mode tests): every
    /// shape and broadcast it takes.
    #[inline]
    pub fn shape_cases(self) -> &'static [&'static [Shape]] {
        use Shape::{Matrix as M, Scalar as S, Vector as V};
        const T213: Shape = Shape::of(&[2, 1, 3]);
        const T123: Shape = Shape::of(&[1, 2, 3]);
        const T223: Shape = Shape::of(&[2, 2, 3]);
        match self {
            Op::Unary(_) => &[&[S], &[V(3)], &[M(2, 2)], &[T213]],
            Op::Binary(op) if op.differentiates(1) => &[
                &[S, S],
                &[V(3), V(3)],
                &[S, V(3)],
                &[V(3), S],
                &[M(2, 2), M(2, 2)],
                // a row, a column and an outer broadcast
                &[M(2, 3), V(3)],
                &[V(3), M(2, 3)],
                &[M(2, 1), M(2, 3)],
                &[M(1, 3), M(2, 1)],
                // rank 3: equal shapes, and broadcasts against lower ranks and across blocks
                &[T223, T223],
                &[T213, M(2, 3)],
                &[V(3), T223],
                &[T123, T213],
            ],
            // A constant exponent is a scalar.
            Op::Binary(_) => &[&[S, S], &[V(3), S]],
            Op::Structural(op) => op.shape_cases(),
            Op::Custom(id) => id.op().shape_cases(),
        }
    }

    /// Looks an op up by its method name (`"exp"`, `"matmul"`, ...), or a registered
    /// custom op by its name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::all().find(|op| op.name() == name).or_else(|| crate::custom::lookup(name))
    }

    /// The output shape for these inputs (values and shapes), or the error a caller should
    /// see. Only a parameter input's values are read (`slice`'s range); the rest is shapes.
    pub fn output_shape(self, inputs: &[Input<'_, f64>]) -> Result<Shape, Error> {
        if inputs.len() != self.arity() {
            return Err(Error::Arity { op: self.name(), expected: self.arity(), got: inputs.len() });
        }
        match self {
            Op::Unary(_) => Ok(inputs[0].1),
            Op::Binary(op) => broadcast(op.name(), inputs[0].1, inputs[1].1),
            Op::Structural(op) => op.output_shape(inputs),
            Op::Custom(id) => {
                let (shapes, arity) = shapes_of(inputs);
                id.op().output_shape(&shapes[..arity])
            }
        }
    }

    /// Checks what recording needs of the input values beyond their shapes (slice indices
    /// inside the sliced vector).
    pub fn check_values(self, inputs: &[Input<'_, f64>]) -> Result<(), Error> {
        match self {
            Op::Unary(_) | Op::Binary(_) => Ok(()),
            Op::Structural(op) => op.check_values(inputs),
            Op::Custom(id) => id.op().check_values(inputs),
        }
    }
}

/// The shape of an elementwise result: the two shapes broadcast ([`Broadcast`]).
pub fn broadcast(op: &'static str, left: Shape, right: Shape) -> Result<Shape, Error> {
    Broadcast::of(left, right).map(|b| b.shape).ok_or(Error::ShapeMismatch { op, left, right })
}

/// The shapes of a node's inputs, without allocating: what a custom op's `output_shape`
/// takes.
fn shapes_of<T>(inputs: &[Input<'_, T>]) -> ([Shape; MAX_OPERANDS], usize) {
    let mut shapes = [Shape::Scalar; MAX_OPERANDS];
    for (slot, &(_, shape)) in shapes.iter_mut().zip(inputs) {
        *slot = shape;
    }
    (shapes, inputs.len().min(shapes.len()))
}

/// Evaluates an op on input values of any [`Scalar`] type, appending the result to `out`.
/// Shapes must already have passed [`Op::output_shape`].
///
/// Fails only for a custom op whose primal appended another number of elements than its
/// output shape holds ([`Error::CustomOpOutput`]); `out` is then as it was.
pub fn eval_into<T: GraphScalar>(op: Op, inputs: &[Input<'_, T>], out: &mut Vec<T>) -> Result<(), Error> {
    match op {
        Op::Unary(_) | Op::Binary(_) => {
            let len = match inputs {
                [(_, a), (_, b)] => Broadcast::of(*a, *b).map_or(0, |layout| layout.shape.len()),
                _ => inputs.first().map_or(0, |(v, _)| v.len()),
            };
            let start = out.len();
            out.resize(start + len, T::zero());
            eval_elementwise(op, inputs, &mut out[start..]);
        }
        Op::Structural(s) => s.primal(inputs, out),
        Op::Custom(id) => {
            let op = id.op();
            let (shapes, arity) = shapes_of(inputs);
            let expected = op.output_shape(&shapes[..arity])?.len();
            let start = out.len();
            T::custom_primal(op, inputs, out);
            let got = out.len().checked_sub(start);
            if got != Some(expected) {
                out.truncate(start);
                return Err(Error::CustomOpOutput { op: op.name(), expected, got: got.unwrap_or(0) });
            }
        }
    }
    Ok(())
}

/// The elementwise ops (unary and binary, the shapes broadcast), written into
/// `out`, which has the output's length. Structural ops are left to [`eval_into`]. The op is
/// matched once; each loop is compiled for its op's own primal.
pub fn eval_elementwise<T: Scalar>(op: Op, inputs: &[Input<'_, T>], out: &mut [T]) {
    match op {
        Op::Unary(u) => u.with_primal(MapUnary { x: inputs[0].0, out }),
        Op::Binary(b) => b.with_primal(MapBinary { a: inputs[0], b: inputs[1], out }),
        Op::Structural(_) | Op::Custom(_) => {}
    }
}

/// `out[k] = f(x[k])`.
struct MapUnary<'a, T> {
    x: &'a [T],
    out: &'a mut [T],
}

impl<T: Copy> Kernel1<T> for MapUnary<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: Fn(T) -> T + Copy + Send + Sync>(self, f: F) {
        for (o, &x) in self.out.iter_mut().zip(self.x) {
            *o = f(x);
        }
    }
}

/// `out[k] = f(a[k], b[k])`, the shapes broadcast.
struct MapBinary<'a, T> {
    a: Input<'a, T>,
    b: Input<'a, T>,
    out: &'a mut [T],
}

impl<T: Scalar> Kernel2<T> for MapBinary<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run_exponent<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) {
        match self.b {
            ([c], shape) if shape.is_scalar() => exponent_loop(*c, f, self),
            _ => self.run(f),
        }
    }
    #[inline(always)]
    fn run<F: Fn(T, T) -> T + Copy + Send + Sync>(self, f: F) {
        let ((a, sa), (b, sb)) = (self.a, self.b);
        match (sa.is_scalar(), sb.is_scalar()) {
            _ if sa == sb => self.out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y)),
            (true, false) => {
                let x = a[0];
                self.out.iter_mut().zip(b).for_each(|(o, &y)| *o = f(x, y));
            }
            (false, true) => {
                let y = b[0];
                self.out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, y));
            }
            _ => {
                let Some(layout) = Broadcast::of(sa, sb) else {
                    unreachable!("elementwise shapes are validated before evaluation")
                };
                let [(ar, ac), (br, bc)] = layout.strides;
                let cols = layout.cols;
                let blocks = self.out.chunks_exact_mut((layout.rows * cols).max(1)).zip(layout.block_starts());
                for (block, [a0, b0]) in blocks {
                    let (a, b) = (&a[a0..], &b[b0..]);
                    for (i, row) in block.chunks_exact_mut(cols.max(1)).enumerate().take(layout.rows) {
                        let (a, b) = (&a[i * ar..], &b[i * br..]);
                        match (ac, bc) {
                            (1, 1) => row.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y)),
                            (1, _) => row.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, b[0])),
                            (_, 1) => row.iter_mut().zip(b).for_each(|(o, &y)| *o = f(a[0], y)),
                            _ => row.iter_mut().for_each(|o| *o = f(a[0], b[0])),
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_lists_every_op_once_with_distinct_names() {
        let ops: Vec<Op> = Op::all().collect();
        assert_eq!(ops.len(), Op::COUNT);
        let names: HashSet<_> = ops.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), ops.len(), "method names must be unique");
        for op in ops {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert!(op.grad_fn_name().ends_with("Backward0") || op.grad_fn_name().ends_with("Backward1"));
            assert_eq!(op.domains().len(), op.arity(), "{}", op.name());
            for d in op.domains() {
                // a constant setting may be checked at one value (`leaky_relu`'s slope)
                assert!(d.low < d.high || (d.constant && d.low == d.high), "{}: empty domain", op.name());
                let inside = |x: f64| d.support.0 < x && x < d.support.1;
                assert!(inside(d.low) && inside(d.high), "{}: samples outside the support", op.name());
                for &e in d.edges {
                    assert!(inside(e), "{}: edge {e} outside the support", op.name());
                }
                for k in d.kinks {
                    assert!(d.low < k.at && k.at < d.high, "{}: kink outside its domain", op.name());
                }
            }
        }
    }

    /// A row's one value for an evenly spread adjoint is what its VJP adds to zeros, bit
    /// for bit, at every element; `sum` and `mean` have one, and an op whose adjoint depends
    /// on its input's values has none.
    #[test]
    fn uniform_vjps_are_the_vjp_into_zeros() {
        let mut spread = Vec::new();
        for &op in StructuralOp::ALL {
            for case in op.shape_cases() {
                let values: Vec<Vec<f64>> =
                    case.iter().map(|s| (0..s.len()).map(|k| 0.25 + 0.5 * k as f64).collect()).collect();
                let inputs: Vec<Input<'_, f64>> = values.iter().map(|v| &v[..]).zip(case.iter().copied()).collect();
                let Some(u) = op.uniform_vjp(0, &inputs, &[-0.75]) else { continue };
                let mut adjoint = vec![0.0; case[0].len()];
                op.vjp(0, &inputs, &[-0.75], &mut adjoint);
                assert!(adjoint.iter().all(|a| a.to_bits() == u.to_bits()), "{}: {adjoint:?} against {u}", op.name());
                spread.push(op.name());
            }
        }
        spread.dedup();
        assert_eq!(spread, ["sum", "mean"]);
    }

    /// Every row's VJP into a fresh adjoint (holding anything: NaN here) is its VJP into
    /// zeros, bit for bit, for each differentiated input at each shape case.
    #[test]
    fn vjps_into_fresh_adjoints_are_the_vjp_into_zeros() {
        for &op in StructuralOp::ALL {
            for case in op.shape_cases() {
                let values: Vec<Vec<f64>> = case
                    .iter()
                    .zip(op.domains())
                    .map(|(s, d)| (0..s.len()).map(|k| d.at_element(0.3 + 0.1 * k as f64 % 0.6, k, s.len())).collect())
                    .collect();
                let inputs: Vec<Input<'_, f64>> = values.iter().map(|v| &v[..]).zip(case.iter().copied()).collect();
                let shape = op.output_shape(&inputs).unwrap();
                let g: Vec<f64> = (0..shape.len()).map(|k| 0.5 - 0.25 * k as f64).collect();
                for k in (0..case.len()).filter(|&k| op.differentiates(k)) {
                    let mut zeroed = vec![0.0; case[k].len()];
                    op.vjp(k, &inputs, &g, &mut zeroed);
                    let mut fresh = vec![f64::NAN; case[k].len()];
                    op.vjp_fresh(k, &inputs, &g, &mut fresh);
                    let same = zeroed.iter().zip(&fresh).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{} input {k} at {case:?}: {fresh:?} against {zeroed:?}", op.name());
                }
            }
        }
    }

    #[test]
    fn differentiates_is_what_the_domains_say() {
        for op in Op::all() {
            for k in 0..3 {
                let by_domain = op.domains().get(k).is_some_and(|d| !d.constant);
                assert_eq!(op.differentiates(k), by_domain, "{} input {k}", op.name());
            }
        }
    }

    #[test]
    fn constant_inputs_are_not_differentiated() {
        assert!(Op::Binary(BinaryOp::Pow).differentiates(1));
        assert!(!Op::Binary(BinaryOp::PowI).differentiates(1));
        assert!(!Op::Binary(BinaryOp::PowF).differentiates(1));
        assert!(Op::Binary(BinaryOp::PowF).differentiates(0));
        assert_eq!(BinaryOp::PowF.partials(2.0, 3.0), (12.0, 0.0));
        assert_eq!(BinaryOp::PowI.partials(2.0, 3.0), (12.0, 0.0));
    }

    #[test]
    fn permutation_codes_round_trip_in_lexicographic_order() {
        for rank in 0..=crate::MAX_RANK {
            let count: usize = (1..=rank).product();
            let perms: Vec<_> = (0..count).map(|c| structural::permutation(c, rank).unwrap()).collect();
            for (code, perm) in perms.iter().enumerate() {
                assert_eq!(structural::permutation_code(&perm[..rank]), Some(code));
            }
            assert!(perms.windows(2).all(|w| w[0][..rank] < w[1][..rank]), "rank {rank}");
            assert_eq!(structural::permutation(count, rank), None);
        }
        assert_eq!(structural::permutation_code(&[0, 0]), None);
    }

    #[test]
    fn matmul_shapes_follow_pytorch() {
        let mm = |a, b| Op::Structural(StructuralOp::Matmul).output_shape(&[(&[], a), (&[], b)]);
        assert_eq!(mm(Shape::Matrix(2, 3), Shape::Matrix(3, 4)), Ok(Shape::Matrix(2, 4)));
        assert_eq!(mm(Shape::Matrix(2, 3), Shape::Vector(3)), Ok(Shape::Vector(2)));
        assert_eq!(mm(Shape::Vector(3), Shape::Matrix(3, 4)), Ok(Shape::Vector(4)));
        assert_eq!(mm(Shape::Vector(3), Shape::Vector(3)), Ok(Shape::Scalar));
        assert!(mm(Shape::Matrix(2, 3), Shape::Matrix(2, 3)).is_err());
        assert!(mm(Shape::Scalar, Shape::Vector(3)).is_err());
    }

    #[test]
    fn matmul_evaluates_row_major_products() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1,2,3],[4,5,6]]
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // [[1,0],[0,1],[1,1]]
        let mut out = Vec::new();
        let op = Op::Structural(StructuralOp::Matmul);
        eval_into(op, &[(&a[..], Shape::Matrix(2, 3)), (&b[..], Shape::Matrix(3, 2))], &mut out).unwrap();
        assert_eq!(out, vec![4.0, 5.0, 10.0, 11.0]);
        let mut t = Vec::new();
        eval_into(Op::Structural(StructuralOp::Transpose), &[(&a[..], Shape::Matrix(2, 3))], &mut t).unwrap();
        assert_eq!(t, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
