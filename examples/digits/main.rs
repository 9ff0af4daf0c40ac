//! Watch a network of random binary units learn on real data.
//!
//! ```text
//! cargo run --release --example digits
//! ```
//!
//! The task is structured output prediction, as in the MuProp paper: from the top half of a
//! binarized image, predict the distribution of its bottom half. The default run trains
//! `Sbn2<32, 64, 64, 32>` (two layers of 64 Bernoulli units) on the built-in 8x8 digits
//! (1438 training / 359 test images, binarized at threshold 0.5) with MuProp and Adam
//! (lr 6e-3) for 40000 minibatches of 24. A progress bar shows the running training objective
//! (the sampled loss `f`), and 20 checkpoint lines show the test NLL with M = 100 samples per
//! example. Then a table: the final test negative log-likelihood with M = 1000 samples
//! (`-log (1/M sum_m p(y | h_m))`, nats per image), the untrained network's (about 23), and
//! the exact test NLL of the independent baseline that predicts each bottom pixel by its
//! Laplace-smoothed training frequency (12.53). The trained network ends near 8.9, well below
//! both. The learning curve goes to `target/muprop-digits/digits-curve.csv`, the table to
//! `digits-results.csv` and the plot to `digits.svg`; every file records the binarization and
//! the settings. Training and evaluation take a few seconds.
//!
//! - `--compare` trains every estimator the crate offers with the same seeds, initial
//!   parameters, minibatches and budget, and writes `compare-*.csv` and `compare.svg`: at equal
//!   steps MuProp ends about 2 nats below REINFORCE.
//! - `--data DIR` runs the same task on MNIST-format IDX files (MNIST, Fashion-MNIST): 392
//!   pixels predict 392 with `Sbn2<392, 200, 200, 392>` (10000 steps, lr 3e-3 by default);
//!   `--eval-examples N` evaluates on the first N test images (default 1000 with `--data`),
//!   because M = 1000 samples of the large network per image are slow. Files: `idx-*`.
//! - `--help` lists every flag; out-of-range values are rejected before any work.

mod cli;
mod experiment;
mod report;

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use muprop::data::{load_digits, load_mnist};
use muprop::{Adam, Sbn1, Sbn2, Sbn3};

use cli::{Arch, Args};
use experiment::{Corpus, Setup};
use report::Context;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The experiment: check the settings, load the data, train, report.
fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let setup = Setup {
        seed: args.seed,
        steps: args.steps(),
        batch: args.batch,
        lr: args.lr(),
        adam: Adam::new(args.lr())?,
        samples: args.samples,
        curve_samples: args.curve_samples,
        checkpoints: args.checkpoints.min(args.steps()),
    };
    let scheme = args.binarization();
    scheme.validate()?;
    let arch = args.arch();
    let side = if args.data.is_some() { 28 } else { 8 };
    if arch.widths()[0] != side * side / 2 {
        return Err(format!(
            "--arch {} takes {} input pixels, but the data has {}x{} images: use {}",
            arch.name(),
            arch.widths()[0],
            side,
            side,
            if side == 8 {
                "sbn1-64, sbn2-32, sbn2-64 or sbn3-32"
            } else {
                "sbn1-200 or sbn2-200"
            }
        )
        .into());
    }

    // The output directory, before any work that would have nowhere to go.
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;

    // The data and its binarization.
    let intensities = match &args.data {
        None => load_digits()?,
        Some(dir) => load_mnist(dir)?,
    };
    let eval_examples = args.eval_examples(intensities.test().len());
    let mut corpus = Corpus::new(intensities, scheme, eval_examples)?;
    if args.centre_inputs {
        corpus = corpus.centre_inputs()?;
    }
    let context = context(args, &setup, &corpus, arch);
    println!("data:          {}", context.get("data_describe"));
    println!("binarization:  {}", corpus.scheme());
    println!("inputs:        {}", context.get("inputs"));
    println!("network:       {} Bernoulli units, Adam", arch.describe());
    println!(
        "training:      {} steps of {} examples, lr {}, seed {}",
        setup.steps,
        setup.batch,
        args.lr(),
        setup.seed
    );
    println!(
        "evaluation:    {} test examples, M = {} samples (curve: M = {})",
        corpus.eval_examples(),
        setup.samples,
        setup.curve_samples
    );
    println!(
        "independent:   {:.3} nats (test NLL of per-pixel training frequencies)",
        context.baseline
    );

    // Train each estimator on the same seeds and budget.
    let mut outcomes = Vec::new();
    for kind in args.estimators() {
        println!("training with {}", kind.name());
        let outcome = match arch {
            Arch::Sbn1x64 => experiment::train::<Sbn1<32, 64, 32>, 32, 32>(&setup, &corpus, kind),
            Arch::Sbn2x32 => {
                experiment::train::<Sbn2<32, 32, 32, 32>, 32, 32>(&setup, &corpus, kind)
            }
            Arch::Sbn2x64 => {
                experiment::train::<Sbn2<32, 64, 64, 32>, 32, 32>(&setup, &corpus, kind)
            }
            Arch::Sbn3x32 => {
                experiment::train::<Sbn3<32, 32, 32, 32, 32>, 32, 32>(&setup, &corpus, kind)
            }
            Arch::Sbn1x200 => {
                experiment::train::<Sbn1<392, 200, 392>, 392, 392>(&setup, &corpus, kind)
            }
            Arch::Sbn2x200 => {
                experiment::train::<Sbn2<392, 200, 200, 392>, 392, 392>(&setup, &corpus, kind)
            }
        }?;
        outcomes.push(outcome);
    }

    // The table, the files.
    report::print_table(&setup, &context, &outcomes);
    let stem = match (args.compare, &args.data) {
        (true, _) => "compare",
        (false, None) => "digits",
        (false, Some(_)) => "idx",
    };
    for path in report::write_files(&args.out, stem, &setup, &context, &outcomes)? {
        println!("wrote {}", path.display());
    }
    println!(
        "total wall time {:.1} s (training, evaluation and files)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The settings every result is reported with.
fn context(args: &Args, setup: &Setup, corpus: &Corpus, arch: Arch) -> Context {
    let task = corpus.task();
    let data_short = match &args.data {
        None => String::from("8x8 digits"),
        Some(dir) => dir.display().to_string(),
    };
    let pairs = vec![
        ("data", task.name().to_string()),
        ("data_short", data_short),
        (
            "data_describe",
            format!(
                "{}: {} train / {} test images, {} -> {} pixels",
                task.name(),
                task.train().len(),
                task.test().len(),
                task.train().input_width(),
                task.train().target_width()
            ),
        ),
        ("binarization", corpus.scheme().to_string()),
        (
            "inputs",
            String::from(if corpus.centred() {
                "centred by the training means"
            } else {
                "as given"
            }),
        ),
        ("arch", arch.describe()),
        ("target_pixels", task.train().target_width().to_string()),
        ("seed", setup.seed.to_string()),
        ("steps", setup.steps.to_string()),
        ("batch", setup.batch.to_string()),
        ("lr", args.lr().to_string()),
        ("optimizer", String::from("adam")),
        ("samples", setup.samples.to_string()),
        ("curve_samples", setup.curve_samples.to_string()),
        ("eval_examples", corpus.eval_examples().to_string()),
    ];
    Context {
        pairs,
        baseline: corpus.independent_baseline(),
    }
}
