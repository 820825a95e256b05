//! Shapes: scalar `[]`, vector `[n]` and matrix `[rows, cols]` (row-major).

use core::fmt;

/// The shape of a node's value. Values are stored row-major, as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A single number, shape `[]`.
    Scalar,
    /// A vector of `n` elements, shape `[n]`.
    Vector(usize),
    /// A row-major matrix, shape `[rows, cols]`.
    Matrix(usize, usize),
}

impl Shape {
    /// Number of elements (1 for a scalar).
    pub fn len(self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Vector(n) => n,
            Shape::Matrix(r, c) => r.saturating_mul(c),
        }
    }

    /// True when the shape holds no element (`[0]`, `[0, c]`, `[r, 0]`).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Number of dimensions: 0, 1 or 2.
    pub fn rank(self) -> usize {
        match self {
            Shape::Scalar => 0,
            Shape::Vector(_) => 1,
            Shape::Matrix(..) => 2,
        }
    }

    /// True for shape `[]`.
    pub fn is_scalar(self) -> bool {
        self == Shape::Scalar
    }

    /// The dimensions, as PyTorch's `shape` lists them.
    pub fn dims(self) -> Vec<usize> {
        match self {
            Shape::Scalar => vec![],
            Shape::Vector(n) => vec![n],
            Shape::Matrix(r, c) => vec![r, c],
        }
    }

    /// The number of elements, checked against overflow of `usize`.
    pub(crate) fn checked_len(self) -> Option<usize> {
        match self {
            Shape::Scalar => Some(1),
            Shape::Vector(n) => Some(n),
            Shape::Matrix(r, c) => r.checked_mul(c),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Scalar => f.write_str("[]"),
            Shape::Vector(n) => write!(f, "[{n}]"),
            Shape::Matrix(r, c) => write!(f, "[{r}, {c}]"),
        }
    }
}

/// How two shapes broadcast against each other (NumPy's and PyTorch's rules, for ranks up
/// to 2): shapes are aligned at their last dimension, and along each dimension the sizes
/// are equal or one of them is 1, which is repeated. Every shape is read as `rows x cols`
/// (a scalar `1 x 1`, a vector `[n]` as `1 x n`); an input's element `(i, j)` of the
/// output lies at `i * row_stride + j * col_stride` of its data, a stride 0 along a
/// repeated dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// The output's shape.
    pub shape: Shape,
    /// The output's rows (1 below rank 2).
    pub rows: usize,
    /// The output's columns (1 for a scalar).
    pub cols: usize,
    /// `(row_stride, col_stride)` of each input.
    pub strides: [(usize, usize); 2],
}

impl Broadcast {
    /// The broadcast of `left` and `right`, or `None` where a dimension differs and neither
    /// size is 1.
    pub fn of(left: Shape, right: Shape) -> Option<Broadcast> {
        let (lr, lc) = left.as_rows_cols();
        let (rr, rc) = right.as_rows_cols();
        let join = |a: usize, b: usize| match (a, b) {
            _ if a == b => Some(a),
            (1, b) => Some(b),
            (a, 1) => Some(a),
            _ => None,
        };
        let (rows, cols) = (join(lr, rr)?, join(lc, rc)?);
        let shape = match left.rank().max(right.rank()) {
            0 => Shape::Scalar,
            1 => Shape::Vector(cols),
            _ => Shape::Matrix(rows, cols),
        };
        let strides = |r: usize, c: usize| (if r == 1 { 0 } else { c }, usize::from(c != 1));
        Some(Broadcast { shape, rows, cols, strides: [strides(lr, lc), strides(rr, rc)] })
    }

    /// Whether input `k` is repeated along some dimension (its adjoint is a sum).
    pub fn repeats(&self, k: usize) -> bool {
        let (r, c) = self.strides[k];
        (self.rows > 1 && r == 0) || (self.cols > 1 && c == 0)
    }
}

impl Shape {
    /// The shape read as `rows x cols`: a scalar `1 x 1`, a vector `[n]` as `1 x n`.
    pub fn as_rows_cols(self) -> (usize, usize) {
        match self {
            Shape::Scalar => (1, 1),
            Shape::Vector(n) => (1, n),
            Shape::Matrix(r, c) => (r, c),
        }
    }
}
