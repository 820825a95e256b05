//! What a check found: one row per subject and mode pair, naming the worst entry.

use core::fmt;

use serde::Serialize;

/// The two computations a row compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pair {
    /// Forward mode (duals) against reverse mode (VJPs): both exact, so the tightest.
    ForwardReverse,
    /// Forward mode against Richardson-extrapolated central differences of the primal.
    ForwardFiniteDifference,
    /// Reverse mode against Richardson-extrapolated central differences of the primal.
    ReverseFiniteDifference,
    /// The second-order forward Hessian (hyper-duals) against finite differences of the
    /// reverse-mode gradient.
    SecondOrder,
    /// Forward and reverse mode at a kink against the documented convention.
    Convention,
}

impl Pair {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Pair::ForwardReverse => "fwd/rev",
            Pair::ForwardFiniteDifference => "fwd/fd",
            Pair::ReverseFiniteDifference => "rev/fd",
            Pair::SecondOrder => "2nd/fd",
            Pair::Convention => "kink",
        }
    }
}

/// The largest disagreement of a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Worst {
    /// Which entry: `J[i][j]`, `H[i][j]`, or the kink.
    pub entry: String,
    /// The point, flattened.
    pub point: Vec<f64>,
    /// The first computation's value.
    pub left: f64,
    /// The second computation's value.
    pub right: f64,
    /// `|left - right| / max(|left|, |right|, 1)`: relative, absolute near zero.
    pub error: f64,
}

/// One subject and one pair of computations, over every point checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// What was checked (an op name, a graph, a function).
    pub subject: String,
    /// What was compared.
    pub pair: Pair,
    /// The tolerance on `error`.
    pub tolerance: f64,
    /// Entries compared.
    pub comparisons: u64,
    /// Entries whose error exceeded the tolerance (a NaN error always does).
    pub failures: u64,
    /// The worst entry.
    pub worst: Option<Worst>,
}

impl Row {
    pub(crate) fn new(subject: &str, pair: Pair, tolerance: f64) -> Row {
        Row { subject: subject.to_string(), pair, tolerance, comparisons: 0, failures: 0, worst: None }
    }

    /// Records one comparison.
    pub(crate) fn compare(&mut self, entry: impl FnOnce() -> String, point: &[f64], left: f64, right: f64) {
        let error = relative_error(left, right);
        self.comparisons += 1;
        if error.is_nan() || error > self.tolerance {
            self.failures += 1;
        }
        let worse = match &self.worst {
            None => true,
            Some(w) => error > w.error || (error.is_nan() && !w.error.is_nan()),
        };
        if worse {
            self.worst = Some(Worst { entry: entry(), point: point.to_vec(), left, right, error });
        }
    }

    /// One line naming the worst entry of a failed row, or `None` if the row passed.
    pub fn failure(&self) -> Option<String> {
        let w = self.worst.as_ref().filter(|_| !self.passed())?;
        Some(format!(
            "FAIL {} {}: {} at x = {:?}: {} vs {} (error {:.3e}, {} of {} entries over {:.0e})",
            self.subject,
            self.pair.label(),
            w.entry,
            w.point,
            w.left,
            w.right,
            w.error,
            self.failures,
            self.comparisons,
            self.tolerance
        ))
    }

    /// No entry exceeded the tolerance.
    pub fn passed(&self) -> bool {
        self.failures == 0
    }

    /// Merges another row of the same subject and pair.
    pub fn merge(&mut self, other: Row) {
        self.comparisons += other.comparisons;
        self.failures += other.failures;
        if let Some(w) = other.worst {
            let worse = self.worst.as_ref().is_none_or(|mine| w.error > mine.error || w.error.is_nan());
            if worse {
                self.worst = Some(w);
            }
        }
    }
}

/// `|a - b| / max(|a|, |b|, 1)`, NaN if either is NaN. Equal infinities agree.
pub fn relative_error(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    (a - b).abs() / a.abs().max(b.abs()).max(1.0)
}

/// Everything a check found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// One row per subject and pair.
    pub rows: Vec<Row>,
}

impl Report {
    /// True when every row passed.
    pub fn passed(&self) -> bool {
        self.rows.iter().all(Row::passed)
    }

    /// The rows that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !r.passed())
    }

    /// Total entries compared.
    pub fn comparisons(&self) -> u64 {
        self.rows.iter().map(|r| r.comparisons).sum()
    }

    /// Adds rows, merging those with the same subject and pair.
    pub fn extend(&mut self, other: Report) {
        for row in other.rows {
            match self.rows.iter_mut().find(|r| r.subject == row.subject && r.pair == row.pair) {
                Some(mine) => mine.merge(row),
                None => self.rows.push(row),
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:<8} {:>11} {:>11} {:>9}  result",
            "subject", "pair", "comparisons", "worst", "tolerance"
        )?;
        for row in &self.rows {
            let worst = row.worst.as_ref().map_or("-".to_string(), |w| format!("{:.2e}", w.error));
            writeln!(
                f,
                "{:<16} {:<8} {:>11} {:>11} {:>9.0e}  {}",
                row.subject,
                row.pair.label(),
                row.comparisons,
                worst,
                row.tolerance,
                if row.passed() { "ok" } else { "FAIL" }
            )?;
        }
        for line in self.rows.iter().filter_map(Row::failure) {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
