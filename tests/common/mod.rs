//! Helpers shared by the integration tests: fixed networks, flat gradients, z-scores.
#![allow(dead_code)]

use muprop::{Estimator, Network, Tensors, Workspace, Zeroable};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A generator from a seed (the crate's documented default).
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A network with non-trivial weights: Glorot draws scaled by `gain`, biases spread in ±1.
pub fn network<N: Network<IN, Y>, const IN: usize, const Y: usize>(seed: u64, gain: f32) -> N {
    let mut net = N::zeroed();
    let mut r = rng(seed);
    net.init(&mut r);
    for k in 0..N::COUNT {
        let t = net.tensor_mut(k);
        let is_bias = k % 2 == 1;
        for v in t.iter_mut() {
            if is_bias {
                *v = 2.0 * muprop::kernels::unit_f32(rand_core::Rng::next_u32(&mut r)) - 1.0;
            } else {
                *v *= gain;
            }
        }
    }
    net
}

/// Every scalar of a parameter set, tensor by tensor.
pub fn flat<P: Tensors>(p: &P) -> Vec<f32> {
    (0..P::COUNT).flat_map(|k| p.tensor(k).to_vec()).collect()
}

/// Means and variances, per scalar, of `draws` independent single-sample gradient estimates.
pub fn estimate_moments<N, E, const IN: usize, const Y: usize>(
    net: &N,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    draws: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>)
where
    N: Network<IN, Y>,
    E: Estimator,
{
    let mut r = rng(seed);
    let mut ws = Workspace::<N::Trace<4>, 4>::zeroed();
    let mut grad = N::zeroed();
    let p = grad.scalar_count();
    let mut sum = vec![0.0f64; p];
    let mut sum_sq = vec![0.0f64; p];
    for _ in 0..draws {
        muprop::gradient(net, estimator, x, y, &mut ws, &mut grad, &mut r).unwrap();
        for (k, g) in flat(&grad).into_iter().enumerate() {
            let g = f64::from(g);
            sum[k] += g;
            sum_sq[k] += g * g;
        }
    }
    let n = draws as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let var = sum_sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| ((s / n) - m * m).max(0.0) * n / (n - 1.0))
        .collect();
    (mean, var)
}

/// The exact gradient by enumeration, flattened, and the exact `E[f]`.
pub fn exact<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
) -> (Vec<f64>, f64) {
    let mut ws = Workspace::<N::Trace<1>, 1>::zeroed();
    let mut grad = N::zeroed();
    let loss = muprop::exact_gradient(net, x, y, &mut ws, &mut grad).unwrap();
    (flat(&grad).into_iter().map(f64::from).collect(), loss)
}

/// The two-sided standard normal quantile `z` with `P(|Z| > z) = alpha`, by bisection on erfc.
pub fn two_sided_quantile(alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if libm::erfc(mid / std::f64::consts::SQRT_2) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// z-scores of estimate means against exact values; scalars whose estimates never vary must
/// match exactly (to f32 rounding) and get z = 0 or infinity.
pub fn z_scores(mean: &[f64], var: &[f64], exact: &[f64], draws: usize) -> Vec<f64> {
    mean.iter()
        .zip(var)
        .zip(exact)
        .map(|((m, v), e)| {
            let se = (v / draws as f64).sqrt();
            if se < 1e-12 {
                if (m - e).abs() <= 1e-5 * (1.0 + e.abs()) {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (m - e) / se
            }
        })
        .collect()
}

/// The index and value of the largest |z|.
pub fn worst(z: &[f64]) -> (usize, f64) {
    z.iter().enumerate().fold(
        (0, 0.0),
        |(bi, bz), (i, v)| if v.abs() > bz { (i, v.abs()) } else { (bi, bz) },
    )
}
