//! Long-run soak: 1e6 MuProp training steps on the digits network. Ignored by default (a few
//! minutes in release); run with
//! `cargo test --release --all-features --test soak -- --ignored --nocapture`.
//!
//! Checks, every 10,000 steps: every step was applied, every parameter is finite, the
//! parameter norm stays bounded, and the mean loss of each block of steps does not drift up
//! (the last block's mean is below the first's and within 5% of the best block's).

mod common;

use muprop::data::{load_digits, Binarization};
use muprop::{
    boxed_zeroed, train_step, Adam, AdamState, MuProp, Network, Sbn2, Tensors, WorkspaceFor,
};

type Net = Sbn2<32, 64, 64, 32>;
const STEPS: usize = 1_000_000;
const BLOCK: usize = 10_000;
const BATCH: usize = 24;

fn norm(net: &Net) -> f64 {
    (0..<Net as Tensors>::COUNT)
        .flat_map(|k| net.tensor(k).iter())
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
#[ignore = "soak run: about 10 minutes in release"]
fn a_million_steps_stay_finite_bounded_and_do_not_drift() {
    let digits = load_digits()
        .unwrap()
        .binarized(Binarization::Threshold(0.5), 0)
        .unwrap();
    let task = digits.prediction_task();
    let (x, y) = (
        task.train().inputs::<32>().unwrap(),
        task.train().targets::<32>().unwrap(),
    );

    let mut rng = common::rng(2026);
    let mut net = boxed_zeroed::<Net>();
    net.init(&mut rng);
    let mut grad = boxed_zeroed::<Net>();
    let mut state = boxed_zeroed::<AdamState<Net>>();
    let mut ws = boxed_zeroed::<WorkspaceFor<Net, 32, 32, BATCH>>();
    let adam = Adam::new(1e-3).unwrap();
    let mut est = MuProp::new();

    let mut blocks = Vec::new();
    let (mut sum, mut max_norm) = (0.0f64, 0.0f64);
    for step in 0..STEPS {
        let at = (step * BATCH) % (x.len() - BATCH);
        let (xb, yb) = (&x[at..at + BATCH], &y[at..at + BATCH]);
        let s = train_step(
            &mut *net,
            &adam,
            &mut *state,
            &mut est,
            xb,
            yb,
            &mut *ws,
            &mut *grad,
            &mut rng,
        )
        .unwrap();
        assert!(s.applied(), "step {step} refused: {:?}", s.status);
        sum += f64::from(s.loss);
        if (step + 1) % BLOCK == 0 {
            assert!(net.all_finite(), "non-finite parameter at step {step}");
            let n = norm(&net);
            max_norm = max_norm.max(n);
            blocks.push(sum / BLOCK as f64);
            sum = 0.0;
            if blocks.len() % 10 == 0 {
                eprintln!(
                    "step {:>7}: block mean loss {:.4}, parameter norm {n:.2}",
                    step + 1,
                    blocks[blocks.len() - 1]
                );
            }
        }
    }
    let first = blocks[0];
    let last = blocks[blocks.len() - 1];
    let best = blocks.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!(
        "first block {first:.4}, best {best:.4}, last {last:.4}, max parameter norm {max_norm:.2}"
    );
    assert!(
        last < first,
        "the loss drifted up: first block {first}, last {last}"
    );
    assert!(
        last <= 1.05 * best,
        "the loss drifted up from its best: best {best}, last {last}"
    );
    assert!(max_norm < 1e4, "parameter norm grew to {max_norm}");
}
