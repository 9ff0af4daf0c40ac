//! MuProp with rollout: for each layer, a mean-field pass restarted from that layer's sampled
//! input.
//!
//! For layer `l` the expansion point is the mean-field network run from the sampled
//! `x_{l-1}`, so `xbar_l = mu_l` and `r_l = f - fbar^(l) - fbar'^(l)_l . (x_l - mu_l)`,
//! `delta_l = r_l (x_l - mu_l) + J_l^T fbar'^(l)_l`. Unbiased for the same reason as MuProp: the
//! expansion point depends only on `x_{l-1}`. It costs one mean-field pass (with its reverse
//! sweep) per layer instead of one in all.

use rand_core::Rng;

use crate::estimator::Estimator;
use crate::network::{Backward, Network};
use crate::sampler::DrawnWords;
use crate::Workspace;

/// MuProp with a restarted mean-field pass per layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MuPropRollout;

impl Estimator for MuPropRollout {
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

        // Each layer's restart overwrites the mean-field values of it and what follows, so
        // its logit gradient is formed right after.
        for l in 0..N::DEPTH {
            net.mean_field_from(l, x, y, &mut ws.trace, &mut ws.fbar[..n]);
            if let Some(mut v) = N::layer(&mut ws.trace, l, n) {
                let delta = core::mem::take(&mut v.delta);
                v.mean_vjp(v.logits, v.mean, v.mf_grad, delta);
                v.delta = delta;
                super::muprop::add_residual_term(&mut v, &ws.f[..n], &ws.fbar[..n], 1.0, 1.0, None);
            }
        }
        net.backward(x, y, &mut ws.trace, grad, scale, Backward::Logits, None);
    }
}
