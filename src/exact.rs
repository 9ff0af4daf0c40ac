//! The exact-gradient oracle: `E[f]` and its gradient by enumerating every joint state.
//!
//! For a network with `n` stochastic units in all, `E[f] = sum_s p(s) f(s)` over the `2^n`
//! joint states, and `grad E[f] = sum_s p(s) (f(s) grad log p(s) + grad f(s))`. Each state's
//! score term is back-propagated as a logit gradient `p(s) f(s) (x_l - mu_l)` through every
//! stage, and its pathwise term as the loss's own gradient scaled by `p(s)`. Sums over states
//! are accumulated in `f64` for the loss and in `f32` (in the gradient type) for parameters.

use crate::error::Error;
use crate::network::{Backward, Network};
use crate::sampler::StateSampler;
use crate::Workspace;

/// The largest number of stochastic units the oracle enumerates (`2^20` states).
pub const MAX_EXACT_UNITS: usize = 20;

/// Checks the rows and the network's size; returns its total number of stochastic units.
fn check_exact<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    inputs: usize,
    targets: usize,
    ws: &mut Workspace<N::Trace<1>, 1>,
) -> Result<usize, Error> {
    if inputs != targets {
        return Err(Error::BatchMismatch { inputs, targets });
    }
    if inputs == 0 {
        return Err(Error::EmptyBatch);
    }
    let units = (0..N::DEPTH)
        .filter_map(|l| N::layer(&mut ws.trace, l, 1).map(|v| v.width))
        .sum();
    if units > MAX_EXACT_UNITS {
        return Err(Error::InvalidCount {
            name: "stochastic units",
            value: units,
            allowed: "at most 20 for exact enumeration",
        });
    }
    Ok(units)
}

/// The exact mean loss over the rows of `x`/`y`, and its exact gradient written into `grad`.
///
/// # Errors
///
/// [`Error::EmptyBatch`] / [`Error::BatchMismatch`] for mismatched rows;
/// [`Error::InvalidCount`] if the network has more than [`MAX_EXACT_UNITS`] stochastic units.
///
/// # Cost
///
/// `rows * 2^n` sample passes and backward passes.
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
    let units = check_exact::<N, IN, Y>(x.len(), y.len(), ws)?;

    grad.fill_zero();
    let row_weight = 1.0 / x.len() as f64;
    let mut expected = 0.0f64;
    for (xr, yr) in x.chunks(1).zip(y.chunks(1)) {
        for state in 0..(1u64 << units) {
            let mut sampler = StateSampler { state, next_bit: 0 };
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

/// `log p(s)` of the sampled state in the trace: `sum x log sigmoid(a) + (1-x) log sigmoid(-a)`.
fn log_probability<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    ws: &mut Workspace<N::Trace<1>, 1>,
) -> f64 {
    let mut total = 0.0f64;
    for l in 0..N::DEPTH {
        if let Some(v) = N::layer(&mut ws.trace, l, 1) {
            for (a, x) in v.logits.iter().zip(v.sample) {
                let signed = if *x > 0.5 { *a } else { -*a };
                total += f64::from(muprop_kernels::scalar::log_sigmoid(signed));
            }
        }
    }
    total
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
    let units = check_exact::<N, IN, Y>(x.len(), y.len(), ws)?;
    let mut expected = 0.0f64;
    for (xr, yr) in x.chunks(1).zip(y.chunks(1)) {
        for state in 0..(1u64 << units) {
            let mut sampler = StateSampler { state, next_bit: 0 };
            net.sample(xr, yr, &mut ws.trace, &mut ws.f[..1], &mut sampler);
            let p = libm::exp(log_probability::<N, IN, Y>(ws));
            expected += p * f64::from(ws.f[0]);
        }
    }
    Ok(expected / x.len() as f64)
}
