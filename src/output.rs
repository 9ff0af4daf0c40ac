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
    // The logits of the last pass, sample or mean-field.
    logits: [[f32; Y]; B],
    // `sigmoid(o) - y` at the sample pass's logits, kept for the backward step.
    residual: [[f32; Y]; B],
    // What goes into a backward product: the mean-field residual in the mean-field pass,
    // `scale * residual` in the backward step.
    delta: [[f32; Y]; B],
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

/// Per row: `f = sum_j softplus(o_j) - y_j o_j`, and `sigmoid(o) - y` into `residual` when
/// given (one exp per logit for both).
fn loss_rows<const Y: usize>(
    o: &[[f32; Y]],
    y: &[[f32; Y]],
    mut residual: Option<&mut [[f32; Y]]>,
    f: &mut [f32],
) {
    for (r, ((or, yr), fr)) in o.iter().zip(y).zip(f.iter_mut()).enumerate() {
        let rr = residual.as_deref_mut().and_then(|d| d.get_mut(r));
        *fr = muprop_kernels::bernoulli_nll(or, yr, rr.map(|v| v.as_mut_slice()));
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
        loss_rows(&tr.logits[..n], &y[..n], Some(&mut tr.residual[..n]), f);
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
        self.linear.forward(&x[..n], &mut tr.logits[..n]);
        let Some(dx) = dx else {
            loss_rows(&tr.logits[..n], &y[..n], None, fbar);
            return;
        };
        loss_rows(&tr.logits[..n], &y[..n], Some(&mut tr.delta[..n]), fbar);
        self.linear
            .backward(&x[..n], &tr.delta[..n], None, Some(dx));
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
        let rows = tr.delta[..n].iter_mut().zip(&tr.residual[..n]);
        for (d, r) in rows.flat_map(|(d, r)| d.iter_mut().zip(r)) {
            *d = scale * r;
        }
        self.linear
            .backward(&x[..n], &tr.delta[..n], Some(&mut grad.linear), dx);
    }
}
