//! The reproducibility contract, checked across builds: ten MuProp training steps of the
//! digits network from a fixed seed, saved in the crate's weights format, and a comparison of
//! two such files.
//!
//! ```text
//! cargo run --release --example repro -- --out simd.mupw
//! RUSTFLAGS="--cfg muprop_scalar_kernels" cargo run --release --example repro \
//!     --target-dir target/scalar -- --out scalar.mupw
//! cargo run --release --example repro -- --compare simd.mupw scalar.mupw
//! ```
//!
//! The second build serves the kernels' scalar twins from the crate root, so it runs the same
//! training on the reference path. `--compare` prints how many parameters are bit-identical
//! and the largest absolute difference, and exits non-zero if that exceeds `--tolerance`
//! (1e-5 by default: the activations of the two paths differ by a few ULPs and the
//! transposed products by their rounding bound, and ten Adam steps of size 6e-3 carry such
//! differences into the parameters at about 1e-7 to 1e-6).

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use muprop::data::{load_digits, Binarization};
use muprop::{
    boxed_zeroed, encoded_len, read_weights, train_step, write_weights, Adam, AdamState, MuProp,
    Network, Sbn2, Tensors, WorkspaceFor,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Net = Sbn2<32, 64, 64, 32>;
const BATCH: usize = 24;

#[derive(Parser, Debug)]
#[command(about = "Train 10 steps and save, or compare two saved parameter files")]
struct Args {
    /// Where to save the parameters after training.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Two parameter files to compare.
    #[arg(long, num_args = 2)]
    compare: Option<Vec<PathBuf>>,
    /// Largest allowed absolute difference in `--compare`.
    #[arg(long, default_value_t = 1e-5)]
    tolerance: f32,
    /// Training steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<bool, Box<dyn Error>> {
    if let Some(files) = &args.compare {
        return compare(&files[0], &files[1], args.tolerance);
    }
    let out = args
        .out
        .as_ref()
        .ok_or("give --out FILE or --compare A B")?;

    let digits = load_digits()?.binarized(Binarization::Threshold(0.5), 0)?;
    let task = digits.prediction_task();
    let (x, y) = (task.train().inputs::<32>()?, task.train().targets::<32>()?);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut net = boxed_zeroed::<Net>();
    net.init(&mut rng);
    let mut grad = boxed_zeroed::<Net>();
    let mut state = boxed_zeroed::<AdamState<Net>>();
    let mut ws = boxed_zeroed::<WorkspaceFor<Net, 32, 32, BATCH>>();
    let adam = Adam::new(6e-3)?;
    for step in 0..args.steps {
        let at = step * BATCH;
        let (xb, yb) = (&x[at..at + BATCH], &y[at..at + BATCH]);
        let s = train_step(
            &mut *net,
            &adam,
            &mut *state,
            &mut MuProp::new(),
            xb,
            yb,
            &mut *ws,
            &mut *grad,
            &mut rng,
        )?;
        if !s.applied() {
            return Err(format!("step {step} refused: {:?}", s.status).into());
        }
    }
    let mut bytes = vec![0u8; encoded_len(&*net)];
    write_weights(&*net, &mut bytes)?;
    fs::write(out, bytes)?;
    println!("wrote {} ({} steps)", out.display(), args.steps);
    Ok(true)
}

fn load(path: &PathBuf) -> Result<Box<Net>, Box<dyn Error>> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut net = boxed_zeroed::<Net>();
    read_weights(&bytes, &mut *net).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(net)
}

fn compare(a: &PathBuf, b: &PathBuf, tolerance: f32) -> Result<bool, Box<dyn Error>> {
    let (p, q) = (load(a)?, load(b)?);
    let (mut same, mut total, mut worst) = (0usize, 0usize, 0.0f32);
    for k in 0..<Net as Tensors>::COUNT {
        for (u, v) in p.tensor(k).iter().zip(q.tensor(k)) {
            total += 1;
            same += usize::from(u.to_bits() == v.to_bits());
            worst = worst.max((u - v).abs());
        }
    }
    let ok = worst <= tolerance;
    println!(
        "{same} of {total} parameters bit-identical; largest absolute difference {worst:.3e} \
         (tolerance {tolerance:.1e}): {}",
        if ok {
            "within the contract"
        } else {
            "OUTSIDE the contract"
        }
    );
    Ok(ok)
}
