//! The plots, drawn as inline SVG: grouped bars with confidence intervals,
//! a scatter plot with its Pareto front, a heat map and stacked
//! distribution bars. Each returns one `<svg>` element; hovering a mark
//! shows its exact figures (`<title>`).

use std::fmt::Write as _;

use crate::esc;

/// Categorical colours for series (colour-blind friendly, Okabe–Ito-like).
pub(crate) const PALETTE: [&str; 10] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f7f7f", "#f0e442",
    "#332288", "#44aa99",
];

/// The colour of series `i`.
pub(crate) fn series_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A light background for a score of 0–100: red through yellow to green.
pub(crate) fn score_color(v: f64) -> String {
    let v = v.clamp(0.0, 100.0);
    format!("hsl({:.0},70%,{:.0}%)", v * 1.2, 78.0 - v * 0.06)
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// One bar: a mean with its confidence interval.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bar {
    /// Series (colour and legend entry).
    pub series: usize,
    /// Mean, 0–100.
    pub mean: f64,
    /// Interval.
    pub lo: f64,
    /// Interval.
    pub hi: f64,
    /// The full label, shown on hover.
    pub label: String,
}

const FONT: &str = r#"font-family="system-ui,sans-serif" font-size="11""#;

/// The score axis (0–100) with grid lines, from `top` down `h` pixels.
fn score_axis(out: &mut String, left: f64, top: f64, h: f64, width: f64) {
    for t in [0, 25, 50, 75, 100] {
        let y = top + h - f64::from(t) / 100.0 * h;
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 10.0,
            left - 4.0,
            y + 4.0,
            t
        );
    }
    let _ = write!(
        out,
        r#"<text transform="translate(12,{:.1}) rotate(-90)" text-anchor="middle">score</text>"#,
        top + h / 2.0,
    );
}

/// Bars in groups (e.g. per quantization), each with its CI as an error bar.
/// `legend`: the series' names.
pub(crate) fn grouped_bars(
    title: &str,
    groups: &[(String, Vec<Bar>)],
    legend: &[String],
) -> String {
    let bar_w = 16.0;
    let gap = 18.0;
    let left = 44.0;
    let top = 28.0;
    let h = 200.0;
    // A group is as wide as its bars or its label, whichever is wider.
    let group_w: Vec<f64> = groups
        .iter()
        .map(|(name, bars)| (bars.len() as f64 * bar_w).max(text_w(name) + 4.0))
        .collect();
    let plot_w = group_w.iter().sum::<f64>() + groups.len() as f64 * gap + gap;
    let width = (left + plot_w + 10.0).max(360.0).max(title_w(title, left));
    let (per_row, col_w) = legend_layout(legend, width - left);
    let legend_rows = legend.len().div_ceil(per_row);
    let height = top + h + 40.0 + legend_rows as f64 * 16.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{t}" {FONT}><text x="{left}" y="16" font-size="13" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
    score_axis(&mut out, left, top, h, width);
    let y = |v: f64| top + h - v.clamp(0.0, 100.0) / 100.0 * h;
    let mut x = left + gap;
    for ((name, bars), gw) in groups.iter().zip(&group_w) {
        let gx = x;
        x += (gw - bars.len() as f64 * bar_w) / 2.0;
        for b in bars {
            let c = series_color(b.series);
            let _ = write!(
                out,
                r##"<g><title>{}: {} [{}, {}]</title><rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{c}" opacity="0.85"/><line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="#222"/><line x1="{:.1}" x2="{:.1}" y1="{lo:.1}" y2="{lo:.1}" stroke="#222"/><line x1="{:.1}" x2="{:.1}" y1="{hi:.1}" y2="{hi:.1}" stroke="#222"/></g>"##,
                esc(&b.label),
                num(b.mean),
                num(b.lo),
                num(b.hi),
                y(b.mean),
                bar_w - 2.0,
                y(0.0) - y(b.mean),
                y(b.lo),
                y(b.hi),
                x + 3.0,
                x + bar_w - 5.0,
                x + 3.0,
                x + bar_w - 5.0,
                cx = x + (bar_w - 2.0) / 2.0,
                lo = y(b.lo),
                hi = y(b.hi),
            );
            x += bar_w;
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            gx + gw / 2.0,
            top + h + 14.0,
            esc(name)
        );
        x = gx + gw + gap;
    }
    legend_rows_svg(&mut out, legend, left, top + h + 32.0, per_row, col_w);
    out.push_str("</svg>");
    out
}

