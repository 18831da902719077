//! `xencim`: the Xen management stack's command.
//!
//! `xencim serve` runs the XenAPI server (simulated host by default) and the embedded CIM broker;
//! `xencim status` asks a running one what it serves; `xencim user add` manages local users in a
//! state directory; `xencim api-doc` prints the API reference generated from the data model;
//! `xencim completions` and `xencim man` print shell completions and manual pages generated from
//! this command-line definition.

mod api_doc;
mod cim;
mod cim_auth;
mod cli_config;
mod logging;
mod notify;
mod status;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use cli_config::ServeArgs;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use xenapi_core::api::Xapi;
use xenapi_core::model::Role;

/// `xencim --version`: the crate's version and the XenAPI version it serves.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (XenAPI {}.{})",
        env!("CARGO_PKG_VERSION"),
        xenapi_core::bootstrap::API_VERSION_MAJOR,
        xenapi_core::bootstrap::API_VERSION_MINOR
    )
});

#[derive(Parser)]
#[command(name = "xencim", version = VERSION.as_str(), about = "Xen management stack: XenAPI server with a CIM bridge")]
struct Cli {
    /// Log filter: error, warn, info, debug, trace, or tracing's per-module syntax
    /// (`info,xencim_broker=debug`) [default: $RUST_LOG, else info].
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
    /// Log lines as text, or one JSON object per line (for journald and collectors).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the XenAPI server and the embedded CIM broker (on loopback unless told otherwise).
    Serve(ServeArgs),
    /// Ask the running server (over its Unix socket) for uptime, listeners, sessions, hosts and VMs.
    Status(status::StatusArgs),
    /// Manage local XenAPI users (run while the server is stopped).
    #[command(subcommand)]
    User(UserCommand),
    /// Print the XenAPI reference (every class, field and message) generated from the data model.
    ApiDoc,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page xencim(1), or write one page per command into a directory.
    Man {
        /// Write xencim.1, xencim-serve.1, ... here instead of printing xencim.1.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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

fn main() {
    let cli = Cli::parse();
    // Before any file or thread exists: what this process and the tools it runs create in the
    // state directory is private to its user (see xenapi_core::state_dir).
    xenapi_core::state_dir::private_umask();
    if let Err(e) = logging::init(cli.log_level.as_deref(), cli.log_format) {
        eprintln!("xencim: {e:#}");
        std::process::exit(2);
    }
    if let Err(e) = run(cli.command) {
        // The whole chain on one line: "invalid config file F: unknown field `x`, expected ...".
        eprintln!("xencim: {e:#}");
        std::process::exit(1);
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => {
            let settings = cli_config::resolve(&args)?;
            if args.check_config {
                print!("{}", cli_config::check(&settings)?);
                return Ok(());
            }
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
        Command::Status(args) => status::run(args),
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
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "xencim", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => man(dir),
    }
}

/// Manual pages rendered from the clap definition, so they never disagree with `--help`.
fn man(dir: Option<PathBuf>) -> Result<()> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        return Ok(());
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("xencim".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("xencim-{}", sub.get_name());
        // The page title names the command as typed (clap wants a static name).
        pages.push((name.clone(), sub.clone().name(&*Box::leak(name.into_boxed_str()))));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

async fn serve(s: cli_config::Settings) -> Result<()> {
    let mut signals = StopSignals::install()?;
    let xapi = Xapi::open(s.core.clone()).map_err(anyhow::Error::msg)?;
    xapi.spawn_housekeeping();
    let cim_tls = s.cim.as_ref().and_then(|c| c.tls.as_ref()).map(|(_, c, k)| (c, k));
    for (cert, key) in s.listen.tls.iter().map(|(_, c, k)| (c, k)).chain(cim_tls) {
        xenapi_core::server::tls::ensure_self_signed(cert, key, &s.core.host.hostname).map_err(anyhow::Error::msg)?;
    }
    let bound = xenapi_core::server::Bound::bind(&s.listen).await.map_err(anyhow::Error::msg)?;
    // One line per listener: what an operator needs to connect, and nothing else at info level.
    let mut listeners: Vec<String> = bound.describe().split(", ").map(str::to_string).collect();
    for l in &listeners {
        tracing::info!("XenAPI listening on {l}");
    }
    if let Some(cim) = &s.cim {
        listeners.push(format!("cim:http://{}/cimom", cim.listen));
        if let Some((tls, _, _)) = &cim.tls {
            listeners.push(format!("cim:https://{tls}/cimom"));
        }
    }
    // Recorded before the first request is served, so no client sees this change as an event
    // of its own session's time (if the broker cannot start, the server stops anyway).
    xenapi_core::api::host::record_start(&xapi, &listeners).map_err(|e| anyhow::anyhow!("recording the start: {e:?}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let xenapi = tokio::spawn(bound.serve(Arc::clone(&xapi), stopped(stop_rx.clone())));
    let broker = match &s.cim {
        Some(cim) => match start_broker(&xapi, cim, &s.core.state_dir, stop_rx.clone()).await {
            Ok(task) => Some(task),
            Err(e) => {
                let _ = stop_tx.send(true);
                let _ = xenapi.await;
                return Err(e);
            }
        },
        None => None,
    };
    tracing::info!(
        "xencim {} ready: {} backend, state in {}",
        VERSION.as_str(),
        format!("{:?}", s.core.backend).to_lowercase(),
        s.core.state_dir.display()
    );
    notify::notify("READY=1");
    signals.wait().await;
    notify::notify("STOPPING=1");
    let _ = stop_tx.send(true);
    let _ = xenapi.await;
    if let Some(b) = broker {
        let _ = b.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves when the stop flag is raised.
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Starts the embedded broker and waits until it listens. The broker compiles the schema and
/// loads the providers before it binds; one that cannot start (schema, providers, port in use)
/// is an error for the whole server, so that a service manager sees the failure and may restart
/// it, rather than a service that looks up with half of it missing.
async fn start_broker(
    xapi: &Arc<Xapi>,
    cim: &cim::CimSettings,
    state_dir: &std::path::Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<Result<()>>> {
    cim::provider_account(xapi, state_dir)?;
    let config = cim::broker_config(Arc::clone(xapi), cim, state_dir)?;
    let listen = cim.listen;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    // Until it is up, a failure is returned from here (once); afterwards only the log says it.
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let up_in_task = Arc::clone(&up);
    let mut task = tokio::spawn(async move {
        let r = xencim_broker::serve_notify(config, stopped(stop), Some(ready_tx)).await;
        if let Err(e) = &r {
            if up_in_task.load(std::sync::atomic::Ordering::SeqCst) {
                tracing::error!("the CIM broker on {listen} stopped: {e:#}");
            }
        }
        r
    });
    let ready = ready_rx.await.is_ok();
    if ready {
        up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // A broker that failed just after binding, before `up` was set, is reported here too.
    if !ready || task.is_finished() {
        let err = match (&mut task).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => anyhow::anyhow!("it stopped as soon as it started"),
            Err(e) => anyhow::anyhow!("{e}"),
        };
        return Err(err.context(format!("the CIM broker on {listen} could not start")));
    }
    Ok(task)
}

/// SIGTERM and SIGINT, caught from the start: a stop that arrives while the server is still
/// starting (a service manager's, right after `READY=1`) is a clean stop, not the default death.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => tracing::info!("SIGINT: stopping"),
            _ = self.term.recv() => tracing::info!("SIGTERM: stopping"),
        }
    }
}

