//! MuProp: the likelihood-ratio estimator with a first-order Taylor control variate around the
//! mean-field pass (Gu, Levine, Sutskever and Mnih, ICLR 2016).
//!
//! For layer `l`, with `fbar` and `fbar'_l = d fbar / d xbar_l` from one mean-field pass,
//! `r_l = f(x) - fbar - fbar'_l . (x_l - xbar_l)` and the logit gradient is
//! `delta_l = r_l (x_l - mu_l) + J_l^T fbar'_l`, where `J_l` is the Jacobian of the means with
//! respect to the logits (`fbar'_l * sigmoid'(a_l)` for Bernoulli units) and `a_l`, `mu_l` are
//! the logits and means at the *sampled* input of the layer. The first term is the likelihood-ratio
//! estimate of the residual; the second adds back the control variate's exact expectation.
//! The estimate is unbiased because the expansion point and slope do not depend on `x_l` or any
//! later sample.

use crate::estimator::Estimator;
use crate::network::LayerView;

/// Where MuProp evaluates the mean of the added-back control variate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// At the layer's sampled input: `sigmoid'(g(x_{l-1}))`. Unbiased.
    SampledInput,
    /// At the layer's mean-field input: `sigmoid'(g(xbar_{l-1}))`. **Biased** for every layer
    /// after the first; it exists as the negative control that the exact-gradient tests must
    /// reject, and is not meant for training.
    MeanFieldInput,
}

/// The MuProp estimator (one mean-field pass, no learned baseline).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MuProp {
    correction: Correction,
}

impl MuProp {
    /// MuProp as published: the correction taken at the sampled input.
    pub const fn new() -> Self {
        Self {
            correction: Correction::SampledInput,
        }
    }

    /// The biased negative control (see [`Correction::MeanFieldInput`]).
    pub const fn negative_control() -> Self {
        Self {
            correction: Correction::MeanFieldInput,
        }
    }

    /// Where the correction is evaluated.
    pub const fn correction(&self) -> Correction {
        self.correction
    }
}

impl Default for MuProp {
    fn default() -> Self {
        Self::new()
    }
}

impl Estimator for MuProp {
    fn needs_mean_field(&self) -> bool {
        true
    }

    fn logit_gradient(&mut self, _: usize, v: &mut LayerView<'_>, f: &[f32], fbar: &[f32]) {
        let w = v.width;
        if w == 0 {
            return;
        }

        // J_mean^T fbar' at the chosen input, into delta (for Bernoulli units:
        // fbar' * sigmoid'(a)).
        let (logits, mean) = match self.correction {
            Correction::SampledInput => (v.logits, v.mean),
            Correction::MeanFieldInput => (v.mf_logits, v.mf_mean),
        };
        let correction = core::mem::take(&mut v.delta);
        v.mean_vjp(logits, mean, v.mf_grad, correction);
        v.delta = correction;

        add_residual_term(v, f, fbar, 1.0, 1.0, None);
    }
}

/// Adds `r (x - mu)` to each row's logit gradient, where
/// `r = f - eta0 fbar - eta1 fbar' . (x - xbar) - baseline`; `baselines`
/// gives one value per row (zero when absent). `delta` must already hold the correction.
pub(crate) fn add_residual_term(
    v: &mut LayerView<'_>,
    f: &[f32],
    fbar: &[f32],
    eta0: f32,
    eta1: f32,
    baselines: Option<&[f32]>,
) {
    let w = v.width;
    if w == 0 {
        return;
    }
    let rows = v
        .delta
        .chunks_exact_mut(w)
        .zip(v.sample.chunks_exact(w))
        .zip(v.mean.chunks_exact(w))
        .zip(v.mf_mean.chunks_exact(w))
        .zip(v.mf_grad.chunks_exact(w))
        .zip(f.iter().zip(fbar))
        .enumerate();
    for (row, (((((d, x), mu), xbar), g), (fr, fbr))) in rows {
        let b = baselines.and_then(|b| b.get(row)).copied().unwrap_or(0.0);
        let r = fr - eta0 * fbr - eta1 * taylor_term(g, x, xbar) - b;
        for ((dj, xj), mj) in d.iter_mut().zip(x).zip(mu) {
            *dj += r * (xj - mj);
        }
    }
}

/// `fbar' . (x - xbar)` of one row.
pub(crate) fn taylor_term(g: &[f32], x: &[f32], xbar: &[f32]) -> f32 {
    let mut t = 0.0;
    for ((gj, xj), xbj) in g.iter().zip(x).zip(xbar) {
        t += gj * (xj - xbj);
    }
    t
}
