//! Structured output prediction on MNIST, top half to bottom half: every estimator of the
//! paper's table on the linear and the nonlinear network, at equal steps and equal wall time.

use std::error::Error;
use std::fmt::Write as _;

use muprop::data::{load_mnist, Binarization};
use muprop::{Adam, Bernoulli, BernoulliOutput, Layers, LeakyRelu, Nonlinear, Sbn2};

use crate::cli::EstimatorKind;
use crate::experiment::{self, Corpus, Outcome, Setup};
use crate::plot::{self, Series};
use crate::report::{self, Context};
use crate::{Args, Budget};

/// Deterministic leaky-ReLU units before each stochastic layer of the nonlinear network.
const HID: usize = 300;

/// The nonlinear network: `392 -(300 leaky ReLU)-> 200 Bernoulli -(300 leaky ReLU)-> 200
/// Bernoulli -> 392` Bernoulli outputs, the last map linear.
type Nonlinear2 = Layers<
    392,
    200,
    Nonlinear<392, HID, 200, LeakyRelu>,
    Bernoulli,
    Layers<200, 200, Nonlinear<200, HID, 200, LeakyRelu>, Bernoulli, BernoulliOutput<200, 392>>,
>;

/// The estimators of the paper's table, and the two antithetic ones that came after it.
const ESTIMATORS: [EstimatorKind; 6] = [
    EstimatorKind::Muprop,
    EstimatorKind::MupropLearned,
    EstimatorKind::Nvil,
    EstimatorKind::StraightThrough,
    EstimatorKind::Arm,
    EstimatorKind::Disarm,
];

/// Published test NLLs (nats) of the two-layer linear network, as quoted by later papers.
const PUBLISHED: [(EstimatorKind, &str); 6] = [
    (EstimatorKind::Muprop, "58.9"),
    (EstimatorKind::MupropLearned, "-"),
    (EstimatorKind::Nvil, "72.0 (score function)"),
    (EstimatorKind::StraightThrough, "58.9"),
    (EstimatorKind::Arm, "57.9"),
    (EstimatorKind::Disarm, "-"),
];

/// The binarization of both experiments: one Bernoulli draw per pixel with seed 0.
pub const SCHEME: Binarization = Binarization::FixedDraw { seed: 0 };

/// The estimators trained again with centred inputs: MuProp in both forms and
/// straight-through, the pair whose gap the centring is meant to show.
const CENTRED_ESTIMATORS: [EstimatorKind; 3] = [
    EstimatorKind::Muprop,
    EstimatorKind::MupropLearned,
    EstimatorKind::StraightThrough,
];

/// The architectures, and the linear one again with its inputs centred.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arch {
    Linear,
    Nonlinear,
    LinearCentred,
}

impl Arch {
    fn stem(self) -> &'static str {
        match self {
            Self::Linear => "sp-linear",
            Self::Nonlinear => "sp-nonlinear",
            Self::LinearCentred => "sp-linear-centred",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Linear => "linear 392-200-200-392",
            Self::Nonlinear => "nonlinear 392-(300)-200-(300)-200-392",
            Self::LinearCentred => "linear 392-200-200-392, input centred",
        }
    }

    /// The network's type, for the report.
    fn type_name(self) -> &'static str {
        match self {
            Self::Linear => "`Sbn2<392, 200, 200, 392>`",
            Self::LinearCentred => {
                "`Sbn2<392, 200, 200, 392>`, every input (training and test) minus the training \
                 inputs' mean of its pixel, as the public reference code feeds its first layer; \
                 the same initial parameters, minibatches and unit draws as the linear runs"
            }
            Self::Nonlinear => {
                "`Layers<392, 200, Nonlinear<392, 300, 200, LeakyRelu>, Bernoulli, \
                 Layers<200, 200, Nonlinear<200, 300, 200, LeakyRelu>, Bernoulli, \
                 BernoulliOutput<200, 392>>>`: a deterministic layer of 300 leaky-ReLU units \
                 before each stochastic layer, the output layer linear"
            }
        }
    }

    fn train(self, setup: &Setup, corpus: &Corpus, kind: EstimatorKind) -> TrainResult {
        match self {
            Self::Linear | Self::LinearCentred => {
                experiment::train::<Sbn2<392, 200, 200, 392>, 392, 392>(setup, corpus, kind)
            }
            Self::Nonlinear => experiment::train::<Nonlinear2, 392, 392>(setup, corpus, kind),
        }
    }
}

type TrainResult = Result<Outcome, Box<dyn Error>>;

