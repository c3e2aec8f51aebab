//! `clustersim report DIR` (and `run --html`): one self-contained `report.html`.
//!
//! The page needs nothing but a browser — no scripts, no external style sheet, fonts or
//! images: charts from [`crate::plot`] are embedded as inline SVG. It holds the scenario
//! summary, the topology (component list with kinds, nodes and targets), the key metrics per
//! sweep point (mean ± 95 % CI from `points.csv`), the analytic-versus-simulated table when the
//! topology is a textbook queue (the spec is rebuilt from `manifest.ron`'s resolved scenario),
//! the scheduled faults and the charts.
//!
//! The markup is well-formed XHTML-compatible HTML5 (every element closed, attributes quoted,
//! text escaped), so tests parse it as XML. Output is byte-deterministic: no timestamps.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clustersim_scenarios::load;

use crate::analytic;
use crate::atomic::write_atomic;
use crate::plot::{self, Csv, ManifestIn};

/// Escapes text for HTML/XML content and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Strips the XML declaration plotters does not write, or anything before `<svg`.
fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}\
figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.3em}\
code{background:#f6f6f6;padding:0 3px}";

/// Key metrics shown per point, with their column labels.
const KEY: [(&str, &str); 8] = [
    ("throughput_rps", "throughput (1/s)"),
    ("latency_mean_ms", "mean latency (ms)"),
    ("latency_p50_ms", "p50 (ms)"),
    ("latency_p99_ms", "p99 (ms)"),
    ("error_rate", "error rate"),
    ("timeouts", "timeouts"),
    ("max_utilization", "max utilization"),
    ("drops_partition", "partition drops"),
];

/// Builds the report page for the output folder `dir`.
///
/// # Errors
/// A missing or unreadable report file, or an invalid resolved scenario.
pub fn render(dir: &Path) -> Result<String> {
    let m = plot::read_manifest(dir)?;
    let points = Csv::read(&dir.join("points.csv"))?;
    let summary = Csv::read(&dir.join("summary.csv"))?;
    let charts = plot::charts(dir)?;
    let s = &m.resolved;
    let warmup = plot::warmup_span(s, &summary);
    let warmup_s = warmup.as_ref().map_or(0.0, |(w, _)| *w);
    let warmup_text = match (&s.warmup, &warmup) {
        (clustersim_scenarios::raw::Warmup::Auto, Some((w, label))) => {
            let spread = label
                .strip_prefix("warm-up (MSER-5 ")
                .map_or(String::new(), |rest| {
                    format!(" ({}", rest.trim_end_matches(')').to_owned() + ")")
                });
            format!("Auto, chosen by MSER-5: {} s{spread}", fmt(*w))
        }
        (clustersim_scenarios::raw::Warmup::Auto, None) => "Auto: none detected".to_owned(),
        _ => format!("{} s", fmt(warmup_s)),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<title>clustersim report: {}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<h1>Scenario <code>{}</code></h1>\n",
        escape(&s.name),
        escape(&s.name)
    );
    if !s.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(s.description.trim()));
    }
    let _ = writeln!(
        h,
        "<table>\n<tr><th class=\"l\">file</th><td class=\"l\">{}</td></tr>\n\
         <tr><th class=\"l\">command</th><td class=\"l\"><code>{}</code></td></tr>\n\
         <tr><th class=\"l\">duration</th><td class=\"l\">{} s (warm-up {})</td></tr>\n\
         <tr><th class=\"l\">master seed</th><td class=\"l\">{}</td></tr>\n\
         <tr><th class=\"l\">runs</th><td class=\"l\">{} ({} point(s) × {} replication(s)), {} failed</td></tr>\n</table>",
        escape(&m.scenario_file),
        escape(&m.command),
        s.duration.0.as_secs_f64(),
        escape(&warmup_text),
        m.master_seed,
        m.runs,
        points.rows.len(),
        m.replications,
        m.failed_runs
    );
    let _ = writeln!(
        h,
        "<details><summary>Resolved scenario (every default filled in)</summary>\n<pre>{}</pre></details>",
        escape(&load::to_pretty_ron(&m.resolved))
    );
    topology(&mut h, &m, dir);
    metrics_table(&mut h, &points);
    analytic_table(&mut h, &m, &points, dir);
    warmup_section(&mut h, dir, warmup_s, m.replications);
    let faults = plot::fault_windows(s);
    if !faults.is_empty() {
        h.push_str("<h2>Scheduled faults</h2>\n<table>\n<tr><th class=\"l\">fault</th><th>from (s)</th><th>to (s)</th></tr>\n");
        for f in &faults {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&f.label),
                fmt(f.start_s),
                fmt(f.end_s)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Charts</h2>\n");
    if charts.is_empty() {
        h.push_str("<p>No chart: the runs recorded no time series.</p>\n");
    }
    for c in &charts {
        let _ = writeln!(
            h,
            "<figure id=\"{}\">\n<figcaption>{}</figcaption>\n{}\n</figure>",
            escape(c.file.trim_end_matches(".svg")),
            escape(&c.title),
            inline_svg(&c.svg).trim_end()
        );
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

fn topology(h: &mut String, m: &ManifestIn, dir: &Path) {
    h.push_str("<h2>Topology</h2>\n");
    let path = dir.join("manifest.ron");
    match clustersim_scenarios::prepare(m.resolved.clone(), &path, &[]) {
        Ok(l) => {
            let spec = &l.spec;
            h.push_str("<table>\n<tr><th class=\"l\">component</th><th class=\"l\">kind</th><th class=\"l\">node</th><th class=\"l\">region</th><th class=\"l\">calls</th></tr>\n");
            for c in &spec.components {
                let node = &spec.nodes[c.node.index()];
                let targets: Vec<String> = c
                    .config
                    .targets()
                    .iter()
                    .map(|t| escape(&spec.components[t.index()].name))
                    .collect();
                let _ = writeln!(
                    h,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                    escape(&c.name),
                    escape(c.config.kind_name()),
                    escape(&node.name),
                    escape(&spec.regions[node.region.index()]),
                    if targets.is_empty() {
                        "–".to_owned()
                    } else {
                        targets.join(", ")
                    }
                );
            }
            h.push_str("</table>\n");
        }
        Err(e) => {
            let _ = writeln!(
                h,
                "<p>The resolved scenario could not be validated again: <code>{}</code></p>",
                escape(&e.to_string())
            );
        }
    }
}

fn metrics_table(h: &mut String, points: &Csv) {
    h.push_str(
        "<h2>Key metrics</h2>\n<p>Mean ± 95 % confidence half-width over replications.</p>\n<table>\n<tr><th>point</th>",
    );
    let params = points.params_between("point", "runs");
    for &c in &params {
        let _ = write!(h, "<th class=\"l\">{}</th>", escape(&points.header[c]));
    }
    for (_, label) in KEY {
        let _ = write!(h, "<th>{}</th>", escape(label));
    }
    h.push_str("</tr>\n");
    let cp = points.col("point");
    for (i, r) in points.rows.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td>{}</td>",
            escape(cp.map_or("", |c| r[c].as_str()))
        );
        for &c in &params {
            let _ = write!(h, "<td class=\"l\">{}</td>", escape(&r[c]));
        }
        for (m, _) in KEY {
            let mean = points
                .col(&format!("{m}_mean"))
                .map_or(f64::NAN, |c| points.num(i, c));
            let ci = points
                .col(&format!("{m}_ci95"))
                .map_or(f64::NAN, |c| points.num(i, c));
            let cell = if ci.is_finite() {
                format!("{} ± {}", fmt(mean), fmt(ci))
            } else {
                fmt(mean)
            };
            let _ = write!(h, "<td>{}</td>", escape(&cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn analytic_table(h: &mut String, m: &ManifestIn, points: &Csv, dir: &Path) {
    // Only for a single point: sweep points change the spec.
    if points.rows.len() != 1 {
        return;
    }
    let Ok(l) = clustersim_scenarios::prepare(m.resolved.clone(), &dir.join("manifest.ron"), &[])
    else {
        return;
    };
    let Some(e) = analytic::expected(&l.spec) else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2>Analytic versus simulated</h2>\n<p>Model: {}</p>\n<table>\n<tr><th class=\"l\">metric</th><th>analytic</th><th>simulated</th><th>±95 %</th></tr>",
        escape(&e.model)
    );
    for (metric, v) in &e.values {
        let mean = points
            .col(&format!("{metric}_mean"))
            .map_or(f64::NAN, |c| points.num(0, c));
        let ci = points
            .col(&format!("{metric}_ci95"))
            .map_or(f64::NAN, |c| points.num(0, c));
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(metric),
            fmt(*v),
            fmt(mean),
            fmt(ci)
        );
    }
    h.push_str("</table>\n");
}

/// MSER-5 warm-up suggestion per client of the first run (point 0, replication 0), and with
/// one replication the batch-means 95 % CI of the per-window mean latency after the warm-up.
fn warmup_section(h: &mut String, dir: &Path, warmup_s: f64, replications: u32) {
    let (Ok(ts), Ok(comps)) = (
        Csv::read(&dir.join("timeseries.csv")),
        Csv::read(&dir.join("components.csv")),
    ) else {
        return;
    };
    let (Some(cc), Some(ck)) = (comps.col("component"), comps.col("kind")) else {
        return;
    };
    let clients: Vec<&String> = comps
        .rows
        .iter()
        .filter(|r| crate::result::is_client_kind(&r[ck]))
        .map(|r| &r[cc])
        .collect();
    let cols = (
        ts.col("point"),
        ts.col("replication"),
        ts.col("window_start_s"),
        ts.col("component"),
        ts.col("metric"),
        ts.col("value"),
    );
    let (Some(tp), Some(tr), Some(tstart), Some(tcomp), Some(tm), Some(tv)) = cols else {
        return;
    };
    let mut rows = String::new();
    let mut seen: Vec<&String> = Vec::new();
    for c in clients {
        if seen.contains(&c) {
            continue;
        }
        seen.push(c);
        let mut starts = Vec::new();
        let mut values = Vec::new();
        for (i, r) in ts.rows.iter().enumerate() {
            if r[tp] == "0" && r[tr] == "0" && r[tcomp] == *c && r[tm] == "latency_mean_ms" {
                starts.push(ts.num(i, tstart));
                values.push(ts.num(i, tv));
            }
        }
        let Some(res) = crate::warmup::mser5(&values) else {
            continue;
        };
        let suggested = starts
            .get(res.truncate_windows)
            .copied()
            .unwrap_or(f64::NAN);
        let after: Vec<f64> = starts
            .iter()
            .zip(&values)
            .filter(|(s, _)| **s >= warmup_s)
            .map(|(_, v)| *v)
            .collect();
        let ci = if replications == 1 {
            crate::warmup::batch_means_ci(&after, crate::warmup::DEFAULT_BATCHES)
                .map_or("–".to_owned(), |(m, hw)| {
                    format!("{} ± {}", fmt(m), fmt(hw))
                })
        } else {
            "–".to_owned()
        };
        let _ = writeln!(
            rows,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(c),
            fmt(suggested),
            if res.at_search_limit { "yes" } else { "no" },
            escape(&ci)
        );
    }
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h2>Warm-up check (MSER-5)</h2>\n<p>Truncation point minimising the MSER statistic over \
         batches of 5 windows of per-window mean latency (first run); configured warm-up {} s. \
         With one replication, the batch-means 95 % CI (10 batches) of the per-window mean \
         latency after the configured warm-up.</p>\n<table>\n<tr><th class=\"l\">client</th>\
         <th>suggested warm-up (s)</th><th>at search limit</th><th>batch-means mean latency (ms)</th></tr>\n{rows}</table>\n",
        fmt(warmup_s)
    );
}

/// Writes `out/report.html` for the output folder `dir` (atomically) and returns its path.
///
/// # Errors
/// As [`render`], or a write error.
pub fn write_report(dir: &Path, out: &Path) -> Result<PathBuf> {
    let page = render(dir)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let p = out.join("report.html");
    write_atomic(&p, page.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

/// `clustersim report DIR [--out OUT]` (default `DIR`): writes `report.html`.
///
/// # Errors
/// As [`write_report`].
pub fn cli(dir: &Path, out: Option<&Path>) -> Result<std::process::ExitCode> {
    let p = write_report(dir, out.unwrap_or(dir))?;
    println!("{}", p.display());
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(inline_svg("<?xml?>\n<svg/>"), "<svg/>");
        assert_eq!(fmt(f64::NAN), "–");
    }
}
