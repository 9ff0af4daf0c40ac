//! Instruction counts, under `qemu-system-arm -icount shift=10,sleep=off`.
//!
//! With `-icount shift=N` every guest instruction advances virtual time by exactly `2^N` ns, and
//! SysTick counts the 25 MHz core clock (40 ns a tick) of `mps2-an386`, so
//! `instructions = ticks * 40 / 2^N`. The 24-bit counter wraps every `2^24` ticks; the SysTick
//! exception counts wraps (about 10 instructions per 655,360 counted ones). The cost of reading
//! the clock is measured on an empty region and subtracted, and a block of exactly 1000 `nop`s
//! checks the conversion (to within two instructions). Figures are printed in hundredths of an
//! instruction.
//!
//! One MuProp step is timed phase by phase by calling the public building blocks in the order
//! `muprop::train_step` does (the guards, then the estimator's chunk flow, then the optimiser),
//! and the mirrored steps are checked to give the same parameters as `train_step` itself.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;
use cortex_m_semihosting::hprintln;
use muprop::{
    kernels, train_step, Adam, DrawnWords, Estimator, MuProp, Network, Optimizer, Reinforce, Sgd,
    SgdState, Tensors, Zeroable,
};

use crate::experiment::{checksum, init, Buffers, Net, EXAMPLES, H, IN, LEARNING_RATE, Y};

/// The `-icount shift` run.sh passes to QEMU.
const SHIFT: u32 = 10;
/// SysTick reload: the full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;
/// Steps averaged per figure: one pass over the digits.
const ROUNDS: usize = EXAMPLES;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Ticks since the counter started.
fn now() -> u64 {
    cortex_m::interrupt::free(|_| {
        let mut wraps = WRAPS.load(Ordering::Relaxed);
        let mut val = SYST::get_current();
        if SCB::is_pendst_pending() {
            // Wrapped before the exception could count it: count it here, read again.
            wraps += 1;
            val = SYST::get_current();
        }
        u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - val)
    })
}

/// Times regions and converts ticks to hundredths of an instruction.
struct Clock {
    /// Ticks of an empty region (two clock reads).
    overhead: u64,
}

impl Clock {
    fn start() -> Self {
        let Some(mut p) = cortex_m::Peripherals::take() else {
            return Self { overhead: 0 };
        };
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(RELOAD);
        p.SYST.clear_current();
        p.SYST.enable_interrupt();
        p.SYST.enable_counter();
        let mut clock = Self { overhead: 0 };
        let mut least = u64::MAX;
        for _ in 0..8 {
            least = least.min(clock.ticks(|| ()));
        }
        clock.overhead = least;
        clock
    }

    /// Ticks `f` takes, less the clock's own cost.
    fn ticks<T>(&self, f: impl FnOnce() -> T) -> u64 {
        let t0 = now();
        core::hint::black_box(f());
        let t1 = now();
        (t1 - t0).saturating_sub(self.overhead)
    }
}

/// Hundredths of an instruction in `ticks` ticks: `ticks * 40 / 2^SHIFT * 100`.
fn centi_instructions(ticks: u64) -> u64 {
    (ticks * 4000 + (1 << (SHIFT - 1))) >> SHIFT
}

/// Prints `measure KEY VALUE` and returns `value`.
fn report(key: &str, value: u64) -> u64 {
    hprintln!("measure {} {}", key, value);
    value
}

/// Per-phase ticks of a mirrored MuProp step.
#[derive(Default)]
struct Phases {
    draw: u64,
    sample: u64,
    mean_field: u64,
    logit_gradients: u64,
    backward: u64,
    guards: u64,
    update: u64,
}

