//! The one place that names the lane width and the SIMD type.

/// The vector of `f32` lanes every kernel computes with.
#[allow(dead_code)]
pub(crate) type Lane = wide::f32x8;

/// Number of `f32` lanes in [`Lane`].
#[allow(dead_code)]
pub(crate) const LANES: usize = 8;
