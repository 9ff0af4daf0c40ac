//! A stochastic stage with a deterministic hidden layer: `a = W2 act(W1 x + b1) + b2`.
//!
//! This is the "nonlinear" architecture of the literature: deterministic units between
//! stochastic layers, trained by back-propagation inside the stage.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::stage::Stage;
use crate::tensors::{pair_tensor, pair_tensor_mut};
use crate::{Linear, Tensors};

/// An elementwise nonlinearity of a deterministic layer.
pub trait Activation: Zeroable + Copy {
    /// `h[k] = act(pre[k])`.
    fn forward(pre: &[f32], h: &mut [f32]);
    /// Multiplies `dh[k]` by `act'(pre[k])`, given `h = act(pre)`.
    fn backward(pre: &[f32], h: &[f32], dh: &mut [f32]);
}

/// The hyperbolic tangent, `act'(x) = 1 - tanh(x)^2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
pub struct Tanh;

impl Activation for Tanh {
    fn forward(pre: &[f32], h: &mut [f32]) {
        muprop_kernels::tanh(pre, h);
    }

    fn backward(_: &[f32], h: &[f32], dh: &mut [f32]) {
        for (d, t) in dh.iter_mut().zip(h) {
            *d *= 1.0 - t * t;
        }
    }
}

/// The leaky rectifier with slope [`LeakyRelu::SLOPE`] for negative inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
pub struct LeakyRelu;

impl LeakyRelu {
    /// The slope for negative inputs.
    pub const SLOPE: f32 = 0.01;
}

impl Activation for LeakyRelu {
    fn forward(pre: &[f32], h: &mut [f32]) {
        muprop_kernels::leaky_relu(pre, Self::SLOPE, h);
    }

    fn backward(pre: &[f32], _: &[f32], dh: &mut [f32]) {
        for (d, p) in dh.iter_mut().zip(pre) {
            if *p <= 0.0 {
                *d *= Self::SLOPE;
            }
        }
    }
}

/// A deterministic layer of `HID` units feeding the logits of `OUT` Bernoulli units.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct Nonlinear<const IN: usize, const HID: usize, const OUT: usize, A> {
    /// The deterministic layer's linear map.
    pub hidden: Linear<IN, HID>,
    /// The map from the deterministic units to the logits.
    pub out: Linear<HID, OUT>,
    /// The nonlinearity (a marker; it holds no parameters).
    pub act: A,
}

/// What [`Nonlinear`] keeps between its forward and backward steps.
#[derive(Clone, Copy, Zeroable)]
pub struct NonlinearScratch<const HID: usize, const B: usize> {
    pre: [[f32; HID]; B],
    h: [[f32; HID]; B],
    dh: [[f32; HID]; B],
}

impl<const IN: usize, const HID: usize, const OUT: usize, A: Activation> Tensors
    for Nonlinear<IN, HID, OUT, A>
{
    const COUNT: usize = 4;

    fn tensor(&self, k: usize) -> &[f32] {
        pair_tensor(&self.hidden, &self.out, k)
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        pair_tensor_mut(&mut self.hidden, &mut self.out, k)
    }
}

impl<const IN: usize, const HID: usize, const OUT: usize, A: Activation> Stage<IN, OUT>
    for Nonlinear<IN, HID, OUT, A>
{
    type Scratch<const B: usize> = NonlinearScratch<HID, B>;

    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.hidden.init(rng);
        self.out.init(rng);
    }

    fn logits<const B: usize>(
        &self,
        x: &[[f32; IN]],
        a: &mut [[f32; OUT]],
        s: &mut NonlinearScratch<HID, B>,
    ) {
        let n = x.len().min(a.len()).min(B);
        self.hidden.forward(&x[..n], &mut s.pre[..n]);
        A::forward(s.pre[..n].as_flattened(), s.h[..n].as_flattened_mut());
        self.out.forward(&s.h[..n], &mut a[..n]);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        s: &mut NonlinearScratch<HID, B>,
        delta: &[[f32; OUT]],
        grad: Option<&mut Self>,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        let n = x.len().min(delta.len()).min(B);
        let (g_hidden, g_out) = match grad {
            Some(g) => (Some(&mut g.hidden), Some(&mut g.out)),
            None => (None, None),
        };

        // Through the output map, then the nonlinearity, then the hidden map.
        self.out
            .backward(&s.h[..n], &delta[..n], g_out, Some(&mut s.dh[..n]));
        A::backward(
            s.pre[..n].as_flattened(),
            s.h[..n].as_flattened(),
            s.dh[..n].as_flattened_mut(),
        );
        self.hidden.backward(&x[..n], &s.dh[..n], g_hidden, dx);
    }
}
