//! Flat views of a parameter set, so optimisers and checks can treat any network alike.

/// A set of parameter tensors, each viewable as a flat `f32` slice.
///
/// A network, its gradient and each optimiser moment have the same type, so tensor `k` of one
/// lines up element by element with tensor `k` of another.
pub trait Tensors {
    /// How many tensors there are.
    const COUNT: usize;

    /// Tensor `k` as a flat slice; empty for `k >= COUNT`.
    fn tensor(&self, k: usize) -> &[f32];

    /// Tensor `k` as a flat mutable slice; empty for `k >= COUNT`.
    fn tensor_mut(&mut self, k: usize) -> &mut [f32];

    /// The total number of scalars over all tensors.
    fn scalar_count(&self) -> usize {
        (0..Self::COUNT).map(|k| self.tensor(k).len()).sum()
    }

    /// `true` if every scalar is finite.
    fn all_finite(&self) -> bool {
        (0..Self::COUNT).all(|k| muprop_kernels::all_finite(self.tensor(k)))
    }

    /// Sets every scalar to zero.
    fn fill_zero(&mut self) {
        for k in 0..Self::COUNT {
            self.tensor_mut(k).fill(0.0);
        }
    }

    /// Copies every scalar from `other`.
    fn copy_from(&mut self, other: &Self) {
        for k in 0..Self::COUNT {
            for (d, s) in self.tensor_mut(k).iter_mut().zip(other.tensor(k)) {
                *d = *s;
            }
        }
    }
}

/// The tensors of a pair, stage first.
pub(crate) fn pair_tensor<'a, A: Tensors, B: Tensors>(a: &'a A, b: &'a B, k: usize) -> &'a [f32] {
    if k < A::COUNT {
        a.tensor(k)
    } else {
        b.tensor(k - A::COUNT)
    }
}

/// The mutable tensors of a pair, stage first.
pub(crate) fn pair_tensor_mut<'a, A: Tensors, B: Tensors>(
    a: &'a mut A,
    b: &'a mut B,
    k: usize,
) -> &'a mut [f32] {
    if k < A::COUNT {
        a.tensor_mut(k)
    } else {
        b.tensor_mut(k - A::COUNT)
    }
}
