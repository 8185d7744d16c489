//! GC pause logs: one JSON object per line and collection, e.g.
//!
//! ```text
//! {"kind":"full","start_us":1200,"duration_us":830,"phases":{"tenure":40,"mark":300},
//!  "bytes_before":1000,"bytes_after":600,"survived":20,"tenured":3,"passes":1}
//! ```
//! [`report`] reads a log back and computes pause percentiles per kind;
//! [`write_svg`] draws a histogram and a timeline.

use crate::config::{GcKind, GcRecord};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

/// One record as a JSON line (without the newline).
pub fn to_json(r: &GcRecord) -> String {
    let mut s = String::with_capacity(256);
    let kind = r.kind.map(|k| k.name()).unwrap_or("unknown");
    let _ = write!(
        s,
        "{{\"kind\":\"{kind}\",\"start_us\":{},\"duration_us\":{},\"phases\":{{",
        r.start_us, r.duration_us
    );
    for (i, (name, us)) in r.phases.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{}\":{us}", name.replace(['"', '\\'], "_"));
    }
    let _ = write!(
        s,
        "}},\"bytes_before\":{},\"bytes_after\":{},\"survived\":{},\"tenured\":{},\"passes\":{}}}",
        r.bytes_before, r.bytes_after, r.objects_survived, r.objects_tenured, r.passes
    );
    s
}

/// Appends one record to the log file.
pub fn append(path: &Path, r: &GcRecord) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{}", to_json(r))
}

/// Parses one line written by [`to_json`] (a tiny parser for exactly that shape).
pub fn parse_line(line: &str) -> Option<GcRecord> {
    let num = |key: &str| -> Option<u64> {
        let k = format!("\"{key}\":");
        let i = line.find(&k)? + k.len();
        let rest = &line[i..];
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    let kind = {
        let k = "\"kind\":\"";
        let i = line.find(k)? + k.len();
        let end = line[i..].find('"')? + i;
        GcKind::from_name(&line[i..end])
    };
    let phases = {
        let k = "\"phases\":{";
        let i = line.find(k)? + k.len();
        let end = line[i..].find('}')? + i;
        line[i..end]
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (n, v) = p.split_once(':')?;
                Some((n.trim_matches('"').to_string(), v.parse().ok()?))
            })
            .collect()
    };
    Some(GcRecord {
        kind,
        start_us: num("start_us")?,
        duration_us: num("duration_us")?,
        phases,
        bytes_before: num("bytes_before")?,
        bytes_after: num("bytes_after")?,
        objects_survived: num("survived")?,
        objects_tenured: num("tenured")?,
        passes: num("passes").unwrap_or(0) as u32,
    })
}

/// Pause statistics of one kind of collection (µs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PauseStats {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub total: u64,
}

/// A summarised GC log.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub per_kind: BTreeMap<GcKind, PauseStats>,
    pub records: Vec<GcRecord>,
    /// Lines that could not be parsed.
    pub bad_lines: usize,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises records.
pub fn summarize(records: Vec<GcRecord>) -> Summary {
    let mut per: BTreeMap<GcKind, Vec<u64>> = BTreeMap::new();
    for r in &records {
        if let Some(k) = r.kind {
            per.entry(k).or_default().push(r.duration_us);
        }
    }
    let per_kind = per
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            let s = PauseStats {
                count: v.len(),
                p50: percentile(&v, 50.0),
                p90: percentile(&v, 90.0),
                p99: percentile(&v, 99.0),
                max: *v.last().unwrap_or(&0),
                total: v.iter().sum(),
            };
            (k, s)
        })
        .collect();
    Summary {
        per_kind,
        records,
        bad_lines: 0,
    }
}

/// Reads a GC log and summarises it.
pub fn report(path: &Path) -> io::Result<Summary> {
    let text = std::fs::read_to_string(path)?;
    let mut bad = 0;
    let records: Vec<GcRecord> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let r = parse_line(l);
            if r.is_none() {
                bad += 1;
            }
            r
        })
        .collect();
    let mut s = summarize(records);
    s.bad_lines = bad;
    Ok(s)
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>12}",
            "kind", "count", "p50 µs", "p90 µs", "p99 µs", "max µs", "total µs"
        )?;
        for (k, s) in &self.per_kind {
            writeln!(
                f,
                "{:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>12}",
                k.name(),
                s.count,
                s.p50,
                s.p90,
                s.p99,
                s.max,
                s.total
            )?;
        }
        if self.bad_lines > 0 {
            writeln!(f, "({} unreadable lines)", self.bad_lines)?;
        }
        Ok(())
    }
}

