//! Learned baselines: the NUMERICS.md baseline case, and baselines that learn from their own
//! squared residual only.

mod common;

use common::{network, rng};
use muprop::estimator::BaselineScratch;
use muprop::{
    exact_loss, train_step, Adam, AdamState, Bernoulli, Estimator, LayerView, LearnedMuProp,
    Network, Nvil, Sbn2, Units, Workspace, WorkspaceFor, Zeroable,
};

#[test]
fn nvil_baseline_case_from_numerics_table() {
    // One sample, loss (the table's reward) 1.0, baseline b = 0.3 held by one parameter (the
    // output bias), Bernoulli action 1 at logit 0.
    let mut est = Nvil::<1, 1, 1>::zeroed();
    est.reset(1e-3, 0.8, true, &mut rng(0)).unwrap();
    est.baseline = Zeroable::zeroed();
    est.baseline.out.b = [0.3];
    est.begin_step();
    est.prepare_chunk(&[1.0], 1, &[1.0], &[0.0]);

    let mut delta = [0.0f32];
    let mut view = LayerView {
        width: 1,
        classes: 1,
        states: 2,
        logits: &[0.0],
        mean: &[0.5],
        sample: &[1.0],
        words: &[0],
        mf_logits: &[0.0],
        mf_mean: &[0.5],
        mf_grad: &[0.0],
        delta: &mut delta,
        vjp: Bernoulli::mean_vjp,
        log_prob: Bernoulli::log_prob,
    };
    est.logit_gradient(0, &mut view, &[1.0], &[0.0]);
    assert!(
        (delta[0] - 0.35).abs() < 1e-7,
        "logit gradient {}",
        delta[0]
    );

    // The baseline's own gradient is that of (f - b)^2 = 0.49: -2 * 0.7 for its bias, and 0
    // for the weight behind a zero hidden unit.
    assert!(
        (est.grad.out.b[0] + 1.4).abs() < 1e-6,
        "{}",
        est.grad.out.b[0]
    );
    assert_eq!(est.grad.out.w[0][0], 0.0);
}

#[test]
fn learned_muprop_baseline_case_from_numerics_table() {
    // The same case for MuProp's learned baseline: loss 1.0, baseline b = 0.3 held by the
    // output bias, action 1 at logit 0. The mean-field loss and its slope are 0 (fbar = 0,
    // fbar' = 0), and v = 0 gives eta0 = eta1 = 1, so by hand r = f - fbar - fbar'.(x - xbar) - b
    // = 0.7 and delta = r (x - mu) + eta1 sigmoid'(0) fbar' = 0.7 * 0.5 = 0.35. The baseline's
    // gradient is that of its own squared residual r^2 only: d/db = -2r = -1.4 for the bias, 0
    // for the weight behind a zero hidden unit (tanh(0) = 0, and the hidden layer sits behind an
    // output weight of 0), and d r^2 / d v0 = -2 r fbar eta0'(0), d r^2 / d v1 = -2 r fbar'.(x -
    // xbar) eta1'(0) are both 0.
    let mut est = LearnedMuProp::<1, 1, 1, 1>::zeroed();
    est.reset(1e-3, &mut rng(0)).unwrap();
    est.control.baseline = Zeroable::zeroed();
    est.control.baseline.out.b = [0.3];
    assert_eq!(est.scalings(0), (1.0, 1.0), "v = 0 is eta = 1");
    est.begin_step();
    est.prepare_chunk(&[1.0], 1, &[1.0], &[0.0]);

    let mut delta = [0.0f32];
    let mut view = LayerView {
        width: 1,
        classes: 1,
        states: 2,
        logits: &[0.0],
        mean: &[0.5],
        sample: &[1.0],
        words: &[0],
        mf_logits: &[0.0],
        mf_mean: &[0.5],
        mf_grad: &[0.0],
        delta: &mut delta,
        vjp: Bernoulli::mean_vjp,
        log_prob: Bernoulli::log_prob,
    };
    est.logit_gradient(0, &mut view, &[1.0], &[0.0]);
    est.finish_chunk(&[1.0], 1);
    // 0.3, 0.7 and 0.35 are not f32 values: a few roundings of at most 6e-8 relative each.
    assert!(
        (delta[0] - 0.35).abs() < 1e-7,
        "logit gradient {}",
        delta[0]
    );
    let g = &est.grad;
    assert!(
        (g.baseline.out.b[0] + 1.4).abs() < 1e-6,
        "baseline bias gradient {}",
        g.baseline.out.b[0]
    );
    assert_eq!(g.baseline.out.w[0][0], 0.0, "weight behind tanh(0) = 0");
    assert_eq!(
        (g.baseline.hidden.w[0][0], g.baseline.hidden.b[0]),
        (0.0, 0.0),
        "hidden layer behind an output weight of 0"
    );
    assert_eq!(
        (g.v0[0], g.v1[0]),
        (0.0, 0.0),
        "scalings with fbar = 0 and fbar' = 0"
    );
}

