//! The parameters of one dense map: input-major weights and a bias.

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::Tensors;

/// A dense map `a = b + W x`, with `W` stored input-major: `w[i]` holds the weights leaving
/// input `i`, so `a = b + sum_i x[i] * w[i]`.
///
/// Input-major storage makes the product with a binary input a sum of the rows it selects, and
/// lets the weight gradient of such an input touch only those rows.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[repr(C)]
pub struct Linear<const IN: usize, const OUT: usize> {
    /// Weights, `w[i][o]` connecting input `i` to output `o`.
    pub w: [[f32; OUT]; IN],
    /// Biases, one per output.
    pub b: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// Number of scalars: `IN * OUT + OUT`.
    pub const PARAMS: usize = IN * OUT + OUT;

    /// Draws weights uniformly in `±sqrt(6 / (IN + OUT))` (Glorot) and sets biases to zero.
    ///
    /// # Determinism
    ///
    /// Consumes exactly `IN * OUT` words of `rng`, in row-major order of `w`.
    pub fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        let fan = (IN + OUT).max(1) as f32;
        let limit = libm::sqrtf(6.0 / fan);
        for row in self.w.iter_mut() {
            for w in row.iter_mut() {
                let u = muprop_kernels::unit_f32(rng.next_u32());
                *w = (2.0 * u - 1.0) * limit;
            }
        }
        self.b = [0.0; OUT];
    }

    /// Logits for a batch: `a[r] = b + sum_i x[r][i] * w[i]`, rows `0..min(x.len(), a.len())`.
    ///
    /// # Cost
    ///
    /// At most `IN * OUT` multiply-adds per row; rows of `w` whose input is zero (or subnormal)
    /// are skipped.
    #[inline]
    pub fn forward(&self, x: &[[f32; IN]], a: &mut [[f32; OUT]]) {
        muprop_kernels::logits_batch(&self.w, &self.b, x, a);
    }

    /// Back-propagates logit gradients `delta` of a batch: adds the parameter gradient into
    /// `grad` (when given) and writes the input gradient into `dx` (when given).
    #[inline]
    pub fn backward(
        &self,
        x: &[[f32; IN]],
        delta: &[[f32; OUT]],
        grad: Option<&mut Self>,
        dx: Option<&mut [[f32; IN]]>,
    ) {
        if let Some(g) = grad {
            muprop_kernels::accumulate_batch(x, delta, &mut g.w, &mut g.b);
        }
        if let Some(dx) = dx {
            muprop_kernels::backprop_input_batch(&self.w, delta, dx);
        }
    }
}

impl<const IN: usize, const OUT: usize> Tensors for Linear<IN, OUT> {
    const COUNT: usize = 2;

    fn tensor(&self, k: usize) -> &[f32] {
        match k {
            0 => self.w.as_flattened(),
            1 => &self.b,
            _ => &[],
        }
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        match k {
            0 => self.w.as_flattened_mut(),
            1 => &mut self.b,
            _ => &mut [],
        }
    }
}
