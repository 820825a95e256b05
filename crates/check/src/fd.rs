//! Central differences with Richardson extrapolation and an error estimate.

/// Number of step halvings: the table has this many rows.
const LEVELS: usize = 6;

/// A derivative estimated from finite differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The extrapolated derivative.
    pub value: f64,
    /// Estimated absolute error: the change between the last two extrapolation orders.
    pub error: f64,
}

/// Derivatives of every output of `f` along one coordinate, from central differences at
/// steps `h, h/2, h/4, ...` combined by Richardson extrapolation (each column removes the
/// next even power of `h`). For each output the diagonal entry with the smallest error
/// estimate is returned.
///
/// `f(t)` evaluates the function with the coordinate moved by `t`.
pub fn richardson(mut f: impl FnMut(f64) -> Vec<f64>, h: f64) -> Vec<Estimate> {
    // table[level][column][output]
    let mut table: Vec<Vec<Vec<f64>>> = Vec::with_capacity(LEVELS);
    let mut step = h;
    for level in 0..LEVELS {
        let (up, down) = (f(step), f(-step));
        let central: Vec<f64> = up.iter().zip(&down).map(|(a, b)| (a - b) / (2.0 * step)).collect();
        let mut row = vec![central];
        for col in 1..=level {
            let factor = 4f64.powi(col as i32);
            let prev_same = &row[col - 1];
            let prev_above = &table[level - 1][col - 1];
            let next = prev_same.iter().zip(prev_above).map(|(a, b)| a + (a - b) / (factor - 1.0)).collect();
            row.push(next);
        }
        table.push(row);
        step /= 2.0;
    }
    let outputs = table[0][0].len();
    (0..outputs)
        .map(|o| {
            let mut best = Estimate { value: table[0][0][o], error: f64::INFINITY };
            for k in 1..LEVELS {
                let value = table[k][k][o];
                let error = (value - table[k - 1][k - 1][o]).abs();
                if error < best.error || best.error.is_nan() {
                    best = Estimate { value, error };
                }
            }
            best
        })
        .collect()
}

/// [`richardson`] from `h`, and where an output's error estimate is not already far below
/// the tolerances, again from `h/16` and `h/256`, keeping per output the estimate with the
/// smallest error. A function that curves sharply on the scale of `h` (large second
/// derivatives deep in a graph) gets a step it can be resolved with.
pub fn richardson_adaptive(mut f: impl FnMut(f64) -> Vec<f64>, h: f64) -> Vec<Estimate> {
    let mut best = richardson(&mut f, h);
    let settled = |e: &Estimate| e.error <= 1e-10 * e.value.abs().max(1.0);
    for shrink in [16.0, 256.0] {
        if best.iter().all(settled) {
            break;
        }
        let next = richardson(&mut f, h / shrink);
        for (b, n) in best.iter_mut().zip(next) {
            if n.error < b.error || b.error.is_nan() {
                *b = n;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrapolation_reaches_near_machine_precision_on_smooth_functions() {
        for x in [-2.0_f64, 0.3, 1.7, 30.0] {
            let e = richardson(|t| vec![(x + t).exp(), (x + t).sin()], 1e-2 * x.abs().max(1.0));
            assert!((e[0].value - x.exp()).abs() <= 1e-11 * x.exp(), "exp'({x}) = {:?}", e[0]);
            assert!((e[1].value - x.cos()).abs() <= 1e-11, "sin'({x}) = {:?}", e[1]);
            assert!(e[0].error.is_finite());
        }
    }

    #[test]
    fn a_plain_central_difference_is_far_less_accurate() {
        let x = 0.7_f64;
        let h = 1e-2;
        let central = ((x + h).exp() - (x - h).exp()) / (2.0 * h);
        let r = richardson(|t| vec![(x + t).exp()], h)[0].value;
        assert!((central - x.exp()).abs() > 1e3 * (r - x.exp()).abs().max(1e-16));
    }
}
