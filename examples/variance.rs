//! Gradient variance of every estimator at one parameter point of the digits task.
//!
//! ```text
//! cargo run --release --example variance
//! ```
//!
//! Trains `Sbn2<32, 64, 64, 32>` briefly with MuProp on the built-in digits (threshold 0.5),
//! warms up the learned baselines (NVIL, learned MuProp, the moving average) at that point
//! without moving the network, then draws `--draws` gradient estimates of one fixed minibatch
//! per estimator. Per parameter of the stochastic layers it computes the variance of the
//! estimates, and prints their sum per estimator as a ratio to REINFORCE and to NVIL (the
//! output layer's parameters get the same pathwise gradient from every estimator and are
//! left out). NVIL is measured without its variance normalisation, which only rescales the
//! estimate. The table also gives the median per-parameter ratio to REINFORCE and a bias
//! indicator: the mean over parameters of `(m - m_MuProp)^2 / ((v + v_MuProp) / draws)`, about
//! 1 for an unbiased estimator (both means estimate the same gradient) and larger for a
//! biased one, as far as the draws can tell. Writes `variance.csv` and `variance.svg` (log10 of the
//! variance ratio to REINFORCE) into `--out` (default `target/muprop-variance/`). About 20 s.

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use muprop::data::{load_digits, Binarization};
use muprop::{
    boxed_zeroed, gradient, train_step, Adam, AdamState, Arm, DisArm, Estimator, LearnedMuProp,
    LeaveOneOut, MuProp, MuPropRollout, Network, Nvil, Reinforce, Sbn2, StraightThrough, Tensors,
    WorkspaceFor,
};
use plotters::prelude::*;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Net = Sbn2<32, 64, 64, 32>;
const ROWS: usize = 24;
type Ws = WorkspaceFor<Net, 32, 32, ROWS>;

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "Per-parameter gradient variance of every estimator at one point")]
struct Args {
    /// Seed for training, the minibatch and the draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// MuProp training steps that reach the parameter point.
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// Gradient estimates drawn per estimator.
    #[arg(long, default_value_t = 2000, value_parser = at_least_two)]
    draws: u64,
    /// Output directory.
    #[arg(long, default_value = "target/muprop-variance")]
    out: PathBuf,
}

/// Per-parameter sums of estimates and of their squares.
struct Moments {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    n: f64,
}

impl Moments {
    fn new(len: usize) -> Self {
        Self {
            sum: vec![0.0; len],
            sum_sq: vec![0.0; len],
            n: 0.0,
        }
    }

    fn push(&mut self, g: &Net, layers: usize) {
        let flat = (0..<Net as Tensors>::COUNT).flat_map(|k| g.tensor(k).iter().copied());
        for ((s, q), v) in self
            .sum
            .iter_mut()
            .zip(&mut self.sum_sq)
            .zip(flat.take(layers))
        {
            let v = f64::from(v);
            *s += v;
            *q += v * v;
        }
        self.n += 1.0;
    }

    fn mean(&self) -> Vec<f64> {
        self.sum.iter().map(|s| s / self.n).collect()
    }

    fn variance(&self) -> Vec<f64> {
        let n = self.n;
        self.sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| ((q / n - (s / n).powi(2)) * n / (n - 1.0)).max(0.0))
            .collect()
    }
}

/// One estimator's result.
struct Row {
    name: &'static str,
    variance: Vec<f64>,
    mean: Vec<f64>,
}

