//! The variational SBN: its oracle against finite differences, every estimator on its encoder
//! against the exact gradient, and the importance-weighted bound against the exact `log p(x)`.
//!
//! The unbiasedness tests follow `tests/unbiased.rs`: `DRAWS` single-sample estimates per case,
//! every parameter's z-score inside the Bonferroni bound for a family-wise level `ALPHA`,
//! biased estimators beyond three times that bound, fixed seeds.

mod common;

use common::{
    estimate_moments, estimate_moments_online, exact, flat, network, two_sided_quantile, worst,
    z_scores,
};
use muprop::{
    exact_expectation, exact_gradient, exact_loss, negative_log_likelihood, Arm, Backward, DisArm,
    DrawnWords, Estimator, LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Network, Nvil,
    Reinforce, Replicas, SignedCoding, StraightThrough, Vsbn1, Vsbn2, VsbnLayer, Workspace,
    Zeroable,
};

const DRAWS: usize = 100_000;
const ALPHA: f64 = 1e-3;
const X: [[f32; 6]; 1] = [[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]];
const Y: [[f32; 0]; 1] = [[]];

type Two = Vsbn2<6, 4, 3>;
type One = Vsbn1<6, 5>;

/// A centre for the first encoder's input, away from 0 and 1/2.
const CENTRE: [f32; 6] = [0.3, 0.7, 0.55, 0.1, 0.9, 0.45];

/// The model with the reference code's coding: input centred by [`CENTRE`], hidden units read
/// as -1/+1.
fn signed<N: Centred>(mut net: N) -> N {
    net.centre_and_sign();
    net
}

/// The two test models under [`signed`].
trait Centred {
    fn centre_and_sign(&mut self);
}

impl<const H: usize, R: SignedCoding> Centred for VsbnLayer<6, H, R> {
    fn centre_and_sign(&mut self) {
        self.use_signed_coding(&CENTRE);
    }
}

/// Runs the z-test with the estimator's state frozen; returns (worst |z|, Bonferroni bound).
fn z_test<N: Network<6, 0>, E: Estimator>(net: &N, est: E, seed: u64) -> (f64, f64) {
    z_test_scaled(net, est, seed, 1.0)
}

/// Whether tensor `k` of a chain of [`muprop::VsbnLayer`]s belongs to an encoder: each layer
/// holds its encoder's two tensors, then its decoder's two, and the prior's one tensor is last.
fn is_encoder_tensor<N: Network<6, 0>>(k: usize) -> bool {
    k + 1 < N::COUNT && k % 4 < 2
}

/// The exact gradient with the encoder's part multiplied by `encoder_scale`.
///
/// An estimator that scales its learning signal scales only the score term of the encoder's
/// gradient; the pathwise term `h - mu` of `log q` it adds unscaled has mean zero, so the
/// encoder's expected gradient is `encoder_scale` times the exact one. The decoder and prior get
/// the unscaled pathwise gradient.
fn exact_scaled<N: Network<6, 0>>(net: &N, encoder_scale: f64) -> Vec<f64> {
    let (mut grad, _) = exact(net, &X, &Y);
    let mut at = 0;
    for k in 0..N::COUNT {
        let len = muprop::Tensors::tensor(net, k).len();
        if is_encoder_tensor::<N>(k) {
            grad[at..at + len]
                .iter_mut()
                .for_each(|g| *g *= encoder_scale);
        }
        at += len;
    }
    grad
}

/// The z-test against [`exact_scaled`].
fn z_test_scaled<N: Network<6, 0>, E: Estimator>(
    net: &N,
    mut est: E,
    seed: u64,
    encoder_scale: f64,
) -> (f64, f64) {
    let exact_grad = exact_scaled(net, encoder_scale);
    let (mean, var) = estimate_moments(net, &mut est, &X, &Y, DRAWS, seed);
    verdict(&mean, &var, &exact_grad)
}

/// Prints and returns (worst |z|, Bonferroni bound).
fn verdict(mean: &[f64], var: &[f64], exact_grad: &[f64]) -> (f64, f64) {
    let z = z_scores(mean, var, exact_grad, DRAWS);
    let bound = two_sided_quantile(ALPHA / z.len() as f64);
    let (i, zmax) = worst(&z);
    eprintln!(
        "worst |z| = {zmax:.2} at scalar {i} of {} (mean {:.6}, exact {:.6}, sd {:.4}); \
         bound {bound:.2}",
        z.len(),
        mean[i],
        exact_grad[i],
        var[i].sqrt()
    );
    (zmax, bound)
}

