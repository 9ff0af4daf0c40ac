//! The training step: determinism, the non-finite guard (every site, every optimiser and
//! stateful estimator), hyperparameter validation (one test per rule family, table-driven), the
//! optimisers against NUMERICS.md, and heap construction of a large network.

mod common;

use common::{flat, network, rng};
use muprop::{
    negative_log_likelihood, train_step, Adam, AdamState, Bernoulli, Error, Estimator, LayerView,
    LearnedMuProp, MovingAverage, MuProp, Network, Nvil, Optimizer, Refusal, Reinforce, Replicas,
    Sbn2, Sgd, SgdState, StepStatus, Tensors, Units, Workspace, WorkspaceFor, Zeroable,
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

/// Every scalar of a parameter set, as raw bits.
fn bits<P: Tensors>(p: &P) -> Vec<u32> {
    flat(p).iter().map(|v| v.to_bits()).collect()
}

/// The bits of everything an optimiser's state holds.
trait StateBits: Clone {
    fn state_bits(&self) -> Vec<u32>;
}

impl StateBits for AdamState<Net> {
    fn state_bits(&self) -> Vec<u32> {
        let mut b = bits(&self.m);
        b.extend(bits(&self.v));
        b.push(self.t);
        b
    }
}

impl StateBits for SgdState<Net> {
    fn state_bits(&self) -> Vec<u32> {
        bits(&self.velocity)
    }
}

/// An estimator with the bits of every public scalar of its state.
trait EstimatorBits: Estimator + Clone {
    fn state_bits(&self) -> Vec<u32>;
}

impl EstimatorBits for MuProp {
    fn state_bits(&self) -> Vec<u32> {
        Vec::new()
    }
}

impl EstimatorBits for Reinforce {
    fn state_bits(&self) -> Vec<u32> {
        vec![self.baseline().to_bits()]
    }
}

type NvilEst = Nvil<6, 4, 4>;
type LearnedEst = LearnedMuProp<6, 4, 2, 4>;

impl EstimatorBits for NvilEst {
    fn state_bits(&self) -> Vec<u32> {
        let mut b = bits(&self.baseline);
        b.extend(bits(&self.grad));
        b.extend(bits(&self.state.m));
        b.extend(bits(&self.state.v));
        b.push(self.state.t);
        let moments = [self.center, self.variance, self.signal_scale()];
        b.extend(moments.map(f32::to_bits));
        b
    }
}

impl EstimatorBits for LearnedEst {
    fn state_bits(&self) -> Vec<u32> {
        let mut b = bits(&self.control);
        b.extend(bits(&self.grad));
        b.extend(bits(&self.state.m));
        b.extend(bits(&self.state.v));
        b.push(self.state.t);
        let [(a, b0), (c, d)] = [self.scalings(0), self.scalings(1)];
        b.extend([a, b0, c, d].map(f32::to_bits));
        b
    }
}

fn nvil() -> NvilEst {
    let mut e = NvilEst::zeroed();
    e.reset(0.01, 0.8, true, &mut rng(7)).unwrap();
    e
}

fn learned() -> LearnedEst {
    let mut e = LearnedEst::zeroed();
    e.reset(0.01, &mut rng(8)).unwrap();
    e
}

type Batch = ([[f32; 6]; 5], [[f32; 3]; 5]);

/// One step of `est` with `opt`; returns its stats and the bits of everything it may change.
fn step_bits<E: EstimatorBits, O: Optimizer<Net>>(
    net: &mut Net,
    opt: &O,
    state: &mut O::State,
    est: &mut E,
    (x, y): &Batch,
    seed: u64,
) -> (muprop::StepStats, Vec<u32>)
where
    O::State: StateBits,
{
    let (mut ws, mut grad) = (Ws::new(), Net::zeroed());
    let s = train_step(
        net,
        opt,
        state,
        est,
        x,
        y,
        &mut ws,
        &mut grad,
        &mut rng(seed),
    )
    .unwrap();
    let mut b = bits(net);
    b.extend(state.state_bits());
    b.extend(est.state_bits());
    (s, b)
}

/// Trains 3 good steps of `est` with `opt`, applies `poison` (to the batch, the parameters or
/// the estimator), and checks that the next step is refused with `why` and leaves every bit of
/// the parameters, the optimiser state and the estimator's public state as it was; then that
/// one more step from there gives the same bits as from a copy taken before the refused step,
/// so nothing private to the estimator moved either.
fn assert_refused<E: EstimatorBits, O: Optimizer<Net>>(
    label: &str,
    why: Refusal,
    mut est: E,
    opt: &O,
    mut state: O::State,
    poison: impl Fn(&mut Batch, &mut Net, &mut E),
) where
    O::State: StateBits,
{
    let mut net: Net = network(3, 1.0);
    let mut grad = Net::zeroed();
    let mut ws = Ws::new();
    let mut r = rng(2);
    let mut data = batch();
    for _ in 0..3 {
        let (x, y) = &data;
        let s = train_step(
            &mut net, opt, &mut state, &mut est, x, y, &mut ws, &mut grad, &mut r,
        )
        .unwrap();
        assert!(s.applied(), "{label}: warm-up step refused");
    }
    let clean_net = net;
    poison(&mut data, &mut net, &mut est);
    let (net_before, state_before, est_before) = (bits(&net), state.state_bits(), est.clone());

    let (x, y) = &data;
    let s = train_step(
        &mut net, opt, &mut state, &mut est, x, y, &mut ws, &mut grad, &mut r,
    )
    .unwrap();
    assert_eq!(s.status, StepStatus::Refused(why), "{label}");
    assert!(!s.applied(), "{label}");
    match why {
        Refusal::NonFiniteLoss => assert!(!s.loss.is_finite(), "{label}: loss {}", s.loss),
        Refusal::NonFiniteGradient => assert!(s.loss.is_finite(), "{label}: loss {}", s.loss),
        _ => assert!(s.loss.is_nan(), "{label}: loss {} before any pass", s.loss),
    }
    assert!(bits(&net) == net_before, "{label}: parameters changed");
    assert!(
        state.state_bits() == state_before,
        "{label}: optimiser state changed"
    );
    assert!(
        est.state_bits() == est_before.state_bits(),
        "{label}: estimator state changed"
    );

    let mut st2 = state.clone();
    let after = step_bits(
        &mut clean_net.clone(),
        opt,
        &mut st2,
        &mut est,
        &batch(),
        11,
    );
    let mut est_before = est_before;
    let mut st2 = state.clone();
    let control = step_bits(
        &mut clean_net.clone(),
        opt,
        &mut st2,
        &mut est_before,
        &batch(),
        11,
    );
    assert!(
        after == control,
        "{label}: the refused step changed the next one"
    );
}

/// The batch's value at each site of the guard, and the refusal each gives.
const SITES: [(&str, Refusal); 3] = [
    ("input", Refusal::NonFiniteInput),
    ("target", Refusal::NonFiniteTarget),
    ("weight", Refusal::NonFiniteParameter),
];

/// NaN, +inf and -inf at every site (an input, a target, a first-layer weight; input 1 of layer
/// 1 is zero in some rows, so a bad weight there need not reach every loss), then a loss that
/// overflows while every value is finite (huge output weights).
fn refuse_everywhere<E: EstimatorBits, O: Optimizer<Net>>(
    label: &str,
    est: impl Fn() -> E,
    opt: &O,
    state: O::State,
) where
    O::State: StateBits,
{
    for (site, why) in SITES {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let case = format!("{label}, {bad} {site}");
            assert_refused(
                &case,
                why,
                est(),
                opt,
                state.clone(),
                |(x, y), net, _| match site {
                    "input" => x[2][3] = bad,
                    "target" => y[4][0] = bad,
                    _ => net.stage.w[1][2] = bad,
                },
            );
        }
    }
    let case = format!("{label}, overflowing loss");
    assert_refused(
        &case,
        Refusal::NonFiniteLoss,
        est(),
        opt,
        state,
        |_, net, _| {
            for row in net.rest.rest.linear.w.iter_mut() {
                row.fill(3.0e38);
            }
            net.rest.rest.linear.b.fill(3.0e38);
        },
    );
}

