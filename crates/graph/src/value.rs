//! `Value`: an owned tensor value (shape and row-major data), printed as PyTorch prints.

use core::fmt;

use crate::{pool, Error, Shape};

/// An owned value: what a node holds, or a gradient. Displays as PyTorch prints tensors:
/// `tensor(4.)`, `tensor([-20.0000, -15.5556, ...])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    shape: Shape,
    data: Vec<f64>,
}

impl Value {
    /// A value of `shape` holding `data` (row-major); an error if the lengths differ.
    pub fn new(shape: Shape, data: Vec<f64>) -> Result<Value, Error> {
        if shape.checked_len() != Some(data.len()) {
            return Err(Error::DataLength { shape, expected: shape.len(), got: data.len() });
        }
        Ok(Value { shape, data })
    }

    pub(crate) fn from_parts(shape: Shape, data: Vec<f64>) -> Value {
        debug_assert_eq!(shape.len(), data.len());
        Value { shape, data }
    }

    /// A copy of `data` in a buffer from this thread's pool (see [`pool`](crate::pool)),
    /// where a value dropped before it left one: no allocation, no page faults, in a loop
    /// that reads a large gradient every step.
    pub(crate) fn copied(shape: Shape, data: &[f64]) -> Value {
        debug_assert_eq!(shape.len(), data.len());
        let mut buffer = if data.len() >= pool::POOLED_LEN { pool::take_grad(data.len()) } else { Vec::new() };
        buffer.extend_from_slice(data);
        Value { shape, data: buffer }
    }

    /// A scalar value.
    pub fn scalar(x: f64) -> Value {
        Value { shape: Shape::Scalar, data: vec![x] }
    }

    /// A vector value.
    pub fn vector(data: Vec<f64>) -> Value {
        Value { shape: Shape::Vector(data.len()), data }
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The elements, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The elements, row-major.
    pub fn into_vec(mut self) -> Vec<f64> {
        core::mem::take(&mut self.data)
    }

    /// The single element of a one-element value (PyTorch's `item()`), or `None`.
    pub fn item(&self) -> Option<f64> {
        match self.data.as_slice() {
            [x] => Some(*x),
            _ => None,
        }
    }

    /// As an nalgebra matrix: a vector becomes a column, a scalar a 1x1 matrix.
    pub fn to_dmatrix(&self) -> nalgebra::DMatrix<f64> {
        match self.shape {
            Shape::Scalar => nalgebra::DMatrix::from_element(1, 1, self.data[0]),
            Shape::Vector(n) => nalgebra::DMatrix::from_column_slice(n, 1, &self.data),
            Shape::Matrix(r, c) => nalgebra::DMatrix::from_row_slice(r, c, &self.data),
            Shape::Tensor(_) => {
                let (r, c) = self.shape.as_rows_cols();
                nalgebra::DMatrix::from_row_slice(r, c, &self.data)
            }
        }
    }

    /// Formats as PyTorch does, with `suffix` (such as `, requires_grad=True`) before the
    /// closing parenthesis.
    pub fn format_with(&self, suffix: &str) -> String {
        format_tensor(self.shape, &self.data, suffix)
    }
}

/// A large value's buffer goes to this thread's pool for the next copy.
impl Drop for Value {
    fn drop(&mut self) {
        if self.data.capacity() >= pool::POOLED_LEN {
            pool::give_grads([core::mem::take(&mut self.data)]);
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_with(""))
    }
}

const LINE_WIDTH: usize = 80;
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE_ITEMS: usize = 3;
const PREFIX: &str = "tensor(";

enum Style {
    Integer,
    Fixed,
    Scientific,
}

fn style(data: &[f64]) -> Style {
    let finite: Vec<f64> = data.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e8) {
        return Style::Integer;
    }
    let nonzero: Vec<f64> = finite.iter().map(|x| x.abs()).filter(|&x| x > 0.0).collect();
    let max = nonzero.iter().copied().fold(0.0, f64::max);
    let min = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
    if max > 1e8 || min < 1e-4 || max / min > 1000.0 {
        Style::Scientific
    } else {
        Style::Fixed
    }
}

fn element(x: f64, style: &Style) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Integer => format!("{x:.0}."),
        Style::Fixed => format!("{x:.4}"),
        Style::Scientific => {
            let s = format!("{x:.4e}");
            match s.split_once('e') {
                Some((mantissa, exp)) => {
                    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
                    format!("{mantissa}e{sign}{digits:0>2}")
                }
                None => s,
            }
        }
    }
}

/// One row of elements, wrapped at the line width, with `indent` spaces on later lines.
fn row(items: &[String], width: usize, indent: usize) -> String {
    let per_line = ((LINE_WIDTH - indent) / (width + 2)).max(1);
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
            if i % per_line == 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            } else {
                out.push(' ');
            }
        }
        if item == "..." {
            out.push_str(" ...");
        } else {
            out.push_str(&format!("{item:>width$}"));
        }
    }
    out.push(']');
    out
}

