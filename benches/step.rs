//! A full training step per estimator, network and batch size, in examples/s and as a
//! fraction of the single-core peak by the FLOP model below; subnormal against normal inputs
//! through a step; and, with `--features parallel`, one thread against two.
//!
//! FLOP model (dense multiply-adds, 2 FLOP each; `W_j` the weights of map `j`, `S = sum W_j`,
//! `W_0` the first map's): every estimator runs one sample pass (`S`) and accumulates every
//! map's gradient (`S`). MuProp adds the mean-field pass through every map but the first (the
//! first layer's logits are the sample pass's, `S - W_0`) and its reverse sweep, a transposed
//! product through every map but the first (`S - W_0`): `4S - 2 W_0`. Straight-through
//! adds the transposed products of its backward pass: `3S - W_0`. REINFORCE: `2S`. ARM adds,
//! per stochastic layer `l`, two forward passes through the maps after it. The learned
//! baselines of NVIL and learned MuProp add a forward product and an accumulation of their
//! `IN x 100` hidden map. Zero inputs skipped by the kernels are counted as if computed.

mod common;

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use muprop::{
    boxed_zeroed, kernels, train_step, Adam, AdamState, Arm, Estimator, LearnedMuProp, MuProp,
    Network, Nvil, Optimizer, Reinforce, Sbn1, Sbn2, StraightThrough, Tensors, WorkspaceFor,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Hidden units of the learned baselines.
const HID: usize = 100;
/// Rows of data drawn for every bench.
const ROWS: usize = 100;

/// The multiply-adds per row of one estimator on a network of map widths `dims`.
fn multiply_adds(estimator: &str, dims: &[usize]) -> f64 {
    let w: Vec<f64> = dims.windows(2).map(|d| (d[0] * d[1]) as f64).collect();
    let s: f64 = w.iter().sum();
    let baseline = 2.0 * (dims[0] * HID) as f64;
    let layers = w.len() - 1;
    let arm: f64 = (0..layers)
        .map(|l| 2.0 * w[l + 1..].iter().sum::<f64>())
        .sum();
    match estimator {
        "MuProp" => 4.0 * s - 2.0 * w[0],
        "learned MuProp" => 4.0 * s - 2.0 * w[0] + baseline,
        "REINFORCE" => 2.0 * s,
        "NVIL" => 2.0 * s + baseline,
        "straight-through" => 3.0 * s - w[0],
        "ARM" => 2.0 * s + arm,
        _ => f64::NAN,
    }
}

/// Binary rows, each entry 1 with probability `p` (about MNIST's share of inked pixels).
fn binary<const N: usize>(rng: &mut Xoshiro256PlusPlus, p: f32) -> Vec<[f32; N]> {
    (0..ROWS)
        .map(|_| {
            std::array::from_fn(|_| f32::from(u8::from(kernels::unit_f32(rng.next_u32()) < p)))
        })
        .collect()
}

struct Case<'a, const IN: usize, const Y: usize> {
    net: &'a str,
    dims: &'a [usize],
    x: &'a [[f32; IN]],
    y: &'a [[f32; Y]],
}

/// Benches `train_step` of `N` with `estimator` on the first `B` rows; returns seconds per step.
fn step<N, E, const IN: usize, const Y: usize, const B: usize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case<'_, IN, Y>,
    name: &str,
    estimator: &mut E,
) -> f64
where
    N: Network<IN, Y>,
    E: Estimator,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut net: Box<N> = boxed_zeroed();
    net.init(&mut rng);
    let mut grad: Box<N> = boxed_zeroed();
    let mut state: Box<AdamState<N>> = boxed_zeroed();
    let mut ws: Box<WorkspaceFor<N, IN, Y, B>> = boxed_zeroed();
    let adam = Adam::new(1e-3).unwrap();
    let (x, y) = (&case.x[..B], &case.y[..B]);
    let mut f = || {
        let s = train_step(
            &mut *net,
            &adam,
            &mut state,
            estimator,
            black_box(x),
            y,
            &mut ws,
            &mut grad,
            &mut rng,
        );
        black_box(s.unwrap());
    };
    let flop = 2.0 * multiply_adds(name, case.dims) * B as f64;
    let label = format!("{} {name} batch {B}", case.net);
    let secs = common::report(&label, flop, &mut f);
    println!("{label}: {:.0} examples/s", B as f64 / secs);
    g.throughput(Throughput::Elements(B as u64));
    g.bench_function(&label, |b| b.iter(&mut f));
    secs
}

