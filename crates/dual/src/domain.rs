//! Checking domains: where each input of an op is sampled when its derivatives are checked,
//! where it is defined, its special points, and its conventions at kinks. The rows of the
//! op table name these constants.

/// Where an op's input is sampled when checking derivatives, where it is defined, its
/// special points, and its conventions at kinks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Domain {
    /// Lowest value sampled.
    pub low: f64,
    /// Highest value sampled.
    pub high: f64,
    /// The open interval where the op is defined and smooth (apart from its kinks): a
    /// finite difference never steps outside it.
    pub support: (f64, f64),
    /// Special points checked besides the samples: zero, signs, tiny and huge magnitudes,
    /// as far as the op is defined and finite there.
    pub edges: &'static [f64],
    /// Points where the op is not differentiable (finite differences must not straddle
    /// them), each with the derivative slope reports there by convention.
    pub kinks: &'static [Kink],
    /// Only integers are valid (the exponent of `powi`, indices).
    pub integer: bool,
    /// The input is a constant parameter: never differentiated.
    pub constant: bool,
    /// The input is an attribute of the node (clamp's bounds, a slice's range, a
    /// permutation, a target shape): a constant kept in the graph's side table of
    /// attributes, not a node. Attributes come after an op's node inputs.
    pub attribute: bool,
    /// `(spacing, offset)`: samples lie within `0.2 · spacing` of `offset + k · spacing`.
    /// Two inputs on lattices offset by half a spacing never come near each other, which
    /// keeps a function with a kink where its inputs are equal (`maximum`) off the kink.
    pub lattice: Option<(f64, f64)>,
    /// The elements of one input are drawn apart from each other (element `k` of `n` in the
    /// `k`-th of `n` strata of the interval): for ops with a kink where two elements are equal
    /// (`max` of a tensor).
    pub spread: bool,
}

/// A point where an op is not differentiable, and the derivative slope reports there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kink {
    /// Where the kink is.
    pub at: f64,
    /// The derivative reported at `at` (PyTorch's convention).
    pub derivative: f64,
}

impl Domain {
    /// A smooth interval, sampled in `low..high`, defined everywhere.
    pub const fn interval(low: f64, high: f64) -> Domain {
        Domain {
            low,
            high,
            support: (f64::NEG_INFINITY, f64::INFINITY),
            edges: &[],
            kinks: &[],
            integer: false,
            constant: false,
            attribute: false,
            lattice: None,
            spread: false,
        }
    }

    /// The sample at `unit ∈ [0, 1)`: `low + (high - low) · unit`, rounded for an integer
    /// domain, drawn towards the lattice for a lattice domain. Every sampler of the op table
    /// (the checker, the property tests, the closed-form tests) goes through here.
    pub fn at(&self, unit: f64) -> f64 {
        let x = self.low + (self.high - self.low) * unit;
        match self.lattice {
            _ if self.integer => x.round(),
            Some((spacing, offset)) => {
                let position = (x - offset) / spacing;
                let k = position.round();
                offset + spacing * (k + 0.4 * (position - k))
            }
            None => x,
        }
    }

    /// The sample for element `k` of `n` of one input at `unit ∈ [0, 1)`: [`Domain::at`],
    /// or for a [`spread`](Domain::spread) domain inside the middle of the `k`-th of `n`
    /// strata, so no two elements come within `0.4 / n` of the interval of each other.
    pub fn at_element(&self, unit: f64, k: usize, n: usize) -> f64 {
        if self.spread && n > 1 {
            self.at((k as f64 + 0.3 + 0.4 * unit) / n as f64)
        } else {
            self.at(unit)
        }
    }

    /// The elements of one input drawn apart (see [`Domain::spread`]).
    pub const fn spread(self) -> Domain {
        Domain { spread: true, ..self }
    }

    /// Samples near the lattice `offset + k · spacing` (see [`Domain::lattice`]).
    pub const fn near_lattice(self, spacing: f64, offset: f64) -> Domain {
        Domain { lattice: Some((spacing, offset)), ..self }
    }

    /// Defined (and smooth) only inside the open interval `low..high`.
    pub const fn support(self, low: f64, high: f64) -> Domain {
        Domain { support: (low, high), ..self }
    }

    /// Special points checked besides the samples.
    pub const fn edges(self, edges: &'static [f64]) -> Domain {
        Domain { edges, ..self }
    }

