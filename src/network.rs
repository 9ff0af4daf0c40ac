//! Networks of stochastic stages, composed at compile time without heap allocation.
//!
//! A network is a chain: [`Layers`] holds one stochastic stage and the rest of the network,
//! and the chain ends in an output likelihood such as [`crate::BernoulliOutput`]. Every
//! layer's width is a const generic, so a chain whose widths do not match does not compile.
//! The aliases [`Sbn1`], [`Sbn2`] and [`Sbn3`] name the common shapes.
//!
//! A network's per-row intermediate values live in its [`Network::Trace`], sized for up to
//! `B` rows at compile time and owned by the caller (inside a [`crate::Workspace`]).

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::sampler::Sampler;
use crate::stage::{Bernoulli, Stage};
use crate::tensors::{pair_tensor, pair_tensor_mut};
use crate::{BernoulliOutput, Tensors};

/// How [`Network::backward`] obtains each stochastic layer's logit gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backward {
    /// An estimator has written every layer's logit gradient into its [`LayerView::delta`].
    Logits,
    /// Straight-through: the logit gradient is the pathwise gradient of the loss with respect
    /// to the layer's samples, times `sigmoid'(logits)`, back-propagated through the whole
    /// sampled network.
    StraightThrough,
}

/// One stochastic layer's values for a chunk of rows, as flat row-major slices of `width`.
pub struct LayerView<'a> {
    /// Units in the layer.
    pub width: usize,
    /// Logits `a = g(x_in)` at the sampled input.
    pub logits: &'a [f32],
    /// Means `sigmoid(a)` at the sampled input.
    pub mean: &'a [f32],
    /// Samples drawn from the means.
    pub sample: &'a [f32],
    /// Logits of the mean-field pass.
    pub mf_logits: &'a [f32],
    /// Mean-field values `xbar`.
    pub mf_mean: &'a [f32],
    /// `d fbar / d xbar` of this layer: the total derivative of the mean-field loss through
    /// everything downstream.
    pub mf_grad: &'a [f32],
    /// The logit gradient an estimator writes, per row (scaled by the step).
    pub delta: &'a mut [f32],
}

/// A network that maps input rows of width `IN` to a loss against target rows of width `Y`.
pub trait Network<const IN: usize, const Y: usize>: Tensors + Zeroable {
    /// Number of stochastic layers.
    const DEPTH: usize;

    /// The per-row values of a chunk of up to `B` rows.
    type Trace<const B: usize>: Zeroable;

    /// Draws initial parameters from `rng`.
    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R);

    /// Draws row `row`'s words for every stochastic layer from `rng`: one `u32` per unit, layer
    /// by layer. Rows at or past `B` draw nothing.
    fn draw<const B: usize, R: Rng + ?Sized>(tr: &mut Self::Trace<B>, row: usize, rng: &mut R);

    /// The sample pass: samples every stochastic layer with `sampler` (from the words of
    /// [`Network::draw`]) and writes each row's loss `f` into `f`. Rows
    /// `0..min(x.len(), y.len(), B)`.
    fn sample<const B: usize, S: Sampler + ?Sized>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        f: &mut [f32],
        sampler: &mut S,
    );

    /// The mean-field pass and its reverse sweep: writes each row's `fbar`, stores every
    /// layer's `d fbar / d xbar`, and writes `d fbar / d x` into `dx` when given.
    fn mean_field<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    );

    /// The values of stochastic layer `l` (counted from 0 at the input) for `rows` rows.
    fn layer<const B: usize>(
        tr: &mut Self::Trace<B>,
        l: usize,
        rows: usize,
    ) -> Option<LayerView<'_>>;

    /// Back-propagates into `grad` (adding): each stochastic layer's logit gradient through its
    /// stage with the stage's sampled input held fixed, and the loss's own parameters by the
    /// pathwise gradient at the samples. `scale` multiplies every contribution. Writes the
    /// gradient with respect to `x` into `dx` when given (straight-through needs it).
    #[allow(clippy::too_many_arguments)]
    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        grad: &mut Self,
        scale: f32,
        mode: Backward,
        dx: Option<&mut [[f32; IN]]>,
    );
}

/// A stochastic stage `S` from `IN` to `H` units, followed by the rest of the network `R`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct Layers<const IN: usize, const H: usize, S, R> {
    /// This layer's stage.
    pub stage: S,
    /// Everything after this layer.
    pub rest: R,
}

/// What [`Layers`] keeps for up to `B` rows: its own layer's values and the rest's trace.
#[derive(Clone, Copy, Zeroable)]
pub struct LayersTrace<const H: usize, const B: usize, SS, RT> {
    logits: [[f32; H]; B],
    mean: [[f32; H]; B],
    sample: [[f32; H]; B],
    delta: [[f32; H]; B],
    words: [[u32; H]; B],
    upstream: [[f32; H]; B],
    mf_logits: [[f32; H]; B],
    mf_mean: [[f32; H]; B],
    mf_grad: [[f32; H]; B],
    mf_delta: [[f32; H]; B],
    scratch: SS,
    mf_scratch: SS,
    rest: RT,
}

impl<const IN: usize, const H: usize, S: Tensors, R: Tensors> Tensors for Layers<IN, H, S, R> {
    const COUNT: usize = S::COUNT + R::COUNT;

    fn tensor(&self, k: usize) -> &[f32] {
        pair_tensor(&self.stage, &self.rest, k)
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        pair_tensor_mut(&mut self.stage, &mut self.rest, k)
    }
}

