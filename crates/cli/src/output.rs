//! Terminal output: aligned tables, coloured statuses (only when the stream is a terminal and `NO_COLOR` is
//! unset), local-friendly times, JSON for scripts, and failure reports on stderr.

use crate::failure::Failure;
use chrono::{DateTime, Local, Utc};
use console::{Alignment, Style, measure_text_width, pad_str};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::io::{IsTerminal as _, Write as _};

#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    /// A person is watching stderr (progress bars make sense).
    interactive: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        console::set_colors_enabled(!json && !no_color && stdout_tty);
        console::set_colors_enabled_stderr(!no_color && stderr_tty);
        Self {
            json,
            interactive: !json && stderr_tty,
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn interactive(&self) -> bool {
        self.interactive
    }

    pub fn print_json(&self, value: &Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        println!("{text}");
    }

    /// A running count of the items a Scan has read, on stderr while a person watches it (hidden otherwise);
    /// finish it with `finish_and_clear` before printing results.
    pub fn scan_progress(&self, what: &str) -> ProgressBar {
        if !self.interactive {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner:.cyan} {msg}: {human_pos} items read ({per_sec})  {elapsed_precise}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A bar over `total` steps on stderr while a person watches it (hidden otherwise, or for one step).
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        if !self.interactive || total <= 1 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:32.cyan/blue} {pos}/{len} {msg} ({percent}%)  {elapsed_precise}, eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        bar
    }

    /// `warning: ...` on stderr (with `--json` the command puts its warnings in its JSON instead).
    pub fn warn(&self, text: &str) {
        if self.json {
            return;
        }
        let yellow = Style::new().yellow().bold().for_stderr();
        writeln!(
            std::io::stderr().lock(),
            "{} {text}",
            yellow.apply_to("warning:")
        )
        .ok();
    }

    /// `error: ...`, the causes, and the hint, on stderr; one JSON object there with `--json`.
    pub fn report(&self, failure: &Failure) {
        let mut err = std::io::stderr().lock();
        if self.json {
            let mut obj = json!({"error": failure.message, "causes": failure.causes()});
            if let Some(hint) = &failure.hint {
                obj["hint"] = json!(hint);
            }
            if let Some(details) = &failure.details {
                obj["details"] = details.clone();
            }
            writeln!(err, "{obj}").ok();
            return;
        }
        let red = Style::new().red().bold().for_stderr();
        let dim = Style::new().dim().for_stderr();
        let yellow = Style::new().yellow().bold().for_stderr();
        writeln!(err, "{} {}", red.apply_to("error:"), failure.message).ok();
        for cause in failure.causes() {
            writeln!(err, "  {} {cause}", dim.apply_to("caused by:")).ok();
        }
        if let Some(hint) = &failure.hint {
            writeln!(err, "  {} {hint}", yellow.apply_to("hint:")).ok();
        }
    }
}

/// A status word in its colour: green done, yellow waiting, red needs attention, dim finished-without-reply.
pub fn status(word: &str) -> String {
    let style = match word {
        "REPLIED" => Style::new().green(),
        "PENDING" | "SENDING" => Style::new().cyan(),
        "RETRY" => Style::new().yellow(),
        "TOKEN_INVALID" | "FAILED" => Style::new().red().bold(),
        "EXPIRED" | "SKIPPED" => Style::new().dim(),
        _ => Style::new(),
    };
    style.apply_to(word).to_string()
}

pub fn good(text: &str) -> String {
    Style::new().green().bold().apply_to(text).to_string()
}

pub fn bad(text: &str) -> String {
    Style::new().red().bold().apply_to(text).to_string()
}

/// Says that a scan stopped at its `--max-scan` bound, and what that means for the output (`consequence`).
pub fn say_scan_truncated(max_scan: u64, consequence: &str) {
    println!(
        "{}",
        bad(&format!(
            "The scan stopped at --max-scan {max_scan} items: {consequence}"
        ))
    );
}

pub fn dim(text: &str) -> String {
    Style::new().dim().apply_to(text).to_string()
}

pub fn bold(text: &str) -> String {
    Style::new().bold().apply_to(text).to_string()
}

pub fn yellow(text: &str) -> String {
    Style::new().yellow().apply_to(text).to_string()
}

/// `text` cut to `max` characters, with `…` when it was longer; line breaks shown as spaces.
pub fn clip(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let head: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{head}…")
}

/// `2026-07-01 14:03:12` in the machine's time zone.
pub fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Columns separated by two spaces, each as wide as its widest cell (ANSI colours and wide characters are
/// measured correctly); `right` columns are right-aligned. The last column is not padded.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            right: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    pub fn align_right(mut self, column: usize) -> Self {
        if let Some(r) = self.right.get_mut(column) {
            *r = true;
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| measure_text_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(measure_text_width(cell));
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| bold(h)).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let last = i + 1 == columns;
                let align = if self.right[i] {
                    Alignment::Right
                } else {
                    Alignment::Left
                };
                if i > 0 {
                    line.push_str("  ");
                }
                if last && !self.right[i] {
                    line.push_str(cell);
                } else {
                    line.push_str(&pad_str(cell, *width, align, None));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_whatever_the_cell_widths() {
        let mut t = Table::new(&["A", "STATUS", "N"]).align_right(2);
        t.row(vec!["xxxxx".into(), "REPLIED".into(), "7".into()]);
        t.row(vec!["y".into(), "RETRY".into(), "1234".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        let at = lines[0].find("STATUS");
        assert_eq!(lines[1].find("REPLIED"), at);
        assert_eq!(lines[2].find("RETRY"), at);
        assert!(lines[1].ends_with("   7"));
        assert!(lines[2].ends_with("1234"));
    }

    #[test]
    fn clipped_text_keeps_whole_characters_and_flattens_line_breaks() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ssylka: ссылка", 10), "ssylka: с…");
        assert_eq!(clip("a\nb", 10), "a b");
    }

    #[test]
    fn wide_characters_are_measured_as_the_terminal_shows_them() {
        let mut t = Table::new(&["WHO", "X"]);
        t.row(vec!["@日本".into(), "a".into()]);
        t.row(vec!["@abcd".into(), "b".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(measure_text_width(lines[1]), measure_text_width(lines[2]));
    }
}
