//! Log output: human-readable lines on a terminal (colours only there), or one JSON object per
//! line for journald and log collectors. The level comes from `--log-level`, else `RUST_LOG`,
//! else `info`; both take tracing's filter syntax (`debug`, `info,xencim_broker=debug`, ...).

use anyhow::{Context, Result};
use clap::ValueEnum;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event: time, level, module, message.
    #[default]
    Text,
    /// One JSON object per event (fields `timestamp`, `level`, `target`, `fields.message`, ...).
    Json,
}

/// Installs the global subscriber, writing to standard error.
pub fn init(level: Option<&str>, format: LogFormat) -> Result<()> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).with_context(|| format!("bad --log-level {l}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).with_context(|| format!("bad RUST_LOG {v}"))?,
            _ => EnvFilter::new("info"),
        },
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
