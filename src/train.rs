//! The training step: estimate the minibatch gradient, check it, apply the optimiser.

use rand_core::Rng;

use crate::error::{Error, Refusal};
use crate::estimator::Estimator;
use crate::network::Network;
use crate::optim::Optimizer;
use crate::Workspace;

/// What a training step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The minibatch's mean loss `f` at the sampled values (NaN if the step was refused before
    /// any pass ran).
    pub loss: f32,
    /// Rows in the minibatch.
    pub rows: usize,
    /// Whether the update was applied, and if not, why.
    pub status: StepStatus,
}

impl StepStats {
    /// `true` if the parameters were updated.
    pub fn applied(&self) -> bool {
        self.status == StepStatus::Applied
    }
}

/// Whether a step changed the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// Parameters, optimiser state and estimator state were updated.
    Applied,
    /// Nothing but the generator and the workspace changed.
    Refused(Refusal),
}

fn check_batch(inputs: usize, targets: usize) -> Result<(), Error> {
    if inputs != targets {
        return Err(Error::BatchMismatch { inputs, targets });
    }
    if inputs == 0 {
        return Err(Error::EmptyBatch);
    }
    Ok(())
}

/// Writes the estimated gradient of the minibatch's mean loss `E[f]` into `grad` (overwriting
/// it) and returns the mean sampled loss.
///
/// The minibatch is processed in chunks of `B` rows; each row gets one sample pass (and one
/// mean-field pass if the estimator asks for it).
///
/// # Errors
///
/// [`Error::EmptyBatch`] or [`Error::BatchMismatch`] if `x` and `y` do not hold the same
/// positive number of rows.
///
/// # Determinism
///
/// The same generator state, inputs and parameters give bit-identical gradients on the same
/// target and build. Each row draws one `u32` per stochastic unit, layer by layer, rows in
/// minibatch order; nothing else draws. The chunk size `B` changes neither the draws nor the
/// result: rows are accumulated into the gradient in minibatch order either way.
///
/// # Cost
///
/// Per row: one sample pass, one backward pass through each stage (the transposed product is
/// skipped except for straight-through), and for MuProp one mean-field pass with its reverse
/// sweep.
#[allow(clippy::too_many_arguments)]
pub fn gradient<N, E, R, const IN: usize, const Y: usize, const B: usize>(
    net: &N,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    ws: &mut Workspace<N::Trace<B>, B>,
    grad: &mut N,
    rng: &mut R,
) -> Result<f32, Error>
where
    N: Network<IN, Y>,
    E: Estimator + ?Sized,
    R: Rng + ?Sized,
{
    check_batch(x.len(), y.len())?;
    grad.fill_zero();
    let scale = 1.0 / x.len() as f32;
    let mut loss_sum = 0.0f64;
    for (xs, ys) in x.chunks(B.max(1)).zip(y.chunks(B.max(1))) {
        let n = xs.len().min(B);
        estimator.estimate_chunk(net, xs, ys, ws, grad, scale, rng);
        loss_sum += ws.f[..n].iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    Ok((loss_sum / x.len() as f64) as f32)
}

/// One training step: estimates the gradient of the minibatch's mean loss, and applies the
/// optimiser only if the inputs, targets, parameters, loss and every gradient element are
/// finite.
///
/// A refused step leaves the parameters, the optimiser state and the estimator's state
/// bit-identical to before; only the generator and the workspace advance.
///
/// # Errors
///
/// [`Error::EmptyBatch`] or [`Error::BatchMismatch`] for a malformed minibatch (nothing
/// changes).
#[allow(clippy::too_many_arguments)]
pub fn train_step<N, E, O, R, const IN: usize, const Y: usize, const B: usize>(
    net: &mut N,
    optimizer: &O,
    state: &mut O::State,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    ws: &mut Workspace<N::Trace<B>, B>,
    grad: &mut N,
    rng: &mut R,
) -> Result<StepStats, Error>
where
    N: Network<IN, Y>,
    E: Estimator + ?Sized,
    O: Optimizer<N>,
    R: Rng + ?Sized,
{
    check_batch(x.len(), y.len())?;
    let refuse = |loss, why| StepStats {
        loss,
        rows: x.len(),
        status: StepStatus::Refused(why),
    };
    if !muprop_kernels::all_finite(x.as_flattened()) {
        return Ok(refuse(f32::NAN, Refusal::NonFiniteInput));
    }
    if !muprop_kernels::all_finite(y.as_flattened()) {
        return Ok(refuse(f32::NAN, Refusal::NonFiniteTarget));
    }
    if !net.all_finite() {
        return Ok(refuse(f32::NAN, Refusal::NonFiniteParameter));
    }

    estimator.begin_step();
    let loss = gradient(net, estimator, x, y, ws, grad, rng)?;
    if !loss.is_finite() {
        return Ok(refuse(loss, Refusal::NonFiniteLoss));
    }
    if !grad.all_finite() {
        return Ok(refuse(loss, Refusal::NonFiniteGradient));
    }

    optimizer.update(net, grad, state);
    estimator.end_step(loss);
    Ok(StepStats {
        loss,
        rows: x.len(),
        status: StepStatus::Applied,
    })
}
