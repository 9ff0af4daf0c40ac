//! Optimiser updates, element by element: plain SGD, SGD with momentum and Adam.
//!
//! Every operation is the reference's, lane-wise and each rounded separately (no fused
//! multiply-add; the square root and the divisions are correctly rounded on every target), so
//! both kernels are bit-identical to their twins in [`crate::reference`]. The tail is computed
//! in zero-padded lanes and only the leftovers are stored.

use crate::lanes::{load_padded, sqrt, store_partial, Lane, LANES};

/// Plain SGD: `p -= lr * g`, element by element (no velocity).
///
/// Runs over the common length of the two slices; bit-identical to [`crate::reference::sgd`].
///
/// # Cost
///
/// One multiplication and one subtraction per element; reads two streams and writes one.
pub fn sgd(p: &mut [f32], g: &[f32], lr: f32) {
    let lr = Lane::splat(lr);
    let n = p.len().min(g.len());
    let (Some(p), Some(g)) = (p.get_mut(..n), g.get(..n)) else {
        return;
    };

    let (p_chunks, p_tail) = p.as_chunks_mut::<LANES>();
    let (g_chunks, g_tail) = g.as_chunks::<LANES>();
    for (pc, gc) in p_chunks.iter_mut().zip(g_chunks) {
        *pc = (Lane::new(*pc) - lr * Lane::new(*gc)).to_array();
    }

    // Tail: zero-padded lanes, only the leftovers stored.
    store_partial(load_padded(p_tail) - lr * load_padded(g_tail), p_tail);
}

/// SGD with momentum: `vel = momentum * vel + g; p -= lr * vel`, element by element.
///
/// Runs over the common length of the three slices; bit-identical to
/// [`crate::reference::sgd_momentum`].
///
/// # Cost
///
/// Two multiplications and two additions per element.
pub fn sgd_momentum(p: &mut [f32], g: &[f32], vel: &mut [f32], lr: f32, momentum: f32) {
    let (lr, momentum) = (Lane::splat(lr), Lane::splat(momentum));
    let step = |p: Lane, g: Lane, v: Lane| {
        let v = momentum * v + g;
        (p - lr * v, v)
    };
    let n = p.len().min(g.len()).min(vel.len());
    let (Some(p), Some(g), Some(vel)) = (p.get_mut(..n), g.get(..n), vel.get_mut(..n)) else {
        return;
    };

    let (p_chunks, p_tail) = p.as_chunks_mut::<LANES>();
    let (g_chunks, g_tail) = g.as_chunks::<LANES>();
    let (v_chunks, v_tail) = vel.as_chunks_mut::<LANES>();
    for ((pc, gc), vc) in p_chunks.iter_mut().zip(g_chunks).zip(v_chunks.iter_mut()) {
        let (pn, vn) = step(Lane::new(*pc), Lane::new(*gc), Lane::new(*vc));
        *pc = pn.to_array();
        *vc = vn.to_array();
    }

    // Tail: zero-padded lanes, only the leftovers stored.
    let (pn, vn) = step(
        load_padded(p_tail),
        load_padded(g_tail),
        load_padded(v_tail),
    );
    store_partial(pn, p_tail);
    store_partial(vn, v_tail);
}

/// One Adam update, element by element (see [`AdamStep`] for the formula).
///
/// Runs over the common length of the four slices; bit-identical to
/// [`crate::reference::adam`], with `eps` added to the square root of the bias-corrected
/// second moment.
///
/// # Cost
///
/// Seven multiplications, five additions, three divisions and one square root per element.
pub fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: &AdamStep) {
    let n = p.len().min(g.len()).min(m.len()).min(v.len());
    let (Some(p), Some(g), Some(m), Some(v)) =
        (p.get_mut(..n), g.get(..n), m.get_mut(..n), v.get_mut(..n))
    else {
        return;
    };
    let c = AdamLanes::new(step);

    let (p_chunks, p_tail) = p.as_chunks_mut::<LANES>();
    let (g_chunks, g_tail) = g.as_chunks::<LANES>();
    let (m_chunks, m_tail) = m.as_chunks_mut::<LANES>();
    let (v_chunks, v_tail) = v.as_chunks_mut::<LANES>();
    let chunks = p_chunks
        .iter_mut()
        .zip(g_chunks)
        .zip(m_chunks.iter_mut())
        .zip(v_chunks);
    for (((pc, gc), mc), vc) in chunks {
        let [pn, mn, vn] = c.update(
            Lane::new(*pc),
            Lane::new(*gc),
            Lane::new(*mc),
            Lane::new(*vc),
        );
        *pc = pn.to_array();
        *mc = mn.to_array();
        *vc = vn.to_array();
    }

    // Tail: zero-padded lanes, only the leftovers stored.
    let [pn, mn, vn] = c.update(
        load_padded(p_tail),
        load_padded(g_tail),
        load_padded(m_tail),
        load_padded(v_tail),
    );
    store_partial(pn, p_tail);
    store_partial(mn, m_tail);
    store_partial(vn, v_tail);
}

