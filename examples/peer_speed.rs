//! Training speed on MNIST structured prediction, for the side-by-side run with the JAX
//! reference (`benches/peer.sh`), and the limits of this core for the same step.
//!
//! MuProp with learned baseline and scalings on `Sbn1<392, 200, 392>` (top half of a binarized
//! image predicts the bottom half), Adam at 1e-3 (baseline at 1e-2), for a fixed time after 20
//! warm-up steps. Prints one JSON line with the examples per second.
//!
//! ```text
//! cargo run --release --features parallel --example peer_speed -- --batch 100 --seconds 10 --threads 2
//! ```
//!
//! After the timed run it measures, in the same process, the limits of this step on this core
//! (the `limits` object of the JSON line):
//!
//! - `peak_gflops`: the core's multiply-add rate through the kernels' lane type (the benches'
//!   probe, which also prints its line before the JSON);
//! - `min_multiply_adds_per_example`: the products the step cannot avoid even when every zero
//!   input is skipped, from the measured density of the inputs (`input_density`) and of the
//!   hidden units (`hidden_density`, the mean of their means over 1000 training rows, the
//!   lower of before and after the run). With `IN = Y = 392`, `H = 200`, the baseline's 100
//!   hidden units, `nx` non-zero inputs and `nh` hidden units on: the sample pass
//!   `H nx + Y nh`, the mean-field pass `Y H` (its first layer is the sample pass's), its
//!   reverse sweep `Y H`, the gradients `H nx + Y nh`, the baseline `2 (100 nx + 100)`;
//! - `arithmetic_ceiling_examples_per_s`: the peak divided by those products' FLOP, with no
//!   other work at all;
//! - `products_us_per_step`: this crate's kernels on the model's products (not the
//!   baseline's) for one minibatch of training rows, with hidden units drawn from the trained
//!   model; `products_multiply_adds_per_example` counts them, zeros skipped, on those rows.
//!   Beside it `step_us`, the measured time of a whole step;
//! - `optimiser_traffic_us`: one pass over the step's Adam state (parameters, gradient and
//!   both moments of the model and the baseline) with one multiply-add per array and element
//!   (`kernels::probe::optimiser_traffic`), beside `adam_us`, the exact Adam update of the
//!   same arrays. `traffic_ceiling_steps_per_s` is its inverse: a bound on steps per second
//!   for a guarded step with exact Adam, which has the whole gradient in memory and checked
//!   before it changes a parameter, then reads and writes every parameter and moment.

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use muprop::data::{load_mnist, Binarization};
use muprop::kernels::probe;
use muprop::parallel::{train_step_parallel, Parallel};
use muprop::{boxed_zeroed, train_step, Adam, AdamState, LearnedMuProp, Network, Sbn1, StepStats};
use muprop::{Error, Optimizer, Tensors, WorkspaceFor, Zeroable};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type Net = Sbn1<392, 200, 392>;
type Learned<const B: usize> = LearnedMuProp<392, BASELINE_HIDDEN, 1, B>;
const WARMUP: usize = 20;
const BASELINE_HIDDEN: usize = 100;
const DENSITY_ROWS: usize = 1000;

#[derive(Parser, Debug)]
#[command(about = "Learned MuProp training speed on MNIST structured prediction, 392-200-392")]
struct Args {
    /// Minibatch size.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Seconds of timed training, after 20 warm-up steps.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    seconds: f64,
    /// Threads: 2 or more runs `muprop::parallel` with chunks of 25 rows, 1 the sequential
    /// `train_step`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    threads: u32,
    /// Directory of the MNIST IDX files.
    #[arg(long, default_value = "../shared/data/mnist")]
    mnist: PathBuf,
}

/// A finite, non-negative number of seconds.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a finite number of seconds, 0 or more"
        )),
    }
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

/// What a timed run leaves: its counts and the trained model and estimator.
struct Trained<const B: usize> {
    steps: usize,
    seconds: f64,
    mean_loss: f64,
    hidden_density_before: f64,
    net: Box<Net>,
    est: Box<Learned<B>>,
}

