//! Where the sample pass gets its Bernoulli draws: words drawn from a generator, or a fixed
//! joint state.
//!
//! Before a chunk's sample pass, every row draws one `u32` per stochastic unit from the caller's
//! generator, row by row and, within a row, layer by layer (see [`crate::Network::draw`]). A
//! row's draws therefore do not depend on how the minibatch is cut into chunks.

/// A source of Bernoulli samples for the sample pass.
pub trait Sampler {
    /// Writes one sample per unit: `x[k]` is `1.0` with probability `mu[k]`, else `0.0`, given
    /// the layer's drawn words.
    fn bernoulli(&mut self, mu: &[f32], words: &[u32], x: &mut [f32]);
}

/// Samples from drawn words: `x = 1` if the word's top 24 bits, as a uniform in `[0, 1)`, fall
/// below the mean.
pub struct DrawnWords;

impl Sampler for DrawnWords {
    #[inline]
    fn bernoulli(&mut self, mu: &[f32], words: &[u32], x: &mut [f32]) {
        let mut next = words.iter().copied();
        muprop_kernels::bernoulli(mu, x, &mut || next.next().unwrap_or(0));
    }
}

/// Sets units from the bits of a joint state, lowest bit first, ignoring means and words.
///
/// The exact-gradient oracle walks every state with it.
pub(crate) struct StateSampler {
    pub(crate) state: u64,
    pub(crate) next_bit: u32,
}

impl Sampler for StateSampler {
    fn bernoulli(&mut self, _: &[f32], _: &[u32], x: &mut [f32]) {
        for xk in x.iter_mut() {
            let bit = self.state.checked_shr(self.next_bit).unwrap_or(0) & 1;
            *xk = bit as f32;
            self.next_bit = self.next_bit.saturating_add(1);
        }
    }
}