    /// Points where the op is not differentiable, with the derivative reported there.
    pub const fn with_kinks(self, kinks: &'static [Kink]) -> Domain {
        Domain { kinks, ..self }
    }

    /// A constant parameter, never differentiated.
    pub const fn constant(self) -> Domain {
        Domain { constant: true, ..self }
    }

    /// An attribute of the node rather than an input node (constant too).
    pub const fn attribute(self) -> Domain {
        Domain { constant: true, attribute: true, ..self }
    }

    /// Only whole numbers.
    pub const fn integer(self) -> Domain {
        Domain { integer: true, ..self }
    }
}

const SMALL: &[f64] = &[0.0, 1e-12, -1e-12];
const SCALE_FREE: &[f64] = &[0.0, 1e-12, -1e-12, 1e-150, 1e12, -1e12, 1e150];

/// Anywhere, at every scale.
pub const ANY: Domain = Domain::interval(-3.0, 3.0).edges(SCALE_FREE);
/// Positive numbers (logarithms, roots).
pub const POSITIVE: Domain = Domain::interval(0.1, 5.0).support(0.0, f64::INFINITY).edges(&[1e-12, 1e-6, 1e6, 1e150]);
/// The open interval `(-1, 1)`.
pub const OPEN_UNIT: Domain =
    Domain::interval(-0.9, 0.9).support(-1.0, 1.0).edges(&[0.0, 1e-12, -1e-12, 0.999, -0.999]);
/// Growing exponentially: magnitudes kept where the result is finite.
pub const EXP: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 30.0, -30.0]);
/// Periodic functions.
pub const PERIODIC: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 100.0, -100.0]);
/// Saturating functions (`atan`, `asinh`).
pub const SATURATING: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]);
/// `tanh`.
pub const TANH: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 10.0, -10.0]);
/// `tan`, inside one period.
pub const TAN: Domain = Domain::interval(-1.3, 1.3)
    .support(-core::f64::consts::FRAC_PI_2, core::f64::consts::FRAC_PI_2)
    .edges(&[0.0, 1e-12, -1e-12, 1.5, -1.5]);
/// `acosh`, above 1.
pub const ACOSH: Domain = Domain::interval(1.1, 5.0).support(1.0, f64::INFINITY).edges(&[1.001, 1e6]);
/// `log1p`, above -1.
pub const LOG1P: Domain =
    Domain::interval(-0.9, 5.0).support(-1.0, f64::INFINITY).edges(&[0.0, 1e-12, -1e-12, -0.999, 1e6]);
/// `1 / x`, away from the pole.
pub const RECIP: Domain = Domain::interval(0.2, 5.0).support(0.0, f64::INFINITY).edges(&[1e-10, 1e10]);
/// A kink at 0 with derivative 0 there (`abs`, `relu`, as PyTorch).
pub const KINK_AT_ZERO: Domain =
    Domain::interval(-3.0, 3.0).with_kinks(&[Kink { at: 0.0, derivative: 0.0 }]).edges(&[1e-12, -1e-12, 1e12, -1e12]);
/// `sigmoid`, out to where it saturates, and past `|x| = 709`, where `e^|x|` overflows
/// (each side takes the branch of the rule that keeps it finite).
pub const SIGMOID: Domain = Domain::interval(-8.0, 8.0).edges(&[0.0, 1e-12, -1e-12, 30.0, -30.0, 800.0, -800.0]);

