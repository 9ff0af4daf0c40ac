//! The command line: flags, their defaults per data set, and their validation.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use muprop::data::Binarization;
use muprop::{
    boxed_zeroed, Arm, DisArm, Estimator, LearnedMuProp, LeaveOneOut, MuProp, MuPropRollout, Nvil,
    Reinforce, StraightThrough,
};
use rand_core::Rng;

/// Train a network of random binary units to predict the bottom half of an image from its top
/// half, and report the test negative log-likelihood.
#[derive(Parser, Debug)]
#[command(name = "digits", version)]
pub struct Args {
    /// Gradient estimator to train with.
    #[arg(long, value_enum, default_value_t = EstimatorKind::Muprop)]
    pub estimator: EstimatorKind,

    /// Train every estimator with the same seeds and budget, and compare them.
    #[arg(long)]
    pub compare: bool,

    /// Network shape (`sbnL-H`: L stochastic layers of H Bernoulli units). Default: sbn2-64 on
    /// the digits, sbn2-200 with --data.
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,

    /// Seed of the initial parameters, the minibatch order, the unit samples and the
    /// evaluation samples.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Training steps (minibatches). Default: 40000 on the digits, 10000 with --data.
    #[arg(long, value_parser = at_least_one)]
    pub steps: Option<usize>,

    /// Examples per minibatch.
    #[arg(long, default_value_t = 24, value_parser = at_least_one)]
    pub batch: usize,

    /// Adam learning rate. Default: 6e-3 on the digits, 3e-3 with --data.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,

    /// Samples M of the stochastic layers per test example for the final test NLL.
    #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
    pub samples: usize,

    /// Samples per test example at the learning-curve checkpoints (cheaper than --samples;
    /// the untrained and final figures in the table always use --samples).
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub curve_samples: usize,

    /// Learning-curve checkpoints after step 0.
    #[arg(long, default_value_t = 20, value_parser = at_least_one)]
    pub checkpoints: usize,

    /// Evaluate on the first N test examples only. Default: all 359 digits, 1000 with --data.
    #[arg(long, value_parser = at_least_one)]
    pub eval_examples: Option<usize>,

    /// A directory of MNIST-format IDX files (raw or .gz), for example MNIST or Fashion-MNIST
    /// (28x28 images: 392 pixels predict 392). Default: the built-in 8x8 digits.
    #[arg(long)]
    pub data: Option<PathBuf>,

    /// How intensities become binary pixels.
    #[arg(long, value_enum, default_value_t = BinarizeMode::Threshold)]
    pub binarize: BinarizeMode,

    /// The threshold of --binarize threshold (a pixel is 1 above it).
    #[arg(long, default_value_t = Binarization::DEFAULT_THRESHOLD)]
    pub threshold: f32,

    /// The seed of --binarize fixed or dynamic.
    #[arg(long, default_value_t = 0)]
    pub binarize_seed: u64,

    /// Subtract each input pixel's training mean from every input, training and test (the
    /// public reference code's choice for its first layer); targets stay binary.
    #[arg(long)]
    pub centre_inputs: bool,

    /// Where the CSV files and the SVG plot go.
    #[arg(long, default_value = "target/muprop-digits")]
    pub out: PathBuf,
}

impl Args {
    /// The binarization the flags describe.
    pub fn binarization(&self) -> Binarization {
        match self.binarize {
            BinarizeMode::Threshold => Binarization::Threshold(self.threshold),
            BinarizeMode::Fixed => Binarization::FixedDraw {
                seed: self.binarize_seed,
            },
            BinarizeMode::Dynamic => Binarization::Dynamic {
                seed: self.binarize_seed,
            },
        }
    }

    /// The network shape: the flag, or the data set's default.
    pub fn arch(&self) -> Arch {
        match (self.arch, &self.data) {
            (Some(arch), _) => arch,
            (None, None) => Arch::Sbn2x64,
            (None, Some(_)) => Arch::Sbn2x200,
        }
    }

    /// The training steps: the flag, or the data set's default.
    pub fn steps(&self) -> usize {
        let default = if self.data.is_some() { 10_000 } else { 40_000 };
        self.steps.unwrap_or(default)
    }

    /// The learning rate: the flag, or the data set's default.
    pub fn lr(&self) -> f32 {
        let default = if self.data.is_some() { 3e-3 } else { 6e-3 };
        self.lr.unwrap_or(default)
    }

    /// The number of test examples evaluated, at most `available`.
    pub fn eval_examples(&self, available: usize) -> usize {
        let default = if self.data.is_some() { 1000 } else { available };
        self.eval_examples.unwrap_or(default).min(available)
    }

    /// The estimators to train: one, or all of them with --compare.
    pub fn estimators(&self) -> Vec<EstimatorKind> {
        if self.compare {
            EstimatorKind::value_variants().to_vec()
        } else {
            vec![self.estimator]
        }
    }
}

/// A count flag that must be positive.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err(String::from("must be at least 1")),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The gradient estimators. To add one: a variant here, its `name` and `dispatch` arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EstimatorKind {
    /// MuProp: likelihood ratio with a first-order Taylor control variate (unbiased).
    Muprop,
    /// MuProp with a learned baseline and learned scalings of the control variate (unbiased).
    MupropLearned,
    /// MuProp with a mean-field pass restarted from each layer's sampled input (unbiased).
    MupropRollout,
    /// REINFORCE without a baseline (unbiased).
    Reinforce,
    /// REINFORCE with a moving-average baseline of decay 0.9 (unbiased).
    ReinforceBaseline,
    /// NVIL: REINFORCE with a learned input-dependent baseline and variance normalisation.
    Nvil,
    /// REINFORCE leave-one-out with two samples (unbiased).
    LeaveOneOut,
    /// ARM: antithetic pairs per layer (unbiased).
    Arm,
    /// DisARM: antithetic pairs with the disagreement weighting (unbiased).
    Disarm,
    /// Straight-through (biased).
    StraightThrough,
}

