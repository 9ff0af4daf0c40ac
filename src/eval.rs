//! Evaluation: the test negative log-likelihood of structured prediction by sampling.
//!
//! `-log p(y | x) = -log E_h[p(y | h)]` is estimated as `-log (1/M sum_m p(y | h_m))` with `M`
//! samples of the stochastic layers, computed stably as a log-mean-exp of `-f` in `f64`. The
//! estimate is biased upward for finite `M` (Jensen) and converges as `M` grows.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::error::Error;
use crate::network::Network;
use crate::sampler::DrawnWords;
use crate::Workspace;

/// `B` copies of one example, so its `M` samples run `B` rows at a time.
#[derive(Clone, Copy, Zeroable)]
pub struct Replicas<const IN: usize, const Y: usize, const B: usize> {
    x: [[f32; IN]; B],
    y: [[f32; Y]; B],
}

impl<const IN: usize, const Y: usize, const B: usize> Replicas<IN, Y, B> {
    /// Zeroed buffers.
    pub fn new() -> Self {
        Self::zeroed()
    }
}

impl<const IN: usize, const Y: usize, const B: usize> Default for Replicas<IN, Y, B> {
    fn default() -> Self {
        Self::new()
    }
}

/// A running log-mean-exp in `f64`, shifted by the running maximum.
#[derive(Clone, Copy, Debug)]
pub struct LogMeanExp {
    max: f64,
    sum: f64,
    count: u64,
}

impl LogMeanExp {
    /// No terms yet.
    pub const fn new() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds the term `e^v`.
    pub fn push(&mut self, v: f64) {
        self.count += 1;
        if v.is_nan() {
            self.sum = f64::NAN;
            return;
        }
        if v > self.max {
            self.sum = self.sum * libm::exp(self.max - v) + 1.0;
            self.max = v;
        } else {
            self.sum += libm::exp(v - self.max);
        }
    }

    /// `log (1/count sum e^v)`; negative infinity with no terms.
    pub fn value(&self) -> f64 {
        if self.count == 0 {
            return f64::NEG_INFINITY;
        }
        self.max + libm::log(self.sum) - libm::log(self.count as f64)
    }
}

impl Default for LogMeanExp {
    fn default() -> Self {
        Self::new()
    }
}

/// Estimates `-log p(y | x)` of one example with `samples` draws of the stochastic layers.
///
/// # Errors
///
/// [`Error::InvalidCount`] if `samples` is zero.
///
/// # Determinism
///
/// Draws `samples` sample passes from `rng`, `B` rows at a time.
#[allow(clippy::too_many_arguments)]
pub fn negative_log_likelihood<N, R, const IN: usize, const Y: usize, const B: usize>(
    net: &N,
    x: &[f32; IN],
    y: &[f32; Y],
    samples: usize,
    replicas: &mut Replicas<IN, Y, B>,
    ws: &mut Workspace<N::Trace<B>, B>,
    rng: &mut R,
) -> Result<f64, Error>
where
    N: Network<IN, Y>,
    R: Rng + ?Sized,
{
    if samples == 0 || B == 0 {
        return Err(Error::InvalidCount {
            name: "samples",
            value: samples,
            allowed: "at least 1",
        });
    }
    replicas.x.iter_mut().for_each(|r| *r = *x);
    replicas.y.iter_mut().for_each(|r| *r = *y);

    let mut lme = LogMeanExp::new();
    let mut left = samples;
    while left > 0 {
        let n = left.min(B);
        for row in 0..n {
            N::draw(&mut ws.trace, row, rng);
        }
        net.sample(
            &replicas.x[..n],
            &replicas.y[..n],
            &mut ws.trace,
            &mut ws.f[..n],
            &mut DrawnWords,
        );
        for f in &ws.f[..n] {
            lme.push(-f64::from(*f));
        }
        left -= n;
    }
    Ok(-lme.value())
}

/// Self-normalised importance weights: `w_k = e^{log_w[k]} / sum_j e^{log_w[j]}`, computed
/// shifted by the maximum. These are the weights of the gradient of a log-mean-exp,
/// `d/dtheta log (1/K sum_k e^{l_k}) = sum_k w_k dl_k/dtheta`, held constant.
pub fn normalized_weights(log_w: &[f64], w: &mut [f64]) {
    let max = log_w.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let mut total = 0.0;
    for (wk, l) in w.iter_mut().zip(log_w) {
        *wk = libm::exp(l - max);
        total += *wk;
    }
    w.iter_mut().for_each(|wk| *wk /= total);
}
