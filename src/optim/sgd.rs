//! Stochastic gradient descent with momentum: `v = momentum v + g`, `p -= lr v`.

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