/// The width of `s` in pixels at the plots' 11 px font, roughly.
fn text_w(s: &str) -> f64 {
    shown_len(s) as f64 * 6.8
}

/// The characters `s` takes on the page, where [`esc`] writes a
/// bidirectional control out as its escape (`\u{202e}`: 8).
pub(crate) fn shown_len(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if litmus_core::base::util::is_bidi_control(c) {
                c.escape_default().count()
            } else {
                1
            }
        })
        .sum()
}

/// The width a plot needs for its title (13 px, bold) starting at `x`.
fn title_w(title: &str, x: f64) -> f64 {
    x + shown_len(title) as f64 * 7.9 + 12.0
}

/// Legend entries per row and the width of each, to fit `width`.
fn legend_layout(legend: &[String], width: f64) -> (usize, f64) {
    let col_w = legend.iter().map(|l| text_w(l)).fold(0.0, f64::max) + 26.0;
    (((width / col_w).floor() as usize).max(1), col_w)
}

fn legend_rows_svg(
    out: &mut String,
    legend: &[String],
    left: f64,
    top: f64,
    per_row: usize,
    col_w: f64,
) {
    for (i, name) in legend.iter().enumerate() {
        let lx = left + (i % per_row) as f64 * col_w;
        let ly = top + (i / per_row) as f64 * 16.0;
        let _ = write!(
            out,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 9.0,
            series_color(i),
            lx + 14.0,
            esc(name)
        );
    }
}

/// A point of the quality-against-speed plot.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Point {
    /// Label on hover.
    pub label: String,
    /// Series (colour).
    pub series: usize,
    /// Speed.
    pub x: f64,
    /// Score.
    pub y: f64,
    /// Score interval.
    pub lo: f64,
    /// Score interval.
    pub hi: f64,
}

