//! `stagehand hub` start-up against real API servers: it refuses to run without its CRDs, and
//! reports ready on a hub that has them. The binary runs its controllers, so the ready test uses a
//! hub of its own: on the shared hub it would put finalizers on other tests' runs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Role, member, start_parallel, wait_for};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Kills the process if the test panics before it stopped it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
    }
}

#[test]
fn hub_refuses_to_start_without_its_crds() {
    let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["hub", "--http-addr", &format!("127.0.0.1:{}", free_port())])
        .env("KUBECONFIG", &member().kubeconfig)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running stagehand hub");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "stagehand hub started on a cluster without the CRDs"
    );
    assert!(
        stderr.contains("clusterstagedupdateruns.placement.kubernetes-fleet.io"),
        "{stderr}"
    );
    assert!(stderr.contains("kubectl apply --server-side -f crds/"), "{stderr}");
}

#[test]
fn hub_reports_ready_when_its_crds_are_established_and_stops_on_sigterm() {
    let own = start_parallel(&[("binhub", Role::Hub)]);
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["hub", "--http-addr", &format!("127.0.0.1:{port}")])
        .env("KUBECONFIG", &own[0].kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stagehand hub");
    let guard = KillOnDrop(child.id());
    let ready = wait_for("/readyz", Duration::from_secs(30), || {
        http_get(port, "/readyz").filter(|r| r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"))
    });
    assert!(ready.ends_with("ok"), "{ready}");
    assert!(http_get(port, "/healthz").is_some_and(|r| r.ends_with("ok")));
    let metrics = http_get(port, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains("application/openmetrics-text") && metrics.trim_end().ends_with("# EOF"),
        "{metrics}"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waiting for stagehand hub");
    std::mem::forget(guard);
    assert!(status.success(), "stagehand hub did not stop cleanly: {status}");
}
