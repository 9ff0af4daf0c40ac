//! The experiment the firmware runs and its host twin (`examples/firmware_twin.rs`) repeats:
//! the same seeds, data, network and steps, so both must print the same result lines.
//!
//! Task: predict the bottom half of a binarized 8x8 digit (32 pixels) from its top half, with
//! an `Sbn2<32, 32, 32, 32>` (two layers of 32 Bernoulli units) on the 64 digits of
//! [`crate::digits`]. Three runs:
//!
//! 1. MuProp with Adam, [`STEPS`] steps of one example each (the workspace holds one row);
//! 2. REINFORCE (moving-average baseline) with Adam, the same initial network and steps;
//! 3. the host-trained weights of [`crate::pretrained`], loaded from flash, and round-tripped
//!    through the `muprop` weights file format.
//!
//! Each run reports the loss before and after (the estimated negative log-likelihood of the
//! bottom half, averaged over the 64 digits with [`EVAL_SAMPLES`] samples each, from a fixed
//! evaluation seed) and an FNV-1a 64 checksum of the parameters. Values are raw bits or
//! integers, so the firmware needs no float formatting.

use muprop::{
    negative_log_likelihood, read_weights, train_step, write_weights, Adam, AdamState, Estimator,
    MuProp, Network, Reinforce, Replicas, Sbn2, Tensors, WorkspaceFor, Zeroable,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Input width: the top half of a digit.
pub const IN: usize = 32;
/// Width of each stochastic layer.
pub const H: usize = 32;
/// Target width: the bottom half of a digit.
pub const Y: usize = 32;
/// The network.
pub type Net = Sbn2<IN, H, H, Y>;
/// A workspace for one row at a time.
pub type Ws = WorkspaceFor<Net, IN, Y, 1>;
/// Digits in flash.
pub const EXAMPLES: usize = crate::digits::DIGITS.len();
/// Training steps per run: ten passes over the digits, one digit per step, in order.
pub const STEPS: usize = 640;
/// Samples per digit in the loss estimate.
pub const EVAL_SAMPLES: usize = 8;
/// Seed of the initial parameters and of the training draws.
pub const TRAIN_SEED: u64 = 2016;
/// Seed of the loss estimate (the same before and after, so the draws are common).
pub const EVAL_SEED: u64 = 7;
/// Adam's learning rate.
pub const LEARNING_RATE: f32 = 0.01;
/// Decay of REINFORCE's moving-average baseline.
pub const BASELINE_DECAY: f32 = 0.9;
/// Bytes of the weights file of [`Net`]: header 12, shape 4 per tensor, payload, CRC 4.
pub const FILE_LEN: usize = 12 + 4 * 6 + 4 * (3 * (H * H + H)) + 4;

/// Every buffer the experiment uses, owned by the caller (on the stack in the firmware).
pub struct Buffers {
    /// The parameters being trained.
    pub net: Net,
    /// The gradient.
    pub grad: Net,
    /// Adam's moments.
    pub adam: AdamState<Net>,
    /// Passes' values for one row.
    pub ws: Ws,
    /// Copies of one example for the loss estimate.
    pub replicas: Replicas<IN, Y, 1>,
    /// Inputs: top halves, `0.0` or `1.0`.
    pub x: [[f32; IN]; EXAMPLES],
    /// Targets: bottom halves.
    pub y: [[f32; Y]; EXAMPLES],
    /// A weights file.
    pub file: [u8; FILE_LEN],
}

impl Buffers {
    /// Zeroed buffers with the digits unpacked from flash.
    pub fn new() -> Self {
        let mut b = Self {
            net: Net::zeroed(),
            grad: Net::zeroed(),
            adam: AdamState::new(),
            ws: Ws::new(),
            replicas: Replicas::new(),
            x: [[0.0; IN]; EXAMPLES],
            y: [[0.0; Y]; EXAMPLES],
            file: [0; FILE_LEN],
        };
        for ((x, y), [top, bottom]) in
            b.x.iter_mut()
                .zip(b.y.iter_mut())
                .zip(crate::digits::DIGITS)
        {
            unpack(top, x);
            unpack(bottom, y);
        }
        b
    }
}

/// Bit `i` of `bits` as `0.0` or `1.0` into `out[i]`.
fn unpack(bits: u32, out: &mut [f32; 32]) {
    for (i, v) in out.iter_mut().enumerate() {
        *v = ((bits >> i) & 1) as f32;
    }
}

/// FNV-1a 64 over the little-endian bytes of every parameter, tensor by tensor.
pub fn checksum<P: Tensors>(p: &P) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for k in 0..P::COUNT {
        for v in p.tensor(k) {
            for byte in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

/// The mean estimated `-log p(y | x)` over the digits, from [`EVAL_SEED`] (NaN on error).
pub fn mean_loss(b: &mut Buffers) -> f64 {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(EVAL_SEED);
    let mut sum = 0.0;
    for (x, y) in b.x.iter().zip(&b.y) {
        let nll = negative_log_likelihood(
            &b.net,
            x,
            y,
            EVAL_SAMPLES,
            &mut b.replicas,
            &mut b.ws,
            &mut rng,
        );
        sum += nll.unwrap_or(f64::NAN);
    }
    sum / EXAMPLES as f64
}

/// Fresh parameters from [`TRAIN_SEED`], and the generator positioned after them.
pub fn init(b: &mut Buffers) -> Xoshiro256PlusPlus {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(TRAIN_SEED);
    b.net = Net::zeroed();
    b.net.init(&mut rng);
    b.adam = AdamState::new();
    rng
}

/// Trains `b.net` for `steps` steps of one digit each (digit `step % EXAMPLES`); returns the
/// number of applied steps.
pub fn train<E: Estimator>(
    b: &mut Buffers,
    estimator: &mut E,
    steps: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> usize {
    let Ok(adam) = Adam::new(LEARNING_RATE) else {
        return 0;
    };
    let mut applied = 0;
    for step in 0..steps {
        let i = step % EXAMPLES;
        let (x, y) = (&b.x[i..=i], &b.y[i..=i]);
        let stats = train_step(
            &mut b.net,
            &adam,
            &mut b.adam,
            estimator,
            x,
            y,
            &mut b.ws,
            &mut b.grad,
            rng,
        );
        applied += usize::from(matches!(stats, Ok(s) if s.applied()));
    }
    applied
}

/// Whether a result line's value reads best in hex (bit patterns, checksums) or in decimal.
pub fn is_hex(key: &str) -> bool {
    key.ends_with("_bits") || key.ends_with("checksum") || key.ends_with("crc32")
}

/// A loss in thousandths of a nat, rounded, for people to read.
fn millinats(loss: f64) -> u64 {
    (loss * 1000.0 + 0.5) as i64 as u64
}

/// One training run from fresh parameters: reports the losses, applied steps and checksum;
/// returns `(before, after)`.
fn run_estimator<E: Estimator>(
    b: &mut Buffers,
    name: &str,
    estimator: &mut E,
    emit: &mut dyn FnMut(&str, &str, u64),
) -> (f64, f64) {
    let mut rng = init(b);
    let before = mean_loss(b);
    let applied = train(b, estimator, STEPS, &mut rng);
    let after = mean_loss(b);
    emit(name, "loss_before_bits", before.to_bits());
    emit(name, "loss_after_bits", after.to_bits());
    emit(name, "loss_before_millinats", millinats(before));
    emit(name, "loss_after_millinats", millinats(after));
    emit(name, "applied_steps", applied as u64);
    emit(name, "param_checksum", checksum(&b.net));
    (before, after)
}

/// Runs the three parts and reports every result line through `emit(run, key, value)`;
/// returns `true` if the loss fell in both training runs and the flash weights beat the
/// initial ones and survived the file round trip.
pub fn run(b: &mut Buffers, emit: &mut dyn FnMut(&str, &str, u64)) -> bool {
    let (m0, m1) = run_estimator(b, "muprop", &mut MuProp::new(), emit);
    let Ok(mut reinforce) = Reinforce::with_moving_average(BASELINE_DECAY) else {
        return false;
    };
    let (r0, r1) = run_estimator(b, "reinforce", &mut reinforce, emit);

    // The host-trained weights from flash, through the weights file and back.
    let loaded = crate::pretrained::load_pretrained(&mut b.net).is_ok();
    let loss = mean_loss(b);
    let sum = checksum(&b.net);
    let written = write_weights(&b.net, &mut b.file);
    let mut back = Net::zeroed();
    let read = written.is_ok() && read_weights(&b.file, &mut back).is_ok();
    let round_trip = written == Ok(FILE_LEN) && read && checksum(&back) == sum;
    let crc = b
        .file
        .get(FILE_LEN - 4..)
        .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]));
    emit("pretrained", "loss_bits", loss.to_bits());
    emit("pretrained", "loss_millinats", millinats(loss));
    emit("pretrained", "param_checksum", sum);
    emit("pretrained", "file_crc32", u64::from(crc));
    emit("pretrained", "round_trip_ok", u64::from(round_trip));
    m1 < m0 && r1 < r0 && loaded && round_trip && loss < m0
}
