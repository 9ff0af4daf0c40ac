//! The crate's error type and the reasons a training step can be refused.

use core::fmt;

/// What went wrong in a constructor, a setter or a call with inconsistent arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Error {
    /// A hyperparameter is non-finite or outside its allowed range.
    InvalidHyperparameter {
        /// The hyperparameter's name, as in the documentation.
        name: &'static str,
        /// The rejected value.
        value: f32,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// A count (samples, units) is outside its allowed range.
    InvalidCount {
        /// What was counted.
        name: &'static str,
        /// The rejected count.
        value: usize,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// A minibatch has no rows.
    EmptyBatch,
    /// The inputs and targets of a minibatch have different numbers of rows.
    BatchMismatch {
        /// Rows of inputs.
        inputs: usize,
        /// Rows of targets.
        targets: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidHyperparameter {
                name,
                value,
                allowed,
            } => write!(f, "invalid {name} = {value}: must be {allowed}"),
            Error::InvalidCount {
                name,
                value,
                allowed,
            } => write!(f, "invalid {name} = {value}: must be {allowed}"),
            Error::EmptyBatch => write!(f, "the minibatch is empty"),
            Error::BatchMismatch { inputs, targets } => {
                write!(
                    f,
                    "the minibatch has {inputs} input rows but {targets} target rows"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

/// Why a training step changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An input row holds NaN or an infinity.
    NonFiniteInput,
    /// A target row holds NaN or an infinity.
    NonFiniteTarget,
    /// A parameter was already NaN or infinite before the step.
    NonFiniteParameter,
    /// The minibatch loss is NaN or infinite.
    NonFiniteLoss,
    /// Some gradient element is NaN or infinite.
    NonFiniteGradient,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Refusal::NonFiniteInput => "an input is not finite",
            Refusal::NonFiniteTarget => "a target is not finite",
            Refusal::NonFiniteParameter => "a parameter is not finite",
            Refusal::NonFiniteLoss => "the loss is not finite",
            Refusal::NonFiniteGradient => "a gradient is not finite",
        };
        write!(f, "step refused: {what}")
    }
}

/// Checks that `value` is finite and within `[lo, hi]`, naming it in the error.
pub(crate) fn check_range(
    name: &'static str,
    value: f32,
    lo: f32,
    hi: f32,
    allowed: &'static str,
) -> Result<f32, Error> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value,
            allowed,
        })
    }
}
