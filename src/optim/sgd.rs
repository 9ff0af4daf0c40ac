//! Stochastic gradient descent with momentum: `v = momentum v + g`, `p -= lr v`.
//!
//! With momentum 0 the update is plain SGD, `p -= lr g`, and the velocity is neither read nor
//! written: on a Cortex-M4F that halves the memory traffic of an update.

use bytemuck::Zeroable;

use crate::error::{check_range, Error};
use crate::optim::{check_learning_rate, Optimizer};
use crate::Tensors;

/// SGD's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
}

/// SGD's state: the velocity, of the parameters' type.
///
/// With momentum 0 the velocity is not used: it keeps the value it had (zero for a new
/// state), not the last gradient, so a state carried over to an [`Sgd`] with nonzero momentum
/// starts that optimiser from that value.
#[derive(Clone, Copy, Zeroable)]
pub struct SgdState<P> {
    /// The running velocity.
    pub velocity: P,
}

impl<P: Zeroable> SgdState<P> {
    /// Zero velocity.
    pub fn new() -> Self {
        Self::zeroed()
    }
}

impl<P: Zeroable> Default for SgdState<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl Sgd {
    /// SGD with learning rate `lr` and momentum in `[0, 1)`.
    ///
    /// Momentum 0 selects plain SGD, `p -= lr g`, which leaves the velocity untouched. It gives
    /// the parameter bits the general rule gives (`v = 0 v + g` is `g`) whenever the velocity is
    /// finite, except for one signed zero: a `-0.0` gradient on a `-0.0` parameter gives `+0.0`,
    /// where the general rule gives `-0.0` unless the velocity is negative. A gradient summed
    /// into a zeroed buffer is never `-0.0`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `lr` is finite and positive and
    /// `0 <= momentum < 1`.
    pub fn new(lr: f32, momentum: f32) -> Result<Self, Error> {
        let lr = check_learning_rate(lr)?;
        let m = check_range("momentum", momentum, 0.0, 1.0, "in [0, 1)")?;
        if m >= 1.0 {
            return Err(Error::InvalidHyperparameter {
                name: "momentum",
                value: momentum,
                allowed: "in [0, 1)",
            });
        }
        Ok(Self { lr, momentum: m })
    }

    /// The momentum.
    pub fn momentum(&self) -> f32 {
        self.momentum
    }
}

impl<P: Tensors> Optimizer<P> for Sgd {
    type State = SgdState<P>;

    fn update(&self, params: &mut P, grad: &P, state: &mut SgdState<P>) {
        if self.momentum == 0.0 {
            for k in 0..P::COUNT {
                muprop_kernels::sgd(params.tensor_mut(k), grad.tensor(k), self.lr);
            }
            return;
        }
        for k in 0..P::COUNT {
            muprop_kernels::sgd_momentum(
                params.tensor_mut(k),
                grad.tensor(k),
                state.velocity.tensor_mut(k),
                self.lr,
                self.momentum,
            );
        }
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) -> Result<(), Error> {
        self.lr = check_learning_rate(lr)?;
        Ok(())
    }
}
