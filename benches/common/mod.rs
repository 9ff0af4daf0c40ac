//! What every bench shares: the single-core peak probe and a fraction-of-peak report.
//!
//! Criterion measures each case and prints its throughput; beside it, [`report`] times the
//! same closure for a moment (median of seven runs) and prints its FLOP rate as a fraction of
//! the peak that [`peak`] measured once, in the same process, through the kernels' own lanes.
#![allow(dead_code)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

use muprop::kernels::probe;

/// The measured single-core rates, in FLOP/s.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// Separate multiply and add (what the bit-identical dense kernels can use).
    pub mul_add: f64,
    /// Fused multiply-add (the same as `mul_add` in a build without FMA).
    pub fused: f64,
    /// Independent multiplies beside independent adds.
    pub split: f64,
}

impl Peak {
    /// The higher of the two: the peak of this build.
    pub fn best(&self) -> f64 {
        self.mul_add.max(self.fused).max(self.split)
    }
}

/// Seconds per call of `f`: the median of seven runs of enough calls to last about `ms`.
pub fn time_per_call(ms: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let calls = ((ms / 1e3 / once) as usize).clamp(1, 1 << 24);
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

#[derive(Clone, Copy)]
enum Probe {
    MulAdd,
    Fused,
    Split,
}

fn probe_rate<const C: usize>(kind: Probe) -> f64 {
    let iters = 20_000;
    let flop = (2 * iters * C * probe::WIDTH) as f64;
    let secs = time_per_call(20.0, || {
        let v = match kind {
            Probe::MulAdd => probe::mul_add::<C>(black_box(iters), black_box(1.0)),
            Probe::Fused => probe::fused::<C>(black_box(iters), black_box(1.0)),
            Probe::Split => probe::split::<C>(black_box(iters), black_box(1.0)),
        };
        black_box(v);
    });
    flop / secs
}

fn best_rate(kind: Probe) -> f64 {
    [
        probe_rate::<2>(kind),
        probe_rate::<4>(kind),
        probe_rate::<8>(kind),
        probe_rate::<12>(kind),
        probe_rate::<16>(kind),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

/// The single-core peak, measured once per process and printed the first time.
pub fn peak() -> Peak {
    static PEAK: OnceLock<Peak> = OnceLock::new();
    *PEAK.get_or_init(|| {
        let p = Peak {
            mul_add: best_rate(Probe::MulAdd),
            fused: best_rate(Probe::Fused),
            split: best_rate(Probe::Split),
        };
        println!(
            "peak probe ({} lanes, fma {}): mul+add {:.1}, fused {:.1}, split {:.1} GFLOP/s",
            probe::WIDTH,
            if probe::HAS_FMA { "on" } else { "off" },
            p.mul_add / 1e9,
            p.fused / 1e9,
            p.split / 1e9
        );
        p
    })
}

/// Times `f` (which does `flop` FLOP per call), prints its rate as a fraction of peak, and
/// returns seconds per call.
pub fn report(name: &str, flop: f64, f: impl FnMut()) -> f64 {
    let p = peak();
    let secs = time_per_call(30.0, f);
    let rate = flop / secs;
    println!(
        "{name}: {:.2} GFLOP/s = {:.1}% of peak",
        rate / 1e9,
        100.0 * rate / p.best()
    );
    secs
}

/// A short criterion configuration: the whole `cargo bench` stays within minutes.
pub fn quick() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(200))
        .measurement_time(std::time::Duration::from_millis(600))
}
