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
//! Blocking: the rows with a nonzero coefficient in a block of [`BLOCK`] form a bit mask (a
//! full mask is walked as a plain loop). Each output row is cut into tiles of balanced widths,
//! at most [`Tiling::single`] lanes (25 lanes become 7 + 6 + 6 + 6 rather than 8 + 8 + 8 + 1),
//! held in registers while the selected rows are added to them in increasing order, so every
//! tile carries enough independent additions to hide their latency. Two consecutive output rows
//! whose masks are equal (batch rows of a dense real-valued input, as in the mean-field pass;
//! rows of `gw` whose inputs are nonzero in the same rows) are tiled together, at most
//! [`Tiling::pair`] lanes each: each weight (or delta) vector is loaded once and added to both,
//! each row still in its own order. The batch kernels walk a block of weight rows (or of delta
//! rows) over the whole batch, so the block stays in the L1 cache.
//!
//! The transposed product is a reduction over `OUT` carried in lanes (see [`backprop_input`]
//! for its order and precision); the batch version reduces [`DOTS`] weight rows against two
//! delta rows at once (each weight and delta vector loaded once for all eight sums), with the
//! same sequence per row, so it is bit-identical to calling [`backprop_input`] on each row.
//!
//! The tile widths depend on how many vector registers the target has ([`TILING`]); every
//! tiling adds in the same order, so they change the speed, never the bits (the tests run
//! several tilings against the twins on every target).

use crate::lanes::{hsum, Lane, LANES, LANE_REGISTERS};

/// Rows of weights (or of deltas) walked as one cache block; also the width of a
/// [`Selection`]'s mask.
const BLOCK: usize = 32;
/// Weight rows reduced together in the transposed product.
const DOTS: usize = 4;
/// Rows of `gw` whose selections are computed together in the gradient accumulation.
const COLUMNS: usize = 32;
/// The widest tile [`add_tiles`] dispatches.
const MAX_TILE: usize = 8;

const _: () = assert!(BLOCK <= u32::BITS as usize && BLOCK.is_multiple_of(LANES));

/// How the products are tiled. Every tiling gives the same bits; they differ in speed only.
#[derive(Clone, Copy, Debug)]
struct Tiling {
    /// Widest tile, in lanes, of an output row tiled alone (1 to [`MAX_TILE`]).
    single: usize,
    /// Widest tile, in lanes, of each of two output rows tiled together; `0`: never paired.
    pair: usize,
    /// Whether the transposed product reduces two delta rows at once.
    delta_pairs: bool,
}

/// The tiling of this target: pairs of rows only where their accumulators (two tiles, 8 to 12
/// lane vectors) stay in registers beside the weight and coefficient vectors; with fewer
/// registers they would spill, and rows are tiled one at a time.
const TILING: Tiling = Tiling {
    single: MAX_TILE,
    pair: if LANE_REGISTERS >= 32 {
        6
    } else if LANE_REGISTERS >= 16 {
        4
    } else {
        0
    },
    delta_pairs: LANE_REGISTERS >= 16,
};

const _: () = assert!(TILING.single >= 1 && TILING.single <= MAX_TILE);

/// Logits of a dense layer for one example: `a[o] = b[o] + sum_i x[i] * w[i][o]`.
///
/// The sum runs over `i` in increasing order and skips inputs below the normal range
/// (`|x[i]| < f32::MIN_POSITIVE`: zeros and subnormals); bit-identical to
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
/// Consecutive rows whose nonzero inputs in a block are the same (dense real-valued rows) share
/// each weight load on targets with enough vector registers; see the module docs.
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
    logits_tiled(w, b, x, a, TILING);
}

/// [`logits_batch`] with a given tiling.
#[inline(always)]
fn logits_tiled<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    a: &mut [[f32; OUT]],
    tiling: Tiling,
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
        let targets = x.iter().zip(a.iter_mut()).filter_map(|(xr, ar)| {
            let xb = xr.chunks(BLOCK).nth(kb)?;
            Some((ar, Selection::of_block(xb)))
        });
        add_to_each(wb, targets, tiling);
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
/// Two delta rows at a time (on targets with enough vector registers) are reduced against
/// four weight rows at a time: eight independent sums, each in the order of [`backprop_input`].
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
    backprop_tiled(w, delta, dx, TILING);
}