/// One MuProp step with Adam on digit `i`, as `train_step` runs it, phase by phase.
fn mirrored_step(
    b: &mut Buffers,
    clock: &Clock,
    i: usize,
    rng: &mut impl rand_core::Rng,
) -> Phases {
    let mut t = Phases::default();
    let Ok(adam) = Adam::new(LEARNING_RATE) else {
        return t;
    };
    let mut est = MuProp::new();
    let (x, y) = (&b.x[i..=i], &b.y[i..=i]);
    let ws = &mut b.ws;
    t.guards = clock.ticks(|| {
        kernels::all_finite(x.as_flattened())
            && kernels::all_finite(y.as_flattened())
            && b.net.all_finite()
    });
    est.begin_step();
    t.draw = clock.ticks(|| {
        b.grad.fill_zero();
        Net::draw(&mut ws.trace, 0, rng);
    });
    let net = &b.net;
    t.sample = clock.ticks(|| net.sample(x, y, &mut ws.trace, &mut ws.f[..1], &mut DrawnWords));
    let fbar = &mut ws.fbar[..1];
    t.mean_field = clock.ticks(|| net.mean_field_after_sample(x, y, &mut ws.trace, fbar, None));
    t.logit_gradients = clock.ticks(|| {
        est.prepare_chunk(x.as_flattened(), IN, &ws.f[..1], &ws.fbar[..1]);
        for l in 0..<Net as Network<IN, Y>>::DEPTH {
            if let Some(mut view) = Net::layer(&mut ws.trace, l, 1) {
                est.logit_gradient(l, &mut view, &ws.f[..1], &ws.fbar[..1]);
            }
        }
    });
    let mode = est.backward_mode();
    let grad = &mut b.grad;
    t.backward = clock.ticks(|| net.backward(x, y, &mut ws.trace, grad, 1.0, mode, None));
    t.guards += clock.ticks(|| ws.f[0].is_finite() && b.grad.all_finite());
    t.update = clock.ticks(|| adam.update(&mut b.net, &b.grad, &mut b.adam));
    est.end_step(ws.f[0]);
    t
}

/// Mean ticks of `ROUNDS` training steps with `est`, one digit each.
fn step_ticks<E: Estimator>(b: &mut Buffers, clock: &Clock, est: &mut E) -> u64 {
    let mut rng = init(b);
    let Ok(adam) = Adam::new(LEARNING_RATE) else {
        return 0;
    };
    let mut total = 0;
    for i in 0..ROUNDS {
        let (x, y) = (&b.x[i..=i], &b.y[i..=i]);
        let (net, state, ws, grad) = (&mut b.net, &mut b.adam, &mut b.ws, &mut b.grad);
        total += clock.ticks(|| train_step(net, &adam, state, est, x, y, ws, grad, &mut rng));
    }
    total / ROUNDS as u64
}

/// The mean-field prediction of digit `i`'s bottom half: means fed forward, no loss.
fn predict(net: &Net, x: &[[f32; IN]], h1: &mut [[f32; H]; 1], h2: &mut [[f32; H]; 1]) -> f32 {
    let mut a1 = [[0.0; H]; 1];
    let mut a2 = [[0.0; H]; 1];
    let mut o = [[0.0; Y]; 1];
    let mut p = [[0.0; Y]; 1];
    net.stage.forward(x, &mut a1);
    kernels::sigmoid(a1.as_flattened(), h1.as_flattened_mut());
    net.rest.stage.forward(h1, &mut a2);
    kernels::sigmoid(a2.as_flattened(), h2.as_flattened_mut());
    net.rest.rest.linear.forward(h2, &mut o);
    kernels::sigmoid(o.as_flattened(), p.as_flattened_mut());
    p[0][0]
}

