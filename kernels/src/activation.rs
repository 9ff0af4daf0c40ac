//! Activations, lane by lane: exp, sigmoid, log-sigmoid, softplus, the sigmoid derivative, tanh
//! and the leaky rectifier.
//!
//! Everything is built on two vector functions written from `wide` operations: [`exp_lanes`]
//! (Cody-Waite range reduction `x = n ln2 + r`, a degree-7 polynomial for `e^r` with the Cephes
//! `expf` coefficients, and a two-step scaling by `2^n` so subnormal results are rounded once)
//! and [`log1p_unit`] (`log1p` on `[0, 1]`, the reduction `log(1 + f) = 2 atanh(f / (2 + f))`
//! with the FreeBSD `logf` coefficients, plus the rounding error of `1 + u` as a correction).
//! The other activations use the stable formulas of [`crate::scalar`] on top of them.
//!
//! No fused multiply-add is used, so a given input gives the same bits on every target, and
//! the tail of a slice is computed in a zero-padded lane vector: an input gives the same output
//! wherever it sits in the buffer. Subnormal inputs and outputs take no special path.
//!
//! # Precision
//!
//! Worst case against the scalar twins (which use `libm`) over all 2^32 `f32` inputs, in ULPs
//! (the ignored test `exhaustive_ulps`; the regular tests sweep a dense grid and random bits):
//! exp <= 1, sigmoid <= 2, sigmoid_grad <= 4, softplus <= 2, log_sigmoid <= 2, tanh <= 2,
//! leaky_relu bit-identical. Subnormal results count in units of the smallest subnormal.
//! NaN in gives NaN out; no finite input gives NaN, and no infinity appears where the true
//! value is finite.

use crate::lanes::{from_int_bits, load_padded, store_partial, to_int_bits, IntLane, Lane, LANES};

