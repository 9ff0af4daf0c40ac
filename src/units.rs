//! Kinds of random units: independent Bernoulli units, or one-hot categorical groups.
//!
//! A unit kind fixes how a stochastic layer turns logits into means (`sigmoid`, or a softmax
//! per group), how it samples, the vector-Jacobian product of its mean (used by MuProp's
//! correction and by straight-through), and the log-probability of a sample.

use bytemuck::Zeroable;

/// How a stochastic layer's logits become means and samples.
pub trait Units: Copy + Zeroable + Default {
    /// Units per independent choice: 1 for Bernoulli units, `C` for one-hot groups of `C`.
    const CLASSES: usize;

    /// Outcomes of one choice: 2 for a Bernoulli unit, `C` for a group.
    const RADIX: usize;

    /// Means from logits, over whole rows (the length is a multiple of [`Self::CLASSES`]).
    fn mean(a: &[f32], mu: &mut [f32]);

    /// Samples from means, using the drawn words (one per unit; a group uses its first).
    fn sample(mu: &[f32], words: &[u32], x: &mut [f32]);

    /// `out = J^T g`, where `J` is the Jacobian of the means with respect to the logits.
    fn mean_vjp(a: &[f32], mu: &[f32], g: &[f32], out: &mut [f32]);

    /// `log p(x)` of one row's sample under its logits, in `f64`.
    fn log_prob(a: &[f32], x: &[f32]) -> f64;

    /// Sets one row's sample from successive digits of a joint state: `digit(RADIX)` per choice.
    fn set_state(x: &mut [f32], digit: &mut dyn FnMut(usize) -> usize);
}

/// Independent Bernoulli units: `mu = sigmoid(a)`, `x = 1` with probability `mu`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
pub struct Bernoulli;

impl Units for Bernoulli {
    const CLASSES: usize = 1;
    const RADIX: usize = 2;

    fn mean(a: &[f32], mu: &mut [f32]) {
        muprop_kernels::sigmoid(a, mu);
    }

    fn sample(mu: &[f32], words: &[u32], x: &mut [f32]) {
        let mut next = words.iter().copied();
        muprop_kernels::bernoulli(mu, x, &mut || next.next().unwrap_or(0));
    }

    fn mean_vjp(a: &[f32], _: &[f32], g: &[f32], out: &mut [f32]) {
        muprop_kernels::sigmoid_grad(a, out);
        for (o, gk) in out.iter_mut().zip(g) {
            *o *= gk;
        }
    }

    fn log_prob(a: &[f32], x: &[f32]) -> f64 {
        a.iter()
            .zip(x)
            .map(|(a, x)| {
                let signed = if *x > 0.5 { *a } else { -*a };
                f64::from(muprop_kernels::scalar::log_sigmoid(signed))
            })
            .sum()
    }

    fn set_state(x: &mut [f32], digit: &mut dyn FnMut(usize) -> usize) {
        for xk in x.iter_mut() {
            *xk = digit(2) as f32;
        }
    }
}

/// Groups of `C` mutually exclusive units: `mu = softmax(a)` per group and a one-hot sample.
///
/// A layer of `H` units has `H / C` groups; `H` must be a multiple of `C`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
pub struct Categorical<const C: usize>;

impl<const C: usize> Units for Categorical<C> {
    const CLASSES: usize = C;
    const RADIX: usize = C;

    fn mean(a: &[f32], mu: &mut [f32]) {
        for (ag, mg) in a.chunks_exact(C).zip(mu.chunks_exact_mut(C)) {
            let max = ag.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
            for (m, v) in mg.iter_mut().zip(ag) {
                *m = muprop_kernels::scalar::exp(v - max);
            }
            let total: f32 = mg.iter().sum();
            mg.iter_mut().for_each(|m| *m /= total);
        }
    }

    fn sample(mu: &[f32], words: &[u32], x: &mut [f32]) {
        for ((mg, wg), xg) in mu
            .chunks_exact(C)
            .zip(words.chunks_exact(C))
            .zip(x.chunks_exact_mut(C))
        {
            let u = muprop_kernels::unit_f32(wg.first().copied().unwrap_or(0));
            let mut cumulative = 0.0f32;
            let mut chosen = C.saturating_sub(1);
            for (k, m) in mg.iter().enumerate() {
                cumulative += m;
                if u < cumulative {
                    chosen = k;
                    break;
                }
            }
            for (k, xk) in xg.iter_mut().enumerate() {
                *xk = if k == chosen { 1.0 } else { 0.0 };
            }
        }
    }

    fn mean_vjp(_: &[f32], mu: &[f32], g: &[f32], out: &mut [f32]) {
        for ((mg, gg), og) in mu
            .chunks_exact(C)
            .zip(g.chunks_exact(C))
            .zip(out.chunks_exact_mut(C))
        {
            let dot: f32 = mg.iter().zip(gg).map(|(m, g)| m * g).sum();
            for ((o, m), gk) in og.iter_mut().zip(mg).zip(gg) {
                *o = m * (gk - dot);
            }
        }
    }

    fn log_prob(a: &[f32], x: &[f32]) -> f64 {
        let mut total = 0.0f64;
        for (ag, xg) in a.chunks_exact(C).zip(x.chunks_exact(C)) {
            let max = ag
                .iter()
                .fold(f64::NEG_INFINITY, |m, v| m.max(f64::from(*v)));
            let sum: f64 = ag.iter().map(|v| libm::exp(f64::from(*v) - max)).sum();
            let chosen: f64 = ag.iter().zip(xg).map(|(a, x)| f64::from(a * x)).sum();
            total += chosen - max - libm::log(sum);
        }
        total
    }

    fn set_state(x: &mut [f32], digit: &mut dyn FnMut(usize) -> usize) {
        for xg in x.chunks_exact_mut(C) {
            let chosen = digit(C);
            for (k, xk) in xg.iter_mut().enumerate() {
                *xk = if k == chosen { 1.0 } else { 0.0 };
            }
        }
    }
}
