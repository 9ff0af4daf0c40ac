//! Unbiasedness against the exact-enumeration oracle.
//!
//! For each network (1, 2 and 3 stochastic layers, at most 12 stochastic units, non-trivial
//! weights) and each estimator, the mean of `DRAWS` independent single-sample estimates is
//! compared with the exact gradient, parameter by parameter, as
//! `z = (mean - exact) / (sd / sqrt(DRAWS))`. With `P` parameters the family-wise two-sided
//! level is `ALPHA`, so each |z| must stay below the Bonferroni bound `z*(ALPHA / P)`
//! (about 4.4 to 4.7 here). Seeds are fixed, so each test is deterministic. Biased estimators
//! (the MuProp negative control and straight-through) must exceed the bound by a wide margin.
//!
//! Most cases freeze the estimator's own state (baselines, running moments) during the draws.
//! The `*_updated_between_draws_*` cases instead let it evolve as in training, one step per
//! draw, so each draw's baseline depends on the earlier draws only (see
//! `common::estimate_moments_online` for why the test still applies).

mod common;

use common::{
    estimate_moments, estimate_moments_online, exact, network, two_sided_quantile, warm_up, worst,
    z_scores,
};
use muprop::{
    Arm, Bernoulli, BernoulliLayer, BernoulliOutput, Categorical, CategoricalLayer, DisArm,
    Estimator, Layers, LeakyRelu, LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Network,
    Nonlinear, Nvil, Reinforce, Sbn1, Sbn2, Sbn3, StraightThrough, Tanh, Tensors, Workspace,
    Zeroable,
};

const DRAWS: usize = 100_000;
const ALPHA: f64 = 1e-3;

type One = Sbn1<5, 6, 3>;
type Two = Sbn2<5, 6, 6, 3>;
type Three = Sbn3<5, 4, 4, 4, 3>;

const X: [[f32; 5]; 1] = [[1.0, 0.0, 1.0, 1.0, 0.0]];
const Y: [[f32; 3]; 1] = [[1.0, 0.0, 1.0]];

/// Runs the z-test; returns (worst |z|, Bonferroni bound, parameter count).
fn z_test<N: Network<5, 3>, E: Estimator>(net: &N, est: E, seed: u64) -> (f64, f64, usize) {
    z_test_scaled(net, est, seed, 1.0)
}

/// The z-test against the exact gradient with the stochastic layers' part multiplied by
/// `layer_scale` (the output layer's two tensors, last in order, are not scaled).
fn z_test_scaled<N: Network<5, 3>, E: Estimator>(
    net: &N,
    mut est: E,
    seed: u64,
    layer_scale: f64,
) -> (f64, f64, usize) {
    let (mut exact_grad, _) = exact(net, &X, &Y);
    let layers = layer_scalars(net);
    exact_grad[..layers]
        .iter_mut()
        .for_each(|g| *g *= layer_scale);
    let (mean, var) = estimate_moments(net, &mut est, &X, &Y, DRAWS, seed);
    verdict(&mean, &var, &exact_grad)
}

/// Scalars of the stochastic layers' stages: every tensor but the output layer's two, last.
fn layer_scalars<N: Network<5, 3>>(net: &N) -> usize {
    let head: usize = (N::COUNT - 2..N::COUNT).map(|k| net.tensor(k).len()).sum();
    net.scalar_count() - head
}

/// Prints and returns (worst |z|, Bonferroni bound, parameter count) of estimate moments
/// against an exact gradient.
fn verdict(mean: &[f64], var: &[f64], exact_grad: &[f64]) -> (f64, f64, usize) {
    let z = z_scores(mean, var, exact_grad, DRAWS);
    let bound = two_sided_quantile(ALPHA / z.len() as f64);
    let (i, zmax) = worst(&z);
    eprintln!(
        "worst |z| = {zmax:.2} at scalar {i} (mean {:.6}, exact {:.6}, sd {:.4}); bound {bound:.2}, P = {}",
        mean[i],
        exact_grad[i],
        var[i].sqrt(),
        z.len()
    );
    (zmax, bound, z.len())
}

fn assert_unbiased<N: Network<5, 3>, E: Estimator>(name: &str, net: &N, est: E) {
    let (z, bound, p) = z_test(net, est, 11);
    assert!(
        z < bound,
        "{name}: worst |z| = {z:.2} exceeds the Bonferroni bound {bound:.2} over {p} parameters \
         ({DRAWS} draws): the estimator disagrees with the exact gradient"
    );
}

