//! One SVG line chart with a legend beside it.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

/// One line of a chart.
pub struct Series {
    /// The legend text.
    pub label: String,
    /// `(x, y)` points, in order.
    pub points: Vec<(f64, f64)>,
    /// Whether to draw the line dashed (a reference, beside ours).
    pub dashed: bool,
}

/// Line colours, one per series in order (the Tableau 10 palette).
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

/// Writes `series` as an SVG chart to `path`, the legend on the right.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), Box<dyn Error>> {
    // The ranges of every point (a degenerate range is widened).
    let all = series.iter().flat_map(|s| s.points.iter());
    let (x_max, lo, hi) = all.fold(
        (0.0f64, f64::INFINITY, f64::NEG_INFINITY),
        |(x, lo, hi), &(px, py)| (x.max(px), lo.min(py), hi.max(py)),
    );
    if !lo.is_finite() || !hi.is_finite() {
        return Err(format!("nothing to plot in {}", path.display()).into());
    }
    let pad = 0.05 * (hi - lo).max(1e-3);
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };

    // The chart on the left, the legend on the right.
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (chart_area, legend) = root.split_horizontally(700);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let style = COLORS[k % COLORS.len()].stroke_width(2);
        if s.dashed {
            let pts = s.points.iter().copied();
            chart.draw_series(DashedLineSeries::new(pts, 8, 6, style))?;
        } else {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
        }
        let y = 30 + 22 * k as i32;
        legend.draw(&PathElement::new([(8, y), (36, y)], style))?;
        let text = Text::new(s.label.clone(), (44, y - 7), ("sans-serif", 13));
        legend.draw(&text)?;
    }
    root.present()?;
    Ok(())
}
