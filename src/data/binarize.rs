//! Binarization: turning intensities in `[0, 1]` into pixels that are exactly `0.0` or `1.0`.
//!
//! Three schemes, one of which is written next to every reported number (the [`Display`]
//! form, for example `fixed-draw(seed=7)`), because results on binarized MNIST are not
//! comparable across schemes:
//!
//! - [`Binarization::Threshold`]: `1` where `x > t`.
//! - [`Binarization::FixedDraw`]: one Bernoulli draw per pixel with probability `x`, made once
//!   from a seed; the data set is then fixed.
//! - [`Binarization::Dynamic`]: a fresh Bernoulli draw every epoch, deterministic from the
//!   seed and the epoch number.
//!
//! # Determinism
//!
//! A draw uses `Xoshiro256PlusPlus::seed_from_u64(key)` with
//! `key = mix(mix(mix(seed ^ tag) ^ epoch) ^ stream)`, where `mix` is the SplitMix64
//! finaliser (a bijection on `u64`), `tag` separates the two drawing schemes, `epoch` is 0 for
//! [`Binarization::FixedDraw`], and `stream` is the split ([`SplitKind::stream`]: 0 train,
//! 1 test). Pixels are drawn in storage order, one `next_u32` each, with the project's 24-bit
//! rule [`muprop_kernels::scalar::bernoulli`]. So the same seed reproduces the same pixels on
//! every platform; different seeds, epochs or splits use different generator states.
//!
//! [`Display`]: core::fmt::Display
//! [`SplitKind::stream`]: super::split::SplitKind::stream

use core::fmt;
use std::vec::Vec;

use muprop_kernels::scalar::bernoulli;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::error::DataError;

/// Domain tag of [`Binarization::FixedDraw`] (ASCII `FixedDrw`).
const FIXED_TAG: u64 = 0x4669_7865_6444_7277;
/// Domain tag of [`Binarization::Dynamic`] (ASCII `DynamicB`).
const DYNAMIC_TAG: u64 = 0x4479_6e61_6d69_6342;

/// How intensities in `[0, 1]` become binary pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binarization {
    /// `1.0` where the intensity exceeds the threshold (in `[0, 1)`; the default is 0.5).
    Threshold(f32),
    /// One Bernoulli draw per pixel, probability = intensity, made once from `seed`.
    FixedDraw {
        /// The seed of the draws.
        seed: u64,
    },
    /// A fresh Bernoulli draw per pixel every epoch, from `seed` and the epoch number.
    Dynamic {
        /// The seed of the draws.
        seed: u64,
    },
}

impl Binarization {
    /// The default threshold, 0.5.
    pub const DEFAULT_THRESHOLD: f32 = 0.5;

    /// Whether the pixels change from epoch to epoch.
    pub const fn is_per_epoch(&self) -> bool {
        matches!(self, Self::Dynamic { .. })
    }

    /// Checks the scheme's parameters.
    ///
    /// # Errors
    ///
    /// [`DataError::InvalidThreshold`] for a threshold that is NaN or outside `[0, 1)`, which
    /// would turn every image into a constant.
    pub fn validate(&self) -> Result<(), DataError> {
        match *self {
            Self::Threshold(threshold) if !(0.0..1.0).contains(&threshold) => {
                Err(DataError::InvalidThreshold { threshold })
            }
            _ => Ok(()),
        }
    }

    /// Binarizes `pixels` (intensities in `[0, 1]`) drawn from random stream `stream` at
    /// `epoch`; every output is exactly `0.0` or `1.0`.
    ///
    /// `epoch` matters only for [`Binarization::Dynamic`], `stream` only for the two drawing
    /// schemes. Intensities outside `[0, 1]` act as the nearer end; NaN gives `0.0`.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    ///
    /// # Determinism
    ///
    /// See the module documentation: the output is a function of the scheme, `pixels`,
    /// `stream` and `epoch` only.
    ///
    /// # Cost
    ///
    /// One comparison per pixel, plus one generator word per pixel for the drawing schemes.
    pub fn apply(&self, pixels: &[f32], stream: u64, epoch: u64) -> Result<Vec<f32>, DataError> {
        self.validate()?;
        let out = match *self {
            Self::Threshold(threshold) => pixels
                .iter()
                .map(|&x| if x > threshold { 1.0 } else { 0.0 })
                .collect(),
            Self::FixedDraw { seed } => draw(pixels, generator(FIXED_TAG, seed, 0, stream)),
            Self::Dynamic { seed } => draw(pixels, generator(DYNAMIC_TAG, seed, epoch, stream)),
        };
        Ok(out)
    }
}

