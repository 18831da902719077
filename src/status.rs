//! `xencim status`: asks the running server, over its Unix socket, what it serves. It logs in
//! like any XenAPI client (by default as root with `<state-dir>/initial-password`), reads hosts
//! and VMs with ordinary calls, and the process facts only the server knows (uptime, listeners,
//! live sessions) with the read-only extension `host.get_xencim_status`.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use xenapi_client::Client;
use xenapi_client::Value;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The server's state directory (its socket is <state-dir>/xapi.sock) [default: state_dir of
    /// --config, else of /etc/xencim/xencim.toml when it exists, else serve's default].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// The server's config file, to find its state directory.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Another endpoint instead of the socket (`http://127.0.0.1:8080/`, `unix:/path`).
    #[arg(long)]
    pub url: Option<String>,
    /// The XenAPI user to log in as.
    #[arg(long, default_value = "root")]
    pub user: String,
    /// File holding the password (first line; `-` reads standard input)
    /// [default: <state-dir>/initial-password].
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// The packaged config; `status` looks there when given nothing else.
const SYSTEM_CONFIG: &str = "/etc/xencim/xencim.toml";

fn state_dir(args: &StatusArgs) -> Result<PathBuf> {
    if let Some(d) = &args.state_dir {
        return Ok(d.clone());
    }
    let config = args.config.clone().or_else(|| Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.is_file()));
    if let Some(c) = config {
        if let Some(d) = crate::cli_config::read_file_config(&c)?.state_dir {
            return Ok(d);
        }
    }
    Ok(crate::cli_config::default_state_dir())
}

pub fn run(args: StatusArgs) -> Result<()> {
    let dir = state_dir(&args)?;
    let url = args.url.clone().unwrap_or_else(|| format!("unix:{}", dir.join("xapi.sock").display()));
    let pw_file = args.password_file.clone().unwrap_or_else(|| dir.join("initial-password"));
    let password = crate::cli_config::read_secret(&pw_file)
        .with_context(|| format!("no password for {} (give --password-file)", args.user))?;
    if password.is_empty() {
        bail!("the password in {} is empty", pw_file.display());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(fetch(&url, &args.user, &password))?;
    print!("{report}");
    Ok(())
}

async fn fetch(url: &str, user: &str, password: &str) -> Result<String> {
    let client = Client::builder(url)
        .connect_timeout(std::time::Duration::from_secs(5))
        .request_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot reach the server at {url} (is xencim serve running?)"))?;
    let session = client.login(user, password, "xencim-status").await.with_context(|| format!("logging in to {url} as {user}"))?;
    let result = report(&session, url).await;
    let _ = session.logout().await;
    result
}

async fn report(session: &xenapi_client::Session, url: &str) -> Result<String> {
    let hosts = session.get_all_records("host").await?;
    let vms = session.get_all_records("VM").await?;
    let mut out = String::new();
    writeln!(out, "endpoint:  {url}")?;
    for (href, h) in &hosts {
        let st = map(&session.call_message("host", "get_xencim_status", vec![Value::str(href)]).await?);
        let started: Option<f64> = st.get("agent_start_time").and_then(|s| s.parse().ok());
        let uptime = started
            .map(|t| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(t);
                human_duration((now - t).max(0.0) as u64)
            })
            .unwrap_or_else(|| "unknown".into());
        let get = |k: &str| st.get(k).cloned().unwrap_or_default();
        writeln!(out, "server:    xencim {} serving XenAPI {}, {} backend, up {uptime}", get("version"), get("api_version"), get("backend"))?;
        writeln!(out, "listeners: {}", get("listeners").split_whitespace().collect::<Vec<_>>().join(", "))?;
        writeln!(out, "sessions:  {} live (this one included)", get("sessions"))?;
        let enabled = if h.bool("enabled") == Some(false) { "disabled" } else { "enabled" };
        writeln!(out, "host:      {} ({}, {enabled})", h.str("name_label"), h.str("uuid"))?;
    }
    // Guests only: the control domain, templates and snapshots are not VMs an operator runs.
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for (_, v) in &vms {
        if v.bool("is_control_domain") == Some(true) || v.bool("is_a_template") == Some(true) || v.bool("is_a_snapshot") == Some(true) {
            continue;
        }
        total += 1;
        *by_state.entry(v.str("power_state").to_string()).or_default() += 1;
    }
    let states: Vec<String> = by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
    if states.is_empty() {
        writeln!(out, "VMs:       0")?;
    } else {
        writeln!(out, "VMs:       {total} ({})", states.join(", "))?;
    }
    writeln!(out, "hosts:     {}", hosts.len())?;
    Ok(out)
}

fn map(v: &Value) -> BTreeMap<String, String> {
    match v {
        Value::Map(m) => m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string()))).collect(),
        _ => BTreeMap::new(),
    }
}

/// `3d 4h 5m 6s`, leading zero units left out.
fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
        if n > 0 || !parts.is_empty() {
            parts.push(format!("{n}{unit}"));
        }
    }
    parts.push(format!("{s}s"));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::human_duration(5), "5s");
        assert_eq!(super::human_duration(3600 + 2), "1h 0m 2s");
        assert_eq!(super::human_duration(2 * 86400 + 61), "2d 0h 1m 1s");
    }
}
