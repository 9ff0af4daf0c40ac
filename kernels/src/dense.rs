//! Dense layer products. PLACEHOLDER: delegates to the reference twins until the SIMD versions land.
pub use crate::reference::{
    accumulate, accumulate_batch, backprop_input, backprop_input_batch, logits, logits_batch,
};
