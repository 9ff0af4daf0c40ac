//! The variational SBN on MNIST beside the JAX reference: the same split, steps, batch,
//! learning rate and Adam `beta2`, several seeds of each, the ELBO and the 100-sample bound on
//! validation images.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Instant;

use muprop::data::{column_means, load_mnist};
use muprop::{
    boxed_zeroed, negative_log_likelihood, train_step, Adam, AdamState, Estimator, Network,
    Replicas, SignedCoding, Vsbn1, Vsbn2, VsbnLayer, Workspace,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::cli::{EstimatorKind, UseEstimator};
use crate::plot::{self, Series};
use crate::prediction::SCHEME;
use crate::reference::{self, Protocol, ReferenceRun};
use crate::{Args, Budget};

/// Pixels per image.
const X: usize = 784;
/// Rows per chunk of a minibatch and of the bound's samples.
const CHUNK: usize = 100;
/// Training images: the first 50000 of MNIST's training set; the rest is the validation split.
const TRAIN: usize = 50_000;
/// Samples per image behind the final ELBO (checkpoints use one).
const FINAL_ELBO_SAMPLES: usize = 10;
/// Our Adam's `beta2`, passed to the reference too.
const BETA2: f32 = 0.999;

/// How the decoder's output bias starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BiasInit {
    /// Zero, the crate's `init`.
    Zero,
    /// The logit of each pixel's training mean, clipped to `[0.001, 0.999]` (as the reference).
    PixelMeans,
}

/// One of our configurations.
#[derive(Clone, Copy, Debug)]
struct Variant {
    kind: EstimatorKind,
    bias: BiasInit,
    /// Whether the model reads its input centred and its hidden units as -1/+1.
    signed: bool,
    /// How many seeds: all of the budget's, or one (an ablation).
    all_seeds: bool,
}

impl Variant {
    fn name(&self) -> String {
        let bias = match self.bias {
            BiasInit::Zero => "zero output bias",
            BiasInit::PixelMeans => "output bias = logit(pixel means)",
        };
        let coding = if self.signed {
            ", centred input, ±1 hidden units"
        } else {
            ""
        };
        format!("ours, {}, {bias}{coding}", self.kind.name())
    }
}

/// Ours: MuProp and learned MuProp (the reference's estimator) with the reference's bias
/// initialisation, plain and with the reference's coding, on every seed; the crate's zero bias
/// as a one-seed ablation.
const VARIANTS: [Variant; 5] = [
    Variant {
        kind: EstimatorKind::Muprop,
        bias: BiasInit::PixelMeans,
        signed: false,
        all_seeds: true,
    },
    Variant {
        kind: EstimatorKind::MupropLearned,
        bias: BiasInit::PixelMeans,
        signed: false,
        all_seeds: true,
    },
    Variant {
        kind: EstimatorKind::Muprop,
        bias: BiasInit::PixelMeans,
        signed: true,
        all_seeds: true,
    },
    Variant {
        kind: EstimatorKind::MupropLearned,
        bias: BiasInit::PixelMeans,
        signed: true,
        all_seeds: true,
    },
    Variant {
        kind: EstimatorKind::Muprop,
        bias: BiasInit::Zero,
        signed: false,
        all_seeds: false,
    },
];

/// What a variant sets on a fresh model: its decoder's output bias and its coding.
trait Setting {
    /// The bias of the pixels' logits.
    fn output_bias(&mut self) -> &mut [f32; X];

    /// The reference's coding: the input centred by `means`, hidden units read as -1/+1.
    fn use_signed_coding(&mut self, means: &[f32; X]);
}

impl<const H: usize, R: SignedCoding> Setting for VsbnLayer<X, H, R> {
    fn output_bias(&mut self) -> &mut [f32; X] {
        &mut self.p.b
    }

    fn use_signed_coding(&mut self, means: &[f32; X]) {
        VsbnLayer::use_signed_coding(self, means);
    }
}

