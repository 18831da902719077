//! `xencim`: the Xen management stack's command.
//!
//! `xencim serve` runs the XenAPI server (simulated host by default); `xencim user add` manages
//! local users in a state directory; `xencim api-doc` prints the API reference generated from the
//! data model.

mod api_doc;
mod cim;
mod cim_auth;
mod cli_config;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use cli_config::ServeArgs;
use std::sync::Arc;
use xenapi_core::api::Xapi;
use xenapi_core::model::Role;

#[derive(Parser)]
#[command(name = "xencim", version, about = "Xen management stack: XenAPI server with a CIM bridge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the XenAPI server (and, once built, the embedded CIM broker) on loopback.
    Serve(ServeArgs),
    /// Manage local XenAPI users (run while the server is stopped).
    #[command(subcommand)]
    User(UserCommand),
    /// Print the XenAPI reference (every class, field and message) generated from the data model.
    ApiDoc,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user, or reset the password and role of an existing one.
    Add {
        #[arg(long)]
        state_dir: Option<std::path::PathBuf>,
        #[arg(long)]
        name: String,
        /// pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator or read-only.
        #[arg(long, default_value = "read-only")]
        role: String,
        /// File holding the password (first line); `-` reads standard input.
        #[arg(long)]
        password_file: std::path::PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Before any file or thread exists: what this process and the tools it runs create in the
    // state directory is private to its user (see xenapi_core::state_dir).
    xenapi_core::state_dir::private_umask();
    match cli.command {
        Command::Serve(args) => {
            let settings = cli_config::resolve(&args)?;
            if settings.cim.is_some() {
                // Read by the provider libraries the broker loads into this process; set while
                // the process has one thread.
                std::env::set_var("XENCIM_PROVIDER_CONFIG", settings.core.state_dir.join("providers.toml"));
            }
            xenapi_core::server::limit_malloc_arenas();
            xenapi_core::server::raise_fd_limit();
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let result = rt.block_on(serve(settings));
            // Operations still waiting on a guest (a clean shutdown that may take minutes) are
            // abandoned: the next start marks their tasks failed.
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result
        }
        Command::User(UserCommand::Add { state_dir, name, role, password_file }) => {
            let role = Role::from_wire_name(&role).with_context(|| format!("unknown role {role}"))?;
            let password = cli_config::read_secret(&password_file)?;
            if password.is_empty() {
                bail!("the password in {} is empty", password_file.display());
            }
            let dir = state_dir.unwrap_or_else(cli_config::default_state_dir);
            xenapi_core::state_dir::prepare(&dir).map_err(anyhow::Error::msg)?;
            let store = xenapi_core::store::Store::open(&dir).map_err(anyhow::Error::msg)?;
            xenapi_core::api::users::put_user(&store, &name, &name, role, &password)?;
            println!("user {name} ({}) saved in {}", role.wire_name(), dir.display());
            Ok(())
        }
        Command::ApiDoc => {
            print!("{}", api_doc::render());
            Ok(())
        }
    }
}

async fn serve(s: cli_config::Settings) -> Result<()> {
    let xapi = Xapi::open(s.core.clone()).map_err(anyhow::Error::msg)?;
    xapi.spawn_housekeeping();
    let cim_tls = s.cim.as_ref().and_then(|c| c.tls.as_ref()).map(|(_, c, k)| (c, k));
    for (cert, key) in s.listen.tls.iter().map(|(_, c, k)| (c, k)).chain(cim_tls) {
        xenapi_core::server::tls::ensure_self_signed(cert, key, &s.core.host.hostname).map_err(anyhow::Error::msg)?;
    }
    let bound = xenapi_core::server::Bound::bind(&s.listen).await.map_err(anyhow::Error::msg)?;
    tracing::info!("XenAPI listening on {} (state in {})", bound.describe(), s.core.state_dir.display());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let xenapi = tokio::spawn(bound.serve(Arc::clone(&xapi), stopped(stop_rx.clone())));
    let broker = match &s.cim {
        Some(cim) => {
            cim::provider_account(&xapi, &s.core.state_dir)?;
            let config = cim::broker_config(Arc::clone(&xapi), cim, &s.core.state_dir)?;
            let listen = cim.listen;
            let rx = stop_rx.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = xencim_broker::serve(config, stopped(rx)).await {
                    tracing::error!("the CIM broker on {listen} stopped: {e:#}");
                }
            }))
        }
        None => None,
    };
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = xenapi.await;
    if let Some(b) = broker {
        let _ = b.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
    }
}

