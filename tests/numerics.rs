//! The Bernoulli likelihood cases of NUMERICS.md, through the crate's own losses: the unit
//! log-probability used by the oracle and the output layer's loss and gradient.

use muprop::{exact_gradient, exact_loss, Bernoulli, Network, Sbn1, Units, Workspace, Zeroable};

type One = Sbn1<1, 1, 1>;
type Ws = Workspace<<One as Network<1, 1>>::Trace<1>, 1>;

/// A network whose loss is `softplus(o) - y o` for any hidden sample: output weight 0, bias o.
fn output_only(o: f32) -> One {
    let mut net = One::zeroed();
    net.rest.linear.b = [o];
    net
}

#[test]
fn bernoulli_log_probability_cases() {
    // t log sigmoid(l) + (1 - t) log sigmoid(-l), as the log-probability of sample t.
    let cases: [(f32, f32, f64); 5] = [
        (90.5229, 1.0, -4.857405e-40),
        (1221.56, 1.0, -0.0),
        (820.362, 0.0, -820.362),
        (-100.0, 1.0, -100.0),
        (100.0, 0.0, -100.0),
    ];
    for (l, t, expected) in cases {
        let got = Bernoulli::log_prob(&[l], &[t]);
        let tol = 1e-6 * expected.abs().max(1e-30);
        assert!(
            (got - expected).abs() <= tol,
            "logit {l}, sample {t}: {got} vs {expected}"
        );
        assert!(got.is_finite());
    }
}

#[test]
fn logit_parameterised_probability_of_an_impossible_sample_stays_finite() {
    // p = sigmoid(-1e4) rounds to 0, yet log p(x = 1) is the finite -1e4.
    let got = Bernoulli::log_prob(&[-1e4], &[1.0]);
    assert_eq!(got, -1e4);
}

#[test]
fn output_loss_cases() {
    // softplus(o) - y o at (o, y): (-100, 0) ~3.78e-44, (100, 1) ~0, (-100, 1) 100, (100, 0) 100.
    let cases: [(f32, f32, f64, f64); 4] = [
        (-100.0, 0.0, 3.78e-44, 1e-45),
        (100.0, 1.0, 0.0, 1e-40),
        (-100.0, 1.0, 100.0, 1e-5),
        (100.0, 0.0, 100.0, 1e-5),
    ];
    let mut ws = Ws::zeroed();
    for (o, y, expected, tol) in cases {
        let got = exact_loss(&output_only(o), &[[1.0]], &[[y]], &mut ws).unwrap();
        assert!(
            (got - expected).abs() <= tol,
            "o {o}, y {y}: loss {got}, expected {expected}"
        );
    }
}

#[test]
fn output_loss_gradient_saturates_at_one() {
    // d/do (softplus(o) - y o) = sigmoid(o) - y: -1 at (-50, 1) and 1 at (50, 0), not ~1e-10.
    let mut ws = Ws::zeroed();
    for (o, y, expected) in [(-50.0f32, 1.0f32, -1.0f32), (50.0, 0.0, 1.0)] {
        let mut grad = One::zeroed();
        exact_gradient(&output_only(o), &[[1.0]], &[[y]], &mut ws, &mut grad).unwrap();
        let got = grad.rest.linear.b[0];
        assert!(
            (got - expected).abs() < 1e-6,
            "o {o}, y {y}: gradient {got}"
        );
    }
}

#[test]
fn mean_vjp_uses_the_accurate_sigmoid_derivative() {
    // sigmoid'(a) at 16.75, 17.5, 20 and -74.2032, where s (1 - s) would round badly or to 0.
    let a = [16.75f32, 17.5, 20.0, -74.2032];
    let expected = [5.315785e-8f32, 2.510999e-8, 2.061154e-9, 5.94237e-33];
    let mut mu = [0.0f32; 4];
    Bernoulli::mean(&a, &mut mu);
    let mut out = [0.0f32; 4];
    Bernoulli::mean_vjp(&a, &mu, &[1.0; 4], &mut out);
    for ((got, want), x) in out.iter().zip(expected).zip(a) {
        assert!(
            (got - want).abs() <= 1e-5 * want,
            "sigmoid'({x}) = {got}, expected {want}"
        );
    }
}