impl EstimatorKind {
    /// The decay of the moving-average baseline.
    pub const BASELINE_DECAY: f32 = 0.9;
    /// The decay of NVIL's running mean and variance of the signal.
    pub const NVIL_DECAY: f32 = 0.8;
    /// Tanh units of the learned baselines (NVIL, learned MuProp).
    pub const BASELINE_UNITS: usize = 100;
    /// The learned baselines' learning rate, as a multiple of the model's.
    pub const BASELINE_LR_FACTOR: f32 = 10.0;

    /// The flag value, used in tables, files and plots.
    pub fn name(self) -> &'static str {
        match self {
            Self::Muprop => "muprop",
            Self::MupropLearned => "muprop-learned",
            Self::MupropRollout => "muprop-rollout",
            Self::Reinforce => "reinforce",
            Self::ReinforceBaseline => "reinforce-baseline",
            Self::Nvil => "nvil",
            Self::LeaveOneOut => "leave-one-out",
            Self::Arm => "arm",
            Self::Disarm => "disarm",
            Self::StraightThrough => "straight-through",
        }
    }

    /// Calls `user` with a fresh estimator of this kind for a network of input width `IN` and
    /// chunks of `B` rows; the learned baselines learn at `BASELINE_LR_FACTOR` times `lr` and
    /// draw their initial weights from `rng`. Estimators are generic, so each kind is a
    /// separate instantiation of the caller's code.
    pub fn dispatch<U, R, const IN: usize, const B: usize>(
        self,
        user: U,
        lr: f32,
        rng: &mut R,
    ) -> Result<U::Output, muprop::Error>
    where
        U: UseEstimator,
        R: Rng,
    {
        const H: usize = EstimatorKind::BASELINE_UNITS;
        let baseline_lr = lr * Self::BASELINE_LR_FACTOR;
        Ok(match self {
            Self::Muprop => user.run(&mut MuProp::new()),
            Self::MupropLearned => {
                let mut e = boxed_zeroed::<LearnedMuProp<IN, H, 3, B>>();
                e.reset(baseline_lr, rng)?;
                user.run(&mut *e)
            }
            Self::MupropRollout => user.run(&mut MuPropRollout),
            Self::Reinforce => user.run(&mut Reinforce::new()),
            Self::ReinforceBaseline => {
                user.run(&mut Reinforce::with_moving_average(Self::BASELINE_DECAY)?)
            }
            Self::Nvil => {
                let mut e = boxed_zeroed::<Nvil<IN, H, B>>();
                e.reset(baseline_lr, Self::NVIL_DECAY, true, rng)?;
                user.run(&mut *e)
            }
            Self::LeaveOneOut => user.run(&mut LeaveOneOut),
            Self::Arm => user.run(&mut Arm),
            Self::Disarm => user.run(&mut DisArm),
            Self::StraightThrough => user.run(&mut StraightThrough),
        })
    }
}

/// Code to run with an estimator chosen at run time (see [`EstimatorKind::dispatch`]).
pub trait UseEstimator {
    /// What the code returns.
    type Output;

    /// Runs the code with `estimator`.
    fn run<E: Estimator>(self, estimator: &mut E) -> Self::Output;
}

/// The `--binarize` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BinarizeMode {
    /// 1 where the intensity exceeds --threshold.
    Threshold,
    /// One Bernoulli draw per pixel, made once from --binarize-seed.
    Fixed,
    /// A fresh Bernoulli draw of the training images every epoch (test images: epoch 0).
    Dynamic,
}

/// The compiled-in network shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// 8x8 digits: `Sbn1<32, 64, 32>`.
    #[value(name = "sbn1-64")]
    Sbn1x64,
    /// 8x8 digits: `Sbn2<32, 32, 32, 32>`.
    #[value(name = "sbn2-32")]
    Sbn2x32,
    /// 8x8 digits: `Sbn2<32, 64, 64, 32>`.
    #[value(name = "sbn2-64")]
    Sbn2x64,
    /// 8x8 digits: `Sbn3<32, 32, 32, 32, 32>`.
    #[value(name = "sbn3-32")]
    Sbn3x32,
    /// 28x28 images: `Sbn1<392, 200, 392>`.
    #[value(name = "sbn1-200")]
    Sbn1x200,
    /// 28x28 images: `Sbn2<392, 200, 200, 392>`.
    #[value(name = "sbn2-200")]
    Sbn2x200,
}

impl Arch {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sbn1x64 => "sbn1-64",
            Self::Sbn2x32 => "sbn2-32",
            Self::Sbn2x64 => "sbn2-64",
            Self::Sbn3x32 => "sbn3-32",
            Self::Sbn1x200 => "sbn1-200",
            Self::Sbn2x200 => "sbn2-200",
        }
    }

    /// The layer widths, input to output.
    pub fn widths(self) -> &'static [usize] {
        match self {
            Self::Sbn1x64 => &[32, 64, 32],
            Self::Sbn2x32 => &[32, 32, 32, 32],
            Self::Sbn2x64 => &[32, 64, 64, 32],
            Self::Sbn3x32 => &[32, 32, 32, 32, 32],
            Self::Sbn1x200 => &[392, 200, 392],
            Self::Sbn2x200 => &[392, 200, 200, 392],
        }
    }

    /// `sbnL-H (32-64-64-32)`.
    pub fn describe(self) -> String {
        let widths: Vec<String> = self.widths().iter().map(|w| w.to_string()).collect();
        format!("{} ({})", self.name(), widths.join("-"))
    }
}