/// [`assert_unbiased`] with the estimator's state updated after every draw from that draw's
/// loss (see `common::estimate_moments_online`); returns the estimator in its final state.
fn assert_unbiased_online<N: Network<5, 3>, E: Estimator>(name: &str, net: &N, mut est: E) -> E {
    let (exact_grad, _) = exact(net, &X, &Y);
    let (mean, var) = estimate_moments_online(net, &mut est, &X, &Y, DRAWS, 11);
    let (z, bound, p) = verdict(&mean, &var, &exact_grad);
    assert!(
        z < bound,
        "{name}: worst |z| = {z:.2} exceeds the Bonferroni bound {bound:.2} over {p} parameters \
         ({DRAWS} draws, state updated after each draw): either the estimator is biased, or its \
         state at a draw depends on that draw's own samples"
    );
    est
}

fn assert_biased<N: Network<5, 3>, E: Estimator>(name: &str, net: &N, est: E) {
    let (z, bound, _) = z_test(net, est, 12);
    assert!(
        z > 3.0 * bound,
        "{name}: worst |z| = {z:.2} is within 3x the bound {bound:.2}: the test cannot tell this \
         biased estimator from an unbiased one"
    );
}

#[test]
fn muprop_is_unbiased_with_one_layer() {
    assert_unbiased(
        "MuProp, 1 layer",
        &network::<One, 5, 3>(1, 2.0),
        MuProp::new(),
    );
}

#[test]
fn muprop_is_unbiased_with_two_layers() {
    assert_unbiased(
        "MuProp, 2 layers",
        &network::<Two, 5, 3>(2, 2.0),
        MuProp::new(),
    );
}

#[test]
fn muprop_is_unbiased_with_three_layers() {
    assert_unbiased(
        "MuProp, 3 layers",
        &network::<Three, 5, 3>(3, 2.0),
        MuProp::new(),
    );
}

#[test]
fn reinforce_is_unbiased_with_one_layer() {
    assert_unbiased(
        "REINFORCE, 1 layer",
        &network::<One, 5, 3>(1, 2.0),
        Reinforce::new(),
    );
}

#[test]
fn reinforce_is_unbiased_with_two_layers() {
    assert_unbiased(
        "REINFORCE, 2 layers",
        &network::<Two, 5, 3>(2, 2.0),
        Reinforce::new(),
    );
}

#[test]
fn reinforce_is_unbiased_with_three_layers() {
    assert_unbiased(
        "REINFORCE, 3 layers",
        &network::<Three, 5, 3>(3, 2.0),
        Reinforce::new(),
    );
}

#[test]
fn muprop_negative_control_is_unbiased_with_one_layer() {
    // The first layer's mean-field input is the network's input itself, so the control's
    // correction is MuProp's there: on one layer the two estimators coincide.
    assert_unbiased(
        "MuProp negative control, 1 layer",
        &network::<One, 5, 3>(1, 2.0),
        MuProp::negative_control(),
    );
}

#[test]
fn muprop_negative_control_is_biased_with_two_layers() {
    let net = network::<Two, 5, 3>(2, 2.0);
    assert_biased(
        "MuProp negative control, 2 layers",
        &net,
        MuProp::negative_control(),
    );
}

#[test]
fn muprop_negative_control_is_biased_with_three_layers() {
    let net = network::<Three, 5, 3>(3, 2.0);
    assert_biased(
        "MuProp negative control, 3 layers",
        &net,
        MuProp::negative_control(),
    );
}

#[test]
fn straight_through_is_biased() {
    assert_biased(
        "straight-through, 2 layers",
        &network::<Two, 5, 3>(2, 2.0),
        StraightThrough,
    );
}

/// One unbiasedness test per network depth for an estimator.
macro_rules! unbiased_on_every_depth {
    ($name:ident, $label:expr, $make:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn one_layer() {
                assert_unbiased(
                    concat!($label, ", 1 layer"),
                    &network::<One, 5, 3>(1, 2.0),
                    $make,
                );
            }

            #[test]
            fn two_layers() {
                assert_unbiased(
                    concat!($label, ", 2 layers"),
                    &network::<Two, 5, 3>(2, 2.0),
                    $make,
                );
            }

            #[test]
            fn three_layers() {
                let net = network::<Three, 5, 3>(3, 2.0);
                assert_unbiased(concat!($label, ", 3 layers"), &net, $make);
            }
        }
    };
}