/// The images of the experiment.
struct Data {
    train: Vec<[f32; X]>,
    valid: Vec<[f32; X]>,
    /// Each pixel's mean over `train`.
    means: [f32; X],
    /// `logit(clip(mean, 0.001, 0.999))` of each pixel over `train`.
    bias: [f32; X],
    /// Every binarized training image (train and validation splits) as an IDX file for the
    /// reference, so that both train and validate on the same binary images.
    reference_data: PathBuf,
}

/// One checkpoint.
#[derive(Clone, Copy, Debug)]
struct Point {
    step: usize,
    seconds: f64,
    elbo: f64,
    bound: f64,
}

/// One of our training runs.
#[derive(Clone, Debug)]
struct Trained {
    variant: Variant,
    seed: u64,
    curve: Vec<Point>,
    /// ELBO (mean of `FINAL_ELBO_SAMPLES` per image) and the bound on every evaluated image.
    elbo: f64,
    bound: f64,
    /// Mean training ELBO over the last 100 steps.
    train_elbo: f64,
    seconds: f64,
}

/// Runs both models; writes the files and returns the report section.
pub fn run(args: &Args, budget: &Budget) -> Result<String, Box<dyn Error>> {
    let data = load(args, budget)?;
    let mut md = String::from("## 2. Variational SBN beside the JAX reference\n\n");
    let _ = writeln!(
        md,
        "MNIST, binarization `{SCHEME}` (the crate's fixed draw with seed 0; the reference reads \
         the same binary images from `reference-data/`, written by this run). Train on the \
         first {TRAIN} training images, evaluate on the first {} \
         of the last 10000 (the reference's split). Adam lr {}, beta2 {BETA2} (passed to the \
         reference, whose default is 0.99999), batch {}, {} steps. ELBO: mean over \
         {FINAL_ELBO_SAMPLES} samples per image (reference: 100); bound: {}-sample \
         importance-weighted bound. Nats per image, higher is better; mean ± sample standard \
         deviation over seeds, [min, max].\n",
        data.valid.len(),
        Budget::VSBN_LR,
        Budget::BATCH,
        budget.vsbn_steps,
        budget.vsbn_k
    );
    let mut csv = String::from("model,run,seed,step,train_seconds,valid_elbo,valid_bound\n");
    for layers in [1u8, 2] {
        println!("\n== variational SBN, {layers} layer(s) of 200");
        let ours = train_variants(layers, budget, &data)?;
        let theirs = run_reference(args, budget, layers, &data);
        for t in &ours {
            for p in &t.curve {
                let _ = writeln!(
                    csv,
                    "{layers},\"{}\",{},{},{:.3},{:.4},{:.4}",
                    t.variant.name(),
                    t.seed,
                    p.step,
                    p.seconds,
                    p.elbo,
                    p.bound
                );
            }
        }
        let svg = args.out.join(format!("vsbn{layers}.svg"));
        plot_model(&svg, layers, &ours, &theirs)?;
        println!("wrote {}", svg.display());
        md.push_str(&table(args, budget, layers, &ours, &theirs, &data));
    }
    let path = args.out.join("vsbn-curve.csv");
    fs::write(&path, csv)?;
    println!("wrote {}", path.display());
    Ok(md)
}

/// MNIST binarized once; the training rows, the evaluated validation rows and the bias.
fn load(args: &Args, budget: &Budget) -> Result<Data, Box<dyn Error>> {
    let set = load_mnist(&args.data)?.binarized(SCHEME, 0)?;
    let rows = set.train().rows::<X>()?;
    if rows.len() <= TRAIN {
        return Err(format!("need more than {TRAIN} training images").into());
    }
    // The images the reference reads, written once per run when it will run.
    let reference_data = args.out.join("reference-data");
    if !args.no_jax && budget.jax_models > 0 && args.jax_python.exists() {
        write_images(&reference_data, rows)?;
    }
    let (train, valid) = rows.split_at(TRAIN);
    let valid = &valid[..budget.vsbn_eval.min(valid.len())];

    // The reference's output bias: the logit of each clipped pixel mean.
    let exact = column_means(train.as_flattened(), X);
    let means: [f32; X] = core::array::from_fn(|j| exact[j] as f32);
    let bias: [f32; X] = core::array::from_fn(|j| {
        let clipped = exact[j].clamp(0.001, 0.999);
        (clipped / (1.0 - clipped)).ln() as f32
    });
    Ok(Data {
        train: train.to_vec(),
        valid: valid.to_vec(),
        means,
        bias,
        reference_data,
    })
}