impl<const IN: usize, const H: usize, const Y: usize, S, R> Network<IN, Y> for Layers<IN, H, S, R>
where
    S: Stage<IN, H>,
    R: Network<H, Y>,
{
    const DEPTH: usize = 1 + R::DEPTH;
    type Trace<const B: usize> = LayersTrace<H, B, S::Scratch<B>, R::Trace<B>>;

    fn init<Rn: Rng + ?Sized>(&mut self, rng: &mut Rn) {
        self.stage.init(rng);
        self.rest.init(rng);
    }

    fn draw<const B: usize, Rn: Rng + ?Sized>(tr: &mut Self::Trace<B>, row: usize, rng: &mut Rn) {
        if let Some(words) = tr.words.get_mut(row) {
            words.iter_mut().for_each(|w| *w = rng.next_u32());
            R::draw(&mut tr.rest, row, rng);
        }
    }

    fn sample<const B: usize, Sm: Sampler + ?Sized>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        f: &mut [f32],
        sampler: &mut Sm,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.stage
            .logits(&x[..n], &mut tr.logits[..n], &mut tr.scratch);
        muprop_kernels::sigmoid(
            tr.logits[..n].as_flattened(),
            tr.mean[..n].as_flattened_mut(),
        );
        sampler.bernoulli(
            tr.mean[..n].as_flattened(),
            tr.words[..n].as_flattened(),
            tr.sample[..n].as_flattened_mut(),
        );
        self.rest
            .sample(&tr.sample[..n], &y[..n], &mut tr.rest, f, sampler);
    }

    fn mean_field<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.stage
            .logits(&x[..n], &mut tr.mf_logits[..n], &mut tr.mf_scratch);
        muprop_kernels::sigmoid(
            tr.mf_logits[..n].as_flattened(),
            tr.mf_mean[..n].as_flattened_mut(),
        );
        self.rest.mean_field(
            &tr.mf_mean[..n],
            &y[..n],
            &mut tr.rest,
            fbar,
            Some(&mut tr.mf_grad[..n]),
        );
        let Some(dx) = dx else { return };

        // d fbar / d xbar_in = J_g^T (d fbar / d xbar * sigmoid'(abar)).
        let d = tr.mf_delta[..n].as_flattened_mut();
        muprop_kernels::sigmoid_grad(tr.mf_logits[..n].as_flattened(), d);
        for (dk, gk) in d.iter_mut().zip(tr.mf_grad[..n].as_flattened()) {
            *dk *= gk;
        }
        self.stage.backward(
            &x[..n],
            &mut tr.mf_scratch,
            &tr.mf_delta[..n],
            None,
            Some(dx),
        );
    }

    fn layer<const B: usize>(
        tr: &mut Self::Trace<B>,
        l: usize,
        rows: usize,
    ) -> Option<LayerView<'_>> {
        if l > 0 {
            return R::layer(&mut tr.rest, l - 1, rows);
        }
        let n = rows.min(B);
        Some(LayerView {
            width: H,
            logits: tr.logits[..n].as_flattened(),
            mean: tr.mean[..n].as_flattened(),
            sample: tr.sample[..n].as_flattened(),
            mf_logits: tr.mf_logits[..n].as_flattened(),
            mf_mean: tr.mf_mean[..n].as_flattened(),
            mf_grad: tr.mf_grad[..n].as_flattened(),
            delta: tr.delta[..n].as_flattened_mut(),
        })
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        grad: &mut Self,
        scale: f32,
        mode: Backward,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);

        // The rest first: straight-through needs its gradient with respect to our samples.
        let upstream = match mode {
            Backward::StraightThrough => Some(&mut tr.upstream[..n]),
            Backward::Logits => None,
        };
        self.rest.backward(
            &tr.sample[..n],
            &y[..n],
            &mut tr.rest,
            &mut grad.rest,
            scale,
            mode,
            upstream,
        );

        // This layer's logit gradient, then through the stage at the sampled input.
        let delta = tr.delta[..n].as_flattened_mut();
        match mode {
            Backward::StraightThrough => {
                muprop_kernels::sigmoid_grad(tr.logits[..n].as_flattened(), delta);
                let up = tr.upstream[..n].as_flattened();
                for (dk, uk) in delta.iter_mut().zip(up) {
                    *dk *= uk;
                }
            }
            Backward::Logits => delta.iter_mut().for_each(|d| *d *= scale),
        }
        self.stage.backward(
            &x[..n],
            &mut tr.scratch,
            &tr.delta[..n],
            Some(&mut grad.stage),
            dx,
        );
    }
}

/// One Bernoulli layer of `H` units between input `I` and a Bernoulli output of width `O`.
pub type Sbn1<const I: usize, const H: usize, const O: usize> =
    Layers<I, H, Bernoulli<I, H>, BernoulliOutput<H, O>>;

/// Two Bernoulli layers `I -> H1 -> H2` and a Bernoulli output of width `O`.
pub type Sbn2<const I: usize, const H1: usize, const H2: usize, const O: usize> =
    Layers<I, H1, Bernoulli<I, H1>, Sbn1<H1, H2, O>>;

/// Three Bernoulli layers `I -> H1 -> H2 -> H3` and a Bernoulli output of width `O`.
pub type Sbn3<const I: usize, const H1: usize, const H2: usize, const H3: usize, const O: usize> =
    Layers<I, H1, Bernoulli<I, H1>, Sbn2<H1, H2, H3, O>>;
