//! Plots from the summary, as SVG (plotters' SVG backend writes `<text>` elements, so no font files
//! are read or needed, and the bytes are deterministic).
//!
//! The x axis is `network.drop_probability` when the grid sweeps it, else the first numeric
//! parameter; other parameters become series (at most [`SERIES_MAX`] of them). Every protocol
//! metric gets one chart: mean with its 95 % confidence interval as error bars, and p50 and p90
//! as thinner lines. Times (`_us`) are shown in ms. Metrics that differ only in a `<N>ms` part of
//! their name (`visible_within_10ms`, `visible_within_50ms`, …) also get a curve against N at the
//! lowest, middle and highest x value: the eventual KV's t-visibility curve.
//!
//! PNG output is not provided: rasterising text would need an embedded font and the bitmap
//! backend; SVG opens in every browser and converts losslessly.

use plotters::prelude::*;

use crate::sweep::summary::{Summary, SummaryRow};
use crate::sweep::Grid;

/// At most this many series (combinations of the non-x parameters) in one chart.
pub const SERIES_MAX: usize = 6;
const SIZE: (u32, u32) = (800, 500);
/// Columns of runs.csv that describe the run rather than the protocol; not plotted.
const SKIP: [&str; 3] = ["events", "sim_time_us", "violations"];
const COLORS: [RGBColor; SERIES_MAX] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// A metric name as an axis label with its unit, and the factor from stored to shown values.
pub fn axis_label(metric: &str) -> (String, f64) {
    let words = |s: &str| s.replace('_', " ");
    if let Some(base) = metric.strip_suffix("_us") {
        return (format!("{} (ms)", words(base)), 1e-3);
    }
    if let Some(base) = metric.strip_suffix("_ms") {
        return (format!("{} (ms)", words(base)), 1.0);
    }
    if let Some(base) = metric.strip_suffix("_per_s") {
        return (format!("{} (per second)", words(base)), 1.0);
    }
    if metric.contains("converged") {
        return (format!("{} (fraction of runs)", words(metric)), 1.0);
    }
    let probability = metric.starts_with("p_") || metric.contains("_p_");
    if probability || ["fraction", "ratio", "probability", "within"].iter().any(|w| metric.contains(w)) {
        return (format!("{} (fraction)", words(metric)), 1.0);
    }
    (format!("{} (count)", words(metric)), 1.0)
}

/// One line of a chart.
struct Series {
    name: String,
    /// In x order.
    points: Vec<Point>,
}

/// One grid point of a line: the mean, its 95 % interval, and the p50 and p90 where known.
#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    mean: f64,
    lo: f64,
    hi: f64,
    p50: Option<f64>,
    p90: Option<f64>,
}

/// The chart axes: which parameter is x, and how the others group into series.
struct Layout {
    x_param: usize,
    /// Per summarised point (in summary order): x value, as a number and as written, and series name.
    x: Vec<f64>,
    x_text: Vec<String>,
    series_of: Vec<String>,
    series_names: Vec<String>,
    x_label: String,
}

fn layout(summary: &Summary, grid: &Grid) -> Option<Layout> {
    let numeric = |i: usize| grid.params[i].values.iter().all(|v| v.parse::<f64>().is_ok());
    let x_param = grid
        .params
        .iter()
        .position(|p| p.key == "network.drop_probability")
        .filter(|&i| numeric(i))
        .or_else(|| (0..grid.params.len()).find(|&i| numeric(i)))?;
    let mut x = Vec::new();
    let mut x_text = Vec::new();
    let mut series_of = Vec::new();
    let mut series_names: Vec<String> = Vec::new();
    for values in &summary.point_values {
        x.push(values[x_param].parse().ok()?);
        x_text.push(values[x_param].clone());
        let name: Vec<String> = (0..values.len())
            .filter(|&i| i != x_param)
            .map(|i| format!("{}={}", grid.params[i].key, values[i]))
            .collect();
        let name = name.join(", ");
        if !series_names.contains(&name) {
            series_names.push(name.clone());
        }
        series_of.push(name);
    }
    (series_names.len() <= SERIES_MAX).then(|| Layout {
        x_param,
        x,
        x_text,
        series_of,
        series_names,
        x_label: grid.params[x_param].key.clone(),
    })
}

