//! The one place that names the lane width, the SIMD types and the vector-register budget.
//!
//! Every other module computes with [`Lane`] and [`IntLane`], moves data with [`load_padded`]
//! and [`store_partial`], and reduces with [`hsum`]; none of them names a lane count.

/// The vector of `f32` lanes every kernel computes with.
pub(crate) type Lane = wide::f32x8;

/// The vector of `i32` lanes with the same width as [`Lane`] (exponent and bit manipulation).
pub(crate) type IntLane = wide::i32x8;

/// Number of `f32` lanes in [`Lane`].
pub(crate) const LANES: usize = 8;

/// The vector registers the target has for [`Lane`] values: its register count divided by the
/// registers one `Lane` occupies (AVX-512VL: 32 of 32 bytes; AVX: 16 of 32; aarch64 NEON: 32
/// of 16; SSE2 and the rest: 16 of 16).
pub(crate) const LANE_REGISTERS: usize = {
    let (count, bytes) = if cfg!(target_feature = "avx512vl") {
        (32, 32)
    } else if cfg!(target_feature = "avx") {
        (16, 32)
    } else if cfg!(target_arch = "aarch64") {
        (32, 16)
    } else {
        (16, 16)
    };
    count / core::mem::size_of::<Lane>().div_ceil(bytes)
};

const _: () = assert!(core::mem::size_of::<Lane>() == LANES * core::mem::size_of::<f32>());
const _: () = assert!(core::mem::size_of::<IntLane>() == core::mem::size_of::<Lane>());
const _: () = assert!(LANES.is_power_of_two());

/// Loads up to [`LANES`] elements of `src` into the low lanes; the other lanes are `0.0`.
#[inline(always)]
pub(crate) fn load_padded(src: &[f32]) -> Lane {
    let mut buf = [0.0; LANES];
    for (b, s) in buf.iter_mut().zip(src) {
        *b = *s;
    }
    Lane::new(buf)
}

/// Stores the low lanes of `v` into `dst`, as many as `dst` holds (at most [`LANES`]).
#[inline(always)]
pub(crate) fn store_partial(v: Lane, dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(v.to_array()) {
        *d = s;
    }
}

/// The horizontal sum of the lanes, in a fixed order on every target.
///
/// A halving tree: lane `j` is added to lane `j + LANES / 2` for every `j` below half the
/// width, then the same on the remaining half, until one lane is left.
#[inline(always)]
pub(crate) fn hsum(v: Lane) -> f32 {
    let mut s = v.to_array();
    let mut width = LANES / 2;
    while width > 0 {
        if let Some((lo, hi)) = s.split_at_mut_checked(width) {
            for (a, b) in lo.iter_mut().zip(hi.iter()) {
                *a += *b;
            }
        }
        width /= 2;
    }
    s.first().copied().unwrap_or(0.0)
}

/// Reinterprets the bits of each lane as an `i32`.
#[inline(always)]
pub(crate) fn to_int_bits(v: Lane) -> IntLane {
    v.to_bits().cast_signed()
}

/// Reinterprets the bits of each `i32` lane as an `f32`.
#[inline(always)]
pub(crate) fn from_int_bits(v: IntLane) -> Lane {
    Lane::from_bits(v.cast_unsigned())
}

/// The correctly rounded square root of every lane.
///
/// Uses the vector instruction where `wide` has one (SSE, wasm `simd128`, aarch64 NEON), and
/// [`crate::scalar::sqrt`] per lane elsewhere, so every target gives the correctly rounded
/// result.
#[inline(always)]
pub(crate) fn sqrt(v: Lane) -> Lane {
    #[cfg(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_feature = "neon", target_arch = "aarch64")
    ))]
    {
        v.sqrt()
    }
    #[cfg(not(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_feature = "neon", target_arch = "aarch64")
    )))]
    {
        Lane::new(v.to_array().map(crate::scalar::sqrt))
    }
}