unbiased_on_every_depth!(muprop_rollout, "MuProp with rollout", MuPropRollout);
unbiased_on_every_depth!(arm, "ARM", Arm);
unbiased_on_every_depth!(disarm, "DisARM", DisArm);
unbiased_on_every_depth!(leave_one_out, "REINFORCE leave-one-out", LeaveOneOut);
unbiased_on_every_depth!(
    reinforce_with_a_baseline,
    "REINFORCE, baseline 2.5",
    Reinforce::with_constant(2.5).unwrap()
);
unbiased_on_every_depth!(learned_muprop, "learned MuProp", learned());

/// Total variance of the stochastic layers' gradient estimates.
fn layer_variance<N: Network<5, 3>>(net: &N, var: &[f64]) -> f64 {
    var[..layer_scalars(net)].iter().sum()
}

#[test]
fn reinforce_with_a_warmed_up_moving_average_is_unbiased() {
    // Warm the average up on 200 steps of other draws (training with a zero learning rate),
    // then freeze it: during the draws it is a constant, so REINFORCE stays unbiased.
    let net = network::<Two, 5, 3>(2, 2.0);
    let mut est = Reinforce::with_moving_average(0.9).unwrap();
    warm_up(&net, &mut est, &X, &Y, 200, 13);

    // The average must have moved to near E[f], within the spread of f.
    let (exact_grad, mean_f) = exact(&net, &X, &Y);
    let mut ws = Workspace::<<Two as Network<5, 3>>::Trace<1>, 1>::zeroed();
    let mean_f2 = muprop::exact_expectation(&net, &X, &Y, &mut ws, |f| f * f).unwrap();
    let sd_f = (mean_f2 - mean_f * mean_f).max(0.0).sqrt();
    let c = f64::from(est.baseline());
    eprintln!("baseline {c:.4}, E[f] {mean_f:.4}, sd(f) {sd_f:.4}");
    assert!(
        (c - mean_f).abs() < sd_f && c.abs() > 0.5 * sd_f,
        "the warmed-up moving average is {c:.4}, not near E[f] = {mean_f:.4} (sd {sd_f:.4}): \
         end_step does not fold losses into the baseline"
    );

    let (mean, var) = estimate_moments(&net, &mut est, &X, &Y, DRAWS, 11);
    assert_eq!(
        f64::from(est.baseline()),
        c,
        "the baseline moved during the draws: nothing should call end_step"
    );
    let (z, bound, p) = verdict(&mean, &var, &exact_grad);
    assert!(
        z < bound,
        "REINFORCE, moving average {c:.4} frozen: worst |z| = {z:.2} exceeds the Bonferroni \
         bound {bound:.2} over {p} parameters ({DRAWS} draws)"
    );

    // The baseline is really subtracted: it must cut the variance of plain REINFORCE.
    let (_, var0) = estimate_moments(&net, &mut Reinforce::new(), &X, &Y, DRAWS, 11);
    let (with, without) = (layer_variance(&net, &var), layer_variance(&net, &var0));
    eprintln!("layer variance {with:.4} with the baseline, {without:.4} without");
    assert!(
        with < 0.8 * without,
        "a baseline near E[f] left the layer variance at {with:.4} against {without:.4} \
         without one: is the moving average used in the learning signal?"
    );
}

#[test]
fn reinforce_with_a_moving_average_updated_between_draws_is_unbiased() {
    let est = Reinforce::with_moving_average(0.9).unwrap();
    let est = assert_unbiased_online(
        "REINFORCE, moving average updated between draws, 2 layers",
        &network::<Two, 5, 3>(2, 2.0),
        est,
    );
    assert_ne!(est.baseline(), 0.0, "the moving average never moved from 0");
}

