//! Dense layer products: logits, the transposed product, and gradient accumulation.
//!
//! Weights are input-major, `w: [[f32; OUT]; IN]`. The logits and the gradient accumulation
//! are sums of selected rows scaled by a coefficient (`a += x[i] * w[i]`, `gw[i] += x[i] *
//! delta`), vectorised over `OUT`: every output element receives exactly the additions of the
//! reference, in the same order, each rounded separately (no fused multiply-add), so these
//! kernels are **bit-identical** to their twins in [`crate::reference`]. Zero coefficients are
//! skipped; when every selected coefficient of a block is `1.0` the rows are added without
//! multiplying (the same bits, since `1.0 * w == w`).
//!
//! Blocking: the rows with a nonzero coefficient are first compacted into a short index list
//! (at most [`BLOCK`] of them), then each tile of [`TILE`] lanes of the output is held in
//! registers while the selected rows are added to it. The batch kernels walk a block of
//! weight rows (or of delta rows) over the whole batch, so the block stays in the L1 cache.
//!
//! The transposed product is a reduction over `OUT` carried in lanes (see [`backprop_input`]
//! for its order and precision); the batch version uses the same sequence per row, so it is
//! bit-identical to calling [`backprop_input`] on each row.

use crate::lanes::{hsum, Lane, LANES};

/// Rows of weights (or of deltas) walked as one cache block; also the capacity of a
/// [`Selection`].
const BLOCK: usize = 32;
/// Output lanes held in registers while a block of rows is added.
const TILE: usize = 4;
/// Weight rows reduced together in the transposed product (independent dependency chains).
const DOTS: usize = 4;

const _: () = assert!(BLOCK <= u8::MAX as usize + 1);

/// Logits of a dense layer for one example: `a[o] = b[o] + sum_i x[i] * w[i][o]`.
///
/// The sum runs over `i` in increasing order and skips inputs below the normal range (`|x[i]| < f32::MIN_POSITIVE`: zeros and subnormals); bit-identical to
/// [`crate::reference::logits`].
///
/// # Cost
///
/// `nnz(x) * OUT` additions (and as many multiplications unless every nonzero `x[i]` is `1.0`),
/// reading `nnz(x)` rows of `w`.
pub fn logits<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    b: &[f32; OUT],
    x: &[f32; IN],
    a: &mut [f32; OUT],
) {
    logits_batch(w, b, core::slice::from_ref(x), core::slice::from_mut(a));
}

/// Logits for a batch: [`logits`] applied to each row pair of `x` and `a` (the common number
/// of rows), bit-identical to that and to [`crate::reference::logits_batch`].
///
/// # Cost
///
/// `nnz(x) * OUT` additions (plus as many multiplications for non-binary rows); `w` is read
/// once per batch from memory, in blocks of 32 rows that stay in cache across the rows.
pub fn logits_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    a: &mut [[f32; OUT]],
) {
    let rows = x.len().min(a.len());
    let (Some(x), Some(a)) = (x.get(..rows), a.get_mut(..rows)) else {
        return;
    };
    for ar in a.iter_mut() {
        *ar = *b;
    }

    // Block of weight rows outside, batch rows inside: the block stays in cache.
    for (kb, wb) in w.chunks(BLOCK).enumerate() {
        for (xr, ar) in x.iter().zip(a.iter_mut()) {
            if let Some(xb) = xr.chunks(BLOCK).nth(kb) {
                let sel = Selection::new(xb.iter().copied());
                add_selected(ar, wb, &sel);
            }
        }
    }
}

