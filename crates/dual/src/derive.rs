//! Derivatives of functions written over `Float`: derivative, gradient (chunked),
//! Jacobian, Hessian and Jacobian-vector products, all in forward mode.

use crate::pass::Pass;
use crate::{ChunkDual, Dual, Error, HyperDual, LaneScalar, Scalar};

/// The chunk [`Function::gradient`] takes for `n` inputs: the smallest of 64, 128 and 255
/// that holds them all (one pass), else 255. A pass costs about the primal plus a few
/// operations per term its seeded inputs reach, so fewer, wider passes win: at W1 (n = 1000)
/// and W4 (4096 inputs) chunk 255 measured fastest, 64 and 128 slower in proportion to
/// their passes (`cargo run --release -p slope-benches --example forward_quick`, figures in
/// the README). A function whose values each depend on many seeded inputs at once writes
/// rows as wide as the chunk; measure yours where it matters.
///
/// ```
/// assert_eq!(slope_dual::recommended_chunk(10), 64);
/// assert_eq!(slope_dual::recommended_chunk(100), 128);
/// assert_eq!(slope_dual::recommended_chunk(4096), 255);
/// ```
pub const fn recommended_chunk(n: usize) -> usize {
    match n {
        0..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

/// `(f(x), f'(x))`.
///
/// ```
/// use num_traits::Float;
/// let (y, dy) = slope_dual::derivative(|x| x.powi(3) + x, 2.0);
/// assert_eq!((y, dy), (10.0, 13.0));
/// ```
pub fn derivative<T: Scalar>(f: impl Fn(Dual<T>) -> Dual<T>, x: T) -> (T, T) {
    let y = f(Dual::variable(x));
    (y.re, y.eps)
}

/// `(f(x), J(x)·v)`: the outputs and their directional derivative along `v`, in one
/// evaluation.
pub fn jvp<T: Scalar>(f: impl Fn(&[Dual<T>]) -> Vec<Dual<T>>, x: &[T], v: &[T]) -> Result<(Vec<T>, Vec<T>), Error> {
    if v.len() != x.len() {
        return Err(Error::InputLength { what: "the direction", expected: x.len(), got: v.len() });
    }
    let seeded: Vec<Dual<T>> = x.iter().zip(v).map(|(&x, &v)| Dual::new(x, v)).collect();
    let y = f(&seeded);
    Ok((y.iter().map(|d| d.re).collect(), y.iter().map(|d| d.eps).collect()))
}

/// The buffer of the chunked forward helpers kept between calls: the inputs as
/// [`ChunkDual`]s. [`gradient`] and [`jacobian`] make one per call; keep one yourself where a
/// gradient is taken in a loop.
///
/// ```
/// use num_traits::Float;
/// use slope_dual::{ChunkDual, Workspace};
///
/// fn f<T: Float>(x: &[T]) -> T {
///     x.iter().fold(T::zero(), |acc, &v| acc + v.sin())
/// }
/// let mut workspace = Workspace::<f64, 16>::new();
/// let mut grad = vec![0.0; 3];
/// for step in 0..3 {
///     let x = [0.0, 1.0, step as f64];
///     let value = workspace.gradient(|d: &[ChunkDual<f64, 16>]| f(d), &x, &mut grad).unwrap();
///     assert_eq!(value, f(&x));
///     assert_eq!(grad, x.map(f64::cos));
/// }
/// ```
#[derive(Clone, Default)]
pub struct Workspace<T, const N: usize> {
    /// Constants between calls; seeded in place during a pass, and handed to the closure
    /// as duals of that pass (`'static` shortens to any pass's lifetime).
    inputs: Vec<ChunkDual<'static, T, N>>,
}

impl<T, const N: usize> core::fmt::Debug for Workspace<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workspace").field("chunk", &N).field("inputs", &self.inputs.len()).finish()
    }
}

impl<T: LaneScalar, const N: usize> Workspace<T, N> {
    /// An empty workspace; its buffer grows to the largest point it is given.
    pub fn new() -> Self {
        Workspace { inputs: Vec::new() }
    }

