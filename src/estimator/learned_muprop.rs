//! MuProp with a learned baseline and learned scalings, the form used by public reference code.
//!
//! For layer `l`: `r_l = f - eta0_l fbar - eta1_l fbar'_l . (x_l - xbar_l) - b_l(x)` and
//! `delta_l = r_l (x_l - mu_l) + eta1_l J_l^T fbar'_l`, with `eta = 2 sigmoid(v)` (so `v = 0`
//! gives plain MuProp's scalings) and `b_l` the `l`-th output of a tanh network of the input.
//! Since the control variate `eta0 fbar + eta1 fbar' . (x - xbar) + b(x)` is added back in
//! expectation for any `eta` and `b` fixed during the step, the estimate stays unbiased.
//! `b` and `v` are trained to minimise `sum_l r_l^2` (averaged over the minibatch) with their
//! own Adam, which the reference code runs at ten times the model's learning rate. They change
//! only after an applied step (a refused step changes none of them, nor their accumulated
//! gradient). Layers past the first `L` use `eta = 1` and no baseline.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::estimator::baseline::{rows_of, scale_all, BaselineNet, BaselineScratch};
use crate::estimator::muprop::taylor_term;
use crate::estimator::Estimator;
use crate::network::LayerView;
use crate::optim::{Adam, AdamState, Optimizer};
use crate::Tensors;

/// The learned parts: the baseline network and the pre-sigmoid scalings of `L` layers.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct MuPropControl<const IN: usize, const HID: usize, const L: usize> {
    /// The baselines `b_l(x)`, one output per layer.
    pub baseline: BaselineNet<IN, HID, L>,
    /// `v` of `eta0 = 2 sigmoid(v)`, per layer.
    pub v0: [f32; L],
    /// `v` of `eta1 = 2 sigmoid(v)`, per layer.
    pub v1: [f32; L],
}

impl<const IN: usize, const HID: usize, const L: usize> Tensors for MuPropControl<IN, HID, L> {
    const COUNT: usize = 6;

    fn tensor(&self, k: usize) -> &[f32] {
        match k {
            4 => &self.v0,
            5 => &self.v1,
            _ => self.baseline.tensor(k),
        }
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        match k {
            4 => &mut self.v0,
            5 => &mut self.v1,
            _ => self.baseline.tensor_mut(k),
        }
    }
}

/// MuProp with learned baseline and scalings for up to `L` layers, a baseline of `HID` tanh
/// units, and chunks of up to `B` rows.
///
/// Build large ones with [`crate::boxed_zeroed`] and then [`LearnedMuProp::reset`].
#[derive(Clone, Copy, Zeroable)]
pub struct LearnedMuProp<const IN: usize, const HID: usize, const L: usize, const B: usize> {
    /// The learned baseline and scalings.
    pub control: MuPropControl<IN, HID, L>,
    /// Their gradient accumulated over the current step; zero between steps (cleared once the
    /// step's update is applied, or when the step is refused).
    pub grad: MuPropControl<IN, HID, L>,
    /// Their Adam state.
    pub state: AdamState<MuPropControl<IN, HID, L>>,
    lr: f32,
    // The step's row count, zero between steps.
    pub(crate) rows: u32,
    // A chunk's work area, written before it is read in every chunk.
    scratch: BaselineScratch<HID, L, B>,
}

