//! Bernoulli sampling. PLACEHOLDER: delegates to the reference twin until the SIMD version lands.
pub use crate::reference::bernoulli;
