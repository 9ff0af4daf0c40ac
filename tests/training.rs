//! The training step: determinism, the non-finite guard, hyperparameter validation, the
//! optimisers against NUMERICS.md, and heap construction of a large network.

mod common;

use common::{flat, network, rng};
use muprop::{
    negative_log_likelihood, train_step, Adam, AdamState, Bernoulli, Error, Estimator, LayerView,
    LearnedMuProp, MuProp, Network, Nvil, Optimizer, Refusal, Reinforce, Replicas, Sbn2, Sgd,
    SgdState, StepStatus, Tensors, Units, Workspace, WorkspaceFor, Zeroable,
};

type Net = Sbn2<6, 5, 4, 3>;
type Ws = WorkspaceFor<Net, 6, 3, 4>;

fn batch() -> ([[f32; 6]; 5], [[f32; 3]; 5]) {
    let x = [
        [1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
    ];
    let y = [
        [1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0],
    ];
    (x, y)
}

/// Runs `steps` Adam steps of `estimator` from seed `seed` and returns the parameters.
fn train<E: Estimator>(mut estimator: E, seed: u64, steps: usize) -> Vec<f32> {
    let mut net: Net = network(3, 1.0);
    let mut grad = Net::zeroed();
    let adam = Adam::new(0.01).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut ws = Ws::new();
    let mut r = rng(seed);
    let (x, y) = batch();
    for _ in 0..steps {
        let s = train_step(
            &mut net,
            &adam,
            &mut state,
            &mut estimator,
            &x,
            &y,
            &mut ws,
            &mut grad,
            &mut r,
        )
        .unwrap();
        assert!(s.applied());
    }
    flat(&net)
}

#[test]
fn same_seed_gives_bit_identical_parameters_after_100_steps() {
    let a = train(MuProp::new(), 9, 100);
    let b = train(MuProp::new(), 9, 100);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&a),
        bits(&b),
        "MuProp: same seed, different parameters"
    );
    let c = train(MuProp::new(), 10, 100);
    assert_ne!(
        bits(&a),
        bits(&c),
        "a different seed should change the parameters"
    );
    let r1 = train(Reinforce::with_moving_average(0.9).unwrap(), 9, 100);
    let r2 = train(Reinforce::with_moving_average(0.9).unwrap(), 9, 100);
    assert_eq!(
        bits(&r1),
        bits(&r2),
        "REINFORCE: same seed, different parameters"
    );
}

#[test]
fn chunking_a_minibatch_changes_nothing() {
    // Workspaces of 1 and of 4 rows process the same 5-row minibatch from the same draws.
    let net: Net = network(4, 1.0);
    let (x, y) = batch();
    let mut g1 = Net::zeroed();
    let mut g4 = Net::zeroed();
    let mut ws1 = WorkspaceFor::<Net, 6, 3, 1>::new();
    let mut ws4 = Ws::new();
    let l1 = muprop::gradient(
        &net,
        &mut MuProp::new(),
        &x,
        &y,
        &mut ws1,
        &mut g1,
        &mut rng(1),
    );
    let l4 = muprop::gradient(
        &net,
        &mut MuProp::new(),
        &x,
        &y,
        &mut ws4,
        &mut g4,
        &mut rng(1),
    );
    assert_eq!(l1.unwrap().to_bits(), l4.unwrap().to_bits());
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(flat(&g1)),
        bits(flat(&g4)),
        "chunk size changed the gradient"
    );
}

/// Everything a refused step must leave untouched, as raw bits.
fn snapshot(net: &Net, state: &AdamState<Net>) -> Vec<u32> {
    let mut bits: Vec<u32> = flat(net).iter().map(|v| v.to_bits()).collect();
    bits.extend(flat(&state.m).iter().map(|v| v.to_bits()));
    bits.extend(flat(&state.v).iter().map(|v| v.to_bits()));
    bits.push(state.t);
    bits
}

