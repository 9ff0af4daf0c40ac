//! The variational sigmoid belief network: density modelling with an encoder `q(h | x)` and a
//! decoder `p(x, h)`, trained on the evidence lower bound.
//!
//! Each [`VsbnLayer`] holds an encoder map `q` (logits of its Bernoulli units `h_l` from its
//! input `h_{l-1}`, with `h_0 = x`) and a decoder map `p` (logits of its input given `h_l`); the
//! chain ends in a learned factorised prior [`Prior`] over the last layer. The loss of one
//! sample is the negative ELBO,
//! `f = sum_l [log q(h_l | h_{l-1}) - log p(h_{l-1} | h_l)] - log p(h_L)`,
//! so `E_q[f] >= -log p(x)`. Every estimator applies to the encoder; the decoder and prior get
//! the exact pathwise gradient, and since `f` also depends on the encoder directly through
//! `log q`, that pathwise term `h_l - mu_l` is added to each encoder layer's logit gradient.
//!
//! By default each map reads its 0/1 input as it is. [`VsbnLayer::use_signed_coding`] switches
//! to the parametrisation of the public reference code: the first encoder reads its input
//! centred by the training pixel means, and every map that reads hidden units reads them as
//! `-1/+1`. The codings are affine in the input, so the model stays the same family and every
//! estimator stays unbiased; only the training dynamics change (gradient steps are not
//! invariant to an affine change of a layer's input). They are configuration, not parameters:
//! no optimiser changes them and the weights format does not store them.
//!
//! # Cost
//!
//! A coded input is never zero, so the dense kernels' shortcut over zero inputs does not apply
//! to the maps that read it: a coded `Vsbn1<784, 200>` or `Vsbn2<784, 200, 200>` trains 1.6
//! to 2 times slower than a plain one. Each layer's trace keeps room for its coded inputs and
//! units (`B (IN + H)` values) either way.
//!
//! The networks implement [`Network`] with targets of width 0: pass `&[[]; N]` as targets. The
//! `k`-sample importance-weighted bound `log (1/k sum_k e^{-f_k}) <= log p(x)` is
//! `-`[`crate::negative_log_likelihood`] with `k` samples.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::network::{Backward, LayerView, Network};
use crate::sampler::Sampler;
use crate::tensors::{pair_tensor, pair_tensor_mut};
use crate::units::{Bernoulli, Units};
use crate::{Linear, Tensors};

/// One encoder layer `q(h | x)` of `H` Bernoulli units over `IN` inputs, its decoder
/// `p(x | h)`, and the rest of the model `R`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct VsbnLayer<const IN: usize, const H: usize, R> {
    /// Encoder: logits of `h` from the layer's input.
    pub q: Linear<IN, H>,
    /// Decoder: logits of the layer's input from `h`.
    pub p: Linear<H, IN>,
    /// The rest of the model.
    pub rest: R,
    /// Subtracted from the layer's input before the encoder reads it: zero (the input as
    /// given), the training pixel means for a centred first layer, or `1/2` with
    /// `signed_input` when the input is the previous layer's units read as `-1/+1`.
    pub centre: [f32; IN],
    /// The encoder reads `2 (x - centre)` rather than `x - centre`.
    pub signed_input: bool,
    /// The decoder reads this layer's units as `2 h - 1` (`-1/+1`) rather than as `0/1`.
    pub signed_units: bool,
}

/// A learned factorised Bernoulli prior `p(h) = prod_j sigmoid(c_j)^h_j sigmoid(-c_j)^(1-h_j)`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct Prior<const H: usize> {
    /// The prior's logits.
    pub c: [f32; H],
}

/// What [`VsbnLayer`] keeps for up to `B` rows.
#[derive(Clone, Copy, Zeroable)]
pub struct VsbnTrace<const IN: usize, const H: usize, const B: usize, RT> {
    logits: [[f32; H]; B],
    mean: [[f32; H]; B],
    sample: [[f32; H]; B],
    words: [[u32; H]; B],
    delta: [[f32; H]; B],
    upstream: [[f32; H]; B],
    mf_logits: [[f32; H]; B],
    mf_mean: [[f32; H]; B],
    mf_grad: [[f32; H]; B],
    tmp: [[f32; H]; B],
    decoded: [[f32; IN]; B],
    mf_decoded: [[f32; IN]; B],
    decoded_grad: [[f32; IN]; B],
    coded_input: [[f32; IN]; B],
    coded_units: [[f32; H]; B],
    local: [f32; B],
    rest: RT,
}

