//! Density modelling with a variational sigmoid belief network, the paper's second experiment.
//!
//! ```text
//! cargo run --release --example vsbn
//! cargo run --release --example vsbn -- --compare
//! cargo run --release --example vsbn -- --data ../shared/data/mnist --layers 2
//! ```
//!
//! An encoder `q(h | x)` of Bernoulli layers and a decoder `p(x, h)` with a learned prior are
//! trained on the evidence lower bound: the chosen estimator (MuProp by default) gives the
//! encoder's gradient, the decoder gets the exact pathwise gradient. On the built-in digits
//! (64 pixels, threshold 0.5) the models are `Vsbn1<64, 32>` and `Vsbn2<64, 32, 32>`; with
//! `--data` on MNIST (784 pixels, one fixed Bernoulli draw with seed 0 by default) they are
//! `Vsbn1<784, 200>` and `Vsbn2<784, 200, 200>`, the paper's linear models; `--coding signed`
//! gives them the public reference code's parametrisation (input centred by the training pixel
//! means, hidden units read as -1/+1). Reports the test
//! ELBO (one sample per image, averaged) and the `k`-sample importance-weighted bound
//! (`--k`, 100 by default), both in nats per image, at checkpoints and at the end; writes
//! `vsbn-curve.csv` and `vsbn.svg` into `--out` (default `target/muprop-vsbn/`). The default
//! run takes a few seconds; `--compare` trains every estimator with the same seeds (about 20
//! seconds for two layers at 20000 steps).

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use muprop::data::{column_means, load_digits, load_mnist, Binarization};
use muprop::{
    boxed_zeroed, negative_log_likelihood, train_step, Adam, AdamState, Arm, DisArm, Estimator,
    LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Network, Nvil, Reinforce, Replicas,
    SignedCoding, StraightThrough, Vsbn1, Vsbn2, VsbnLayer, Workspace,
};
use plotters::prelude::*;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Rows per chunk of a minibatch, and of the bound's samples.
const B: usize = 100;

#[derive(Parser, Debug)]
#[command(about = "Train a variational sigmoid belief network on the ELBO")]
struct Args {
    /// Gradient estimator for the encoder.
    #[arg(long, value_enum, default_value_t = Kind::Muprop)]
    estimator: Kind,
    /// Train every estimator with the same seeds and budget.
    #[arg(long)]
    compare: bool,
    /// Stochastic layers: 1 or 2.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    layers: u8,
    /// Training steps.
    #[arg(long, default_value_t = 20000, value_parser = at_least_one)]
    steps: u64,
    /// Minibatch size.
    #[arg(long, default_value_t = 24, value_parser = at_least_one)]
    batch: u64,
    /// Learning rate (Adam).
    #[arg(long, default_value_t = 3e-3)]
    lr: f32,
    /// Seed of initialisation, minibatches and samples.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Samples of the importance-weighted bound.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    k: u64,
    /// Test images evaluated (all by default for digits, 1000 for MNIST).
    #[arg(long, value_parser = at_least_one)]
    eval_examples: Option<u64>,
    /// Checkpoints on the learning curve.
    #[arg(long, default_value_t = 10, value_parser = at_least_one)]
    checkpoints: u64,
    /// MNIST-format IDX directory instead of the built-in digits.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the fixed Bernoulli binarization of `--data` (the digits use threshold 0.5).
    #[arg(long, default_value_t = 0)]
    binarize_seed: u64,
    /// Output directory.
    #[arg(long, default_value = "target/muprop-vsbn")]
    out: PathBuf,
    /// How the maps read their inputs: `plain` (0/1 as given) or `signed` (the first encoder
    /// reads the input centred by the training pixel means, hidden units are read as -1/+1).
    #[arg(long, value_enum, default_value_t = Coding::Plain)]
    coding: Coding,
}

/// A count of 1 or more, with an error that says so.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err(String::from("must be at least 1")),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Coding {
    Plain,
    Signed,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Plain => "plain",
            Coding::Signed => "signed",
        }
    }
}