/// The transposed product: `dx[i] = sum_o w[i][o] * delta[o]`.
///
/// Order: lane `j` accumulates `w[i][o] * delta[o]` for the `o = j (mod lanes)` of the whole
/// lane chunks, in increasing `o`, starting from `0.0`; the lanes are then summed by the fixed
/// halving tree of the crate (lane `j` plus lane `j + lanes / 2`, repeatedly), and the tail
/// products (`OUT` modulo the lane width) are added last in increasing `o`. This order is the
/// same on every target and in [`backprop_input_batch`].
///
/// # Precision
///
/// Not bit-identical to [`crate::reference::backprop_input`] (which sums in index order): as
/// long as no partial sum overflows, `|dx[i] - ref[i]| <= 2 (OUT + 1) u sum_o |w[i][o]
/// delta[o]|` with `u = 2^-24` (each of the two orders is a summation of depth at most
/// `OUT + 1`). Non-finite inputs give a non-finite result in both.
///
/// # Cost
///
/// `IN * OUT` multiplications and additions plus a horizontal sum per input.
pub fn backprop_input<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    delta: &[f32; OUT],
    dx: &mut [f32; IN],
) {
    backprop_input_batch(w, core::slice::from_ref(delta), core::slice::from_mut(dx));
}

/// The transposed product for a batch: [`backprop_input`] applied to each row pair, with the
/// same order of operations, so bit-identical to it.
///
/// # Precision
///
/// As [`backprop_input`], against [`crate::reference::backprop_input_batch`].
///
/// # Cost
///
/// `B * IN * OUT` multiplications and additions; `w` is read once per batch from memory, in
/// blocks of 32 rows that stay in cache across the rows.
pub fn backprop_input_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    delta: &[[f32; OUT]],
    dx: &mut [[f32; IN]],
) {
    for (kb, wb) in w.chunks(BLOCK).enumerate() {
        for (dr, xr) in delta.iter().zip(dx.iter_mut()) {
            if let Some(xb) = xr.chunks_mut(BLOCK).nth(kb) {
                dots_block(wb, dr, xb);
            }
        }
    }
}

/// Accumulates parameter gradients: `gw[i][o] += x[i] * delta[o]` and `gb[o] += delta[o]`.
///
/// Rows of `gw` whose `x[i]` is zero are not touched; bit-identical to
/// [`crate::reference::accumulate`].
///
/// # Cost
///
/// `(nnz(x) + 1) * OUT` additions and `nnz(x) * OUT` multiplications (none for binary `x`).
pub fn accumulate<const IN: usize, const OUT: usize>(
    x: &[f32; IN],
    delta: &[f32; OUT],
    gw: &mut [[f32; OUT]; IN],
    gb: &mut [f32; OUT],
) {
    accumulate_batch(
        core::slice::from_ref(x),
        core::slice::from_ref(delta),
        gw,
        gb,
    );
}

/// Accumulates a batch: [`accumulate`] applied to each row pair of `x` and `delta`, in order,
/// bit-identical to that and to [`crate::reference::accumulate_batch`].
///
/// Each element of `gw` and `gb` receives the rows' contributions in row order; the rows are
/// walked in groups of 32 whose deltas stay in cache while `gw` is swept.
///
/// # Cost
///
/// `(nnz(x) + B) * OUT` additions and up to `nnz(x) * OUT` multiplications; `gw` is read and
/// written once per group of 32 rows.
pub fn accumulate_batch<const IN: usize, const OUT: usize>(
    x: &[[f32; IN]],
    delta: &[[f32; OUT]],
    gw: &mut [[f32; OUT]; IN],
    gb: &mut [f32; OUT],
) {
    let rows = x.len().min(delta.len());
    let (Some(x), Some(delta)) = (x.get(..rows), delta.get(..rows)) else {
        return;
    };

    // Bias: every delta row, in order, with coefficient 1.
    for (xg, dg) in x.chunks(BLOCK).zip(delta.chunks(BLOCK)) {
        add_selected(gb, dg, &Selection::new(xg.iter().map(|_| 1.0)));
    }

    // Weights: a group of rows outside, so its deltas stay in cache while gw is swept.
    for (xg, dg) in x.chunks(BLOCK).zip(delta.chunks(BLOCK)) {
        for (i, gwi) in gw.iter_mut().enumerate() {
            let sel = Selection::new(xg.iter().map(|xr| xr.get(i).copied().unwrap_or(0.0)));
            add_selected(gwi, dg, &sel);
        }
    }
}

