//! Reporting: the results table, the CSV files and the SVG plot of the learning curves.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::experiment::{Outcome, Setup};

/// What every result is reported with: the data, the binarization and the settings.
pub struct Context {
    /// `key=value` pairs, in order.
    pub pairs: Vec<(&'static str, String)>,
    /// The independent-pixel baseline's test NLL.
    pub baseline: f64,
}

impl Context {
    /// The pairs as `# key=value` comment lines for a CSV header.
    fn header(&self) -> String {
        let mut s = String::new();
        for (key, value) in &self.pairs {
            let _ = writeln!(s, "# {key}={value}");
        }
        let _ = writeln!(
            s,
            "# independent_baseline_nll={:.4} (per-pixel training frequency, Laplace-smoothed)",
            self.baseline
        );
        s
    }

    /// The value of `key`, or an empty string.
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Prints the results table.
pub fn print_table(setup: &Setup, context: &Context, outcomes: &[Outcome]) {
    println!();
    println!(
        "{:<18} {:>7} {:>14} {:>14} {:>14} {:>9} {:>11}",
        "estimator", "steps", "test NLL", "untrained", "independent", "train s", "examples/s"
    );
    for o in outcomes {
        println!(
            "{:<18} {:>7} {:>14.3} {:>14.3} {:>14.3} {:>9.1} {:>11.0}",
            o.estimator.name(),
            setup.steps,
            o.final_nll,
            o.untrained_nll,
            context.baseline,
            o.seconds,
            o.examples_per_second(setup)
        );
        if o.refused > 0 {
            println!(
                "  ({} steps refused: non-finite loss or gradient)",
                o.refused
            );
        }
    }
    println!(
        "test NLL in nats per example (sum over the {} bottom pixels), M = {} samples, {}",
        context.get("target_pixels"),
        setup.samples,
        context.get("binarization")
    );
}

/// Writes `{stem}-curve.csv`, `{stem}-results.csv` and `{stem}.svg` into `dir`; returns the
/// paths written.
pub fn write_files(
    dir: &Path,
    stem: &str,
    setup: &Setup,
    context: &Context,
    outcomes: &[Outcome],
) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let curve = dir.join(format!("{stem}-curve.csv"));
    let results = dir.join(format!("{stem}-results.csv"));
    let plot = dir.join(format!("{stem}.svg"));
    write(&curve, &curve_csv(context, outcomes))?;
    write(&results, &results_csv(setup, context, outcomes))?;
    plot_curves(&plot, setup, context, outcomes)?;
    Ok(vec![curve, results, plot])
}

fn write(path: &Path, text: &str) -> Result<(), Box<dyn Error>> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// One row per checkpoint and estimator.
fn curve_csv(context: &Context, outcomes: &[Outcome]) -> String {
    let mut s = context.header();
    s.push_str("estimator,step,examples,train_seconds,train_objective,test_nll,samples\n");
    for o in outcomes {
        for p in &o.curve {
            let objective = if p.objective.is_nan() {
                String::new()
            } else {
                format!("{:.4}", p.objective)
            };
            let _ = writeln!(
                s,
                "{},{},{},{:.3},{},{:.4},{}",
                o.estimator.name(),
                p.step,
                p.examples,
                p.seconds,
                objective,
                p.test_nll,
                p.samples
            );
        }
    }
    s
}

/// One row per estimator, with the binarization on every row.
fn results_csv(setup: &Setup, context: &Context, outcomes: &[Outcome]) -> String {
    let mut s = context.header();
    s.push_str(
        "estimator,data,binarization,arch,seed,steps,batch,lr,samples,eval_examples,\
         test_nll,untrained_nll,independent_nll,train_seconds,examples_per_second,refused\n",
    );
    for o in outcomes {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.3},{:.1},{}",
            o.estimator.name(),
            csv_field(context.get("data")),
            csv_field(context.get("binarization")),
            csv_field(context.get("arch")),
            setup.seed,
            setup.steps,
            setup.batch,
            context.get("lr"),
            setup.samples,
            context.get("eval_examples"),
            o.final_nll,
            o.untrained_nll,
            context.baseline,
            o.seconds,
            o.examples_per_second(setup),
            o.refused
        );
    }
    s
}

/// Line colours, one per estimator in order (the Tableau 10 palette).
const COLORS: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(0, 0, 0),
];

/// Row `row` of the legend: a short line in `style`, then `label`.
fn legend_entry<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    row: usize,
    label: &str,
    style: ShapeStyle,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let y = 56 + 22 * row as i32;
    area.draw(&PathElement::new([(8, y), (36, y)], style))
        .map_err(|e| e.to_string())?;
    area.draw(&Text::new(
        label.to_string(),
        (44, y - 7),
        ("sans-serif", 14),
    ))
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// `value` as one CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Test NLL against training steps, one line per estimator, and the baseline as a grey line.
fn plot_curves(
    path: &Path,
    setup: &Setup,
    context: &Context,
    outcomes: &[Outcome],
) -> Result<(), Box<dyn Error>> {
    // The range of the trained points: the untrained one (far above) is in the caption.
    let nlls = outcomes
        .iter()
        .flat_map(|o| o.curve.iter().skip(1).map(|p| p.test_nll))
        .chain([context.baseline]);
    let (lo, hi) = nlls.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = 0.05 * (hi - lo).max(1e-3);
    let x_max = setup.steps as f64;
    let untrained = outcomes.first().map_or(f64::NAN, |o| o.untrained_nll);

    // The chart on the left, the legend (final test NLL per line) on the right.
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "{}, {}, {} (untrained: {untrained:.2})",
        context.get("data_short"),
        context.get("arch"),
        context.get("binarization")
    );
    let root = root.titled(&caption, ("sans-serif", 18))?;
    let (plot, legend) = root.split_horizontally(780);
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("training steps")
        .y_desc(format!("test NLL, nats (M = {})", setup.curve_samples))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;

    let baseline = context.baseline;
    let grey = BLACK.mix(0.6).stroke_width(2);
    chart.draw_series(DashedLineSeries::new(
        [(0.0, baseline), (x_max, baseline)],
        8,
        6,
        grey,
    ))?;
    legend_entry(&legend, 0, &format!("independent {baseline:.2}"), grey)?;
    for (k, o) in outcomes.iter().enumerate() {
        let style = COLORS[k % COLORS.len()].stroke_width(2);
        let points = o.curve.iter().skip(1).map(|p| (p.step as f64, p.test_nll));
        chart.draw_series(LineSeries::new(points, style))?;
        let label = format!("{} {:.2}", o.estimator.name(), o.final_nll);
        legend_entry(&legend, k + 1, &label, style)?;
    }
    let note = format!("final test NLL, M = {}", setup.samples);
    legend.draw(&Text::new(note, (8, 24), ("sans-serif", 13)))?;
    root.present()?;
    Ok(())
}