fn color(k: Option<GcKind>) -> &'static str {
    match k {
        Some(GcKind::Scavenge) => "#4a90d9",
        Some(GcKind::Full) => "#d9534f",
        None => "#888888",
    }
}

/// An SVG with a pause histogram (log2 buckets, per kind) above a timeline
/// (one bar per collection at its start time, height = pause).
pub fn svg(summary: &Summary) -> String {
    let (w, h) = (900.0f64, 560.0f64);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"20\" font-size=\"14\">GC pauses: histogram (µs, log2 buckets)</text>"
    );
    // Histogram.
    let bucket = |us: u64| (64 - us.max(1).leading_zeros()) as usize; // 1..=64
    let mut counts: BTreeMap<(usize, GcKind), usize> = BTreeMap::new();
    let mut maxb = 1usize;
    for r in &summary.records {
        if let Some(k) = r.kind {
            let b = bucket(r.duration_us);
            maxb = maxb.max(b);
            *counts.entry((b, k)).or_default() += 1;
        }
    }
    let maxc = counts.values().copied().max().unwrap_or(1).max(1) as f64;
    let (hx, hy, hw, hh) = (60.0, 40.0, w - 80.0, 200.0);
    let nb = maxb.max(1) as f64;
    let bw = hw / nb;
    for ((b, k), c) in &counts {
        let x = hx + (*b as f64 - 1.0) * bw + if *k == GcKind::Full { bw / 2.0 } else { 0.0 };
        let bh = hh * (*c as f64) / maxc;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {}: {c}</title></rect>",
            hy + hh - bh,
            (bw / 2.0 - 1.0).max(1.0),
            color(Some(*k)),
            k.name(),
            1u64 << (b - 1)
        );
    }
    for b in 1..=maxb {
        if b % 2 == 1 || maxb < 12 {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                hx + (b as f64 - 1.0) * bw,
                hy + hh + 14.0,
                1u64 << (b - 1)
            );
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{hx}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        hy + hh,
        hx + hw,
        hy + hh
    );
    // Timeline.
    let (tx, ty, tw, th) = (60.0, 310.0, w - 80.0, 200.0);
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"{}\" font-size=\"14\">Timeline (x: start, y: pause µs)</text>",
        ty - 14.0
    );
    let tmax = summary
        .records
        .iter()
        .map(|r| r.start_us + r.duration_us)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let pmax = summary
        .records
        .iter()
        .map(|r| r.duration_us)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for r in &summary.records {
        let x = tx + tw * r.start_us as f64 / tmax;
        let bh = (th * r.duration_us as f64 / pmax).max(1.0);
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"2\" height=\"{bh:.1}\" fill=\"{}\"><title>{} at {} µs: {} µs</title></rect>",
            ty + th - bh,
            color(r.kind),
            r.kind.map(|k| k.name()).unwrap_or("?"),
            r.start_us,
            r.duration_us
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{tx}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        ty + th,
        tx + tw,
        ty + th
    );
    let _ = writeln!(s, "<text x=\"{tx}\" y=\"{}\">0</text>", ty + th + 14.0);
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\">{} ms</text>",
        tx + tw - 40.0,
        ty + th + 14.0,
        tmax / 1000.0
    );
    let _ = writeln!(s, "<text x=\"20\" y=\"{}\">max {} µs</text>", ty + 10.0, pmax);
    let _ = writeln!(s, "<rect x=\"{}\" y=\"530\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"539\">scavenge</text>", tx, color(Some(GcKind::Scavenge)), tx + 14.0);
    let _ = writeln!(s, "<rect x=\"{}\" y=\"530\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"539\">full</text>", tx + 90.0, color(Some(GcKind::Full)), tx + 104.0);
    s.push_str("</svg>\n");
    s
}

/// Writes [`svg`] to a file.
pub fn write_svg(summary: &Summary, path: &Path) -> io::Result<()> {
    std::fs::write(path, svg(summary))
}