/// A count of 2 or more (a variance needs two draws), with an error that says so.
fn at_least_two(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n < 2 => Err(String::from("must be at least 2")),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let started = Instant::now();

    // Data: the built-in digits, top half -> bottom half.
    let digits = load_digits()?.binarized(Binarization::Threshold(0.5), 0)?;
    let task = digits.prediction_task();
    let (x, y) = (task.train().inputs::<32>()?, task.train().targets::<32>()?);

    // The parameter point: a short MuProp run.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let mut net = boxed_zeroed::<Net>();
    net.init(&mut rng);
    let mut grad = boxed_zeroed::<Net>();
    let mut state = boxed_zeroed::<AdamState<Net>>();
    let mut ws = boxed_zeroed::<Ws>();
    let adam = Adam::new(3e-3)?;
    let mut muprop = MuProp::new();
    for step in 0..args.steps {
        let at = (step * ROWS) % (x.len() - ROWS);
        let (xb, yb) = (&x[at..at + ROWS], &y[at..at + ROWS]);
        train_step(
            &mut *net,
            &adam,
            &mut *state,
            &mut muprop,
            xb,
            yb,
            &mut *ws,
            &mut *grad,
            &mut rng,
        )?;
    }
    let (xb, yb) = (&x[..ROWS], &y[..ROWS]);
    println!(
        "parameter point: {} MuProp steps (seed {}); minibatch of {ROWS} training rows; {} draws",
        args.steps, args.seed, args.draws
    );

    // Learned control variates warm up at the point; the network does not move.
    let mut nvil = boxed_zeroed::<Nvil<32, 100, ROWS>>();
    nvil.reset(3e-3, 0.8, false, &mut rng)?;
    let mut learned = boxed_zeroed::<LearnedMuProp<32, 100, 2, ROWS>>();
    learned.reset(3e-2, &mut rng)?;
    let mut average = Reinforce::with_moving_average(0.9)?;
    for step in 0..1000 {
        let at = (step * ROWS) % (x.len() - ROWS);
        let (xs, ys) = (&x[at..at + ROWS], &y[at..at + ROWS]);
        warm_up(&net, &mut *nvil, xs, ys, &mut ws, &mut grad, &mut rng)?;
        warm_up(&net, &mut *learned, xs, ys, &mut ws, &mut grad, &mut rng)?;
        warm_up(&net, &mut average, xs, ys, &mut ws, &mut grad, &mut rng)?;
    }

    // The draws.
    let layers = (0..<Net as Tensors>::COUNT - 2)
        .map(|k| net.tensor(k).len())
        .sum::<usize>();
    let mut rows = Vec::new();
    let mut measure =
        |name: &'static str,
         est: &mut dyn FnMut(&mut Net, &mut Xoshiro256PlusPlus) -> Result<(), muprop::Error>|
         -> Result<(), Box<dyn Error>> {
            let mut m = Moments::new(layers);
            for _ in 0..args.draws {
                est(&mut grad, &mut rng)?;
                m.push(&grad, layers);
            }
            rows.push(Row {
                name,
                variance: m.variance(),
                mean: m.mean(),
            });
            Ok(())
        };
    macro_rules! draw_with {
        ($name:expr, $est:expr) => {{
            let mut est = $est;
            measure($name, &mut |g, r| {
                gradient(&*net, &mut est, xb, yb, &mut *ws, g, r).map(|_| ())
            })?;
        }};
    }
    draw_with!("REINFORCE", Reinforce::new());
    draw_with!("REINFORCE, moving average", average);
    draw_with!("NVIL", *nvil);
    draw_with!("REINFORCE leave-one-out", LeaveOneOut);
    draw_with!("ARM", Arm);
    draw_with!("DisARM", DisArm);
    draw_with!("MuProp", MuProp::new());
    draw_with!("MuProp, rollout", MuPropRollout);
    draw_with!("MuProp, learned baseline", *learned);
    draw_with!("straight-through (biased)", StraightThrough);

    report(&rows, &args)?;
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// One estimator update at a fixed network: its baselines learn, the network does not.
fn warm_up<E: Estimator>(
    net: &Net,
    est: &mut E,
    x: &[[f32; 32]],
    y: &[[f32; 32]],
    ws: &mut Ws,
    grad: &mut Net,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(), muprop::Error> {
    est.begin_step();
    let loss = gradient(net, est, x, y, ws, grad, rng)?;
    est.end_step(loss);
    Ok(())
}

/// Prints the table and writes the CSV and the chart.
fn report(rows: &[Row], args: &Args) -> Result<(), Box<dyn Error>> {
    let total = |r: &Row| r.variance.iter().sum::<f64>();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(total)
            .unwrap_or(f64::NAN)
    };
    let (reinforce, nvil) = (find("REINFORCE"), find("NVIL"));
    let muprop = rows.iter().find(|r| r.name == "MuProp");
    let base = rows
        .iter()
        .find(|r| r.name == "REINFORCE")
        .map(|r| r.variance.clone());

    println!(
        "\n{:<28} {:>12} {:>12} {:>12} {:>16} {:>14}",
        "estimator", "sum of var", "/ REINFORCE", "/ NVIL", "median / REINF.", "bias (z^2)"
    );
    let mut csv = String::from("estimator,sum_variance,ratio_reinforce,ratio_nvil,median_ratio_reinforce,mean_z2_against_muprop\n");
    for r in rows {
        let median = base
            .as_ref()
            .map(|b| median_ratio(&r.variance, b))
            .unwrap_or(f64::NAN);
        let gap = muprop
            .map(|m| bias_indicator(r, m, args.draws as f64))
            .unwrap_or(f64::NAN);
        println!(
            "{:<28} {:>12.4e} {:>12.4} {:>12.4} {:>16.4} {:>14.2}",
            r.name,
            total(r),
            total(r) / reinforce,
            total(r) / nvil,
            median,
            gap
        );
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.name,
            total(r),
            total(r) / reinforce,
            total(r) / nvil,
            median,
            gap
        ));
    }
    fs::create_dir_all(&args.out)?;
    let csv_path = args.out.join("variance.csv");
    fs::write(&csv_path, csv)?;
    let svg_path = args.out.join("variance.svg");
    chart(rows, reinforce, &svg_path)?;
    println!("\nwrote {} and {}", csv_path.display(), svg_path.display());
    Ok(())
}

