//! `llmroute doctor`: a checklist of everything a deployment needs, each line ✓ / ! / ✗
//! with the fix. The checks are plain async functions returning [`Check`]s, one module
//! per area, so each is unit-tested without the binary:
//!
//! - [`config`]: config found and parsed, the env vars it names, the master key;
//! - [`database`]: DNS, TCP connect, TLS, auth, migrations;
//! - [`redis`]: DNS, TCP connect, AUTH, PING;
//! - [`azure`]: per deployment: DNS, TCP+TLS, api-version, one 1-token request;
//! - [`server`]: `/health`, a key-authenticated `/v1/models`;
//! - [`net`]: the DNS and TCP steps they share.
//!
//! Exit code 0 when no line is ✗, 1 otherwise.

pub mod azure;
pub mod config;
pub mod database;
pub mod net;
pub mod redis;
pub mod server;

use serde::Serialize;

use crate::args::DoctorArgs;
use crate::error::CliError;
use crate::output::Output;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// ✓
    Pass,
    /// ! (works, but worth a look)
    Warn,
    /// ✗ (will not work; the fix says what to change)
    Fail,
    /// - (not run: an earlier step failed, or it was turned off)
    Skip,
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The area: `config`, `database`, `redis`, `deployment gpt-4o-0`, `server`.
    pub group: String,
    /// What was checked: `DNS`, `TCP connect`, `key valid`, ...
    pub name: String,
    /// How it went.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to change, for warnings and failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(group: &str, name: &str, detail: impl Into<String>) -> Check {
        Check {
            group: group.into(),
            name: name.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }
    /// A warning with its fix.
    pub fn warn(
        group: &str,
        name: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            group: group.into(),
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    /// A failure with its fix.
    pub fn fail(
        group: &str,
        name: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            group: group.into(),
            name: name.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    /// A step not run, and why.
    pub fn skip(group: &str, name: &str, why: impl Into<String>) -> Check {
        Check {
            group: group.into(),
            name: name.into(),
            status: Status::Skip,
            detail: why.into(),
            fix: None,
        }
    }

    /// The line as printed: `✗ database: TCP connect: timed out …` plus the fix line.
    pub fn render(&self, out: &Output) -> String {
        let mark = match self.status {
            Status::Pass => out.green("✓"),
            Status::Warn => out.yellow("!"),
            Status::Fail => out.red("✗"),
            Status::Skip => out.dim("-"),
        };
        let mut s = format!("{mark} {}: {}: {}", self.group, self.name, self.detail);
        if let Some(fix) = &self.fix {
            s.push_str(&format!("\n    {} {fix}", out.bold("fix:")));
        }
        s
    }
}

/// Whether any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

/// Runs every check and prints the checklist (or JSON); exit code 1 when one failed.
pub async fn run(args: DoctorArgs, out: &Output) -> Result<u8, CliError> {
    let printer = Printer {
        out: *out,
        json: args.json,
    };
    let mut all = Vec::new();
    let (config_checks, loaded) = config::check_all(&args.config);
    printer.show(&config_checks);
    all.extend(config_checks);
    if let Some(cfg) = &loaded {
        let spin = out.spinner("checking the database");
        let db = database::check_all(cfg, &args.config.data_dir, args.timeout).await;
        drop(spin);
        printer.show(&db);
        all.extend(db);
        let spin = out.spinner("checking Redis");
        let rd = redis::check_all(cfg, args.timeout).await;
        drop(spin);
        printer.show(&rd);
        all.extend(rd);
        for d in &cfg.models {
            let spin = out.spinner(&format!("checking deployment {}", d.id));
            let dep =
                azure::check_deployment(d, cfg.drop_params, args.timeout, !args.no_spend).await;
            drop(spin);
            printer.show(&dep);
            all.extend(dep);
        }
    }
    if let Some(url) = &args.server {
        let key = args.key.clone().or_else(|| {
            loaded.as_ref().and_then(|c| {
                c.general
                    .master_key
                    .as_ref()
                    .map(|k| k.expose().to_string())
            })
        });
        let spin = out.spinner("checking the server");
        let sv = server::check_all(url, key.as_deref(), args.timeout).await;
        drop(spin);
        printer.show(&sv);
        all.extend(sv);
    }
    let bad = failed(&all);
    if args.json {
        let v = serde_json::json!({ "ok": !bad, "checks": all });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let (f, w) = (
            all.iter().filter(|c| c.status == Status::Fail).count(),
            all.iter().filter(|c| c.status == Status::Warn).count(),
        );
        let summary = format!("{} check(s): {f} failed, {w} warning(s)", all.len());
        println!(
            "{}",
            if bad {
                out.red(&summary)
            } else {
                out.green(&summary)
            }
        );
    }
    Ok(u8::from(bad))
}

/// Prints lines as they come (not in JSON mode, which prints once at the end).
struct Printer {
    out: Output,
    json: bool,
}

impl Printer {
    fn show(&self, checks: &[Check]) {
        if self.json {
            return;
        }
        for c in checks {
            println!("{}", c.render(&self.out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_exit_status() {
        let c = Check::fail(
            "database",
            "TCP connect",
            "timed out",
            "open the security group",
        );
        assert_eq!(
            c.render(&Output::plain()),
            "✗ database: TCP connect: timed out\n    fix: open the security group"
        );
        assert!(failed(&[Check::pass("a", "b", "c"), c]));
        assert!(!failed(&[
            Check::warn("a", "b", "c", "d"),
            Check::skip("a", "b", "c")
        ]));
    }
}