/// Renders every chart: (file name, SVG text), in a fixed order. Empty when nothing can be drawn.
pub fn render_all(summary: &Summary, grid: &Grid) -> Vec<(String, String)> {
    let Some(layout) = layout(summary, grid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let names = summary.metric_names();
    for metric in names.iter().filter(|m| !SKIP.contains(m)) {
        let series = series_for(summary, &layout, metric);
        if series.iter().all(|s| s.points.is_empty()) {
            continue;
        }
        let (y_label, scale) = axis_label(metric);
        let title = format!("{} vs {}", metric, grid.params[layout.x_param].key);
        let axes = Axes { title: &title, x_label: &layout.x_label, y_label: &y_label, scale, log_x: false };
        if let Some(svg) = chart(&axes, &series) {
            out.push((format!("{metric}.svg"), svg));
        }
    }
    for (pattern, members) in ms_families(&names) {
        if let Some(svg) = curve(summary, &layout, &pattern, &members) {
            out.push((format!("{}.svg", pattern.replace("{t}", "t")), svg));
        }
    }
    out
}

fn series_for(summary: &Summary, layout: &Layout, metric: &str) -> Vec<Series> {
    let mut series: Vec<Series> =
        layout.series_names.iter().map(|n| Series { name: n.clone(), points: Vec::new() }).collect();
    for (i, row) in summary.metric(metric).enumerate() {
        let Some(mean) = row.mean else { continue };
        let (lo, hi) = row.ci95.unwrap_or((mean, mean));
        let p = |q: &Option<crate::sweep::summary::Quantile>| q.as_ref().map(|q| q.value);
        let s =
            layout.series_names.iter().position(|n| *n == layout.series_of[i]).expect("series of a point");
        series[s].points.push(Point { x: layout.x[i], mean, lo, hi, p50: p(&row.p50), p90: p(&row.p90) });
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    series
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// A chart's labels and scales.
struct Axes<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    /// Stored value -> shown value (µs -> ms).
    scale: f64,
    /// The points' x values are log10 of the quantity; ticks show the quantity.
    log_x: bool,
}

/// A tick label without a useless `.0`.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The legend corner with the fewest data points under it (points given in chart fractions).
fn legend_corner(points: &[(f64, f64)]) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperLeft, 0.0..0.5, 0.7..1.01),
        (SeriesLabelPosition::UpperRight, 0.5..1.01, 0.7..1.01),
        (SeriesLabelPosition::LowerRight, 0.5..1.01, -0.01..0.3),
        (SeriesLabelPosition::LowerLeft, 0.0..0.5, -0.01..0.3),
    ];
    let covered = |(_, xs, ys): &(SeriesLabelPosition, std::ops::Range<f64>, std::ops::Range<f64>)| {
        points.iter().filter(|(x, y)| xs.contains(x) && ys.contains(y)).count()
    };
    let best = corners.iter().min_by_key(|c| covered(c)).expect("four corners");
    best.0.clone()
}