/// Trains 3 good steps, then runs `poison` on a copy of the batch and parameters and checks
/// the step is refused with `why` and changes nothing.
fn assert_refused(why: Refusal, poison: impl Fn(&mut [[f32; 6]; 5], &mut [[f32; 3]; 5], &mut Net)) {
    let mut net: Net = network(3, 1.0);
    let mut grad = Net::zeroed();
    let adam = Adam::new(0.01).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut ws = Ws::new();
    let mut est = Reinforce::with_moving_average(0.5).unwrap();
    let mut r = rng(2);
    let (mut x, mut y) = batch();
    for _ in 0..3 {
        train_step(
            &mut net, &adam, &mut state, &mut est, &x, &y, &mut ws, &mut grad, &mut r,
        )
        .unwrap();
    }
    poison(&mut x, &mut y, &mut net);
    let before = snapshot(&net, &state);
    let baseline = est.baseline();
    let s = train_step(
        &mut net, &adam, &mut state, &mut est, &x, &y, &mut ws, &mut grad, &mut r,
    )
    .unwrap();
    assert_eq!(s.status, StepStatus::Refused(why));
    assert!(!s.applied());
    assert_eq!(
        before,
        snapshot(&net, &state),
        "a refused step changed parameters or Adam state"
    );
    assert_eq!(
        baseline.to_bits(),
        est.baseline().to_bits(),
        "the baseline moved"
    );
}

#[test]
fn nan_input_is_refused_and_changes_nothing() {
    assert_refused(Refusal::NonFiniteInput, |x, _, _| x[2][3] = f32::NAN);
}

#[test]
fn infinite_target_is_refused_and_changes_nothing() {
    assert_refused(Refusal::NonFiniteTarget, |_, y, _| y[4][0] = f32::INFINITY);
}

#[test]
fn nan_weight_is_refused_and_changes_nothing() {
    // Input 1 of layer 1 is zero in some rows, so a NaN there need not reach every loss.
    assert_refused(Refusal::NonFiniteParameter, |_, _, net| {
        net.stage.w[1][2] = f32::NAN
    });
}

#[test]
fn overflowing_loss_is_refused_and_changes_nothing() {
    // Huge output weights make the loss overflow to infinity while every value is finite.
    assert_refused(Refusal::NonFiniteLoss, |_, _, net| {
        for row in net.rest.rest.linear.w.iter_mut() {
            row.fill(3.0e38);
        }
        net.rest.rest.linear.b.fill(3.0e38);
    });
}

#[test]
fn non_finite_learning_rate_is_rejected() {
    for lr in [f32::NAN, f32::INFINITY, -1.0, 0.0] {
        assert!(
            matches!(Adam::new(lr), Err(Error::InvalidHyperparameter { .. })),
            "lr {lr}"
        );
        assert!(
            matches!(Sgd::new(lr, 0.9), Err(Error::InvalidHyperparameter { .. })),
            "lr {lr}"
        );
        let mut adam = Adam::new(0.1).unwrap();
        assert!(Optimizer::<Net>::set_learning_rate(&mut adam, lr).is_err());
        assert_eq!(
            Optimizer::<Net>::learning_rate(&adam),
            0.1,
            "a rejected rate was kept"
        );
    }
}

#[test]
fn hyperparameters_are_validated() {
    let bad = |r: Result<Adam, Error>| matches!(r, Err(Error::InvalidHyperparameter { .. }));
    assert!(bad(Adam::with_params(0.1, 1.0, 0.999, 1e-8)), "beta1 = 1");
    assert!(bad(Adam::with_params(0.1, -0.1, 0.999, 1e-8)), "beta1 < 0");
    assert!(bad(Adam::with_params(0.1, 0.9, 1.0, 1e-8)), "beta2 = 1");
    assert!(
        bad(Adam::with_params(0.1, 0.9, f32::NAN, 1e-8)),
        "beta2 NaN"
    );
    assert!(bad(Adam::with_params(0.1, 0.9, 0.999, 0.0)), "eps = 0");
    assert!(
        bad(Adam::with_params(0.1, 0.9, 0.999, f32::INFINITY)),
        "eps inf"
    );
    assert!(
        Adam::with_params(0.1, 0.0, 0.0, 1e-8).is_ok(),
        "zero betas are allowed"
    );
    assert!(Sgd::new(0.1, 1.0).is_err(), "momentum = 1");
    assert!(Sgd::new(0.1, -0.5).is_err(), "negative momentum");
    assert!(Sgd::new(0.1, 0.0).is_ok());
    assert!(Reinforce::with_moving_average(1.0).is_err(), "decay = 1");
    assert!(
        Reinforce::with_moving_average(f32::NAN).is_err(),
        "decay NaN"
    );
    assert!(
        Reinforce::with_constant(f32::INFINITY).is_err(),
        "infinite baseline"
    );

    let mut r = rng(0);
    let mut nvil = Nvil::<6, 4, 4>::zeroed();
    assert!(
        nvil.reset(f32::NAN, 0.8, true, &mut r).is_err(),
        "NVIL lr NaN"
    );
    assert!(nvil.reset(0.0, 0.8, true, &mut r).is_err(), "NVIL lr 0");
    assert!(nvil.reset(1e-3, 1.0, true, &mut r).is_err(), "NVIL decay 1");
    assert!(
        nvil.reset(1e-3, -0.2, true, &mut r).is_err(),
        "NVIL decay < 0"
    );
    assert!(nvil.reset(1e-3, 0.8, true, &mut r).is_ok());
    let mut learned = LearnedMuProp::<6, 4, 2, 4>::zeroed();
    assert!(
        learned.reset(f32::INFINITY, &mut r).is_err(),
        "learned MuProp lr inf"
    );
    assert!(
        learned.reset(-1e-3, &mut r).is_err(),
        "learned MuProp lr < 0"
    );
    assert!(learned.reset(1e-3, &mut r).is_ok());
}

