//! The single-core peak: independent chains of multiply-add through the kernels' lane type.
//!
//! Prints the rates every other bench divides by; criterion's throughput is in FLOP/s.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use muprop::kernels::probe;

const ITERS: usize = 10_000;
const CHAINS: usize = 8;

fn peak(c: &mut Criterion) {
    common::peak();
    let mut g = c.benchmark_group("peak");
    g.throughput(Throughput::Elements(
        (2 * ITERS * CHAINS * probe::WIDTH) as u64,
    ));
    g.bench_function("mul+add", |b| {
        b.iter(|| probe::mul_add::<CHAINS>(black_box(ITERS), black_box(1.0)))
    });
    g.bench_function("fused", |b| {
        b.iter(|| probe::fused::<CHAINS>(black_box(ITERS), black_box(1.0)))
    });
    g.finish();
}

criterion_group! { name = benches; config = common::quick(); targets = peak }
criterion_main!(benches);
