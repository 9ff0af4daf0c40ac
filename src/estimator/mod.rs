//! Gradient estimators: how each stochastic layer's logit gradient is formed.
//!
//! Every estimator here writes, per row and per stochastic layer, a logit gradient that the
//! network back-propagates through that layer's stage with the stage's sampled input held
//! fixed; the loss's own parameters always get the pathwise gradient at the samples.

mod antithetic;
mod baseline;
mod learned_muprop;
mod leave_one_out;
mod muprop;
mod nvil;
mod reinforce;
mod rollout;
mod straight_through;

pub use antithetic::{Arm, DisArm};
pub use baseline::{BaselineNet, BaselineScratch};
pub use learned_muprop::{LearnedMuProp, MuPropControl};
pub use leave_one_out::LeaveOneOut;
pub use muprop::{Correction, MuProp};
pub use nvil::Nvil;
pub use reinforce::{MovingAverage, Reinforce};
pub use rollout::MuPropRollout;
pub use straight_through::StraightThrough;

use rand_core::Rng;

use crate::network::{Backward, LayerView, Network};
use crate::sampler::DrawnWords;
use crate::Workspace;

/// A rule that estimates the gradient of `E[f]` from sample (and mean-field) passes.
///
/// Most estimators only say how each layer's logit gradient is formed
/// ([`Estimator::logit_gradient`]) and keep the provided [`Estimator::estimate_chunk`]; those
/// that need other passes (antithetic pairs, a second sample) replace it.
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

    /// Called once per chunk after its passes and before its logit gradients, with the chunk's
    /// input rows (flat, `width` values each), losses and mean-field losses.
    fn prepare_chunk(&mut self, _inputs: &[f32], _width: usize, _f: &[f32], _fbar: &[f32]) {}

    /// Writes layer `l`'s logit gradient for every row of the chunk into `view.delta`, given
    /// each row's loss `f` and (if requested) mean-field loss `fbar`.
    fn logit_gradient(&mut self, _l: usize, _view: &mut LayerView<'_>, _f: &[f32], _fbar: &[f32]) {}

    /// Called once per chunk after its logit gradients, with the chunk's input rows again.
    fn finish_chunk(&mut self, _inputs: &[f32], _width: usize) {}

    /// Adds `scale` times the sum of the chunk's per-row gradient estimates into `grad` and
    /// writes each row's sampled loss into the workspace.
    ///
    /// The provided flow: draw each row's words, the sample pass, the mean-field pass if
    /// requested, [`Estimator::prepare_chunk`], every layer's [`Estimator::logit_gradient`],
    /// [`Estimator::finish_chunk`], then the network's backward step.
    #[allow(clippy::too_many_arguments)]
    fn estimate_chunk<N, R, const IN: usize, const Y: usize, const B: usize>(
        &mut self,
        net: &N,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        ws: &mut Workspace<N::Trace<B>, B>,
        grad: &mut N,
        scale: f32,
        rng: &mut R,
    ) where
        N: Network<IN, Y>,
        R: Rng + ?Sized,
    {
        let n = x.len().min(y.len()).min(B);
        let (x, y) = (&x[..n], &y[..n]);
        for row in 0..n {
            N::draw(&mut ws.trace, row, rng);
        }
        net.sample(x, y, &mut ws.trace, &mut ws.f[..n], &mut DrawnWords);
        if self.needs_mean_field() {
            net.mean_field_after_sample(x, y, &mut ws.trace, &mut ws.fbar[..n], None);
        }
        self.prepare_chunk(x.as_flattened(), IN, &ws.f[..n], &ws.fbar[..n]);
        for l in 0..N::DEPTH {
            if let Some(mut view) = N::layer(&mut ws.trace, l, n) {
                self.logit_gradient(l, &mut view, &ws.f[..n], &ws.fbar[..n]);
            }
        }
        self.finish_chunk(x.as_flattened(), IN);
        net.backward(x, y, &mut ws.trace, grad, scale, self.backward_mode(), None);
    }

    /// Called once after a step whose update was applied, with the minibatch's mean loss.
    fn end_step(&mut self, _mean_loss: f32) {}

    /// Called instead of [`Estimator::end_step`] when a step that began is refused: discards
    /// what the step accumulated, so that the estimator's state is bit-identical to its state
    /// before [`Estimator::begin_step`].
    fn discard_step(&mut self) {}
}