    /// Runs `pass(start, inputs)` once per chunk of `N` inputs, with inputs
    /// `start..start + N` seeded and the others constant; at least once, for no inputs.
    fn passes<E>(
        &mut self,
        x: &[T],
        mut pass: impl FnMut(usize, &[ChunkDual<'static, T, N>], &Pass<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.inputs.clear();
        self.inputs.extend(x.iter().map(|&v| ChunkDual::constant(v)));
        let mut start = 0;
        loop {
            let end = x.len().min(start + N);
            let result = {
                let open = Pass::open(&mut self.inputs[start..end]);
                pass(start, &self.inputs, &open)
            };
            for d in &mut self.inputs[start..end] {
                *d = ChunkDual::constant(d.re);
            }
            result?;
            start = end;
            if start >= x.len() {
                return Ok(());
            }
        }
    }

    /// `f(x)`, with `∇f(x)` written to `grad`, in `ceil(n / N)` evaluations of `f`; see
    /// [`gradient`]. Fails if `grad` is not as long as `x`.
    pub fn gradient(
        &mut self,
        f: impl for<'p> Fn(&[ChunkDual<'p, T, N>]) -> ChunkDual<'p, T, N>,
        x: &[T],
        grad: &mut [T],
    ) -> Result<T, Error> {
        if grad.len() != x.len() {
            return Err(Error::InputLength { what: "the gradient buffer", expected: x.len(), got: grad.len() });
        }
        Ok(self.fill_gradient(f, x, grad))
    }

    /// [`Workspace::gradient`] with `grad.len() == x.len()` checked by the caller.
    fn fill_gradient(
        &mut self,
        f: impl for<'p> Fn(&[ChunkDual<'p, T, N>]) -> ChunkDual<'p, T, N>,
        x: &[T],
        grad: &mut [T],
    ) -> T {
        let mut value = T::nan();
        let Ok(()) = self.passes::<core::convert::Infallible>(x, |start, inputs, pass| {
            let y = f(inputs);
            pass.owns(&y.eps);
            value = y.re;
            let out = &mut grad[start..];
            let width = out.len().min(N);
            y.write_tangents(&mut out[..width]);
            Ok(())
        });
        value
    }

    /// `(f(x), J(x))` with `J` row-major (`J[i][j] = ∂f_i/∂x_j`), in `ceil(n / N)`
    /// evaluations of `f`; see [`jacobian`].
    #[allow(clippy::type_complexity)]
    pub fn jacobian(
        &mut self,
        f: impl for<'p> Fn(&[ChunkDual<'p, T, N>]) -> Vec<ChunkDual<'p, T, N>>,
        x: &[T],
    ) -> Result<(Vec<T>, Vec<Vec<T>>), Error> {
        let mut values: Option<Vec<T>> = None;
        let mut jac: Vec<Vec<T>> = Vec::new();
        self.passes(x, |start, inputs, pass| {
            let y = f(inputs);
            y.iter().for_each(|d| pass.owns(&d.eps));
            let values = values.get_or_insert_with(|| {
                jac = vec![vec![T::zero(); x.len()]; y.len()];
                y.iter().map(|d| d.re).collect()
            });
            if y.len() != values.len() {
                return Err(Error::OutputLength { expected: values.len(), got: y.len() });
            }
            let width = x.len().saturating_sub(start).min(N);
            for (row, d) in jac.iter_mut().zip(&y) {
                d.write_tangents(&mut row[start..start + width]);
            }
            Ok(())
        })?;
        Ok((values.unwrap_or_default(), jac))
    }
}

