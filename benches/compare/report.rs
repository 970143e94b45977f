//! Results: one row per measured figure, printed as one Markdown table and written as JSON,
//! with the ratio to its baseline and the verdict against the target beside it.

use std::time::Duration;

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Row {
    pub workload: &'static str,
    pub system: String,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
    /// Ratio to the baseline(s), in words ("2.1× tmux").
    pub versus: String,
    pub target: String,
    pub pass: Option<bool>,
}

impl Row {
    pub fn new(
        workload: &'static str,
        system: impl Into<String>,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Row {
        Row {
            workload,
            system: system.into(),
            metric: metric.into(),
            value,
            unit,
            versus: String::new(),
            target: String::new(),
            pass: None,
        }
    }

    pub fn versus(mut self, v: impl Into<String>) -> Row {
        self.versus = v.into();
        self
    }

    pub fn target(mut self, t: impl Into<String>, pass: bool) -> Row {
        self.target = t.into();
        self.pass = Some(pass);
        self
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "  {} | {} | {} = {} {} {} {}",
            row.workload,
            row.system,
            row.metric,
            fmt_value(row.value),
            row.unit,
            row.versus,
            verdict(row.pass)
        );
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| workload | system | measure | value | vs baseline | target | result |\n\
             |---|---|---|---:|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} {} | {} | {} | {} |\n",
                r.workload,
                r.system,
                r.metric,
                fmt_value(r.value),
                r.unit,
                r.versus,
                r.target,
                verdict(r.pass)
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("\n- {n}"));
        }
        s.push('\n');
        s
    }

    pub fn json(&self, meta: Value) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "workload": r.workload,
                    "system": r.system,
                    "metric": r.metric,
                    "value": r.value,
                    "unit": r.unit,
                    "versus": r.versus,
                    "target": r.target,
                    "pass": r.pass,
                })
            })
            .collect();
        json!({ "meta": meta, "rows": rows, "notes": self.notes })
    }
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "**miss**",
        None => "",
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let at = |q: f64| {
            if samples.is_empty() {
                return f64::NAN;
            }
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            ms(samples[i])
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: samples.last().map_or(f64::NAN, |d| ms(*d)),
        }
    }
}

/// "2.1× tmux" style ratio, `higher_is_better` deciding which way round.
pub fn ratio(ours: f64, theirs: f64, name: &str, higher_is_better: bool) -> String {
    let r = if higher_is_better {
        ours / theirs
    } else {
        theirs / ours
    };
    let word = if higher_is_better {
        "of"
    } else {
        "faster than"
    };
    if higher_is_better {
        format!("{:.0}% {word} {name}", r * 100.0)
    } else if r >= 1.0 {
        format!("{r:.1}× {word} {name}")
    } else {
        format!("{:.1}× slower than {name}", 1.0 / r)
    }
}
