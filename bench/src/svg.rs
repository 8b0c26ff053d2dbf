//! The results chart as hand-written SVG: throughput per scenario (log scale, since logins are
//! a thousand times rarer than token checks) and the latency CDF of the protected route, alone
//! and during the login storm.

use std::fmt::Write as _;

use crate::report::{Report, ScenarioResult};

pub(crate) const WIDTH: f64 = 960.0;
pub(crate) const LEFT: f64 = 170.0;
const RIGHT: f64 = 830.0;
const ROW: f64 = 28.0;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `10^floor(log10 v)` and `10^ceil(log10 v)`: the decades around a range.
pub(crate) fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.max(1e-3).log10().floor());
    let mut hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

pub(crate) fn log_x(v: f64, lo: f64, hi: f64) -> f64 {
    let f = (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10());
    LEFT + f.clamp(0.0, 1.0) * (RIGHT - LEFT)
}

pub(crate) fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// An axis label: decades as plain numbers (0.01, 0.1, 1, 10, 100).
pub(crate) fn fmt_tick(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let digits = (-v.log10()).round().max(0.0) as usize;
        format!("{v:.digits$}")
    }
}

fn color(name: &str) -> &'static str {
    match name {
        "baseline" => "#8a8a8a",
        "db_floor" => "#4a9a5a",
        "storm/calm" => "#3b6fb6",
        n if n.starts_with("storm") => "#d9822b",
        _ => "#3b6fb6",
    }
}

pub fn chart(report: &Report) -> String {
    let rows = report.scenarios.len().max(1) as f64;
    let bars_top = 100.0;
    let bars_bottom = bars_top + rows * ROW;
    let cdf_top = bars_bottom + 70.0;
    let cdf_bottom = cdf_top + 200.0;
    let height = cdf_bottom + 60.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = format!(
        "authgate-bench · {} · {} build · {}{}",
        report.db,
        report.build,
        report.when,
        report
            .commit
            .as_deref()
            .map(|c| format!(" · commit {c}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="26" font-size="16" font-weight="bold">{}</text>"#,
        esc(&title)
    );
    let sub = format!(
        "{} · {} s per scenario, {} connections, {} users · argon2id verify {:.1} ms",
        report.machine.summary(),
        report.duration_s,
        report.connections,
        report.users,
        report.hash.verify_ms
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="46" fill="#444">{}</text>"##,
        esc(&sub)
    );

    // Throughput bars.
    let _ = writeln!(
        s,
        r#"<text x="20" y="76" font-size="14" font-weight="bold">Throughput: successful requests/s (log scale)</text>"#
    );
    let max_rps = report.scenarios.iter().map(|r| r.rps).fold(1.0, f64::max);
    let (lo, hi) = decades(1.0, max_rps);
    let mut tick = lo;
    while tick <= hi * 1.0001 {
        let x = log_x(tick, lo, hi);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bars_bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#666">{}</text>"##,
            bars_top - 8.0,
            bars_bottom + 14.0,
            fmt_tick(tick)
        );
        tick *= 10.0;
    }
    for (i, r) in report.scenarios.iter().enumerate() {
        let y = bars_top + i as f64 * ROW;
        let x = log_x(r.rps.max(lo), lo, hi);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 15.0,
            esc(&r.name)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{y:.1}" width="{:.1}" height="{}" fill="{}"><title>{}</title></rect>"#,
            x - LEFT,
            ROW - 8.0,
            color(&r.name),
            esc(&r.what)
        );
        let label = format!(
            "{} /s · p99 {} ms{}",
            fmt_num(r.rps),
            fmt_num(r.p99_ms),
            if r.errors > 0 {
                format!(" · {} errors", r.errors)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 6.0,
            y + 15.0,
            esc(&label)
        );
    }

    // Latency CDF.
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" font-size="14" font-weight="bold">Storm: latency CDF of GET /bench/protected, the same clients alone and during the login storm (ms, log scale)</text>"#,
        cdf_top - 24.0
    );
    let series: Vec<(&ScenarioResult, &str, &str)> = [
        ("storm/calm", "#3b6fb6", "alone"),
        ("storm", "#d9822b", "during the login storm"),
    ]
    .iter()
    .filter_map(|(name, c, label)| {
        report
            .scenarios
            .iter()
            .find(|r| r.name == *name && !r.cdf.is_empty())
            .map(|r| (r, *c, *label))
    })
    .collect();
    let (min_ms, max_ms) = series
        .iter()
        .flat_map(|(r, _, _)| r.cdf.iter().map(|p| p[0]))
        .fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let y_of = |q: f64| cdf_bottom - q * (cdf_bottom - cdf_top);
    for q in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let y = y_of(q);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" fill="#666">{q}</text>"##,
            LEFT - 8.0,
            y + 4.0
        );
    }
    if series.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" fill="#666">(no protected or storm scenario in this run)</text>"##,
            y_of(0.5)
        );
    } else {
        let (lo, hi) = decades(min_ms, max_ms);
        let mut tick = lo;
        while tick <= hi * 1.0001 {
            let x = log_x(tick, lo, hi);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{cdf_top}" x2="{x:.1}" y2="{cdf_bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#666">{}</text>"##,
                cdf_bottom + 14.0,
                fmt_tick(tick)
            );
            tick *= 10.0;
        }
        for (i, (r, c, label)) in series.iter().enumerate() {
            let points: Vec<String> = r
                .cdf
                .iter()
                .map(|p| format!("{:.1},{:.1}", log_x(p[0], lo, hi), y_of(p[1])))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
            let ly = cdf_bottom + 34.0;
            let lx = LEFT + i as f64 * 330.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{c}" stroke-width="3"/><text x="{}" y="{ly}">{}</text>"#,
                ly - 4.0,
                lx + 24.0,
                ly - 4.0,
                lx + 30.0,
                esc(&format!(
                    "{label}: p50 {} ms, p99 {} ms, max {} ms",
                    fmt_num(r.p50_ms),
                    fmt_num(r.p99_ms),
                    fmt_num(r.max_ms)
                ))
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_bracket_the_range() {
        assert_eq!(decades(1.0, 25_000.0), (1.0, 100_000.0));
        assert_eq!(decades(0.05, 3.2), (0.01, 10.0));
        assert_eq!(fmt_tick(10f64.powf(-1.0)), "0.1");
        assert_eq!(fmt_tick(100.0), "100");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
