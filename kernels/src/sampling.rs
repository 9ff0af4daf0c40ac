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
    let u = grid.round_float() * Lane::splat(GRID);
    u.simd_lt(mu).select(Lane::ONE, Lane::ZERO)
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

    /// NUMERICS: p = 0 never gives 1 and p = 1 always does, for the extreme words, at every
    /// lane position.
    #[test]
    fn extreme_probabilities_and_words() {
        for word in [0u32, u32::MAX, 0x0000_0100, 0xFFFF_FF00] {
            for len in 1..=2 * LANES + 1 {
                let mut x = vec![0.5; len];
                bernoulli(&vec![0.0; len], &mut x, &mut || word);
                assert!(x.iter().all(|&v| v == 0.0), "p = 0, word {word:#x}: {x:?}");
                bernoulli(&vec![1.0; len], &mut x, &mut || word);
                assert!(x.iter().all(|&v| v == 1.0), "p = 1, word {word:#x}: {x:?}");
            }
        }
        // Unit floats of NUMERICS.md: 0x100 -> 2^-24, u32::MAX -> 1 - 2^-24.
        let mut x = [0.0; 1];
        bernoulli(&[5.9604645e-8], &mut x, &mut || 0x0000_0100);
        assert_eq!(x, [0.0], "u = 2^-24 is not below p = 2^-24");
        bernoulli(&[0.99999994], &mut x, &mut || u32::MAX);
        assert_eq!(x, [0.0], "u = 1 - 2^-24 is not below itself");
        bernoulli(&[1.0], &mut x, &mut || u32::MAX);
        assert_eq!(x, [1.0]);
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
