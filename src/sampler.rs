//! Where the sample pass gets its Bernoulli draws: a random generator, or a fixed state.

use rand_core::Rng;

/// A source of Bernoulli samples for the sample pass.
pub trait Sampler {
    /// Writes one sample per unit: `x[k]` is `1.0` with probability `mu[k]`, else `0.0`.
    fn bernoulli(&mut self, mu: &[f32], x: &mut [f32]);
}

/// Draws samples from a caller's generator: one `u32` per unit, `1` if its top 24 bits as a
/// uniform in `[0, 1)` fall below the mean.
pub struct RngSampler<'a, R: Rng + ?Sized>(pub &'a mut R);

impl<R: Rng + ?Sized> Sampler for RngSampler<'_, R> {
    #[inline]
    fn bernoulli(&mut self, mu: &[f32], x: &mut [f32]) {
        let rng = &mut *self.0;
        muprop_kernels::bernoulli(mu, x, &mut || rng.next_u32());
    }
}

/// Sets units from the bits of a joint state, lowest bit first, ignoring the means.
///
/// The exact-gradient oracle walks every state with it.
pub(crate) struct StateSampler {
    pub(crate) state: u64,
    pub(crate) next_bit: u32,
}

impl Sampler for StateSampler {
    fn bernoulli(&mut self, _: &[f32], x: &mut [f32]) {
        for xk in x.iter_mut() {
            let bit = self.state.checked_shr(self.next_bit).unwrap_or(0) & 1;
            *xk = bit as f32;
            self.next_bit = self.next_bit.saturating_add(1);
        }
    }
}
