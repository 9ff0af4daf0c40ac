//! Networks of stochastic layers, composed at compile time without heap allocation.
//!
//! A network is a chain: [`Layers`] holds one stochastic layer (a [`Stage`] that maps the
//! layer's input to logits, and a kind of [`Units`]) and the rest of the network; the chain
//! ends in an output likelihood such as [`crate::BernoulliOutput`]. Every width is a const
//! generic, so a chain whose widths do not match does not compile. The aliases [`Sbn1`],
//! [`Sbn2`] and [`Sbn3`] name the common sigmoid belief networks.
//!
//! A network's per-row intermediate values live in its [`Network::Trace`], sized for up to
//! `B` rows at compile time and owned by the caller (inside a [`crate::Workspace`]).

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::sampler::Sampler;
use crate::stage::Stage;
use crate::tensors::{pair_tensor, pair_tensor_mut};
use crate::units::{Bernoulli, Units};
use crate::{BernoulliOutput, Linear, Tensors};

/// How [`Network::backward`] obtains each stochastic layer's logit gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backward {
    /// An estimator has written every layer's logit gradient into its [`LayerView::delta`].
    Logits,
    /// Straight-through: the logit gradient is the pathwise gradient of the loss with respect
    /// to the layer's samples pushed through the Jacobian of the means, back-propagated through
    /// the whole sampled network.
    StraightThrough,
}

/// A unit kind's vector-Jacobian product of its means: `(logits, means, g, out)`.
pub type MeanVjp = fn(&[f32], &[f32], &[f32], &mut [f32]);

/// One stochastic layer's values for a chunk of rows, as flat row-major slices of `width`.
pub struct LayerView<'a> {
    /// Units in the layer.
    pub width: usize,
    /// Units per independent choice: 1 for Bernoulli units, `C` for categorical groups.
    pub classes: usize,
    /// Joint states of one row of this layer (saturating at `u64::MAX`).
    pub states: u64,
    /// Logits `a = g(x_in)` at the sampled input.
    pub logits: &'a [f32],
    /// Means at the sampled input.
    pub mean: &'a [f32],
    /// Samples drawn from the means.
    pub sample: &'a [f32],
    /// The words the samples were drawn from.
    pub words: &'a [u32],
    /// Logits of the mean-field pass.
    pub mf_logits: &'a [f32],
    /// Mean-field values `xbar`.
    pub mf_mean: &'a [f32],
    /// `d fbar / d xbar` of this layer: the total derivative of the mean-field loss through
    /// everything downstream.
    pub mf_grad: &'a [f32],
    /// The logit gradient an estimator writes, per row (the step scales it).
    pub delta: &'a mut [f32],
    /// The unit kind's [`Units::mean_vjp`].
    pub vjp: MeanVjp,
    /// The unit kind's [`Units::log_prob`].
    pub log_prob: fn(&[f32], &[f32]) -> f64,
}

impl LayerView<'_> {
    /// `out = J^T g` for the Jacobian `J` of the means at the given logits and means.
    pub fn mean_vjp(&self, logits: &[f32], mean: &[f32], g: &[f32], out: &mut [f32]) {
        (self.vjp)(logits, mean, g, out);
    }

    /// `log p(x)` of row `r`'s sample under its sampled-pass logits.
    pub fn log_prob(&self, r: usize) -> f64 {
        let w = self.width;
        match (
            self.logits.get(r * w..(r + 1) * w),
            self.sample.get(r * w..(r + 1) * w),
        ) {
            (Some(a), Some(x)) => (self.log_prob)(a, x),
            _ => 0.0,
        }
    }
}

/// A network that maps input rows of width `IN` to a loss against target rows of width `Y`.
pub trait Network<const IN: usize, const Y: usize>: Tensors + Zeroable {
    /// Number of stochastic layers.
    const DEPTH: usize;

    /// The per-row values of a chunk of up to `B` rows.
    type Trace<const B: usize>: Zeroable + Copy;

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

    /// Sets stochastic layer `l`'s samples to `samples` (flat rows) and samples every later
    /// layer again, writing each row's loss into `f`; `x` is the network's input as in the
    /// sample pass that filled the trace. Layers before `l` and layer `l`'s logits
    /// and means are left as they are.
    #[allow(clippy::too_many_arguments)]
    fn resample_after<const B: usize, S: Sampler + ?Sized>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        samples: &[f32],
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