/// Draws one chart; `None` if plotters fails (it cannot on a string backend, but never panic).
fn chart(axes: &Axes<'_>, series: &[Series]) -> Option<String> {
    let scale = axes.scale;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = bounds(all().map(|p| p.x));
    let pad = (x1 - x0) * 0.03;
    let (_, y1) = bounds(all().flat_map(|p| [p.hi, p.p90.unwrap_or(p.hi)]).map(|v| v * scale));
    let (y0, _) = bounds(all().map(|p| p.lo * scale));
    let y0 = y0.min(0.0);
    // Headroom for the legend.
    let y1 = y1 + (y1 - y0) * 0.25;
    let fractions: Vec<(f64, f64)> = all()
        .flat_map(|p| {
            [p.mean, p.lo, p.hi, p.p50.unwrap_or(p.mean), p.p90.unwrap_or(p.mean)].map(|y| (p.x, y))
        })
        .map(|(x, y)| ((x - x0 + pad) / (x1 - x0 + 2.0 * pad), (y * scale - y0) / (y1 - y0)))
        .collect();
    let corner = legend_corner(&fractions);
    let x_tick = |v: &f64| if axes.log_x { tick(10f64.powf(*v)) } else { tick(*v) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut ctx = ChartBuilder::on(&root)
            .caption(axes.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x0 - pad..x1 + pad, y0..y1)
            .ok()?;
        // On a log axis, one tick per decade (the points sit on powers of ten).
        let x_ticks = if axes.log_x { (x1 - x0).round() as usize + 1 } else { 10 };
        ctx.configure_mesh()
            .x_labels(x_ticks)
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 14))
            .draw()
            .ok()?;
        for (s, color) in series.iter().zip(COLORS) {
            let mean = s.points.iter().map(|p| (p.x, p.mean * scale));
            let label = if s.name.is_empty() {
                "mean ± 95% CI".to_owned()
            } else {
                format!("{}: mean ± 95% CI", s.name)
            };
            ctx.draw_series(LineSeries::new(mean, color.stroke_width(2)))
                .ok()?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            ctx.draw_series(s.points.iter().map(|p| {
                ErrorBar::new_vertical(p.x, p.lo * scale, p.mean * scale, p.hi * scale, color.filled(), 8)
            }))
            .ok()?;
            if series.len() == 1 {
                let faint = color.mix(0.45);
                for (which, thin) in [("p50", true), ("p90", false)] {
                    let line: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .filter_map(|p| if thin { p.p50 } else { p.p90 }.map(|v| (p.x, v * scale)))
                        .collect();
                    let style = if thin { faint.stroke_width(1) } else { faint.stroke_width(3) };
                    ctx.draw_series(LineSeries::new(line, style))
                        .ok()?
                        .label(which)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
            }
        }
        ctx.configure_series_labels()
            .position(corner)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Groups metric names that differ only in one `<digits>ms` segment: `(pattern with {t}, [(t_ms, name)])`.
fn ms_families<'a>(names: &[&'a str]) -> Vec<(String, Vec<(f64, &'a str)>)> {
    let mut families: Vec<(String, Vec<(f64, &'a str)>)> = Vec::new();
    for &name in names {
        let parts: Vec<&str> = name.split('_').collect();
        let Some(i) = parts.iter().position(|p| {
            p.strip_suffix("ms").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        }) else {
            continue;
        };
        let t: f64 = parts[i].trim_end_matches("ms").parse().unwrap_or(0.0);
        let mut pattern = parts.clone();
        pattern[i] = "{t}";
        let pattern = pattern.join("_");
        match families.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, members)) => members.push((t, name)),
            None => families.push((pattern, vec![(t, name)])),
        }
    }
    families.retain(|(_, m)| m.len() >= 3);
    for (_, members) in &mut families {
        members.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    families
}

/// The family's mean against t, one line per x value (lowest, middle, highest), first series only.
fn curve(summary: &Summary, layout: &Layout, pattern: &str, members: &[(f64, &str)]) -> Option<String> {
    let first_series = layout.series_names.first()?;
    // The x values of the first series, as (number, text as in runs.csv), in order.
    let mut xs: Vec<(f64, &str)> = (0..layout.x.len())
        .filter(|&i| layout.series_of[i] == *first_series)
        .map(|i| (layout.x[i], layout.x_text[i].as_str()))
        .collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    xs.dedup();
    let picks: Vec<(f64, &str)> = match xs.len() {
        0 => return None,
        1 | 2 => xs.clone(),
        n => vec![xs[0], xs[n / 2], xs[n - 1]],
    };
    let row_at = |metric: &str, x: f64| -> Option<SummaryRow> {
        summary
            .metric(metric)
            .enumerate()
            .find(|(i, _)| layout.x[*i] == x && layout.series_of[*i] == *first_series)
            .map(|(_, r)| r.clone())
    };
    let (t_min, t_max) = (members[0].0, members[members.len() - 1].0);
    let log_x = t_min > 0.0 && t_max / t_min >= 100.0;
    let series: Vec<Series> = picks
        .iter()
        .map(|&(x, text)| Series {
            name: format!("{}={text}", layout.x_label),
            points: members
                .iter()
                .filter_map(|(t, m)| {
                    let row = row_at(m, x)?;
                    let mean = row.mean?;
                    let (lo, hi) = row.ci95.unwrap_or((mean, mean));
                    Some(Point { x: if log_x { t.log10() } else { *t }, mean, lo, hi, p50: None, p90: None })
                })
                .collect(),
        })
        .collect();
    if series.iter().all(|s| s.points.is_empty()) {
        return None;
    }
    let name = pattern.replace("{t}", "t");
    let (y_label, _) = axis_label(&name);
    let title = format!("{name} vs t");
    let x_label = if log_x { "t after the write (ms, log scale)" } else { "t after the write (ms)" };
    chart(&Axes { title: &title, x_label, y_label: &y_label, scale: 1.0, log_x }, &series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::{Job, Param};
    use crate::sweep::table::{Row, Table};

    fn summary(metrics: &[&str]) -> (Summary, Grid) {
        let grid = Grid::new(vec![Param::parse("network.drop_probability=0:0.2:0.1").unwrap()]).unwrap();
        let mut columns: Vec<String> =
            ["network.drop_probability", "seed", "events", "sim_time_us"].map(String::from).to_vec();
        columns.extend(metrics.iter().map(|m| m.to_string()));
        columns.extend(["violations", "first_violation", "trace_sha256"].map(String::from));
        let mut rows = Vec::new();
        for point in 0..3 {
            for seed in 0..4u64 {
                let mut cells =
                    vec![grid.values(point)[0].to_owned(), seed.to_string(), "1".into(), "1".into()];
                cells.extend(
                    (0..metrics.len())
                        .map(|m| ((point as u64 + 1) * 1000 * (m as u64 + 1) + seed).to_string()),
                );
                cells.extend(["0".into(), String::new(), "h".into()]);
                rows.push(Row { job: Job { point, seed_number: seed }, cells });
            }
        }
        let table = Table { columns, rows };
        (Summary::of(&table, &grid), grid)
    }

    #[test]
    fn one_svg_per_metric_with_units_and_deterministic_bytes() {
        let (s, grid) = summary(&["time_to_first_leader_us", "leader_changes"]);
        let plots = render_all(&s, &grid);
        let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["time_to_first_leader_us.svg", "leader_changes.svg"]);
        let svg = &plots[0].1;
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("time to first leader (ms)"), "y axis names the unit");
        assert_eq!(svg.matches("network.drop_probability").count(), 2, "title and x axis name the swept key");
        assert!(plots[1].1.contains("leader changes (count)"));
        assert_eq!(render_all(&s, &grid), plots, "same summary, same bytes");
    }

    #[test]
    fn ms_families_make_a_visibility_curve() {
        let (s, grid) = summary(&[
            "visible_within_10ms",
            "visible_within_100ms",
            "visible_within_50ms",
            "stale_read_fraction",
        ]);
        let plots = render_all(&s, &grid);
        let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"visible_within_t.svg"), "{names:?}");
        let fam = ms_families(&["a_10ms_x", "a_5ms_x", "a_20ms_x", "b_1ms"]);
        assert_eq!(
            fam,
            [("a_{t}_x".to_owned(), vec![(5.0, "a_5ms_x"), (10.0, "a_10ms_x"), (20.0, "a_20ms_x")])]
        );
    }

    #[test]
    fn labels_carry_units() {
        assert_eq!(axis_label("commit_latency_p99_us"), ("commit latency p99 (ms)".into(), 1e-3));
        assert_eq!(axis_label("stale_read_fraction").0, "stale read fraction (fraction)");
        assert_eq!(axis_label("leader_changes").0, "leader changes (count)");
    }
}
