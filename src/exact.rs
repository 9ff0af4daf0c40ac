//! The exact-gradient oracle: `E[f]` and its gradient by enumerating every joint state.
//!
//! For a network whose stochastic layers have `S` joint states in all (`2^n` for `n`
//! Bernoulli units, `C^g` for `g` categorical groups of `C`), `E[f] = sum_s p(s) f(s)`, and `grad E[f] = sum_s p(s) (f(s) grad log p(s) + grad f(s))`. Each state's
//! score term is back-propagated as a logit gradient `p(s) f(s) (x_l - mu_l)` through every
//! stage, and its pathwise term as the loss's own gradient scaled by `p(s)`. Sums over states
//! are accumulated in `f64` for the loss and in `f32` (in the gradient type) for parameters.

use crate::error::Error;
use crate::network::{Backward, Network};
use crate::sampler::StateSampler;
use crate::Workspace;

/// The most joint states the oracle enumerates per row: `2^20`, i.e. 20 Bernoulli units.
pub const MAX_EXACT_STATES: u64 = 1 << 20;

/// Checks the rows and the network's size; returns the number of joint states of one row.
fn check_exact<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    inputs: usize,
    targets: usize,
    ws: &mut Workspace<N::Trace<1>, 1>,
) -> Result<u64, Error> {
    if inputs != targets {
        return Err(Error::BatchMismatch { inputs, targets });
    }
    if inputs == 0 {
        return Err(Error::EmptyBatch);
    }
    let states = (0..N::DEPTH)
        .filter_map(|l| N::layer(&mut ws.trace, l, 1).map(|v| v.states))
        .fold(1u64, u64::saturating_mul);
    if states > MAX_EXACT_STATES {
        let units = (0..N::DEPTH)
            .filter_map(|l| N::layer(&mut ws.trace, l, 1).map(|v| v.width))
            .sum();
        return Err(Error::InvalidCount {
            name: "stochastic units",
            value: units,
            allowed: "at most 2^20 joint states (20 Bernoulli units) for exact enumeration",
        });
    }
    Ok(states)
}

/// The exact mean loss over the rows of `x`/`y`, and its exact gradient written into `grad`.
///
/// # Errors
///
/// [`Error::EmptyBatch`] / [`Error::BatchMismatch`] for mismatched rows;
/// [`Error::InvalidCount`] if one row has more than [`MAX_EXACT_STATES`] joint states.
///
/// # Cost
///
/// `rows * S` sample passes and backward passes.
pub fn exact_gradient<N, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    ws: &mut Workspace<N::Trace<1>, 1>,
    grad: &mut N,
) -> Result<f64, Error>
where
    N: Network<IN, Y>,
{
    let states = check_exact::<N, IN, Y>(x.len(), y.len(), ws)?;

    grad.fill_zero();
    let row_weight = 1.0 / x.len() as f64;
    let mut expected = 0.0f64;
    for (xr, yr) in x.chunks(1).zip(y.chunks(1)) {
        for state in 0..states {
            let mut sampler = StateSampler { remaining: state };
            net.sample(xr, yr, &mut ws.trace, &mut ws.f[..1], &mut sampler);
            let f = ws.f[0];
            let log_p = log_probability::<N, IN, Y>(ws);
            let p = libm::exp(log_p) * row_weight;
            expected += p * f64::from(f);

            // Score term: p f (x - mu) at every layer; pathwise term: the loss's gradient.
            for l in 0..N::DEPTH {
                if let Some(v) = N::layer(&mut ws.trace, l, 1) {
                    for ((d, x), mu) in v.delta.iter_mut().zip(v.sample).zip(v.mean) {
                        *d = f * (x - mu);
                    }
                }
            }
            net.backward(
                xr,
                yr,
                &mut ws.trace,
                grad,
                p as f32,
                Backward::Logits,
                None,
            );
        }
    }
    Ok(expected)
}

/// `log p(s)` of the sampled state in the trace, summed over the stochastic layers.
fn log_probability<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    ws: &mut Workspace<N::Trace<1>, 1>,
) -> f64 {
    (0..N::DEPTH)
        .filter_map(|l| N::layer(&mut ws.trace, l, 1).map(|v| v.log_prob(0)))
        .sum()
}

/// The exact mean loss `E[f]` over the rows of `x`/`y`, without the gradient.
///
/// # Errors
///
/// As [`exact_gradient`].
pub fn exact_loss<N, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    ws: &mut Workspace<N::Trace<1>, 1>,
) -> Result<f64, Error>
where
    N: Network<IN, Y>,
{
    exact_expectation(net, x, y, ws, |f| f)
}

/// The exact `E[g(f)]`, averaged over the rows of `x`/`y`: for example `g(f) = e^{-f}` gives
/// `p(y | x)` for structured prediction, or `p(x)` for the variational SBN.
///
/// # Errors
///
/// As [`exact_gradient`].
pub fn exact_expectation<N, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    ws: &mut Workspace<N::Trace<1>, 1>,
    g: impl Fn(f64) -> f64,
) -> Result<f64, Error>
where
    N: Network<IN, Y>,
{
    let states = check_exact::<N, IN, Y>(x.len(), y.len(), ws)?;
    let mut expected = 0.0f64;
    for (xr, yr) in x.chunks(1).zip(y.chunks(1)) {
        for state in 0..states {
            let mut sampler = StateSampler { remaining: state };
            net.sample(xr, yr, &mut ws.trace, &mut ws.f[..1], &mut sampler);
            let p = libm::exp(log_probability::<N, IN, Y>(ws));
            expected += p * g(f64::from(ws.f[0]));
        }
    }
    Ok(expected / x.len() as f64)
}
