//! Scalar twins of every kernel: same names, same signatures, plain loops.
//!
//! Each function here is the specification of the kernel of the same name at the crate root:
//! slow, obviously correct and always compiled. The tests of every fast kernel compare it with
//! its twin here. Where the fast kernel may differ in the last bits (a reduction carried in
//! lanes), the kernel's `# Precision` section says by how much.

use crate::scalar;

/// Logits of a dense layer for one example: `a[o] = b[o] + sum_i x[i] * w[i][o]`.
///
/// The weight matrix is stored input-major (`w[i]` is the row of weights leaving input `i`).
/// The sum runs over `i` in increasing order; inputs below the normal range (zeros and
/// subnormals, `|x| < f32::MIN_POSITIVE`) are skipped, so they cost nothing and a subnormal
/// input contributes nothing.
pub fn logits<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    b: &[f32; OUT],
    x: &[f32; IN],
    a: &mut [f32; OUT],
) {
    *a = *b;
    for (xi, wi) in x.iter().zip(w) {
        if xi.abs() < f32::MIN_POSITIVE {
            continue;
        }
        for (ao, wio) in a.iter_mut().zip(wi) {
            *ao += *xi * *wio;
        }
    }
}

/// Logits for a batch: [`logits`] applied to each row pair of `x` and `a`.
pub fn logits_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    a: &mut [[f32; OUT]],
) {
    for (xr, ar) in x.iter().zip(a.iter_mut()) {
        logits(w, b, xr, ar);
    }
}

/// The transposed product: `dx[i] = sum_o w[i][o] * delta[o]`, over `o` in increasing order.
pub fn backprop_input<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    delta: &[f32; OUT],
    dx: &mut [f32; IN],
) {
    for (dxi, wi) in dx.iter_mut().zip(w) {
        *dxi = wi
            .iter()
            .zip(delta)
            .map(|(p, q)| p * q)
            .fold(0.0, |s, t| s + t);
    }
}

/// The transposed product for a batch: [`backprop_input`] applied to each row pair.
pub fn backprop_input_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; OUT]; IN],
    delta: &[[f32; OUT]],
    dx: &mut [[f32; IN]],
) {
    for (dr, xr) in delta.iter().zip(dx.iter_mut()) {
        backprop_input(w, dr, xr);
    }
}

/// Accumulates parameter gradients: `gw[i][o] += x[i] * delta[o]` and `gb[o] += delta[o]`.
///
/// Inputs below the normal range (zeros and subnormals) are skipped, so their rows of `gw` are
/// not touched.
pub fn accumulate<const IN: usize, const OUT: usize>(
    x: &[f32; IN],
    delta: &[f32; OUT],
    gw: &mut [[f32; OUT]; IN],
    gb: &mut [f32; OUT],
) {
    for (gbo, d) in gb.iter_mut().zip(delta) {
        *gbo += *d;
    }
    for (xi, gwi) in x.iter().zip(gw.iter_mut()) {
        if xi.abs() < f32::MIN_POSITIVE {
            continue;
        }
        for (g, d) in gwi.iter_mut().zip(delta) {
            *g += *xi * *d;
        }
    }
}

/// Accumulates a batch: [`accumulate`] applied to each row pair of `x` and `delta`, in order.
pub fn accumulate_batch<const IN: usize, const OUT: usize>(
    x: &[[f32; IN]],
    delta: &[[f32; OUT]],
    gw: &mut [[f32; OUT]; IN],
    gb: &mut [f32; OUT],
) {
    for (xr, dr) in x.iter().zip(delta) {
        accumulate(xr, dr, gw, gb);
    }
}

/// `out[k] = sigmoid(a[k])` over the common length.
pub fn sigmoid(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::sigmoid);
}

/// `out[k] = log_sigmoid(a[k])` over the common length.
pub fn log_sigmoid(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::log_sigmoid);
}

/// `out[k] = softplus(a[k])` over the common length.
pub fn softplus(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::softplus);
}

/// `sum_k softplus(o[k]) - y[k] o[k]` in index order over the common length of `o` and `y`,
/// and `residual[k] = sigmoid(o[k]) - y[k]` over the common length of all three when given.
///
/// Where the residual is written, one `e^-|o|` serves both (the same bits as
/// [`scalar::softplus`] and [`scalar::sigmoid`] apart).
pub fn bernoulli_nll(o: &[f32], y: &[f32], residual: Option<&mut [f32]>) -> f32 {
    let mut s = 0.0;
    let mut terms = o.iter().zip(y);
    if let Some(r) = residual {
        for (rk, (ok, yk)) in r.iter_mut().zip(terms.by_ref()) {
            let (sp, sig) = scalar::softplus_and_sigmoid(*ok);
            *rk = sig - yk;
            s += sp - yk * ok;
        }
    }
    terms.fold(s, |s, (ok, yk)| s + (scalar::softplus(*ok) - yk * ok))
}

/// `out[k] = sigmoid'(a[k])` over the common length.
pub fn sigmoid_grad(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::sigmoid_grad);
}

/// `out[k] = exp(a[k])` over the common length.
pub fn exp(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::exp);
}

