//! Shapes of any rank from 0 to [`MAX_RANK`], stored row-major (C order), as in PyTorch.

use core::fmt;

/// The highest rank a tensor may have.
pub const MAX_RANK: usize = 6;

/// The shape of a node's value. Values are stored row-major (the last dimension varies
/// fastest), as in PyTorch.
///
/// Each shape has one spelling: rank 0, 1 and 2 are [`Scalar`](Shape::Scalar),
/// [`Vector`](Shape::Vector) and [`Matrix`](Shape::Matrix), and ranks 3 to [`MAX_RANK`] are
/// [`Tensor`](Shape::Tensor), made by [`Shape::new`] (which picks the variant), so two equal
/// shapes always compare equal.
///
/// ```
/// use slope_graph::Shape;
/// let s = Shape::new(&[2, 3, 4]).unwrap();
/// assert_eq!((s.rank(), s.len(), s.dims()), (3, 24, vec![2, 3, 4]));
/// assert_eq!(Shape::new(&[2, 3]).unwrap(), Shape::Matrix(2, 3));
/// assert_eq!(s.to_string(), "[2, 3, 4]");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A single number, shape `[]`.
    Scalar,
    /// A vector of `n` elements, shape `[n]`.
    Vector(usize),
    /// A row-major matrix, shape `[rows, cols]`.
    Matrix(usize, usize),
    /// Rank 3 to [`MAX_RANK`]: `[d0, d1, d2, ...]`, made by [`Shape::new`].
    Tensor(Dims),
}

/// The dimensions of a shape of rank 3 to [`MAX_RANK`] (each below 2^32, as the arena
/// stores them). Made only through [`Shape::new`], so a `Tensor` shape has rank 3 or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dims {
    rank: u8,
    dims: [u32; MAX_RANK],
}

impl Dims {
    /// The dimensions, outermost first.
    pub fn as_slice(&self) -> &[u32] {
        &self.dims[..self.rank as usize]
    }
}

/// Why [`Shape::new`] refused a list of dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// More than [`MAX_RANK`] dimensions.
    #[error("a shape of {0} dimensions; slope's tensors have at most 6 (MAX_RANK)")]
    Rank(usize),
    /// A dimension of 2^32 or more.
    #[error("a dimension of {0}; each dimension must be below 2^32")]
    Dimension(usize),
}

impl Shape {
    /// The shape with these dimensions (outermost first), in its one spelling; an error for
    /// more than [`MAX_RANK`] dimensions or a dimension of 2^32 or more.
    pub const fn new(dims: &[usize]) -> Result<Shape, ShapeError> {
        match *dims {
            [] => Ok(Shape::Scalar),
            [n] => Ok(Shape::Vector(n)),
            [r, c] => Ok(Shape::Matrix(r, c)),
            _ if dims.len() > MAX_RANK => Err(ShapeError::Rank(dims.len())),
            _ => {
                let mut packed = [0u32; MAX_RANK];
                let mut k = 0;
                while k < dims.len() {
                    if dims[k] > u32::MAX as usize {
                        return Err(ShapeError::Dimension(dims[k]));
                    }
                    packed[k] = dims[k] as u32;
                    k += 1;
                }
                Ok(Shape::Tensor(Dims { rank: dims.len() as u8, dims: packed }))
            }
        }
    }

    /// [`Shape::new`] for dimensions known to be valid (the op table's shape cases).
    ///
    /// # Panics
    /// On a list [`Shape::new`] refuses; in a constant, that is a compile error.
    pub const fn of(dims: &[usize]) -> Shape {
        match Shape::new(dims) {
            Ok(shape) => shape,
            Err(_) => panic!("a shape has at most MAX_RANK dimensions, each below 2^32"),
        }
    }