/// Every estimator on network `N` (with `L` stochastic layers) at batch `B`.
fn estimators<N, const IN: usize, const Y: usize, const L: usize, const B: usize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case<'_, IN, Y>,
) where
    N: Network<IN, Y>,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    step::<N, _, IN, Y, B>(g, case, "MuProp", &mut MuProp::new());
    let mut learned: Box<LearnedMuProp<IN, HID, L, B>> = boxed_zeroed();
    learned.reset(1e-2, &mut rng).unwrap();
    step::<N, _, IN, Y, B>(g, case, "learned MuProp", &mut *learned);
    let mut reinforce = Reinforce::with_moving_average(0.9).unwrap();
    step::<N, _, IN, Y, B>(g, case, "REINFORCE", &mut reinforce);
    let mut nvil: Box<Nvil<IN, HID, B>> = boxed_zeroed();
    nvil.reset(1e-2, 0.8, true, &mut rng).unwrap();
    step::<N, _, IN, Y, B>(g, case, "NVIL", &mut *nvil);
    step::<N, _, IN, Y, B>(g, case, "straight-through", &mut StraightThrough);
    step::<N, _, IN, Y, B>(g, case, "ARM", &mut Arm);
}

fn network<N, const IN: usize, const Y: usize, const L: usize>(
    c: &mut Criterion,
    net: &str,
    dims: &[usize],
) where
    N: Network<IN, Y>,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let (x, y) = (binary::<IN>(&mut rng, 0.2), binary::<Y>(&mut rng, 0.2));
    let case = Case {
        net,
        dims,
        x: &x,
        y: &y,
    };
    let mut g = c.benchmark_group(format!("step {net}"));
    estimators::<N, IN, Y, L, 1>(&mut g, &case);
    estimators::<N, IN, Y, L, 24>(&mut g, &case);
    estimators::<N, IN, Y, L, 100>(&mut g, &case);
    g.finish();
}

fn networks(c: &mut Criterion) {
    network::<Sbn1<392, 200, 392>, 392, 392, 1>(c, "392-200-392", &[392, 200, 392]);
    network::<Sbn2<392, 200, 200, 392>, 392, 392, 2>(c, "392-200-200-392", &[392, 200, 200, 392]);
    network::<Sbn2<32, 64, 64, 32>, 32, 32, 2>(c, "digits 32-64-64-32", &[32, 64, 64, 32]);
}

/// A MuProp step on 392-200-392 at batch 100 with real inputs around 1e-3 and around 1e-39.
fn subnormal(c: &mut Criterion) {
    type N = Sbn1<392, 200, 392>;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let y = binary::<392>(&mut rng, 0.2);
    let real: Vec<[f32; 392]> = (0..ROWS)
        .map(|_| std::array::from_fn(|_| kernels::unit_f32(rng.next_u32()) + 0.5))
        .collect();
    let dims = [392, 200, 392];
    let mut g = c.benchmark_group("step subnormal");
    let mut secs = [0.0; 2];
    for (k, scale) in [1e-3f32, 1e-39].into_iter().enumerate() {
        let x: Vec<[f32; 392]> = real.iter().map(|r| r.map(|v| v * scale)).collect();
        let net = format!("392-200-392 inputs ~{scale:e}");
        let case = Case {
            net: &net,
            dims: &dims,
            x: &x,
            y: &y,
        };
        secs[k] = step::<N, _, 392, 392, 100>(&mut g, &case, "MuProp", &mut MuProp::new());
    }
    println!("subnormal slowdown, MuProp step: {:.2}x", secs[1] / secs[0]);
    g.finish();
}

