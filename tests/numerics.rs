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

/// `log sigmoid(x)` in f64, from the stable form `min(x, 0) - log1p(e^-|x|)`.
fn log_sigmoid_f64(x: f64) -> f64 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

/// The spacing of subnormal `f32` values, `2^-149`.
const SUBNORMAL_STEP: f64 = 1.401298464324817e-45;

#[test]
fn bernoulli_log_probability_cases() {
    // t log sigmoid(l) + (1 - t) log sigmoid(-l), as the log-probability of sample t. The
    // NUMERICS.md values are for the decimal inputs, and each is first checked against the f64
    // formula there (to 1e-6 relative, the table's 7 digits). The expected value of the crate's
    // result is the f64 formula at the f32 input, which is not the decimal one: 90.5229f32 =
    // 90.52290344.., and -e^-l is then -4.8573852e-40 = 346634.59 subnormal steps (correctly
    // rounded: 346635 steps, -4.857391e-40), whereas the table's -4.857405e-40 is -e^-90.5229
    // for the decimal input (346636.1 steps).
    //
    // Tolerance: a subnormal result lies on the grid of 2^-149 steps, so rounding costs half a
    // step; libm's expf evaluates in double and rounds once, and log1pf returns so small an
    // argument unchanged, so the result is within half a step (plus ~1e-10): 1 step. That
    // rejects the table's decimal-input value (1.4 steps off), log(sigmoid(l)) (which gives 0)
    // and a flush to -0.0, which the crate's docs rule out (subnormals are produced). A normal
    // result gets one f32 ulp (2^-23 relative): rounding is half of it and the log1p(e^-|l|)
    // term is below 2^-100 of the result in every other case here.
    let cases: [(f64, f32, f64); 5] = [
        (90.5229, 1.0, -4.857405e-40),
        (1221.56, 1.0, -0.0),
        (820.362, 0.0, -820.362),
        (-100.0, 1.0, -100.0),
        (100.0, 0.0, -100.0),
    ];
    let loglik = |l: f64, t: f32| {
        f64::from(t) * log_sigmoid_f64(l) + f64::from(1.0 - t) * log_sigmoid_f64(-l)
    };
    for (decimal, t, table) in cases {
        let at_decimal = loglik(decimal, t);
        assert!(
            (at_decimal - table).abs() <= 1e-6 * table.abs(),
            "logit {decimal}: f64 value {at_decimal:e} vs NUMERICS.md {table:e}"
        );
        let l = decimal as f32;
        let expected = loglik(f64::from(l), t);
        let got = Bernoulli::log_prob(&[l], &[t]);
        let tol = if expected.abs() < f64::from(f32::MIN_POSITIVE) {
            SUBNORMAL_STEP
        } else {
            expected.abs() * f64::from(f32::EPSILON)
        };
        assert!(
            (got - expected).abs() <= tol,
            "logit {l}, sample {t}: {got:e} vs {expected:e} (distance {:e}, tolerance {tol:e})",
            (got - expected).abs()
        );
        assert!(
            got.is_finite() && got <= 0.0,
            "logit {l}, sample {t}: {got:e}"
        );
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

#[test]
fn log_one_minus_a_vanishing_probability_has_a_zero_gradient() {
    // NUMERICS.md: d/dtheta log(1 - p) with p = 0 * sigmoid(theta) is 0, finite. The crate never
    // forms log(1 - p) from a probability: every Bernoulli likelihood is parameterised by its
    // logit, and log(1 - p) is log sigmoid(-o) = -softplus(o), the y = 0 term of the output loss
    // softplus(o) - y o. Its counterpart of p = 0 is a logit whose p = sigmoid(o) rounds to 0:
    // at o = -200 (or -1e4), p = e^-200 / (1 + e^-200) = 1.4e-87, below half of 2^-149. By hand
    // the loss -log(1 - p) = log1p(p) and its gradient d/do = p both round to exactly +0.
    let mut ws = Ws::zeroed();
    for o in [-200.0f32, -1e4] {
        let net = output_only(o);
        let loss = exact_loss(&net, &[[1.0]], &[[0.0]], &mut ws).unwrap();
        assert_eq!(loss, 0.0, "o {o}: -log(1 - p) = {loss:e}");
        let mut grad = One::zeroed();
        exact_gradient(&net, &[[1.0]], &[[0.0]], &mut ws, &mut grad).unwrap();
        let g = grad.rest.linear.b[0];
        assert!(
            g.is_finite() && g == 0.0,
            "o {o}: d(-log(1 - p))/do = {g:e}"
        );
        // The hidden layer's parameters sit behind an output weight of 0: gradient 0 too.
        assert!(
            [
                grad.stage.w[0][0],
                grad.stage.b[0],
                grad.rest.linear.w[0][0]
            ] == [0.0; 3],
            "o {o}: other gradients {:?}",
            (grad.stage.w, grad.stage.b, grad.rest.linear.w)
        );
        // The same term as a log-probability: log p(x = 0) = log(1 - p) = -log1p(p) = -0.
        let lp = Bernoulli::log_prob(&[o], &[0.0]);
        assert!(lp == 0.0 && lp.is_finite(), "o {o}: log(1 - p) = {lp:e}");
    }
}
