//! Adam (Kingma and Ba, 2015), with `eps` added to the square root of the bias-corrected second
//! moment.

use bytemuck::Zeroable;

use crate::error::{check_range, Error};
use crate::optim::{check_learning_rate, Optimizer};
use crate::Tensors;

/// Adam's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
}

/// Adam's state: first and second moments (of the parameters' type) and the step counter.
#[derive(Clone, Copy, Zeroable)]
pub struct AdamState<P> {
    /// First moment.
    pub m: P,
    /// Second moment.
    pub v: P,
    /// Number of updates applied so far; the next update uses `t + 1`, so the first is `t = 1`.
    pub t: u32,
}

impl<P: Zeroable> AdamState<P> {
    /// Zero moments and step counter.
    pub fn new() -> Self {
        Self::zeroed()
    }
}

impl<P: Zeroable> Default for AdamState<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl Adam {
    /// Adam with learning rate `lr` and the usual `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `lr` is finite and positive.
    pub fn new(lr: f32) -> Result<Self, Error> {
        Self::with_params(lr, 0.9, 0.999, 1e-8)
    }

    /// Adam with every hyperparameter given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `lr > 0`, `0 <= beta1 < 1`, `0 <= beta2 < 1`
    /// and `eps >= f32::MIN_POSITIVE` (positive and normal), all finite. A subnormal `eps` is
    /// rejected: where subnormals are flushed to zero it would act as 0, and the first update
    /// of a zero gradient would divide 0 by 0.
    pub fn with_params(lr: f32, beta1: f32, beta2: f32, eps: f32) -> Result<Self, Error> {
        let lr = check_learning_rate(lr)?;
        let beta1 = check_beta("beta1", beta1)?;
        let beta2 = check_beta("beta2", beta2)?;
        let normal = "finite and >= f32::MIN_POSITIVE (positive, not subnormal)";
        let eps = check_range("eps", eps, f32::MIN_POSITIVE, f32::MAX, normal)?;
        Ok(Self {
            lr,
            beta1,
            beta2,
            eps,
        })
    }

    /// `(beta1, beta2, eps)`.
    pub fn params(&self) -> (f32, f32, f32) {
        (self.beta1, self.beta2, self.eps)
    }
}

fn check_beta(name: &'static str, beta: f32) -> Result<f32, Error> {
    let b = check_range(name, beta, 0.0, 1.0, "in [0, 1)")?;
    if b >= 1.0 {
        return Err(Error::InvalidHyperparameter {
            name,
            value: beta,
            allowed: "in [0, 1)",
        });
    }
    Ok(b)
}

impl<P: Tensors> Optimizer<P> for Adam {
    type State = AdamState<P>;

    fn update(&self, params: &mut P, grad: &P, state: &mut AdamState<P>) {
        state.t = state.t.saturating_add(1);
        let t = state.t.min(i32::MAX as u32) as i32;
        let step = muprop_kernels::AdamStep {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            bias1: 1.0 - libm::powf(self.beta1, t as f32),
            bias2: 1.0 - libm::powf(self.beta2, t as f32),
        };
        for k in 0..P::COUNT {
            muprop_kernels::adam(
                params.tensor_mut(k),
                grad.tensor(k),
                state.m.tensor_mut(k),
                state.v.tensor_mut(k),
                &step,
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
