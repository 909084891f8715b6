//! `graph-sim`: the simulator as a process for the local stack. Prints one line with its URL once bound (so a
//! script can wait for it), logs JSON to stderr, and stops cleanly on SIGINT/SIGTERM.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use graph_sim::{SimConfig, Simulator};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: graph-sim [--port PORT] [--host ADDR]
  --port PORT   port to listen on (env SIM_PORT, default 8001; 0 picks a free one)
  --host ADDR   address to bind (env SIM_HOST, default 127.0.0.1)
env: ACCESS_TOKEN (accepted for every account), SIM_TOKENS (ig_id=token,...), SIM_STRICT_COMMENTS,
     SIM_HOUR_LIMIT, SIM_HOUR_WINDOW_SECS, SIM_LIVE_LIMIT, SIM_LIVE_WINDOW_MS, SIM_PUBLIC_REPLY_LIMIT,
     SIM_PUBLIC_REPLY_WINDOW_SECS, SIM_SEND_API_LIMIT, SIM_SEND_API_WINDOW_MS, SIM_WEBHOOK_URL,
     SIM_WEBHOOK_APP_SECRET, SIM_WEBHOOK_ECHOES, RUST_LOG";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let addr = match listen_addr(&args, |k| std::env::var(k).ok()) {
        Ok(addr) => addr,
        Err(e) => {
            tracing::error!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cfg = match SimConfig::from_env(|k| std::env::var(k).ok()) {
        Ok(cfg) => cfg,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let running = match Simulator::new(cfg).serve(addr).await {
        Ok(running) => running,
        Err(e) => {
            tracing::error!(error = %e, %addr, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    println!("graph-sim listening on {}", running.base_url);
    tracing::info!(url = %running.base_url, "listening");

    shutdown_signal().await;
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// `--port`/`--host` (also as `--port=N`), falling back to `SIM_PORT`/`SIM_HOST`.
fn listen_addr(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<SocketAddr, String> {
    let mut port = env("SIM_PORT");
    let mut host = env("SIM_HOST");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let slot = match name {
            "--port" => &mut port,
            "--host" => &mut host,
            _ => return Err(format!("unknown argument {arg:?}")),
        };
        *slot = Some(
            inline
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))?,
        );
    }
    let port = match port {
        Some(p) => p
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid port {p:?}"))?,
        None => 8001,
    };
    let host = match host {
        Some(h) => h
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| format!("invalid host {h:?}"))?,
        None => Ipv4Addr::LOCALHOST.into(),
    };
    Ok(SocketAddr::new(host, port))
}

async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_port_comes_from_the_flag_before_the_environment() {
        let env = |k: &str| (k == "SIM_PORT").then(|| "9000".to_owned());
        assert_eq!(
            listen_addr(&args(&["--port", "8001"]), env),
            Ok(([127, 0, 0, 1], 8001).into())
        );
        assert_eq!(
            listen_addr(&args(&[]), env),
            Ok(([127, 0, 0, 1], 9000).into())
        );
        assert_eq!(
            listen_addr(&args(&["--port=0", "--host", "0.0.0.0"]), env),
            Ok(([0, 0, 0, 0], 0).into())
        );
    }

    #[test]
    fn a_bad_argument_is_refused() {
        let env = |_: &str| None;
        assert!(listen_addr(&args(&["--port"]), env).is_err());
        assert!(listen_addr(&args(&["--port", "http"]), env).is_err());
        assert!(listen_addr(&args(&["--verbose"]), env).is_err());
    }
}
