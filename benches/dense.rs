//! Every dense kernel at the production shapes, batch 1 and 100, dense real and binary inputs,
//! in FLOP/s and as a fraction of the single-core peak; and subnormal against normal inputs.
//!
//! FLOP counts are dense: `2 * IN * OUT` per row for a product, the transposed product and the
//! accumulation (plus `OUT` per row for the bias), whether or not the kernel skips zero inputs,
//! so a binary input that skips half its rows shows as twice the rate.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use muprop::kernels;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Input rows: binary (each entry 1 with probability 1/2) or dense reals in [-1, 1).
#[derive(Clone, Copy)]
enum Input {
    Binary,
    Real,
}

impl Input {
    fn name(self) -> &'static str {
        match self {
            Input::Binary => "binary",
            Input::Real => "real",
        }
    }

    fn draw(self, rng: &mut Xoshiro256PlusPlus) -> f32 {
        let u = kernels::unit_f32(rng.next_u32());
        match self {
            Input::Binary => f32::from(u8::from(u < 0.5)),
            Input::Real => 2.0 * u - 1.0,
        }
    }
}

fn rows<const N: usize>(rng: &mut Xoshiro256PlusPlus, n: usize, kind: Input) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| std::array::from_fn(|_| kind.draw(rng)))
        .collect()
}

fn weights<const IN: usize, const OUT: usize>(
    rng: &mut Xoshiro256PlusPlus,
) -> Box<[[f32; OUT]; IN]> {
    let mut w: Box<[[f32; OUT]; IN]> = vec![[0.0; OUT]; IN].try_into().unwrap();
    for r in w.iter_mut() {
        *r = std::array::from_fn(|_| 0.1 * Input::Real.draw(rng));
    }
    w
}

fn shape<const IN: usize, const OUT: usize>(c: &mut Criterion) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let w = weights::<IN, OUT>(&mut rng);
    let b = [0.0f32; OUT];
    let mut gw = weights::<IN, OUT>(&mut rng);
    let mut gb = [0.0f32; OUT];
    let mut g = c.benchmark_group(format!("dense {IN}x{OUT}"));
    for batch in [1usize, 100] {
        let product = 2.0 * (IN * OUT * batch) as f64;
        g.throughput(Throughput::Elements(product as u64));
        let delta: Vec<[f32; OUT]> = rows(&mut rng, batch, Input::Real);
        let mut a = vec![[0.0f32; OUT]; batch];
        for kind in [Input::Real, Input::Binary] {
            let x: Vec<[f32; IN]> = rows(&mut rng, batch, kind);
            let tag = format!("{} batch {batch}", kind.name());
            let mut logits = || kernels::logits_batch(&w, &b, black_box(&x), &mut a);
            common::report(
                &format!("logits_batch {IN}x{OUT} {tag}"),
                product,
                &mut logits,
            );
            g.bench_function(BenchmarkId::new("logits_batch", &tag), |bn| {
                bn.iter(&mut logits)
            });
            let acc = product + (OUT * batch) as f64;
            let mut accumulate =
                || kernels::accumulate_batch(black_box(&x), &delta, &mut gw, &mut gb);
            common::report(
                &format!("accumulate_batch {IN}x{OUT} {tag}"),
                acc,
                &mut accumulate,
            );
            g.bench_function(BenchmarkId::new("accumulate_batch", &tag), |bn| {
                bn.iter(&mut accumulate)
            });
        }
        let mut dx = vec![[0.0f32; IN]; batch];
        let mut backprop = || kernels::backprop_input_batch(&w, black_box(&delta), &mut dx);
        common::report(
            &format!("backprop_input_batch {IN}x{OUT} batch {batch}"),
            product,
            &mut backprop,
        );
        g.bench_function(BenchmarkId::new("backprop_input_batch", batch), |bn| {
            bn.iter(&mut backprop)
        });
    }
    g.finish();
}

fn shapes(c: &mut Criterion) {
    shape::<392, 200>(c);
    shape::<200, 200>(c);
    shape::<200, 392>(c);
}

/// Inputs around 1e-39 (subnormal) against 1e-3 through a 784x200 layer, batch 100.
fn subnormal(c: &mut Criterion) {
    const IN: usize = 784;
    const OUT: usize = 200;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let w = weights::<IN, OUT>(&mut rng);
    let b = [0.0f32; OUT];
    let base: Vec<[f32; IN]> = rows(&mut rng, 100, Input::Real);
    let mut a = vec![[0.0f32; OUT]; 100];
    let mut g = c.benchmark_group("subnormal 784x200 batch 100");
    let mut secs = [0.0; 2];
    for (k, scale) in [1e-3f32, 1e-39].into_iter().enumerate() {
        let x: Vec<[f32; IN]> = base.iter().map(|r| r.map(|v| v * scale)).collect();
        let mut f = || kernels::logits_batch(&w, &b, black_box(&x), &mut a);
        secs[k] = common::report(
            &format!("logits_batch 784x200 inputs ~{scale:e}"),
            2.0 * (IN * OUT * 100) as f64,
            &mut f,
        );
        g.bench_function(format!("logits_batch inputs ~{scale:e}"), |bn| {
            bn.iter(&mut f)
        });
    }
    println!(
        "subnormal slowdown, 784x200 logits: {:.1}x",
        secs[1] / secs[0]
    );
    g.finish();
}

criterion_group! { name = benches; config = common::quick(); targets = shapes, subnormal }
criterion_main!(benches);
