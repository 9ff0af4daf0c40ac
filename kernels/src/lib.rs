//! SIMD kernels for the `muprop` crate, each with a scalar twin in [`mod@reference`].
//!
//! The kernels cover what a training step of a stochastic binary network does: the dense
//! products of a layer (logits, the transposed product, gradient accumulation), the
//! activations (sigmoid, log-sigmoid, softplus, the sigmoid derivative, exp, tanh, leaky
//! ReLU), Bernoulli sampling from a caller's generator, reductions, and optimiser updates.
//! Nothing here allocates, prints or panics on any input.
//!
//! Weight matrices are stored input-major: `w: [[f32; OUT]; IN]`, so `w[i]` holds the weights
//! leaving input `i`. The logits of a layer are then a sum of rows selected by the input, which
//! for binary inputs (samples) needs no multiplications at all; zero and subnormal inputs are
//! skipped.
//!
//! Lane width is chosen once, in a private module; the portable default is 8 lanes of `f32`
//! through `wide::f32x8`, which `wide` maps to AVX, SSE2, NEON, or scalar code.
//!
//! # Determinism and precision
//!
//! No kernel uses fused multiply-add, and slice tails are computed in zero-padded lanes, so an
//! input gives the same bits on every target and at every position of a buffer. The dense
//! products that add rows (`logits`, `accumulate` and their batch forms), the sampler and the
//! optimiser updates are bit-identical to their twins in [`mod@reference`]; the reductions
//! (`dot`, `sum`, `backprop_input`) use a fixed lane order and state a bound against the
//! index-order twins; the activations state a bound in ULPs. Each kernel's `# Precision`
//! section gives the figure.
#![no_std]
// The SIMD modules go unused when the crate root serves the scalar twins.
#![cfg_attr(any(muprop_scalar_kernels, target_arch = "arm"), allow(dead_code))]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

// The crate-root kernels are the scalar twins on 32-bit Arm (Cortex-M has no float SIMD, and
// plain loops beat `wide`'s emulated lanes there) and in builds with
// `--cfg muprop_scalar_kernels`, which lets a whole training run on a host be compared with
// the SIMD build or reproduce a device bit for bit (see the crate docs).
mod activation;
mod dense;
mod lanes;
pub mod probe;
mod reduce;
pub mod reference;
mod sampling;
pub mod scalar;
mod update;

#[cfg(not(any(muprop_scalar_kernels, target_arch = "arm")))]
pub use activation::{
    bernoulli_nll, exp, leaky_relu, log_sigmoid, sigmoid, sigmoid_grad, softplus, tanh,
};
#[cfg(not(any(muprop_scalar_kernels, target_arch = "arm")))]
pub use dense::{
    accumulate, accumulate_batch, backprop_input, backprop_input_batch, logits, logits_batch,
};
#[cfg(not(any(muprop_scalar_kernels, target_arch = "arm")))]
pub use reduce::{all_finite, dot, sum};
#[cfg(any(muprop_scalar_kernels, target_arch = "arm"))]
pub use reference::{
    accumulate, accumulate_batch, adam, all_finite, backprop_input, backprop_input_batch,
    bernoulli, bernoulli_nll, dot, exp, leaky_relu, log_sigmoid, logits, logits_batch, sgd,
    sgd_momentum, sigmoid, sigmoid_grad, softplus, sum, tanh,
};
#[cfg(not(any(muprop_scalar_kernels, target_arch = "arm")))]
pub use sampling::bernoulli;
pub use scalar::unit_f32;
pub use update::AdamStep;
#[cfg(not(any(muprop_scalar_kernels, target_arch = "arm")))]
pub use update::{adam, sgd, sgd_momentum};