impl Default for Binarization {
    /// A threshold at 0.5.
    fn default() -> Self {
        Self::Threshold(Self::DEFAULT_THRESHOLD)
    }
}

impl fmt::Display for Binarization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Threshold(threshold) => write!(f, "threshold({threshold})"),
            Self::FixedDraw { seed } => write!(f, "fixed-draw(seed={seed})"),
            Self::Dynamic { seed } => write!(f, "dynamic(seed={seed})"),
        }
    }
}

/// One Bernoulli draw per pixel, in storage order.
fn draw(pixels: &[f32], mut rng: Xoshiro256PlusPlus) -> Vec<f32> {
    pixels
        .iter()
        .map(|&p| bernoulli(p, rng.next_u32()))
        .collect()
}

/// The generator of one (scheme, seed, epoch, stream), as documented at the module top.
fn generator(tag: u64, seed: u64, epoch: u64, stream: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix(mix(mix(seed ^ tag) ^ epoch) ^ stream))
}

/// The SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection on `u64` that mixes bits.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32 / (n - 1) as f32).collect()
    }

    #[test]
    fn threshold_is_strictly_greater() {
        let out = Binarization::Threshold(0.5)
            .apply(&[0.0, 0.5, 0.500_001, 1.0], 0, 0)
            .unwrap();
        assert_eq!(out, [0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn invalid_thresholds_are_rejected() {
        for t in [f32::NAN, -0.1, 1.0, 2.0] {
            let err = Binarization::Threshold(t).apply(&[0.5], 0, 0).unwrap_err();
            assert!(
                matches!(err, DataError::InvalidThreshold { .. }),
                "{t}: {err}"
            );
        }
    }

    #[test]
    fn draws_follow_the_documented_generator() {
        let pixels = ramp(50);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(mix(mix(9 ^ DYNAMIC_TAG) ^ 3) ^ 1));
        let expected: Vec<f32> = pixels
            .iter()
            .map(|&p| bernoulli(p, rng.next_u32()))
            .collect();
        assert_eq!(
            Binarization::Dynamic { seed: 9 }
                .apply(&pixels, 1, 3)
                .unwrap(),
            expected
        );
    }

    #[test]
    fn draws_respect_the_edges() {
        let pixels = [0.0, 1.0, -1.0, 2.0, f32::NAN];
        let out = Binarization::FixedDraw { seed: 1 }
            .apply(&pixels, 0, 0)
            .unwrap();
        assert_eq!(out, [0.0, 1.0, 0.0, 1.0, 0.0]);
    }

    /// 100 000 draws at p = 0.3: the sample mean's standard deviation is 0.00145; the bound
    /// is 5 of them.
    #[test]
    fn draw_frequency_matches_the_probability() {
        let pixels = std::vec![0.3_f32; 100_000];
        let out = Binarization::FixedDraw { seed: 5 }
            .apply(&pixels, 0, 0)
            .unwrap();
        let mean = out.iter().sum::<f32>() / out.len() as f32;
        assert!((mean - 0.3).abs() < 5.0 * 0.001_45, "mean {mean}");
    }

    #[test]
    fn display_names_the_scheme_and_seed() {
        assert_eq!(
            std::format!("{}", Binarization::default()),
            "threshold(0.5)"
        );
        assert_eq!(
            std::format!("{}", Binarization::FixedDraw { seed: 7 }),
            "fixed-draw(seed=7)"
        );
        assert_eq!(
            std::format!("{}", Binarization::Dynamic { seed: 8 }),
            "dynamic(seed=8)"
        );
    }
}
