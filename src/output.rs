//! The Bernoulli output likelihood of structured prediction: `f = -log p(y | x_L)`.
//!
//! With output logits `o = W x_L + b`, `f = sum_j (softplus(o_j) - y_j o_j)`, its gradient with
//! respect to the logits is `sigmoid(o) - y`. The same formula is used on fractional
//! (mean-field) inputs.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::network::{Backward, Network};
use crate::sampler::Sampler;
use crate::{LayerView, Linear, Tensors};

/// Output layer: Bernoulli likelihood of a binary target vector of width `Y` given `IN` units.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct BernoulliOutput<const IN: usize, const Y: usize> {
    /// The map from the last stochastic layer to the output logits.
    pub linear: Linear<IN, Y>,
}

/// What [`BernoulliOutput`] keeps for up to `B` rows.
#[derive(Clone, Copy, Zeroable)]
pub struct OutputTrace<const Y: usize, const B: usize> {
    logits: [[f32; Y]; B],
    mf_logits: [[f32; Y]; B],
    dlogits: [[f32; Y]; B],
}

impl<const IN: usize, const Y: usize> Tensors for BernoulliOutput<IN, Y> {
    const COUNT: usize = 2;

    fn tensor(&self, k: usize) -> &[f32] {
        self.linear.tensor(k)
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        self.linear.tensor_mut(k)
    }
}

/// Per row: `f = sum_j softplus(o_j) - y_j o_j`, using `tmp` as scratch.
fn loss_rows<const Y: usize>(o: &[[f32; Y]], y: &[[f32; Y]], tmp: &mut [[f32; Y]], f: &mut [f32]) {
    for (((or, yr), tr), fr) in o.iter().zip(y).zip(tmp.iter_mut()).zip(f.iter_mut()) {
        muprop_kernels::softplus(or, tr);
        let mut s = 0.0;
        for ((sp, yj), oj) in tr.iter().zip(yr).zip(or) {
            s += sp - yj * oj;
        }
        *fr = s;
    }
}

/// Per row: `d = scale * (sigmoid(o) - y)`.
fn logit_gradient_rows<const Y: usize>(
    o: &[[f32; Y]],
    y: &[[f32; Y]],
    scale: f32,
    d: &mut [[f32; Y]],
) {
    for ((or, yr), dr) in o.iter().zip(y).zip(d.iter_mut()) {
        muprop_kernels::sigmoid(or, dr);
        for (dj, yj) in dr.iter_mut().zip(yr) {
            *dj = scale * (*dj - yj);
        }
    }
}

impl<const IN: usize, const Y: usize> Network<IN, Y> for BernoulliOutput<IN, Y> {
    const DEPTH: usize = 0;
    type Trace<const B: usize> = OutputTrace<Y, B>;

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.linear.init(rng);
    }

    fn draw<const B: usize, R: Rng + ?Sized>(_: &mut OutputTrace<Y, B>, _: usize, _: &mut R) {}

    fn resample_after<const B: usize, S: Sampler + ?Sized>(
        &self,
        _: usize,
        _: &[[f32; IN]],
        _: &[[f32; Y]],
        _: &mut OutputTrace<Y, B>,
        _: &[f32],
        _: &mut [f32],
        _: &mut S,
    ) {
    }

    fn mean_field_from<const B: usize>(
        &self,
        _: usize,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut OutputTrace<Y, B>,
        fbar: &mut [f32],
    ) {
        self.mean_field(x, y, tr, fbar, None);
    }

    fn sample<const B: usize, S: Sampler + ?Sized>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut OutputTrace<Y, B>,
        f: &mut [f32],
        _: &mut S,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.linear.forward(&x[..n], &mut tr.logits[..n]);
        loss_rows(&tr.logits[..n], &y[..n], &mut tr.dlogits[..n], f);
    }

    fn mean_field<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut OutputTrace<Y, B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.linear.forward(&x[..n], &mut tr.mf_logits[..n]);
        loss_rows(&tr.mf_logits[..n], &y[..n], &mut tr.dlogits[..n], fbar);
        if let Some(dx) = dx {
            logit_gradient_rows(&tr.mf_logits[..n], &y[..n], 1.0, &mut tr.dlogits[..n]);
            self.linear
                .backward(&x[..n], &tr.dlogits[..n], None, Some(dx));
        }
    }

    fn layer<const B: usize>(
        _: &mut OutputTrace<Y, B>,
        _: usize,
        _: usize,
    ) -> Option<LayerView<'_>> {
        None
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut OutputTrace<Y, B>,
        grad: &mut Self,
        scale: f32,
        _: Backward,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        logit_gradient_rows(&tr.logits[..n], &y[..n], scale, &mut tr.dlogits[..n]);
        self.linear
            .backward(&x[..n], &tr.dlogits[..n], Some(&mut grad.linear), dx);
    }
}