    /// Number of elements (1 for a scalar), saturating at `usize::MAX`.
    pub fn len(self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// True when the shape holds no element (`[0]`, `[0, c]`, `[r, 0]`, ...).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Number of dimensions, 0 to [`MAX_RANK`].
    pub fn rank(self) -> usize {
        match self {
            Shape::Scalar => 0,
            Shape::Vector(_) => 1,
            Shape::Matrix(..) => 2,
            Shape::Tensor(d) => d.rank as usize,
        }
    }

    /// True for shape `[]`.
    pub fn is_scalar(self) -> bool {
        self == Shape::Scalar
    }

    /// The dimensions, as PyTorch's `shape` lists them.
    pub fn dims(self) -> Vec<usize> {
        let mut out = [0; MAX_RANK];
        let rank = self.dims_into(&mut out);
        out[..rank].to_vec()
    }

    /// Writes the dimensions into `out` (outermost first) and returns the rank: the
    /// dimensions without allocating.
    pub fn dims_into(self, out: &mut [usize; MAX_RANK]) -> usize {
        match self {
            Shape::Scalar => 0,
            Shape::Vector(n) => {
                out[0] = n;
                1
            }
            Shape::Matrix(r, c) => {
                out[..2].copy_from_slice(&[r, c]);
                2
            }
            Shape::Tensor(d) => {
                for (o, &x) in out.iter_mut().zip(d.as_slice()) {
                    *o = x as usize;
                }
                d.rank as usize
            }
        }
    }

    /// Dimension `k` (outermost is 0); 1 past the rank.
    pub fn dim(self, k: usize) -> usize {
        let mut dims = [1; MAX_RANK];
        let rank = self.dims_into(&mut dims);
        if k < rank {
            dims[k]
        } else {
            1
        }
    }

    /// The last dimension (1 for a scalar).
    pub fn last_dim(self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Vector(n) | Shape::Matrix(_, n) => n,
            Shape::Tensor(d) => d.dims[d.rank as usize - 1] as usize,
        }
    }

    /// The number of elements, checked against overflow of `usize`.
    pub(crate) fn checked_len(self) -> Option<usize> {
        match self {
            Shape::Scalar => Some(1),
            Shape::Vector(n) => Some(n),
            Shape::Matrix(r, c) => r.checked_mul(c),
            Shape::Tensor(d) => d.as_slice().iter().try_fold(1usize, |p, &x| p.checked_mul(x as usize)),
        }
    }

    /// The shape read as `rows x cols`, the last dimension being the columns and every
    /// other one folded into the rows: a scalar `1 x 1`, a vector `[n]` `1 x n`, `[a, b, c]`
    /// `(a·b) x c`. What an op along the last dimension (`softmax`, `logsumexp`) iterates.
    pub fn as_rows_cols(self) -> (usize, usize) {
        match self {
            Shape::Scalar => (1, 1),
            Shape::Vector(n) => (1, n),
            Shape::Matrix(r, c) => (r, c),
            Shape::Tensor(_) => {
                let cols = self.last_dim();
                (self.len().checked_div(cols).unwrap_or(0), cols)
            }
        }
    }