/// A one-layer variational SBN: `X` visible units, `H` latent units.
pub type Vsbn1<const X: usize, const H: usize> = VsbnLayer<X, H, Prior<H>>;

/// A two-layer variational SBN: `X` visible units, latent layers of `H1` and `H2` units.
pub type Vsbn2<const X: usize, const H1: usize, const H2: usize> =
    VsbnLayer<X, H1, VsbnLayer<H1, H2, Prior<H2>>>;

/// `sum_j softplus(logits_j) - target_j logits_j`, the Bernoulli negative log-likelihood.
fn nll(logits: &[f32], target: &[f32]) -> f32 {
    muprop_kernels::bernoulli_nll(logits, target, None)
}

/// Per row: `out = scale * (sigmoid(logits) - target)`.
fn residual<const W: usize>(
    logits: &[[f32; W]],
    target: &[[f32; W]],
    scale: f32,
    out: &mut [[f32; W]],
) {
    for ((l, t), o) in logits.iter().zip(target).zip(out.iter_mut()) {
        muprop_kernels::sigmoid(l, o);
        for (ok, tk) in o.iter_mut().zip(t) {
            *ok = scale * (*ok - tk);
        }
    }
}

impl<const IN: usize, const H: usize, R: Tensors> Tensors for VsbnLayer<IN, H, R> {
    const COUNT: usize = 4 + R::COUNT;

    fn tensor(&self, k: usize) -> &[f32] {
        match k {
            0..=1 => self.q.tensor(k),
            _ => pair_tensor(&self.p, &self.rest, k - 2),
        }
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        match k {
            0..=1 => self.q.tensor_mut(k),
            _ => pair_tensor_mut(&mut self.p, &mut self.rest, k - 2),
        }
    }
}

impl<const H: usize> Tensors for Prior<H> {
    const COUNT: usize = 1;

    fn tensor(&self, k: usize) -> &[f32] {
        if k == 0 {
            &self.c
        } else {
            &[]
        }
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        if k == 0 {
            &mut self.c
        } else {
            &mut []
        }
    }
}

impl<const H: usize> Prior<H> {
    /// `sum_j softplus(c_j)`, the part of `-log p(h)` that does not depend on `h`.
    fn log_normaliser(&self) -> f32 {
        self.c
            .iter()
            .map(|c| muprop_kernels::scalar::softplus(*c))
            .sum()
    }

    /// Per row: `-log p(h) = sum_j softplus(c_j) - h_j c_j`.
    fn losses(&self, h: &[[f32; H]], f: &mut [f32]) {
        let z = self.log_normaliser();
        for (hr, fr) in h.iter().zip(f.iter_mut()) {
            *fr = z - hr.iter().zip(&self.c).map(|(a, b)| a * b).sum::<f32>();
        }
    }

    /// `d(-log p(h)) / dh = -c` for every row.
    fn input_gradient(&self, scale: f32, dx: &mut [[f32; H]]) {
        for row in dx.iter_mut() {
            for (d, c) in row.iter_mut().zip(&self.c) {
                *d = -scale * c;
            }
        }
    }
}

impl<const H: usize> Network<H, 0> for Prior<H> {
    const DEPTH: usize = 0;
    type Trace<const B: usize> = ();

    fn init<R: Rng + ?Sized>(&mut self, _: &mut R) {
        self.c = [0.0; H];
    }

    fn draw<const B: usize, R: Rng + ?Sized>(_: &mut (), _: usize, _: &mut R) {}

    fn sample<const B: usize, S: Sampler + ?Sized>(
        &self,
        x: &[[f32; H]],
        y: &[[f32; 0]],
        _: &mut (),
        f: &mut [f32],
        _: &mut S,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.losses(&x[..n], f);
    }

    fn resample_after<const B: usize, S: Sampler + ?Sized>(
        &self,
        _: usize,
        _: &[[f32; H]],
        _: &[[f32; 0]],
        _: &mut (),
        _: &[f32],
        _: &mut [f32],
        _: &mut S,
    ) {
    }