/// The points no other point beats on both axes (higher is better on
/// both), by increasing x.
pub(crate) fn pareto_front(points: &[Point]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    // Fastest first; among equally fast, best first.
    idx.sort_by(|&a, &b| {
        points[b]
            .x
            .total_cmp(&points[a].x)
            .then(points[b].y.total_cmp(&points[a].y))
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in idx {
        if points[i].y > best {
            best = points[i].y;
            front.push(i);
        }
    }
    front.reverse();
    front
}

/// Score (with CI) against speed; the Pareto front joined by a line.
pub(crate) fn scatter(title: &str, x_label: &str, points: &[Point], legend: &[String]) -> String {
    let left = 44.0;
    let top = 28.0;
    let w = 460.0;
    let h = 240.0;
    let width = f64::max(left + w + 20.0, title_w(title, left));
    let (per_row, col_w) = legend_layout(legend, w);
    let legend_rows = legend.len().div_ceil(per_row);
    let height = top + h + 48.0 + legend_rows as f64 * 16.0;
    let xmax = points.iter().map(|p| p.x).fold(0.0f64, f64::max) * 1.1;
    let xmax = if xmax > 0.0 { nice_ceil(xmax) } else { 1.0 };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{t}" {FONT}><text x="{left}" y="16" font-size="13" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
    score_axis(&mut out, left, top, h, width);
    let sx = |v: f64| left + v / xmax * w;
    let sy = |v: f64| top + h - v.clamp(0.0, 100.0) / 100.0 * h;
    for i in 0..=4 {
        let v = xmax * i as f64 / 4.0;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            sx(v),
            top + h + 14.0,
            trim_num(v)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + w / 2.0,
        top + h + 30.0,
        esc(x_label)
    );
    let front = pareto_front(points);
    if front.len() > 1 {
        let path: Vec<String> = front
            .iter()
            .map(|&i| format!("{:.1},{:.1}", sx(points[i].x), sy(points[i].y)))
            .collect();
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#444" stroke-dasharray="4 3"/>"##,
            path.join(" ")
        );
    }
    for (i, p) in points.iter().enumerate() {
        let on_front = front.contains(&i);
        let (cx, cy) = (sx(p.x), sy(p.y));
        let _ = write!(
            out,
            r##"<g class="pt{}"><title>{}: score {} [{}, {}], {} tok/s{}</title><line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}" opacity="0.6"/><circle cx="{cx:.1}" cy="{cy:.1}" r="{}" fill="{c}" stroke="{}" stroke-width="2"/></g>"##,
            if on_front { " front" } else { "" },
            esc(&p.label),
            num(p.y),
            num(p.lo),
            num(p.hi),
            num(p.x),
            if on_front { " (Pareto front)" } else { "" },
            sy(p.lo),
            sy(p.hi),
            if on_front { 6 } else { 4 },
            if on_front { "#111" } else { "none" },
            c = series_color(p.series),
        );
    }
    legend_rows_svg(&mut out, legend, left, top + h + 46.0, per_row, col_w);
    out.push_str("</svg>");
    out
}

fn nice_ceil(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn trim_num(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// Rows × columns of scores, each cell coloured and labelled.
pub(crate) fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    cells: &[Vec<Option<(f64, String)>>],
) -> String {
    let cw = 46.0;
    let ch = 20.0;
    let left = 8.0 + rows.iter().map(|r| shown_len(r)).max().unwrap_or(0) as f64 * 6.5;
    let head = 20.0 + cols.iter().map(|c| shown_len(c)).max().unwrap_or(0).min(40) as f64 * 5.2;
    // Column labels lean right above the cells; the title needs its width too.
    let width = (left + cols.len() as f64 * cw + head * 0.65).max(title_w(title, 4.0));
    let height = head + rows.len() as f64 * ch + 10.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{t}" {FONT}><text x="4" y="16" font-size="13" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
    for (j, c) in cols.iter().enumerate() {
        let x = left + j as f64 * cw + cw / 2.0;
        let short: String = c.chars().take(40).collect();
        let _ = write!(
            out,
            r#"<text transform="translate({:.1},{:.1}) rotate(-50)"><title>{}</title>{}</text>"#,
            x,
            head - 4.0,
            esc(c),
            esc(&short)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = head + i as f64 * ch;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y + 14.0,
            esc(r)
        );
        for (j, cell) in cells[i].iter().enumerate() {
            let x = left + j as f64 * cw;
            match cell {
                Some((v, hover)) => {
                    let _ = write!(
                        out,
                        r##"<g><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text></g>"##,
                        esc(hover),
                        cw - 1.0,
                        ch - 1.0,
                        score_color(*v),
                        x + cw / 2.0,
                        y + 14.0,
                        v
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#f4f4f4"/>"##,
                        cw - 1.0,
                        ch - 1.0
                    );
                }
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// The bins of the score distribution.
pub(crate) const BINS: [&str; 6] = ["0", "1–24", "25–49", "50–74", "75–99", "100"];

/// The bin of a score.
pub(crate) fn bin(v: f64) -> usize {
    match v {
        v if v <= 0.0 => 0,
        v if v >= 100.0 => 5,
        v if v < 25.0 => 1,
        v if v < 50.0 => 2,
        v if v < 75.0 => 3,
        _ => 4,
    }
}

/// One stacked bar per configuration: how many samples scored 0, 1–24, …,
/// 100; the counts of 0 and 100 written out.
pub(crate) fn distribution(title: &str, rows: &[(String, [usize; 6])]) -> String {
    let left = 8.0 + rows.iter().map(|r| shown_len(&r.0)).max().unwrap_or(0) as f64 * 6.5;
    let w = 420.0;
    let ch = 20.0;
    let top = 44.0;
    let width = (left + w + 20.0).max(title_w(title, 4.0));
    let height = top + rows.len() as f64 * ch + 10.0;
    let colors: Vec<String> = [0.0, 12.0, 37.0, 62.0, 87.0, 100.0]
        .iter()
        .map(|&v| score_color(v))
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{t}" {FONT}><text x="4" y="16" font-size="13" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
    for (k, name) in BINS.iter().enumerate() {
        let lx = left + k as f64 * 70.0;
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="24" width="10" height="10" fill="{}" stroke="#999"/><text x="{:.1}" y="33">{name}</text>"##,
            colors[k],
            lx + 14.0
        );
    }
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = top + i as f64 * ch;
        let total: usize = counts.iter().sum();
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y + 14.0,
            esc(label)
        );
        if total == 0 {
            continue;
        }
        let mut x = left;
        for (k, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let bw = n as f64 / total as f64 * w;
            let _ = write!(
                out,
                r##"<g><title>{}: {n} of {total} samples scored {}</title><rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{}" stroke="#fff"/>"##,
                esc(label),
                BINS[k],
                ch - 2.0,
                colors[k]
            );
            if (k == 0 || k == 5) && bw > 22.0 {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
                    x + bw / 2.0,
                    y + 13.0
                );
            }
            out.push_str("</g>");
            x += bw;
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label with a bidirectional control is shown escaped (`\u{202e}`),
    /// and its column is sized for that, not for the raw character.
    #[test]
    fn labels_are_sized_as_shown() {
        assert_eq!(shown_len("a\u{202e}b"), 10);
        let cells = vec![vec![Some((50.0, "x".to_string()))]];
        let plain = heatmap("t", &["abcdefghij".into()], &["c".into()], &cells);
        let bidi = heatmap("t", &["a\u{202e}b".into()], &["c".into()], &cells);
        let width = |svg: &str| {
            svg.split("width=\"")
                .nth(1)
                .and_then(|w| w.split('"').next())
                .unwrap()
                .to_string()
        };
        assert_eq!(width(&plain), width(&bidi));
    }

    fn pt(x: f64, y: f64) -> Point {
        Point {
            label: format!("{x}/{y}"),
            series: 0,
            x,
            y,
            lo: y - 1.0,
            hi: y + 1.0,
        }
    }

    #[test]
    fn the_pareto_front_keeps_what_nothing_beats_on_both_axes() {
        // (speed, score): the fast-but-bad, the slow-but-good and the
        // balanced one are on the front; the dominated ones are not.
        let pts = [
            pt(10.0, 20.0),
            pt(4.0, 60.0),
            pt(7.0, 40.0),
            pt(6.0, 30.0),
            pt(3.0, 50.0),
        ];
        assert_eq!(pareto_front(&pts), vec![1, 2, 0]);
        assert_eq!(pareto_front(&[]), Vec::<usize>::new());
        // A tie in speed keeps the better one only.
        assert_eq!(pareto_front(&[pt(5.0, 10.0), pt(5.0, 30.0)]), vec![1]);
    }

    #[test]
    fn bars_are_scaled_and_labelled() {
        let svg = grouped_bars(
            "Score per quantization",
            &[(
                "Q8_0 <x>".into(),
                vec![Bar {
                    series: 1,
                    mean: 50.0,
                    lo: 40.0,
                    hi: 60.0,
                    label: "m Q8_0 plain".into(),
                }],
            )],
            &["plain t=0".into()],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // 200 px for 100 points: a mean of 50 is 100 px tall.
        assert!(svg.contains(r##"height="100.0" fill="#e69f00""##), "{svg}");
        assert!(svg.contains("m Q8_0 plain: 50.0 [40.0, 60.0]"));
        assert!(svg.contains("Q8_0 &lt;x&gt;"));
    }

    #[test]
    fn bins_put_zero_and_full_marks_apart() {
        assert_eq!(
            [0.0, 0.5, 24.9, 25.0, 74.9, 99.9, 100.0].map(bin),
            [0, 1, 1, 2, 3, 4, 5]
        );
        let svg = distribution(
            "d",
            &[("a".into(), [3, 0, 0, 0, 0, 1]), ("b".into(), [0; 6])],
        );
        assert!(svg.contains("a: 3 of 4 samples scored 0"));
        assert!(svg.contains("a: 1 of 4 samples scored 100"));
    }

    #[test]
    fn scatter_marks_the_front_and_heatmap_colours_by_score() {
        let svg = scatter(
            "s",
            "tok/s",
            &[pt(10.0, 20.0), pt(4.0, 60.0), pt(3.0, 10.0)],
            &["m".into()],
        );
        assert_eq!(svg.matches(r#"class="pt front""#).count(), 2);
        assert!(svg.contains("<polyline"));
        let h = heatmap(
            "h",
            &["python".into()],
            &["a".into(), "b".into()],
            &[vec![Some((100.0, "a: 100".into())), None]],
        );
        assert!(h.contains(&score_color(100.0)));
        assert!(h.contains("#f4f4f4"));
        assert_eq!(nice_ceil(7.3), 10.0);
        assert_eq!(nice_ceil(123.0), 200.0);
    }
}