/// Trains for the requested time with chunks of `B` rows.
fn run<const B: usize>(
    a: &Args,
    inputs: &[[f32; 392]],
    targets: &[[f32; 392]],
) -> Result<Trained<B>, Error> {
    let batch = a.batch as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut net: Box<Net> = boxed_zeroed();
    net.init(&mut rng);
    let hidden_density_before = hidden_density(&net, inputs);
    let mut grad: Box<Net> = boxed_zeroed();
    let mut state: Box<AdamState<Net>> = boxed_zeroed();
    let mut ws: Box<WorkspaceFor<Net, 392, 392, B>> = boxed_zeroed();
    let mut est: Box<Learned<B>> = boxed_zeroed();
    est.reset(1e-2, &mut rng)?;
    let adam = Adam::new(1e-3)?;
    let mut pool = Parallel::<Net, Learned<B>, 392, 392, B>::new(a.threads as usize)?;
    pool.reserve(batch, &est);

    let mut order: Vec<usize> = (0..inputs.len()).collect();
    let (mut x, mut y) = (Vec::with_capacity(batch), Vec::with_capacity(batch));
    let (mut pos, mut steps, mut losses) = (inputs.len(), 0usize, Vec::new());
    let mut start = Instant::now();
    loop {
        if pos + batch > order.len() {
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            pos = 0;
        }
        gather(inputs, targets, &order[pos..pos + batch], &mut x, &mut y);
        pos += batch;
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
            return Ok(Trained {
                steps: timed,
                seconds: start.elapsed().as_secs_f64(),
                mean_loss: mean,
                hidden_density_before,
                net,
                est,
            });
        }
    }
}

/// The fraction of non-zero values over all training inputs.
fn input_density(inputs: &[[f32; 392]]) -> f64 {
    let on = inputs.as_flattened().iter().filter(|v| **v != 0.0).count();
    on as f64 / inputs.as_flattened().len() as f64
}

/// The mean of the hidden units' means over the first training rows: the expected fraction of
/// hidden units on.
fn hidden_density(net: &Net, inputs: &[[f32; 392]]) -> f64 {
    let rows = &inputs[..DENSITY_ROWS.min(inputs.len())];
    let mut logits = vec![[0.0f32; 200]; rows.len()];
    let mut means = vec![0.0f32; rows.len() * 200];
    net.stage.forward(rows, &mut logits);
    muprop::kernels::sigmoid(logits.as_flattened(), &mut means);
    means.iter().map(|&m| f64::from(m)).sum::<f64>() / means.len() as f64
}

/// Seconds of this crate's kernels on the model's products of one learned-MuProp step on
/// `rows`: the sample pass, the mean-field pass through the output map, its reverse sweep and
/// both maps' gradients; and the multiply-adds per row they need when every zero input is
/// skipped (counted on these rows and the hidden units drawn for them).
fn products_seconds(net: &Net, rows: &[[f32; 392]], rng: &mut Xoshiro256PlusPlus) -> (f64, f64) {
    let n = rows.len();
    let mut a1 = vec![[0.0f32; 200]; n];
    let mut mean = vec![[0.0f32; 200]; n];
    let mut h = vec![[0.0f32; 200]; n];
    net.stage.forward(rows, &mut a1);
    muprop::kernels::sigmoid(a1.as_flattened(), mean.as_flattened_mut());
    muprop::kernels::bernoulli(mean.as_flattened(), h.as_flattened_mut(), &mut || {
        rng.next_u32()
    });
    let (mut a2, d2) = (vec![[0.0f32; 392]; n], vec![[1e-3f32; 392]; n]);
    let mut dmean = vec![[0.0f32; 200]; n];
    let mut grad: Box<Net> = boxed_zeroed();
    let nonzero = |v: &[f32]| v.iter().filter(|x| **x != 0.0).count() as f64 / n as f64;
    let (nx, nh) = (nonzero(rows.as_flattened()), nonzero(h.as_flattened()));
    let mac = 2.0 * 392.0 * 200.0 + 2.0 * 200.0 * nx + 2.0 * 392.0 * nh;
    let seconds = common::time_per_call(20.0, || {
        net.stage.forward(rows, &mut a1);
        net.rest.linear.forward(&h, &mut a2);
        net.rest.linear.forward(&mean, &mut a2);
        net.rest.linear.backward(&mean, &d2, None, Some(&mut dmean));
        net.rest
            .linear
            .backward(&h, &d2, Some(&mut grad.rest.linear), None);
        net.stage
            .backward(rows, &dmean, Some(&mut grad.stage), None);
        black_box((&a2, &grad));
    });
    (seconds, mac)
}

/// Copies of a parameter set for timing its update: parameters, gradient, Adam state.
struct UpdateArrays<P> {
    params: Box<P>,
    grad: Box<P>,
    state: Box<AdamState<P>>,
}

impl<P: Tensors + Zeroable + Clone> UpdateArrays<P> {
    fn of(params: &P) -> Self {
        let mut u = UpdateArrays {
            params: Box::new(params.clone()),
            grad: boxed_zeroed(),
            state: boxed_zeroed(),
        };
        for k in 0..P::COUNT {
            u.grad.tensor_mut(k).fill(1e-3);
            u.state.v.tensor_mut(k).fill(1e-6);
        }
        u
    }

