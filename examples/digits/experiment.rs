//! One training run: data per epoch, the training loop with its checkpoints, and evaluation.

use std::error::Error;
use std::marker::PhantomData;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use muprop::data::{Binarization, DataSet, PredictionSplit, PredictionTask};
use muprop::{
    boxed_zeroed, negative_log_likelihood, train_step, Adam, AdamState, Estimator, Network,
    Replicas, WorkspaceFor,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::cli::{EstimatorKind, UseEstimator};

/// Rows a training workspace holds at once (larger minibatches run in chunks).
const TRAIN_ROWS: usize = 32;
/// Samples an evaluation workspace draws at once.
const EVAL_ROWS: usize = 100;
/// Steps between progress-bar updates.
const BAR_EVERY: usize = 10;

/// The data: intensities, their binarization, the fixed test task and the baseline.
pub struct Corpus {
    intensities: DataSet,
    scheme: Binarization,
    /// The task at epoch 0: its test split is the one every evaluation uses.
    fixed: PredictionTask,
    eval_examples: usize,
    /// Subtracted from every input (the training inputs' means at epoch 0), when centred.
    centre: Option<Vec<f32>>,
}

impl Corpus {
    /// Binarizes `intensities` by `scheme` (epoch 0) and keeps the first `eval_examples` test
    /// examples for evaluation.
    pub fn new(
        intensities: DataSet,
        scheme: Binarization,
        eval_examples: usize,
    ) -> Result<Self, Box<dyn Error>> {
        let fixed = intensities.binarized(scheme, 0)?.prediction_task();
        let eval_examples = eval_examples.min(fixed.test().len());
        Ok(Self {
            intensities,
            scheme,
            fixed,
            eval_examples,
            centre: None,
        })
    }

    /// Centres every input, training and test, by the training inputs' means at epoch 0 (a
    /// dynamic binarization's later epochs by the same means). Targets stay binary.
    pub fn centre_inputs(mut self) -> Result<Self, Box<dyn Error>> {
        let (task, centre) = self.fixed.centred()?;
        self.fixed = task;
        self.centre = Some(centre);
        Ok(self)
    }

    /// Whether the inputs are centred.
    pub fn centred(&self) -> bool {
        self.centre.is_some()
    }

    /// The binarization, as reported next to every result.
    pub fn scheme(&self) -> Binarization {
        self.scheme
    }

    /// The task at epoch 0.
    pub fn task(&self) -> &PredictionTask {
        &self.fixed
    }

    /// The number of test examples evaluated.
    pub fn eval_examples(&self) -> usize {
        self.eval_examples
    }

    /// The training split of `epoch`: redrawn for a dynamic binarization, else the fixed one.
    fn train_split(&self, epoch: u64) -> Result<PredictionSplit, Box<dyn Error>> {
        if !self.scheme.is_per_epoch() || epoch == 0 {
            return Ok(self.fixed.train().clone());
        }
        let task = self
            .intensities
            .binarized(self.scheme, epoch)?
            .prediction_task();
        match &self.centre {
            Some(centre) => Ok(task.train().centred(centre)?),
            None => Ok(task.train().clone()),
        }
    }

    /// The test NLL of predicting every bottom pixel independently by its training frequency,
    /// Laplace-smoothed: `p_j = (count_j + 1) / (N + 2)`. Exact, in nats per example.
    pub fn independent_baseline(&self) -> f64 {
        let train = self.fixed.train();
        let width = train.target_width();
        let n = train.len() as f64;
        let mut counts = vec![0.0f64; width];
        for row in train.targets_flat().chunks_exact(width) {
            for (c, &y) in counts.iter_mut().zip(row) {
                *c += f64::from(y);
            }
        }
        let p: Vec<f64> = counts.iter().map(|c| (c + 1.0) / (n + 2.0)).collect();

        let test = self.fixed.test().targets_flat().chunks_exact(width);
        let total: f64 = test
            .take(self.eval_examples)
            .map(|row| {
                row.iter()
                    .zip(&p)
                    .map(|(&y, &pj)| -(f64::from(y) * pj.ln() + f64::from(1.0 - y) * (-pj).ln_1p()))
                    .sum::<f64>()
            })
            .sum();
        total / self.eval_examples as f64
    }
}

/// The budget and settings shared by every estimator in a run.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Training steps.
    pub steps: usize,
    /// Examples per minibatch.
    pub batch: usize,
    /// The learning rate.
    pub lr: f32,
    /// The optimiser (validated learning rate).
    pub adam: Adam,
    /// Samples per test example for the untrained and final figures.
    pub samples: usize,
    /// Samples per test example at the checkpoints.
    pub curve_samples: usize,
    /// Checkpoints after step 0.
    pub checkpoints: usize,
}