/// Writes binary images as an MNIST training-image IDX file in `dir`, pixels 0 or 255.
///
/// The reference binarizes its input by `u < pixel / 255` with `u` in `[0, 1)`, which keeps
/// every pixel of these images as it is: it trains and validates on exactly our draw.
fn write_images(dir: &Path, rows: &[[f32; X]]) -> Result<(), Box<dyn Error>> {
    let count = u32::try_from(rows.len())?;
    let mut bytes = Vec::with_capacity(16 + rows.len() * X);
    for word in [0x0803u32, count, 28, 28] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend(
        rows.iter()
            .flatten()
            .map(|&p| if p > 0.5 { 255u8 } else { 0 }),
    );
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("train-images-idx3-ubyte");
    fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Trains every variant on its seeds.
fn train_variants(
    layers: u8,
    budget: &Budget,
    data: &Data,
) -> Result<Vec<Trained>, Box<dyn Error>> {
    let mut runs = Vec::new();
    for variant in VARIANTS {
        let seeds = if variant.all_seeds { budget.seeds } else { 1 };
        for seed in 1..=seeds {
            println!("training {} (seed {seed})", variant.name());
            let job = Job {
                budget,
                data,
                variant,
                seed,
            };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xba5e);
            let lr = Budget::VSBN_LR;
            let t = match layers {
                1 => variant.kind.dispatch::<_, _, X, CHUNK>(
                    Typed::<Vsbn1<X, 200>>(job, PhantomData),
                    lr,
                    &mut rng,
                )??,
                _ => variant.kind.dispatch::<_, _, X, CHUNK>(
                    Typed::<Vsbn2<X, 200, 200>>(job, PhantomData),
                    lr,
                    &mut rng,
                )??,
            };
            println!(
                "  valid ELBO {:.3}  bound {:.3}  train ELBO {:.3}  {:.0} s",
                t.elbo, t.bound, t.train_elbo, t.seconds
            );
            runs.push(t);
        }
    }
    Ok(runs)
}

/// Everything one of our runs needs but the model type and the estimator.
#[derive(Clone, Copy)]
struct Job<'a> {
    budget: &'a Budget,
    data: &'a Data,
    variant: Variant,
    seed: u64,
}

/// A job with its model type `N`.
struct Typed<'a, N>(Job<'a>, PhantomData<N>);

impl<N: Network<X, 0> + Setting> UseEstimator for Typed<'_, N> {
    type Output = Result<Trained, Box<dyn Error>>;

    fn run<E: Estimator>(self, estimator: &mut E) -> Self::Output {
        train::<N, E>(&self.0, estimator)
    }
}

/// Independent random streams of a seed: initial parameters, minibatch order, unit draws,
/// evaluation (xoshiro jumps, 2^128 draws apart).
fn streams(seed: u64) -> [Xoshiro256PlusPlus; 4] {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    std::array::from_fn(|_| {
        let s = rng.clone();
        rng.jump();
        s
    })
}

