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
///
/// The estimator's own state (baselines, running moments) stays as it was given: nothing calls
/// its `begin_step` or `end_step`.
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
    moments(net, estimator, x, y, draws, seed, false)
}

/// Like [`estimate_moments`], but the estimator's own state evolves as in training: each draw
/// is one step, with `begin_step` before it and `end_step` with its loss after it, while the
/// network's parameters stay fixed.
///
/// The state that draw `k` uses depends only on draws before `k`, so for an estimator that is
/// unbiased at every fixed state, each draw's conditional mean given the earlier ones is the
/// exact gradient. The draws are then martingale differences around it rather than independent,
/// and the z-score of their mean is still asymptotically standard normal, with the sample
/// variance estimating the average conditional variance.
pub fn estimate_moments_online<N, E, const IN: usize, const Y: usize>(
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
    moments(net, estimator, x, y, draws, seed, true)
}

/// Runs `steps` gradient estimates on `net` and hands each one's mean loss to the estimator's
/// `end_step`, as training would with a zero learning rate: baselines and running moments move
/// to realistic values; the network does not change.
pub fn warm_up<N, E, const IN: usize, const Y: usize>(
    net: &N,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    steps: usize,
    seed: u64,
) where
    N: Network<IN, Y>,
    E: Estimator,
{
    let mut r = rng(seed);
    let mut ws = Workspace::<N::Trace<4>, 4>::zeroed();
    let mut grad = N::zeroed();
    for _ in 0..steps {
        estimator.begin_step();
        let loss = muprop::gradient(net, estimator, x, y, &mut ws, &mut grad, &mut r).unwrap();
        estimator.end_step(loss);
    }
}

fn moments<N, E, const IN: usize, const Y: usize>(
    net: &N,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    draws: usize,
    seed: u64,
    online: bool,
) -> (Vec<f64>, Vec<f64>)
where
    N: Network<IN, Y>,
    E: Estimator,
{
    let mut r = rng(seed);
    let mut ws = Workspace::<N::Trace<4>, 4>::zeroed();
    let mut grad = N::zeroed();
    let mut m = Moments::new(grad.scalar_count());
    for _ in 0..draws {
        if online {
            estimator.begin_step();
        }
        let loss = muprop::gradient(net, estimator, x, y, &mut ws, &mut grad, &mut r).unwrap();
        if online {
            estimator.end_step(loss);
        }
        m.add(&grad);
    }
    m.finish()
}

/// Running sums of gradient estimates, per scalar, in `f64`.
pub struct Moments {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    draws: usize,
}

impl Moments {
    /// No draws yet, for parameter sets of `scalars` scalars.
    pub fn new(scalars: usize) -> Self {
        Self {
            sum: vec![0.0; scalars],
            sum_sq: vec![0.0; scalars],
            draws: 0,
        }
    }

    /// Adds one estimate.
    pub fn add<P: Tensors>(&mut self, grad: &P) {
        for (k, g) in flat(grad).into_iter().enumerate() {
            let g = f64::from(g);
            self.sum[k] += g;
            self.sum_sq[k] += g * g;
        }
        self.draws += 1;
    }

    /// The means and (unbiased) variances.
    pub fn finish(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.draws as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let var = self
            .sum_sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / n) - m * m).max(0.0) * n / (n - 1.0))
            .collect();
        (mean, var)
    }
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