/// Elements to show: all, or the first and last few with `...` between.
fn shown(len: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && len > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS).map(Some).chain([None]).chain((len - EDGE_ITEMS..len).map(Some)).collect()
    } else {
        (0..len).map(Some).collect()
    }
}

/// The elements of dimensions `dims` from element `start`, as nested lists (PyTorch's
/// layout: a blank line between blocks for each dimension above the rows).
fn nested(
    dims: &[usize],
    start: usize,
    text: &dyn Fn(usize) -> String,
    summarize: bool,
    width: usize,
    depth: usize,
) -> String {
    let stride: usize = dims[1..].iter().product();
    let indent = PREFIX.len() + depth + 1;
    if dims.len() == 1 {
        let items: Vec<String> = shown(dims[0], summarize)
            .into_iter()
            .map(|i| i.map_or_else(|| "...".into(), |i| text(start + i)))
            .collect();
        return row(&items, width, indent);
    }
    let parts: Vec<String> = shown(dims[0], summarize)
        .into_iter()
        .map(|i| match i {
            Some(i) => nested(&dims[1..], start + i * stride, text, summarize, width, depth + 1),
            None => "...".into(),
        })
        .collect();
    let separator = format!(",{}{}", "\n".repeat(dims.len() - 1), " ".repeat(indent));
    format!("[{}]", parts.join(&separator))
}

fn format_tensor(shape: Shape, data: &[f64], suffix: &str) -> String {
    let summarize = data.len() > SUMMARIZE_ABOVE;
    let style = style(data);
    let text = |i: Option<usize>| i.map_or_else(|| "...".to_string(), |i| element(data[i], &style));
    let body = match shape {
        Shape::Scalar => text(Some(0)),
        Shape::Vector(n) => {
            let items: Vec<String> = shown(n, summarize).into_iter().map(text).collect();
            let width = items.iter().map(String::len).max().unwrap_or(0);
            row(&items, width, PREFIX.len() + 1)
        }
        Shape::Matrix(r, c) => {
            let rows = shown(r, summarize);
            let cols = shown(c, summarize);
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|&i| match i {
                    Some(i) => cols.iter().map(|&j| text(j.map(|j| i * c + j))).collect(),
                    None => vec![],
                })
                .collect();
            let width = cells.iter().flatten().map(String::len).max().unwrap_or(0);
            let lines: Vec<String> = cells
                .iter()
                .map(|cells| if cells.is_empty() { "...".into() } else { row(cells, width, PREFIX.len() + 2) })
                .collect();
            format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(PREFIX.len() + 1))))
        }
        Shape::Tensor(_) => {
            let dims = shape.dims();
            let width = data.iter().map(|&x| element(x, &style).len()).max().unwrap_or(0);
            nested(&dims, 0, &|i| text(Some(i)), summarize, width, 0)
        }
    };
    format!("{PREFIX}{body}{suffix})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_pytorch() {
        assert_eq!(Value::scalar(4.0).to_string(), "tensor(4.)");
        assert_eq!(Value::scalar(407.407_407_407_407_4).to_string(), "tensor(407.4074)");
        assert_eq!(Value::vector(vec![0.0, 1.0]).to_string(), "tensor([0., 1.])");
        assert_eq!(Value::vector(vec![-20.0, 2.2222222]).to_string(), "tensor([-20.0000,   2.2222])");
        assert_eq!(Value::scalar(f64::NAN).to_string(), "tensor(nan)");
        assert_eq!(Value::vector(vec![1e-5, 1.0]).to_string(), "tensor([1.0000e-05, 1.0000e+00])");
        let m = Value::new(Shape::Matrix(2, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
        assert_eq!(Value::scalar(2.0).format_with(", requires_grad=True"), "tensor(2., requires_grad=True)");
    }

    #[test]
    fn tensors_of_rank_three_print_as_nested_blocks() {
        let t = Value::new(Shape::of(&[2, 2, 2]), (1..=8).map(f64::from).collect()).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])"
        );
    }

    #[test]
    fn long_vectors_wrap_and_summarize() {
        let v = Value::vector((0..2000).map(f64::from).collect());
        assert_eq!(v.to_string(), "tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])");
        let w = Value::vector((0..30).map(f64::from).collect()).to_string();
        assert!(w.lines().all(|l| l.len() <= LINE_WIDTH), "{w}");
        assert!(w.lines().count() > 1);
    }

    #[test]
    fn rejects_data_that_does_not_fit_the_shape() {
        assert!(matches!(Value::new(Shape::Matrix(2, 2), vec![1.0]), Err(Error::DataLength { .. })));
    }
}