/// A variational SBN over `X` pixels that can take the signed coding.
trait Model<const X: usize>: Network<X, 0> {
    fn use_signed_coding(&mut self, means: &[f32; X]);
}

impl<const X: usize, const H: usize, R> Model<X> for VsbnLayer<X, H, R>
where
    R: Network<H, 0> + SignedCoding,
{
    fn use_signed_coding(&mut self, means: &[f32; X]) {
        VsbnLayer::use_signed_coding(self, means);
    }
}

/// Each pixel's mean over `rows`.
fn pixel_means<const X: usize>(rows: &[[f32; X]]) -> [f32; X] {
    let means = column_means(rows.as_flattened(), X);
    core::array::from_fn(|j| means[j] as f32)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kind {
    Muprop,
    MupropRollout,
    MupropLearned,
    Reinforce,
    ReinforceBaseline,
    Nvil,
    LeaveOneOut,
    Arm,
    Disarm,
    StraightThrough,
}

impl Kind {
    /// The name the command line takes (`muprop-rollout`), used in every output.
    fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(|| format!("{self:?}"), |v| v.get_name().to_owned())
    }
}

const ALL: [Kind; 10] = [
    Kind::Muprop,
    Kind::MupropRollout,
    Kind::MupropLearned,
    Kind::Reinforce,
    Kind::ReinforceBaseline,
    Kind::Nvil,
    Kind::LeaveOneOut,
    Kind::Arm,
    Kind::Disarm,
    Kind::StraightThrough,
];

/// One checkpoint of a run.
struct Point {
    step: u64,
    elbo: f64,
    bound: f64,
}

/// A learning curve, and the steps refused on the way (non-finite loss or gradient).
struct Curve {
    points: Vec<Point>,
    refused: usize,
}

/// A finished run.
struct Run {
    kind: Kind,
    curve: Vec<Point>,
    refused: usize,
    seconds: f64,
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

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    Adam::new(args.lr)?;
    // The output directory, before any work that would have nowhere to go.
    fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let (runs, data) = match (&args.data, args.layers) {
        (None, 1) => experiment::<Vsbn1<64, 32>, 64>(args)?,
        (None, _) => experiment::<Vsbn2<64, 32, 32>, 64>(args)?,
        (Some(_), 1) => experiment::<Vsbn1<784, 200>, 784>(args)?,
        (Some(_), _) => experiment::<Vsbn2<784, 200, 200>, 784>(args)?,
    };
    report(args, &data, &runs)
}

/// The binarized images of width `X` and a description of the data set and binarization.
struct Images<const X: usize> {
    train: Vec<[f32; X]>,
    test: Vec<[f32; X]>,
    name: String,
}

/// Loads the images of width `X` (binarized) as train and test rows.
fn load<const X: usize>(args: &Args) -> Result<Images<X>, Box<dyn Error>> {
    let (set, scheme) = match &args.data {
        None => (load_digits()?, Binarization::Threshold(0.5)),
        Some(dir) => (
            load_mnist(dir)?,
            Binarization::FixedDraw {
                seed: args.binarize_seed,
            },
        ),
    };
    let set = set.binarized(scheme, 0)?;
    Ok(Images {
        train: set.train().rows::<X>()?.to_vec(),
        test: set.test().rows::<X>()?.to_vec(),
        name: format!("{} ({scheme})", set.name()),
    })
}

