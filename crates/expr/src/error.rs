//! Errors that point at the column.

use core::fmt;

/// What was wrong with a formula or a point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A character or token that does not belong there.
    Syntax,
    /// A function the language does not have.
    UnknownFunction,
    /// A variable the point does not give.
    UnknownVariable,
    /// A function called with the wrong number of arguments.
    Arity,
    /// Shapes that do not fit, or an output that is not what was asked.
    Shape,
    /// A point (`x=2,y=[1,2]`) that does not parse.
    Point,
    /// A formula nested deeper than [`MAX_NESTING`](crate::MAX_NESTING) levels.
    TooDeep,
}

/// An error with the column (1-based, in characters) it points at, and the source line
/// when there is one. Displays as the message, the line, and a caret under the column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// What kind of error.
    pub kind: ErrorKind,
    /// The message, saying what to do.
    pub message: String,
    /// 1-based column in `text`.
    pub column: usize,
    /// The text that was parsed.
    pub text: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>, column: usize, source: &str) -> Error {
        Error { kind, message: message.into(), column, text: source.to_string() }
    }
}

/// Characters of the text shown on each side of the column in a message.
const CONTEXT: usize = 40;

impl fmt::Display for Error {
    /// The message, then the text with a caret under the column; a long text is cut to
    /// `CONTEXT` characters on each side of the column, the cuts marked with `…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (column {})", self.message, self.column)?;
        let chars: Vec<char> = self.text.chars().collect();
        let at = self.column.saturating_sub(1).min(chars.len());
        let (start, end) = (at.saturating_sub(CONTEXT), (at + CONTEXT).min(chars.len()));
        let before = if start > 0 { "…" } else { "" };
        let after = if end < chars.len() { "…" } else { "" };
        let shown: String = chars[start..end].iter().collect();
        writeln!(f, "  {before}{shown}{after}")?;
        write!(f, "  {}{}^", " ".repeat(before.chars().count()), " ".repeat(at - start))
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 3) && d < c.len().max(word.len()))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