fn assert_unbiased<N: Network<6, 0>, E: Estimator>(name: &str, net: &N, est: E) {
    let (z, bound) = z_test(net, est, 31);
    assert!(
        z < bound,
        "{name}: worst |z| = {z:.2} exceeds the Bonferroni bound {bound:.2} ({DRAWS} draws): the \
         estimator disagrees with the exact gradient"
    );
}

/// [`assert_unbiased`] with the estimator's state updated after every draw from that draw's
/// loss (see `common::estimate_moments_online`); returns the estimator in its final state.
fn assert_unbiased_online<N: Network<6, 0>, E: Estimator>(name: &str, net: &N, mut est: E) -> E {
    let (exact_grad, _) = exact(net, &X, &Y);
    let (mean, var) = estimate_moments_online(net, &mut est, &X, &Y, DRAWS, 31);
    let (z, bound) = verdict(&mean, &var, &exact_grad);
    assert!(
        z < bound,
        "{name}: worst |z| = {z:.2} exceeds the Bonferroni bound {bound:.2} ({DRAWS} draws, state \
         updated after each draw): either the estimator is biased, or its state at a draw \
         depends on that draw's own samples"
    );
    est
}

fn assert_biased<N: Network<6, 0>, E: Estimator>(name: &str, net: &N, est: E, seed: u64) {
    let (z, bound) = z_test(net, est, seed);
    assert!(
        z > 3.0 * bound,
        "{name}: worst |z| = {z:.2} is within 3x the bound {bound:.2}: the test cannot tell this \
         biased estimator from an unbiased one"
    );
}

/// An NVIL estimator with a random baseline and a centre away from 0; normalised, its running
/// variance is 6.25, so its signal scale is 0.4.
fn nvil(normalize: bool) -> Nvil<6, 5, 4> {
    let mut est = Nvil::<6, 5, 4>::zeroed();
    est.reset(1e-3, 0.8, normalize, &mut common::rng(6))
        .unwrap();
    est.center = -1.0;
    est.variance = 6.25;
    est
}

/// Learned MuProp with scalings set away from 1 (for up to 2 layers).
fn learned() -> LearnedMuProp<6, 5, 2, 4> {
    let mut est = LearnedMuProp::<6, 5, 2, 4>::zeroed();
    est.reset(1e-2, &mut common::rng(5)).unwrap();
    est.control.v0 = [0.5, -0.4];
    est.control.v1 = [-0.6, 0.3];
    est
}

#[test]
fn oracle_matches_finite_differences() {
    oracle_against_finite_differences(network(1, 1.5));
}

#[test]
fn oracle_matches_finite_differences_with_signed_coding() {
    oracle_against_finite_differences(signed(network(1, 1.5)));
}

fn oracle_against_finite_differences(net: Two) {
    let mut ws = Workspace::<<Two as Network<6, 0>>::Trace<1>, 1>::zeroed();
    let mut grad = Two::zeroed();
    exact_gradient(&net, &X, &Y, &mut ws, &mut grad).unwrap();
    let analytic = flat(&grad);
    let mut probe = net;
    let h = 1e-2f32;
    let mut index = 0;
    for k in 0..<Two as muprop::Tensors>::COUNT {
        for j in 0..muprop::Tensors::tensor(&net, k).len() {
            let v = muprop::Tensors::tensor(&net, k)[j];
            muprop::Tensors::tensor_mut(&mut probe, k)[j] = v + h;
            let up = exact_loss(&probe, &X, &Y, &mut ws).unwrap();
            muprop::Tensors::tensor_mut(&mut probe, k)[j] = v - h;
            let down = exact_loss(&probe, &X, &Y, &mut ws).unwrap();
            muprop::Tensors::tensor_mut(&mut probe, k)[j] = v;
            let numeric = (up - down) / (2.0 * f64::from(h));
            let a = f64::from(analytic[index]);
            assert!(
                (numeric - a).abs() <= 2e-3 + 1e-2 * a.abs(),
                "tensor {k} element {j}: oracle {a:.6}, finite differences {numeric:.6}"
            );
            index += 1;
        }
    }
}