/// What bounds a step at batch 1: the Adam update and the finiteness checks touch every
/// parameter once per step whatever the batch, beside a learned MuProp step on 392-200-392.
fn batch_one(c: &mut Criterion) {
    type N = Sbn1<392, 200, 392>;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    let (x, y) = (binary::<392>(&mut rng, 0.2), binary::<392>(&mut rng, 0.2));
    let mut net: Box<N> = boxed_zeroed();
    net.init(&mut rng);
    let mut grad: Box<N> = boxed_zeroed();
    net.tensor(0)
        .iter()
        .zip(grad.tensor_mut(0))
        .for_each(|(w, g)| *g = 1e-3 * w);
    let mut state: Box<AdamState<N>> = boxed_zeroed();
    let adam = Adam::new(1e-3).unwrap();
    let mut g = c.benchmark_group("batch 1, 392-200-392");

    // The pieces, on the network's own parameters.
    let update = common::time_per_call(30.0, || adam.update(&mut *net, &*grad, &mut *state));
    let check = common::time_per_call(30.0, || {
        black_box(black_box(&*net).all_finite());
    });
    g.bench_function("Adam update", |b| {
        b.iter(|| adam.update(&mut *net, &*grad, &mut *state))
    });

    // The whole step with the learned baseline's own Adam (100 hidden units).
    let mut learned: Box<LearnedMuProp<392, HID, 1, 1>> = boxed_zeroed();
    learned.reset(1e-2, &mut rng).unwrap();
    let mut ws: Box<WorkspaceFor<N, 392, 392, 1>> = boxed_zeroed();
    let step = common::time_per_call(30.0, || {
        let s = train_step(
            &mut *net,
            &adam,
            &mut state,
            &mut *learned,
            &x[..1],
            &y[..1],
            &mut ws,
            &mut grad,
            &mut rng,
        );
        black_box(s.unwrap());
    });
    println!(
        "batch 1, 392-200-392 ({} parameters): learned MuProp step {:.1} us; its Adam update \
         {:.1} us ({:.0}%), one finiteness check of the parameters {:.1} us ({:.0}%)",
        net.scalar_count(),
        step * 1e6,
        update * 1e6,
        100.0 * update / step,
        check * 1e6,
        100.0 * check / step
    );
    g.finish();
}

#[cfg(feature = "parallel")]
fn parallel(c: &mut Criterion) {
    use muprop::parallel::{train_step_parallel, Parallel};
    type N = Sbn2<392, 200, 200, 392>;
    const B: usize = 25;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let (x, y) = (binary::<392>(&mut rng, 0.2), binary::<392>(&mut rng, 0.2));
    let mut g = c.benchmark_group("parallel 392-200-200-392 MuProp batch 100");
    g.throughput(Throughput::Elements(ROWS as u64));
    let mut secs = [0.0; 2];
    for (k, threads) in [1usize, 2].into_iter().enumerate() {
        let mut net: Box<N> = boxed_zeroed();
        net.init(&mut rng);
        let mut grad: Box<N> = boxed_zeroed();
        let mut state: Box<AdamState<N>> = boxed_zeroed();
        let adam = Adam::new(1e-3).unwrap();
        let mut est = MuProp::new();
        let mut pool = Parallel::<N, MuProp, 392, 392, B>::new(threads).unwrap();
        let mut f = || {
            let s = train_step_parallel(
                &mut pool,
                &mut net,
                &adam,
                &mut state,
                &mut est,
                black_box(&x),
                &y,
                &mut grad,
                &mut rng,
            );
            black_box(s.unwrap());
        };
        let flop = 2.0 * multiply_adds("MuProp", &[392, 200, 200, 392]) * ROWS as f64;
        secs[k] = common::report(
            &format!("parallel MuProp batch 100, {threads} threads"),
            flop,
            &mut f,
        );
        g.bench_function(format!("{threads} threads"), |b| b.iter(&mut f));
    }
    println!("two threads over one: {:.2}x", secs[0] / secs[1]);
    g.finish();
}

#[cfg(not(feature = "parallel"))]
fn parallel(_: &mut Criterion) {
    println!("parallel: build with --features parallel to bench threads");
}

criterion_group! { name = benches; config = common::quick(); targets = networks, subnormal, batch_one, parallel }
criterion_main!(benches);
