//! REINFORCE (the likelihood-ratio estimator): `delta_l = (f - c) (x_l - mu_l)`.
//!
//! The baseline `c` must not depend on the current samples: here it is zero or a moving
//! average of past minibatch losses, updated only after an applied step.

use crate::error::{check_range, Error};
use crate::estimator::Estimator;
use crate::network::LayerView;

/// A moving average of minibatch losses: `c <- decay c + (1 - decay) mean_f`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MovingAverage {
    decay: f32,
    value: f32,
    seen: bool,
}

impl MovingAverage {
    /// A baseline with the given decay, starting at the first step's mean loss.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `0 <= decay < 1`.
    pub fn new(decay: f32) -> Result<Self, Error> {
        let decay = check_range("decay", decay, 0.0, 1.0, "in [0, 1)")?;
        if decay >= 1.0 {
            return Err(Error::InvalidHyperparameter {
                name: "decay",
                value: decay,
                allowed: "in [0, 1)",
            });
        }
        Ok(Self {
            decay,
            value: 0.0,
            seen: false,
        })
    }

    /// The current baseline value (zero before the first applied step).
    pub fn value(&self) -> f32 {
        self.value
    }

    /// Folds a minibatch's mean loss into the average.
    pub fn update(&mut self, mean_loss: f32) {
        if !mean_loss.is_finite() {
            return;
        }
        self.value = if self.seen {
            self.decay * self.value + (1.0 - self.decay) * mean_loss
        } else {
            mean_loss
        };
        self.seen = true;
    }
}

/// REINFORCE with an optional moving-average baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reinforce {
    baseline: Option<MovingAverage>,
    constant: f32,
}

impl Reinforce {
    /// REINFORCE with no baseline (`c = 0`).
    pub const fn new() -> Self {
        Self {
            baseline: None,
            constant: 0.0,
        }
    }

    /// REINFORCE with a fixed baseline `c` (unbiased for any `c`; useful in tests).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] if `c` is not finite.
    pub fn with_constant(c: f32) -> Result<Self, Error> {
        let c = check_range("baseline", c, f32::MIN, f32::MAX, "finite")?;
        Ok(Self {
            baseline: None,
            constant: c,
        })
    }

    /// REINFORCE with a moving-average baseline of the given decay.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `0 <= decay < 1`.
    pub fn with_moving_average(decay: f32) -> Result<Self, Error> {
        Ok(Self {
            baseline: Some(MovingAverage::new(decay)?),
            constant: 0.0,
        })
    }

    /// The baseline subtracted in the current step.
    pub fn baseline(&self) -> f32 {
        match &self.baseline {
            Some(b) => b.value(),
            None => self.constant,
        }
    }
}

impl Default for Reinforce {
    fn default() -> Self {
        Self::new()
    }
}

impl Estimator for Reinforce {
    fn logit_gradient(&mut self, _: usize, v: &mut LayerView<'_>, f: &[f32], _: &[f32]) {
        let w = v.width;
        if w == 0 {
            return;
        }
        let c = self.baseline();
        let rows = v
            .delta
            .chunks_exact_mut(w)
            .zip(v.sample.chunks_exact(w))
            .zip(v.mean.chunks_exact(w))
            .zip(f);
        for (((d, x), mu), fr) in rows {
            let signal = fr - c;
            for ((dj, xj), mj) in d.iter_mut().zip(x).zip(mu) {
                *dj = signal * (xj - mj);
            }
        }
    }

    fn end_step(&mut self, mean_loss: f32) {
        if let Some(b) = &mut self.baseline {
            b.update(mean_loss);
        }
    }
}