/// Output biases of 1e32: every row's loss is 1e32 per zero target (softplus(1e32) = 1e32),
/// finite, and large enough that adding f32::MAX to it overflows (half an ulp of f32::MAX is
/// 2^103 = 1.0e31).
fn huge_finite_loss(net: &mut Net) {
    net.rest.rest.linear.b.fill(1.0e32);
}

#[test]
fn non_finite_values_are_refused_with_reinforce_and_adam() {
    let adam = Adam::new(0.01).unwrap();
    let est = || Reinforce::with_moving_average(0.5).unwrap();
    refuse_everywhere("REINFORCE + Adam", est, &adam, AdamState::<Net>::new());
}

#[test]
fn non_finite_values_are_refused_with_sgd_momentum() {
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    refuse_everywhere("MuProp + SGD", MuProp::new, &sgd, SgdState::<Net>::new());
}

#[test]
fn non_finite_values_are_refused_with_nvil() {
    let adam = Adam::new(0.01).unwrap();
    refuse_everywhere("NVIL + Adam", nvil, &adam, AdamState::<Net>::new());
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    refuse_everywhere("NVIL + SGD", nvil, &sgd, SgdState::<Net>::new());
}

#[test]
fn non_finite_values_are_refused_with_learned_muprop() {
    let adam = Adam::new(0.01).unwrap();
    refuse_everywhere(
        "learned MuProp + Adam",
        learned,
        &adam,
        AdamState::<Net>::new(),
    );
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    refuse_everywhere(
        "learned MuProp + SGD",
        learned,
        &sgd,
        SgdState::<Net>::new(),
    );
}

