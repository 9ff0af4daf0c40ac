//! A learned baseline: a small network of the input, `b(x) = W2 tanh(W1 x + b1) + b2`, with
//! `K` outputs, trained by its owner on a squared residual.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::tensors::{pair_tensor, pair_tensor_mut};
use crate::{Linear, Tensors};

/// The parameters of a baseline network with `HID` tanh units and `K` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct BaselineNet<const IN: usize, const HID: usize, const K: usize> {
    /// Input to hidden units.
    pub hidden: Linear<IN, HID>,
    /// Hidden units to outputs.
    pub out: Linear<HID, K>,
}

impl<const IN: usize, const HID: usize, const K: usize> Tensors for BaselineNet<IN, HID, K> {
    const COUNT: usize = 4;

    fn tensor(&self, k: usize) -> &[f32] {
        pair_tensor(&self.hidden, &self.out, k)
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        pair_tensor_mut(&mut self.hidden, &mut self.out, k)
    }
}

/// A baseline network's values for up to `B` rows.
#[derive(Clone, Copy, Zeroable)]
pub struct BaselineScratch<const HID: usize, const K: usize, const B: usize> {
    pre: [[f32; HID]; B],
    h: [[f32; HID]; B],
    dh: [[f32; HID]; B],
    /// The outputs `b(x)` per row.
    pub values: [[f32; K]; B],
    /// The gradient of the owner's objective with respect to each output, per row.
    pub dvalues: [[f32; K]; B],
}

impl<const IN: usize, const HID: usize, const K: usize> BaselineNet<IN, HID, K> {
    /// Glorot-uniform weights and zero biases.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.hidden.init(rng);
        self.out.init(rng);
    }

    /// Outputs for the rows of `x` (up to `B`), kept in `s.values` with what backward needs.
    pub fn forward<const B: usize>(&self, x: &[[f32; IN]], s: &mut BaselineScratch<HID, K, B>) {
        let n = x.len().min(B);
        self.hidden.forward(&x[..n], &mut s.pre[..n]);
        muprop_kernels::tanh(s.pre[..n].as_flattened(), s.h[..n].as_flattened_mut());
        self.out.forward(&s.h[..n], &mut s.values[..n]);
    }

    /// Adds the gradient of `sum_r s.dvalues[r] . b(x_r)` into `grad`, for the rows of the last
    /// [`Self::forward`].
    pub fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]],
        s: &mut BaselineScratch<HID, K, B>,
        grad: &mut Self,
    ) {
        let n = x.len().min(B);
        let s = &mut *s;
        self.out.backward(
            &s.h[..n],
            &s.dvalues[..n],
            Some(&mut grad.out),
            Some(&mut s.dh[..n]),
        );
        for (d, t) in s.dh[..n]
            .as_flattened_mut()
            .iter_mut()
            .zip(s.h[..n].as_flattened())
        {
            *d *= 1.0 - t * t;
        }
        self.hidden
            .backward(&x[..n], &s.dh[..n], Some(&mut grad.hidden), None);
    }
}

/// The chunk's input rows as `[[f32; IN]]`, or `None` if the flat width is not `IN`.
pub(crate) fn rows_of<const IN: usize>(inputs: &[f32], width: usize) -> Option<&[[f32; IN]]> {
    if width != IN {
        return None;
    }
    let (rows, rest) = inputs.as_chunks::<IN>();
    rest.is_empty().then_some(rows)
}

/// Multiplies every scalar of `p` by `factor`.
pub(crate) fn scale_all<P: Tensors>(p: &mut P, factor: f32) {
    for k in 0..P::COUNT {
        p.tensor_mut(k).iter_mut().for_each(|v| *v *= factor);
    }
}
