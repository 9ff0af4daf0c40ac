//! Scalar definitions of the activation functions, one value at a time.
//!
//! These are the specifications the lane-wise kernels are tested against. Each follows the
//! numerically stable form fixed by the project: `softplus(a) = max(a, 0) + log1p(exp(-|a|))`,
//! `log_sigmoid(a) = -softplus(-a)`, `sigmoid'(a) = sigmoid(a) * sigmoid(-a)`.
//!
//! # Precision
//!
//! Each function is within a few ULPs of the exact value, inheriting `libm`'s accuracy for
//! `expf` and `log1pf`; none returns NaN for a non-NaN input, and none returns an infinity
//! where the true value is finite.

/// `e^x`, as `libm::expf` (subnormal results are produced, not flushed).
#[inline]
pub fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// The logistic function `1 / (1 + e^-x)`, accurate in both tails.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    let e = libm::expf(-x.abs());
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)`.
#[inline]
pub fn softplus(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    x.max(0.0) + libm::log1pf(libm::expf(-x.abs()))
}

/// `log sigmoid(x) = -softplus(-x)`; exactly `x` for very negative `x`.
#[inline]
pub fn log_sigmoid(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    x.min(0.0) - libm::log1pf(libm::expf(-x.abs()))
}

/// The derivative of the logistic function, `sigmoid(x) * sigmoid(-x) = e^-|x| / (1 + e^-|x|)^2`.
///
/// Accurate where `s * (1 - s)` would round to zero (large positive `x`).
#[inline]
pub fn sigmoid_grad(x: f32) -> f32 {
    let e = libm::expf(-x.abs());
    let d = 1.0 + e;
    (e / d) / d
}

/// The hyperbolic tangent, as `libm::tanhf`.
#[inline]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

/// Leaky rectifier: `x` for `x > 0`, `slope * x` otherwise.
#[inline]
pub fn leaky_relu(x: f32, slope: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        slope * x
    }
}

/// A uniform on the 24-bit grid from a raw generator word: `(word >> 8) / 2^24`, in `[0, 1)`.
///
/// The top 24 bits are used, so the result is an exact multiple of `2^-24` and never `1.0`.
#[inline]
pub fn unit_f32(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A Bernoulli draw: `1.0` if `unit_f32(word) < p`, else `0.0`.
///
/// `p <= 0` (and NaN) never gives 1; `p >= 1` always does. Probabilities are quantised to the
/// 24-bit grid: any `p` in `(0, 2^-24]` behaves like `2^-24`.
#[inline]
pub fn bernoulli(p: f32, word: u32) -> f32 {
    if unit_f32(word) < p {
        1.0
    } else {
        0.0
    }
}
