//! The mean-field pass run right after a sample pass (`Network::mean_field_after_sample`, what
//! every estimator's chunk runs) takes the first layer's logits and means from the sample pass.
//! It must give the same bits as the full pass, `Network::mean_field`, on every network kind:
//! `fbar`, `d fbar / dx`, and every layer's mean-field logits, means and gradients.

mod common;

use common::{network, rng};
use muprop::{
    Bernoulli, BernoulliLayer, BernoulliOutput, CategoricalLayer, DrawnWords, Layers, LeakyRelu,
    Network, Nonlinear, Sbn2, Vsbn2, Zeroable,
};

const B: usize = 3;

/// What a mean-field pass leaves for the estimators: `fbar`, `dx`, and per layer its
/// mean-field logits, means and gradients.
fn mean_field_outputs<N: Network<IN, Y>, const IN: usize, const Y: usize>(
    net: &N,
    x: &[[f32; IN]; B],
    y: &[[f32; Y]; B],
    reuse: bool,
) -> Vec<Vec<u32>> {
    let mut trace = <N::Trace<B> as Zeroable>::zeroed();
    let mut r = rng(11);
    for row in 0..B {
        N::draw(&mut trace, row, &mut r);
    }
    let mut f = [0.0f32; B];
    net.sample(x, y, &mut trace, &mut f, &mut DrawnWords);
    let (mut fbar, mut dx) = ([0.0f32; B], [[0.0f32; IN]; B]);
    if reuse {
        net.mean_field_after_sample(x, y, &mut trace, &mut fbar, Some(&mut dx));
    } else {
        net.mean_field(x, y, &mut trace, &mut fbar, Some(&mut dx));
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    let mut out = vec![bits(&fbar), bits(dx.as_flattened())];
    for l in 0..N::DEPTH {
        let view = N::layer(&mut trace, l, B).expect("every layer below DEPTH has a view");
        out.extend([bits(view.mf_logits), bits(view.mf_mean), bits(view.mf_grad)]);
    }
    out
}

fn assert_same_bits<N: Network<IN, Y>, const IN: usize, const Y: usize>(name: &str, net: &N) {
    let mut r = rng(5);
    let mut x = [[0.0f32; IN]; B];
    let mut y = [[0.0f32; Y]; B];
    for v in x.as_flattened_mut().iter_mut().chain(y.as_flattened_mut()) {
        *v = (rand_core::Rng::next_u32(&mut r) % 2) as f32;
    }
    // One fractional row too: the first layer's input need not be binary.
    x[2][0] = 0.375;
    let full = mean_field_outputs(net, &x, &y, false);
    let reused = mean_field_outputs(net, &x, &y, true);
    assert_eq!(full.len(), 2 + 3 * N::DEPTH, "{name}");
    for (k, (a, b)) in full.iter().zip(&reused).enumerate() {
        assert_eq!(a, b, "{name}: output {k} differs");
    }
    assert!(
        full[0].iter().any(|&b| b != 0),
        "{name}: fbar was never written"
    );
}

#[test]
fn bernoulli_layers() {
    assert_same_bits("Sbn2", &network::<Sbn2<6, 5, 4, 3>, 6, 3>(1, 1.5));
}

#[test]
fn categorical_layers() {
    type Net = CategoricalLayer<6, 6, 3, BernoulliLayer<6, 4, BernoulliOutput<4, 3>>>;
    assert_same_bits("categorical", &network::<Net, 6, 3>(2, 1.5));
}

#[test]
fn nonlinear_stage() {
    type Net = Layers<6, 5, Nonlinear<6, 7, 5, LeakyRelu>, Bernoulli, BernoulliOutput<5, 3>>;
    assert_same_bits("nonlinear", &network::<Net, 6, 3>(3, 1.5));
}

#[test]
fn variational_sbn_plain_and_signed() {
    let net = network::<Vsbn2<6, 4, 3>, 6, 0>(4, 1.5);
    assert_same_bits("vsbn", &net);
    let mut signed = net;
    signed.use_signed_coding(&[0.5, 0.25, 0.75, 0.5, 0.125, 0.5]);
    assert_same_bits("vsbn signed", &signed);
}
