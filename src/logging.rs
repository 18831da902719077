//! Log output: human-readable lines on a terminal (colours only there), or one JSON object per
//! line for journald and log collectors. The level comes from `--log-level`, else `RUST_LOG`,
//! else `info`; both take tracing's filter syntax (`debug`, `info,xencim_broker=debug`, ...).

use anyhow::{anyhow, Result};
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
        // The parse error repeats itself as its own source: its message alone reads better.
        Some(l) => EnvFilter::try_new(l).map_err(|e| anyhow!("bad --log-level {l}: {e}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).map_err(|e| anyhow!("bad RUST_LOG {v}: {e}"))?,
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