#[test]
fn non_finite_gradient_of_a_finite_loss_is_refused_with_reinforce() {
    // A constant baseline of -f32::MAX is a valid hyperparameter (finite), and the signal
    // f - c = 1e32 + f32::MAX overflows to inf, so delta = inf (x - mu) is infinite (mu is
    // strictly inside (0, 1) at these logits) while the loss is 1e32 or 2e32 per row.
    let adam = Adam::new(0.01).unwrap();
    let est = Reinforce::with_moving_average(0.5).unwrap();
    let state = AdamState::<Net>::new();
    assert_refused(
        "REINFORCE + Adam, signal overflow",
        Refusal::NonFiniteGradient,
        est,
        &adam,
        state,
        |_, net, est| {
            huge_finite_loss(net);
            *est = Reinforce::with_constant(-f32::MAX).unwrap();
        },
    );
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    let est = Reinforce::with_constant(-f32::MAX).unwrap();
    let state = SgdState::<Net>::new();
    // Warm-up with c = -f32::MAX is finite: f - c rounds to f32::MAX while f < 1e31.
    assert_refused(
        "REINFORCE + SGD, signal overflow",
        Refusal::NonFiniteGradient,
        est,
        &sgd,
        state,
        |_, net, _| huge_finite_loss(net),
    );
}

#[test]
fn non_finite_gradient_of_a_finite_loss_is_refused_with_nvil() {
    // A learned baseline at -f32::MAX (a finite parameter): e = f - b - c = 1e32 + f32::MAX - c
    // overflows, so the signal and delta are infinite while the loss is finite. The step has
    // already accumulated the baseline's gradient and the moments when it is refused.
    let adam = Adam::new(0.01).unwrap();
    let state = AdamState::<Net>::new();
    assert_refused(
        "NVIL + Adam, signal overflow",
        Refusal::NonFiniteGradient,
        nvil(),
        &adam,
        state,
        |_, net, est| {
            huge_finite_loss(net);
            est.baseline.out.b = [-f32::MAX];
        },
    );
}

#[test]
fn non_finite_gradient_of_a_finite_loss_is_refused_with_learned_muprop() {
    // eta0 = 2 sigmoid(-100) = 7e-44 and baselines at -f32::MAX (finite parameters): r = f -
    // eta0 fbar - eta1 fbar'.(x - xbar) - b = 1e32 + f32::MAX - (small) overflows, so delta is
    // infinite while the loss is finite.
    let sgd = Sgd::new(0.05, 0.9).unwrap();
    let state = SgdState::<Net>::new();
    assert_refused(
        "learned MuProp + SGD, residual overflow",
        Refusal::NonFiniteGradient,
        learned(),
        &sgd,
        state,
        |_, net, est| {
            huge_finite_loss(net);
            est.control.v0 = [-100.0; 2];
            est.control.baseline.out.b = [-f32::MAX; 2];
        },
    );
}

