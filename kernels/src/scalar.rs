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

/// `(softplus(x), sigmoid(x))` from one `e^-|x|`: the same bits as [`softplus`] and
/// [`sigmoid`] called apart.
#[inline]
pub fn softplus_and_sigmoid(x: f32) -> (f32, f32) {
    let e = libm::expf(-x.abs());
    let sp = if x.is_nan() {
        x
    } else {
        x.max(0.0) + libm::log1pf(e)
    };
    let sig = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (sp, sig)
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

/// The correctly rounded square root: one `vsqrt.f32` on hard-float Arm, `libm::sqrtf` elsewhere.
///
/// `libm` has no hardware path for 32-bit Arm and computes the root in software there. Every
/// FPU a hard-float Arm target runs on (VFPv2 onwards, FPv4-SP and FPv5 included) has
/// `vsqrt.f32`, correctly rounded in the default round-to-nearest mode as `libm::sqrtf` is, so
/// on Arm both give the same bits for every input that is not NaN (negative inputs give the
/// default NaN in both); a NaN input gives a NaN, whose payload may differ.
///
/// The target is picked by `target_abi = "eabihf"`: the hard-float ABI passes `f32` values in
/// FPU registers, so it implies a single-precision FPU; `thumbv6m-none-eabi` (no FPU) and the
/// soft-float `eabi` targets keep `libm`. Stable Rust sets no `cfg(target_feature)` for Arm's
/// FPU features, so none can be used here.
#[inline]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    {
        vsqrt(x)
    }
    #[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
    {
        libm::sqrtf(x)
    }
}

/// `vsqrt.f32 s0, s0`: the hard-float ABI passes `x` and the result in `s0`.
///
/// Two toolchain limits shape this function (Rust 1.95). An inline `asm!` cannot take the
/// value in an FPU register: Rust accepts `sreg` operands only with its `vfp2` feature, which
/// implies double precision and is off on `thumbv7em-none-eabihf`. And a naked function's
/// assembly is also parsed without the target's FPU features when the crate is compiled for
/// link-time optimisation (the firmware's release profile), which rejects the mnemonic; so the
/// instruction is written as its encoding, `0xeeb10ac0`, the same word in Arm and Thumb-2
/// state. The cost is a call and a return around the one instruction.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
#[allow(unsafe_code)]
#[unsafe(naked)]
extern "C" fn vsqrt(_x: f32) -> f32 {
    // SAFETY: on every `eabihf` target the C ABI is AAPCS-VFP: the `f32` argument arrives in
    // `s0`, the `f32` result is returned in `s0`, and the function returns to `lr`. The body
    // is `vsqrt.f32 s0, s0` (encoding 0xeeb10ac0) and `bx lr`: it reads and writes only `s0`,
    // a caller-saved register, touches no memory and no stack, and changes no core flags; like
    // any float operation it may set FPSCR's cumulative exception bits (invalid for a negative
    // input, inexact). The hard-float ABI implies an FPU with single-precision VFP, and every
    // such FPU implements `vsqrt.f32`.
    core::arch::naked_asm!(".inst 0xeeb10ac0", "bx lr")
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

#[cfg(test)]
mod tests {
    use super::{sigmoid, softplus, softplus_and_sigmoid, sqrt};
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// The shared-exp pair gives the bits of the two functions called apart, on special
    /// values and random bit patterns.
    #[test]
    fn softplus_and_sigmoid_is_both_apart() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let special = [
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-45,
            -88.7,
            100.0,
        ];
        let random = (0..200_000).map(|_| f32::from_bits(rng.next_u32()));
        for x in special.into_iter().chain(random) {
            let (sp, sig) = softplus_and_sigmoid(x);
            assert_eq!(sp.to_bits(), softplus(x).to_bits(), "softplus({x:e})");
            assert_eq!(sig.to_bits(), sigmoid(x).to_bits(), "sigmoid({x:e})");
        }
    }

    /// `true` if `r` is `sqrt(x)` rounded to nearest: `x` lies strictly between the squares of
    /// the midpoints from `r` to its neighbours. Those midpoints have 25 significant bits, so
    /// they and their squares (at most 50 bits) are exact in `f64`; no square root of an `f32`
    /// falls exactly on a midpoint, so there are no ties to break.
    fn correctly_rounded(x: f32, r: f32) -> bool {
        if r.is_sign_negative() || !r.is_finite() {
            return false;
        }
        let below = f32::from_bits(r.to_bits().saturating_sub(1));
        let above = f32::from_bits(r.to_bits() + 1);
        let lo = (f64::from(r) + f64::from(below)) / 2.0;
        let hi = (f64::from(r) + f64::from(above)) / 2.0;
        let x = f64::from(x);
        (r == 0.0 || lo * lo < x) && x < hi * hi
    }

    /// The helper is correctly rounded on edge values and seeded random positive floats.
    ///
    /// On the host `sqrt` is `libm::sqrtf`, so this checks the contract the hard-float Arm path
    /// (`vsqrt.f32`) is held to. That path is checked where it runs: the firmware's Adam updates
    /// go through it, and `examples/firmware/run.sh` compares their results bit for bit with
    /// the host's.
    #[test]
    fn sqrt_is_correctly_rounded() {
        let edges = [
            f32::from_bits(1),
            f32::from_bits(0x007F_FFFF),
            f32::MIN_POSITIVE,
            1e-30,
            0.25,
            0.5,
            1.0,
            2.0,
            f32::from_bits(0x407F_FFFF),
            4.0,
            1e30,
            f32::MAX,
        ];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(43);
        let random = (0..200_000).map(|_| f32::from_bits(rng.next_u32() % 0x7F80_0000));
        for x in edges.into_iter().chain(random) {
            let r = sqrt(x);
            assert!(
                correctly_rounded(x, r),
                "sqrt({x:e} = {:#010x}) = {r:e} = {:#010x} is not correctly rounded",
                x.to_bits(),
                r.to_bits()
            );
        }
    }

    /// Zeros keep their sign, `+inf` stays, negative values and NaN give NaN.
    #[test]
    fn sqrt_special_values() {
        assert_eq!(sqrt(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(sqrt(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sqrt(f32::INFINITY), f32::INFINITY);
        for x in [-f32::from_bits(1), -1.0, f32::NEG_INFINITY, f32::NAN] {
            assert!(
                sqrt(x).is_nan(),
                "sqrt({x:e}) = {:e}, expected NaN",
                sqrt(x)
            );
        }
    }
}