    /// [`Network::mean_field`] right after [`Network::sample`] with the same `x`, trace and
    /// parameters. The first stochastic layer's mean-field logits and means are then its
    /// logits and means of the sample pass (both read `x` itself), so a network may copy them
    /// from the trace instead of computing them again; the results are the same bits. The
    /// provided method computes them again.
    ///
    /// Called in any other order it gives the mean-field pass of whatever input the last
    /// sample pass read.
    fn mean_field_after_sample<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        self.mean_field(x, y, tr, fbar, dx);
    }

    /// The mean-field pass restarted at layer `l` from its *sampled* input (`x` itself for
    /// `l = 0`), with its reverse sweep: writes `fbar` and the mean-field values of layers
    /// `l..` (layer `l`'s mean-field values are then its means at the sampled input).
    fn mean_field_from<const B: usize>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
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

/// A stochastic layer of `H` units of kind `U`, whose logits are `S` of its `IN` inputs,
/// followed by the rest of the network `R`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct Layers<const IN: usize, const H: usize, S, U, R> {
    /// The map from this layer's input to its logits.
    pub stage: S,
    /// Everything after this layer.
    pub rest: R,
    /// The kind of units (a marker; it holds no parameters).
    pub units: U,
}

/// What [`Layers`] keeps for up to `B` rows: its own layer's values and the rest's trace.
#[derive(Clone, Copy, Zeroable)]
pub struct LayersTrace<const H: usize, const B: usize, SS, RT> {
    logits: [[f32; H]; B],
    mean: [[f32; H]; B],
    sample: [[f32; H]; B],
    words: [[u32; H]; B],
    delta: [[f32; H]; B],
    upstream: [[f32; H]; B],
    mf_logits: [[f32; H]; B],
    mf_mean: [[f32; H]; B],
    mf_grad: [[f32; H]; B],
    mf_delta: [[f32; H]; B],
    scratch: SS,
    mf_scratch: SS,
    rest: RT,
}

impl<const IN: usize, const H: usize, S: Tensors, U, R: Tensors> Tensors
    for Layers<IN, H, S, U, R>
{
    const COUNT: usize = S::COUNT + R::COUNT;

    fn tensor(&self, k: usize) -> &[f32] {
        pair_tensor(&self.stage, &self.rest, k)
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        pair_tensor_mut(&mut self.stage, &mut self.rest, k)
    }
}

/// Joint states of one row of `width` units of kind `U`, saturating.
fn states_of<U: Units>(width: usize) -> u64 {
    let choices = width / U::CLASSES.max(1);
    (0..choices).fold(1u64, |s, _| s.saturating_mul(U::RADIX as u64))
}

impl<const IN: usize, const H: usize, S: Stage<IN, H>, U: Units, R> Layers<IN, H, S, U, R> {
    /// The mean-field pass from this layer's mean-field means (already in `tr`) on: the rest's
    /// pass and reverse sweep, then `d fbar / d x` into `dx` when given. Rows `0..x.len()`.
    fn mean_field_above<const Y: usize, const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut LayersTrace<H, B, S::Scratch<B>, R::Trace<B>>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) where
        R: Network<H, Y>,
    {
        let n = x.len().min(y.len()).min(B);
        let grad = Some(&mut tr.mf_grad[..n]);
        self.rest
            .mean_field(&tr.mf_mean[..n], &y[..n], &mut tr.rest, fbar, grad);
        let Some(dx) = dx else { return };

        // d fbar / d xbar_in = J_g^T J_mean^T (d fbar / d xbar).
        U::mean_vjp(
            tr.mf_logits[..n].as_flattened(),
            tr.mf_mean[..n].as_flattened(),
            tr.mf_grad[..n].as_flattened(),
            tr.mf_delta[..n].as_flattened_mut(),
        );
        let (delta, scratch) = (&tr.mf_delta[..n], &mut tr.mf_scratch);
        self.stage.backward(&x[..n], scratch, delta, None, Some(dx));
    }
}

impl<const IN: usize, const H: usize, const Y: usize, S, U, R> Network<IN, Y>
    for Layers<IN, H, S, U, R>
