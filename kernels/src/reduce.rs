//! Reductions. PLACEHOLDER: delegates to the reference twins until the SIMD versions land.
pub use crate::reference::{all_finite, dot, sum};