/// The rows of a block with a nonzero coefficient, in increasing order, and their coefficients.
struct Selection {
    idx: [u8; BLOCK],
    coef: [f32; BLOCK],
    len: usize,
    /// Every selected coefficient is exactly `1.0`.
    ones: bool,
}

impl Selection {
    /// Compacts the nonzero entries of `coefs` (at most [`BLOCK`] are read), without branches.
    #[inline(always)]
    fn new(coefs: impl Iterator<Item = f32>) -> Self {
        let mut s = Selection {
            idx: [0; BLOCK],
            coef: [0.0; BLOCK],
            len: 0,
            ones: true,
        };
        for (k, c) in coefs.take(BLOCK).enumerate() {
            if let (Some(i), Some(v)) = (s.idx.get_mut(s.len), s.coef.get_mut(s.len)) {
                *i = k as u8;
                *v = c;
            }
            let skipped = c.abs() < f32::MIN_POSITIVE;
            s.len += usize::from(!skipped);
            s.ones &= skipped || c == 1.0;
        }
        s
    }

    /// `(row, coefficient)` of every selected row, in increasing row order.
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.idx
            .iter()
            .zip(&self.coef)
            .take(self.len)
            .map(|(i, c)| (usize::from(*i), *c))
    }
}

/// `acc += sum over the selection of coef * rows[k]`, rows in order, tile by tile.
#[inline(always)]
fn add_selected<const N: usize>(acc: &mut [f32; N], rows: &[[f32; N]], sel: &Selection) {
    if sel.len == 0 {
        return;
    }
    let (chunks, tail) = acc.as_chunks_mut::<LANES>();
    let (tiles, rest) = chunks.as_chunks_mut::<TILE>();
    let rest_start = tiles.len() * TILE;

    // Whole tiles in registers, then single lanes, then the scalar tail elements.
    for (t, tile) in tiles.iter_mut().enumerate() {
        add_tile(tile, t * TILE, rows, sel);
    }
    for (j, chunk) in rest.iter_mut().enumerate() {
        add_tile(core::array::from_mut(chunk), rest_start + j, rows, sel);
    }
    let tail_start = N - tail.len();
    for (o, av) in tail.iter_mut().enumerate() {
        for (k, c) in sel.iter() {
            if let Some(wv) = rows.get(k).and_then(|r| r.get(tail_start + o)) {
                *av += c * *wv;
            }
        }
    }
}

/// Adds the selected rows' lanes `first..first + T` to a tile held in registers.
#[inline(always)]
fn add_tile<const T: usize, const N: usize>(
    tile: &mut [[f32; LANES]; T],
    first: usize,
    rows: &[[f32; N]],
    sel: &Selection,
) {
    let mut acc: [Lane; T] = tile.map(Lane::new);
    let lanes_of = |k: usize| -> Option<&[[f32; LANES]; T]> {
        let row = rows.get(k)?.as_chunks::<LANES>().0;
        row.get(first..first + T)?.try_into().ok()
    };

    if sel.ones {
        for (k, _) in sel.iter() {
            if let Some(r) = lanes_of(k) {
                for (a, v) in acc.iter_mut().zip(r) {
                    *a += Lane::new(*v);
                }
            }
        }
    } else {
        for (k, c) in sel.iter() {
            if let Some(r) = lanes_of(k) {
                let cv = Lane::splat(c);
                for (a, v) in acc.iter_mut().zip(r) {
                    *a += cv * Lane::new(*v);
                }
            }
        }
    }

    for (t, a) in tile.iter_mut().zip(acc) {
        *t = a.to_array();
    }
}