/// Trains the chosen estimators; returns their runs and a description of the data.
fn experiment<N, const X: usize>(args: &Args) -> Result<(Vec<Run>, String), Box<dyn Error>>
where
    N: Model<X>,
{
    let Images { train, test, name } = load::<X>(args)?;
    let default_eval = if args.data.is_some() {
        1000
    } else {
        test.len()
    };
    let wanted = args
        .eval_examples
        .map_or(default_eval, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let test = &test[..wanted.min(test.len())];
    println!(
        "{name}: {} training and {} test images; {} latent layer(s), {} coding; batch {}, lr {}, \
         {} steps, k = {}",
        train.len(),
        test.len(),
        args.layers,
        args.coding.name(),
        args.batch,
        args.lr,
        args.steps,
        args.k
    );
    let kinds: Vec<Kind> = if args.compare {
        ALL.to_vec()
    } else {
        vec![args.estimator]
    };
    let mut runs = Vec::new();
    for kind in kinds {
        let started = Instant::now();
        let curve = match kind {
            Kind::Muprop => train_with::<N, _, X>(args, &train, test, kind, MuProp::new())?,
            Kind::MupropRollout => train_with::<N, _, X>(args, &train, test, kind, MuPropRollout)?,
            Kind::MupropLearned => {
                let mut e = boxed_zeroed::<LearnedMuProp<X, 100, 2, B>>();
                e.reset(
                    10.0 * args.lr,
                    &mut Xoshiro256PlusPlus::seed_from_u64(args.seed ^ 7),
                )?;
                train_with::<N, _, X>(args, &train, test, kind, *e)?
            }
            Kind::Reinforce => train_with::<N, _, X>(args, &train, test, kind, Reinforce::new())?,
            Kind::ReinforceBaseline => train_with::<N, _, X>(
                args,
                &train,
                test,
                kind,
                Reinforce::with_moving_average(0.9)?,
            )?,
            Kind::Nvil => {
                let mut e = boxed_zeroed::<Nvil<X, 100, B>>();
                e.reset(
                    args.lr,
                    0.8,
                    true,
                    &mut Xoshiro256PlusPlus::seed_from_u64(args.seed ^ 7),
                )?;
                train_with::<N, _, X>(args, &train, test, kind, *e)?
            }
            Kind::LeaveOneOut => train_with::<N, _, X>(args, &train, test, kind, LeaveOneOut)?,
            Kind::Arm => train_with::<N, _, X>(args, &train, test, kind, Arm)?,
            Kind::Disarm => train_with::<N, _, X>(args, &train, test, kind, DisArm)?,
            Kind::StraightThrough => {
                train_with::<N, _, X>(args, &train, test, kind, StraightThrough)?
            }
        };
        runs.push(Run {
            kind,
            curve: curve.points,
            refused: curve.refused,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let data = format!(
        "{name}: {} training and {} test images",
        train.len(),
        test.len()
    );
    Ok((runs, data))
}

/// Trains one model with `est` and returns its learning curve.
fn train_with<N, E, const X: usize>(
    args: &Args,
    train: &[[f32; X]],
    test: &[[f32; X]],
    kind: Kind,
    mut est: E,
) -> Result<Curve, Box<dyn Error>>
where
    N: Model<X>,
    E: Estimator,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let mut net = boxed_zeroed::<N>();
    net.init(&mut rng);
    if args.coding == Coding::Signed {
        net.use_signed_coding(&pixel_means(train));
    }
    let mut grad = boxed_zeroed::<N>();
    let mut state = boxed_zeroed::<AdamState<N>>();
    let mut ws = boxed_zeroed::<Workspace<N::Trace<B>, B>>();
    let adam = Adam::new(args.lr)?;
    let targets = vec![[0.0f32; 0]; args.batch as usize];
    let mut batch = vec![[0.0f32; X]; args.batch as usize];

    let bar = ProgressBar::new(args.steps);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(kind.name());
    let every = (args.steps / args.checkpoints).max(1);
    let mut curve = vec![evaluate(&*net, test, args.k, &mut ws, &mut rng)?];
    let mut refused = 0;
    let mut running = f64::NAN;
    for step in 1..=args.steps {
        for row in batch.iter_mut() {
            *row = train[(rng.next_u32() as usize) % train.len()];
        }
        let s = train_step(
            &mut *net,
            &adam,
            &mut *state,
            &mut est,
            &batch,
            &targets,
            &mut *ws,
            &mut *grad,
            &mut rng,
        )?;
        if !s.applied() {
            refused += 1;
        } else {
            running = if running.is_nan() {
                f64::from(s.loss)
            } else {
                0.99 * running + 0.01 * f64::from(s.loss)
            };
        }
        if step % 100 == 0 {
            bar.set_position(step);
            bar.set_message(format!("train ELBO {:.2}", -running));
        }
        if step % every == 0 || step == args.steps {
            let mut p = evaluate(&*net, test, args.k, &mut ws, &mut rng)?;
            p.step = step;
            curve.push(p);
        }
    }
    bar.finish_and_clear();
    Ok(Curve {
        points: curve,
        refused,
    })
}

/// Test ELBO (one sample per image) and the k-sample bound, averaged over `test`.
fn evaluate<N: Network<X, 0>, const X: usize>(
    net: &N,
    test: &[[f32; X]],
    k: u64,
    ws: &mut Workspace<N::Trace<B>, B>,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Point, Box<dyn Error>> {
    let mut replicas = boxed_zeroed::<Replicas<X, 0, B>>();
    let (mut elbo, mut bound) = (0.0, 0.0);
    for x in test {
        elbo -= negative_log_likelihood(net, x, &[], 1, &mut replicas, ws, rng)?;
        bound -= negative_log_likelihood(net, x, &[], k as usize, &mut replicas, ws, rng)?;
    }
    let n = test.len() as f64;
    Ok(Point {
        step: 0,
        elbo: elbo / n,
        bound: bound / n,
    })
}

/// Prints the results table; writes the learning curves (CSV, with the settings as `#`
/// lines) and the plot.
fn report(args: &Args, data: &str, runs: &[Run]) -> Result<(), Box<dyn Error>> {
    println!(
        "\n{:<18} {:>8} {:>12} {:>14} {:>10} {:>8}",
        "estimator",
        "steps",
        "test ELBO",
        format!("{}-sample bound", args.k),
        "seconds",
        "refused"
    );
    let mut csv = String::new();
    for (key, value) in [
        ("data", data.to_string()),
        ("layers", args.layers.to_string()),
        ("coding", args.coding.name().to_string()),
        ("steps", args.steps.to_string()),
        ("batch", args.batch.to_string()),
        ("lr", args.lr.to_string()),
        ("seed", args.seed.to_string()),
        ("k", args.k.to_string()),
    ] {
        let _ = writeln!(csv, "# {key}={value}");
    }
    csv.push_str("estimator,step,test_elbo,test_bound,refused_steps\n");
    for r in runs {
        if let Some(last) = r.curve.last() {
            println!(
                "{:<18} {:>8} {:>12.3} {:>14.3} {:>10.1} {:>8}",
                r.kind.name(),
                last.step,
                last.elbo,
                last.bound,
                r.seconds,
                r.refused
            );
        }
        for p in &r.curve {
            let _ = writeln!(
                csv,
                "{},{},{},{},{}",
                r.kind.name(),
                p.step,
                p.elbo,
                p.bound,
                r.refused
            );
        }
    }
    let csv_path = args.out.join("vsbn-curve.csv");
    fs::write(&csv_path, csv).map_err(|e| format!("cannot write {}: {e}", csv_path.display()))?;
    let svg_path = args.out.join("vsbn.svg");
    let title = format!(
        "Variational SBN, {} layer(s), {} coding: test ELBO (nats per image)",
        args.layers,
        args.coding.name()
    );
    plot(runs, &title, &svg_path)
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    println!("\nwrote {} and {}", csv_path.display(), svg_path.display());
    Ok(())
}

/// Test ELBO against steps, one line per estimator.
fn plot(runs: &[Run], title: &str, path: &PathBuf) -> Result<(), Box<dyn Error>> {
    let points = runs.iter().flat_map(|r| r.curve.iter());
    let (lo, hi) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.elbo), hi.max(p.elbo))
    });
    let max_step = runs
        .iter()
        .flat_map(|r| r.curve.last())
        .map(|p| p.step)
        .max()
        .unwrap_or(1);
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..max_step, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("training steps")
        .y_desc("test ELBO")
        .draw()?;
    for (i, r) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                r.curve.iter().map(|p| (p.step, p.elbo)),
                color.stroke_width(2),
            ))?
            .label(r.kind.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
