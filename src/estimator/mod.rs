//! Gradient estimators: how each stochastic layer's logit gradient is formed.
//!
//! Every estimator here writes, per row and per stochastic layer, a logit gradient that the
//! network back-propagates through that layer's stage with the stage's sampled input held
//! fixed; the loss's own parameters always get the pathwise gradient at the samples.

mod muprop;
mod reinforce;
mod straight_through;

pub use muprop::{Correction, MuProp};
pub use reinforce::{MovingAverage, Reinforce};
pub use straight_through::StraightThrough;

use crate::network::{Backward, LayerView};

/// A rule that turns a chunk's sample and mean-field passes into logit gradients.
pub trait Estimator {
    /// Whether the mean-field pass (with its reverse sweep) must run before
    /// [`Estimator::logit_gradient`].
    fn needs_mean_field(&self) -> bool {
        false
    }

    /// How the network's backward step forms logit gradients.
    fn backward_mode(&self) -> Backward {
        Backward::Logits
    }

    /// Called once before the first chunk of a step.
    fn begin_step(&mut self) {}

    /// Writes layer `l`'s logit gradient for every row of the chunk into `view.delta`, given
    /// each row's loss `f` and (if requested) mean-field loss `fbar`.
    fn logit_gradient(&mut self, l: usize, view: &mut LayerView<'_>, f: &[f32], fbar: &[f32]);

    /// Called once after a step whose update was applied, with the minibatch's mean loss.
    fn end_step(&mut self, _mean_loss: f32) {}
}