/// Prints the instruction counts; returns `true` if the mirrored steps matched `train_step`
/// and the `nop` calibration read 1000 instructions.
pub fn run(b: &mut Buffers) -> bool {
    let clock = Clock::start();
    let nops = clock.ticks(|| {
        // SAFETY: a block of no-operation instructions touches no memory or register.
        unsafe { core::arch::asm!(".rept 1000", "nop", ".endr", options(nomem, nostack)) }
    });
    // Within two instructions: the clock's cost varies by a fraction of one between reads.
    let calibrated = report("nop1000_centi", centi_instructions(nops)).abs_diff(100_000) <= 200;
    report("clock_overhead_centi", centi_instructions(clock.overhead));

    // Whole steps, as a user calls them.
    let muprop = step_ticks(b, &clock, &mut MuProp::new());
    report("muprop_step_centi", centi_instructions(muprop));
    let mut reinforce = Reinforce::new();
    if let Ok(r) = Reinforce::with_moving_average(0.9) {
        reinforce = r;
    }
    report(
        "reinforce_step_centi",
        centi_instructions(step_ticks(b, &clock, &mut reinforce)),
    );

    // The same MuProp steps phase by phase, checked against train_step's parameters.
    let mut rng = init(b);
    let mut sum = Phases::default();
    for i in 0..ROUNDS {
        let t = mirrored_step(b, &clock, i, &mut rng);
        sum.draw += t.draw;
        sum.sample += t.sample;
        sum.mean_field += t.mean_field;
        sum.logit_gradients += t.logit_gradients;
        sum.backward += t.backward;
        sum.guards += t.guards;
        sum.update += t.update;
    }
    let mirrored = checksum(&b.net);
    let mut rng = init(b);
    crate::experiment::train(b, &mut MuProp::new(), ROUNDS, &mut rng);
    let matches = mirrored == checksum(&b.net);
    report("mirror_matches_train_step", u64::from(matches));
    let n = ROUNDS as u64;
    let phases = [
        ("phase_draw_centi", sum.draw),
        ("phase_sample_centi", sum.sample),
        ("phase_mean_field_centi", sum.mean_field),
        ("phase_logit_gradients_centi", sum.logit_gradients),
        ("phase_backward_centi", sum.backward),
        ("phase_guards_centi", sum.guards),
        ("phase_adam_update_centi", sum.update),
    ];
    let mut total = 0;
    for (key, ticks) in phases {
        total += report(key, centi_instructions(ticks / n));
    }
    report("phase_sum_centi", total);

    // Dense multiply-adds of each pass, counting every weight (the kernels skip zero inputs).
    // The mean-field pass starts from the sample pass's first-layer logits.
    report("macs_sample", (IN * H + H * H + H * Y) as u64);
    report("macs_mean_field", (H * H + H * Y + H * Y + H * H) as u64);
    report("macs_backward", (IN * H + H * H + H * Y) as u64);

    // A mean-field prediction (forward only), and the mean-field pass less it: its reverse sweep.
    let mut h1 = [[0.0; H]; 1];
    let mut h2 = [[0.0; H]; 1];
    let mut ticks = 0;
    for i in 0..ROUNDS {
        let x = &b.x[i..=i];
        ticks += clock.ticks(|| predict(&b.net, x, &mut h1, &mut h2));
    }
    report("prediction_centi", centi_instructions(ticks / n));

    // An SGD update (momentum 0.9) of every parameter, on a copy.
    let Ok(sgd) = Sgd::new(0.01, 0.9) else {
        return false;
    };
    let mut params = b.net;
    let mut state = SgdState::<Net>::zeroed();
    let grad = &b.grad;
    let mut ticks = 0;
    for _ in 0..ROUNDS {
        ticks += clock.ticks(|| sgd.update(&mut params, grad, &mut state));
    }
    report("sgd_update_centi", centi_instructions(ticks / n));

    // The same with momentum 0: plain SGD, which neither reads nor writes the velocity.
    let Ok(plain) = Sgd::new(0.01, 0.0) else {
        return false;
    };
    let mut params = b.net;
    let mut ticks = 0;
    for _ in 0..ROUNDS {
        ticks += clock.ticks(|| plain.update(&mut params, grad, &mut state));
    }
    report("sgd_plain_update_centi", centi_instructions(ticks / n));

    report("params", b.net.scalar_count() as u64);

    calibrated && matches
}
