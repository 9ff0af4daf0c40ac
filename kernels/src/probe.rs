//! Throughput probes: the floating-point rate of one core through the kernels' own lane type.
//!
//! Benchmarks divide a kernel's FLOP rate by the rate these loops reach to state a fraction of
//! peak. Each probe runs `CHAINS` independent accumulators of [`WIDTH`] lanes for `iters`
//! rounds; every round does one multiply and one add per lane and chain (2 FLOP), either as two
//! rounded operations or as one fused multiply-add. The values stay finite and normal.

use crate::lanes::{hsum, Lane, LANES};

/// Lanes per vector of the kernels (the width the probes and kernels compute with).
pub const WIDTH: usize = LANES;

/// Whether this build fuses multiply-add in hardware (`target_feature = "fma"` on x86).
pub const HAS_FMA: bool = cfg!(target_feature = "fma");

/// `iters` rounds of `acc = acc * m + a` as a multiply then an add, on `CHAINS` chains.
///
/// # Cost
///
/// `2 * iters * CHAINS * WIDTH` FLOP. Returns a sum of the chains, to keep them live.
#[inline(never)]
pub fn mul_add<const CHAINS: usize>(iters: usize, seed: f32) -> f32 {
    let (m, a) = (Lane::splat(0.999_9), Lane::splat(1e-4 * seed));
    let mut acc = [Lane::splat(seed); CHAINS];
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = *v * m + a;
        }
    }
    hsum(acc.iter().fold(Lane::ZERO, |s, v| s + *v))
}

/// `iters` rounds of `acc = fma(acc, m, a)` on `CHAINS` chains (a multiply then an add where
/// the target has no fused instruction).
///
/// # Cost
///
/// `2 * iters * CHAINS * WIDTH` FLOP. Returns a sum of the chains, to keep them live.
#[inline(never)]
pub fn fused<const CHAINS: usize>(iters: usize, seed: f32) -> f32 {
    let (m, a) = (Lane::splat(0.999_9), Lane::splat(1e-4 * seed));
    let mut acc = [Lane::splat(seed); CHAINS];
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = v.mul_add(m, a);
        }
    }
    hsum(acc.iter().fold(Lane::ZERO, |s, v| s + *v))
}

/// `iters` rounds of `CHAINS` independent multiplies (`p = p * m`) beside `CHAINS` independent
/// adds (`s = s + a`), so that neither waits for the other: the rate of the kernels' inner
/// loops, whose products do not depend on the running sum.
///
/// # Cost
///
/// `2 * iters * CHAINS * WIDTH` FLOP. Returns a sum of the chains, to keep them live.
#[inline(never)]
pub fn split<const CHAINS: usize>(iters: usize, seed: f32) -> f32 {
    let (m, a) = (Lane::splat(0.999_9), Lane::splat(1e-4 * seed));
    let mut prod = [Lane::splat(seed); CHAINS];
    let mut sum = [Lane::splat(seed); CHAINS];
    for _ in 0..iters {
        for (p, s) in prod.iter_mut().zip(sum.iter_mut()) {
            *p *= m;
            *s += a;
        }
    }
    hsum(prod.iter().chain(&sum).fold(Lane::ZERO, |t, v| t + *v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both probes compute the same recurrence, to rounding: `x_k -> 1` from any start.
    #[test]
    fn probes_converge_to_the_fixed_point() {
        let lanes = (4 * WIDTH) as f32;
        for got in [mul_add::<4>(200_000, 1.0), fused::<4>(200_000, 1.0)] {
            assert!((got / lanes - 1.0).abs() < 1e-3, "{got} / {lanes}");
        }
        assert_eq!(mul_add::<4>(0, 2.0), 2.0 * lanes);
        let got = split::<4>(1000, 1.0) / lanes;
        assert!((got - (0.999_9f32.powi(1000) + 1.1)).abs() < 1e-3, "{got}");
    }
}