    /// The shape without its last dimension (`[a, b, c]` -> `[a, b]`; a vector gives a
    /// scalar, a scalar stays one): what a reduction along the last dimension returns.
    pub fn without_last(self) -> Shape {
        let mut dims = [0; MAX_RANK];
        let rank = self.dims_into(&mut dims);
        Shape::of(&dims[..rank.saturating_sub(1)])
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        let mut dims = [0; MAX_RANK];
        let rank = self.dims_into(&mut dims);
        for (k, d) in dims[..rank].iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// How two shapes broadcast against each other (NumPy's and PyTorch's rules): shapes are
/// aligned at their last dimension, and along each dimension the sizes are equal or one of
/// them is 1, which is repeated.
///
/// The output is read as blocks of `rows x cols` (its last two dimensions; a scalar is one
/// `1 x 1` block, a vector `[n]` one `1 x n` block), one block per index of its leading
/// dimensions (rank 3 and up). Within a block an input's element `(i, j)` lies at
/// `i * row_stride + j * col_stride` from the block's start in that input's data, a stride 0
/// along a repeated dimension; [`block_starts`](Broadcast::block_starts) gives each block's
/// start in each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// The output's shape.
    pub shape: Shape,
    /// The output's rows (1 below rank 2).
    pub rows: usize,
    /// The output's columns (1 for a scalar).
    pub cols: usize,
    /// `(row_stride, col_stride)` of each input within a block.
    pub strides: [(usize, usize); 2],
    /// The output's leading dimensions (all but the last two), outermost first.
    outer: [usize; MAX_RANK - 2],
    /// Each input's stride along each leading dimension (0 where it is repeated).
    outer_strides: [[usize; MAX_RANK - 2]; 2],
    outer_rank: u8,
}

impl Broadcast {
    /// The broadcast of `left` and `right`, or `None` where a dimension differs and neither
    /// size is 1.
    pub fn of(left: Shape, right: Shape) -> Option<Broadcast> {
        let rank = left.rank().max(right.rank());
        // Each input's dimensions, aligned at the last and padded with 1s in front.
        let aligned = |s: Shape| {
            let mut dims = [1usize; MAX_RANK];
            let mut own = [0; MAX_RANK];
            let r = s.dims_into(&mut own);
            dims[rank - r..rank].copy_from_slice(&own[..r]);
            dims
        };
        let (l, r) = (aligned(left), aligned(right));
        let mut out = [1usize; MAX_RANK];
        for k in 0..rank {
            out[k] = match (l[k], r[k]) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => return None,
            };
        }
        // Row-major strides of each input, 0 along a dimension of size 1 (repeated, or
        // never stepped along).
        let strides_of = |dims: &[usize; MAX_RANK]| {
            let mut strides = [0usize; MAX_RANK];
            let mut step = 1usize;
            for k in (0..rank).rev() {
                strides[k] = if dims[k] == 1 { 0 } else { step };
                step = step.saturating_mul(dims[k]);
            }
            strides
        };
        let (ls, rs) = (strides_of(&l), strides_of(&r));
        let shape = Shape::new(&out[..rank]).ok()?;
        let lead = rank.saturating_sub(2);
        let at = |strides: &[usize; MAX_RANK], k: usize| if k < rank { strides[k] } else { 0 };
        let (rows, cols) = match rank {
            0 => (1, 1),
            1 => (1, out[0]),
            _ => (out[rank - 2], out[rank - 1]),
        };
        // Below rank 2 the missing row dimension has stride 0 (one row).
        let pair = |s: &[usize; MAX_RANK]| match rank {
            0 => (0, 0),
            1 => (0, at(s, 0)),
            _ => (at(s, rank - 2), at(s, rank - 1)),
        };
        let mut outer = [1; MAX_RANK - 2];
        let mut outer_strides = [[0; MAX_RANK - 2]; 2];
        outer[..lead].copy_from_slice(&out[..lead]);
        outer_strides[0][..lead].copy_from_slice(&ls[..lead]);
        outer_strides[1][..lead].copy_from_slice(&rs[..lead]);
        Some(Broadcast {
            shape,
            rows,
            cols,
            strides: [pair(&ls), pair(&rs)],
            outer,
            outer_strides,
            outer_rank: lead as u8,
        })
    }

    /// Number of `rows x cols` blocks: the product of the leading dimensions (1 below
    /// rank 3).
    pub fn blocks(&self) -> usize {
        self.outer[..self.outer_rank as usize].iter().product()
    }

    /// Each block's start in each input's data, block by block in row-major order (block `b`
    /// of the output starts at `b * rows * cols`).
    pub fn block_starts(&self) -> impl Iterator<Item = [usize; 2]> + '_ {
        let rank = self.outer_rank as usize;
        let mut index = [0usize; MAX_RANK - 2];
        let mut starts = [0usize; 2];
        let mut left = self.blocks();
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let current = starts;
            // Odometer over the leading dimensions, the last fastest.
            for k in (0..rank).rev() {
                index[k] += 1;
                for (s, strides) in starts.iter_mut().zip(&self.outer_strides) {
                    *s += strides[k];
                }
                if index[k] < self.outer[k] {
                    break;
                }
                for (s, strides) in starts.iter_mut().zip(&self.outer_strides) {
                    *s -= strides[k] * index[k];
                }
                index[k] = 0;
            }
            Some(current)
        })
    }

    /// Whether input `k` is repeated along some dimension (its adjoint is a sum).
    pub fn repeats(&self, k: usize) -> bool {
        let (r, c) = self.strides[k];
        let lead = self.outer_rank as usize;
        (self.rows > 1 && r == 0)
            || (self.cols > 1 && c == 0)
            || (0..lead).any(|d| self.outer[d] > 1 && self.outer_strides[k][d] == 0)
    }
}