    fn mean_field<const B: usize>(
        &self,
        x: &[[f32; H]],
        y: &[[f32; 0]],
        _: &mut (),
        fbar: &mut [f32],
        dx: Option<&mut [[f32; H]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        self.losses(&x[..n], fbar);
        if let Some(dx) = dx {
            self.input_gradient(1.0, dx);
        }
    }

    fn mean_field_from<const B: usize>(
        &self,
        _: usize,
        x: &[[f32; H]],
        y: &[[f32; 0]],
        tr: &mut (),
        fbar: &mut [f32],
    ) {
        self.mean_field::<B>(x, y, tr, fbar, None);
    }

    fn layer<const B: usize>(_: &mut (), _: usize, _: usize) -> Option<LayerView<'_>> {
        None
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; H]],
        y: &[[f32; 0]],
        _: &mut (),
        grad: &mut Self,
        scale: f32,
        _: Backward,
        dx: Option<&mut [[f32; H]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        let mut sig = [0.0f32; H];
        muprop_kernels::sigmoid(&self.c, &mut sig);
        for row in &x[..n] {
            for ((g, s), h) in grad.c.iter_mut().zip(&sig).zip(row) {
                *g += scale * (s - h);
            }
        }
        if let Some(dx) = dx {
            self.input_gradient(scale, dx);
        }
    }
}

/// The parts of a variational SBN after its first layer, whose coding
/// [`VsbnLayer::use_signed_coding`] and [`VsbnLayer::use_plain_coding`] set.
pub trait SignedCoding {
    /// Reads the input (the units of the layer below) and this part's own units as `-1/+1`.
    fn read_signed_input(&mut self);

    /// Reads the input and this part's own units as 0/1, as given.
    fn read_plain_input(&mut self);
}

impl<const H: usize> SignedCoding for Prior<H> {
    /// The prior is the likelihood of the last layer's 0/1 units and reads them as they are.
    fn read_signed_input(&mut self) {}

    fn read_plain_input(&mut self) {}
}

impl<const IN: usize, const H: usize, R: SignedCoding> SignedCoding for VsbnLayer<IN, H, R> {
    fn read_signed_input(&mut self) {
        self.centre = [0.5; IN];
        self.signed_input = true;
        self.signed_units = true;
        self.rest.read_signed_input();
    }

    fn read_plain_input(&mut self) {
        self.use_plain_coding();
    }
}

impl<const IN: usize, const H: usize, R: SignedCoding> VsbnLayer<IN, H, R> {
    /// Gives the whole model the public reference code's parametrisation.
    ///
    /// The first encoder reads `x - centre` (pass the training pixel means), and the encoders
    /// and decoders that read hidden units read them as `-1/+1`. The decoders' targets and the
    /// prior keep the 0/1 values. `init` leaves the coding as it is.
    pub fn use_signed_coding(&mut self, centre: &[f32; IN]) {
        self.centre = *centre;
        self.signed_input = false;
        self.signed_units = true;
        self.rest.read_signed_input();
    }

    /// Every map of the whole model reads its input as given: the coding of a zeroed model.
    pub fn use_plain_coding(&mut self) {
        self.centre = [0.0; IN];
        self.signed_input = false;
        self.signed_units = false;
        self.rest.read_plain_input();
    }
}

impl<const IN: usize, const H: usize, R> VsbnLayer<IN, H, R> {
    /// `d (encoder input) / dx`: 2 when the input is read as `-1/+1`, else 1.
    fn input_gain(&self) -> f32 {
        if self.signed_input {
            2.0
        } else {
            1.0
        }
    }

    /// `d (decoder input) / dh`.
    fn units_gain(&self) -> f32 {
        if self.signed_units {
            2.0
        } else {
            1.0
        }
    }