#[test]
fn learning_rate_setters_reject_bad_rates_and_keep_the_old_one() {
    let bad = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        -1e-3,
        -f32::MAX,
    ];
    let mut adam = Adam::new(0.1).unwrap();
    let mut sgd = Sgd::new(0.2, 0.9).unwrap();
    for lr in bad {
        let got = Optimizer::<Net>::set_learning_rate(&mut adam, lr);
        expect_rule("Adam::set_learning_rate", lr, got, Some("learning rate"));
        assert_eq!(
            Optimizer::<Net>::learning_rate(&adam),
            0.1,
            "Adam kept {lr}"
        );
        let got = Optimizer::<Net>::set_learning_rate(&mut sgd, lr);
        expect_rule("Sgd::set_learning_rate", lr, got, Some("learning rate"));
        assert_eq!(Optimizer::<Net>::learning_rate(&sgd), 0.2, "SGD kept {lr}");
    }
    for lr in [0.5, f32::MAX, f32::from_bits(1)] {
        Optimizer::<Net>::set_learning_rate(&mut adam, lr).unwrap();
        assert_eq!(Optimizer::<Net>::learning_rate(&adam), lr);
        Optimizer::<Net>::set_learning_rate(&mut sgd, lr).unwrap();
        assert_eq!(Optimizer::<Net>::learning_rate(&sgd), lr);
    }
}

/// Checks one validation rule: `got` must be `Ok` if `reject` is `None`, else an error naming
/// the hyperparameter `reject` (and, for a float, reporting `value` bit for bit).
fn expect_rule(rule: &str, value: f32, got: Result<(), Error>, reject: Option<&str>) {
    match (got, reject) {
        (Ok(()), None) => {}
        (Err(Error::InvalidHyperparameter { name, value: v, .. }), Some(want)) => {
            assert_eq!(name, want, "rule `{rule}` at {value}: wrong name");
            assert_eq!(
                v.to_bits(),
                value.to_bits(),
                "rule `{rule}`: reported {v}, given {value}"
            );
        }
        (Err(Error::InvalidCount { name, .. }), Some(want)) => {
            assert_eq!(name, want, "rule `{rule}`: wrong name");
        }
        (got, want) => panic!(
            "rule `{rule}` at {value}: expected {}, got {got:?}",
            want.map_or("Ok".to_string(), |n| format!("a rejection of {n}"))
        ),
    }
}

/// One row of a rule table: the rule, the value tried, what the constructor or setter
/// returned, and the name it must reject under (`None`: it must accept).
type Rule<'a> = (&'a str, f32, Result<(), Error>, Option<&'a str>);

