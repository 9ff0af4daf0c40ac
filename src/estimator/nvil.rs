//! REINFORCE with NVIL-style baselines and variance normalisation (Mnih and Gregor, 2014).
//!
//! The learning signal of every layer is `s = (f - b(x) - c) / max(1, sqrt(v))`, where `b` is a
//! learned network of the input (one tanh hidden layer, 100 units in the literature), `c` and
//! `v` are running mean and variance of `f - b(x)` with decay 0.8, and the logit gradient is
//! `s (x_l - mu_l)`. `b` is trained to minimise the squared centred signal `(f - b(x) - c)^2`
//! with its own Adam; it gets no gradient from the model's surrogate. `b`, `c` and `v` change
//! only after an applied step (a refused step changes none of them, nor the accumulated
//! gradient and moments), so within a step the signal's baseline is independent of the
//! samples and the estimate is unbiased (up to the positive factor `1 / max(1, sqrt(v))`, which
//! acts as a step size; turn normalisation off to estimate the gradient itself).
//!
//! As in Mnih and Gregor's procedure, `c` and `v` follow each minibatch's mean and variance of
//! `f - b(x)`: with minibatches of one example that variance is zero, `v` decays towards 0 and
//! the normalisation leaves the signal unscaled.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::error::{check_range, Error};
use crate::estimator::baseline::{rows_of, scale_all, BaselineNet, BaselineScratch};
use crate::estimator::Estimator;
use crate::network::LayerView;
use crate::optim::{Adam, AdamState, Optimizer};
use crate::Tensors;

/// The NVIL estimator with a baseline of `HID` tanh units, for chunks of up to `B` rows.
///
/// Holds the baseline's parameters, gradient and Adam state; build large ones with
/// [`crate::boxed_zeroed`] and then [`Nvil::reset`].
#[derive(Clone, Copy, Zeroable)]
pub struct Nvil<const IN: usize, const HID: usize, const B: usize> {
    /// The baseline network `b(x)`.
    pub baseline: BaselineNet<IN, HID, 1>,
    /// The baseline's gradient accumulated over the current step; zero between steps (cleared
    /// once the step's update is applied, or when the step is refused).
    pub grad: BaselineNet<IN, HID, 1>,
    /// The baseline's Adam state.
    pub state: AdamState<BaselineNet<IN, HID, 1>>,
    /// Running mean `c` of `f - b(x)`.
    pub center: f32,
    /// Running variance `v` of `f - b(x)`.
    pub variance: f32,
    lr: f32,
    decay: f32,
    pub(crate) normalize: u32,
    started: u32,
    // A chunk's work area, written before it is read in every chunk.
    scratch: BaselineScratch<HID, 1, B>,
    signal: [f32; B],
    // The step's accumulators, zero between steps.
    pub(crate) rows: u32,
    pub(crate) sum: f64,
    pub(crate) sum_sq: f64,
}

impl<const IN: usize, const HID: usize, const B: usize> Nvil<IN, HID, B> {
    /// Draws the baseline's weights, zeroes its state and the running moments, and sets the
    /// baseline's learning rate and the moments' decay (0.8 in the literature).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`] unless `lr` is finite and positive and
    /// `0 <= decay < 1`.
    pub fn reset<R: Rng + ?Sized>(
        &mut self,
        lr: f32,
        decay: f32,
        normalize: bool,
        rng: &mut R,
    ) -> Result<(), Error> {
        Adam::new(lr)?;
        let decay = check_range("decay", decay, 0.0, 1.0, "in [0, 1)")?;
        if decay >= 1.0 {
            return Err(Error::InvalidHyperparameter {
                name: "decay",
                value: decay,
                allowed: "in [0, 1)",
            });
        }
        *self = Self::zeroed();
        self.baseline.init(rng);
        self.lr = lr;
        self.decay = decay;
        self.normalize = u32::from(normalize);
        Ok(())
    }

    /// The factor `1 / max(1, sqrt(v))` applied to the signal (1 without normalisation).
    pub fn signal_scale(&self) -> f32 {
        if self.normalize == 0 {
            return 1.0;
        }
        1.0 / libm::sqrtf(self.variance.max(0.0)).max(1.0)
    }

    /// Zeroes what a step accumulates: the baseline's gradient, the row count and the moments.
    fn clear_step(&mut self) {
        self.grad.fill_zero();
        self.rows = 0;
        self.sum = 0.0;
        self.sum_sq = 0.0;
    }

    /// Folds the step's moments into `c` and `v` and applies the baseline's update.
    fn commit_step(&mut self) {
        let n = f64::from(self.rows);
        let mean_e = self.sum / n;
        let var_e = (self.sum_sq / n - mean_e * mean_e).max(0.0);
        let (mean_fb, var_fb) = ((mean_e + f64::from(self.center)) as f32, var_e as f32);
        if self.started == 0 {
            self.center = mean_fb;
            self.variance = var_fb;
            self.started = 1;
        } else {
            let a = self.decay;
            self.center = a * self.center + (1.0 - a) * mean_fb;
            self.variance = a * self.variance + (1.0 - a) * var_fb;
        }

        scale_all(&mut self.grad, 1.0 / self.rows as f32);
        if self.grad.all_finite() {
            if let Ok(adam) = Adam::new(self.lr) {
                adam.update(&mut self.baseline, &self.grad, &mut self.state);
            }
        }
    }
}

impl<const IN: usize, const HID: usize, const B: usize> Estimator for Nvil<IN, HID, B> {
    fn begin_step(&mut self) {
        self.clear_step();
    }

    fn prepare_chunk(&mut self, inputs: &[f32], width: usize, f: &[f32], _: &[f32]) {
        let n = f.len().min(B);
        let Some(x) = rows_of::<IN>(inputs, width) else {
            self.signal[..n].copy_from_slice(&f[..n]);
            return;
        };
        let x = &x[..n.min(x.len())];
        self.baseline.forward(x, &mut self.scratch);

        // Centred residual e = f - b - c: the signal, the baseline's objective e^2, and the
        // moments of f - b = e + c.
        let scale = self.signal_scale();
        let s = &mut self.scratch;
        let rows = f
            .iter()
            .zip(&s.values)
            .zip(s.dvalues.iter_mut().zip(&mut self.signal));
        for ((fr, b), (db, signal)) in rows.take(x.len()) {
            let e = fr - b[0] - self.center;
            *signal = e * scale;
            db[0] = -2.0 * e;
            self.sum += f64::from(e);
            self.sum_sq += f64::from(e) * f64::from(e);
        }
        self.rows = self.rows.saturating_add(x.len() as u32);
        self.baseline.backward(x, &mut self.scratch, &mut self.grad);
    }

    fn logit_gradient(&mut self, _: usize, v: &mut LayerView<'_>, _: &[f32], _: &[f32]) {
        let w = v.width;
        if w == 0 {
            return;
        }
        let rows = v
            .delta
            .chunks_exact_mut(w)
            .zip(v.sample.chunks_exact(w).zip(v.mean.chunks_exact(w)))
            .zip(&self.signal);
        for ((d, (x, mu)), s) in rows {
            for ((dj, xj), mj) in d.iter_mut().zip(x).zip(mu) {
                *dj = s * (xj - mj);
            }
        }
    }

    fn end_step(&mut self, _: f32) {
        if self.rows > 0 {
            self.commit_step();
        }
        self.clear_step();
    }

    fn discard_step(&mut self) {
        self.clear_step();
    }
}
