//! Errors of the forward-mode helpers.

/// Bad input to a forward-mode helper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A vector whose length does not match the point.
    #[error("{what} has {got} element(s) but the point has {expected}; pass one entry per input")]
    InputLength {
        /// Which argument.
        what: &'static str,
        /// The point's length.
        expected: usize,
        /// The argument's length.
        got: usize,
    },
    /// A function whose output length changed between evaluations.
    #[error("the function returned {got} output(s) where an earlier evaluation returned {expected}; a Jacobian needs a fixed output length")]
    OutputLength {
        /// Length of the first evaluation.
        expected: usize,
        /// Length of a later one.
        got: usize,
    },
}
