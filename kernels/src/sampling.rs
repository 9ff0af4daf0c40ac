//! Bernoulli sampling from a caller's stream of raw 32-bit words.
//!
//! For each lane chunk the words are drawn into an array in index order, their top 24 bits
//! are converted to uniforms on the grid `k / 2^24` (exact in `f32`), and compared with the
//! means as one vector. The tail draws only as many words as it has units.

use crate::lanes::{load_padded, store_partial, IntLane, Lane, LANES};

/// `2^-24`, the spacing of the uniform grid.
const GRID: f32 = 1.0 / 16_777_216.0;

/// Bernoulli samples: `x[k] = 1.0` if `unit_f32(next_u32()) < mu[k]`, else `0.0`.
///
/// Draws exactly one word per unit over the common length, in index order, and is
/// bit-identical to [`crate::reference::bernoulli`] for the same words. `mu <= 0` and NaN
/// never give 1; `mu >= 1` always does; probabilities are quantised to the 24-bit grid (any
/// `mu` in `(0, 2^-24]` behaves like `2^-24`).
///
/// # Cost
///
/// One generator call per unit, one conversion, multiplication, comparison and select per
/// lane of units.
pub fn bernoulli<F: FnMut() -> u32>(mu: &[f32], x: &mut [f32], next_u32: &mut F) {
    let n = mu.len().min(x.len());
    let (Some(mu), Some(x)) = (mu.get(..n), x.get_mut(..n)) else {
        return;
    };

    let (mu_chunks, mu_tail) = mu.as_chunks::<LANES>();
    let (x_chunks, x_tail) = x.as_chunks_mut::<LANES>();
    for (xc, mc) in x_chunks.iter_mut().zip(mu_chunks) {
        let grid = draw(LANES, next_u32);
        *xc = sample_lanes(Lane::new(*mc), grid).to_array();
    }

    // Tail: one word per leftover unit; the padding lanes draw nothing and are not stored.
    if !mu_tail.is_empty() {
        let grid = draw(mu_tail.len(), next_u32);
        store_partial(sample_lanes(load_padded(mu_tail), grid), x_tail);
    }
}

/// Draws `count` words (at most the lane width) into the low lanes, as `word >> 8`.
#[inline(always)]
fn draw<F: FnMut() -> u32>(count: usize, next_u32: &mut F) -> IntLane {
    let mut words = [0i32; LANES];
    for w in words.iter_mut().take(count) {
        *w = (next_u32() >> 8) as i32;
    }
    IntLane::new(words)
}

/// `1.0` where the uniform `grid / 2^24` is below the mean, `0.0` elsewhere.
#[inline(always)]
fn sample_lanes(mu: Lane, grid: IntLane) -> Lane {
    uniforms(grid).simd_lt(mu).select(Lane::ONE, Lane::ZERO)
}

