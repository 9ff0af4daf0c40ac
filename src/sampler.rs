//! Where the sample pass gets its samples: words drawn from a generator, or a fixed joint
//! state.
//!
//! Before a chunk's sample pass, every row draws one `u32` per stochastic unit from the caller's
//! generator, row by row and, within a row, layer by layer (see [`crate::Network::draw`]). A
//! row's draws therefore do not depend on how the minibatch is cut into chunks.

use crate::units::Units;

/// A source of samples for the sample pass.
pub trait Sampler {
    /// Writes one layer's samples for the chunk, given its means and drawn words.
    fn sample<U: Units>(&mut self, mu: &[f32], words: &[u32], x: &mut [f32]);
}

/// Samples from the drawn words (see [`Units::sample`]).
pub struct DrawnWords;

impl Sampler for DrawnWords {
    #[inline]
    fn sample<U: Units>(&mut self, mu: &[f32], words: &[u32], x: &mut [f32]) {
        U::sample(mu, words, x);
    }
}

/// Sets units from the digits of a joint state, ignoring means and words: each Bernoulli unit
/// takes one binary digit, each categorical group one base-`C` digit, lowest first.
///
/// The exact-gradient oracle walks every state with it.
pub(crate) struct StateSampler {
    pub(crate) remaining: u64,
}

impl Sampler for StateSampler {
    fn sample<U: Units>(&mut self, _: &[f32], _: &[u32], x: &mut [f32]) {
        let remaining = &mut self.remaining;
        U::set_state(x, &mut |radix| {
            let radix = radix.max(1) as u64;
            let d = *remaining % radix;
            *remaining /= radix;
            d as usize
        });
    }
}