/// Every estimator on one encoder depth: unbiased, and straight-through shown biased.
macro_rules! every_estimator_on_the_encoder {
    ($name:ident, $net:ty, $make:expr) => {
        mod $name {
            use super::*;

            fn net() -> $net {
                $make
            }

            fn label(estimator: &str) -> String {
                format!("VSBN {}: {estimator}", stringify!($name))
            }

            #[test]
            fn muprop() {
                assert_unbiased(&label("MuProp"), &net(), MuProp::new());
            }

            #[test]
            fn rollout() {
                assert_unbiased(&label("rollout"), &net(), MuPropRollout);
            }

            #[test]
            fn learned_muprop() {
                assert_unbiased(&label("learned MuProp"), &net(), learned());
            }

            #[test]
            fn reinforce() {
                assert_unbiased(&label("REINFORCE, no baseline"), &net(), Reinforce::new());
            }

            #[test]
            fn reinforce_with_a_baseline() {
                let est = Reinforce::with_constant(2.0).unwrap();
                assert_unbiased(&label("REINFORCE, baseline 2"), &net(), est);
            }

            #[test]
            fn reinforce_with_a_moving_average_updated_between_draws() {
                let est = Reinforce::with_moving_average(0.9).unwrap();
                let name = label("REINFORCE, moving average updated between draws");
                let est = assert_unbiased_online(&name, &net(), est);
                assert_ne!(est.baseline(), 0.0, "the moving average never moved from 0");
            }

            #[test]
            fn leave_one_out() {
                assert_unbiased(&label("leave-one-out"), &net(), LeaveOneOut);
            }

            #[test]
            fn nvil() {
                assert_unbiased(&label("NVIL, no normalisation"), &net(), super::nvil(false));
            }

            #[test]
            fn nvil_with_normalisation() {
                let est = super::nvil(true);
                let scale = f64::from(est.signal_scale());
                let (z, bound) = z_test_scaled(&net(), est, 31, scale);
                assert!(
                    z < bound,
                    "{}: worst |z| = {z:.2} exceeds the bound {bound:.2} against the exact \
                     gradient with the encoder's part times {scale}",
                    label("NVIL, normalised")
                );
            }

            #[test]
            fn arm() {
                assert_unbiased(&label("ARM"), &net(), Arm);
            }

            #[test]
            fn disarm() {
                assert_unbiased(&label("DisARM"), &net(), DisArm);
            }

            #[test]
            fn straight_through_is_biased() {
                assert_biased(&label("straight-through"), &net(), StraightThrough, 32);
            }
        }
    };
}

every_estimator_on_the_encoder!(two_layers, Two, network::<Two, 6, 0>(2, 1.5));
every_estimator_on_the_encoder!(one_layer, One, network::<One, 6, 0>(3, 1.5));
every_estimator_on_the_encoder!(two_layers_signed, Two, signed::<Two>(network(2, 1.5)));
every_estimator_on_the_encoder!(one_layer_signed, One, signed::<One>(network(3, 1.5)));

#[test]
fn nvil_normalisation_is_visible_on_the_encoder() {
    // Against the unscaled exact gradient, normalised NVIL must fail: the 0.4 scale matters.
    let (z, bound) = z_test(&network::<Two, 6, 0>(2, 1.5), nvil(true), 31);
    assert!(
        z > 3.0 * bound,
        "worst |z| = {z:.2} is within 3x the bound {bound:.2}: the encoder's 0.4 scale went \
         unnoticed"
    );
}

#[test]
fn muprop_negative_control_is_biased_with_two_layers() {
    let net = network::<Two, 6, 0>(2, 1.5);
    let est = MuProp::negative_control();
    assert_biased("VSBN two_layers: MuProp negative control", &net, est, 33);
}

#[test]
fn muprop_negative_control_is_biased_with_signed_coding() {
    let net = signed::<Two>(network(2, 1.5));
    let est = MuProp::negative_control();
    assert_biased(
        "VSBN two_layers_signed: MuProp negative control",
        &net,
        est,
        33,
    );
}

/// The mean-field loss `fbar` of one row at input `x`, and `d fbar / dx` as the model computes
/// it (the total derivative MuProp's Taylor term is built from).
fn mean_field_at(net: &Two, x: [f32; 6]) -> (f32, [f32; 6]) {
    let mut trace = <<Two as Network<6, 0>>::Trace<1> as Zeroable>::zeroed();
    let mut fbar = [0.0f32];
    let mut dx = [[0.0f32; 6]];
    net.mean_field::<1>(&[x], &Y, &mut trace, &mut fbar, Some(&mut dx));
    (fbar[0], dx[0])
}

