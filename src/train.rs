//! The training step: estimate the minibatch gradient, check it, apply the optimiser.

use rand_core::Rng;

use crate::error::{Error, Refusal};
use crate::estimator::Estimator;
use crate::network::Network;
use crate::optim::Optimizer;
use crate::{Tensors, Workspace};

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
    /// Nothing but the generator, the workspace and estimators' private work buffers changed.
    Refused(Refusal),
}

fn check_batch<const B: usize>(inputs: usize, targets: usize) -> Result<(), Error> {
    if B == 0 {
        return Err(Error::InvalidCount {
            name: "rows per chunk",
            value: B,
            allowed: ">= 1",
        });
    }
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
/// positive number of rows; [`Error::InvalidCount`] if the workspace holds no rows (`B = 0`).
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
    check_batch::<B>(x.len(), y.len())?;
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
/// bit-identical to before; only the generator, the workspace and the estimator's private work
/// buffers advance (an estimator that had begun the step discards it,
/// [`Estimator::discard_step`]).
///
/// # Errors
///
/// [`Error::EmptyBatch`] or [`Error::BatchMismatch`] for a malformed minibatch, and
/// [`Error::InvalidCount`] for a workspace of no rows (`B = 0`); nothing changes.
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
    check_batch::<B>(x.len(), y.len())?;
    guarded(
        net,
        optimizer,
        state,
        estimator,
        x,
        y,
        grad,
        |net, est, grad| gradient(net, est, x, y, ws, grad, rng),
    )
}

/// The guard of every training step around a gradient computation `compute`: refuses
/// non-finite inputs, targets or parameters before it and a non-finite loss or gradient after
/// it (the estimator discards the step), and otherwise applies the optimiser and ends the
/// estimator's step. `x` and `y` are already checked to hold the same positive number of rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn guarded<N, E, O, const IN: usize, const Y: usize>(
    net: &mut N,
    optimizer: &O,
    state: &mut O::State,
    estimator: &mut E,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
    grad: &mut N,
    compute: impl FnOnce(&N, &mut E, &mut N) -> Result<f32, Error>,
) -> Result<StepStats, Error>
where
    N: Tensors,
    E: Estimator + ?Sized,
    O: Optimizer<N>,
{
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
    let loss = match compute(net, estimator, grad) {
        Ok(loss) => loss,
        Err(e) => {
            estimator.discard_step();
            return Err(e);
        }
    };
    let why = if !loss.is_finite() {
        Some(Refusal::NonFiniteLoss)
    } else if !grad.all_finite() {
        Some(Refusal::NonFiniteGradient)
    } else {
        None
    };
    if let Some(why) = why {
        estimator.discard_step();
        return Ok(refuse(loss, why));
    }

    optimizer.update(net, grad, state);
    estimator.end_step(loss);
    Ok(StepStats {
        loss,
        rows: x.len(),
        status: StepStatus::Applied,
    })
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::{Adam, AdamState, LearnedMuProp, Nvil, Sbn2, Tensors, WorkspaceFor, Zeroable};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::vec::Vec;

    type Net = Sbn2<4, 3, 3, 2>;

    fn bits<T: Tensors>(t: &T) -> Vec<u32> {
        (0..T::COUNT)
            .flat_map(|k| t.tensor(k).iter().map(|v| v.to_bits()))
            .collect()
    }

    /// Two applied steps, then one whose loss overflows (huge output weights): returns what
    /// `probe` reads of the estimator before and after the refused step.
    fn around_a_refusal<E: Estimator>(
        est: &mut E,
        probe: impl Fn(&E) -> Vec<u64>,
    ) -> [Vec<u64>; 2] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut net = Net::zeroed();
        net.init(&mut rng);
        let (mut grad, mut ws) = (Net::zeroed(), WorkspaceFor::<Net, 4, 2, 2>::zeroed());
        let adam = Adam::new(0.01).unwrap();
        let mut state = AdamState::<Net>::new();
        let x = [
            [1.0, 0.0, 1.0, 1.0],
            [0.0, 1.0, 1.0, 0.0],
            [1.0, 1.0, 0.0, 0.0],
        ];
        let y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let mut step = |net: &mut Net, est: &mut E| {
            let s = train_step(
                net, &adam, &mut state, est, &x, &y, &mut ws, &mut grad, &mut rng,
            );
            s.unwrap().status
        };
        for _ in 0..2 {
            assert_eq!(step(&mut net, est), StepStatus::Applied);
        }
        net.rest
            .rest
            .linear
            .w
            .iter_mut()
            .for_each(|r| r.fill(3.0e38));
        net.rest.rest.linear.b.fill(3.0e38);
        let before = probe(est);
        let status = step(&mut net, est);
        assert_eq!(status, StepStatus::Refused(Refusal::NonFiniteLoss));
        [before, probe(est)]
    }

    #[test]
    fn a_refused_step_leaves_nvil_accumulators_untouched() {
        let mut est = Nvil::<4, 3, 2>::zeroed();
        est.reset(0.01, 0.8, true, &mut Xoshiro256PlusPlus::seed_from_u64(2))
            .unwrap();
        let [before, after] = around_a_refusal(&mut est, |e| {
            let mut v: Vec<u64> = bits(&e.grad).into_iter().map(u64::from).collect();
            v.extend([u64::from(e.rows), e.sum.to_bits(), e.sum_sq.to_bits()]);
            v
        });
        assert!(before == after, "rows, moments or gradient moved");
        assert!(
            before.iter().all(|&b| b == 0),
            "accumulators are zero between steps"
        );
    }

    #[test]
    fn a_refused_step_leaves_learned_muprop_accumulators_untouched() {
        let mut est = LearnedMuProp::<4, 3, 2, 2>::zeroed();
        est.reset(0.01, &mut Xoshiro256PlusPlus::seed_from_u64(3))
            .unwrap();
        let [before, after] = around_a_refusal(&mut est, |e| {
            let mut v: Vec<u64> = bits(&e.grad).into_iter().map(u64::from).collect();
            v.push(u64::from(e.rows));
            v
        });
        assert!(before == after, "rows or gradient moved");
        assert!(
            before.iter().all(|&b| b == 0),
            "accumulators are zero between steps"
        );
    }
}
