//! Operating the process: logging, the health endpoint, metrics, leader election and signals.

pub mod client;
pub mod failpoints;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod telemetry;

/// Completes on SIGTERM or Ctrl-C (shared by every binary).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