/// `(f(x), ∇f(x))` in `ceil(n / N)` evaluations of `f` on [`ChunkDual<T, N>`].
///
/// Each pass seeds `N` inputs and leaves the rest constant. Constants carry no tangent,
/// and a value carries only the lanes of the seeded inputs it depends on, so a pass costs
/// about the primal plus the tangents of what the seeded inputs reach. A larger chunk means
/// fewer passes, each with wider tangents where the seeded inputs meet (a running sum):
/// [`recommended_chunk`] gives the measured best for a number of inputs, and
/// [`Function::gradient`] picks it itself. In a loop, keep a [`Workspace`].
///
/// ```
/// use num_traits::Float;
///
/// fn rosenbrock<T: Float>(x: &[T]) -> T {
///     let hundred = T::from(100.0).unwrap();
///     x.windows(2).map(|w| hundred * (w[1] - w[0] * w[0]).powi(2) + (T::one() - w[0]).powi(2))
///         .fold(T::zero(), |a, b| a + b)
/// }
/// let (value, grad) = slope_dual::gradient::<_, 4>(|x| rosenbrock(x), &[1.0, 2.0, 1.0]);
/// assert_eq!(value, 1001.0);
/// assert_eq!(grad, vec![-400.0, 2602.0, -600.0]);
/// ```
///
/// The duals your closure is given live for that one call (`for<'p>`): write it inline, as
/// above, so that it gets that signature (a closure kept in a variable first does not; a
/// `fn f<'p>(x: &[ChunkDual<'p, f64, 4>]) -> ChunkDual<'p, f64, 4>` does). A dual kept past
/// its pass would carry lanes of a buffer that later passes reuse, so the compiler refuses
/// it, as it refuses a `Var` kept past its graph:
///
/// ```compile_fail,E0521
/// use std::sync::Mutex;
/// use slope_dual::gradient;
///
/// let stash = Mutex::new(None);
/// let _ = gradient::<f64, 2>(|x| { *stash.lock().unwrap() = Some(x[0]); x[0] * x[1] }, &[1.0, 2.0]);
/// let kept = stash.lock().unwrap().unwrap();
/// let _ = gradient::<f64, 2>(|x| x[1] + kept, &[5.0, 6.0]);
/// ```
///
/// nor can one be carried into a later call through the closure's own state, or moved to
/// another thread (its lanes are in this thread's buffer):
///
/// ```compile_fail,E0521
/// use std::cell::Cell;
/// use slope_dual::{gradient, ChunkDual};
///
/// let last: Cell<Option<ChunkDual<'_, f64, 2>>> = Cell::new(None);
/// let _ = gradient::<f64, 2>(|x| { let y = x[0] * x[1]; last.set(Some(y)); y }, &[1.0, 2.0]);
/// ```
///
/// ```compile_fail,E0277
/// use slope_dual::gradient;
///
/// let _ = gradient::<f64, 4>(|x| {
///     let y = x[0] * x[3];
///     std::thread::scope(|s| s.spawn(move || y * y).join().unwrap())
/// }, &[1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn gradient<T: LaneScalar, const N: usize>(
    f: impl for<'p> Fn(&[ChunkDual<'p, T, N>]) -> ChunkDual<'p, T, N>,
    x: &[T],
) -> (T, Vec<T>) {
    let mut grad = vec![T::zero(); x.len()];
    let value = Workspace::new().fill_gradient(f, x, &mut grad);
    (value, grad)
}

/// `(f(x), J(x))` with `J` row-major (`J[i][j] = ∂f_i/∂x_j`), in `ceil(n / N)` evaluations.
pub fn jacobian<T: LaneScalar, const N: usize>(
    f: impl for<'p> Fn(&[ChunkDual<'p, T, N>]) -> Vec<ChunkDual<'p, T, N>>,
    x: &[T],
) -> Result<(Vec<T>, Vec<Vec<T>>), Error> {
    Workspace::new().jacobian(f, x)
}

/// `(f(x), ∇f(x), H(x))`, exact, in `n(n+1)/2` evaluations of `f` on [`HyperDual`].
///
/// ```
/// use num_traits::Float;
/// let (v, g, h) = slope_dual::hessian(|x| x[0].powi(2) * x[1].powi(3), &[1.5, -0.5]);
/// assert_eq!(h[0][1], 6.0 * 1.5 * 0.25);
/// assert_eq!(h[0][1], h[1][0]);
/// ```
pub fn hessian<T: Scalar>(f: impl Fn(&[HyperDual<T>]) -> HyperDual<T>, x: &[T]) -> (T, Vec<T>, Vec<Vec<T>>) {
    let n = x.len();
    let mut value = f(&x.iter().map(|&v| HyperDual::constant(v)).collect::<Vec<_>>()).re;
    let mut grad = vec![T::zero(); n];
    let mut hess = vec![vec![T::zero(); n]; n];
    for i in 0..n {
        for j in i..n {
            let seeded: Vec<HyperDual<T>> = x
                .iter()
                .enumerate()
                .map(|(k, &v)| {
                    let one = |b: bool| if b { T::one() } else { T::zero() };
                    HyperDual::new(v, one(k == i), one(k == j), T::zero())
                })
                .collect();
            let y = f(&seeded);
            value = y.re;
            if i == j {
                grad[i] = y.eps1;
            }
            hess[i][j] = y.eps12;
            if let Some(mirror) = hess.get_mut(j).and_then(|row| row.get_mut(i)) {
                *mirror = y.eps12;
            }
        }
    }
    (value, grad, hess)
}

