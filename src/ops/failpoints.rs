//! Crash points for the crash and fault matrix (issue 19): named places in the hub where a test
//! can have the process killed, with SIGKILL, the Nth time it passes there.
//!
//! The points are `fail` crate fail points, so they exist only in builds with its `failpoints`
//! feature: the test suite's builds (the feature is on for dev-dependencies), never `cargo build
//! --release`. A test names the point and the pass in `STAGEHAND_KILL_AT=<point>:<pass>`; the
//! `fail` crate's own `FAILPOINTS` variable (delays, pauses) works too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tracing::warn;

/// Environment variable naming the crash point and the pass that kills (`point:pass`, pass ≥ 1).
pub const KILL_AT: &str = "STAGEHAND_KILL_AT";

/// Every crash point, so a test (and `docs/reliability.md`) can list them.
pub const POINTS: &[&str] = &[
    UPDATE_RUN_AFTER_BINDING_WRITE,
    UPDATE_RUN_AFTER_BINDING_DELETE,
    UPDATE_RUN_AFTER_ACTIONS,
    UPDATE_RUN_AFTER_STATUS_WRITE,
    UPDATE_RUN_AFTER_APPROVAL_CREATE,
    WORK_GENERATOR_AFTER_WORK_WRITE,
    PLACEMENT_AFTER_SNAPSHOT_CREATE,
];
/// A run wrote one binding of a wave (the others of the wave may not be written yet).
pub const UPDATE_RUN_AFTER_BINDING_WRITE: &str = "update-run-after-binding-write";
/// A run's deletion stage deleted one binding (the others of the stage may not be deleted yet).
pub const UPDATE_RUN_AFTER_BINDING_DELETE: &str = "update-run-after-binding-delete";
/// A run's pass wrote its bindings and approvals but not yet its status.
pub const UPDATE_RUN_AFTER_ACTIONS: &str = "update-run-after-actions";
/// A run's pass wrote its status.
pub const UPDATE_RUN_AFTER_STATUS_WRITE: &str = "update-run-after-status-write";
/// A run created an approval request, before its status says so.
pub const UPDATE_RUN_AFTER_APPROVAL_CREATE: &str = "update-run-after-approval-create";
/// The work generator wrote a Work, before the binding's status reports it.
pub const WORK_GENERATOR_AFTER_WORK_WRITE: &str = "work-generator-after-work-write";
/// The placement controller created a resource snapshot, before the older one lost its
/// `is-latest-snapshot` label.
pub const PLACEMENT_AFTER_SNAPSHOT_CREATE: &str = "placement-after-snapshot-create";

/// Holds the fail point configuration for the life of the process.
pub struct Failpoints(#[allow(dead_code)] Option<fail::FailScenario<'static>>);

/// Reads `FAILPOINTS` and `STAGEHAND_KILL_AT`. Does nothing in builds without fail points (it
/// warns when a kill was asked for there, so a test cannot pass by not crashing).
pub fn setup() -> Failpoints {
    let kill_at = std::env::var(KILL_AT).ok().filter(|v| !v.is_empty());
    if !fail::has_failpoints() {
        if let Some(kill_at) = kill_at {
            warn!(%kill_at, "{KILL_AT} is set but this build has no fail points; nothing will be killed");
        }
        return Failpoints(None);
    }
    let scenario = fail::FailScenario::setup();
    if let Some(kill_at) = kill_at {
        match parse(&kill_at) {
            Ok((point, pass)) => arm(point, pass),
            Err(problem) => warn!(%kill_at, %problem, "{KILL_AT} ignored"),
        }
    }
    Failpoints(Some(scenario))
}

fn parse(text: &str) -> Result<(String, u32), String> {
    let (point, pass) = text.rsplit_once(':').unwrap_or((text, "1"));
    if !POINTS.contains(&point) {
        return Err(format!("unknown point `{point}`; known: {}", POINTS.join(", ")));
    }
    let pass = pass
        .parse::<u32>()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| format!("the pass `{pass}` is not a whole number ≥ 1"))?;
    Ok((point.to_string(), pass))
}

fn arm(point: String, pass: u32) {
    let passes = Arc::new(AtomicU32::new(0));
    let name = point.clone();
    let armed = fail::cfg_callback(point, move || {
        if passes.fetch_add(1, Ordering::SeqCst) + 1 == pass {
            kill_self(&name, pass);
        }
    });
    if let Err(problem) = armed {
        warn!(%problem, "arming the crash point failed");
    }
}

/// Ends the process with SIGKILL, as an OOM kill or a node loss would: no destructor, no
/// graceful shutdown, no Lease release.
fn kill_self(point: &str, pass: u32) {
    // Unbuffered, so the test can tell where the process died.
    eprintln!("crash point {point} (pass {pass}): killing the process with SIGKILL");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_kill_names_a_known_point_and_a_pass() {
        assert_eq!(
            parse("update-run-after-actions:3"),
            Ok(("update-run-after-actions".into(), 3))
        );
        assert_eq!(
            parse("update-run-after-actions"),
            Ok(("update-run-after-actions".into(), 1))
        );
        assert!(parse("nowhere:1").unwrap_err().contains("unknown point `nowhere`"));
        assert!(parse("update-run-after-actions:0").is_err());
    }
}