    /// What the encoder reads of `x`: `x` itself when the coding is the identity, else
    /// `gain (x - centre)` written into `out`.
    fn encoder_input<'a>(&self, x: &'a [[f32; IN]], out: &'a mut [[f32; IN]]) -> &'a [[f32; IN]] {
        let gain = self.input_gain();
        if !self.signed_input && self.centre.iter().all(|c| *c == 0.0) {
            return x;
        }
        let n = x.len().min(out.len());
        for (o, r) in out[..n].iter_mut().zip(x) {
            for ((o, v), c) in o.iter_mut().zip(r).zip(&self.centre) {
                *o = gain * (v - c);
            }
        }
        &out[..n]
    }

    /// What the decoder reads of the units `h`: `h`, or `2 h - 1` written into `out`.
    fn decoder_input<'a>(&self, h: &'a [[f32; H]], out: &'a mut [[f32; H]]) -> &'a [[f32; H]] {
        if !self.signed_units {
            return h;
        }
        let n = h.len().min(out.len());
        for (o, r) in out[..n].iter_mut().zip(h) {
            for (o, v) in o.iter_mut().zip(r) {
                *o = 2.0 * v - 1.0;
            }
        }
        &out[..n]
    }

    /// Per row, this layer's own terms at the samples,
    /// `log q(h | x) - log p(x | h) = -nll(a, h) + nll(p(h), x)`: stored, and added to `f`.
    fn add_local_terms<const B: usize, RT>(
        &self,
        x: &[[f32; IN]],
        tr: &mut VsbnTrace<IN, H, B, RT>,
        n: usize,
        f: &mut [f32],
    ) {
        let units = self.decoder_input(&tr.sample[..n], &mut tr.coded_units[..n]);
        self.p.forward(units, &mut tr.decoded[..n]);
        for r in 0..n.min(x.len()).min(f.len()) {
            let log_q = -nll(&tr.logits[r], &tr.sample[r]);
            let log_p = -nll(&tr.decoded[r], &x[r]);
            tr.local[r] = log_q - log_p;
            f[r] += tr.local[r];
        }
    }

    /// The mean-field pass from this layer's mean-field means (already in `tr`) on: the rest's
    /// pass and reverse sweep, this layer's own terms, then `d fbar / d x` into `dx` when
    /// given. Rows `0..min(x.len(), y.len())`.
    fn mean_field_above<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut VsbnTrace<IN, H, B, R::Trace<B>>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) where
        R: Network<H, 0>,
    {
        let n = x.len().min(y.len()).min(B);
        let grad = Some(&mut tr.mf_grad[..n]);
        self.rest
            .mean_field(&tr.mf_mean[..n], &y[..n], &mut tr.rest, fbar, grad);

        // Our own terms on fractional values, and their derivative with respect to hbar:
        // d/dhbar [hbar . abar] = abar and d/dhbar nll(p(hbar), x) = g P^T (sigmoid(obar) - x),
        // with g the decoder's units gain.
        let units = self.decoder_input(&tr.mf_mean[..n], &mut tr.coded_units[..n]);
        self.p.forward(units, &mut tr.mf_decoded[..n]);
        // The decoder's likelihood and its residual sigmoid(obar) - x from one exp per logit.
        let rows = tr.mf_logits[..n]
            .iter()
            .zip(&tr.mf_mean[..n])
            .zip(tr.mf_decoded[..n].iter().zip(&mut tr.decoded_grad[..n]))
            .zip(x);
        for (r, (((abar, hbar), (obar, dgrad)), xr)) in rows.enumerate() {
            let log_q = -nll(abar, hbar);
            let log_p = -muprop_kernels::bernoulli_nll(obar, xr, Some(dgrad));
            if let Some(fr) = fbar.get_mut(r) {
                *fr += log_q - log_p;
            }
        }
        // Without a parameter gradient the backward step reads no input.
        let (hbar, dgrad) = (&tr.mf_mean[..n], &tr.decoded_grad[..n]);
        self.p.backward(hbar, dgrad, None, Some(&mut tr.tmp[..n]));
        let units_gain = self.units_gain();
        let terms = tr.mf_logits[..n]
            .as_flattened()
            .iter()
            .zip(tr.tmp[..n].as_flattened());
        for (g, (a, t)) in tr.mf_grad[..n].as_flattened_mut().iter_mut().zip(terms) {
            *g += a + units_gain * t;
        }
        let Some(dx) = dx else { return };

        // d fbar / d xbar_in: through the encoder's logits (times its input gain), and -obar
        // from the decoder's target.
        Bernoulli::mean_vjp(
            tr.mf_logits[..n].as_flattened(),
            tr.mf_mean[..n].as_flattened(),
            tr.mf_grad[..n].as_flattened(),
            tr.tmp[..n].as_flattened_mut(),
        );
        let n = n.min(dx.len());
        self.q
            .backward(&x[..n], &tr.tmp[..n], None, Some(&mut dx[..n]));
        let gain = self.input_gain();
        for (d, o) in dx[..n]
            .as_flattened_mut()
            .iter_mut()
            .zip(tr.mf_decoded[..n].as_flattened())
        {
            *d = gain * *d - o;
        }
    }
}

