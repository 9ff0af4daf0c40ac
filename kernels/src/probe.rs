//! Throughput probes: the floating-point rate of one core through the kernels' own lane type.
//!
//! Benchmarks divide a kernel's FLOP rate by the rate these loops reach to state a fraction of
//! peak. Each probe runs `CHAINS` independent accumulators of [`WIDTH`] lanes for `iters`
//! rounds; every round does one multiply and one add per lane and chain (2 FLOP), either as two
//! rounded operations or as one fused multiply-add. The values stay finite and normal.
//!
//! [`optimiser_traffic`] measures the other limit of a training step: the memory traffic of an
//! optimiser that keeps two moments per parameter, without its arithmetic.

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

/// The loads and stores of one [`crate::adam`] update with almost none of its arithmetic:
/// reads `p`, `g`, `m` and `v`, writes `p`, `m` and `v`, one multiply and one add per array
/// and element (`m = m * a + g`, `v = v * a + g`, `p = p * a + m`, `a` just below 1, so the
/// values stay finite for any number of calls).
///
/// Timing it over a model's parameters gives a floor for any update that keeps two moments per
/// parameter and touches every parameter once per step, as exact Adam must.
///
/// # Cost
///
/// 16 bytes read and 12 written per element, 6 FLOP, over the whole lanes of the common
/// length; a tail shorter than a lane is left as it is.
#[inline(never)]
pub fn optimiser_traffic(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let a = Lane::splat(0.999_9);
    let (p, _) = p.as_chunks_mut::<LANES>();
    let (g, _) = g.as_chunks::<LANES>();
    let (m, _) = m.as_chunks_mut::<LANES>();
    let (v, _) = v.as_chunks_mut::<LANES>();
    for (((pc, gc), mc), vc) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gl = Lane::new(*gc);
        let ml = Lane::new(*mc) * a + gl;
        let vl = Lane::new(*vc) * a + gl;
        *pc = (Lane::new(*pc) * a + ml).to_array();
        *mc = ml.to_array();
        *vc = vl.to_array();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The traffic probe computes what it says on whole lanes and leaves the tail alone.
    #[test]
    fn optimiser_traffic_updates_whole_lanes() {
        let n = 2 * WIDTH + 3;
        let (mut p, g, mut m, mut v) = ([1.0f32; 64], [0.5f32; 64], [2.0f32; 64], [4.0f32; 64]);
        optimiser_traffic(&mut p[..n], &g[..n], &mut m[..n], &mut v[..n]);
        let a = 0.999_9f32;
        for k in 0..2 * WIDTH {
            assert_eq!(m[k], 2.0 * a + 0.5, "m[{k}]");
            assert_eq!(v[k], 4.0 * a + 0.5, "v[{k}]");
            assert_eq!(p[k], a + m[k], "p[{k}]");
        }
        for k in 2 * WIDTH..64 {
            assert_eq!((p[k], m[k], v[k]), (1.0, 2.0, 4.0), "tail [{k}]");
        }
    }

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