/// The median over parameters of `var / base` (parameters with zero base variance skipped).
fn median_ratio(var: &[f64], base: &[f64]) -> f64 {
    let mut r: Vec<f64> = var
        .iter()
        .zip(base)
        .filter(|(_, b)| **b > 0.0)
        .map(|(v, b)| v / b)
        .collect();
    if r.is_empty() {
        return f64::NAN;
    }
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

/// The mean over parameters of the squared difference of two estimators' means in units of
/// its standard error: about 1 when both are unbiased.
fn bias_indicator(a: &Row, b: &Row, draws: f64) -> f64 {
    let terms: Vec<f64> = a
        .mean
        .iter()
        .zip(&b.mean)
        .zip(a.variance.iter().zip(&b.variance))
        .filter(|(_, (va, vb))| **va + **vb > 0.0)
        .map(|((ma, mb), (va, vb))| (ma - mb).powi(2) / ((va + vb) / draws))
        .collect();
    terms.iter().sum::<f64>() / terms.len().max(1) as f64
}

/// A bar chart of log10(sum of variances / REINFORCE's).
fn chart(rows: &[Row], reinforce: f64, path: &PathBuf) -> Result<(), Box<dyn Error>> {
    let values: Vec<(String, f64)> = rows
        .iter()
        .map(|r| {
            (
                r.name.to_string(),
                (r.variance.iter().sum::<f64>() / reinforce).log10(),
            )
        })
        .collect();
    let lo = values.iter().map(|v| v.1).fold(0.0f64, f64::min).floor() - 0.5;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Gradient variance relative to REINFORCE (log10, lower is better)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(210)
        .build_cartesian_2d(lo..0.5f64, 0..values.len())?;
    chart
        .configure_mesh()
        .y_labels(values.len())
        .y_label_formatter(&|i| values.get(*i).map(|v| v.0.clone()).unwrap_or_default())
        .x_desc("log10(sum of per-parameter variances / REINFORCE's)")
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(i, (_, v))| {
        Rectangle::new(
            [(0.0f64.min(*v), i), (0.0f64.max(*v), i + 1)],
            BLUE.mix(0.6).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}