/// Inputs are clamped to this range before the exponent is split off; outside it `e^x` is
/// `0` or `inf` in `f32`, and inside it both halves of the exponent stay normal.
const EXP_LO: f32 = -112.0;
const EXP_HI: f32 = 90.0;
/// Below this magnitude `e^x` rounds to `1.0`.
const EXP_TINY: f32 = 1.0 / 1_073_741_824.0;
/// `1.5 * 2^23`: adding it rounds a value below `2^22` in magnitude to an integer, which then
/// sits in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// `ln 2` split so that `n * LN2_HI` is exact for `|n| < 2^15` (Cephes constants).
const EXP_LN2_HI: f32 = 0.693_359_4;
const EXP_LN2_LO: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [
    1.987_569_2e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// `ln 2` split for `log1p` (FreeBSD `logf` constants).
const LOG_LN2_HI: f32 = 6.931_381e-1;
const LOG_LN2_LO: f32 = 9.058_001e-6;
const LG: [f32; 4] = [0.666_666_6, 0.400_009_72, 0.284_987_87, 0.242_790_79];

/// Below this magnitude `tanh(x)` rounds to `x` (`x^3 / 3` is under half an ULP of `x`).
const TANH_TINY: f32 = 1.0 / 4096.0;
/// Below this magnitude tanh uses its odd polynomial (Cephes `tanhf`).
const TANH_SMALL: f32 = 0.625;
const TANH_P: [f32; 5] = [
    -5.704_988_7e-3,
    2.063_909e-2,
    -5.373_971_6e-2,
    1.333_144_2e-1,
    -3.333_328e-1,
];

/// `e^x` on every lane; `inf` above about 88.72, subnormal results down to about -103.97, `0`
/// below, NaN for NaN.
#[inline(always)]
pub(crate) fn exp_lanes(x: Lane) -> Lane {
    // Reduce: n = round(x / ln2), r = x - n ln2 in two exact-ish steps. Inputs too small to
    // change e^x = 1 are zeroed first, so no subnormal intermediate (and no slow microcode
    // path) arises from them.
    let tiny = x.abs().simd_lt(Lane::splat(EXP_TINY));
    let xc = tiny
        .select(Lane::ZERO, x)
        .max(Lane::splat(EXP_LO))
        .min(Lane::splat(EXP_HI));
    let t = xc * Lane::splat(LOG2_E) + Lane::splat(ROUND_MAGIC);
    let nf = t - Lane::splat(ROUND_MAGIC);
    let n = to_int_bits(t) - to_int_bits(Lane::splat(ROUND_MAGIC));
    let r = (xc - nf * Lane::splat(EXP_LN2_HI)) - nf * Lane::splat(EXP_LN2_LO);

    // e^r = 1 + r + r^2 P(r).
    let p = EXP_P
        .iter()
        .skip(1)
        .fold(Lane::splat(EXP_P[0]), |acc, c| acc * r + Lane::splat(*c));
    let er = (p * (r * r) + r) + Lane::ONE;

    // Scale by 2^n as 2^(n/2) * 2^(n - n/2): the first product is exact, the second rounds
    // once, so subnormal results are correctly placed.
    let n1 = n >> 1;
    let n2 = n - n1;
    let y = (er * pow2(n1)) * pow2(n2);
    x.is_nan().select(x, y)
}

/// `2^k` for `k` in the normal exponent range, built from its bits.
#[inline(always)]
fn pow2(k: IntLane) -> Lane {
    from_int_bits((k + IntLane::splat(127)) << 23)
}

/// `log(1 + u)` for `u` in `[0, 1]`, accurate for tiny `u` (returns `u` below `2^-24`).
#[inline(always)]
pub(crate) fn log1p_unit(u: Lane) -> Lane {
    // y = 1 + u with its exact rounding error c, taken relative to y.
    let y = u + Lane::ONE;
    let c = (u - (y - Lane::ONE)) / y;

    // y = 2^k m with m in [sqrt(1/2), sqrt(2)], k in {0, 1}.
    let big = y.simd_gt(Lane::splat(core::f32::consts::SQRT_2));
    let m = big.select(y * Lane::HALF, y);
    let k = big.select(Lane::ONE, Lane::ZERO);

    // log(m) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f).
    let f = m - Lane::ONE;
    let s = f / (f + Lane::splat(2.0));
    let z = s * s;
    let w = z * z;
    let t1 = w * (Lane::splat(LG[1]) + w * Lane::splat(LG[3]));
    let t2 = z * (Lane::splat(LG[0]) + w * Lane::splat(LG[2]));
    let hfsq = Lane::HALF * f * f;
    let tail = s * (hfsq + (t2 + t1)) + (k * Lane::splat(LOG_LN2_LO) + c);
    k * Lane::splat(LOG_LN2_HI) - ((hfsq - tail) - f)
}

/// The logistic function of every lane, `1 / (1 + e^-x)` or `e^x / (1 + e^x)` by sign.
#[inline(always)]
fn sigmoid_lanes(x: Lane) -> Lane {
    let e = exp_lanes(-x.abs());
    let d = Lane::ONE + e;
    x.simd_ge(Lane::ZERO).select(Lane::ONE / d, e / d)
}

/// `log1p(e^-|x|)`, the shared term of softplus and log-sigmoid.
#[inline(always)]
fn log1p_exp_neg_abs(x: Lane) -> Lane {
    log1p_unit(exp_lanes(-x.abs()))
}

/// `softplus(x) = max(x, 0) + log1p(e^-|x|)` of every lane (NaN stays NaN).
#[inline(always)]
fn softplus_lanes(x: Lane) -> Lane {
    let y = x.max(Lane::ZERO) + log1p_exp_neg_abs(x);
    x.is_nan().select(x, y)
}

/// `[softplus(x), sigmoid(x)]` of every lane from one `e = e^-|x|`: the same operations as
/// [`softplus_lanes`] and [`sigmoid_lanes`], so the same bits.
#[inline(always)]
fn softplus_and_sigmoid_lanes(x: Lane) -> [Lane; 2] {
    let e = exp_lanes(-x.abs());
    let sp = x.max(Lane::ZERO) + log1p_unit(e);
    let d = Lane::ONE + e;
    [
        x.is_nan().select(x, sp),
        x.simd_ge(Lane::ZERO).select(Lane::ONE / d, e / d),
    ]
}

/// `sigmoid(x) * sigmoid(-x)` of every lane, as `(e / d) / d` with `e = e^-|x|`, `d = 1 + e`.
#[inline(always)]
fn sigmoid_grad_lanes(x: Lane) -> Lane {
    let e = exp_lanes(-x.abs());
    let d = Lane::ONE + e;
    (e / d) / d
}

/// `tanh` of every lane: an odd polynomial below [`TANH_SMALL`], `1 - 2 / (e^2|x| + 1)` above.
#[inline(always)]
fn tanh_lanes(x: Lane) -> Lane {
    // Tiny inputs are returned as they are; computing with them clamped away from the
    // subnormal range keeps every intermediate normal.
    let tiny = x.abs().simd_lt(Lane::splat(TANH_TINY));
    let ax = x.abs().max(Lane::splat(TANH_TINY));
    let z = ax * ax;
    let p = TANH_P
        .iter()
        .skip(1)
        .fold(Lane::splat(TANH_P[0]), |acc, c| acc * z + Lane::splat(*c));
    let small = ax + ax * (z * p);
    let large = Lane::ONE - Lane::splat(2.0) / (exp_lanes(ax + ax) + Lane::ONE);
    let t = ax
        .simd_lt(Lane::splat(TANH_SMALL))
        .select(small, large)
        .copysign(x);
    (tiny | x.is_nan()).select(x, t)
}

/// Applies a lane function over the common length: whole lanes, then the tail zero-padded.
#[inline(always)]
fn map_lanes(a: &[f32], out: &mut [f32], f: impl Fn(Lane) -> Lane) {
    let n = a.len().min(out.len());
    let (Some(a), Some(out)) = (a.get(..n), out.get_mut(..n)) else {
        return;
    };

    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (out_chunks, out_tail) = out.as_chunks_mut::<LANES>();
    for (o, x) in out_chunks.iter_mut().zip(a_chunks) {
        *o = f(Lane::new(*x)).to_array();
    }

    // Tail: the same lane computation on a zero-padded vector, only the leftovers stored.
    if !a_tail.is_empty() {
        store_partial(f(load_padded(a_tail)), out_tail);
    }
}

/// `out[k] = e^a[k]` over the common length.
///
/// # Precision
///
/// Within 1 ULP of `libm::expf` (measured), subnormal results included; `inf` for
/// `a > 88.7228`, `0` for `a < -103.98`, NaN only for NaN.
///
/// # Cost
///
/// About 20 lane operations per lane of input; no branches on values.
pub fn exp(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, exp_lanes);
}