/// `d fbar / dx` against central differences, at a fractional input so every map's input
/// moves.
fn mean_field_gradient_against_finite_differences(net: &Two) {
    let x = [0.8, 0.25, 0.6, 0.4, 0.1, 0.95];
    let (_, analytic) = mean_field_at(net, x);
    let h = 1e-3f32;
    for i in 0..6 {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let numeric = (mean_field_at(net, up).0 - mean_field_at(net, down).0) / (2.0 * h);
        let a = analytic[i];
        assert!(
            (numeric - a).abs() <= 1e-2 + 1e-2 * a.abs(),
            "input {i}: mean-field derivative {a:.5}, finite differences {numeric:.5}"
        );
    }
}

#[test]
fn mean_field_derivative_matches_finite_differences() {
    mean_field_gradient_against_finite_differences(&network(8, 1.5));
}

#[test]
fn mean_field_derivative_matches_finite_differences_with_signed_coding() {
    mean_field_gradient_against_finite_differences(&signed(network(8, 1.5)));
}

/// Folds the codings into the weights: `W g (x - c) + b = (g W) x + (b - g W c)` for each
/// encoder and `P (2h - 1) + d = (2 P) h + (d - P 1)` for each decoder.
fn folded(net: &Two) -> Two {
    fn fold<const I: usize, const O: usize>(map: &mut muprop::Linear<I, O>, gain: f32, c: &[f32]) {
        for (row, ci) in map.w.iter_mut().zip(c) {
            for (w, b) in row.iter_mut().zip(map.b.iter_mut()) {
                *b -= gain * *w * ci;
                *w *= gain;
            }
        }
    }
    let mut plain = *net;
    fold(&mut plain.q, 1.0, &net.centre);
    fold(&mut plain.p, 2.0, &[0.5; 4]);
    fold(&mut plain.rest.q, 2.0, &[0.5; 4]);
    fold(&mut plain.rest.p, 2.0, &[0.5; 3]);
    plain.use_plain_coding();
    assert!(
        !plain.rest.signed_input && !plain.rest.signed_units && plain.rest.centre == [0.0; 4],
        "use_plain_coding left the second layer coded"
    );
    plain
}

/// The gradient with respect to the coded model's parameters, from the gradient `g` with
/// respect to the folded ones (the chain rule through [`folded`]): for each map
/// `dL/dW[i] = gain (dL/dW'[i] - c_i dL/db')` and `dL/db = dL/db'`.
fn unfolded_gradient(net: &Two, g: &Two) -> Two {
    fn unfold<const I: usize, const O: usize>(
        map: &mut muprop::Linear<I, O>,
        folded: &muprop::Linear<I, O>,
        gain: f32,
        c: &[f32],
    ) {
        for ((row, folded_row), ci) in map.w.iter_mut().zip(&folded.w).zip(c) {
            for ((w, fw), fb) in row.iter_mut().zip(folded_row).zip(&folded.b) {
                *w = gain * (fw - ci * fb);
            }
        }
        map.b = folded.b;
    }
    let mut out = *g;
    unfold(&mut out.q, &g.q, 1.0, &net.centre);
    unfold(&mut out.p, &g.p, 2.0, &[0.5; 4]);
    unfold(&mut out.rest.q, &g.rest.q, 2.0, &[0.5; 4]);
    unfold(&mut out.rest.p, &g.rest.p, 2.0, &[0.5; 3]);
    out
}

#[test]
fn signed_coding_is_an_affine_change_of_the_maps_inputs() {
    // The same model family: with the codings folded into the weights, the plain model has
    // the same exact ELBO, and the same mean-field loss at fractional inputs.
    let net: Two = signed(network(9, 1.5));
    assert!(net.rest.signed_input && net.signed_units && net.rest.signed_units);
    let plain = folded(&net);
    let mut ws = Workspace::<<Two as Network<6, 0>>::Trace<1>, 1>::zeroed();
    let coded = exact_loss(&net, &X, &Y, &mut ws).unwrap();
    let folded_loss = exact_loss(&plain, &X, &Y, &mut ws).unwrap();
    assert!(
        (coded - folded_loss).abs() < 1e-4 * coded.abs().max(1.0),
        "exact loss {coded} with the coding, {folded_loss} with it folded into the weights"
    );
    assert!(
        (coded - exact_loss(&network::<Two, 6, 0>(9, 1.5), &X, &Y, &mut ws).unwrap()).abs() > 0.1,
        "the coding did not change the model's loss: the test cannot see it"
    );
    let x = [0.8, 0.25, 0.6, 0.4, 0.1, 0.95];
    let ((f1, _), (f2, _)) = (mean_field_at(&net, x), mean_field_at(&plain, x));
    assert!(
        (f1 - f2).abs() < 1e-4 * f1.abs().max(1.0),
        "mean-field loss {f1} against {f2}"
    );
}

