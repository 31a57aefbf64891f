//! Figures of the simulator's report, drawn by the repository's own code with `plotters`
//! (SVG): the ROC curve of the raw score per attack scenario, and the score distributions of
//! legitimate and attack attempts. Part of the simulator; the server never draws.

use std::collections::HashMap;
use std::path::Path;

use plotters::prelude::{
    BLACK, ChartBuilder, Color, IntoDrawingArea, LineSeries, PathElement, RGBColor, SVGBackend,
    SeriesLabelPosition, WHITE,
};

/// Points of the ROC curve (false-positive rate, true-positive rate) of `attack` against
/// `legit` scores.
pub fn roc_points(legit: &[f64], attack: &[f64]) -> Vec<(f64, f64)> {
    let mut thresholds: Vec<f64> = legit.iter().chain(attack.iter()).copied().collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let mut points = vec![(0.0, 0.0)];
    #[allow(clippy::cast_precision_loss)]
    let rate =
        |xs: &[f64], t: f64| xs.iter().filter(|x| **x >= t).count() as f64 / xs.len().max(1) as f64;
    for t in thresholds {
        points.push((rate(legit, t), rate(attack, t)));
    }
    points.push((1.0, 1.0));
    points
}

fn colour(i: usize) -> RGBColor {
    COLOURS.get(i % COLOURS.len()).copied().unwrap_or(BLACK)
}

const COLOURS: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Writes `risk-<tag>-roc.svg` and `risk-<tag>-scores.svg` into `dir` from per-scenario scores
/// (`legit` is the negative class).
pub fn write(dir: &Path, tag: &str, scores: &HashMap<String, Vec<f64>>) -> anyhow::Result<()> {
    // Attack scenarios only: not the legitimate classes, the training round, or the sign-ins
    // that issued the replayed tokens.
    let mut names: Vec<&String> = scores
        .keys()
        .filter(|k| {
            !k.starts_with("legit")
                && !k.starts_with("train_")
                && *k != "token_issue"
                && *k != "token_use_legit"
        })
        .collect();
    names.sort();
    roc_figure(&dir.join(format!("risk-{tag}-roc.svg")), scores, &names)?;
    score_figure(&dir.join(format!("risk-{tag}-scores.svg")), scores, &names)
}

/// The ROC curve of each attack scenario in `names`.
fn roc_figure(
    path: &Path,
    scores: &HashMap<String, Vec<f64>>,
    names: &[&String],
) -> anyhow::Result<()> {
    let legit = scores.get("legit").cloned().unwrap_or_default();
    let root = SVGBackend::new(path, (720, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "ROC of the raw risk score, per attack scenario",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate (legitimate sign-ins; owners' token uses for token_replay)")
        .y_desc("true-positive rate")
        .draw()?;
    for (i, name) in names.iter().enumerate() {
        let colour = colour(i);
        let attack = scores.get(*name).cloned().unwrap_or_default();
        // A replayed token is compared with the owners' own uses of their tokens.
        let negatives = if name.as_str() == "token_replay" {
            scores.get("token_use_legit").cloned().unwrap_or_default()
        } else {
            legit.clone()
        };
        chart
            .draw_series(LineSeries::new(
                roc_points(&negatives, &attack),
                colour.stroke_width(2),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
    }
    chart.draw_series(LineSeries::new(
        vec![(0.0, 0.0), (1.0, 1.0)],
        BLACK.mix(0.3),
    ))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The share of attempts per score bin (20 bins over [0, 1]), as points at the bins' centres.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn histogram(xs: &[f64]) -> Vec<(f64, f64)> {
    let bins = 20usize;
    let mut counts = vec![0usize; bins];
    for x in xs {
        let b = ((x.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        if let Some(c) = counts.get_mut(b) {
            *c += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                (i as f64 + 0.5) / bins as f64,
                *c as f64 / xs.len().max(1) as f64,
            )
        })
        .collect()
}

/// The score distributions of the legitimate attempts and of each attack scenario in `names`.
fn score_figure(
    path: &Path,
    scores: &HashMap<String, Vec<f64>>,
    names: &[&String],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Score distributions (share of attempts per bin)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("risk score")
        .y_desc("share")
        .draw()?;
    let legit = scores.get("legit").cloned().unwrap_or_default();
    let mut series: Vec<(&str, Vec<f64>)> = vec![("legit", legit)];
    for n in names {
        series.push((n.as_str(), scores.get(*n).cloned().unwrap_or_default()));
    }
    for (i, (name, xs)) in series.into_iter().enumerate() {
        let colour = if name == "legit" {
            BLACK
        } else {
            colour(i.saturating_sub(1))
        };
        chart
            .draw_series(LineSeries::new(histogram(&xs), colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_runs_from_origin_to_one() {
        let pts = roc_points(&[0.1, 0.2], &[0.8, 0.9]);
        assert_eq!(pts.first(), Some(&(0.0, 0.0)));
        assert_eq!(pts.last(), Some(&(1.0, 1.0)));
        // Perfect separation: TPR reaches 1 while FPR is still 0.
        assert!(pts.contains(&(0.0, 1.0)));
    }

    #[test]
    fn writes_both_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut scores = HashMap::new();
        scores.insert("legit".to_owned(), vec![0.01, 0.02, 0.3]);
        scores.insert("takeover".to_owned(), vec![0.7, 0.95]);
        write(dir.path(), "t", &scores).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("risk-t-roc.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("takeover"));
        assert!(dir.path().join("risk-t-scores.svg").exists());
    }
}