/// A function written once over [`Float`](num_traits::Float), so one value can be handed to
/// every helper, each evaluating it at the number type it needs: dual numbers here,
/// `slope::Var` for reverse mode (`slope::gradient(|x| f.eval(x), &x)`), all three modes in
/// `slope::check::check_function`.
///
/// ```
/// use num_traits::Float;
/// use slope_dual::Function;
///
/// struct Rosenbrock;
/// impl Function for Rosenbrock {
///     fn eval<T: Float>(&self, x: &[T]) -> T {
///         let hundred = T::from(100.0).unwrap();
///         hundred * (x[1] - x[0] * x[0]).powi(2) + (T::one() - x[0]).powi(2)
///     }
/// }
/// let (v, g, h) = Rosenbrock.hessian(&[1.0, 1.0]);
/// assert_eq!((v, g), (0.0, vec![0.0, 0.0]));
/// assert_eq!(h, vec![vec![802.0, -400.0], vec![-400.0, 200.0]]);
/// assert_eq!(Rosenbrock.gradient(&[1.0, 1.0]), (0.0, vec![0.0, 0.0]));
/// ```
pub trait Function {
    /// The function, at any number type.
    fn eval<T: num_traits::Float>(&self, x: &[T]) -> T;

    /// Its name in reports: the type's name.
    fn name(&self) -> String {
        core::any::type_name::<Self>().rsplit("::").next().unwrap_or("function").to_string()
    }

    /// `f(x)`.
    fn value<T: Scalar>(&self, x: &[T]) -> T {
        self.eval(x)
    }

    /// `(f(x), ∇f(x))`, in passes of [`recommended_chunk`]`(x.len())` tangents.
    fn gradient<T: LaneScalar>(&self, x: &[T]) -> (T, Vec<T>) {
        match recommended_chunk(x.len()) {
            64 => gradient::<T, 64>(|d| self.eval(d), x),
            128 => gradient::<T, 128>(|d| self.eval(d), x),
            _ => gradient::<T, 255>(|d| self.eval(d), x),
        }
    }

    /// `(f(x), ∇f(x), H(x))`.
    fn hessian<T: Scalar>(&self, x: &[T]) -> (T, Vec<T>, Vec<Vec<T>>) {
        hessian(|d| self.eval(d), x)
    }