/// `out[k] = sigmoid(a[k])` over the common length, accurate in both tails.
///
/// # Precision
///
/// Within 2 ULPs of [`crate::scalar::sigmoid`] (measured); never negative, exactly `1.0` from
/// about 16.6 up, subnormal (not zero) down to about -103.
///
/// # Cost
///
/// One vector exp and one division per lane of input.
pub fn sigmoid(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, sigmoid_lanes);
}

/// `out[k] = log_sigmoid(a[k]) = min(a, 0) - log1p(e^-|a|)` over the common length.
///
/// # Precision
///
/// Within 2 ULPs of [`crate::scalar::log_sigmoid`] (measured); exactly `a` for `a < -88`.
///
/// # Cost
///
/// One vector exp and one vector `log1p` (with two divisions) per lane of input.
pub fn log_sigmoid(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, |x| {
        let y = x.min(Lane::ZERO) - log1p_exp_neg_abs(x);
        x.is_nan().select(x, y)
    });
}

/// `out[k] = softplus(a[k]) = max(a, 0) + log1p(e^-|a|)` over the common length.
///
/// # Precision
///
/// Within 2 ULPs of [`crate::scalar::softplus`] (measured); exactly `a` for `a > 88`.
///
/// # Cost
///
/// One vector exp and one vector `log1p` (with two divisions) per lane of input.
pub fn softplus(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, softplus_lanes);
}

/// The Bernoulli negative log-likelihood of targets `y` under logits `o`,
/// `sum_k softplus(o[k]) - y[k] o[k]` summed in index order, over the common length of `o` and
/// `y`; when `residual` is given, also writes the likelihood's gradient with respect to each
/// logit, `residual[k] = sigmoid(o[k]) - y[k]`, over the common length of all three.
///
/// One vector exp per logit serves both: the result is bit-identical to [`softplus`] followed
/// by the sum above, and the residual to [`sigmoid`] minus `y`.
///
/// # Precision
///
/// Each term carries the 2 ULPs of [`softplus`] against its scalar twin and the residual those
/// of [`sigmoid`]; the sum is rounded in index order, as the scalar twin rounds it.
///
/// # Cost
///
/// One vector exp, one vector `log1p` and (with `residual`) one division per lane of input,
/// then one scalar add per element for the ordered sum.
pub fn bernoulli_nll(o: &[f32], y: &[f32], residual: Option<&mut [f32]>) -> f32 {
    let n = o.len().min(y.len());
    let (Some(o), Some(y)) = (o.get(..n), y.get(..n)) else {
        return 0.0;
    };
    let (o_chunks, o_tail) = o.as_chunks::<LANES>();
    let (y_chunks, y_tail) = y.as_chunks::<LANES>();

    // The terms `sp - y o` lane by lane (a multiply, then a subtraction, as the scalar loop
    // rounds them), then added to `s` one element after another, the first `len` lanes only.
    let add_terms = |s: f32, sp: Lane, o: Lane, y: Lane, len: usize| {
        let t = (sp - y * o).to_array();
        t.iter().take(len).fold(s, |s, t| s + t)
    };
    let mut s = 0.0;
    match residual {
        Some(r) if r.len() >= n => {
            let (r_chunks, r_tail) = r.get_mut(..n).unwrap_or_default().as_chunks_mut::<LANES>();
            for ((oc, yc), rc) in o_chunks.iter().zip(y_chunks).zip(r_chunks) {
                let [sp, sig] = softplus_and_sigmoid_lanes(Lane::new(*oc));
                s = add_terms(s, sp, Lane::new(*oc), Lane::new(*yc), LANES);
                *rc = (sig - Lane::new(*yc)).to_array();
            }
            if !o_tail.is_empty() {
                let (ot, yt) = (load_padded(o_tail), load_padded(y_tail));
                let [sp, sig] = softplus_and_sigmoid_lanes(ot);
                s = add_terms(s, sp, ot, yt, o_tail.len());
                store_partial(sig - yt, r_tail);
            }
        }
        Some(r) => {
            // A residual shorter than the logits: the loss over all of them, the residual over
            // the ones it holds.
            let m = r.len();
            bernoulli_nll(o.get(..m).unwrap_or_default(), y, Some(r));
            return bernoulli_nll(o, y, None);
        }
        None => {
            for (oc, yc) in o_chunks.iter().zip(y_chunks) {
                let ol = Lane::new(*oc);
                s = add_terms(s, softplus_lanes(ol), ol, Lane::new(*yc), LANES);
            }
            if !o_tail.is_empty() {
                let ot = load_padded(o_tail);
                s = add_terms(s, softplus_lanes(ot), ot, load_padded(y_tail), o_tail.len());
            }
        }
    }
    s
}