/// [`backprop_input_batch`] with a given tiling.
#[inline(always)]
fn backprop_tiled<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    delta: &[[f32; OUT]],
    dx: &mut [[f32; IN]],
    tiling: Tiling,
) {
    for (kb, wb) in w.chunks(BLOCK).enumerate() {
        let mut rows = delta
            .iter()
            .zip(dx.iter_mut())
            .filter_map(|(dr, xr)| Some((dr, xr.chunks_mut(BLOCK).nth(kb)?)));

        // Pairs of delta rows (where the tiling has them), one row at a time otherwise.
        while let Some((da, xa)) = rows.next() {
            let second = if tiling.delta_pairs {
                rows.next()
            } else {
                None
            };
            match second {
                Some((db, xb)) => dots_block::<DOTS, 2, OUT>(wb, [da, db], [xa, xb]),
                None => dots_block::<DOTS, 1, OUT>(wb, [da], [xa]),
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
/// walked in groups of 32 whose deltas stay in cache while `gw` is swept. Consecutive rows of
/// `gw` whose inputs select the same rows of a group share each delta load (on targets with
/// enough vector registers).
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
    accumulate_tiled(x, delta, gw, gb, TILING);
}

/// [`accumulate_batch`] with a given tiling.
#[inline(always)]
fn accumulate_tiled<const IN: usize, const OUT: usize>(
    x: &[[f32; IN]],
    delta: &[[f32; OUT]],
    gw: &mut [[f32; OUT]; IN],
    gb: &mut [f32; OUT],
    tiling: Tiling,
) {
    let rows = x.len().min(delta.len());
    let (Some(x), Some(delta)) = (x.get(..rows), delta.get(..rows)) else {
        return;
    };

    // Bias: every delta row, in order, with coefficient 1.
    for dg in delta.chunks(BLOCK) {
        add_selected([gb], dg, [&Selection::all(dg.len())], tiling.single);
    }

    // Weights: a group of rows outside, so its deltas stay in cache while gw is swept.
    for (xg, dg) in x.chunks(BLOCK).zip(delta.chunks(BLOCK)) {
        for (c, gwc) in gw.chunks_mut(COLUMNS).enumerate() {
            let (masks, others) = column_masks(xg, c * COLUMNS);
            let targets = gwc.iter_mut().zip(masks.into_iter().zip(others));
            let targets = targets.enumerate().map(|(j, (gwi, (m, o)))| {
                (gwi, Selection::of_column(xg, c * COLUMNS + j, m, o == 0))
            });
            add_to_each(dg, targets, tiling);
        }
    }
}

/// For inputs `i0..i0 + COLUMNS`, the rows of a group (at most [`BLOCK`]) that select each
/// one (bit `r` for row `r`), and those among them whose coefficient is not `1.0`.
#[inline(always)]
fn column_masks<const IN: usize>(
    rows: &[[f32; IN]],
    i0: usize,
) -> ([u32; COLUMNS], [u32; COLUMNS]) {
    let (mut masks, mut others) = ([0; COLUMNS], [0; COLUMNS]);
    for (r, xr) in rows.iter().take(BLOCK).enumerate() {
        let xs = xr.get(i0..).unwrap_or_default();
        for ((m, o), c) in masks.iter_mut().zip(others.iter_mut()).zip(xs) {
            let skipped = c.abs() < f32::MIN_POSITIVE;
            *m |= u32::from(!skipped) << r;
            *o |= u32::from(!skipped && *c != 1.0) << r;
        }
    }
    (masks, others)
}

/// The rows of a block with a coefficient in the normal range or above (or NaN), as bits of a
/// mask, and the block's coefficients.
struct Selection {
    /// The coefficient of every selected row (the others may hold anything).
    coef: [f32; BLOCK],
    /// Bit `k` is set when row `k` is selected.
    mask: u32,
    /// Every selected coefficient is exactly `1.0`.
    ones: bool,
}

impl Selection {
    /// The selection of a block of contiguous coefficients (at most [`BLOCK`] are read).
    #[inline(always)]
    fn of_block(coefs: &[f32]) -> Self {
        let mut coef = [0.0; BLOCK];
        match coefs.first_chunk::<BLOCK>() {
            Some(full) => coef = *full,
            None => coef.iter_mut().zip(coefs).for_each(|(c, v)| *c = *v),
        }

        // A lane's worth of bits at a time; the zero padding is never selected.
        let (mut mask, mut other) = (0, 0);
        let lane_bits = u32::MAX >> (u32::BITS as usize - LANES);
        for (j, chunk) in coef.as_chunks::<LANES>().0.iter().enumerate() {
            let v = Lane::new(*chunk);
            let small = v.abs().simd_lt(Lane::splat(f32::MIN_POSITIVE)).to_bitmask();
            let one = v.simd_eq(Lane::ONE).to_bitmask();
            mask |= (!small & lane_bits) << (j * LANES);
            other |= (!small & !one & lane_bits) << (j * LANES);
        }
        Selection {
            coef,
            mask,
            ones: other == 0,
        }
    }

    /// The selection of column `i` of a group of rows, whose bits [`column_masks`] computed;
    /// the coefficients are gathered only when some of them are not `1.0`.
    #[inline(always)]
    fn of_column<const IN: usize>(rows: &[[f32; IN]], i: usize, mask: u32, ones: bool) -> Self {
        let mut coef = [1.0; BLOCK];
        if !ones {
            for (c, xr) in coef.iter_mut().zip(rows) {
                *c = xr.get(i).copied().unwrap_or(0.0);
            }
        }
        Selection { coef, mask, ones }
    }

    /// The first `len` rows (at most [`BLOCK`]), each with coefficient `1.0`.
    #[inline(always)]
    fn all(len: usize) -> Self {
        Selection {
            coef: [1.0; BLOCK],
            mask: u32::MAX
                .checked_shr(u32::BITS - len.min(BLOCK) as u32)
                .unwrap_or(0),
            ones: true,
        }
    }

    /// The coefficient of row `k` of the block.
    #[inline(always)]
    fn coef(&self, k: usize) -> f32 {
        self.coef.get(k).copied().unwrap_or(0.0)
    }
}

/// The set bits of `mask`, in increasing order: the selected rows.
#[inline(always)]
fn selected(mask: u32) -> impl Iterator<Item = usize> {
    let mut m = mask;
    core::iter::from_fn(move || {
        let k = m.trailing_zeros() as usize;
        m &= m.wrapping_sub(1);
        (k < BLOCK).then_some(k)
    })
}

/// Adds the selected `rows` to each target, pairing consecutive targets with equal masks
/// where the tiling has pairs.
#[inline(always)]
fn add_to_each<'a, const N: usize>(
    rows: &[[f32; N]],
    targets: impl Iterator<Item = (&'a mut [f32; N], Selection)>,
    tiling: Tiling,
) {
    let mut pending: Option<(&'a mut [f32; N], Selection)> = None;
    for (acc, sel) in targets {
        pending = match pending.take() {
            Some((first, fs)) if tiling.pair > 0 && fs.mask == sel.mask => {
                add_selected([first, acc], rows, [&fs, &sel], tiling.pair);
                None
            }
            Some((first, fs)) => {
                add_selected([first], rows, [&fs], tiling.single);
                Some((acc, sel))
            }
            None => Some((acc, sel)),
        };
    }
    if let Some((last, ls)) = pending {
        add_selected([last], rows, [&ls], tiling.single);
    }
}

/// `acc[q] += sum over the selection of coef_q * rows[k]`, rows in order, for `R` rows that
/// share one mask: whole tiles (at most `widest` lanes), then the scalar tail elements.
#[inline(always)]
fn add_selected<const R: usize, const N: usize>(
    mut acc: [&mut [f32; N]; R],
    rows: &[[f32; N]],
    sel: [&Selection; R],
    widest: usize,
) {
    let Some(mask) = sel.first().map(|s| s.mask) else {
        return;
    };
    if mask == 0 {
        return;
    }
    add_tiles(&mut acc, rows, sel, mask, widest);

    let tail_start = N / LANES * LANES;
    for (aq, sq) in acc.iter_mut().zip(sel) {
        for (o, av) in aq.iter_mut().enumerate().skip(tail_start) {
            for k in selected(mask) {
                if let Some(wv) = rows.get(k).and_then(|r| r.get(o)) {
                    *av += sq.coef(k) * *wv;
                }
            }
        }
    }
}

/// Cuts the whole lanes of the rows into tiles of balanced widths and adds each one.
#[inline(always)]
fn add_tiles<const R: usize, const N: usize>(
    acc: &mut [&mut [f32; N]; R],
    rows: &[[f32; N]],
    sel: [&Selection; R],
    mask: u32,
    widest: usize,
) {
    let lanes = N / LANES;
    let count = lanes.div_ceil(widest.clamp(1, MAX_TILE));
    let Some(narrow) = lanes.checked_div(count) else {
        return;
    };
    let wider = lanes % count;

    let mut first = 0;
    for t in 0..count {
        let width = narrow + usize::from(t < wider);
        match width {
            1 => add_tile::<R, 1, N>(acc, first, rows, sel, mask),
            2 => add_tile::<R, 2, N>(acc, first, rows, sel, mask),
            3 => add_tile::<R, 3, N>(acc, first, rows, sel, mask),
            4 => add_tile::<R, 4, N>(acc, first, rows, sel, mask),
            5 => add_tile::<R, 5, N>(acc, first, rows, sel, mask),
            6 => add_tile::<R, 6, N>(acc, first, rows, sel, mask),
            7 => add_tile::<R, 7, N>(acc, first, rows, sel, mask),
            _ => add_tile::<R, MAX_TILE, N>(acc, first, rows, sel, mask),
        }
        first += width;
    }
}

/// Adds the selected rows' lanes `first..first + T` to a tile of each of the `R` rows, held in
/// registers; each weight vector is loaded once for all of them.
#[inline(always)]
fn add_tile<const R: usize, const T: usize, const N: usize>(
    acc: &mut [&mut [f32; N]; R],
    first: usize,
    rows: &[[f32; N]],
    sel: [&Selection; R],
    mask: u32,
) {
    let mut tile = [[Lane::ZERO; T]; R];
    for (tq, aq) in tile.iter_mut().zip(acc.iter()) {
        let Some(a) = lanes::<T, N>(aq, first) else {
            return;
        };
        for (v, l) in tq.iter_mut().zip(a) {
            *v = Lane::new(*l);
        }
    }

    // Every row of the block (a dense input) in a plain loop, else the set bits of the mask.
    let len = rows.len().min(BLOCK);
    let pick = |k: usize| Some((k, lanes::<T, N>(rows.get(k)?, first)?));
    if mask == Selection::all(len).mask {
        add_rows(&mut tile, (0..len).filter_map(pick), sel);
    } else {
        add_rows(&mut tile, selected(mask).filter_map(pick), sel);
    }

    for (aq, tq) in acc.iter_mut().zip(tile) {
        let Some(dst) = aq.as_chunks_mut::<LANES>().0.get_mut(first..first + T) else {
            return;
        };
        for (d, v) in dst.iter_mut().zip(tq) {
            *d = v.to_array();
        }
    }
}

/// `tile[q] += coef_q(k) * lanes` for each picked row `(k, lanes)`, in the order given; without
/// multiplying when every coefficient is `1.0`.
#[inline(always)]
fn add_rows<'a, const R: usize, const T: usize>(
    tile: &mut [[Lane; T]; R],
    picked: impl Iterator<Item = (usize, &'a [[f32; LANES]; T])>,
    sel: [&Selection; R],
) {
    if sel.iter().all(|s| s.ones) {
        for (_, r) in picked {
            for tq in tile.iter_mut() {
                for (a, v) in tq.iter_mut().zip(r) {
                    *a += Lane::new(*v);
                }
            }
        }
    } else {
        for (k, r) in picked {
            for (tq, sq) in tile.iter_mut().zip(sel) {
                let cv = Lane::splat(sq.coef(k));
                for (a, v) in tq.iter_mut().zip(r) {
                    *a += cv * Lane::new(*v);
                }
            }
        }
    }
}

/// Lanes `first..first + T` of a row.
#[inline(always)]
fn lanes<const T: usize, const N: usize>(
    row: &[f32; N],
    first: usize,
) -> Option<&[[f32; LANES]; T]> {
    row.as_chunks::<LANES>()
        .0
        .get(first..first + T)?
        .try_into()
        .ok()
}

/// `dx[q][i] = dot(w[i], delta[q])` for a block of weight rows, `D` rows at a time.
#[inline(always)]
fn dots_block<const D: usize, const R: usize, const N: usize>(
    w: &[[f32; N]],
    delta: [&[f32; N]; R],
    mut dx: [&mut [f32]; R],
) {
    for (g, wg) in w.chunks(D).enumerate() {
        let start = g * D;
        if let Ok(wg) = <&[[f32; N]; D]>::try_from(wg) {
            store_dots(&mut dx, start, dot_rows(wg, delta));
        } else {
            for (j, wi) in wg.iter().enumerate() {
                store_dots(
                    &mut dx,
                    start + j,
                    dot_rows(core::array::from_ref(wi), delta),
                );
            }
        }
    }
}

/// Writes `dots[q]` to `dx[q][start..]`.
#[inline(always)]
fn store_dots<const D: usize, const R: usize>(
    dx: &mut [&mut [f32]; R],
    start: usize,
    dots: [[f32; D]; R],
) {
    for (xq, dq) in dx.iter_mut().zip(dots) {
        for (x, d) in xq.iter_mut().skip(start).zip(dq) {
            *x = d;
        }
    }
}

/// The dots of `D` weight rows with each of `R` vectors, each in the order stated at
/// [`backprop_input`]: `D * R` independent lane sums, one load per weight and delta vector.
#[inline(always)]
fn dot_rows<const D: usize, const R: usize, const N: usize>(
    w: &[[f32; N]; D],
    delta: [&[f32; N]; R],
) -> [[f32; D]; R] {
    let mut acc = [[Lane::ZERO; D]; R];
    for c in 0..N / LANES {
        let chunk = |v: &[f32; N]| v.as_chunks::<LANES>().0.get(c).map(|l| Lane::new(*l));
        let mut wv = [Lane::ZERO; D];
        for (v, wi) in wv.iter_mut().zip(w) {
            *v = chunk(wi).unwrap_or(Lane::ZERO);
        }
        for (aq, dq) in acc.iter_mut().zip(delta) {
            let dv = chunk(dq).unwrap_or(Lane::ZERO);
            for (a, wi) in aq.iter_mut().zip(wv) {
                *a += wi * dv;
            }
        }
    }

    let mut out = horizontal_sums(acc);
    for (oq, dq) in out.iter_mut().zip(delta) {
        for (s, wi) in oq.iter_mut().zip(w) {
            for (p, q) in wi
                .as_chunks::<LANES>()
                .1
                .iter()
                .zip(dq.as_chunks::<LANES>().1)
            {
                *s += p * q;
            }
        }
    }
    out
}

/// [`hsum`] of every vector of `acc`; when there are as many vectors as lanes, all at once.
#[inline(always)]
fn horizontal_sums<const D: usize, const R: usize>(acc: [[Lane; D]; R]) -> [[f32; D]; R] {
    let mut out = [[0.0; D]; R];
    let mut all = [Lane::ZERO; LANES];
    if D * R == LANES {
        for (v, a) in all.iter_mut().zip(acc.as_flattened()) {
            *v = *a;
        }
        let sums = hsums(all);
        for (s, t) in out.as_flattened_mut().iter_mut().zip(sums) {
            *s = t;
        }
    } else {
        for (s, a) in out.as_flattened_mut().iter_mut().zip(acc.as_flattened()) {
            *s = hsum(*a);
        }
    }
    out
}

/// `hsum(v[j])` for every `j`, with the same additions: after a transposition, lane `j` of
/// each step of the halving tree adds what [`hsum`] adds for `v[j]`.
#[inline(always)]
fn hsums(v: [Lane; LANES]) -> [f32; LANES] {
    let mut t = Lane::transpose(v);
    let mut width = LANES / 2;
    while width > 0 {
        if let Some((lo, hi)) = t.split_at_mut_checked(width) {
            for (a, b) in lo.iter_mut().zip(hi.iter()) {
                *a += *b;
            }
        }
        width /= 2;
    }
    t.first().map_or([0.0; LANES], |s| s.to_array())
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

    /// The tiling of this target, those of the others, and a few odd ones: all must give the
    /// same bits, so every target tests every tiling.
    const TILINGS: [Tiling; 6] = [
        TILING,
        Tiling {
            single: MAX_TILE,
            pair: 0,
            delta_pairs: false,
        },
        Tiling {
            single: MAX_TILE,
            pair: 6,
            delta_pairs: true,
        },
        Tiling {
            single: MAX_TILE,
            pair: 4,
            delta_pairs: true,
        },
        Tiling {
            single: 3,
            pair: 2,
            delta_pairs: true,
        },
        Tiling {
            single: 1,
            pair: MAX_TILE,
            delta_pairs: false,
        },
    ];

    /// How the entries of a random input are drawn.
    #[derive(Clone, Copy, Debug)]
    enum Kind {
        /// Samples: each entry 0 or 1.
        Binary,
        /// Real values in [-2, 2], a quarter of them zero.
        Real,
        /// Real values in [-2, 2], none zero (as the means of the mean-field pass).
        Dense,
        /// Mostly real values, one entry in eight an edge value.
        Edge,
    }

    fn draw(rng: &mut Xoshiro256PlusPlus, kind: Kind) -> f32 {
        let u = crate::scalar::unit_f32(rng.next_u32());
        match kind {
            Kind::Binary => f32::from(u8::from(u < 0.5)),
            Kind::Real if u < 0.25 => 0.0,
            Kind::Real | Kind::Dense => 4.0 * crate::scalar::unit_f32(rng.next_u32()) - 2.0,
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
        for kind in [Kind::Binary, Kind::Real, Kind::Dense, Kind::Edge] {
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
        for tiling in TILINGS {
            let mut tiled = vec![[7.0; OUT]; x.len()];
            logits_tiled(w, b, x, &mut tiled, tiling);
            for (r, (xr, (f, s))) in x.iter().zip(tiled.iter().zip(&slow)).enumerate() {
                let input = || format!("{tag} {tiling:?} row {r}: x = {xr:?}, b = {b:?}");
                assert_same("logits_tiled", &input, f, s);
            }
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
        let (mut gw_one, mut gb_one) = (gw0.clone(), gb0);
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

        for tiling in TILINGS {
            let (mut gw_tiled, mut gb_tiled) = (gw0.clone(), gb0);
            accumulate_tiled(x, delta, &mut gw_tiled, &mut gb_tiled, tiling);
            let input = || format!("{tag} {tiling:?}: x = {x:?}, delta = {delta:?}");
            assert_same("accumulate_tiled gb", &input, &gb_tiled, &gb_slow);
            assert_same(
                "accumulate_tiled gw",
                &input,
                gw_tiled.as_flattened(),
                gw_slow.as_flattened(),
            );
        }
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
        let tiled: Vec<Vec<[f32; IN]>> = TILINGS
            .iter()
            .map(|tiling| {
                let mut dx = vec![[7.0; IN]; delta.len()];
                backprop_tiled(w, delta, &mut dx, *tiling);
                dx
            })
            .collect();
        for (r, (dr, (f, s))) in delta.iter().zip(fast.iter().zip(&slow)).enumerate() {
            let mut one = [7.0; IN];
            backprop_input(w, dr, &mut one);
            let input = || format!("{tag} row {r}: delta = {dr:?}");
            assert_same("backprop_input_batch vs backprop_input", &input, f, &one);
            for (tiling, dx) in TILINGS.iter().zip(&tiled) {
                let input = || format!("{tag} {tiling:?} row {r}: delta = {dr:?}");
                assert_same("backprop_tiled vs backprop_input", &input, &dx[r], &one);
            }
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

    /// Inputs whose zeros come in two-by-two squares: rows `2m` and `2m + 1` have the same
    /// zeros, and so do columns `2j` and `2j + 1`, so consecutive batch rows (and consecutive
    /// rows of `gw`) select the same inputs and are tiled as pairs. A third of the rows and a
    /// third of the columns hold `1.0` wherever they are nonzero, the rest real values, so
    /// pairs mix the adding and the multiplying paths; half the row pairs have no zeros.
    fn paired<const IN: usize>(rng: &mut Xoshiro256PlusPlus, batch: usize) -> Vec<[f32; IN]> {
        let mut unit = || crate::scalar::unit_f32(rng.next_u32());
        let ones_row: Vec<bool> = (0..batch).map(|_| unit() < 1.0 / 3.0).collect();
        let ones_col: Vec<bool> = (0..IN).map(|_| unit() < 1.0 / 3.0).collect();
        let mut x = vec![[0.0; IN]; batch];
        for m in 0..batch.div_ceil(2) {
            let p_zero = if unit() < 0.5 { 0.0 } else { 0.25 };
            for j in 0..IN.div_ceil(2) {
                let zero = unit() < p_zero;
                for r in (2 * m..2 * m + 2).filter(|r| *r < batch) {
                    for i in (2 * j..2 * j + 2).filter(|i| *i < IN) {
                        x[r][i] = match (zero, ones_row[r] || ones_col[i]) {
                            (true, _) => 0.0,
                            (false, true) => 1.0,
                            (false, false) => 4.0 * unit() - 2.0,
                        };
                    }
                }
            }
        }
        x
    }

    fn check_paired<const IN: usize, const OUT: usize>(seed: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let w = matrix::<IN, OUT>(&mut rng, Kind::Real);
        let b: [f32; OUT] = array(&mut rng, Kind::Real);
        for batch in [1, 2, 5, 34, 67] {
            let x = paired::<IN>(&mut rng, batch);
            let delta: Vec<[f32; OUT]> = (0..batch).map(|_| array(&mut rng, Kind::Real)).collect();
            let tag = format!("paired IN={IN} OUT={OUT} batch={batch}");
            check_logits(&tag, &w, &b, &x);
            check_accumulate(&tag, &x, &delta, &mut rng);
            check_backprop(&tag, &w, &delta);
        }
    }

    /// The transposed horizontal sums add exactly what `hsum` adds, vector by vector.
    #[test]
    fn hsums_match_hsum() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
        for kind in [Kind::Real, Kind::Edge] {
            for _ in 0..1000 {
                let v: [Lane; LANES] = core::array::from_fn(|_| Lane::new(array(&mut rng, kind)));
                let each = v.map(hsum);
                let input = || format!("{kind:?}: {v:?}");
                assert_same("hsums", &input, &hsums(v), &each);
            }
        }
    }

    /// The paired inputs do reach the paths they are meant for: pairs of batch rows and of `gw`
    /// rows with equal masks, some all ones, some mixing ones with real values, some full.
    #[test]
    fn paired_inputs_select_alike() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let x = paired::<70>(&mut rng, 67);
        let blocks: Vec<Vec<Selection>> = x
            .iter()
            .map(|xr| xr.chunks(BLOCK).map(Selection::of_block).collect())
            .collect();
        let (mut equal, mut mixed, mut full, mut ones) = (0, 0, 0, 0);
        for pair in blocks.chunks_exact(2) {
            for (s, t) in pair[0].iter().zip(&pair[1]) {
                equal += usize::from(s.mask == t.mask);
                mixed += usize::from(s.mask == t.mask && s.ones != t.ones);
                full += usize::from(s.mask == Selection::all(BLOCK).mask);
                ones += usize::from(s.ones && t.ones && s.mask != 0);
            }
        }
        assert_eq!(equal, blocks.len() / 2 * blocks[0].len());
        assert!(mixed > 0 && full > 0 && ones > 0, "{mixed} {full} {ones}");

        let (masks, others) = column_masks(&x[..BLOCK], 0);
        let pairs = masks.chunks_exact(2).zip(others.chunks_exact(2));
        let mixed = pairs.filter(|(m, o)| m[0] == m[1] && (o[0] == 0) != (o[1] == 0));
        assert!(mixed.count() > 0);
    }

    macro_rules! paired_shapes {
        ($($name:ident: $in:literal x $out:literal,)*) => {
            $(
                #[test]
                fn $name() {
                    check_paired::<$in, $out>($in * 1000 + $out);
                }
            )*
        };
    }

    // Output widths of 1 to 17 lanes, with and without tails: every tile width of the
    // single-row and the paired tilings; inputs over two column groups and an odd count.
    paired_shapes! {
        paired_33x7: 33 x 7, paired_33x9: 33 x 9, paired_33x23: 33 x 23, paired_33x40: 33 x 40,
        paired_33x47: 33 x 47, paired_33x56: 33 x 56, paired_70x65: 70 x 65,
        paired_70x104: 70 x 104, paired_70x129: 70 x 129, paired_70x137: 70 x 137,
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