/// Trains model `N` with `estimator` on `job`, checkpoint by checkpoint.
fn train<N, E>(job: &Job, estimator: &mut E) -> Result<Trained, Box<dyn Error>>
where
    N: Network<X, 0> + Setting,
    E: Estimator,
{
    // The model, its bias, the optimiser and the buffers.
    let budget = job.budget;
    let [mut init, mut order_rng, mut units, eval_rng] = streams(job.seed);
    let mut net = boxed_zeroed::<N>();
    net.init(&mut init);
    if job.variant.bias == BiasInit::PixelMeans {
        *net.output_bias() = job.data.bias;
    }
    if job.variant.signed {
        net.use_signed_coding(&job.data.means);
    }
    let mut grad = boxed_zeroed::<N>();
    let mut state = boxed_zeroed::<AdamState<N>>();
    let mut ws = boxed_zeroed::<Workspace<N::Trace<CHUNK>, CHUNK>>();
    let mut eval = Evaluator::<N>::new(eval_rng);
    let adam = Adam::new(Budget::VSBN_LR)?;
    let targets = vec![[0.0f32; 0]; Budget::BATCH];
    let mut batch = vec![[0.0f32; X]; Budget::BATCH];
    let mut order: Vec<usize> = (0..job.data.train.len()).collect();
    let mut cursor = order.len();

    let curve_eval = &job.data.valid[..job.data.valid.len().min(budget.vsbn_eval / 5).max(1)];
    let (elbo, bound) = eval.elbo_and_bound(&net, curve_eval, 1, budget.vsbn_k)?;
    let mut curve = vec![Point {
        step: 0,
        seconds: 0.0,
        elbo,
        bound,
    }];
    let checkpoints = budget.checkpoints.min(budget.vsbn_steps);
    let mut next_checkpoint = 1;
    let mut seconds = 0.0;
    let mut recent = Vec::with_capacity(budget.vsbn_steps);
    for step in 1..=budget.vsbn_steps {
        // One minibatch, drawn without replacement within an epoch.
        let started = Instant::now();
        for row in batch.iter_mut() {
            if cursor == order.len() {
                shuffle(&mut order, &mut order_rng);
                cursor = 0;
            }
            *row = job.data.train[order[cursor]];
            cursor += 1;
        }
        let stats = train_step(
            &mut *net,
            &adam,
            &mut *state,
            estimator,
            &batch,
            &targets,
            &mut *ws,
            &mut *grad,
            &mut units,
        )?;
        seconds += started.elapsed().as_secs_f64();
        if stats.applied() {
            recent.push(-f64::from(stats.loss));
        }

        // A checkpoint on the curve's validation images.
        if step * checkpoints >= next_checkpoint * budget.vsbn_steps {
            next_checkpoint += 1;
            let (elbo, bound) = eval.elbo_and_bound(&net, curve_eval, 1, budget.vsbn_k)?;
            curve.push(Point {
                step,
                seconds,
                elbo,
                bound,
            });
        }
    }

    // The final figures on every evaluated validation image.
    let (elbo, bound) =
        eval.elbo_and_bound(&net, &job.data.valid, FINAL_ELBO_SAMPLES, budget.vsbn_k)?;
    let last = &recent[recent.len().saturating_sub(100)..];
    Ok(Trained {
        variant: job.variant,
        seed: job.seed,
        curve,
        elbo,
        bound,
        train_elbo: last.iter().sum::<f64>() / last.len().max(1) as f64,
        seconds,
    })
}

/// The ELBO and the bound of a model on validation images, with fixed draws.
struct Evaluator<N: Network<X, 0>> {
    replicas: Box<Replicas<X, 0, CHUNK>>,
    ws: Box<Workspace<N::Trace<CHUNK>, CHUNK>>,
    /// The stream every evaluation restarts from.
    rng: Xoshiro256PlusPlus,
}

impl<N: Network<X, 0>> Evaluator<N> {
    fn new(rng: Xoshiro256PlusPlus) -> Self {
        Self {
            replicas: boxed_zeroed(),
            ws: boxed_zeroed(),
            rng,
        }
    }

