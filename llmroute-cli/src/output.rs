//! How the CLI writes: colour only on a terminal and never with `NO_COLOR`, aligned
//! tables, and a spinner on stderr for long checks (only on a terminal).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where and how to write.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// ANSI colours on stdout.
    pub color: bool,
    /// ANSI colours on stderr (the same decision, made for stderr).
    pub stderr_color: bool,
    /// stderr is a terminal (spinners).
    pub interactive: bool,
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, per no-color.org).
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether to colour a stream: only on a terminal, and never with `--no-color` or
/// `NO_COLOR`. The same rule for stdout and stderr.
pub fn use_color(no_color_flag: bool, no_color_env: bool, is_terminal: bool) -> bool {
    !no_color_flag && !no_color_env && is_terminal
}

impl Output {
    /// Colour on stdout (and, separately, on stderr) when that stream is a terminal,
    /// `NO_COLOR` is unset and `--no-color` not given.
    pub fn detect(no_color_flag: bool) -> Output {
        let env = no_color_env();
        Output {
            color: use_color(no_color_flag, env, std::io::stdout().is_terminal()),
            stderr_color: use_color(no_color_flag, env, std::io::stderr().is_terminal()),
            interactive: std::io::stderr().is_terminal(),
        }
    }

    /// The same, for text written to stderr: `color` is the stderr decision.
    pub fn detect_stderr(no_color_flag: bool) -> Output {
        Output::detect(no_color_flag).stderr()
    }

    /// This output, painting for stderr (`color` becomes the stderr decision).
    pub fn stderr(&self) -> Output {
        Output {
            color: self.stderr_color,
            ..*self
        }
    }

    /// No colour, no spinner (for tests).
    pub fn plain() -> Output {
        Output {
            color: false,
            stderr_color: false,
            interactive: false,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Green text.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    /// Red text.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
    /// Yellow text.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    /// Dim text.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    /// Bold text.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Starts a spinner on stderr with `label` when stderr is a terminal; it stops and
    /// clears its line when the returned guard is dropped.
    pub fn spinner(&self, label: &str) -> Spinner {
        if !self.interactive {
            return Spinner { stop: None };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let label = label.to_string();
        std::thread::spawn(move || {
            let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                eprint!("\r{} {label}", frames[i % frames.len()]);
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(80));
            }
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        });
        Spinner { stop: Some(stop) }
    }
}

/// A running spinner; dropping it stops it.
#[derive(Debug)]
pub struct Spinner {
    stop: Option<Arc<AtomicBool>>,
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(90));
        }
    }
}

/// Formats rows as an aligned text table with a header line; numbers right-aligned.
///
/// ```
/// let t = llmroute_cli::output::table(&["name", "n"], &[vec!["a".into(), "10".into()]]);
/// assert_eq!(t, "name  n\na     10\n");
/// ```
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let numeric = |s: &str| {
        !s.is_empty()
            && s.trim_start_matches('$')
                .replace([',', '.'], "")
                .chars()
                .all(|c| c.is_ascii_digit())
    };
    let mut out = String::new();
    let mut line = |cells: Vec<&str>, header: bool| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = width[i] - c.chars().count();
                if !header && numeric(c) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), true);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), false);
    }
    out
}

/// Dollars with 6 decimals (`$0.000125`).
pub fn dollars(v: f64) -> String {
    format!("${v:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_output_has_no_escape_codes() {
        let o = Output::plain();
        assert_eq!(o.red("x"), "x");
        let c = Output {
            color: true,
            stderr_color: false,
            interactive: false,
        };
        assert_eq!(c.green("ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(c.stderr().green("ok"), "ok", "stderr has its own decision");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        // (--no-color, NO_COLOR set, is a terminal) -> colour?
        assert!(use_color(false, false, true), "a terminal, nothing set");
        assert!(!use_color(true, false, true), "--no-color on a terminal");
        assert!(!use_color(false, true, true), "NO_COLOR on a terminal");
        assert!(!use_color(true, true, true));
        assert!(!use_color(false, false, false), "not a terminal");
        assert!(!use_color(true, false, false));
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["day", "cost"],
            &[
                vec!["2024-01-01".into(), "$1.5".into()],
                vec!["x".into(), "$10.25".into()],
            ],
        );
        assert_eq!(
            t,
            "day         cost\n2024-01-01    $1.5\nx           $10.25\n"
        );
    }
}
