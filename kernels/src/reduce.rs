//! Reductions: dot product, sum, and the finiteness check.
//!
//! The sums are carried in lanes and finished in a fixed order that is the same on every
//! target: lane `j` accumulates the elements `k = j (mod lanes)` of the whole lane chunks in
//! increasing `k`, starting from `0.0`; the lanes are summed by the crate's halving tree (lane
//! `j` plus lane `j + lanes / 2`, repeatedly); the tail elements are added last, in increasing
//! `k`. The reference twins sum in index order, so the results may differ in the last bits.

use crate::lanes::{hsum, load_padded, Lane, LANES};

/// The dot product over the common length, in the fixed lane order of this module.
///
/// # Precision
///
/// With `n` the common length and `u = 2^-24`, as long as no partial sum overflows:
/// `|dot - reference::dot| <= 2 (n + 1) u sum_k |a[k] b[k]|`. NaN or infinite products give a
/// non-finite result in both.
///
/// # Cost
///
/// `n` multiplications and additions, one horizontal sum.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, _) = a.as_chunks::<LANES>();
    let (b_chunks, _) = b.as_chunks::<LANES>();
    let acc = a_chunks
        .iter()
        .zip(b_chunks)
        .fold(Lane::ZERO, |s, (p, q)| s + Lane::new(*p) * Lane::new(*q));

    // The tail of the shorter slice decides how many leftovers pair up.
    let full = a_chunks.len().min(b_chunks.len()) * LANES;
    let rest_a = a.get(full..).unwrap_or(&[]);
    let rest_b = b.get(full..).unwrap_or(&[]);
    rest_a
        .iter()
        .zip(rest_b)
        .fold(hsum(acc), |s, (p, q)| s + p * q)
}

/// The sum of the elements, in the fixed lane order of this module.
///
/// # Precision
///
/// With `n` the length and `u = 2^-24`, as long as no partial sum overflows:
/// `|sum - reference::sum| <= 2 (n + 1) u sum_k |a[k]|`.
///
/// # Cost
///
/// `n` additions, one horizontal sum.
pub fn sum(a: &[f32]) -> f32 {
    let (chunks, tail) = a.as_chunks::<LANES>();
    let acc = chunks.iter().fold(Lane::ZERO, |s, c| s + Lane::new(*c));
    tail.iter().fold(hsum(acc), |s, t| s + t)
}

/// `true` if no element is NaN or infinite; the same answer as
/// [`crate::reference::all_finite`].
///
/// # Cost
///
/// One multiplication and one bitwise or per element; reads the whole slice (no early exit).
/// Four independent accumulators keep the loads, not a chain of ors, the limit.
pub fn all_finite(a: &[f32]) -> bool {
    // x * 0 is ±0 for finite x and NaN otherwise; NaN bits survive the or.
    let flag = |s: Lane, c: &[f32; LANES]| s | (Lane::new(*c) * Lane::ZERO);
    let (chunks, tail) = a.as_chunks::<LANES>();
    let (quads, rest) = chunks.as_chunks::<4>();
    let mut bad = quads.iter().fold([Lane::ZERO; 4], |s, q| {
        [
            flag(s[0], &q[0]),
            flag(s[1], &q[1]),
            flag(s[2], &q[2]),
            flag(s[3], &q[3]),
        ]
    });

    // Leftover chunks, then the tail in a zero-padded lane.
    for (s, c) in bad.iter_mut().zip(rest) {
        *s = flag(*s, c);
    }
    let [b0, b1, b2, b3] = bad;
    let t = load_padded(tail);
    !(b0 | b1 | b2 | b3 | (t * Lane::ZERO)).is_nan().any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::{vec, vec::Vec};

    const LENGTHS: [usize; 11] = [0, 1, 2, 7, 8, 9, 15, 16, 17, 33, 1000];
    const EDGES: [f32; 8] = [
        0.0,
        -0.0,
        1e-39,
        -1e-39,
        1e30,
        -1e30,
        1.0,
        f32::MIN_POSITIVE,
    ];

    fn random(rng: &mut Xoshiro256PlusPlus, len: usize, edges: bool) -> Vec<f32> {
        (0..len)
            .map(|_| {
                let u = crate::scalar::unit_f32(rng.next_u32());
                if edges && u < 0.2 {
                    EDGES[(rng.next_u32() % EDGES.len() as u32) as usize]
                } else {
                    8.0 * crate::scalar::unit_f32(rng.next_u32()) - 4.0
                }
            })
            .collect()
    }

    /// The stated bound: `2 (n + 1) u sum |terms|`, `u = 2^-24`.
    fn assert_within(
        what: &str,
        input: &dyn core::fmt::Debug,
        fast: f32,
        slow: f32,
        mag: f32,
        n: usize,
    ) {
        let bound = 2.0 * (n as f32 + 1.0) * (f32::EPSILON / 2.0) * mag;
        let err = (fast - slow).abs();
        let ok = if mag.is_finite() {
            err <= bound
        } else {
            !fast.is_finite() || !slow.is_finite()
        };
        assert!(ok, "{what}: simd {fast:e} vs reference {slow:e}: distance {err:e} > {bound:e}\ninput: {input:?}");
    }

    #[test]
    fn dot_and_sum_within_bound() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
        for len in LENGTHS {
            for round in 0..200 {
                let edges = round % 2 == 1;
                let a = random(&mut rng, len, edges);
                let b = random(&mut rng, len + round % 3, edges);
                let mag: f32 = a.iter().zip(&b).map(|(p, q)| (p * q).abs()).sum();
                assert_within(
                    "dot",
                    &(&a, &b),
                    dot(&a, &b),
                    reference::dot(&a, &b),
                    mag,
                    len,
                );
                assert_within(
                    "dot (swapped)",
                    &(&b, &a),
                    dot(&b, &a),
                    reference::dot(&a, &b),
                    mag,
                    len,
                );
                let mag: f32 = a.iter().map(|v| v.abs()).sum();
                assert_within("sum", &a, sum(&a), reference::sum(&a), mag, len);
            }
        }
    }

    /// The bound is tight enough to catch a dropped term.
    #[test]
    fn short_and_exact_cases() {
        assert_eq!(dot(&[], &[1.0]), 0.0);
        assert_eq!(sum(&[]), 0.0);
        let ones = vec![1.0; 33];
        assert_eq!(sum(&ones), 33.0);
        assert_eq!(dot(&ones, &ones[..17]), 17.0);
        assert_eq!(dot(&[2.0; 9], &[0.5; 9]), 9.0);
        assert!(sum(&[1.0, f32::NAN, 1.0]).is_nan());
        assert!(dot(&[f32::INFINITY; 9], &[0.0; 9]).is_nan());
        assert_eq!(sum(&[f32::INFINITY, 1.0, 2.0]), f32::INFINITY);
    }

    #[test]
    fn all_finite_matches_reference() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(22);
        for len in LENGTHS {
            let base = random(&mut rng, len, true);
            assert!(
                all_finite(&base) && reference::all_finite(&base),
                "{base:?}"
            );
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for pos in 0..len {
                    let mut a = base.clone();
                    a[pos] = bad;
                    assert!(!all_finite(&a), "all_finite missed {bad} at {pos} of {len}");
                    assert_eq!(all_finite(&a), reference::all_finite(&a));
                }
            }
        }
        assert!(all_finite(&[f32::MAX, f32::MIN, 1e-45, -0.0]));
    }
}