/// The constants of an [`AdamStep`] splatted into lanes.
struct AdamLanes {
    beta1: Lane,
    beta2: Lane,
    one_minus_beta1: Lane,
    one_minus_beta2: Lane,
    eps: Lane,
    size: Lane,
    inv_bias2: Lane,
}

impl AdamLanes {
    fn new(s: &AdamStep) -> Self {
        AdamLanes {
            beta1: Lane::splat(s.beta1),
            beta2: Lane::splat(s.beta2),
            one_minus_beta1: Lane::splat(1.0 - s.beta1),
            one_minus_beta2: Lane::splat(1.0 - s.beta2),
            eps: Lane::splat(s.eps),
            size: Lane::splat(s.factors().0),
            inv_bias2: Lane::splat(s.factors().1),
        }
    }

    /// The new `[p, m, v]`, with the reference's operations in the reference's order.
    #[inline(always)]
    fn update(&self, p: Lane, g: Lane, m: Lane, v: Lane) -> [Lane; 3] {
        let m = self.beta1 * m + self.one_minus_beta1 * g;
        let v = self.beta2 * v + self.one_minus_beta2 * g * g;
        [
            p - self.size * m / (sqrt(v * self.inv_bias2) + self.eps),
            m,
            v,
        ]
    }
}

/// The constants of one Adam update at step `t` (counted from 1).
///
/// `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
/// `p -= (lr / bias1) m / (sqrt(v (1 / bias2)) + eps)`, with `bias1 = 1 - beta1^t` and
/// `bias2 = 1 - beta2^t`: `eps` is added to the square root of the bias-corrected second moment.
/// The two scalar factors are computed once per update ([`AdamStep::factors`]), so each element
/// costs one division and one square root.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the square root of the bias-corrected second moment.
    pub eps: f32,
    /// `1 - beta1^t`.
    pub bias1: f32,
    /// `1 - beta2^t`.
    pub bias2: f32,
}

