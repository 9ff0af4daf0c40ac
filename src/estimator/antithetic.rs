//! ARM and DisARM: unbiased estimators from an antithetic pair of samples per layer (Bernoulli
//! units only).
//!
//! For layer `l` with logits `phi` at its sampled input and one fresh uniform `u` per unit, the
//! pair is `b1 = 1[u > 1 - sigmoid(phi)]`, `b2 = 1[u < sigmoid(phi)]`. Each of `b1`, `b2` is
//! fed forward through the rest of the network with fresh downstream samples (the same words
//! for both) to give `f(b1)`, `f(b2)`. Then per unit
//! - ARM (Yin and Zhou, 2019): `delta = (f(b1) - f(b2)) (u - 1/2)`;
//! - DisARM (Dong, Mnih and Tucker, 2020):
//!   `delta = 1/2 (f(b1) - f(b2)) 1[b1 != b2] (-1)^b2 sigmoid(|phi|)`.
//!
//! Both are unbiased for `d E[f | x_{l-1}] / d phi`, because `f(b)` is an unbiased estimate of
//! `E[f | x_l = b]` whatever the downstream noise. The main sample path supplies each layer's
//! input and the loss's pathwise gradient. Each layer's uniforms and downstream noise come
//! from words drawn afresh for it after the main sample pass.
//!
//! Only Bernoulli layers get a logit gradient; a categorical layer's is left at zero, so use
//! another estimator for networks with categorical layers.
//!
//! # Cost
//!
//! One main sample pass, then per layer `l` two passes through layers `l+1..` and the output:
//! about `L (L + 1)` layer passes for `L` layers, against `L` for REINFORCE, plus a copy of
//! the trace per layer.

use rand_core::Rng;

use crate::estimator::Estimator;
use crate::network::{Backward, Network};
use crate::sampler::DrawnWords;
use crate::Workspace;

/// Which antithetic estimator to form from the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pairing {
    Arm,
    DisArm,
}

/// The ARM estimator (Bernoulli units).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Arm;

/// The DisARM estimator (Bernoulli units): ARM with the uniform integrated out, never worse
/// in variance.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DisArm;

impl Estimator for Arm {
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
        antithetic_chunk(Pairing::Arm, net, x, y, ws, grad, scale, rng);
    }
}

impl Estimator for DisArm {
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
        antithetic_chunk(Pairing::DisArm, net, x, y, ws, grad, scale, rng);
    }
}

/// The uniform of a word, and the pair `(b1, b2)` it gives at mean `p`.
#[inline]
fn pair(word: u32, p: f32) -> (f32, f32, f32) {
    let u = muprop_kernels::unit_f32(word);
    let b1 = if u > 1.0 - p { 1.0 } else { 0.0 };
    let b2 = if u < p { 1.0 } else { 0.0 };
    (u, b1, b2)
}

#[allow(clippy::too_many_arguments)]
fn antithetic_chunk<N, R, const IN: usize, const Y: usize, const B: usize>(
    pairing: Pairing,
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

    for l in 0..N::DEPTH {
        // Each layer's pair is fed forward in a fresh copy of the main path (losses that read
        // earlier layers, such as the variational SBN's, find the main samples there), with
        // fresh words for the uniforms and the downstream samples.
        ws.alt = ws.trace;
        for row in 0..n {
            N::draw(&mut ws.alt, row, rng);
        }
        let Some(v) = N::layer(&mut ws.trace, l, n) else {
            continue;
        };
        let w = v.width;
        if v.classes != 1 {
            // The pair is defined for Bernoulli units only; see the module docs.
            v.delta.fill(0.0);
            continue;
        }
        let Some(alt) = N::layer(&mut ws.alt, l, n) else {
            continue;
        };
        let words = alt.words;

        // f(b1) into fbar, f(b2) into f_alt; the pair is staged in the main delta.
        for (d, (word, p)) in v.delta.iter_mut().zip(words.iter().zip(v.mean)) {
            *d = pair(*word, *p).1;
        }
        net.resample_after(
            l,
            x,
            y,
            &mut ws.alt,
            v.delta,
            &mut ws.fbar[..n],
            &mut DrawnWords,
        );
        let Some(alt) = N::layer(&mut ws.alt, l, n) else {
            continue;
        };
        let words = alt.words;
        for (d, (word, p)) in v.delta.iter_mut().zip(words.iter().zip(v.mean)) {
            *d = pair(*word, *p).2;
        }
        net.resample_after(
            l,
            x,
            y,
            &mut ws.alt,
            v.delta,
            &mut ws.f_alt[..n],
            &mut DrawnWords,
        );

        // The logit gradient from the pair.
        let Some(alt) = N::layer(&mut ws.alt, l, n) else {
            continue;
        };
        let words = alt.words;
        let rows = v
            .delta
            .chunks_exact_mut(w)
            .zip(words.chunks_exact(w))
            .zip(v.mean.chunks_exact(w).zip(v.logits.chunks_exact(w)))
            .zip(ws.fbar[..n].iter().zip(&ws.f_alt[..n]));
        for (((d, wr), (mr, ar)), (f1, f2)) in rows {
            let diff = f1 - f2;
            for (((dj, word), p), a) in d.iter_mut().zip(wr).zip(mr).zip(ar) {
                let (u, b1, b2) = pair(*word, *p);
                *dj = match pairing {
                    Pairing::Arm => diff * (u - 0.5),
                    Pairing::DisArm if b1 != b2 => {
                        let sign = if b2 > 0.5 { -1.0 } else { 1.0 };
                        0.5 * diff * sign * muprop_kernels::scalar::sigmoid(a.abs())
                    }
                    Pairing::DisArm => 0.0,
                };
            }
        }
    }
    net.backward(x, y, &mut ws.trace, grad, scale, Backward::Logits, None);
}