#[test]
fn zero_evaluation_samples_are_rejected() {
    let net: Net = network(3, 1.0);
    let mut replicas = Replicas::<6, 3, 4>::zeroed();
    let mut ws = Ws::new();
    let (x, y) = batch();
    let got = negative_log_likelihood(&net, &x[0], &y[0], 0, &mut replicas, &mut ws, &mut rng(0));
    assert!(
        matches!(
            got,
            Err(Error::InvalidCount {
                name: "samples",
                ..
            })
        ),
        "{got:?}"
    );
}

#[test]
fn malformed_minibatches_are_errors() {
    let mut net: Net = network(3, 1.0);
    let mut grad = Net::zeroed();
    let adam = Adam::new(0.01).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut ws = Ws::new();
    let (x, y) = batch();
    let mut r = rng(0);
    let mut est = MuProp::new();
    let err = train_step(
        &mut net,
        &adam,
        &mut state,
        &mut est,
        &x[..0],
        &y[..0],
        &mut ws,
        &mut grad,
        &mut r,
    );
    assert_eq!(err, Err(Error::EmptyBatch));
    let err = train_step(
        &mut net,
        &adam,
        &mut state,
        &mut est,
        &x[..3],
        &y[..2],
        &mut ws,
        &mut grad,
        &mut r,
    );
    assert_eq!(
        err,
        Err(Error::BatchMismatch {
            inputs: 3,
            targets: 2
        })
    );
}

/// A one-parameter set, to apply optimisers to chosen gradients.
#[derive(Clone, Copy, Zeroable)]
struct Scalar([f32; 1]);

impl Tensors for Scalar {
    const COUNT: usize = 1;
    fn tensor(&self, k: usize) -> &[f32] {
        if k == 0 {
            &self.0
        } else {
            &[]
        }
    }
    fn tensor_mut(&mut self, k: usize) -> &mut [f32] {
        if k == 0 {
            &mut self.0
        } else {
            &mut []
        }
    }
}

#[test]
fn adam_first_step_matches_numerics_table() {
    // NUMERICS.md: t = 1, lr 1e-3, betas (0.9, 0.999), eps 1e-8 added to sqrt(v_hat).
    let adam = Adam::with_params(1e-3, 0.9, 0.999, 1e-8).unwrap();
    for (g, step) in [(1e-8f32, 5.0e-4f32), (1e-6, 9.90099e-4), (1.0, 1.0e-3)] {
        let mut p = Scalar([0.0]);
        let mut state = AdamState::<Scalar>::new();
        adam.update(&mut p, &Scalar([g]), &mut state);
        assert_eq!(state.t, 1, "the step counter starts at 1");
        let got = -p.0[0];
        assert!(
            (got - step).abs() <= 1e-6 * step,
            "gradient {g}: step {got}, expected {step}"
        );
    }
}

#[test]
fn sgd_with_momentum_follows_its_formula() {
    let sgd = Sgd::new(0.1, 0.5).unwrap();
    let mut p = Scalar([1.0]);
    let mut state = SgdState::<Scalar>::new();
    sgd.update(&mut p, &Scalar([2.0]), &mut state); // v = 2, p = 1 - 0.2
    sgd.update(&mut p, &Scalar([2.0]), &mut state); // v = 3, p = 0.8 - 0.3
    assert!((p.0[0] - 0.5).abs() < 1e-6, "{}", p.0[0]);
}