/// Trains every estimator on both networks; writes the files and returns the report section.
pub fn run(args: &Args, budget: &Budget) -> Result<String, Box<dyn Error>> {
    // The data, binarized once, and the settings shared by every run.
    let intensities = load_mnist(&args.data)?;
    let centred = Corpus::new(intensities.clone(), SCHEME, budget.sp_eval)?.centre_inputs()?;
    let corpus = Corpus::new(intensities, SCHEME, budget.sp_eval)?;
    let setup = Setup {
        seed: 1,
        steps: budget.sp_steps,
        batch: Budget::BATCH,
        lr: Budget::SP_LR,
        adam: Adam::new(Budget::SP_LR)?,
        samples: budget.sp_samples,
        curve_samples: budget.sp_curve_samples,
        checkpoints: budget.checkpoints.min(budget.sp_steps),
    };
    let mut md = String::from("## 1. Structured output prediction (top half -> bottom half)\n\n");
    let _ = writeln!(
        md,
        "MNIST, binarization `{SCHEME}` (train 60000 / test 10000 images); Adam lr {}, \
         batch {}, {} steps, single-sample training, seed {}; test NLL = \
         -log (1/M sum_m p(y | h_m)) with M = {} on the first {} test images (curves: M = {}). \
         Same initial parameters, minibatches and unit draws for every estimator.\n",
        setup.lr,
        setup.batch,
        setup.steps,
        setup.seed,
        setup.samples,
        corpus.eval_examples(),
        setup.curve_samples
    );

    for arch in [Arch::Linear, Arch::Nonlinear, Arch::LinearCentred] {
        println!("\n== structured prediction, {}", arch.describe());
        let (corpus, estimators) = match arch {
            Arch::LinearCentred => (&centred, &CENTRED_ESTIMATORS[..]),
            _ => (&corpus, &ESTIMATORS[..]),
        };
        let context = context(&setup, corpus, arch);
        let mut outcomes = Vec::new();
        for &kind in estimators {
            println!("training {} ({})", kind.name(), arch.stem());
            outcomes.push(arch.train(&setup, corpus, kind)?);
        }
        report::print_table(&setup, &context, &outcomes);
        let mut files = report::write_files(&args.out, arch.stem(), &setup, &context, &outcomes)?;
        let seconds_svg = args.out.join(format!("{}-seconds.svg", arch.stem()));
        plot_seconds(&seconds_svg, arch, &setup, &outcomes)?;
        files.push(seconds_svg);
        for f in &files {
            println!("wrote {}", f.display());
        }
        md.push_str(&section(arch, &setup, &context, &outcomes, &files));
    }
    Ok(md)
}

/// The settings every result of `arch` is written with.
fn context(setup: &Setup, corpus: &Corpus, arch: Arch) -> Context {
    let pairs = vec![
        ("data", String::from("MNIST")),
        ("data_short", String::from("MNIST")),
        ("binarization", SCHEME.to_string()),
        ("arch", arch.describe().to_string()),
        (
            "inputs",
            String::from(if corpus.centred() {
                "centred by the training means"
            } else {
                "as given"
            }),
        ),
        ("target_pixels", String::from("392")),
        ("seed", setup.seed.to_string()),
        ("steps", setup.steps.to_string()),
        ("batch", setup.batch.to_string()),
        ("lr", setup.lr.to_string()),
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

/// The learning curve's test NLL at `seconds` of training, linearly interpolated between
/// checkpoints; `None` past the last one.
fn nll_at(outcome: &Outcome, seconds: f64) -> Option<f64> {
    let curve = &outcome.curve;
    let after = curve.iter().position(|p| p.seconds >= seconds)?;
    if after == 0 {
        return Some(curve[0].test_nll);
    }
    let (a, b) = (&curve[after - 1], &curve[after]);
    let t = (seconds - a.seconds) / (b.seconds - a.seconds).max(1e-12);
    Some(a.test_nll + t * (b.test_nll - a.test_nll))
}

/// The markdown section of one architecture: the table at equal steps and at equal time.
fn section(
    arch: Arch,
    setup: &Setup,
    context: &Context,
    outcomes: &[Outcome],
    files: &[std::path::PathBuf],
) -> String {
    let equal_time = outcomes
        .iter()
        .map(|o| o.seconds)
        .fold(f64::INFINITY, f64::min);
    let mut md = String::new();
    let _ = writeln!(md, "### {}\n\n{}.\n", arch.describe(), arch.type_name());
    let _ = writeln!(
        md,
        "| estimator | test NLL, {} steps (M = {}) | test NLL at {:.0} s (M = {}) | \
         train s | examples/s | published |",
        setup.steps, setup.samples, equal_time, setup.curve_samples
    );
    md.push_str("|---|---|---|---|---|---|\n");
    for o in outcomes {
        let published = match arch {
            Arch::Linear | Arch::LinearCentred => PUBLISHED
                .iter()
                .find(|(k, _)| *k == o.estimator)
                .map_or("-", |(_, v)| *v),
            Arch::Nonlinear => "-",
        };
        let at = nll_at(o, equal_time).map_or(String::from("-"), |v| format!("{v:.2}"));
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {:.0} | {:.0} | {} |",
            o.estimator.name(),
            o.final_nll,
            at,
            o.seconds,
            o.examples_per_second(setup),
            published
        );
    }
    let untrained = outcomes.first().map_or(f64::NAN, |o| o.untrained_nll);
    let _ = writeln!(
        md,
        "\nUntrained network: {untrained:.2} nats; independent per-pixel baseline: {:.2} nats. \
         Equal wall time = the training seconds of the fastest estimator; the NLL there is \
         interpolated between checkpoints. Files: {}.\n",
        context.baseline,
        files
            .iter()
            .filter_map(|f| f.file_name())
            .map(|f| format!("`{}`", f.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

/// Test NLL against training seconds, one line per estimator.
fn plot_seconds(
    path: &std::path::Path,
    arch: Arch,
    setup: &Setup,
    outcomes: &[Outcome],
) -> Result<(), Box<dyn Error>> {
    let series: Vec<Series> = outcomes
        .iter()
        .map(|o| Series {
            label: format!("{} {:.2}", o.estimator.name(), o.final_nll),
            points: o
                .curve
                .iter()
                .skip(1)
                .map(|p| (p.seconds, p.test_nll))
                .collect(),
            dashed: false,
        })
        .collect();
    let title = format!(
        "MNIST top->bottom, {}, {} (legend: final test NLL, M = {})",
        arch.stem(),
        SCHEME,
        setup.samples
    );
    let y = format!("test NLL, nats (M = {})", setup.curve_samples);
    plot::lines(path, &title, "training seconds (one core)", &y, &series)
}