impl AdamStep {
    /// `(lr / bias1, 1 / bias2)`, the per-update scalars of the formula.
    pub fn factors(&self) -> (f32, f32) {
        (self.lr / self.bias1, 1.0 / self.bias2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::{vec, vec::Vec};

    const EDGES: [f32; 8] = [0.0, -0.0, 1e-39, 1e30, -1e30, f32::INFINITY, f32::NAN, 1e-8];

    fn random(rng: &mut Xoshiro256PlusPlus, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| match rng.next_u32() % 8 {
                0 => EDGES[(rng.next_u32() % EDGES.len() as u32) as usize],
                _ => 2.0 * crate::scalar::unit_f32(rng.next_u32()) - 1.0,
            })
            .collect()
    }

    fn assert_same(what: &str, fast: &[f32], slow: &[f32], input: &dyn core::fmt::Debug) {
        for (k, (f, s)) in fast.iter().zip(slow).enumerate() {
            assert!(
                f.to_bits() == s.to_bits() || (f.is_nan() && s.is_nan()),
                "{what}[{k}]: simd {f:e} vs reference {s:e} ({:e} apart)\ninput: {input:?}",
                (f - s).abs()
            );
        }
    }

    #[test]
    fn sgd_is_bit_identical() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(40);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33, 500] {
            let (p0, g) = (random(&mut rng, len), random(&mut rng, len + 1));
            for lr in [0.1, 1e-3, 3.0, 1e30] {
                let (mut pf, mut ps) = (p0.clone(), p0.clone());
                sgd(&mut pf, &g, lr);
                reference::sgd(&mut ps, &g, lr);
                assert_same("sgd p", &pf, &ps, &(&p0, &g, lr));
            }
        }
    }

    #[test]
    fn sgd_momentum_is_bit_identical() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(41);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33, 500] {
            let (p0, g, v0) = (
                random(&mut rng, len),
                random(&mut rng, len + 1),
                random(&mut rng, len),
            );
            for (lr, momentum) in [(0.1, 0.9), (1e-3, 0.0), (3.0, 0.99)] {
                let (mut pf, mut vf) = (p0.clone(), v0.clone());
                let (mut ps, mut vs) = (p0.clone(), v0.clone());
                sgd_momentum(&mut pf, &g, &mut vf, lr, momentum);
                reference::sgd_momentum(&mut ps, &g, &mut vs, lr, momentum);
                let input = (&p0, &g, &v0, lr, momentum);
                assert_same("sgd p", &pf, &ps, &input);
                assert_same("sgd vel", &vf, &vs, &input);
            }
        }
    }

    fn adam_step(t: i32, lr: f32, eps: f32) -> AdamStep {
        let (beta1, beta2) = (0.9f32, 0.999f32);
        AdamStep {
            lr,
            beta1,
            beta2,
            eps,
            bias1: 1.0 - beta1.powi(t),
            bias2: 1.0 - beta2.powi(t),
        }
    }

    #[test]
    fn adam_is_bit_identical() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33, 500] {
            let (p0, g) = (random(&mut rng, len), random(&mut rng, len));
            let m0: Vec<f32> = random(&mut rng, len);
            let v0: Vec<f32> = random(&mut rng, len).iter().map(|v| v.abs()).collect();
            for step in [adam_step(1, 1e-3, 1e-8), adam_step(10, 0.1, 0.0)] {
                let (mut pf, mut mf, mut vf) = (p0.clone(), m0.clone(), v0.clone());
                let (mut ps, mut ms, mut vs) = (p0.clone(), m0.clone(), v0.clone());
                adam(&mut pf, &g, &mut mf, &mut vf, &step);
                reference::adam(&mut ps, &g, &mut ms, &mut vs, &step);
                let input = (&p0, &g, &m0, &v0, step);
                assert_same("adam p", &pf, &ps, &input);
                assert_same("adam m", &mf, &ms, &input);
                assert_same("adam v", &vf, &vs, &input);
            }
        }
    }

    type AdamKernel = fn(&mut [f32], &[f32], &mut [f32], &mut [f32], &AdamStep);

    /// NUMERICS: one step at t = 1 moves by 5.0e-4 / 9.90099e-4 / 1.0e-3 for gradients
    /// 1e-8 / 1e-6 / 1, with eps added to the square root; every lane position, through the
    /// SIMD kernel and its twin.
    ///
    /// By hand, `m_hat = g` and `sqrt(v_hat) = |g|`, so the step is `lr g / (|g| + eps)`:
    /// 1e-3 / 2, 1e-3 / 1.01 = 9.900990e-4 and 1e-3 / (1 + 1e-8). The f32 evaluation rounds
    /// about ten times (each within 2^-24 relative; `1 - beta` and the bias corrections cancel
    /// to first order), and the table rounds to 6 digits (1e-8 relative), so a relative
    /// tolerance of 1e-6 is sound; eps inside the square root moves the first two cases by
    /// 94% and 23%.
    #[test]
    fn adam_first_step_values() {
        let paths: [(&str, AdamKernel); 2] = [("simd", adam), ("reference", reference::adam)];
        let step = adam_step(1, 1e-3, 1e-8);
        for (g, want) in [(1e-8, 5.0e-4), (1e-6, 9.90099e-4), (1.0, 1.0e-3)] {
            for (path, kernel) in paths {
                let mut p = vec![0.0; 2 * LANES + 1];
                let (mut m, mut v) = (vec![0.0; p.len()], vec![0.0; p.len()]);
                let grad = vec![g; p.len()];
                kernel(&mut p, &grad, &mut m, &mut v, &step);
                for (k, moved) in p.iter().map(|x| -x).enumerate() {
                    assert!(
                        (moved - want).abs() <= 1e-6 * want,
                        "{path} adam step at {k} for g = {g}: moved {moved:e}, NUMERICS.md \
                         expects {want:e}"
                    );
                }
            }
        }
    }
}
