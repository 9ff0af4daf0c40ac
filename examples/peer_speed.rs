//! Training speed on MNIST structured prediction, for the side-by-side run with the JAX
//! reference (`benches/peer.sh`).
//!
//! MuProp with learned baseline and scalings on `Sbn1<392, 200, 392>` (top half of a binarized
//! image predicts the bottom half), Adam at 1e-3 (baseline at 1e-2), for a fixed time after 20
//! warm-up steps. Prints one JSON line with the examples per second.
//!
//! ```text
//! cargo run --release --features parallel --example peer_speed -- --batch 100 --seconds 10 --threads 2
//! ```
//!
//! Options: `--batch N` (1 or more), `--seconds S`, `--threads T` (2 or more uses
//! `muprop::parallel` with chunks of 25 rows; 1 runs the sequential `train_step`),
//! `--mnist DIR` (default `../shared/data/mnist`).

use std::path::PathBuf;
use std::time::Instant;

use muprop::data::{load_mnist, Binarization};
use muprop::parallel::{train_step_parallel, Parallel};
use muprop::{boxed_zeroed, train_step, Adam, AdamState, LearnedMuProp, Network, Sbn1, StepStats};
use muprop::{Error, WorkspaceFor};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type Net = Sbn1<392, 200, 392>;
const WARMUP: usize = 20;

struct Args {
    batch: usize,
    seconds: f64,
    threads: usize,
    mnist: PathBuf,
}

fn parse() -> Args {
    let mut a = Args {
        batch: 100,
        seconds: 10.0,
        threads: 1,
        mnist: PathBuf::from("../shared/data/mnist"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--batch" => a.batch = value.parse().expect("--batch N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds S"),
            "--threads" => a.threads = value.parse().expect("--threads T"),
            "--mnist" => a.mnist = PathBuf::from(value),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// Rows `order[pos..pos + batch]` of the training set, copied into `x` and `y`.
fn gather(
    inputs: &[[f32; 392]],
    targets: &[[f32; 392]],
    order: &[usize],
    x: &mut Vec<[f32; 392]>,
    y: &mut Vec<[f32; 392]>,
) {
    x.clear();
    y.clear();
    for &i in order {
        x.push(inputs[i]);
        y.push(targets[i]);
    }
}

/// Trains for the requested time with chunks of `B` rows; returns (timed steps, seconds, mean
/// loss of the last 100 steps).
fn run<const B: usize>(
    a: &Args,
    inputs: &[[f32; 392]],
    targets: &[[f32; 392]],
) -> Result<(usize, f64, f64), Error> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut net: Box<Net> = boxed_zeroed();
    net.init(&mut rng);
    let mut grad: Box<Net> = boxed_zeroed();
    let mut state: Box<AdamState<Net>> = boxed_zeroed();
    let mut ws: Box<WorkspaceFor<Net, 392, 392, B>> = boxed_zeroed();
    let mut est: Box<LearnedMuProp<392, 100, 1, B>> = boxed_zeroed();
    est.reset(1e-2, &mut rng)?;
    let adam = Adam::new(1e-3)?;
    let mut pool = Parallel::<Net, LearnedMuProp<392, 100, 1, B>, 392, 392, B>::new(a.threads)?;
    pool.reserve(a.batch, &est);

    let mut order: Vec<usize> = (0..inputs.len()).collect();
    let (mut x, mut y) = (Vec::with_capacity(a.batch), Vec::with_capacity(a.batch));
    let (mut pos, mut steps, mut losses) = (inputs.len(), 0usize, Vec::new());
    let mut start = Instant::now();
    loop {
        if pos + a.batch > order.len() {
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            pos = 0;
        }
        gather(inputs, targets, &order[pos..pos + a.batch], &mut x, &mut y);
        pos += a.batch;
        let stats: StepStats = if a.threads > 1 {
            train_step_parallel(
                &mut pool, &mut net, &adam, &mut state, &mut *est, &x, &y, &mut grad, &mut rng,
            )?
        } else {
            train_step(
                &mut *net, &adam, &mut state, &mut *est, &x, &y, &mut ws, &mut grad, &mut rng,
            )?
        };
        losses.push(stats.loss);
        steps += 1;
        if steps == WARMUP {
            start = Instant::now();
        }
        let timed = steps.saturating_sub(WARMUP);
        if timed > 0 && timed.is_multiple_of(10) && start.elapsed().as_secs_f64() >= a.seconds {
            let tail = &losses[losses.len().saturating_sub(100)..];
            let mean = tail.iter().map(|&v| f64::from(v)).sum::<f64>() / tail.len() as f64;
            return Ok((timed, start.elapsed().as_secs_f64(), mean));
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse();
    let data = load_mnist(&a.mnist)?.binarized(Binarization::FixedDraw { seed: 0 }, 0)?;
    let task = data.prediction_task();
    let (inputs, targets) = (
        task.train().inputs::<392>()?,
        task.train().targets::<392>()?,
    );
    let (steps, secs, loss) = match (a.batch, a.threads) {
        (1, _) => run::<1>(&a, inputs, targets)?,
        (_, 1) => run::<100>(&a, inputs, targets)?,
        _ => run::<25>(&a, inputs, targets)?,
    };
    println!(
        "{{\"impl\": \"muprop\", \"estimator\": \"learned MuProp\", \"net\": \"392-200-392\", \"batch_size\": {}, \"threads\": {}, \"lanes\": {}, \"timed_steps\": {steps}, \"wall_s\": {secs:.3}, \"examples_per_s\": {:.1}, \"train_loss_last100\": {loss:.3}}}",
        a.batch,
        a.threads,
        muprop::kernels::probe::WIDTH,
        (steps * a.batch) as f64 / secs
    );
    Ok(())
}
