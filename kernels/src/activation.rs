//! Activations. PLACEHOLDER: delegates to the reference twins until the SIMD versions land.
pub use crate::reference::{exp, leaky_relu, log_sigmoid, sigmoid, sigmoid_grad, softplus, tanh};
