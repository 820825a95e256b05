//! `slope plot`: a function and its derivative on one figure, as the notebook draws them.

use plotters::prelude::*;
use slope::expr::{linspace, Formula, Point};
use slope::prelude::*;

use crate::{bad, Failure};

/// `(x, f(x), f'(x))` at `points` values of `var` over `[low, high]`, the other variables
/// fixed at `point`.
pub fn curves(
    formula: &Formula,
    var: &str,
    low: f64,
    high: f64,
    points: usize,
    point: &Point,
) -> Result<Vec<(f64, f64, f64)>, Failure> {
    if !formula.variables().contains(var) {
        return Err(bad(format!("--var {var}: the formula has no variable `{var}`")));
    }
    if let Some(name) = point.names().find(|n| point.get(n).is_some_and(|(_, vector)| vector)) {
        return Err(bad(format!(
            "--at {name}=...: a vector where a scalar is needed; every variable but --var holds one number in a plot"
        )));
    }
    let mut out = Vec::with_capacity(points);
    for x in linspace(low, high, points) {
        let mut at = point.clone();
        at.set(var, vec![x], false);
        let g = Graph::new();
        let recorded = formula.record(&g, &at).map_err(bad)?;
        let y = recorded.output.item().map_err(|_| {
            bad(format!("the formula's value has shape {}; a plot needs one number per point", recorded.output.shape()))
        })?;
        let leaf = recorded.variables[var];
        let d = slope::grad(recorded.output, &[leaf]).map_err(bad)?;
        out.push((x, y, d[0].item().unwrap_or(f64::NAN)));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
pub fn plot(
    expr: &str,
    var: &str,
    range: &str,
    points: usize,
    at: &str,
    out: &str,
    title: Option<&str>,
) -> Result<(), Failure> {
    let formula = Formula::parse(expr).map_err(bad)?;
    let point = Point::parse(at).map_err(|e| bad(format!("in --at: {e}")))?;
    let (low, high) = range
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)))
        .ok_or_else(|| bad(format!("--range {range}: expected two numbers, as in --range -10,10")))?;
    if low >= high || !low.is_finite() || !high.is_finite() {
        return Err(bad(format!("--range {range} is empty: the first number must be below the second")));
    }
    if !(2..=100_000).contains(&points) {
        return Err(bad(format!("--points {points}: a plot needs between 2 and 100000 points")));
    }
    let data = curves(&formula, var, low, high, points, &point)?;
    let finite = data.iter().flat_map(|&(_, y, d)| [y, d]).filter(|v| v.is_finite());
    let (ymin, ymax) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !ymin.is_finite() {
        return Err(bad("the function and its derivative are not finite anywhere on that range"));
    }
    let pad = ((ymax - ymin) * 0.05).max(1e-9);
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(out, (800, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title.unwrap_or(expr), ("sans-serif", 24))
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(low..high, (ymin - pad)..(ymax + pad))?;
        chart.configure_mesh().x_desc(var).draw()?;
        // The notebook's colours: matplotlib's first two.
        let curves = [("function", RGBColor(31, 119, 180), 1), ("derivative", RGBColor(255, 127, 14), 2)];
        for (label, color, column) in curves {
            let points = data.iter().map(|&(x, y, d)| (x, if column == 1 { y } else { d })).filter(|p| p.1.is_finite());
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| bad(format!("cannot write {out}: {e}")))?;
    println!("wrote {out}: {} and its derivative over {var} in [{low}, {high}], {points} points", expr);
    Ok(())
}