    fn traffic(&mut self) {
        for k in 0..P::COUNT {
            probe::optimiser_traffic(
                self.params.tensor_mut(k),
                self.grad.tensor(k),
                self.state.m.tensor_mut(k),
                self.state.v.tensor_mut(k),
            );
        }
    }

    fn adam(&mut self, adam: &Adam) {
        adam.update(&mut *self.params, &self.grad, &mut self.state);
    }
}

/// Seconds of one pass of [`probe::optimiser_traffic`] and of one exact Adam update over the
/// model's and the baseline's arrays, laid out as the step keeps them.
fn optimiser_seconds<const B: usize>(net: &Net, est: &Learned<B>) -> Result<(f64, f64), Error> {
    let mut model = UpdateArrays::of(net);
    let mut baseline = UpdateArrays::of(&est.control);
    let traffic = common::time_per_call(20.0, || {
        model.traffic();
        baseline.traffic();
    });
    let (adam_model, adam_baseline) = (Adam::new(1e-3)?, Adam::new(1e-2)?);
    let adam = common::time_per_call(20.0, || {
        model.adam(&adam_model);
        baseline.adam(&adam_baseline);
    });
    Ok((traffic, adam))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let data = load_mnist(&a.mnist)?.binarized(Binarization::FixedDraw { seed: 0 }, 0)?;
    let task = data.prediction_task();
    let (inputs, targets) = (
        task.train().inputs::<392>()?,
        task.train().targets::<392>()?,
    );
    match (a.batch, a.threads) {
        (1, _) => report(&a, run::<1>(&a, inputs, targets)?, inputs),
        (_, 1) => report(&a, run::<100>(&a, inputs, targets)?, inputs),
        _ => report(&a, run::<25>(&a, inputs, targets)?, inputs),
    }
}

/// Measures the limits and prints the JSON line.
fn report<const B: usize>(
    a: &Args,
    t: Trained<B>,
    inputs: &[[f32; 392]],
) -> Result<(), Box<dyn std::error::Error>> {
    let batch = a.batch as usize;
    let examples_per_s = (t.steps * batch) as f64 / t.seconds;
    let step_us = 1e6 * t.seconds / t.steps as f64;

    let peak = common::peak().best();
    let rho_x = input_density(inputs);
    let rho_h = hidden_density(&t.net, inputs).min(t.hidden_density_before);
    let (nx, nh) = (rho_x * 392.0, rho_h * 200.0);
    let (hidden, out, base) = (200.0, 392.0, BASELINE_HIDDEN as f64);
    let min_mac =
        2.0 * out * hidden + 2.0 * hidden * nx + 2.0 * out * nh + 2.0 * (base * nx + base);
    let arithmetic_ceiling = peak / (2.0 * min_mac);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let rows = &inputs[..batch.min(inputs.len())];
    let (products, products_mac) = products_seconds(&t.net, rows, &mut rng);
    let products_us = 1e6 * products;
    let counts = [t.net.scalar_count(), t.est.control.scalar_count()];
    let (traffic, adam) = optimiser_seconds(&t.net, &t.est)?;

    println!(
        "{{\"impl\": \"muprop\", \"estimator\": \"learned MuProp\", \"net\": \"392-200-392\", \
         \"batch_size\": {batch}, \"threads\": {}, \"lanes\": {}, \"timed_steps\": {}, \
         \"wall_s\": {:.3}, \"examples_per_s\": {examples_per_s:.1}, \
         \"train_loss_last100\": {:.3}, \"limits\": {{\"peak_gflops\": {:.1}, \
         \"input_density\": {rho_x:.4}, \"hidden_density\": {rho_h:.4}, \
         \"min_multiply_adds_per_example\": {min_mac:.0}, \
         \"arithmetic_ceiling_examples_per_s\": {arithmetic_ceiling:.0}, \
         \"step_us\": {step_us:.1}, \"products_us_per_step\": {products_us:.1}, \
         \"products_multiply_adds_per_example\": {products_mac:.0}, \
         \"parameters\": {}, \"adam_us\": {:.1}, \"optimiser_traffic_us\": {:.1}, \
         \"traffic_ceiling_steps_per_s\": {:.0}}}}}",
        a.threads,
        probe::WIDTH,
        t.steps,
        t.seconds,
        t.mean_loss,
        peak / 1e9,
        counts.iter().sum::<usize>(),
        1e6 * adam,
        1e6 * traffic,
        1.0 / traffic,
    );
    Ok(())
}
