//! The exact-gradient oracle checked independently: its gradient must match central finite
//! differences of its own exact `E[f]` (which uses only forward probabilities), and `E[f]` must
//! match a hand enumeration of a one-unit network.

mod common;

use common::{flat, network};
use muprop::{
    exact_gradient, exact_loss, BernoulliOutput, CategoricalLayer, LeakyRelu, Network, Nonlinear,
    Sbn1, Sbn2, Sbn3, Workspace, Zeroable,
};

fn check_against_finite_differences<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]],
    y: &[[f32; Y]],
) {
    let mut ws = Workspace::<N::Trace<1>, 1>::zeroed();
    let mut grad = N::zeroed();
    exact_gradient(net, x, y, &mut ws, &mut grad).unwrap();
    let analytic = flat(&grad);

    let h = 1e-2f32;
    let mut probe = N::zeroed();
    probe.copy_from(net);
    let mut index = 0;
    for k in 0..N::COUNT {
        for j in 0..net.tensor(k).len() {
            let original = net.tensor(k)[j];
            probe.tensor_mut(k)[j] = original + h;
            let up = exact_loss(&probe, x, y, &mut ws).unwrap();
            probe.tensor_mut(k)[j] = original - h;
            let down = exact_loss(&probe, x, y, &mut ws).unwrap();
            probe.tensor_mut(k)[j] = original;

            // Central differences err by O(h^2 f''') plus f32 rounding of each state's loss.
            let numeric = (up - down) / (2.0 * f64::from(h));
            let a = f64::from(analytic[index]);
            let tol = 2e-3 + 1e-2 * a.abs();
            assert!(
                (numeric - a).abs() <= tol,
                "tensor {k} element {j}: oracle {a:.6} but finite differences {numeric:.6}"
            );
            index += 1;
        }
    }
}

#[test]
fn oracle_matches_finite_differences_one_layer() {
    let x = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]];
    let y = [[1.0, 0.0], [0.0, 0.0]];
    check_against_finite_differences(&network::<Sbn1<3, 4, 2>, 3, 2>(5, 1.5), &x, &y);
}

#[test]
fn oracle_matches_finite_differences_two_layers() {
    let x = [[1.0, 0.0, 1.0]];
    let y = [[1.0, 0.0]];
    check_against_finite_differences(&network::<Sbn2<3, 3, 3, 2>, 3, 2>(6, 1.5), &x, &y);
}

#[test]
fn oracle_matches_finite_differences_three_layers() {
    let x = [[0.0, 1.0, 1.0]];
    let y = [[0.0, 1.0]];
    check_against_finite_differences(&network::<Sbn3<3, 2, 3, 2, 2>, 3, 2>(7, 1.5), &x, &y);
}

#[test]
fn one_unit_expected_loss_matches_hand_enumeration() {
    // One input fixed at 1, one hidden unit with logit a = w + b, one output with logit
    // o = v h + c: E[f] = sigmoid(a) f(1) + sigmoid(-a) f(0), f(h) = softplus(o) - y o.
    let mut net = Sbn1::<1, 1, 1>::zeroed();
    net.stage.w = [[0.7]];
    net.stage.b = [-0.2];
    net.rest.linear.w = [[1.3]];
    net.rest.linear.b = [-0.4];
    let (x, y) = ([[1.0f32]], [[1.0f32]]);
    let softplus = |t: f64| (1.0 + t.exp()).ln();
    let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
    let f = |h: f64| softplus(1.3 * h - 0.4) - (1.3 * h - 0.4);
    let a = 0.7 - 0.2;
    let expected = sigmoid(a) * f(1.0) + sigmoid(-a) * f(0.0);

    let mut ws = Workspace::<<Sbn1<1, 1, 1> as Network<1, 1>>::Trace<1>, 1>::zeroed();
    let got = exact_loss(&net, &x, &y, &mut ws).unwrap();
    assert!(
        (got - expected).abs() < 1e-6,
        "E[f] = {got}, by hand {expected}"
    );

    // d E[f] / d b = sigmoid'(a) (f(1) - f(0)).
    let mut grad = Sbn1::<1, 1, 1>::zeroed();
    exact_gradient(&net, &x, &y, &mut ws, &mut grad).unwrap();
    let by_hand = sigmoid(a) * sigmoid(-a) * (f(1.0) - f(0.0));
    let got = f64::from(grad.stage.b[0]);
    assert!(
        (got - by_hand).abs() < 1e-6,
        "dE/db = {got}, by hand {by_hand}"
    );
}

#[test]
fn oracle_refuses_networks_too_large_to_enumerate() {
    let net = Sbn1::<2, 21, 1>::zeroed();
    let mut ws = Workspace::<<Sbn1<2, 21, 1> as Network<2, 1>>::Trace<1>, 1>::zeroed();
    let mut grad = Sbn1::<2, 21, 1>::zeroed();
    let err = exact_gradient(&net, &[[1.0, 0.0]], &[[1.0]], &mut ws, &mut grad).unwrap_err();
    assert!(
        matches!(err, muprop::Error::InvalidCount { value: 21, .. }),
        "{err}"
    );
}

#[test]
fn oracle_matches_finite_differences_categorical() {
    type Net = CategoricalLayer<3, 6, 3, CategoricalLayer<6, 3, 3, BernoulliOutput<3, 2>>>;
    let x = [[1.0, 0.0, 1.0]];
    let y = [[0.0, 1.0]];
    check_against_finite_differences(&network::<Net, 3, 2>(8, 1.5), &x, &y);
}

#[test]
fn oracle_matches_finite_differences_with_deterministic_layers() {
    type Net = muprop::Layers<
        3,
        3,
        Nonlinear<3, 4, 3, LeakyRelu>,
        muprop::Bernoulli,
        muprop::Sbn1<3, 3, 2>,
    >;
    let x = [[1.0, 1.0, 0.0]];
    let y = [[1.0, 1.0]];
    check_against_finite_differences(&network::<Net, 3, 2>(9, 1.5), &x, &y);
}