/// Runs a table of rules.
fn check_rules(rules: &[Rule<'_>]) {
    for (rule, value, got, reject) in rules {
        expect_rule(rule, *value, *got, *reject);
    }
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
/// The largest `f32` below 1.
const BELOW_ONE: f32 = 0.99999994;

#[test]
fn adam_learning_rate_rule() {
    let lr = |v: f32| Adam::new(v).map(drop);
    let name = Some("learning rate");
    check_rules(&[
        ("lr finite", NAN, lr(NAN), name),
        ("lr finite", INF, lr(INF), name),
        ("lr > 0", 0.0, lr(0.0), name),
        ("lr > 0", -0.0, lr(-0.0), name),
        ("lr > 0", -1.0, lr(-1.0), name),
        ("lr > 0", 1e-3, lr(1e-3), None),
    ]);
}

#[test]
fn adam_beta1_rule() {
    let b1 = |v: f32| Adam::with_params(0.1, v, 0.999, 1e-8).map(drop);
    let name = Some("beta1");
    check_rules(&[
        ("beta1 finite", NAN, b1(NAN), name),
        ("beta1 finite", INF, b1(INF), name),
        ("beta1 finite", -INF, b1(-INF), name),
        ("beta1 >= 0", -0.1, b1(-0.1), name),
        ("beta1 < 1", 1.0, b1(1.0), name),
        ("beta1 < 1", 1.5, b1(1.5), name),
        ("beta1 = 0 allowed", 0.0, b1(0.0), None),
        ("beta1 just below 1 allowed", BELOW_ONE, b1(BELOW_ONE), None),
    ]);
}

#[test]
fn adam_beta2_rule() {
    let b2 = |v: f32| Adam::with_params(0.1, 0.9, v, 1e-8).map(drop);
    let name = Some("beta2");
    check_rules(&[
        ("beta2 finite", NAN, b2(NAN), name),
        ("beta2 finite", INF, b2(INF), name),
        ("beta2 >= 0", -0.1, b2(-0.1), name),
        ("beta2 >= 0", -INF, b2(-INF), name),
        ("beta2 < 1", 1.0, b2(1.0), name),
        ("beta2 < 1", 2.0, b2(2.0), name),
        ("beta2 = 0 allowed", 0.0, b2(0.0), None),
        ("beta2 just below 1 allowed", BELOW_ONE, b2(BELOW_ONE), None),
    ]);
}

#[test]
fn adam_eps_rule() {
    // eps must be a positive normal number: a subnormal eps acts as 0 where subnormals are
    // flushed, and the first update of a zero gradient would divide 0 by 0.
    let eps = |v: f32| Adam::with_params(0.1, 0.9, 0.999, v).map(drop);
    let name = Some("eps");
    let tiniest = f32::from_bits(1);
    check_rules(&[
        ("eps finite", NAN, eps(NAN), name),
        ("eps finite", INF, eps(INF), name),
        ("eps > 0", 0.0, eps(0.0), name),
        ("eps > 0", -0.0, eps(-0.0), name),
        ("eps > 0", -1e-8, eps(-1e-8), name),
        ("eps not subnormal", 1e-39, eps(1e-39), name),
        ("eps not subnormal", tiniest, eps(tiniest), name),
        (
            "eps = f32::MIN_POSITIVE allowed",
            f32::MIN_POSITIVE,
            eps(f32::MIN_POSITIVE),
            None,
        ),
        ("eps = 1e-8 allowed", 1e-8, eps(1e-8), None),
        ("eps = f32::MAX allowed", f32::MAX, eps(f32::MAX), None),
    ]);
}

#[test]
fn sgd_rules() {
    let lr = |v: f32| Sgd::new(v, 0.9).map(drop);
    let m = |v: f32| Sgd::new(0.1, v).map(drop);
    let (rate, momentum) = (Some("learning rate"), Some("momentum"));
    check_rules(&[
        ("lr finite", NAN, lr(NAN), rate),
        ("lr finite", INF, lr(INF), rate),
        ("lr > 0", 0.0, lr(0.0), rate),
        ("lr > 0", -1.0, lr(-1.0), rate),
        ("momentum finite", NAN, m(NAN), momentum),
        ("momentum finite", INF, m(INF), momentum),
        ("momentum finite", -INF, m(-INF), momentum),
        ("momentum >= 0", -0.5, m(-0.5), momentum),
        ("momentum < 1", 1.0, m(1.0), momentum),
        ("momentum < 1", 2.0, m(2.0), momentum),
        ("momentum = 0 allowed", 0.0, m(0.0), None),
        (
            "momentum just below 1 allowed",
            BELOW_ONE,
            m(BELOW_ONE),
            None,
        ),
    ]);
    assert_eq!(Sgd::new(0.1, 0.5).unwrap().momentum(), 0.5);
}

#[test]
fn moving_average_and_reinforce_rules() {
    let ma = |v: f32| MovingAverage::new(v).map(drop);
    let reinforce_ma = |v: f32| Reinforce::with_moving_average(v).map(drop);
    let c = |v: f32| Reinforce::with_constant(v).map(drop);
    let (decay, baseline) = (Some("decay"), Some("baseline"));
    check_rules(&[
        ("decay finite", NAN, ma(NAN), decay),
        ("decay finite", INF, ma(INF), decay),
        ("decay >= 0", -0.1, ma(-0.1), decay),
        ("decay >= 0", -INF, ma(-INF), decay),
        ("decay < 1", 1.0, ma(1.0), decay),
        ("decay < 1", 1.5, ma(1.5), decay),
        ("decay = 0 allowed", 0.0, ma(0.0), None),
        ("decay just below 1 allowed", BELOW_ONE, ma(BELOW_ONE), None),
        ("REINFORCE decay finite", NAN, reinforce_ma(NAN), decay),
        ("REINFORCE decay < 1", 1.0, reinforce_ma(1.0), decay),
        ("REINFORCE decay >= 0", -0.1, reinforce_ma(-0.1), decay),
        ("REINFORCE decay 0.9 allowed", 0.9, reinforce_ma(0.9), None),
        ("constant baseline finite", NAN, c(NAN), baseline),
        ("constant baseline finite", INF, c(INF), baseline),
        ("constant baseline finite", -INF, c(-INF), baseline),
        (
            "constant baseline f32::MAX allowed",
            f32::MAX,
            c(f32::MAX),
            None,
        ),
        (
            "constant baseline -f32::MAX allowed",
            -f32::MAX,
            c(-f32::MAX),
            None,
        ),
        ("constant baseline 0 allowed", 0.0, c(0.0), None),
    ]);
}

#[test]
fn nvil_reset_rules() {
    let start = nvil();
    let mut est = start;
    let mut reset = |lr: f32, decay: f32| {
        let got = est.reset(lr, decay, true, &mut rng(1)).map(drop);
        if got.is_err() {
            assert!(
                est.state_bits() == start.state_bits(),
                "a rejected reset changed the estimator"
            );
        }
        got
    };
    let (rate, decay) = (Some("learning rate"), Some("decay"));
    check_rules(&[
        ("lr finite", INF, reset(INF, 0.8), rate),
        ("lr finite", NAN, reset(NAN, 0.8), rate),
        ("lr > 0", -1e-3, reset(-1e-3, 0.8), rate),
        ("lr > 0", 0.0, reset(0.0, 0.8), rate),
        ("decay finite", NAN, reset(1e-3, NAN), decay),
        ("decay finite", INF, reset(1e-3, INF), decay),
        ("decay >= 0", -0.2, reset(1e-3, -0.2), decay),
        ("decay < 1", 1.0, reset(1e-3, 1.0), decay),
        ("decay < 1", 1.5, reset(1e-3, 1.5), decay),
    ]);
    check_rules(&[
        ("decay = 0 allowed", 0.0, reset(1e-3, 0.0), None),
        ("decay 0.8 allowed", 0.8, reset(1e-3, 0.8), None),
    ]);
}

#[test]
fn learned_muprop_reset_rules() {
    let start = learned();
    let mut est = start;
    let mut reset = |lr: f32| {
        let got = est.reset(lr, &mut rng(1)).map(drop);
        if got.is_err() {
            assert!(
                est.state_bits() == start.state_bits(),
                "a rejected reset changed the estimator"
            );
        }
        got
    };
    let rate = Some("learning rate");
    check_rules(&[
        ("lr finite", NAN, reset(NAN), rate),
        ("lr finite", INF, reset(INF), rate),
        ("lr finite", -INF, reset(-INF), rate),
        ("lr > 0", 0.0, reset(0.0), rate),
        ("lr > 0", -1e-3, reset(-1e-3), rate),
    ]);
    check_rules(&[("lr 1e-3 allowed", 1e-3, reset(1e-3), None)]);
}

#[test]
fn binarization_threshold_rule() {
    use muprop::data::{Binarization, DataError};
    for t in [NAN, INF, -INF, -0.5, 1.0, 1.5] {
        let got = Binarization::Threshold(t).validate();
        assert!(
            matches!(got, Err(DataError::InvalidThreshold { threshold }) if threshold.to_bits() == t.to_bits()),
            "rule `threshold in [0, 1)` at {t}: {got:?}"
        );
    }
    for t in [0.0, 0.5, BELOW_ONE] {
        assert!(
            Binarization::Threshold(t).validate().is_ok(),
            "rule `threshold in [0, 1)`: {t} rejected"
        );
    }
}

#[test]
fn a_workspace_of_no_rows_is_rejected() {
    // B = 0 is a count the types allow; without the check every step would process no row and
    // apply a zero gradient (advancing Adam's counter and the baselines).
    let mut net: Net = network(3, 1.0);
    let before = bits(&net);
    let mut grad = Net::zeroed();
    let adam = Adam::new(0.01).unwrap();
    let mut state = AdamState::<Net>::new();
    let mut ws0 = WorkspaceFor::<Net, 6, 3, 0>::new();
    let (x, y) = batch();
    let mut est = Reinforce::with_moving_average(0.5).unwrap();
    let got = train_step(
        &mut net,
        &adam,
        &mut state,
        &mut est,
        &x,
        &y,
        &mut ws0,
        &mut grad,
        &mut rng(0),
    )
    .map(drop);
    expect_rule("train_step B >= 1", 0.0, got, Some("rows per chunk"));
    assert!(bits(&net) == before && state.t == 0 && est.baseline() == 0.0);
    let got = muprop::gradient(&net, &mut est, &x, &y, &mut ws0, &mut grad, &mut rng(0));
    expect_rule(
        "gradient B >= 1",
        0.0,
        got.map(drop),
        Some("rows per chunk"),
    );
}

#[cfg(feature = "parallel")]
#[test]
fn parallel_counts_are_validated() {
    use muprop::parallel::Parallel;
    let zero_rows = Parallel::<Net, MuProp, 6, 3, 0>::new(2).map(drop);
    let zero_threads = Parallel::<Net, MuProp, 6, 3, 4>::new(0).map(drop);
    let fine = Parallel::<Net, MuProp, 6, 3, 4>::new(1).map(drop);
    check_rules(&[
        ("Parallel B >= 1", 0.0, zero_rows, Some("rows per chunk")),
        ("Parallel threads >= 1", 0.0, zero_threads, Some("threads")),
        ("Parallel B = 4, 1 thread allowed", 0.0, fine, None),
    ]);
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
fn sgd_without_momentum_matches_the_general_rule_and_keeps_the_velocity() {
    // Momentum 0 runs plain SGD (`p -= lr g`); the general rule `v = 0 v + g; p -= lr v` is
    // the reference twin `sgd_momentum`. Parameter bits must agree for every finite velocity
    // and every gradient but -0.0, and the velocity must be left as it was.
    let lr = 0.05;
    let sgd = Sgd::new(lr, 0.0).unwrap();
    let values: [f32; 10] = [
        0.0, -0.0, 1.0, -1.0, 1e-39, -1e-39, 3.5, -2.25e-20, 1e30, -7e-45,
    ];
    for p0 in values {
        for g in values
            .into_iter()
            .filter(|g| g.to_bits() != (-0.0f32).to_bits())
        {
            for v0 in [0.0f32, -0.0, 0.7, -0.3, 1e-39, -3e38] {
                let (mut p, mut state) = (
                    Scalar([p0]),
                    SgdState {
                        velocity: Scalar([v0]),
                    },
                );
                sgd.update(&mut p, &Scalar([g]), &mut state);
                let (mut p_ref, mut v_ref) = ([p0], [v0]);
                muprop::kernels::reference::sgd_momentum(&mut p_ref, &[g], &mut v_ref, lr, 0.0);
                assert_eq!(
                    p.0[0].to_bits(),
                    p_ref[0].to_bits(),
                    "p {p0:e}, g {g:e}, v {v0:e}: plain SGD gave {:e}, the general rule {:e}",
                    p.0[0],
                    p_ref[0]
                );
                assert_eq!(
                    state.velocity.0[0].to_bits(),
                    v0.to_bits(),
                    "velocity written"
                );
            }
        }
    }

    // The documented exception: a -0.0 gradient on a -0.0 parameter with a velocity >= +0.0.
    let (mut p, mut state) = (Scalar([-0.0]), SgdState::<Scalar>::new());
    sgd.update(&mut p, &Scalar([-0.0]), &mut state);
    let (mut p_ref, mut v_ref) = ([-0.0f32], [0.0f32]);
    muprop::kernels::reference::sgd_momentum(&mut p_ref, &[-0.0], &mut v_ref, lr, 0.0);
    assert_eq!(
        (p.0[0].to_bits(), p_ref[0].to_bits()),
        (0.0f32.to_bits(), (-0.0f32).to_bits())
    );
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