impl<const IN: usize, const H: usize, R> Network<IN, 0> for VsbnLayer<IN, H, R>
where
    R: Network<H, 0>,
{
    const DEPTH: usize = 1 + R::DEPTH;
    type Trace<const B: usize> = VsbnTrace<IN, H, B, R::Trace<B>>;

    fn init<Rn: Rng + ?Sized>(&mut self, rng: &mut Rn) {
        self.q.init(rng);
        self.p.init(rng);
        self.rest.init(rng);
    }

    fn draw<const B: usize, Rn: Rng + ?Sized>(tr: &mut Self::Trace<B>, row: usize, rng: &mut Rn) {
        if let Some(words) = tr.words.get_mut(row) {
            words.iter_mut().for_each(|w| *w = rng.next_u32());
            R::draw(&mut tr.rest, row, rng);
        }
    }

    fn sample<const B: usize, S: Sampler + ?Sized>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        f: &mut [f32],
        sampler: &mut S,
    ) {
        let n = x.len().min(y.len()).min(B);
        let input = self.encoder_input(&x[..n], &mut tr.coded_input[..n]);
        self.q.forward(input, &mut tr.logits[..n]);
        Bernoulli::mean(
            tr.logits[..n].as_flattened(),
            tr.mean[..n].as_flattened_mut(),
        );
        sampler.sample::<Bernoulli>(
            tr.mean[..n].as_flattened(),
            tr.words[..n].as_flattened(),
            tr.sample[..n].as_flattened_mut(),
        );
        self.rest
            .sample(&tr.sample[..n], &y[..n], &mut tr.rest, f, sampler);
        self.add_local_terms(x, tr, n, f);
    }

    fn resample_after<const B: usize, S: Sampler + ?Sized>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        samples: &[f32],
        f: &mut [f32],
        sampler: &mut S,
    ) {
        let n = x.len().min(y.len()).min(B);
        if l > 0 {
            // Our own terms do not depend on later layers: add them as the sample pass left them.
            let (input, rest) = (&tr.sample[..n], &mut tr.rest);
            self.rest
                .resample_after(l - 1, input, &y[..n], rest, samples, f, sampler);
            for (fr, t) in f.iter_mut().zip(&tr.local[..n]) {
                *fr += t;
            }
            return;
        }
        for (s, v) in tr.sample[..n].as_flattened_mut().iter_mut().zip(samples) {
            *s = *v;
        }
        self.rest
            .sample(&tr.sample[..n], &y[..n], &mut tr.rest, f, sampler);
        self.add_local_terms(x, tr, n, f);
    }

    fn mean_field<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        let input = self.encoder_input(&x[..n], &mut tr.coded_input[..n]);
        self.q.forward(input, &mut tr.mf_logits[..n]);
        Bernoulli::mean(
            tr.mf_logits[..n].as_flattened(),
            tr.mf_mean[..n].as_flattened_mut(),
        );
        self.mean_field_above(&x[..n], &y[..n], tr, fbar, dx);
    }

    fn mean_field_after_sample<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
        dx: Option<&mut [[f32; IN]]>,
    ) {
        // The sample pass left the coded input, the encoder's logits and its means in `tr`.
        let n = x.len().min(y.len()).min(B);
        tr.mf_logits[..n].copy_from_slice(&tr.logits[..n]);
        tr.mf_mean[..n].copy_from_slice(&tr.mean[..n]);
        self.mean_field_above(&x[..n], &y[..n], tr, fbar, dx);
    }

    fn mean_field_from<const B: usize>(
        &self,
        l: usize,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        fbar: &mut [f32],
    ) {
        if l == 0 {
            self.mean_field(x, y, tr, fbar, None);
            return;
        }
        // Earlier layers' terms are fixed at their samples: add them to the restarted pass.
        let n = x.len().min(y.len()).min(B);
        self.rest
            .mean_field_from(l - 1, &tr.sample[..n], &y[..n], &mut tr.rest, fbar);
        for (fr, t) in fbar.iter_mut().zip(&tr.local[..n]) {
            *fr += t;
        }
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
            classes: 1,
            states: 1u64.checked_shl(H as u32).unwrap_or(u64::MAX),
            logits: tr.logits[..n].as_flattened(),
            mean: tr.mean[..n].as_flattened(),
            sample: tr.sample[..n].as_flattened(),
            words: tr.words[..n].as_flattened(),
            mf_logits: tr.mf_logits[..n].as_flattened(),
            mf_mean: tr.mf_mean[..n].as_flattened(),
            mf_grad: tr.mf_grad[..n].as_flattened(),
            delta: tr.delta[..n].as_flattened_mut(),
            vjp: Bernoulli::mean_vjp,
            log_prob: Bernoulli::log_prob,
        })
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        y: &[[f32; 0]],
        tr: &mut Self::Trace<B>,
        grad: &mut Self,
        scale: f32,
        mode: Backward,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(y.len()).min(B);
        let upstream = match mode {
            Backward::StraightThrough => Some(&mut tr.upstream[..n]),
            Backward::Logits => None,
        };
        let (sample, rest) = (&tr.sample[..n], &mut tr.rest);
        self.rest
            .backward(sample, &y[..n], rest, &mut grad.rest, scale, mode, upstream);

        // The decoder's pathwise gradient at the samples.
        residual(&tr.decoded[..n], &x[..n], scale, &mut tr.decoded_grad[..n]);
        let h = self.decoder_input(&tr.sample[..n], &mut tr.coded_units[..n]);
        let dgrad = &tr.decoded_grad[..n];
        match mode {
            Backward::StraightThrough => {
                // d f / d h: the rest's, the decoder's g P^T (sigmoid(o) - x), and log q's a.
                self.p
                    .backward(h, dgrad, Some(&mut grad.p), Some(&mut tr.tmp[..n]));
                let units_gain = self.units_gain();
                let terms = tr.tmp[..n]
                    .as_flattened()
                    .iter()
                    .zip(tr.logits[..n].as_flattened());
                for (u, (t, a)) in tr.upstream[..n].as_flattened_mut().iter_mut().zip(terms) {
                    *u += units_gain * t + scale * a;
                }
                Bernoulli::mean_vjp(
                    tr.logits[..n].as_flattened(),
                    tr.mean[..n].as_flattened(),
                    tr.upstream[..n].as_flattened(),
                    tr.delta[..n].as_flattened_mut(),
                );
            }
            Backward::Logits => {
                self.p.backward(h, dgrad, Some(&mut grad.p), None);
                tr.delta[..n]
                    .as_flattened_mut()
                    .iter_mut()
                    .for_each(|d| *d *= scale);
            }
        }

        // log q's own dependence on the logits, h - mu, then through the encoder.
        let score = tr.sample[..n]
            .as_flattened()
            .iter()
            .zip(tr.mean[..n].as_flattened());
        for (d, (h, mu)) in tr.delta[..n].as_flattened_mut().iter_mut().zip(score) {
            *d += scale * (h - mu);
        }
        let input = self.encoder_input(&x[..n], &mut tr.coded_input[..n]);
        match dx {
            Some(dx) => {
                let n = n.min(dx.len()).min(input.len());
                self.q.backward(
                    &input[..n],
                    &tr.delta[..n],
                    Some(&mut grad.q),
                    Some(&mut dx[..n]),
                );
                let gain = self.input_gain();
                let decoded = tr.decoded[..n].as_flattened();
                for (d, o) in dx[..n].as_flattened_mut().iter_mut().zip(decoded) {
                    *d = gain * *d - scale * o;
                }
            }
            None => self
                .q
                .backward(input, &tr.delta[..n], Some(&mut grad.q), None),
        }
    }
}