#[test]
fn self_normalised_weights_case_from_numerics_table() {
    // log-weights [0, ln 3], d(log w)/d(theta) = [1, 0]: d/dtheta log-mean-exp = 0.25.
    let mut w = [0.0f64; 2];
    muprop::normalized_weights(&[0.0, 3.0f64.ln()], &mut w);
    let grad: f64 = w.iter().zip([1.0, 0.0]).map(|(a, b)| a * b).sum();
    assert!((grad - 0.25).abs() < 1e-12, "{grad}");
}

type Net = Sbn2<6, 5, 4, 3>;

fn batch() -> ([[f32; 6]; 4], [[f32; 3]; 4]) {
    (
        [
            [1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
            [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        ],
        [
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
        ],
    )
}

/// Mean squared gap between each row's exact `E[f | x]` and `predict(row)`.
fn baseline_gap(net: &Net, predict: impl Fn(usize) -> f64) -> f64 {
    let (x, y) = batch();
    let mut ws = Workspace::<<Net as Network<6, 3>>::Trace<1>, 1>::zeroed();
    (0..4)
        .map(|r| {
            let e = exact_loss(net, &x[r..r + 1], &y[r..r + 1], &mut ws).unwrap();
            (e - predict(r)).powi(2)
        })
        .sum::<f64>()
        / 4.0
}

#[test]
fn nvil_baseline_learns_the_expected_loss() {
    let net: Net = network(3, 1.0);
    let (x, y) = batch();
    let mut est = Nvil::<6, 8, 4>::zeroed();
    est.reset(0.02, 0.8, true, &mut rng(1)).unwrap();
    let predict = |est: &Nvil<6, 8, 4>, r: usize| {
        let mut s = BaselineScratch::<8, 1, 4>::zeroed();
        est.baseline.forward(&x, &mut s);
        f64::from(s.values[r][0] + est.center)
    };
    let before = baseline_gap(&net, |r| predict(&est, r));

    // The model does not move (a tiny learning rate), so the target E[f | x] stays put.
    let mut model = net;
    let adam = Adam::new(1e-12).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut grad = Net::zeroed();
    let mut ws = WorkspaceFor::<Net, 6, 3, 4>::new();
    let mut r = rng(2);
    for _ in 0..1500 {
        train_step(
            &mut model, &adam, &mut state, &mut est, &x, &y, &mut ws, &mut grad, &mut r,
        )
        .unwrap();
    }
    let after = baseline_gap(&net, |r| predict(&est, r));
    assert!(
        after < 0.2 * before,
        "squared gap to E[f | x]: {before:.4} -> {after:.4}"
    );
}

#[test]
fn learned_muprop_baseline_and_scalings_train() {
    let net: Net = network(3, 1.0);
    let (x, y) = batch();
    let mut est = LearnedMuProp::<6, 8, 2, 4>::zeroed();
    est.reset(0.02, &mut rng(3)).unwrap();
    let start = est.control;
    let mut model = net;
    let adam = Adam::new(1e-12).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut grad = Net::zeroed();
    let mut ws = WorkspaceFor::<Net, 6, 3, 4>::new();
    let mut r = rng(4);
    for _ in 0..300 {
        train_step(
            &mut model, &adam, &mut state, &mut est, &x, &y, &mut ws, &mut grad, &mut r,
        )
        .unwrap();
    }
    assert_ne!(start.v0, est.control.v0, "eta0 never moved");
    assert_ne!(start.v1, est.control.v1, "eta1 never moved");
    assert_ne!(
        start.baseline.out.b, est.control.baseline.out.b,
        "the baselines never moved"
    );
    assert_eq!(state.t, 300);
}
