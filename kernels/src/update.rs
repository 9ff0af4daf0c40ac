//! Optimiser updates. PLACEHOLDER: delegates to the reference twins until the SIMD versions land.
pub use crate::reference::{adam, sgd_momentum};

/// The constants of one Adam update at step `t` (counted from 1).
///
/// `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
/// `p -= lr * (m / bias1) / (sqrt(v / bias2) + eps)`, with `bias1 = 1 - beta1^t` and
/// `bias2 = 1 - beta2^t`: `eps` is added to the square root of the bias-corrected second moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the square root of the bias-corrected second moment.
    pub eps: f32,
    /// `1 - beta1^t`.
    pub bias1: f32,
    /// `1 - beta2^t`.
    pub bias2: f32,
}