    /// The mean ELBO (`elbo_samples` single-sample estimates per image) and `k`-sample bound.
    fn elbo_and_bound(
        &mut self,
        net: &N,
        images: &[[f32; X]],
        elbo_samples: usize,
        k: usize,
    ) -> Result<(f64, f64), muprop::Error> {
        let mut rng = self.rng.clone();
        let (mut elbo, mut bound) = (0.0, 0.0);
        for x in images {
            for _ in 0..elbo_samples {
                elbo -= self.nll(net, x, 1, &mut rng)?;
            }
            bound -= self.nll(net, x, k, &mut rng)?;
        }
        let n = images.len().max(1) as f64;
        Ok((elbo / (n * elbo_samples as f64), bound / n))
    }

    fn nll(
        &mut self,
        net: &N,
        x: &[f32; X],
        k: usize,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Result<f64, muprop::Error> {
        negative_log_likelihood(net, x, &[], k, &mut self.replicas, &mut self.ws, rng)
    }
}

/// A uniform Fisher-Yates shuffle.
fn shuffle<R: Rng>(order: &mut [usize], rng: &mut R) {
    for i in (1..order.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
}

/// The reference on this model, one run per seed; failures are reported and skipped.
fn run_reference(args: &Args, budget: &Budget, layers: u8, data: &Data) -> Vec<ReferenceRun> {
    if args.no_jax || layers > budget.jax_models {
        return Vec::new();
    }
    if !args.jax_python.exists() {
        println!(
            "JAX reference skipped: no {} (see ../shared/peer/README.md)",
            args.jax_python.display()
        );
        return Vec::new();
    }
    let mut runs = Vec::new();
    for seed in 0..budget.seeds {
        let p = protocol(budget, layers, data, seed);
        println!("JAX reference, seed {seed}");
        match reference::run(&args.jax_python, &args.jax_script, &p) {
            Ok(r) => {
                println!(
                    "  valid ELBO {:.3}  bound {:.3}  train ELBO {:.3}  {:.0} examples/s",
                    r.elbo, r.bound, r.train_elbo, r.examples_per_s
                );
                runs.push(r);
            }
            Err(e) => println!("  {e}"),
        }
    }
    runs
}

fn protocol<'a>(budget: &Budget, layers: u8, data: &'a Data, seed: u64) -> Protocol<'a> {
    let eval = data.valid.len();
    Protocol {
        data: &data.reference_data,
        layers,
        steps: budget.vsbn_steps,
        batch: Budget::BATCH,
        lr: Budget::VSBN_LR,
        beta2: BETA2,
        eval,
        k: budget.vsbn_k,
        seed,
    }
}