/// `out[k] = sigmoid'(a[k]) = sigmoid(a) sigmoid(-a)` over the common length.
///
/// # Precision
///
/// Within 4 ULPs of [`crate::scalar::sigmoid_grad`] (measured); positive wherever the true
/// value is above the smallest subnormal (so not `s (1 - s)`, which rounds to 0 for `a > 17`).
///
/// # Cost
///
/// One vector exp and two divisions per lane of input.
pub fn sigmoid_grad(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, sigmoid_grad_lanes);
}

/// `out[k] = tanh(a[k])` over the common length.
///
/// # Precision
///
/// Within 2 ULPs of [`crate::scalar::tanh`] (measured); odd (`tanh(-0) = -0`), exactly `±1`
/// for `|a| > 9.1`.
///
/// # Cost
///
/// A degree-11 polynomial and one vector exp with one division per lane of input (both
/// branches are computed and one is selected).
pub fn tanh(a: &[f32], out: &mut [f32]) {
    map_lanes(a, out, tanh_lanes);
}

/// `out[k] = leaky_relu(a[k], slope)`: `a` for `a > 0`, `slope * a` otherwise.
///
/// Bit-identical to [`crate::scalar::leaky_relu`] (NaN gives NaN).
///
/// # Cost
///
/// One multiplication, one comparison and one select per lane of input.
pub fn leaky_relu(a: &[f32], slope: f32, out: &mut [f32]) {
    let s = Lane::splat(slope);
    map_lanes(a, out, |x| x.simd_gt(Lane::ZERO).select(x, s * x));
}

#[cfg(test)]
#[allow(clippy::excessive_precision, clippy::approx_constant)] // NUMERICS.md values, as printed
mod tests {
    use super::*;
    use crate::reference;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::{eprintln, format, vec, vec::Vec};

    type Kernel = fn(&[f32], &mut [f32]);

    /// Every activation with its scalar twin and its stated ULP bound.
    const CASES: [(&str, Kernel, Kernel, u32); 6] = [
        ("exp", exp, reference::exp, 1),
        ("sigmoid", sigmoid, reference::sigmoid, 2),
        ("log_sigmoid", log_sigmoid, reference::log_sigmoid, 2),
        ("softplus", softplus, reference::softplus, 2),
        ("sigmoid_grad", sigmoid_grad, reference::sigmoid_grad, 4),
        ("tanh", tanh, reference::tanh, 2),
    ];

    /// Distance in representable `f32` values (0 when both are NaN or equal, `u32::MAX` if
    /// exactly one is NaN).
    fn ulps(a: f32, b: f32) -> u32 {
        if a.is_nan() || b.is_nan() {
            return if a.is_nan() && b.is_nan() {
                0
            } else {
                u32::MAX
            };
        }
        let key = |v: f32| {
            let i = v.to_bits() as i32;
            if i < 0 {
                i64::from(i32::MIN) - i64::from(i)
            } else {
                i64::from(i)
            }
        };
        (key(a) - key(b)).unsigned_abs().min(u64::from(u32::MAX)) as u32
    }

    /// Runs every kernel on `input` and checks each output against the twin; returns the
    /// largest distance seen per kernel.
    fn check(input: &[f32]) -> [u32; 6] {
        let mut worst = [0; 6];
        let mut fast = vec![0.0; input.len()];
        let mut slow = vec![0.0; input.len()];
        for ((name, kernel, twin, bound), w) in CASES.iter().zip(worst.iter_mut()) {
            kernel(input, &mut fast);
            twin(input, &mut slow);
            for ((x, f), s) in input.iter().zip(&fast).zip(&slow) {
                let d = ulps(*f, *s);
                assert!(
                    d <= *bound,
                    "{name}({x:e} = {:#010x}): simd {f:e} vs reference {s:e}: {d} ulps > {bound}",
                    x.to_bits()
                );
                *w = (*w).max(d);
            }
        }
        worst
    }