/// One checkpoint of the learning curve.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// Steps taken.
    pub step: usize,
    /// Training examples seen.
    pub examples: usize,
    /// Training wall time so far, evaluation excluded.
    pub seconds: f64,
    /// Mean sampled training loss `f` since the previous checkpoint (NaN at step 0).
    pub objective: f64,
    /// Test NLL with `samples` samples per example.
    pub test_nll: f64,
    /// The samples per example behind `test_nll`.
    pub samples: usize,
}

/// What one estimator's run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The estimator trained.
    pub estimator: EstimatorKind,
    /// The learning curve (checkpoint samples), step 0 first.
    pub curve: Vec<Point>,
    /// Test NLL of the untrained network (final samples).
    pub untrained_nll: f64,
    /// Test NLL after training (final samples).
    pub final_nll: f64,
    /// Training wall time, evaluation excluded.
    pub seconds: f64,
    /// Steps the training step refused (non-finite loss or gradient).
    pub refused: usize,
}

impl Outcome {
    /// Training examples per second of wall time.
    pub fn examples_per_second(&self, setup: &Setup) -> f64 {
        (setup.steps * setup.batch) as f64 / self.seconds.max(1e-9)
    }
}

/// Independent random streams of one seed (xoshiro jumps: 2^128 draws apart).
struct Streams {
    init: Xoshiro256PlusPlus,
    order: Xoshiro256PlusPlus,
    units: Xoshiro256PlusPlus,
    eval: Xoshiro256PlusPlus,
    estimator: Xoshiro256PlusPlus,
}

impl Streams {
    fn new(seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut next = || {
            let s = rng.clone();
            rng.jump();
            s
        };
        Self {
            init: next(),
            order: next(),
            units: next(),
            eval: next(),
            estimator: next(),
        }
    }
}

/// Trains network `N` with `kind` and evaluates it; the same `setup` gives every estimator
/// the same initial parameters, minibatches and evaluation draws.
pub fn train<N, const IN: usize, const Y: usize>(
    setup: &Setup,
    corpus: &Corpus,
    kind: EstimatorKind,
) -> Result<Outcome, Box<dyn Error>>
where
    N: Network<IN, Y>,
{
    let run = Run::<N, IN, Y> {
        setup,
        corpus,
        kind,
        net: PhantomData,
    };
    let mut rng = Streams::new(setup.seed).estimator;
    kind.dispatch::<_, _, IN, TRAIN_ROWS>(run, setup.lr, &mut rng)?
}

/// [`train_with`]'s arguments but the estimator.
struct Run<'a, N, const IN: usize, const Y: usize> {
    setup: &'a Setup,
    corpus: &'a Corpus,
    kind: EstimatorKind,
    net: PhantomData<N>,
}

impl<N: Network<IN, Y>, const IN: usize, const Y: usize> UseEstimator for Run<'_, N, IN, Y> {
    type Output = Result<Outcome, Box<dyn Error>>;

    fn run<E: Estimator>(self, estimator: &mut E) -> Self::Output {
        train_with::<N, E, IN, Y>(self.setup, self.corpus, self.kind, estimator)
    }
}

