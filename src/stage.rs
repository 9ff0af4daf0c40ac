//! A stochastic stage: the map `g` from a stage's input to its logits, then Bernoulli units.
//!
//! The network calls `g` on the sampled input (the sample pass) and on the mean-field input
//! (the mean-field pass), each with its own scratch, and back-propagates logit gradients
//! through `g` with the stage's input held fixed.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::Tensors;

/// The map `g` from a stage's input to the logits of its Bernoulli units.
pub trait Stage<const IN: usize, const OUT: usize>: Tensors + Zeroable {
    /// Values of `g`'s inner layers that its backward step needs, for up to `B` rows.
    type Scratch<const B: usize>: Zeroable + Copy;

    /// Draws initial parameters from `rng`.
    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R);

    /// Logits `a = g(x)` for rows `0..min(x.len(), a.len(), B)`, keeping what backward needs.
    fn logits<const B: usize>(
        &self,
        x: &[[f32; IN]],
        a: &mut [[f32; OUT]],
        scratch: &mut Self::Scratch<B>,
    );

    /// Back-propagates logit gradients through `g` at the input `x` of the last [`Self::logits`]
    /// call with this scratch: adds parameter gradients into `grad` and writes the input
    /// gradient into `dx`, each when given.
    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        scratch: &mut Self::Scratch<B>,
        delta: &[[f32; OUT]],
        grad: Option<&mut Self>,
        dx: Option<&mut [[f32; IN]]>,
    );
}

impl<const IN: usize, const OUT: usize> Stage<IN, OUT> for crate::Linear<IN, OUT> {
    type Scratch<const B: usize> = ();

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        crate::Linear::init(self, rng);
    }

    fn logits<const B: usize>(&self, x: &[[f32; IN]], a: &mut [[f32; OUT]], _: &mut ()) {
        let n = x.len().min(a.len()).min(B);
        self.forward(&x[..n], &mut a[..n]);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        _: &mut (),
        delta: &[[f32; OUT]],
        grad: Option<&mut Self>,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        crate::Linear::backward(self, x, delta, grad, dx);
    }
}