/// One straight-through pass at drawn words: the loss, `d f / dx` and the parameter gradient
/// of the relaxed network.
fn straight_through_at(net: &Two, words_seed: u64) -> (f32, [f32; 6], Two) {
    let mut trace = <<Two as Network<6, 0>>::Trace<1> as Zeroable>::zeroed();
    let mut grad = Two::zeroed();
    <Two as Network<6, 0>>::draw::<1, _>(&mut trace, 0, &mut common::rng(words_seed));
    let mut f = [0.0f32];
    net.sample::<1, _>(&X, &Y, &mut trace, &mut f, &mut DrawnWords);
    let mut dx = [[0.0f32; 6]];
    net.backward::<1>(
        &X,
        &Y,
        &mut trace,
        &mut grad,
        1.0,
        Backward::StraightThrough,
        Some(&mut dx),
    );
    (f[0], dx[0], grad)
}

#[test]
fn straight_through_sees_the_coding() {
    // The relaxed network is the same function of x with the codings folded into the weights,
    // so at the same unit draws its loss and input derivative agree, and its parameter
    // gradient is the folded one taken back through the fold.
    let net: Two = signed(network(9, 1.5));
    let plain = folded(&net);
    for seed in 0..8 {
        let ((f1, d1, g1), (f2, d2, g2)) = (
            straight_through_at(&net, seed),
            straight_through_at(&plain, seed),
        );
        let (g1, g2) = (flat(&g1), flat(&unfolded_gradient(&net, &g2)));
        for (k, (a, b)) in g1.iter().zip(&g2).enumerate() {
            assert!(
                (a - b).abs() < 1e-4 * a.abs().max(1.0),
                "draw {seed}, scalar {k}: gradient {a} with the coding, {b} folded and mapped back"
            );
        }
        assert!(
            (f1 - f2).abs() < 1e-4 * f1.abs().max(1.0),
            "loss {f1} against {f2}"
        );
        for (i, (a, b)) in d1.iter().zip(&d2).enumerate() {
            assert!(
                (a - b).abs() < 1e-4 * a.abs().max(1.0),
                "draw {seed}, input {i}: d f / dx {a} with the coding, {b} folded"
            );
        }
    }
}

#[test]
fn muprop_negative_control_is_unbiased_with_one_layer() {
    // The one encoder layer's mean-field input is x itself, so the control is MuProp there.
    let net = network::<One, 6, 0>(3, 1.5);
    let est = MuProp::negative_control();
    assert_unbiased("VSBN one_layer: MuProp negative control", &net, est);
}

#[test]
fn importance_weighted_bound_approaches_log_likelihood() {
    // ELBO = -E_q[f] <= E[k-sample bound] <= log p(x) = log E_q[e^{-f}], all exact but the bound.
    let net: Two = network(4, 1.5);
    let mut ws1 = Workspace::<<Two as Network<6, 0>>::Trace<1>, 1>::zeroed();
    let elbo = -exact_loss(&net, &X, &Y, &mut ws1).unwrap();
    let log_px = exact_expectation(&net, &X, &Y, &mut ws1, |f| (-f).exp())
        .unwrap()
        .ln();
    assert!(elbo < log_px, "ELBO {elbo} >= log p(x) {log_px}");

    let mut ws = Workspace::<<Two as Network<6, 0>>::Trace<64>, 64>::zeroed();
    let mut replicas = Replicas::<6, 0, 64>::zeroed();
    let mut rng = common::rng(7);
    let mut bound = |k: usize| {
        -negative_log_likelihood(&net, &X[0], &Y[0], k, &mut replicas, &mut ws, &mut rng).unwrap()
    };
    let b1 = (0..2000).map(|_| bound(1)).sum::<f64>() / 2000.0;
    let b20000 = bound(20_000);
    let gap = log_px - elbo;
    assert!(
        (b1 - elbo).abs() < 0.1 * gap,
        "1-sample bound {b1} vs ELBO {elbo}"
    );
    assert!(
        (b20000 - log_px).abs() < 0.1 * gap,
        "20000-sample bound {b20000}, log p(x) {log_px}"
    );
}