impl<const IN: usize, const HID: usize, const L: usize, const B: usize>
    LearnedMuProp<IN, HID, L, B>
{
    /// Draws the baseline's weights, sets `v = 0` (`eta = 1`), zeroes the optimiser state, and
    /// sets the learning rate of the baseline and scalings (the reference code uses ten times
    /// the model's).
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidHyperparameter`] unless `lr` is finite and positive.
    pub fn reset<R: Rng + ?Sized>(&mut self, lr: f32, rng: &mut R) -> Result<(), crate::Error> {
        Adam::new(lr)?;
        *self = Self::zeroed();
        self.control.baseline.init(rng);
        self.lr = lr;
        Ok(())
    }

    /// `(eta0, eta1)` of layer `l`; `(1, 1)` past the last learned layer.
    pub fn scalings(&self, l: usize) -> (f32, f32) {
        match (self.control.v0.get(l), self.control.v1.get(l)) {
            (Some(a), Some(b)) => (eta(*a), eta(*b)),
            _ => (1.0, 1.0),
        }
    }

    /// Zeroes what a step accumulates: the gradient and the row count.
    fn clear_step(&mut self) {
        self.grad.fill_zero();
        self.rows = 0;
    }
}

/// `2 sigmoid(v)`.
fn eta(v: f32) -> f32 {
    2.0 * muprop_kernels::scalar::sigmoid(v)
}

impl<const IN: usize, const HID: usize, const L: usize, const B: usize> Estimator
    for LearnedMuProp<IN, HID, L, B>
{
    fn needs_mean_field(&self) -> bool {
        true
    }

    fn begin_step(&mut self) {
        self.clear_step();
    }

    fn prepare_chunk(&mut self, inputs: &[f32], width: usize, f: &[f32], _: &[f32]) {
        let n = f.len().min(B);
        let s = &mut self.scratch;
        s.dvalues[..n].iter_mut().for_each(|r| r.fill(0.0));
        match rows_of::<IN>(inputs, width) {
            Some(x) => self.control.baseline.forward(&x[..n.min(x.len())], s),
            None => s.values[..n].iter_mut().for_each(|r| r.fill(0.0)),
        }
        self.rows = self.rows.saturating_add(n as u32);
    }

    fn logit_gradient(&mut self, l: usize, v: &mut LayerView<'_>, f: &[f32], fbar: &[f32]) {
        let w = v.width;
        if w == 0 {
            return;
        }
        let (eta0, eta1) = self.scalings(l);

        // The correction eta1 J^T fbar', then the residual term per row.
        let delta = core::mem::take(&mut v.delta);
        v.mean_vjp(v.logits, v.mean, v.mf_grad, delta);
        delta.iter_mut().for_each(|d| *d *= eta1);
        v.delta = delta;

        let (mut d_v0, mut d_v1) = (0.0f32, 0.0f32);
        let rows = v
            .delta
            .chunks_exact_mut(w)
            .zip(v.sample.chunks_exact(w).zip(v.mean.chunks_exact(w)))
            .zip(v.mf_mean.chunks_exact(w).zip(v.mf_grad.chunks_exact(w)))
            .zip(f.iter().zip(fbar))
            .enumerate();
        for (row, (((d, (x, mu)), (xbar, g)), (fr, fbr))) in rows {
            let taylor = taylor_term(g, x, xbar);
            let b = self
                .scratch
                .values
                .get(row)
                .and_then(|r| r.get(l))
                .copied()
                .unwrap_or(0.0);
            let r = fr - eta0 * fbr - eta1 * taylor - b;
            for ((dj, xj), mj) in d.iter_mut().zip(x).zip(mu) {
                *dj += r * (xj - mj);
            }

            // d r^2 = -2 r (fbar d eta0 + taylor d eta1 + d b).
            d_v0 += -2.0 * r * fbr;
            d_v1 += -2.0 * r * taylor;
            if let Some(db) = self.scratch.dvalues.get_mut(row).and_then(|r| r.get_mut(l)) {
                *db = -2.0 * r;
            }
        }
        if let (Some(v0), Some(v1)) = (self.control.v0.get(l), self.control.v1.get(l)) {
            // d eta / d v = 2 sigmoid'(v).
            let (s0, s1) = (2.0 * sigmoid_grad(*v0), 2.0 * sigmoid_grad(*v1));
            self.grad.v0[l] += d_v0 * s0;
            self.grad.v1[l] += d_v1 * s1;
        }
    }

    fn finish_chunk(&mut self, inputs: &[f32], width: usize) {
        if let Some(x) = rows_of::<IN>(inputs, width) {
            let n = x.len().min(B);
            self.control
                .baseline
                .backward(&x[..n], &mut self.scratch, &mut self.grad.baseline);
        }
    }

    fn end_step(&mut self, _: f32) {
        if self.rows > 0 {
            scale_all(&mut self.grad, 1.0 / self.rows as f32);
            if self.grad.all_finite() {
                if let Ok(adam) = Adam::new(self.lr) {
                    adam.update(&mut self.control, &self.grad, &mut self.state);
                }
            }
        }
        self.clear_step();
    }

    fn discard_step(&mut self) {
        self.clear_step();
    }
}

fn sigmoid_grad(v: f32) -> f32 {
    muprop_kernels::scalar::sigmoid_grad(v)
}