/// The uniforms `grid / 2^24` (exact: every value of the 24-bit grid is an `f32`), the lane
/// form of [`crate::scalar::unit_f32`].
#[inline(always)]
fn uniforms(grid: IntLane) -> Lane {
    grid.round_float() * Lane::splat(GRID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::{vec, vec::Vec};

    /// Runs both kernels on the same word stream; asserts identical samples and word counts.
    fn compare(mu: &[f32], out_len: usize, seed: u64) -> Vec<f32> {
        let mut fast = vec![7.0; out_len];
        let mut slow = vec![7.0; out_len];
        let mut rng_fast = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut rng_slow = rng_fast.clone();
        let (mut n_fast, mut n_slow) = (0usize, 0usize);
        bernoulli(mu, &mut fast, &mut || {
            n_fast += 1;
            rng_fast.next_u32()
        });
        reference::bernoulli(mu, &mut slow, &mut || {
            n_slow += 1;
            rng_slow.next_u32()
        });
        assert_eq!(n_fast, mu.len().min(out_len), "words drawn, mu = {mu:?}");
        assert_eq!(n_fast, n_slow);
        for (k, (f, s)) in fast.iter().zip(&slow).enumerate() {
            assert!(
                f.to_bits() == s.to_bits(),
                "x[{k}]: simd {f} vs reference {s}, mu = {mu:?}"
            );
        }
        fast
    }

    #[test]
    fn identical_to_reference() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(31);
        let specials = [
            0.0,
            -0.0,
            1.0,
            1.5,
            -1.0,
            f32::NAN,
            1e-39,
            5.9604645e-8,
            0.99999994,
        ];
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33, 1000] {
            for seed in 0..20 {
                let mu: Vec<f32> = (0..len)
                    .map(|_| match rng.next_u32() % 4 {
                        0 => specials[(rng.next_u32() % specials.len() as u32) as usize],
                        _ => crate::scalar::unit_f32(rng.next_u32()),
                    })
                    .collect();
                for out_len in [len, len.saturating_sub(3), len + 2] {
                    compare(&mu, out_len, seed);
                }
            }
        }
    }

    /// Samples of `mu` with every word equal to `word`, from the SIMD kernel and from its twin
    /// in [`reference`], each labelled with its path.
    fn sample_both(mu: &[f32], word: u32) -> [(&'static str, Vec<f32>); 2] {
        let (mut fast, mut slow) = (vec![0.5; mu.len()], vec![0.5; mu.len()]);
        bernoulli(mu, &mut fast, &mut || word);
        reference::bernoulli(mu, &mut slow, &mut || word);
        [("simd", fast), ("reference", slow)]
    }

    /// Asserts that every unit of `mu` (all equal to `p`) samples `want` from `word`, through
    /// both paths, for every length up to two lane widths and one (so at every lane position,
    /// in whole chunks and in the tail).
    fn assert_samples(p: f32, word: u32, want: f32, why: &str) {
        for len in 1..=2 * LANES + 1 {
            for (path, x) in sample_both(&vec![p; len], word) {
                assert!(
                    x.iter().all(|&v| v.to_bits() == want.to_bits()),
                    "{path}: p = {p:e}, word {word:#010x}, length {len}: {x:?}, expected all \
                     {want} ({why})"
                );
            }
        }
    }

    /// NUMERICS: p = 0 never gives 1 and p = 1 always does, for the extreme words, at every
    /// lane position, through the SIMD kernel and its twin.
    #[test]
    fn extreme_probabilities_and_words() {
        for word in [0u32, u32::MAX, 0x0000_0100, 0xFFFF_FF00] {
            assert_samples(0.0, word, 0.0, "p = 0 never gives 1");
            assert_samples(1.0, word, 1.0, "p = 1 always gives 1");
        }
        // Unit floats of NUMERICS.md: 0x100 -> 2^-24, u32::MAX -> 1 - 2^-24 (x = 1 iff u < p).
        assert_samples(
            5.9604645e-8,
            0x0000_0100,
            0.0,
            "u = 2^-24 is not below 2^-24",
        );
        assert_samples(
            0.99999994,
            u32::MAX,
            0.0,
            "u = 1 - 2^-24 is not below itself",
        );
        assert_samples(1.0, u32::MAX, 1.0, "u = 1 - 2^-24 is below 1");
    }

    /// NUMERICS: the unit float of word 0x00000100 is 5.9604645e-8 and of 0xFFFFFFFF is
    /// 0.99999994, i.e. `(word >> 8) / 2^24` = 2^-24 and 1 - 2^-24 exactly, never 1.0; through
    /// the crate-root [`crate::unit_f32`] (the scalar definition the twin samples with), the SIMD
    /// conversion at every lane position, and pinned in both samplers by the threshold it sets.
    #[test]
    fn unit_floats_of_numerics() {
        let cases = [
            (0x0000_0100u32, 5.9604645e-8f32, 1.0f32 / 16_777_216.0),
            (0xFFFF_FFFF, 0.99999994, 16_777_215.0 / 16_777_216.0),
        ];
        for (word, table, exact) in cases {
            assert_eq!(
                table.to_bits(),
                exact.to_bits(),
                "NUMERICS value of {word:#x}"
            );
            let scalar = crate::unit_f32(word);
            assert_eq!(
                scalar.to_bits(),
                exact.to_bits(),
                "unit_f32({word:#x}) = {scalar:e}"
            );
            assert!(scalar < 1.0);
            for count in 1..=LANES {
                let lanes = uniforms(draw(count, &mut || word)).to_array();
                for (k, u) in lanes.iter().enumerate().take(count) {
                    assert_eq!(
                        u.to_bits(),
                        exact.to_bits(),
                        "simd uniform of {word:#x} in lane {k} of {count}: {u:e}"
                    );
                }
            }
            // x = 1 iff u < p: 0 at p = u and 1 just above pins u exactly in both samplers.
            assert_samples(exact, word, 0.0, "u is not below itself");
            assert_samples(exact.next_up(), word, 1.0, "u is below the next f32");
        }
    }

    /// NUMERICS: probabilities below 2^-24 are quantised as documented, any p in (0, 2^-24]
    /// behaving like 2^-24: x = 1 exactly for the 256 words whose top 24 bits are zero
    /// (probability 2^-24), and p just above 2^-24 also fires for the next 256 words.
    #[test]
    fn probabilities_below_the_grid_behave_like_two_to_minus_24() {
        let tiny = [
            f32::from_bits(1),
            1e-39,
            f32::MIN_POSITIVE,
            1e-10,
            1.0 / 33_554_432.0,
            1.0 / 16_777_216.0,
        ];
        for p in tiny {
            for word in [0u32, 0x0000_00FF] {
                assert_samples(p, word, 1.0, "u = 0 is below every positive p");
            }
            for word in [0x0000_0100u32, 0x0000_01FF, u32::MAX] {
                assert_samples(p, word, 0.0, "u >= 2^-24 is not below p <= 2^-24");
            }
        }
        let above = (1.0f32 / 16_777_216.0).next_up();
        assert_samples(above, 0x0000_0100, 1.0, "u = 2^-24 is below p > 2^-24");
        assert_samples(above, 0x0000_01FF, 1.0, "u = 2^-24 is below p > 2^-24");
        assert_samples(above, 0x0000_0200, 0.0, "u = 2^-23 is not below p < 2^-23");
    }

    /// NUMERICS: p = 0.5 over 1e7 draws has mean within 0.5 +- 5 * 1.58e-4.
    #[test]
    fn half_probability_mean() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(33);
        let mu = vec![0.5; 1000];
        let mut x = vec![0.0; 1000];
        let mut ones = 0.0f64;
        for _ in 0..10_000 {
            bernoulli(&mu, &mut x, &mut || rng.next_u32());
            ones += x.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        let mean = ones / 1e7;
        assert!(
            (mean - 0.5).abs() < 5.0 * 1.58e-4,
            "mean {mean} over 1e7 draws"
        );
    }
}
