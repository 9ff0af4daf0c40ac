//! REINFORCE leave-one-out with two samples (Kool, van Hoof and Welling, 2019).
//!
//! Two independent samples of every layer per row give losses `f1`, `f2`; each sample's
//! learning signal is its loss minus the other's, and the two estimates are averaged:
//! `1/2 [(f1 - f2) grad log p(x^1) + (f2 - f1) grad log p(x^2)]`, plus the average of the two
//! pathwise gradients of the loss's own parameters. Each sample's baseline is independent of
//! it, so the estimate is unbiased. It costs two sample passes and two backward passes.

use rand_core::Rng;

use crate::estimator::Estimator;
use crate::network::{Backward, Network};
use crate::sampler::DrawnWords;
use crate::Workspace;

/// Two-sample REINFORCE with leave-one-out baselines.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LeaveOneOut;

impl Estimator for LeaveOneOut {
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
        for row in 0..n {
            N::draw(&mut ws.alt, row, rng);
        }
        net.sample(x, y, &mut ws.trace, &mut ws.f[..n], &mut DrawnWords);
        net.sample(x, y, &mut ws.alt, &mut ws.f_alt[..n], &mut DrawnWords);

        for l in 0..N::DEPTH {
            if let Some(v) = N::layer(&mut ws.trace, l, n) {
                signal_times_score(
                    v.delta,
                    v.sample,
                    v.mean,
                    v.width,
                    &ws.f[..n],
                    &ws.f_alt[..n],
                );
            }
            if let Some(v) = N::layer(&mut ws.alt, l, n) {
                signal_times_score(
                    v.delta,
                    v.sample,
                    v.mean,
                    v.width,
                    &ws.f_alt[..n],
                    &ws.f[..n],
                );
            }
        }
        let half = 0.5 * scale;
        net.backward(x, y, &mut ws.trace, grad, half, Backward::Logits, None);
        net.backward(x, y, &mut ws.alt, grad, half, Backward::Logits, None);

        // The chunk's reported loss is the mean of both samples.
        for (f, g) in ws.f[..n].iter_mut().zip(&ws.f_alt[..n]) {
            *f = 0.5 * (*f + g);
        }
    }
}

/// `delta = (own - other) (x - mu)` per row.
fn signal_times_score(
    delta: &mut [f32],
    sample: &[f32],
    mean: &[f32],
    width: usize,
    own: &[f32],
    other: &[f32],
) {
    if width == 0 {
        return;
    }
    let rows = delta
        .chunks_exact_mut(width)
        .zip(sample.chunks_exact(width).zip(mean.chunks_exact(width)))
        .zip(own.iter().zip(other));
    for ((d, (x, mu)), (a, b)) in rows {
        let signal = a - b;
        for ((dj, xj), mj) in d.iter_mut().zip(x).zip(mu) {
            *dj = signal * (xj - mj);
        }
    }
}