#[test]
fn a_moving_average_that_has_seen_the_current_draw_is_biased() {
    // Negative control for the cases above: replay the generator so that each draw's own loss is
    // folded into the average before its estimate. With decay 0.5 the signal becomes
    // 0.5 (f - c_prev): half the gradient in expectation.
    let net = network::<Two, 5, 3>(2, 2.0);
    let mut est = Reinforce::with_moving_average(0.5).unwrap();
    let mut r = common::rng(12);
    let mut ws = Workspace::<<Two as Network<5, 3>>::Trace<4>, 4>::zeroed();
    let mut grad = Two::zeroed();
    let mut moments = common::Moments::new(grad.scalar_count());
    for _ in 0..DRAWS {
        let mut peek = r.clone();
        let own = muprop::gradient(&net, &mut est, &X, &Y, &mut ws, &mut grad, &mut peek).unwrap();
        est.end_step(own);
        muprop::gradient(&net, &mut est, &X, &Y, &mut ws, &mut grad, &mut r).unwrap();
        moments.add(&grad);
    }
    let (mean, var) = moments.finish();
    let (z, bound, _) = verdict(&mean, &var, &exact(&net, &X, &Y).0);
    assert!(
        z > 3.0 * bound,
        "worst |z| = {z:.2} is within 3x the bound {bound:.2}: the test cannot tell a baseline \
         that has seen the current draw from a legitimate one"
    );
}

#[test]
fn nvil_updated_between_draws_is_unbiased() {
    // Without normalisation: with it, the scale would change from draw to draw.
    let (net, est) = nvil(false);
    let start = est.center;
    let est = assert_unbiased_online("NVIL (no normalisation), updated between draws", &net, est);
    assert_ne!(est.center, start, "NVIL's running centre never moved");
}

#[test]
fn learned_muprop_updated_between_draws_is_unbiased() {
    let est = assert_unbiased_online(
        "learned MuProp, updated between draws, 2 layers",
        &network::<Two, 5, 3>(2, 2.0),
        learned(),
    );
    assert_ne!(
        est.control,
        learned().control,
        "the learned control never moved"
    );
}

/// A two-layer network and an NVIL estimator whose baseline, centre and variance are not
/// trivial (the baseline is drawn at random; the moments are set by hand).
fn nvil(normalize: bool) -> (Two, Nvil<5, 7, 4>) {
    let mut est = Nvil::<5, 7, 4>::zeroed();
    est.reset(1e-3, 0.8, normalize, &mut common::rng(40))
        .unwrap();
    est.center = 0.7;
    est.variance = 6.25;
    (network::<Two, 5, 3>(2, 2.0), est)
}

#[test]
fn nvil_without_normalisation_is_unbiased() {
    let (net, est) = nvil(false);
    assert_unbiased("NVIL (no normalisation), 2 layers", &net, est);
}

#[test]
fn nvil_with_normalisation_is_unbiased_up_to_its_scale() {
    let (net, est) = nvil(true);
    let scale = est.signal_scale();
    assert!(
        (scale - 0.4).abs() < 1e-6,
        "1 / max(1, sqrt(6.25)) = 0.4, got {scale}"
    );
    let (z, bound, p) = z_test_scaled(&net, est, 11, f64::from(scale));
    assert!(
        z < bound,
        "NVIL: worst |z| = {z:.2} over {p} parameters, bound {bound:.2}"
    );
}

#[test]
fn nvil_normalisation_is_visible_to_the_test() {
    // Against the unscaled exact gradient, normalised NVIL must fail: the scale matters.
    let (net, est) = nvil(true);
    let (z, bound, _) = z_test_scaled(&net, est, 11, 1.0);
    assert!(
        z > 3.0 * bound,
        "worst |z| = {z:.2}: the 0.4 scale went unnoticed"
    );
}

/// MuProp with a learned baseline and scalings set away from their initial values.
fn learned() -> LearnedMuProp<5, 7, 3, 4> {
    let mut est = LearnedMuProp::<5, 7, 3, 4>::zeroed();
    est.reset(1e-2, &mut common::rng(41)).unwrap();
    est.control.v0 = [0.8, -0.5, 0.3];
    est.control.v1 = [-1.0, 0.6, 1.5];
    est
}

/// Two categorical layers of 2 groups of 3 classes (81 joint states).
type TwoCategorical = CategoricalLayer<5, 6, 3, CategoricalLayer<6, 6, 3, BernoulliOutput<6, 3>>>;

/// A categorical layer feeding a Bernoulli layer.
type Mixed = CategoricalLayer<5, 6, 3, BernoulliLayer<6, 5, BernoulliOutput<5, 3>>>;

/// Deterministic tanh and leaky-ReLU layers inside two Bernoulli stages.
type TwoNonlinear = Layers<
    5,
    5,
    Nonlinear<5, 7, 5, Tanh>,
    Bernoulli,
    Layers<5, 5, Nonlinear<5, 6, 5, LeakyRelu>, Bernoulli, BernoulliOutput<5, 3>>,
