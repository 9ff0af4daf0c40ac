//! Reproduce the MuProp paper's comparisons on MNIST, at a budget this machine can afford.
//!
//! ```text
//! cargo run --release --example reproduce -- --quick --data ../shared/data/mnist
//! cargo run --release --example reproduce -- --data ../shared/data/mnist
//! ```
//!
//! (`examples/reproduce.sh quick|full` runs the same, pinned to one core.)
//!
//! Two experiments, each a table, CSV files and SVG learning curves in `--out`
//! (default `target/muprop-reproduce/`), and a README-ready `REPORT.md` gathering them:
//!
//! 1. **Structured output prediction**, top half to bottom half of MNIST (one fixed Bernoulli
//!    draw, seed 0): the linear `Sbn2<392, 200, 200, 392>` and a nonlinear variant, each
//!    stochastic layer's logits computed through a deterministic layer of 300 leaky-ReLU units
//!    (`Nonlinear<IN, 300, 200, LeakyRelu>`; the output layer stays linear, the crate has no
//!    deterministic layer before the output likelihood). MuProp, MuProp with learned baseline,
//!    NVIL, straight-through, ARM and DisARM are trained with Adam on minibatches of 100 with
//!    the same seed, initial parameters and minibatches; test NLL with M = 1000 samples on
//!    the first `N` test images. Curves against steps and against training seconds, and the
//!    NLL of every estimator at the wall time of the fastest. MuProp, learned MuProp and
//!    straight-through train again on the linear network with centred inputs.
//! 2. **Variational SBN** (`Vsbn1<784, 200>`, `Vsbn2<784, 200, 200>`): train on the first
//!    50000 training images, report the ELBO and the 100-sample bound on the first `N` of the
//!    last 10000 (the JAX reference's split) after a fixed number of steps, over several seeds,
//!    with the plain and with the reference's signed coding, beside the JAX reference
//!    (`../shared/peer/muprop_jax.py --task sbn`) run with the same steps, batch, learning
//!    rate and Adam `beta2` on the same binary images (written for it as an IDX file).
//!
//! `--quick` shrinks every budget to a few steps and examples (seconds: it proves every table
//! and plot path runs); the full mode takes about 50 minutes on one core (see `Budget::full`).

mod density;
mod plot;
mod prediction;
mod reference;

// The digits example's estimator dispatch, training loop and report, shared rather than copied.
#[allow(dead_code)]
#[path = "../digits/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../digits/experiment.rs"]
mod experiment;
#[allow(dead_code)]
#[path = "../digits/report.rs"]
mod report;

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

/// Reproduce the MuProp paper's comparisons on MNIST: structured prediction and the
/// variational SBN, with tables, CSV files, SVG plots and a README-ready report.
#[derive(Parser, Debug)]
#[command(name = "reproduce")]
pub struct Args {
    /// A directory of MNIST IDX files (raw or .gz).
    #[arg(long, default_value = "../shared/data/mnist")]
    pub data: PathBuf,

    /// Tiny budgets (seconds): checks every table and plot path end to end.
    #[arg(long)]
    pub quick: bool,

    /// Run only one part: `prediction` or `density` (default: both).
    #[arg(long, value_parser = ["prediction", "density"])]
    pub only: Option<String>,

    /// The Python of the JAX reference's virtual environment.
    #[arg(long, default_value = ".venv-jax/bin/python")]
    pub jax_python: PathBuf,

    /// The JAX reference script.
    #[arg(long, default_value = "../shared/peer/muprop_jax.py")]
    pub jax_script: PathBuf,

    /// Do not run the JAX reference.
    #[arg(long)]
    pub no_jax: bool,

    /// Where the tables, CSV files, plots and REPORT.md go.
    #[arg(long, default_value = "target/muprop-reproduce")]
    pub out: PathBuf,
}

/// Steps, evaluation sizes and seeds of one mode.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Structured prediction: training steps per estimator.
    pub sp_steps: usize,
    /// Structured prediction: test images evaluated.
    pub sp_eval: usize,
    /// Structured prediction: samples M of the final test NLL.
    pub sp_samples: usize,
    /// Structured prediction: samples of the learning-curve checkpoints.
    pub sp_curve_samples: usize,
    /// Checkpoints after step 0, both experiments.
    pub checkpoints: usize,
    /// Variational SBN: training steps.
    pub vsbn_steps: usize,
    /// Variational SBN: validation images evaluated.
    pub vsbn_eval: usize,
    /// Variational SBN: samples of the importance-weighted bound.
    pub vsbn_k: usize,
    /// Variational SBN: seeds of our MuProp and of the reference.
    pub seeds: u64,
    /// Variational SBN: models the reference runs on (1: one-layer only, 2: both).
    pub jax_models: u8,
}

impl Budget {
    /// Minibatch size of both experiments (the paper's and the reference's).
    pub const BATCH: usize = 100;
    /// Adam learning rate of structured prediction.
    pub const SP_LR: f32 = 3e-3;
    /// Adam learning rate of the variational SBN (the reference's default).
    pub const VSBN_LR: f32 = 1e-3;

    /// Seconds on one core: it only proves the paths run.
    pub fn quick() -> Self {
        Self {
            sp_steps: 20,
            sp_eval: 5,
            sp_samples: 1000,
            sp_curve_samples: 20,
            checkpoints: 2,
            vsbn_steps: 20,
            vsbn_eval: 5,
            vsbn_k: 100,
            seeds: 1,
            jax_models: 1,
        }
    }

    /// About 50 minutes on one core (structured prediction measured at 28 minutes, the
    /// variational SBN at 21): 20000 prediction steps per estimator and architecture (12 runs,
    /// and 3 more on centred inputs), 4000 density steps for 3 seeds of each of our 4 variants
    /// and of the reference on both models, plus one seed of the zero-bias ablation.
    pub fn full() -> Self {
        Self {
            sp_steps: 20_000,
            sp_eval: 500,
            sp_samples: 1000,
            sp_curve_samples: 100,
            checkpoints: 20,
            vsbn_steps: 4000,
            vsbn_eval: 1000,
            vsbn_k: 100,
            seeds: 3,
            jax_models: 2,
        }
    }
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The steps: settings, structured prediction, the variational SBN, the report.
fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let budget = if args.quick {
        Budget::quick()
    } else {
        Budget::full()
    };
    fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    println!(
        "mode: {}; budget {budget:?}",
        if args.quick { "quick" } else { "full" }
    );

    let mut report = String::from("# Reproducing the MuProp paper's comparisons on MNIST\n\n");
    report.push_str(&format!(
        "Mode: {}. Command: `cargo run --release --example reproduce -- {}`\n\n",
        if args.quick { "quick" } else { "full" },
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    ));
    if args.only.as_deref() != Some("density") {
        report.push_str(&prediction::run(args, &budget)?);
        fs::write(args.out.join("REPORT.md"), &report)?;
    }
    if args.only.as_deref() != Some("prediction") {
        report.push_str(&density::run(args, &budget)?);
    }

    let seconds = started.elapsed().as_secs_f64();
    report.push_str(&format!("\nTotal wall time of this run: {seconds:.0} s.\n"));
    let path = args.out.join("REPORT.md");
    fs::write(&path, &report)?;
    println!("\nwrote {}\ntotal wall time {seconds:.1} s", path.display());
    Ok(())
}