/// [`train`] with the estimator built.
fn train_with<N, E, const IN: usize, const Y: usize>(
    setup: &Setup,
    corpus: &Corpus,
    kind: EstimatorKind,
    estimator: &mut E,
) -> Result<Outcome, Box<dyn Error>>
where
    N: Network<IN, Y>,
    E: Estimator,
{
    // Parameters, gradient, optimiser state and workspaces, all on the heap.
    let mut streams = Streams::new(setup.seed);
    let mut net = boxed_zeroed::<N>();
    net.init(&mut streams.init);
    let mut grad = boxed_zeroed::<N>();
    let mut state = boxed_zeroed::<AdamState<N>>();
    let mut ws = boxed_zeroed::<WorkspaceFor<N, IN, Y, TRAIN_ROWS>>();
    let mut eval = Evaluator::<N, IN, Y>::new(corpus, streams.eval.clone())?;

    let untrained_nll = eval.test_nll(&net, setup.samples)?;
    let mut curve = vec![Point {
        step: 0,
        examples: 0,
        seconds: 0.0,
        objective: f64::NAN,
        test_nll: eval.test_nll(&net, setup.curve_samples)?,
        samples: setup.curve_samples,
    }];

    // The minibatch buffers and the shuffled order of the current epoch.
    let mut xs = vec![[0.0f32; IN]; setup.batch];
    let mut ys = vec![[0.0f32; Y]; setup.batch];
    let mut epoch = 0u64;
    let mut split = corpus.train_split(epoch)?;
    let mut order: Vec<usize> = (0..split.len()).collect();
    shuffle(&mut order, &mut streams.order);
    let mut cursor = 0;

    let bar = progress_bar(setup.steps, kind);
    let mut seconds = 0.0;
    let mut loss_sum = 0.0f64;
    let mut loss_count = 0usize;
    let mut recent = f64::NAN;
    let mut refused = 0;
    let mut next_checkpoint = 1;
    for step in 1..=setup.steps {
        let started = Instant::now();

        // Gather the next minibatch, starting a new epoch when the order runs out.
        for row in 0..setup.batch {
            if cursor == order.len() {
                epoch += 1;
                if corpus.scheme.is_per_epoch() {
                    split = corpus.train_split(epoch)?;
                }
                shuffle(&mut order, &mut streams.order);
                cursor = 0;
            }
            xs[row] = split.inputs::<IN>()?[order[cursor]];
            ys[row] = split.targets::<Y>()?[order[cursor]];
            cursor += 1;
        }

        let stats = train_step(
            &mut *net,
            &setup.adam,
            &mut *state,
            estimator,
            &xs,
            &ys,
            &mut *ws,
            &mut *grad,
            &mut streams.units,
        )?;
        seconds += started.elapsed().as_secs_f64();
        if stats.applied() {
            loss_sum += f64::from(stats.loss);
            loss_count += 1;
            recent = if recent.is_nan() {
                f64::from(stats.loss)
            } else {
                0.98 * recent + 0.02 * f64::from(stats.loss)
            };
        } else {
            refused += 1;
        }
        if step % BAR_EVERY == 0 || step == setup.steps {
            bar.set_position(step as u64);
            bar.set_message(format!("objective {recent:7.3}"));
        }

        // A checkpoint: the test NLL on the learning curve.
        if step * setup.checkpoints >= next_checkpoint * setup.steps {
            next_checkpoint += 1;
            let point = Point {
                step,
                examples: step * setup.batch,
                seconds,
                objective: loss_sum / loss_count.max(1) as f64,
                test_nll: eval.test_nll(&net, setup.curve_samples)?,
                samples: setup.curve_samples,
            };
            bar.suspend(|| {
                println!(
                    "  {:<18} step {:>6}  train objective {:>8.3}  test NLL (M={}) {:>8.3}",
                    kind.name(),
                    point.step,
                    point.objective,
                    point.samples,
                    point.test_nll
                )
            });
            curve.push(point);
            loss_sum = 0.0;
            loss_count = 0;
        }
    }
    bar.finish_and_clear();

    let final_nll = eval.test_nll(&net, setup.samples)?;
    Ok(Outcome {
        estimator: kind,
        curve,
        untrained_nll,
        final_nll,
        seconds,
        refused,
    })
}

/// The progress bar of one estimator's training.
fn progress_bar(steps: usize, kind: EstimatorKind) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    let template = "{prefix:>18} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}, eta {eta})";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(kind.name());
    bar
}

/// A uniform Fisher-Yates shuffle.
fn shuffle<R: Rng>(order: &mut [usize], rng: &mut R) {
    for i in (1..order.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
}

/// The test NLL of a network on the evaluated test examples.
struct Evaluator<'a, N: Network<IN, Y>, const IN: usize, const Y: usize> {
    inputs: &'a [[f32; IN]],
    targets: &'a [[f32; Y]],
    replicas: Box<Replicas<IN, Y, EVAL_ROWS>>,
    ws: Box<WorkspaceFor<N, IN, Y, EVAL_ROWS>>,
    /// The stream every evaluation restarts from, so all of them use the same draws.
    rng: Xoshiro256PlusPlus,
}

impl<'a, N: Network<IN, Y>, const IN: usize, const Y: usize> Evaluator<'a, N, IN, Y> {
    fn new(corpus: &'a Corpus, rng: Xoshiro256PlusPlus) -> Result<Self, Box<dyn Error>> {
        let test = corpus.task().test();
        let n = corpus.eval_examples();
        Ok(Self {
            inputs: &test.inputs::<IN>()?[..n],
            targets: &test.targets::<Y>()?[..n],
            replicas: boxed_zeroed(),
            ws: boxed_zeroed(),
            rng,
        })
    }

    /// The mean over test examples of `-log (1/M sum_m p(y | h_m))`, `M = samples`, in nats.
    fn test_nll(&mut self, net: &N, samples: usize) -> Result<f64, muprop::Error> {
        let mut rng = self.rng.clone();
        let mut total = 0.0;
        for (x, y) in self.inputs.iter().zip(self.targets) {
            total += negative_log_likelihood(
                net,
                x,
                y,
                samples,
                &mut self.replicas,
                &mut self.ws,
                &mut rng,
            )?;
        }
        Ok(total / self.inputs.len().max(1) as f64)
    }
}
