//! One `stagehand hub` process the matrix kills and starts again, always under the same
//! leader-election identity, as a pod's container restarts under its pod name (SD-37).

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::harness::TestCluster;
use crate::hub::free_port;

/// The supervised hub.
pub struct HubProcess {
    kubeconfig: PathBuf,
    log: PathBuf,
    identity: String,
    extra: Vec<String>,
    child: Option<Child>,
    /// Processes started so far.
    pub starts: usize,
    /// The crash point the current process is armed with.
    armed: Option<String>,
    /// Where the current process's lines start in the log.
    log_offset: u64,
    /// Exits nobody asked for (a hub that lost its Lease exits; a supervisor restarts it).
    pub unexpected_exits: usize,
}

impl HubProcess {
    /// A hub for `cluster` (not started yet), with both snapshot windows at zero and `extra` flags.
    pub fn new(cluster: &TestCluster, identity: &str, extra: &[&str]) -> HubProcess {
        let log = cluster
            .kubeconfig
            .parent()
            .expect("cluster directory")
            .join(format!("hub-{identity}.log"));
        HubProcess {
            kubeconfig: cluster.kubeconfig.clone(),
            log,
            identity: identity.to_string(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
            starts: 0,
            armed: None,
            log_offset: 0,
            unexpected_exits: 0,
        }
    }

    /// Starts the hub, armed to kill itself at `kill_at` (`point:pass`) when given.
    pub fn start(&mut self, kill_at: Option<&str>) {
        assert!(self.child.is_none(), "the hub is already running");
        // Appended: one log over every restart, for reading a failed run.
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the hub log");
        self.log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagehand"));
        cmd.args(["hub", "--http-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--leader-election-identity", &self.identity])
            .args(["--resource-snapshot-creation-minimum-interval", "0s"])
            .args(["--resource-changes-collection-duration", "0s"])
            .args(&self.extra)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", "info,stagehand=debug,kube_runtime=debug")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        if let Some(point) = kill_at {
            cmd.env("STAGEHAND_KILL_AT", point);
        }
        self.child = Some(cmd.spawn().expect("starting stagehand hub"));
        self.armed = kill_at.map(str::to_string);
        self.starts += 1;
    }

    /// Whether the process has exited (reaping it).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) => {
                self.child = None;
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The current (or last) process's part of the log.
    fn own_log(&self) -> String {
        let all = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(self.log_offset as usize..).unwrap_or_default()).into_owned()
    }

    /// After the process exited: whether it died at its armed crash point. Any other exit is
    /// counted in `unexpected_exits` and logged.
    pub fn note_exit(&mut self) -> bool {
        let point = self.armed.clone().unwrap_or_default();
        let name = point.split(':').next().unwrap_or_default();
        let crashed = !name.is_empty() && self.own_log().contains(&format!("crash point {name}"));
        if !crashed {
            self.unexpected_exits += 1;
            println!(
                "[chaos] the hub exited without being killed (see {}): {}",
                self.log.display(),
                self.own_log()
                    .lines()
                    .rfind(|l| l.contains("ERROR"))
                    .unwrap_or_default()
            );
        }
        crashed
    }

    /// Waits until the armed crash point killed the process, restarting it (armed again) when it
    /// exited for another reason; panics naming the point if it was not reached within `timeout`.
    pub fn wait_for_crash(&mut self, timeout: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.exited() {
                if self.note_exit() {
                    return start.elapsed();
                }
                let armed = self.armed.clone();
                self.start(armed.as_deref());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "crash point {:?} not reached within {timeout:?}; see {}",
            self.armed,
            self.log.display()
        );
    }

    /// The crash point the process is armed with.
    pub fn armed(&self) -> Option<String> {
        self.armed.clone()
    }

    /// Sends `signal` (STOP, CONT) to the running process.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
        }
    }

    /// The log, for messages.
    pub fn log_path(&self) -> &PathBuf {
        &self.log
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}
