//! Optimisers with caller-owned state.
//!
//! An optimiser is its validated hyperparameters; its state (moments, step counter) has the
//! network's own type, so it lines up tensor by tensor with the parameters and gradient.

mod adam;
mod sgd;

pub use adam::{Adam, AdamState};
pub use sgd::{Sgd, SgdState};

use crate::error::Error;

/// An update rule applied to a parameter set given its gradient.
pub trait Optimizer<P> {
    /// The optimiser's state for parameters of type `P`.
    type State;

    /// Applies one update: changes `params` and `state` using `grad`.
    ///
    /// The caller guarantees `grad` is finite; [`crate::train_step`] checks before calling.
    fn update(&self, params: &mut P, grad: &P, state: &mut Self::State);

    /// The learning rate.
    fn learning_rate(&self) -> f32;

    /// Sets the learning rate.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless the rate is finite and positive.
    fn set_learning_rate(&mut self, lr: f32) -> Result<(), Error>;
}

/// Checks a learning rate: finite and positive.
pub(crate) fn check_learning_rate(lr: f32) -> Result<f32, Error> {
    if lr.is_finite() && lr > 0.0 {
        Ok(lr)
    } else {
        Err(Error::InvalidHyperparameter {
            name: "learning rate",
            value: lr,
            allowed: "finite and > 0",
        })
    }
}