#[test]
fn reinforce_surrogate_matches_numerics_table() {
    // NUMERICS.md: reward 1.0, baseline 0.3, action 1 at logit 0: logit gradient 0.35. Our
    // loss plays the reward's role with the same sign convention as the table's surrogate.
    let mut est = Reinforce::with_constant(0.3).unwrap();
    let mut delta = [0.0f32];
    let mut view = LayerView {
        width: 1,
        logits: &[0.0],
        mean: &[0.5],
        sample: &[1.0],
        mf_logits: &[0.0],
        mf_mean: &[0.5],
        mf_grad: &[0.0],
        delta: &mut delta,
        classes: 1,
        states: 2,
        words: &[0],
        vjp: Bernoulli::mean_vjp,
        log_prob: Bernoulli::log_prob,
    };
    est.logit_gradient(0, &mut view, &[1.0], &[0.0]);
    assert!((delta[0] - 0.35).abs() < 1e-7, "{}", delta[0]);
}

#[test]
fn muprop_logit_gradient_follows_its_formula() {
    // One layer of 2 units, by hand: r = f - fbar - g.(x - xbar);
    // delta = r (x - mu) + g sigmoid'(a).
    let (a, x, xbar, g) = (
        [0.4f32, -1.2],
        [1.0f32, 0.0],
        [0.55f32, 0.3],
        [0.8f32, -0.5],
    );
    let mu = a.map(|v| 1.0 / (1.0 + (-v).exp()));
    let (f, fbar) = (2.0f32, 1.5f32);
    let r = f - fbar - (g[0] * (x[0] - xbar[0]) + g[1] * (x[1] - xbar[1]));
    let mut delta = [0.0f32; 2];
    let mut view = LayerView {
        width: 2,
        logits: &a,
        mean: &mu,
        sample: &x,
        mf_logits: &[0.0, 0.0],
        mf_mean: &xbar,
        mf_grad: &g,
        delta: &mut delta,
        classes: 1,
        states: 4,
        words: &[0, 0],
        vjp: Bernoulli::mean_vjp,
        log_prob: Bernoulli::log_prob,
    };
    MuProp::new().logit_gradient(0, &mut view, &[f], &[fbar]);
    for j in 0..2 {
        let expected = r * (x[j] - mu[j]) + g[j] * mu[j] * (1.0 - mu[j]);
        assert!(
            (delta[j] - expected).abs() < 1e-6,
            "unit {j}: {} vs {expected}",
            delta[j]
        );
    }
}

#[test]
fn a_392_200_200_392_network_is_built_on_the_heap() {
    type Big = Sbn2<392, 200, 200, 392>;
    let mut net = muprop::boxed_zeroed::<Big>();
    net.init(&mut rng(1));
    let grad = muprop::boxed_zeroed::<Big>();
    let state = muprop::boxed_zeroed::<AdamState<Big>>();
    let ws = muprop::boxed_zeroed::<WorkspaceFor<Big, 392, 392, 100>>();
    let params = 392 * 200 + 200 + 200 * 200 + 200 + 200 * 392 + 392;
    assert_eq!(net.scalar_count(), params);
    assert_eq!(
        grad.scalar_count() + state.m.scalar_count() + state.v.scalar_count(),
        3 * params
    );
    assert!(std::mem::size_of_val(&*ws) > 1_000_000);
    assert!(net.all_finite());
}

#[test]
fn the_loss_falls_under_muprop_and_sgd() {
    let mut net: Net = network(3, 1.0);
    let mut grad = Net::zeroed();
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    let mut state = SgdState::<Net>::new();
    let mut ws = Ws::new();
    let mut r = rng(5);
    let (x, y) = batch();
    let mut ws1 = Workspace::<<Net as Network<6, 3>>::Trace<1>, 1>::zeroed();
    let before = muprop::exact_loss(&net, &x, &y, &mut ws1).unwrap();
    for _ in 0..400 {
        train_step(
            &mut net,
            &sgd,
            &mut state,
            &mut MuProp::new(),
            &x,
            &y,
            &mut ws,
            &mut grad,
            &mut r,
        )
        .unwrap();
    }
    let after = muprop::exact_loss(&net, &x, &y, &mut ws1).unwrap();
    assert!(after < 0.85 * before, "exact E[f] {before} -> {after}");
}