>;

/// Deterministic tanh and leaky-ReLU layers feeding two categorical stages: 2 groups of 4
/// classes, then 3 groups of 2 (16 x 8 = 128 joint states).
type CategoricalNonlinear = Layers<
    5,
    8,
    Nonlinear<5, 7, 8, Tanh>,
    Categorical<4>,
    Layers<8, 6, Nonlinear<8, 5, 6, LeakyRelu>, Categorical<2>, BernoulliOutput<6, 3>>,
>;

/// A learned-MuProp estimator with scalings set away from 1 (for up to 3 layers).
fn learned_for(seed: u64) -> LearnedMuProp<5, 7, 3, 4> {
    let mut est = learned();
    est.reset(1e-2, &mut common::rng(seed)).unwrap();
    est.control.v0 = [0.4, -0.7, 0.2];
    est.control.v1 = [-0.3, 0.9, 0.5];
    est
}

/// Every estimator that handles any unit kind, on one network type, plus straight-through
/// shown biased.
macro_rules! every_estimator_on {
    ($name:ident, $net:ty, $seed:expr) => {
        mod $name {
            use super::*;

            fn net() -> $net {
                network::<$net, 5, 3>($seed, 2.0)
            }

            #[test]
            fn muprop() {
                assert_unbiased(
                    concat!(stringify!($name), ": MuProp"),
                    &net(),
                    MuProp::new(),
                );
            }

            #[test]
            fn reinforce() {
                let est = Reinforce::with_constant(1.5).unwrap();
                assert_unbiased(concat!(stringify!($name), ": REINFORCE"), &net(), est);
            }

            #[test]
            fn reinforce_without_baseline() {
                assert_unbiased(
                    concat!(stringify!($name), ": REINFORCE, no baseline"),
                    &net(),
                    Reinforce::new(),
                );
            }

            #[test]
            fn rollout() {
                assert_unbiased(
                    concat!(stringify!($name), ": rollout"),
                    &net(),
                    MuPropRollout,
                );
            }

            #[test]
            fn leave_one_out() {
                assert_unbiased(
                    concat!(stringify!($name), ": leave-one-out"),
                    &net(),
                    LeaveOneOut,
                );
            }

            #[test]
            fn nvil() {
                let (_, est) = super::nvil(false);
                assert_unbiased(concat!(stringify!($name), ": NVIL"), &net(), est);
            }

            #[test]
            fn nvil_with_normalisation() {
                let (_, est) = super::nvil(true);
                let scale = f64::from(est.signal_scale());
                let (z, bound, p) = z_test_scaled(&net(), est, 11, scale);
                assert!(
                    z < bound,
                    concat!(
                        stringify!($name),
                        ": NVIL (normalised): worst |z| = {} exceeds the bound {} over {} \
                         parameters against {} times the exact gradient"
                    ),
                    z,
                    bound,
                    p,
                    scale
                );
            }

            #[test]
            fn learned_muprop() {
                let est = learned_for($seed);
                assert_unbiased(concat!(stringify!($name), ": learned MuProp"), &net(), est);
            }

            #[test]
            fn straight_through_is_biased() {
                assert_biased(concat!(stringify!($name), ": ST"), &net(), StraightThrough);
            }

            #[test]
            fn muprop_negative_control_is_biased() {
                assert_biased(
                    concat!(stringify!($name), ": MuProp negative control"),
                    &net(),
                    MuProp::negative_control(),
                );
            }
        }
    };
}

every_estimator_on!(categorical, TwoCategorical, 21);
every_estimator_on!(categorical_then_bernoulli, Mixed, 22);
every_estimator_on!(nonlinear, TwoNonlinear, 23);
every_estimator_on!(categorical_nonlinear, CategoricalNonlinear, 24);

#[test]
fn arm_is_unbiased_with_deterministic_layers() {
    assert_unbiased(
        "ARM, nonlinear",
        &network::<TwoNonlinear, 5, 3>(23, 2.0),
        Arm,
    );
}

#[test]
fn disarm_is_unbiased_with_deterministic_layers() {
    assert_unbiased(
        "DisARM, nonlinear",
        &network::<TwoNonlinear, 5, 3>(23, 2.0),
        DisArm,
    );
}