/// A huge addend swamps the other operand, so finite differences could not see it.
pub const ADDITIVE: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e-150, -1e-150]);
/// Both operands of `+` and `-`.
pub const ADDITIVE_PAIR: [Domain; 2] = [ADDITIVE, ADDITIVE];
/// Both operands anywhere.
pub const ANY_PAIR: [Domain; 2] = [ANY, ANY];
/// `maximum` and `minimum`, whose kink is where the operands are equal: the operands are
/// drawn near the integers and near the half-integers, so they never meet (ties are checked
/// by closed forms), and either one can be the larger.
pub const EXTREMUM_PAIR: [Domain; 2] = [
    Domain::interval(-3.0, 3.0).near_lattice(1.0, 0.0).edges(&[0.0, 1e-12, -1e-12, 1e12, -1e12]),
    Domain::interval(-3.0, 3.0).near_lattice(1.0, 0.5).edges(&[0.5, -0.5, 1e12, -1e12]),
];
/// A divisor away from zero.
pub const DIV: [Domain; 2] = [ANY, Domain::interval(0.2, 5.0).support(0.0, f64::INFINITY).edges(&[1e-10, 1e10])];
const BASE: Domain = POSITIVE.edges(&[1e-6, 1e6]);
/// `a^b` with both variable: a positive base.
pub const POW: [Domain; 2] = [BASE, Domain::interval(-3.0, 3.0).edges(SMALL)];
/// `a^n`: a constant integer exponent.
pub const POWI: [Domain; 2] = [
    Domain::interval(0.2, 3.0).support(0.0, f64::INFINITY).edges(&[1e-3, 1e3]),
    Domain::interval(-3.0, 4.0).integer().constant(),
];
/// `leaky_relu`: a kink at 0 with derivative the slope, which is checked at 0.2 (a constant).
pub const LEAKY_RELU: [Domain; 2] = [
    Domain::interval(-3.0, 3.0).with_kinks(&[Kink { at: 0.0, derivative: 0.2 }]).edges(&[1e-12, -1e-12, 1e12, -1e12]),
    Domain::interval(0.2, 0.2).constant(),
];
/// `a^c`: a constant real exponent.
pub const POWF: [Domain; 2] = [BASE, Domain::interval(-2.5, 2.5).constant()];
/// `a % b` with `a / b` inside (2, 3), away from the jumps of fmod at integer quotients.
pub const REM: [Domain; 2] =
    [Domain::interval(2.2, 2.8).support(2.1, 2.9), Domain::interval(1.0, 1.05).support(0.97, 1.07)];
/// `hypot` is smooth away from the origin; `b < 0` keeps samples off it.
pub const HYPOT: [Domain; 2] = [
    Domain::interval(0.2, 3.0).edges(&[0.0, 1e12]),
    Domain::interval(-3.0, -0.2).support(f64::NEG_INFINITY, 0.0).edges(&[-1e-12, -1e12]),
];
/// `atan2(y, x)` with `x > 0` stays off the branch cut along the negative x axis.
pub const ATAN2: [Domain; 2] =
    [Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]), POSITIVE.edges(&[1e-6, 1e6])];
/// Inputs of reductions and products.
pub const STRUCTURAL: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 1e6, -1e6]);
/// The `[start, len]` of a slice of a vector of at least 4 elements: constant whole
/// numbers up to 2.
pub const RANGE: Domain = Domain::interval(0.0, 2.0).integer().attribute();
/// A permutation of the dimensions of a tensor of rank 3, by its index among them (its
/// Lehmer code, `0..6`): a constant whole number.
pub const PERMUTATION: Domain = Domain::interval(0.0, 5.0).integer().attribute();
/// Indices into a vector of at least 3 elements: constant integers.
pub const INDICES: Domain = Domain::interval(0.0, 2.0).integer().constant();
/// Inputs of the normalising ops (softmax, log-softmax, logsumexp, cross-entropy) and of
/// losses: moderate magnitudes, where a finite difference's step stays small against the
/// spread of `exp` (at `10^6` it is `10^4`, and the difference quotient means nothing).
pub const NORMALIZING: Domain = Domain::interval(-3.0, 3.0).edges(&[0.0, 1e-12, -1e-12, 20.0, -20.0]);
/// A reduction to the largest or smallest element, whose kink is where two elements are
/// equal: the elements are drawn apart (and no edge case sets them all equal).
pub const EXTREMUM: Domain = Domain::interval(-3.0, 3.0).spread();
/// The input of `clamp`: near the half-integers, so never near its bounds ([`BOUNDS`]).
pub const CLAMPED: Domain = Domain::interval(-3.0, 3.0).near_lattice(1.0, 0.5);
/// The bounds of `clamp`: constant whole numbers.
pub const BOUNDS: Domain = Domain::interval(-1.0, 1.0).integer().attribute();
/// An attribute read only for its shape (the target of `sum_to_size`).
pub const SHAPE_ONLY: Domain = Domain::interval(0.0, 1.0).attribute();
/// The mask of `where`: constant zeros and ones.
pub const MASK: Domain = Domain::interval(0.0, 1.0).integer().constant();
/// Class labels of at least 3 classes: constant integers.
pub const CLASSES: Domain = Domain::interval(0.0, 2.0).integer().constant();