/// `mean ± sd [min, max]` of `values` (just the value for one).
fn spread(values: &[f64]) -> String {
    let n = values.len() as f64;
    match values.len() {
        0 => String::from("-"),
        1 => format!("{:.2}", values[0]),
        _ => {
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            format!("{mean:.2} ± {:.2} [{lo:.2}, {hi:.2}]", var.sqrt())
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The markdown table of one model and the verdict against the reference.
fn table(
    args: &Args,
    budget: &Budget,
    layers: u8,
    ours: &[Trained],
    theirs: &[ReferenceRun],
    data: &Data,
) -> String {
    let model = if layers == 1 {
        "Vsbn1<784, 200>"
    } else {
        "Vsbn2<784, 200, 200>"
    };
    let mut md = String::new();
    let _ = writeln!(md, "### {model} (linear, {layers} layer(s) of 200)\n");
    md.push_str("| run | seeds | valid ELBO | valid 100-sample bound | train ELBO (last 100 steps) | train s / run |\n");
    md.push_str("|---|---|---|---|---|---|\n");
    for v in VARIANTS {
        let runs: Vec<&Trained> = ours
            .iter()
            .filter(|t| t.variant.name() == v.name())
            .collect();
        let pick = |f: fn(&Trained) -> f64| runs.iter().map(|t| f(t)).collect::<Vec<_>>();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.0} |",
            v.name(),
            runs.len(),
            spread(&pick(|t| t.elbo)),
            spread(&pick(|t| t.bound)),
            spread(&pick(|t| t.train_elbo)),
            mean(&pick(|t| t.seconds))
        );
    }
    let pick = |f: fn(&ReferenceRun) -> f64| theirs.iter().map(f).collect::<Vec<_>>();
    if theirs.is_empty() {
        md.push_str("| JAX reference (learned MuProp) | 0 | not run | not run | - | - |\n");
    } else {
        let eps = mean(&pick(|r| r.examples_per_s));
        let _ = writeln!(
            md,
            "| JAX reference (learned MuProp, ±1 hidden units, centred input) | {} | {} | {} | \
             {} | {:.0} |",
            theirs.len(),
            spread(&pick(|r| r.elbo)),
            spread(&pick(|r| r.bound)),
            spread(&pick(|r| r.train_elbo)),
            (budget.vsbn_steps * Budget::BATCH) as f64 / eps.max(1e-9)
        );
    }
    md.push_str(&verdict(ours, theirs));
    let p = protocol(budget, layers, data, 0);
    let _ = writeln!(
        md,
        "\nReference command (seeds 0..{}): `{}`. Plot: `vsbn{layers}.svg`; curves in \
         `vsbn-curve.csv` (checkpoints on the first {} validation images, one ELBO sample each).\n",
        budget.seeds,
        reference::command_line(&args.jax_python, &args.jax_script, &p),
        data.valid.len().min(budget.vsbn_eval / 5).max(1)
    );
    md
}

/// Each of our variants' mean ELBO against the reference's mean and range over seeds.
fn verdict(ours: &[Trained], theirs: &[ReferenceRun]) -> String {
    let theirs: Vec<f64> = theirs.iter().map(|r| r.elbo).collect();
    if theirs.is_empty() {
        return String::from("\nNo comparison: the reference did not run.\n");
    }
    let (lo, hi) = theirs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let mut md = format!(
        "\nMean validation ELBO minus the reference's mean (reference range over seeds \
         {:.2} nats):\n\n",
        hi - lo
    );
    for v in VARIANTS {
        let elbos: Vec<f64> = ours
            .iter()
            .filter(|t| t.variant.name() == v.name())
            .map(|t| t.elbo)
            .collect();
        let verdict = if mean(&elbos) > hi {
            "better than every seed of the reference"
        } else if mean(&elbos) >= lo {
            "no worse than the reference, within its spread"
        } else {
            "worse than the reference beyond its spread"
        };
        let gap = mean(&elbos) - mean(&theirs);
        let _ = writeln!(md, "- {}: {gap:+.2} nats, {verdict}", v.name());
    }
    md
}

/// Our validation bound against steps per run, the reference's mean final bound dashed.
fn plot_model(
    path: &Path,
    layers: u8,
    ours: &[Trained],
    theirs: &[ReferenceRun],
) -> Result<(), Box<dyn Error>> {
    let mut series: Vec<Series> = ours
        .iter()
        .map(|t| Series {
            label: format!("{} s{} {:.2}", short(&t.variant), t.seed, t.bound),
            points: t
                .curve
                .iter()
                .skip(1)
                .map(|p| (p.step as f64, p.bound))
                .collect(),
            dashed: false,
        })
        .collect();
    let steps = ours
        .iter()
        .flat_map(|t| t.curve.last())
        .map(|p| p.step as f64)
        .fold(1.0, f64::max);
    if !theirs.is_empty() {
        let m = mean(&theirs.iter().map(|r| r.bound).collect::<Vec<_>>());
        series.push(Series {
            label: format!("JAX reference, final {m:.2}"),
            points: vec![(0.0, m), (steps, m)],
            dashed: true,
        });
    }
    let title = format!("Variational SBN, {layers} layer(s) of 200, MNIST {SCHEME}");
    let y = "validation 100-sample bound, nats";
    plot::lines(path, &title, "training steps", y, &series)
}

/// A short legend name of a variant.
fn short(v: &Variant) -> String {
    let bias = match v.bias {
        BiasInit::Zero => "b=0",
        BiasInit::PixelMeans => "b=mean",
    };
    let coding = if v.signed { " ±1" } else { "" };
    format!("{} {bias}{coding}", v.kind.name())
}
