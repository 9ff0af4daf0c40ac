//! The variational SBN: its oracle against finite differences, every estimator on its encoder
//! against the exact gradient, and the importance-weighted bound against the exact `log p(x)`.

mod common;

use common::{estimate_moments, exact, flat, network, two_sided_quantile, worst, z_scores};
use muprop::{
    exact_expectation, exact_gradient, exact_loss, negative_log_likelihood, Arm, DisArm, Estimator,
    LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Network, Nvil, Reinforce, Replicas,
    StraightThrough, Vsbn1, Vsbn2, Workspace, Zeroable,
};

const DRAWS: usize = 100_000;
const ALPHA: f64 = 1e-3;
const X: [[f32; 6]; 1] = [[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]];
const Y: [[f32; 0]; 1] = [[]];

type Two = Vsbn2<6, 4, 3>;
type One = Vsbn1<6, 5>;

fn z_test<N: Network<6, 0>, E: Estimator>(net: &N, mut est: E, seed: u64) -> (f64, f64) {
    let (exact_grad, _) = exact(net, &X, &Y);
    let (mean, var) = estimate_moments(net, &mut est, &X, &Y, DRAWS, seed);
    let z = z_scores(&mean, &var, &exact_grad, DRAWS);
    let bound = two_sided_quantile(ALPHA / z.len() as f64);
    let (i, zmax) = worst(&z);
    eprintln!(
        "worst |z| = {zmax:.2} at scalar {i} of {}; bound {bound:.2}",
        z.len()
    );
    (zmax, bound)
}

fn assert_unbiased<N: Network<6, 0>, E: Estimator>(name: &str, net: &N, est: E) {
    let (z, bound) = z_test(net, est, 31);
    assert!(
        z < bound,
        "{name}: worst |z| = {z:.2} exceeds the Bonferroni bound {bound:.2}"
    );
}

#[test]
fn oracle_matches_finite_differences() {
    let net: Two = network(1, 1.5);
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

#[test]
fn muprop_is_unbiased_on_the_encoder() {
    assert_unbiased(
        "VSBN MuProp, 2 layers",
        &network::<Two, 6, 0>(2, 1.5),
        MuProp::new(),
    );
    assert_unbiased(
        "VSBN MuProp, 1 layer",
        &network::<One, 6, 0>(3, 1.5),
        MuProp::new(),
    );
}

#[test]
fn muprop_variants_are_unbiased_on_the_encoder() {
    let net = network::<Two, 6, 0>(2, 1.5);
    assert_unbiased("VSBN rollout", &net, MuPropRollout);
    let mut learned = LearnedMuProp::<6, 5, 2, 4>::zeroed();
    learned.reset(1e-2, &mut common::rng(5)).unwrap();
    learned.control.v0 = [0.5, -0.4];
    learned.control.v1 = [-0.6, 0.3];
    assert_unbiased("VSBN learned MuProp", &net, learned);
}

#[test]
fn score_function_estimators_are_unbiased_on_the_encoder() {
    let net = network::<Two, 6, 0>(2, 1.5);
    assert_unbiased(
        "VSBN REINFORCE",
        &net,
        Reinforce::with_constant(2.0).unwrap(),
    );
    assert_unbiased("VSBN leave-one-out", &net, LeaveOneOut);
    let mut nvil = Nvil::<6, 5, 4>::zeroed();
    nvil.reset(1e-3, 0.8, false, &mut common::rng(6)).unwrap();
    nvil.center = -1.0;
    assert_unbiased("VSBN NVIL", &net, nvil);
}

#[test]
fn antithetic_estimators_are_unbiased_on_the_encoder() {
    let net = network::<Two, 6, 0>(2, 1.5);
    assert_unbiased("VSBN ARM", &net, Arm);
    assert_unbiased("VSBN DisARM", &net, DisArm);
}

#[test]
fn biased_estimators_fail_on_the_encoder() {
    let net = network::<Two, 6, 0>(2, 1.5);
    let (z, bound) = z_test(&net, StraightThrough, 32);
    assert!(
        z > 3.0 * bound,
        "straight-through looks unbiased: |z| = {z:.2}"
    );
    let (z, bound) = z_test(&net, MuProp::negative_control(), 33);
    assert!(
        z > 3.0 * bound,
        "the MuProp negative control looks unbiased: |z| = {z:.2}"
    );
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