/// `dx[i] = dot(w[i], delta)` for a block of weight rows, [`DOTS`] rows at a time.
#[inline(always)]
fn dots_block<const N: usize>(w: &[[f32; N]], delta: &[f32; N], dx: &mut [f32]) {
    let groups = w.chunks_exact(DOTS).zip(dx.chunks_exact_mut(DOTS));
    for (wg, dg) in groups {
        if let (Ok(wg), Ok(dg)) = (
            <&[[f32; N]; DOTS]>::try_from(wg),
            <&mut [f32; DOTS]>::try_from(dg),
        ) {
            *dg = dot_rows(wg, delta);
        }
    }
    let done = w.len() / DOTS * DOTS;
    let (Some(wr), Some(xr)) = (w.get(done..), dx.get_mut(done..)) else {
        return;
    };
    for (wi, xi) in wr.iter().zip(xr) {
        let [d] = dot_rows(core::array::from_ref(wi), delta);
        *xi = d;
    }
}

/// The dots of `R` rows with the same vector, each in the order stated at [`backprop_input`].
#[inline(always)]
fn dot_rows<const R: usize, const N: usize>(w: &[[f32; N]; R], delta: &[f32; N]) -> [f32; R] {
    let (d_chunks, d_tail) = delta.as_chunks::<LANES>();
    let mut acc = [Lane::ZERO; R];
    for (c, dc) in d_chunks.iter().enumerate() {
        let dv = Lane::new(*dc);
        for (a, wi) in acc.iter_mut().zip(w) {
            if let Some(wc) = wi.as_chunks::<LANES>().0.get(c) {
                *a += Lane::new(*wc) * dv;
            }
        }
    }

    let mut out = acc.map(hsum);
    for (s, wi) in out.iter_mut().zip(w) {
        for (p, q) in wi.as_chunks::<LANES>().1.iter().zip(d_tail) {
            *s += p * q;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::{boxed::Box, format, string::String, vec, vec::Vec};

    const EDGES: [f32; 10] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-39,
        -1e-39,
        1e30,
        f32::INFINITY,
        f32::NAN,
        0.5,
    ];

    /// How the entries of a random input are drawn.
    #[derive(Clone, Copy, Debug)]
    enum Kind {
        /// Samples: each entry 0 or 1.
        Binary,
        /// Real values in [-2, 2], a quarter of them zero.
        Real,
        /// Mostly real values, one entry in eight an edge value.
        Edge,
    }

    fn draw(rng: &mut Xoshiro256PlusPlus, kind: Kind) -> f32 {
        let u = crate::scalar::unit_f32(rng.next_u32());
        match kind {
            Kind::Binary => f32::from(u8::from(u < 0.5)),
            Kind::Real if u < 0.25 => 0.0,
            Kind::Real => 4.0 * crate::scalar::unit_f32(rng.next_u32()) - 2.0,
            Kind::Edge if u < 0.125 => EDGES[(rng.next_u32() % EDGES.len() as u32) as usize],
            Kind::Edge => 4.0 * crate::scalar::unit_f32(rng.next_u32()) - 2.0,
        }
    }

    fn array<const N: usize>(rng: &mut Xoshiro256PlusPlus, kind: Kind) -> [f32; N] {
        core::array::from_fn(|_| draw(rng, kind))
    }

    fn matrix<const IN: usize, const OUT: usize>(
        rng: &mut Xoshiro256PlusPlus,
        kind: Kind,
    ) -> Box<[[f32; OUT]; IN]> {
        let mut w = Box::new([[0.0; OUT]; IN]);
        for row in w.iter_mut() {
            *row = array(rng, kind);
        }
        w
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Asserts bit-identity, naming the first differing element.
    fn assert_same(what: &str, input: &dyn Fn() -> String, fast: &[f32], slow: &[f32]) {
        assert_eq!(fast.len(), slow.len());
        for (k, (f, s)) in fast.iter().zip(slow).enumerate() {
            assert!(
                same(*f, *s),
                "{what}[{k}]: simd {f:e} vs reference {s:e} (bits {:#010x} vs {:#010x}, {} apart)\n\
                 input: {}",
                f.to_bits(),
                s.to_bits(),
                (f - s).abs(),
                input()
            );
        }
    }

    /// Asserts the stated bound of the transposed product for one row.
    fn assert_dot_bound(what: &str, w: &[f32], d: &[f32], fast: f32, slow: f32) {
        let mag: f32 = w.iter().zip(d).map(|(p, q)| (p * q).abs()).sum();
        let bound = 2.0 * (w.len() as f32 + 1.0) * f32::EPSILON / 2.0 * mag;
        let ok = if slow.is_finite() && bound.is_finite() {
            (fast - slow).abs() <= bound
        } else {
            !fast.is_finite() || !mag.is_finite()
        };
        assert!(
            ok,
            "{what}: simd {fast:e} vs reference {slow:e}, distance {:e} > bound {bound:e}\n\
             w: {w:?}\ndelta: {d:?}",
            (fast - slow).abs()
        );
    }

    fn check_shape<const IN: usize, const OUT: usize>(seed: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for kind in [Kind::Binary, Kind::Real, Kind::Edge] {
            let w = matrix::<IN, OUT>(
                &mut rng,
                if matches!(kind, Kind::Edge) {
                    kind
                } else {
                    Kind::Real
                },
            );
            let b: [f32; OUT] = array(&mut rng, Kind::Real);
            for batch in [0, 1, 3, 33, 70] {
                let x: Vec<[f32; IN]> = (0..batch).map(|_| array(&mut rng, kind)).collect();
                let delta: Vec<[f32; OUT]> = (0..batch)
                    .map(|_| {
                        array(
                            &mut rng,
                            if matches!(kind, Kind::Edge) {
                                kind
                            } else {
                                Kind::Real
                            },
                        )
                    })
                    .collect();
                let tag = format!("IN={IN} OUT={OUT} {kind:?} batch={batch}");
                check_logits(&tag, &w, &b, &x);
                check_accumulate(&tag, &x, &delta, &mut rng);
                check_backprop(&tag, &w, &delta);
            }
        }
    }

    fn check_logits<const IN: usize, const OUT: usize>(
        tag: &str,
        w: &[[f32; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
    ) {
        let mut fast = vec![[7.0; OUT]; x.len()];
        let mut slow = vec![[7.0; OUT]; x.len()];
        logits_batch(w, b, x, &mut fast);
        reference::logits_batch(w, b, x, &mut slow);
        for (r, (xr, (f, s))) in x.iter().zip(fast.iter().zip(&slow)).enumerate() {
            let input = || format!("{tag} row {r}: x = {xr:?}, b = {b:?}");
            assert_same("logits_batch", &input, f, s);
            let mut one = [7.0; OUT];
            logits(w, b, xr, &mut one);
            assert_same("logits", &input, &one, s);
        }
    }

    fn check_accumulate<const IN: usize, const OUT: usize>(
        tag: &str,
        x: &[[f32; IN]],
        delta: &[[f32; OUT]],
        rng: &mut Xoshiro256PlusPlus,
    ) {
        let gw0 = matrix::<IN, OUT>(rng, Kind::Real);
        let gb0: [f32; OUT] = array(rng, Kind::Real);
        let (mut gw_fast, mut gb_fast) = (gw0.clone(), gb0);
        let (mut gw_slow, mut gb_slow) = (gw0.clone(), gb0);
        accumulate_batch(x, delta, &mut gw_fast, &mut gb_fast);
        reference::accumulate_batch(x, delta, &mut gw_slow, &mut gb_slow);
        let input = || format!("{tag}: x = {x:?}, delta = {delta:?}");
        assert_same("accumulate_batch gb", &input, &gb_fast, &gb_slow);
        assert_same(
            "accumulate_batch gw",
            &input,
            gw_fast.as_flattened(),
            gw_slow.as_flattened(),
        );

        // Row by row through the single-example kernel.
        let (mut gw_one, mut gb_one) = (gw0, gb0);
        for (xr, dr) in x.iter().zip(delta) {
            accumulate(xr, dr, &mut gw_one, &mut gb_one);
        }
        assert_same("accumulate gb", &input, &gb_one, &gb_slow);
        assert_same(
            "accumulate gw",
            &input,
            gw_one.as_flattened(),
            gw_slow.as_flattened(),
        );
    }

    fn check_backprop<const IN: usize, const OUT: usize>(
        tag: &str,
        w: &[[f32; OUT]; IN],
        delta: &[[f32; OUT]],
    ) {
        let mut fast = vec![[7.0; IN]; delta.len()];
        let mut slow = vec![[7.0; IN]; delta.len()];
        backprop_input_batch(w, delta, &mut fast);
        reference::backprop_input_batch(w, delta, &mut slow);
        for (r, (dr, (f, s))) in delta.iter().zip(fast.iter().zip(&slow)).enumerate() {
            let mut one = [7.0; IN];
            backprop_input(w, dr, &mut one);
            let input = || format!("{tag} row {r}: delta = {dr:?}");
            assert_same("backprop_input_batch vs backprop_input", &input, f, &one);
            for (i, ((wi, fi), si)) in w.iter().zip(f).zip(s).enumerate() {
                assert_dot_bound(
                    &format!("{tag} row {r} backprop_input[{i}]"),
                    wi,
                    dr,
                    *fi,
                    *si,
                );
            }
        }
    }

    macro_rules! shapes {
        ($($name:ident: $in:literal x $out:literal,)*) => {
            $(
                #[test]
                fn $name() {
                    check_shape::<$in, $out>($in * 1000 + $out);
                }
            )*
        };
    }

    shapes! {
        shape_1x1: 1 x 1, shape_1x7: 1 x 7, shape_1x8: 1 x 8, shape_1x9: 1 x 9, shape_1x17: 1 x 17,
        shape_7x1: 7 x 1, shape_7x7: 7 x 7, shape_7x8: 7 x 8, shape_7x9: 7 x 9, shape_7x17: 7 x 17,
        shape_8x1: 8 x 1, shape_8x7: 8 x 7, shape_8x8: 8 x 8, shape_8x9: 8 x 9, shape_8x17: 8 x 17,
        shape_9x1: 9 x 1, shape_9x7: 9 x 7, shape_9x8: 9 x 8, shape_9x9: 9 x 9, shape_9x17: 9 x 17,
        shape_17x1: 17 x 1, shape_17x7: 17 x 7, shape_17x8: 17 x 8, shape_17x9: 17 x 9,
        shape_17x17: 17 x 17, shape_33x40: 33 x 40, shape_65x33: 65 x 33, shape_70x57: 70 x 57,
    }

    #[test]
    fn empty_shapes() {
        check_shape::<0, 5>(1);
        check_shape::<5, 0>(2);
    }

    #[test]
    fn production_shapes() {
        check_shape::<392, 200>(3);
        check_shape::<200, 392>(4);
    }

    /// A signed zero survives a skipped input: `-0.0 + 0 * w` would give `+0.0`.
    #[test]
    fn zero_inputs_leave_negative_zero_bias() {
        let w = [[f32::INFINITY, 1.0, -0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]; 3];
        let b = [-0.0; 9];
        let mut a = [1.0; 9];
        logits(&w, &b, &[0.0, -0.0, 0.0], &mut a);
        assert!(
            a.iter().all(|v| v.to_bits() == (-0.0f32).to_bits()),
            "{a:?}"
        );
    }

    /// The row order of the batch accumulation matters in f32; a reordering is detected.
    #[test]
    fn accumulation_order_is_observable() {
        let x = [[1.0], [1.0], [1.0]];
        let delta = [[1e8; 9], [1.0; 9], [-1e8; 9]];
        let (mut gw, mut gb) = ([[0.0; 9]], [0.0; 9]);
        accumulate_batch(&x, &delta, &mut gw, &mut gb);
        // (1e8 + 1) rounds to 1e8, then cancels: in order the answer is exactly 0.
        assert_eq!(gw, [[0.0; 9]]);
        assert_eq!(gb, [0.0; 9]);
    }
}