    const EDGES: [f32; 24] = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-39,
        -1e-39,
        1e-45,
        -1e-45,
        f32::MIN_POSITIVE,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        88.72283,
        88.72284,
        -87.33655,
        -103.97,
        -104.0,
        0.625,
        -0.625,
        0.3465736,
        9.1,
        -17.0502529,
    ];

    #[test]
    fn edges_at_every_lane_position() {
        for lead in 0..2 * LANES {
            for &e in &EDGES {
                let mut input = vec![0.0; lead];
                input.push(e);
                input.extend([0.5; 3]);
                check(&input);
            }
        }
    }

    #[test]
    fn lengths_around_the_lane_width() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33] {
            let input: Vec<f32> = (0..len).map(|_| uniform(&mut rng, -30.0, 30.0)).collect();
            check(&input);
            // Outputs longer and shorter than the input: only the common length is written.
            for out_len in [len.saturating_sub(1), len + 1] {
                for (name, kernel, _, _) in CASES {
                    let mut out = vec![-7.0; out_len];
                    kernel(&input, &mut out);
                    let written = len.min(out_len);
                    assert!(
                        out[written..].iter().all(|&v| v == -7.0),
                        "{name} wrote past {written}"
                    );
                }
            }
        }
    }

    fn uniform(rng: &mut Xoshiro256PlusPlus, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * crate::scalar::unit_f32(rng.next_u32())
    }

    #[test]
    fn dense_grid() {
        let input: Vec<f32> = (0..2_000_001).map(|k| -120.0 + k as f32 * 1.2e-4).collect();
        let worst = check(&input);
        eprintln!("grid [-120, 120]: worst ulps {worst:?}");
    }

    #[test]
    fn random_bit_patterns() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let input: Vec<f32> = (0..1_000_000)
            .map(|_| f32::from_bits(rng.next_u32()))
            .collect();
        let worst = check(&input);
        eprintln!("random bits: worst ulps {worst:?}");
    }

    /// The kernel's value at `x`, asserted bit-identical at every position of a buffer (after
    /// 0..2*lanes leading zeros, with and without trailing elements).
    fn at_every_offset(name: &str, kernel: Kernel, x: f32) -> f32 {
        let mut first: Option<f32> = None;
        for lead in 0..2 * LANES {
            for trail in [0, 1, LANES] {
                let mut input = vec![0.0; lead];
                input.push(x);
                input.extend(vec![-3.5; trail]);
                let mut out = vec![0.0; input.len()];
                kernel(&input, &mut out);
                let y = out[lead];
                let y0 = *first.get_or_insert(y);
                assert!(
                    y.to_bits() == y0.to_bits(),
                    "{name}({x:e}) at offset {lead} (trail {trail}): {y:e} vs {y0:e} at offset 0"
                );
            }
        }
        first.unwrap_or(f32::NAN)
    }

    /// `got` within `rel` (relative) or `abs` (absolute) of the independent value `want`.
    fn assert_close(what: &str, got: f32, want: f32, rel: f32, abs: f32) {
        let err = (got - want).abs();
        assert!(
            err <= abs || err <= rel * want.abs(),
            "{what}: got {got:e}, NUMERICS.md expects {want:e} (distance {err:e}, rel {rel:e}, abs {abs:e})"
        );
    }

    /// Smallest subnormal, the grid of every subnormal result.
    const SUB: f32 = 1.4e-45;

    /// The SIMD kernel `name` and its scalar twin, as listed in [`CASES`].
    fn kernel_and_twin(name: &str) -> [(&'static str, Kernel); 2] {
        let Some(&(_, kernel, twin, _)) = CASES.iter().find(|c| c.0 == name) else {
            panic!("no kernel named {name}");
        };
        [("simd", kernel), ("reference", twin)]
    }

    /// `name` at `x` through the SIMD kernel and through its twin in [`reference`], each
    /// asserted bit-identical at every offset: the NUMERICS.md cases below hold each path to
    /// the same expected value and tolerance.
    fn both(name: &str, x: f32) -> [(&'static str, f32); 2] {
        kernel_and_twin(name).map(|(path, kernel)| (path, at_every_offset(name, kernel, x)))
    }

    #[test]
    fn numerics_exp() {
        let cases = [
            (-87.0, 1.6458e-38, 1e-4),
            (-88.0, 6.0546e-39, 1e-4),
            (-88.1, 5.4784e-39, 1e-4),
            (-88.5, 3.6723e-39, 1e-4),
            (-103.97, 1.4e-45, 0.0),
            (-104.0, 0.0, 0.0),
        ];
        for (x, want, rel) in cases {
            for (path, got) in both("exp", x) {
                assert_close(&format!("{path} exp({x})"), got, want, rel, SUB);
                assert!(got >= 0.0, "{path} exp({x}) = {got:e}");
            }
        }
        for (path, got) in both("exp", -103.97) {
            assert_eq!(got.to_bits(), 1, "{path} exp(-103.97) is 2^-149");
        }
        for x in [89.0, 1e30] {
            for (path, got) in both("exp", x) {
                assert_eq!(got, f32::INFINITY, "{path} exp({x})");
            }
        }
        for (path, got) in both("exp", -1e30) {
            assert_eq!(got, 0.0, "{path} exp(-1e30)");
        }
        for (path, got) in both("exp", f32::NAN) {
            assert!(got.is_nan(), "{path} exp(NaN) = {got:e}");
        }
    }

    #[test]
    fn numerics_log_sigmoid() {
        for x in [-90.0, -100.0, -300.0, -1e4, -88.8] {
            for (path, got) in both("log_sigmoid", x) {
                assert_eq!(got, x, "{path} log_sigmoid({x})");
            }
        }
        for (path, got) in both("log_sigmoid", 0.0) {
            assert_close(
                &format!("{path} log_sigmoid(0)"),
                got,
                -0.6931472,
                1e-7,
                0.0,
            );
        }
        // Bernoulli log-likelihood t logsig(l) + (1 - t) logsig(-l). NUMERICS.md's -4.857405e-40
        // is -e^-l for the decimal 90.5229 (346636 subnormal steps); the f32 input is
        // 90.52290344.., for which -e^-l is 346634.6 steps, correctly rounded 346635. The 4-step
        // tolerance covers that 1.1-step offset of the table, half a step of rounding and the
        // SIMD exp's 1-ulp bound (an ulp is a step down there), while log(sigmoid(l)), which
        // rounds to 0 (346635 steps away), fails.
        let cases = [
            (90.5229, 1.0, -4.857405e-40),
            (1221.56, 1.0, -0.0),
            (820.362, 0.0, -820.362),
        ];
        let more = [(-100.0, 1.0, -100.0), (100.0, 0.0, -100.0)];
        for (l, t, want) in cases.into_iter().chain(more) {
            let [simd_pos, ref_pos] = both("log_sigmoid", l);
            let [simd_neg, ref_neg] = both("log_sigmoid", -l);
            for ((path, pos), (_, neg)) in [(simd_pos, simd_neg), (ref_pos, ref_neg)] {
                let got = t * pos + (1.0 - t) * neg;
                let what = format!("{path} loglik(l={l}, t={t})");
                assert_close(&what, got, want, 1e-6, 4.0 * SUB);
                assert!(got <= 0.0 && got.is_finite(), "{what} = {got:e}");
            }
        }
    }

    #[test]
    fn numerics_softplus_and_loss() {
        let cases = [
            (88.8, 88.8),
            (89.0, 89.0),
            (100.0, 100.0),
            (1e10, 1e10),
            (11.0, 11.000017),
            (0.0, 0.6931472),
            (-100.0, 3.78e-44),
        ];
        for (x, want) in cases {
            for (path, got) in both("softplus", x) {
                assert_close(&format!("{path} softplus({x})"), got, want, 1e-7, SUB);
            }
        }
        // Loss softplus(o) - y o, and its gradient sigmoid(o) - y.
        for (o, y, want) in [
            (-100.0, 0.0, 3.78e-44),
            (100.0, 1.0, 0.0),
            (-100.0, 1.0, 100.0),
        ] {
            for (path, sp) in both("softplus", o) {
                let got = sp - y * o;
                assert_close(&format!("{path} loss(o={o}, y={y})"), got, want, 1e-7, SUB);
            }
        }
        for (path, sp) in both("softplus", 100.0) {
            let got = sp - 0.0 * 100.0;
            assert_close(&format!("{path} loss(o=100, y=0)"), got, 100.0, 1e-7, 0.0);
        }
        for (o, y, want) in [(-50.0, 1.0, -1.0), (50.0, 0.0, 1.0)] {
            for (path, s) in both("sigmoid", o) {
                let got = s - y;
                assert_close(
                    &format!("{path} dloss/do(o={o}, y={y})"),
                    got,
                    want,
                    1e-7,
                    0.0,
                );
            }
        }
    }

    #[test]
    fn numerics_sigmoid_tail_at_every_offset() {
        for (x, want) in [(-17.0502529, 3.937035e-8), (-17.0677128, 3.868891e-8)] {
            for (path, got) in both("sigmoid", x) {
                assert_close(&format!("{path} sigmoid({x})"), got, want, 2e-7, 0.0);
                assert!(got > 0.0, "{path} sigmoid({x}) = {got:e}");
            }
        }
    }

    #[test]
    fn numerics_sigmoid_grad() {
        let cases = [
            (-90.0, 8.194e-40, 1e-3),
            (-201.7, 0.0, 0.0),
            (-548.3, 0.0, 0.0),
            (-74.2032, 5.942370e-33, 2e-6),
            (-27.2899, 1.406524e-12, 2e-6),
            (-10.0179, 4.459052e-5, 2e-6),
            (16.75, 5.315785e-8, 2e-6),
            (17.5, 2.510999e-8, 2e-6),
            (20.0, 2.061154e-9, 2e-6),
        ];
        for (x, want, rel) in cases {
            for (path, got) in both("sigmoid_grad", x) {
                assert_close(&format!("{path} sigmoid_grad({x})"), got, want, rel, SUB);
                assert!(got >= 0.0, "{path} sigmoid_grad({x}) = {got:e}");
            }
        }
        for (path, got) in both("sigmoid_grad", -74.2032) {
            assert!(got > 0.0, "{path} sigmoid_grad(-74.2032) underflowed to 0");
        }
    }

    #[test]
    fn special_values() {
        let inf = f32::INFINITY;
        let cases: [(&str, f32, f32); 14] = [
            ("sigmoid", inf, 1.0),
            ("sigmoid", -inf, 0.0),
            ("softplus", inf, inf),
            ("softplus", -inf, 0.0),
            ("log_sigmoid", -inf, -inf),
            ("log_sigmoid", inf, 0.0),
            ("sigmoid_grad", inf, 0.0),
            ("tanh", -inf, -1.0),
            ("tanh", 1e30, 1.0),
            ("tanh", -0.0, -0.0),
            ("tanh", -1e-39, -1e-39),
            ("exp", 1e-39, 1.0),
            ("sigmoid", 1e-39, 0.5),
            ("sigmoid_grad", -1e-39, 0.25),
        ];
        for (name, x, want) in cases {
            for (path, got) in both(name, x) {
                assert!(
                    got.to_bits() == want.to_bits(),
                    "{path} {name}({x:e}) = {got:e}, want {want:e}"
                );
            }
        }
        for (name, _, _, _) in CASES {
            for (path, got) in both(name, f32::NAN) {
                assert!(got.is_nan(), "{path} {name}(NaN) = {got:e}");
            }
        }
        let mut out = [0.0; 3];
        leaky_relu(&[f32::NAN, -2.0, 3.0], 0.01, &mut out);
        assert!(
            out[0].is_nan() && out[1] == -0.02 && out[2] == 3.0,
            "{out:?}"
        );
    }

    #[test]
    fn leaky_relu_is_bit_identical() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33, 1000] {
            let mut input: Vec<f32> = (0..len).map(|_| f32::from_bits(rng.next_u32())).collect();
            input.extend(EDGES);
            for slope in [0.0, 0.01, -0.5, 1e-39] {
                let mut fast = vec![0.0; input.len()];
                let mut slow = vec![0.0; input.len()];
                leaky_relu(&input, slope, &mut fast);
                reference::leaky_relu(&input, slope, &mut slow);
                for ((x, f), s) in input.iter().zip(&fast).zip(&slow) {
                    assert!(
                        f.to_bits() == s.to_bits() || (f.is_nan() && s.is_nan()),
                        "leaky_relu({x:e}, {slope}): simd {f:e} vs reference {s:e}"
                    );
                }
            }
        }
    }

    /// Every `f32` bit pattern through every activation; prints the worst distance and its
    /// input. Slow (minutes), so run on demand:
    /// `cargo test -p muprop-kernels --release exhaustive -- --ignored --nocapture`.
    #[test]
    #[ignore = "sweeps all 2^32 inputs; run on demand for the README figures"]
    fn exhaustive_ulps() {
        let threads = 2u64;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut worst = [(0u32, 0.0f32); 6];
                    let mut input = vec![0.0f32; 1 << 16];
                    let (mut fast, mut slow) = (input.clone(), input.clone());
                    let blocks = (1u64 << 16) / threads;
                    for block in (t * blocks)..((t + 1) * blocks) {
                        for (k, x) in input.iter_mut().enumerate() {
                            *x = f32::from_bits(((block as u32) << 16) | k as u32);
                        }
                        for ((_, kernel, twin, _), w) in CASES.iter().zip(worst.iter_mut()) {
                            kernel(&input, &mut fast);
                            twin(&input, &mut slow);
                            for ((x, f), s) in input.iter().zip(&fast).zip(&slow) {
                                let d = ulps(*f, *s);
                                if d > w.0 {
                                    *w = (d, *x);
                                }
                            }
                        }
                    }
                    worst
                })
            })
            .collect();
        let mut worst = [(0u32, 0.0f32); 6];
        for h in handles {
            for (w, t) in worst.iter_mut().zip(h.join().unwrap_or_default()) {
                if t.0 > w.0 {
                    *w = t;
                }
            }
        }
        for ((name, _, _, bound), (d, x)) in CASES.iter().zip(worst) {
            eprintln!(
                "{name}: worst {d} ulps at {x:e} ({:#010x}), stated {bound}",
                x.to_bits()
            );
        }
        for ((name, _, _, bound), (d, x)) in CASES.iter().zip(worst) {
            assert!(d <= *bound, "{name}: {d} ulps at {x:e}, stated {bound}");
        }
    }

    /// Logits over every range the activations treat specially, targets 0, 1 and fractional.
    fn nll_inputs(len: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let o = (0..len)
            .map(|k| match k % 4 {
                0 => EDGES[(rng.next_u32() as usize) % EDGES.len()],
                1 => f32::from_bits(rng.next_u32()),
                _ => (crate::unit_f32(rng.next_u32()) - 0.5) * 60.0,
            })
            .collect();
        let y = (0..len)
            .map(|k| [0.0, 1.0, 0.25][(k + rng.next_u32() as usize) % 3])
            .collect();
        (o, y)
    }

    /// The fused likelihood gives the bits of its parts: softplus then the ordered sum, and
    /// sigmoid minus the target, at every length around the lane width.
    #[test]
    fn bernoulli_nll_is_softplus_and_sigmoid_bit_for_bit() {
        for len in 0..=3 * LANES + 2 {
            let (o, y) = nll_inputs(len, len as u64);
            let mut sp = vec![0.0; len];
            softplus(&o, &mut sp);
            let want = sp
                .iter()
                .zip(&y)
                .zip(&o)
                .fold(0.0f32, |s, ((sp, yk), ok)| s + (sp - yk * ok));
            let mut sig = vec![0.0; len];
            sigmoid(&o, &mut sig);

            let mut r = vec![7.0; len + 2];
            let got = bernoulli_nll(&o, &y, Some(&mut r));
            assert_eq!(got.to_bits(), want.to_bits(), "len {len}: {got} vs {want}");
            for k in 0..len {
                let want_r = sig[k] - y[k];
                assert_eq!(r[k].to_bits(), want_r.to_bits(), "len {len} residual [{k}]");
            }
            assert_eq!(&r[len..], &[7.0, 7.0], "len {len}: wrote past the logits");
            let alone = bernoulli_nll(&o, &y, None);
            assert_eq!(
                alone.to_bits(),
                want.to_bits(),
                "len {len} without residual"
            );

            // A shorter residual: the whole loss, the residual where it fits.
            let m = len / 2;
            let mut short = vec![0.0; m];
            let got = bernoulli_nll(&o, &y, Some(&mut short));
            assert_eq!(got.to_bits(), want.to_bits(), "len {len} short residual");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&short),
                bits(&r[..m]),
                "len {len} short residual values"
            );
        }
    }

    /// The scalar twin gives the bits of its parts too: scalar softplus then the ordered sum,
    /// scalar sigmoid minus the target, whatever the residual's length.
    #[test]
    fn bernoulli_nll_twin_is_its_parts_bit_for_bit() {
        for len in 0..=2 * LANES + 3 {
            let (o, y) = nll_inputs(len, 500 + len as u64);
            let want = o.iter().zip(&y).fold(0.0f32, |s, (ok, yk)| {
                s + (crate::scalar::softplus(*ok) - yk * ok)
            });
            for r_len in [0, len / 2, len, len + 1] {
                let mut r = vec![7.0f32; r_len];
                let got = reference::bernoulli_nll(&o, &y, Some(&mut r));
                assert_eq!(got.to_bits(), want.to_bits(), "len {len}, residual {r_len}");
                for (k, rk) in r.iter().enumerate() {
                    let want_r = match (o.get(k), y.get(k)) {
                        (Some(ok), Some(yk)) => crate::scalar::sigmoid(*ok) - yk,
                        _ => 7.0,
                    };
                    assert_eq!(rk.to_bits(), want_r.to_bits(), "len {len} residual [{k}]");
                }
            }
            let alone = reference::bernoulli_nll(&o, &y, None);
            assert_eq!(
                alone.to_bits(),
                want.to_bits(),
                "len {len} without residual"
            );
        }
    }

    /// Against the scalar twin: the loss to a few rounding errors of its terms, the residual
    /// to the sigmoid's 2 ULPs (an absolute 2^-23 near 1).
    #[test]
    fn bernoulli_nll_matches_its_scalar_twin() {
        for seed in 0..50 {
            let len = 1 + seed as usize % 40;
            let (o, y) = nll_inputs(len, 1000 + seed);
            // Finite, moderate logits, so the sum has a scale to compare against.
            let o: Vec<f32> = o
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        v.clamp(-80.0, 80.0)
                    } else {
                        1.0
                    }
                })
                .collect();
            let (mut fast, mut slow) = (vec![0.0; len], vec![0.0; len]);
            let a = bernoulli_nll(&o, &y, Some(&mut fast));
            let b = reference::bernoulli_nll(&o, &y, Some(&mut slow));
            let scale: f32 = o.iter().map(|v| v.abs() + 1.0).sum();
            assert!(
                (a - b).abs() <= 4.0 * f32::EPSILON * scale,
                "seed {seed}: {a} vs {b}"
            );
            for (k, (f, s)) in fast.iter().zip(&slow).enumerate() {
                assert!(
                    (f - s).abs() <= 2.0 * f32::EPSILON,
                    "seed {seed} [{k}]: {f} vs {s}"
                );
            }
        }
        // NaN logits give a NaN loss and residual; confident right answers cost about 0.
        let mut r = [0.0; 3];
        let l = bernoulli_nll(&[f32::NAN, 0.0, 0.0], &[0.0; 3], Some(&mut r));
        assert!(l.is_nan() && r[0].is_nan(), "{l} {r:?}");
        let l = bernoulli_nll(&[-100.0, 100.0], &[0.0, 1.0], Some(&mut r));
        assert!((0.0..1e-40).contains(&l), "{l}");
        assert!((0.0..1e-40).contains(&r[0]) && r[1] == 0.0, "{r:?}");
    }
}