/// `out[k] = tanh(a[k])` over the common length.
pub fn tanh(a: &[f32], out: &mut [f32]) {
    map(a, out, scalar::tanh);
}

/// `out[k] = leaky_relu(a[k], slope)` over the common length.
pub fn leaky_relu(a: &[f32], slope: f32, out: &mut [f32]) {
    for (o, x) in out.iter_mut().zip(a) {
        *o = scalar::leaky_relu(*x, slope);
    }
}

/// Bernoulli samples: `x[k] = 1.0` if `unit_f32(next_u32()) < mu[k]`, else `0.0`.
///
/// Draws exactly one word per unit, in index order.
pub fn bernoulli<F: FnMut() -> u32>(mu: &[f32], x: &mut [f32], next_u32: &mut F) {
    for (xk, p) in x.iter_mut().zip(mu) {
        *xk = scalar::bernoulli(*p, next_u32());
    }
}

/// The dot product over the common length, summed in index order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(p, q)| p * q).fold(0.0, |s, t| s + t)
}

/// The sum of the elements, in index order.
pub fn sum(a: &[f32]) -> f32 {
    a.iter().fold(0.0, |s, t| s + t)
}

/// `true` if no element is NaN or infinite.
pub fn all_finite(a: &[f32]) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Plain SGD: `p -= lr * g`, element by element (no velocity).
pub fn sgd(p: &mut [f32], g: &[f32], lr: f32) {
    each_pair(p, g, |pk, gk| *pk -= lr * gk);
}

/// SGD with momentum: `vel = momentum * vel + g; p -= lr * vel`, element by element.
pub fn sgd_momentum(p: &mut [f32], g: &[f32], vel: &mut [f32], lr: f32, momentum: f32) {
    each_triple(p, g, vel, |pk, gk, vk| {
        *vk = momentum * *vk + gk;
        *pk -= lr * *vk;
    });
}

/// One Adam update, element by element (see [`crate::AdamStep`] for the formula).
pub fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: &crate::AdamStep) {
    let (size, inv_bias2) = step.factors();
    for (((pk, gk), mk), vk) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *mk = step.beta1 * *mk + (1.0 - step.beta1) * *gk;
        *vk = step.beta2 * *vk + (1.0 - step.beta2) * *gk * *gk;
        *pk -= size * *mk / (scalar::sqrt(*vk * inv_bias2) + step.eps);
    }
}

/// Elements per chunk of [`each_pair`] and [`each_triple`] (a loop shape, not a lane width).
const CHUNK: usize = 8;

/// Calls `f(p[k], g[k])` for every `k` of the common length, in index order.
///
/// The elements go in chunks of [`CHUNK`] copied into locals, then the tail one by one. Each
/// element is computed alone, so the chunks change no result; they let a scalar target (a
/// Cortex-M4F) group the loads and stores of a chunk and pay the loop's overhead once per
/// chunk.
fn each_pair(p: &mut [f32], g: &[f32], f: impl Fn(&mut f32, f32)) {
    let n = p.len().min(g.len());
    let (Some(p), Some(g)) = (p.get_mut(..n), g.get(..n)) else {
        return;
    };
    let (p_chunks, p_tail) = p.as_chunks_mut::<CHUNK>();
    let (g_chunks, g_tail) = g.as_chunks::<CHUNK>();
    for (pc, gc) in p_chunks.iter_mut().zip(g_chunks) {
        let mut pa = *pc;
        for (pk, gk) in pa.iter_mut().zip(gc) {
            f(pk, *gk);
        }
        *pc = pa;
    }
    for (pk, gk) in p_tail.iter_mut().zip(g_tail) {
        f(pk, *gk);
    }
}

/// Calls `f(p[k], g[k], s[k])` for every `k` of the common length, in index order, in chunks
/// as [`each_pair`] does (`s` is an optimiser state, such as the velocity).
fn each_triple(p: &mut [f32], g: &[f32], s: &mut [f32], f: impl Fn(&mut f32, f32, &mut f32)) {
    let n = p.len().min(g.len()).min(s.len());
    let (Some(p), Some(g), Some(s)) = (p.get_mut(..n), g.get(..n), s.get_mut(..n)) else {
        return;
    };
    let (p_chunks, p_tail) = p.as_chunks_mut::<CHUNK>();
    let (g_chunks, g_tail) = g.as_chunks::<CHUNK>();
    let (s_chunks, s_tail) = s.as_chunks_mut::<CHUNK>();
    for ((pc, gc), sc) in p_chunks.iter_mut().zip(g_chunks).zip(s_chunks.iter_mut()) {
        let (mut pa, mut sa) = (*pc, *sc);
        for ((pk, gk), sk) in pa.iter_mut().zip(gc).zip(sa.iter_mut()) {
            f(pk, *gk, sk);
        }
        *pc = pa;
        *sc = sa;
    }
    for ((pk, gk), sk) in p_tail.iter_mut().zip(g_tail).zip(s_tail.iter_mut()) {
        f(pk, *gk, sk);
    }
}

fn map(a: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, x) in out.iter_mut().zip(a) {
        *o = f(*x);
    }
}
