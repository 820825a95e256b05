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