where
    S: Stage<IN, H>,
    U: Units,
    R: Network<H, Y>,
{
    const DEPTH: usize = 1 + R::DEPTH;
    type Trace<const B: usize> = LayersTrace<H, B, S::Scratch<B>, R::Trace<B>>;

    fn init<Rn: Rng + ?Sized>(&mut self, rng: &mut Rn) {
        const {
            assert!(
                H.is_multiple_of(U::CLASSES),
                "a layer's width must be a multiple of its group"
            )
        };
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
        U::mean(
            tr.logits[..n].as_flattened(),
            tr.mean[..n].as_flattened_mut(),
        );
        sampler.sample::<U>(
            tr.mean[..n].as_flattened(),
            tr.words[..n].as_flattened(),
            tr.sample[..n].as_flattened_mut(),
        );
        self.rest
            .sample(&tr.sample[..n], &y[..n], &mut tr.rest, f, sampler);
    }

    fn resample_after<const B: usize, Sm: Sampler + ?Sized>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        samples: &[f32],
        f: &mut [f32],
        sampler: &mut Sm,
    ) {
        let n = x.len().min(y.len()).min(B);
        if l > 0 {
            let (input, rest) = (&tr.sample[..n], &mut tr.rest);
            self.rest
                .resample_after(l - 1, input, &y[..n], rest, samples, f, sampler);
            return;
        }
        for (s, v) in tr.sample[..n].as_flattened_mut().iter_mut().zip(samples) {
            *s = *v;
        }
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
        U::mean(
            tr.mf_logits[..n].as_flattened(),
            tr.mf_mean[..n].as_flattened_mut(),
        );
        self.mean_field_above(&x[..n], &y[..n], tr, fbar, dx);
    }

    fn mean_field_after_sample<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        tr.mf_logits[..n].copy_from_slice(&tr.logits[..n]);
        tr.mf_mean[..n].copy_from_slice(&tr.mean[..n]);
        tr.mf_scratch = tr.scratch;
        self.mean_field_above(&x[..n], &y[..n], tr, fbar, dx);
    }

    fn mean_field_from<const B: usize>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; Y]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
    ) {
        if l == 0 {
            self.mean_field(x, y, tr, fbar, None);
            return;
        }
        let n = x.len().min(y.len()).min(B);
        self.rest
            .mean_field_from(l - 1, &tr.sample[..n], &y[..n], &mut tr.rest, fbar);
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
            classes: U::CLASSES,
            states: states_of::<U>(H),
            logits: tr.logits[..n].as_flattened(),
            mean: tr.mean[..n].as_flattened(),
            sample: tr.sample[..n].as_flattened(),
            words: tr.words[..n].as_flattened(),
            mf_logits: tr.mf_logits[..n].as_flattened(),
            mf_mean: tr.mf_mean[..n].as_flattened(),
            mf_grad: tr.mf_grad[..n].as_flattened(),
            delta: tr.delta[..n].as_flattened_mut(),
            vjp: U::mean_vjp,
            log_prob: U::log_prob,
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
        let (sample, rest) = (&tr.sample[..n], &mut tr.rest);
        self.rest
            .backward(sample, &y[..n], rest, &mut grad.rest, scale, mode, upstream);

        // This layer's logit gradient, then through the stage at the sampled input.
        match mode {
            Backward::StraightThrough => U::mean_vjp(
                tr.logits[..n].as_flattened(),
                tr.mean[..n].as_flattened(),
                tr.upstream[..n].as_flattened(),
                tr.delta[..n].as_flattened_mut(),
            ),
            Backward::Logits => tr.delta[..n]
                .as_flattened_mut()
                .iter_mut()
                .for_each(|d| *d *= scale),
        }
        let (delta, scratch) = (&tr.delta[..n], &mut tr.scratch);
        self.stage
            .backward(&x[..n], scratch, delta, Some(&mut grad.stage), dx);
    }
}

/// A layer of `H` Bernoulli units with logits linear in its `IN` inputs, then `R`.
pub type BernoulliLayer<const IN: usize, const H: usize, R> =
    Layers<IN, H, Linear<IN, H>, Bernoulli, R>;

/// A layer of `H` units in one-hot groups of `C` with logits linear in its `IN` inputs, then `R`.
pub type CategoricalLayer<const IN: usize, const H: usize, const C: usize, R> =
    Layers<IN, H, Linear<IN, H>, crate::units::Categorical<C>, R>;

/// One Bernoulli layer of `H` units between input `I` and a Bernoulli output of width `O`.
pub type Sbn1<const I: usize, const H: usize, const O: usize> =
    BernoulliLayer<I, H, BernoulliOutput<H, O>>;

/// Two Bernoulli layers `I -> H1 -> H2` and a Bernoulli output of width `O`.
pub type Sbn2<const I: usize, const H1: usize, const H2: usize, const O: usize> =
    BernoulliLayer<I, H1, Sbn1<H1, H2, O>>;

/// Three Bernoulli layers `I -> H1 -> H2 -> H3` and a Bernoulli output of width `O`.
pub type Sbn3<const I: usize, const H1: usize, const H2: usize, const H3: usize, const O: usize> =
    BernoulliLayer<I, H1, Sbn2<H1, H2, H3, O>>;