    /// `(f(x), ∇f(x)·v)`.
    fn directional<T: Scalar>(&self, x: &[T], v: &[T]) -> Result<(T, T), Error> {
        let (y, dy) = jvp(|d| vec![self.eval(d)], x, v)?;
        Ok((y[0], dy[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::Float;

    fn f<S: Float>(x: &[S]) -> S {
        x.iter().enumerate().fold(S::zero(), |acc, (i, &xi)| acc + xi.sin() * S::from(i + 1).unwrap_or_else(S::nan))
    }

    #[test]
    fn chunked_gradients_agree_for_every_chunk_width() {
        let x: Vec<f64> = (0..11).map(|i| 0.1 * i as f64).collect();
        let want: Vec<f64> = x.iter().enumerate().map(|(i, &x)| x.cos() * (i + 1) as f64).collect();
        let (v1, g1) = gradient::<f64, 1>(|x| f(x), &x);
        let (v4, g4) = gradient::<f64, 4>(|x| f(x), &x);
        let (v16, g16) = gradient::<f64, 16>(|x| f(x), &x);
        assert_eq!((v1, v4), (f(&x), v16));
        for g in [g1, g4, g16] {
            assert_eq!(g, want);
        }
        assert_eq!(gradient::<f64, 4>(|x| f(x), &[]), (0.0, vec![]));
    }

    #[test]
    fn a_kept_workspace_gives_the_gradient_at_every_length_and_refuses_a_short_buffer() {
        let mut workspace = Workspace::<f64, 4>::new();
        for n in [0, 1, 3, 4, 5, 9, 2] {
            let x: Vec<f64> = (0..n).map(|i| 0.3 * i as f64 - 0.7).collect();
            let want: Vec<f64> = x.iter().enumerate().map(|(i, &x)| x.cos() * (i + 1) as f64).collect();
            let mut grad = vec![f64::NAN; n];
            let value = workspace.gradient(|x| f(x), &x, &mut grad).unwrap();
            assert_eq!((value, &grad), (f(&x), &want), "n = {n}");
            assert_eq!(gradient::<f64, 4>(|x| f(x), &x), (value, grad));
        }
        let err = workspace.gradient(|x| f(x), &[1.0, 2.0], &mut [0.0]).unwrap_err();
        assert_eq!(err, Error::InputLength { what: "the gradient buffer", expected: 2, got: 1 });
    }

    #[test]
    fn the_recommended_chunk_gives_the_same_gradient_at_every_size() {
        struct Sines;
        impl Function for Sines {
            fn eval<T: Float>(&self, x: &[T]) -> T {
                x.iter()
                    .enumerate()
                    .fold(T::zero(), |acc, (i, &xi)| acc + xi.sin() * T::from(i + 1).unwrap_or_else(T::nan))
            }
        }
        for n in [3, 17, 201, 2001] {
            let x: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.1).collect();
            let (value, grad) = Sines.gradient(&x);
            assert_eq!(value, f(&x));
            assert_eq!(grad, gradient::<f64, 1>(|x| f(x), &x).1, "n = {n}");
        }
    }

    #[test]
    fn jacobian_rows_and_columns() {
        let (y, j) = jacobian::<f64, 2>(|x| vec![x[0] * x[1], x[0] + x[2], x[2].exp()], &[2.0, 3.0, 0.0]).unwrap();
        assert_eq!(y, vec![6.0, 2.0, 1.0]);
        assert_eq!(j, vec![vec![3.0, 2.0, 0.0], vec![1.0, 0.0, 1.0], vec![0.0, 0.0, 1.0]]);
    }

    #[test]
    fn a_changing_output_length_is_an_error() {
        let changing =
            jacobian::<f64, 1>(|x| if x[0].is_constant() { vec![x[0]] } else { vec![x[0], x[1]] }, &[1.0, 2.0]);
        assert_eq!(changing, Err(Error::OutputLength { expected: 2, got: 1 }));
    }

    #[test]
    fn jvp_checks_the_direction_length() {
        let id = |x: &[Dual<f64>]| x.to_vec();
        assert_eq!(jvp(id, &[1.0, 2.0], &[0.5, -1.0]), Ok((vec![1.0, 2.0], vec![0.5, -1.0])));
        let err = jvp(id, &[1.0, 2.0], &[0.5]).unwrap_err();
        assert_eq!(err, Error::InputLength { what: "the direction", expected: 2, got: 1 });
        assert!(err.to_string().contains("one entry per input"));
    }

    #[test]
    fn hessian_is_symmetric_and_exact() {
        let (v, g, h) = hessian(|x| x[0].exp() * x[1].sin() + x[2].powi(3) * x[0], &[0.5, 1.0, 2.0]);
        let (e, s, c) = (0.5_f64.exp(), 1.0_f64.sin(), 1.0_f64.cos());
        assert_eq!(v, e * s + 8.0 * 0.5);
        assert_eq!(g, vec![e * s + 8.0, e * c, 3.0 * 4.0 * 0.5]);
        let want = [[e * s, e * c, 12.0], [e * c, -e * s, 0.0], [12.0, 0.0, 6.0 * 2.0 * 0.5]];
        for i in 0..3 {
            for j in 0..3 {
                assert!((h[i][j] - want[i][j]).abs() < 1e-14, "H[{i}][{j}] = {} vs {}", h[i][j], want[i][j]);
            }
        }
    }

    #[test]
    fn derivative_of_a_scalar_function() {
        assert_eq!(derivative(|x| x.sigmoid(), 0.0), (0.5, 0.25));
        assert_eq!(derivative(|x| x.powi(3) + x, 2.0), (10.0, 13.0));
    }
}
