//! What `kubectl stagehand status` shows: a run read into a stable, documented shape
//! (`-o json` / `-o yaml` print it as is; docs/kubectl-plugin.md lists the fields). Pure: built
//! from the run object and the time, so every state is unit-tested.

use jiff::Timestamp;
use serde::Serialize;

use crate::api::condition::Condition;
use crate::api::placement::{
    ClusterStagedUpdateRunSpec as UpdateRunSpec, ClusterUpdatingStatus, StageTaskStatus, StageTaskType,
    StageUpdatingStatus, UpdateRunState, UpdateRunStatus,
};
use crate::conditions::find;

/// Where a run stands, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// Not initialized yet.
    Initializing,
    /// Initialization waits for something that resolves by itself.
    Pending,
    /// Initialization failed for good.
    InitializationFailed,
    /// Initialized with `state: Initialize`: nothing rolls out until it is resumed.
    Initialized,
    /// Rolling out.
    Running,
    /// Waiting for a stage task (an approval or a TimedWait).
    Waiting,
    /// A cluster takes longer than 5 minutes.
    Stuck,
    /// Stopping: clusters in flight settle.
    Stopping,
    /// Stopped; resume to go on.
    Stopped,
    /// Every stage finished.
    Succeeded,
    /// Failed for good (a retry can resume a stage failure).
    Failed,
    /// Aborted (`state: Abort`), final.
    Aborted,
}

impl Phase {
    /// Whether the run can change no more (short of a retry).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::InitializationFailed | Phase::Succeeded | Phase::Failed | Phase::Aborted
        )
    }
}

/// Where a cluster of a stage stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// Not started.
    Waiting,
    /// Started, not finished.
    Updating,
    /// Updated.
    Succeeded,
    /// Failed.
    Failed,
    /// Left out (`skipClusters`, `skipStages`, or departed).
    Skipped,
}

/// One cluster of a stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterReport {
    /// Member cluster name.
    pub name: String,
    /// Its state.
    pub state: ClusterState,
    /// Why it failed or was skipped, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One before- or after-stage task.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// `before` or `after`.
    pub position: &'static str,
    /// `Approval` or `TimedWait`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// `pending`, `waiting`, `approved`, `elapsed`.
    pub state: &'static str,
    /// The approval request to approve (Approval tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_request: Option<String>,
    /// Seconds left on a running TimedWait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
}

/// One stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageReport {
    /// Stage name.
    pub name: String,
    /// `pending`, `updating`, `waiting`, `stopped`, `succeeded`, `skipped`, `failed`.
    pub state: &'static str,
    /// Its clusters in order (only those listed, for a compact run).
    pub clusters: Vec<ClusterReport>,
    /// Clusters a compact run does not list (SD-22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlisted_clusters: Option<i32>,
    /// Before- and after-stage tasks.
    pub tasks: Vec<TaskReport>,
}

/// A run as `status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// `ClusterStagedUpdateRun` or `StagedUpdateRun`.
    pub kind: &'static str,
    /// Run name.
    pub name: String,
    /// Namespace (namespaced runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Placement.
    pub placement: String,
    /// Strategy.
    pub strategy: String,
    /// `spec.state`.
    pub state: String,
    /// The resource snapshot index rolled out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_snapshot_index: Option<String>,
    /// What that index changes from the one before it (`+`, `-`, `~` Kind namespace/name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Where the run stands.
    pub phase: Phase,
    /// The message of the condition that decided the phase.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Stages in order, then the deletion stage.
    pub stages: Vec<StageReport>,
    /// Clusters in each state, over all stages (listed ones, for a compact run).
    pub summary: Summary,
}

/// Clusters by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Not started.
    pub waiting: usize,
    /// Updating.
    pub updating: usize,
    /// Updated.
    pub succeeded: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
}

fn is(conditions: &Option<Vec<Condition>>, type_: &str, status: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == status)
}

/// The run's phase, and the message that says why.
pub fn phase(spec: &UpdateRunSpec, status: &UpdateRunStatus) -> (Phase, String) {
    let c = &status.conditions;
    let message = |t: &str| find(c, t).map(|c| c.message.clone()).unwrap_or_default();
    if let Some(done) = find(c, "Succeeded") {
        return match (done.status.as_str(), done.reason.as_str()) {
            ("True", _) => (Phase::Succeeded, done.message.clone()),
            (_, "UpdateRunAborted") => (Phase::Aborted, done.message.clone()),
            _ => (Phase::Failed, done.message.clone()),
        };
    }
    match find(c, "Initialized") {
        None => return (Phase::Initializing, String::new()),
        Some(i) if i.status != "True" && i.reason == "UpdateRunInitializationPending" => {
            return (Phase::Pending, i.message.clone());
        }
        Some(i) if i.status != "True" => return (Phase::InitializationFailed, i.message.clone()),
        Some(_) => {}
    }
    match find(c, "Progressing") {
        Some(p) if p.status == "Unknown" => (Phase::Stopping, p.message.clone()),
        Some(p) if p.reason == "UpdateRunStopped" => (Phase::Stopped, p.message.clone()),
        Some(p) if p.reason == "UpdateRunWaiting" => (Phase::Waiting, p.message.clone()),
        Some(p) if p.reason == "UpdateRunStuck" => (Phase::Stuck, p.message.clone()),
        Some(_) => (Phase::Running, message("Progressing")),
        None if spec.state == UpdateRunState::Initialize => (Phase::Initialized, message("Initialized")),
        None => (Phase::Running, String::new()),
    }
}

fn cluster_report(c: &ClusterUpdatingStatus) -> ClusterReport {
    let conds = &c.conditions;
    let (state, detail) = if let Some(s) = find(conds, "Skipped").filter(|s| s.status == "True") {
        (ClusterState::Skipped, Some(s.message.clone()))
    } else if is(conds, "Succeeded", "True") {
        (ClusterState::Succeeded, None)
    } else if let Some(f) = find(conds, "Succeeded").filter(|s| s.status == "False") {
        (ClusterState::Failed, Some(f.message.clone()))
    } else if is(conds, "Started", "True") {
        (ClusterState::Updating, None)
    } else {
        (ClusterState::Waiting, None)
    };
    ClusterReport {
        name: c.cluster_name.clone(),
        state,
        detail,
    }
}

fn stage_state(stage: &StageUpdatingStatus) -> &'static str {
    let c = &stage.conditions;
    if let Some(done) = find(c, "Succeeded") {
        return match (done.status.as_str(), done.reason.as_str()) {
            ("True", r) if r.starts_with("StageUpdatingSkipped") => "skipped",
            ("True", _) => "succeeded",
            _ => "failed",
        };
    }
    match find(c, "Progressing") {
        None => "pending",
        Some(p) if p.reason == "StageUpdatingWaiting" => "waiting",
        Some(p) if p.reason == "StageUpdatingStopped" || p.status == "Unknown" => "stopped",
        Some(p) if p.reason == "StageUpdatingAborted" => "aborted",
        Some(_) => "updating",
    }
}

fn task_report(position: &'static str, task: &StageTaskStatus, wait_ms: Option<u64>, now: Timestamp) -> TaskReport {
    let c = &task.conditions;
    let (type_, state, seconds_left) = match task.type_ {
        StageTaskType::Approval => {
            let state = if is(c, "ApprovalRequestApproved", "True") {
                "approved"
            } else if is(c, "ApprovalRequestCreated", "True") {
                "pending"
            } else {
                "waiting"
            };
            ("Approval", state, None)
        }
        StageTaskType::TimedWait => match find(c, "WaitTimeElapsed") {
            Some(e) if e.status == "True" => ("TimedWait", "elapsed", None),
            Some(e) => {
                let started = e.last_transition_time.as_ref().map(|t| t.0).unwrap_or(now);
                let end = started + jiff::SignedDuration::from_millis(wait_ms.unwrap_or(0) as i64);
                let left = end.duration_since(now).as_secs().max(0);
                ("TimedWait", "pending", Some(left))
            }
            None => ("TimedWait", "waiting", None),
        },
    };
    TaskReport {
        position,
        type_,
        state,
        approval_request: task.approval_request_name.clone().filter(|_| type_ == "Approval"),
        seconds_left,
    }
}

/// Milliseconds of a Go duration such as `1m0s` or `30s` (what the run's strategy snapshot holds).
fn duration_ms(text: &str) -> Option<u64> {
    let d: kube::core::Duration = text.parse().ok()?;
    u64::try_from(std::time::Duration::from(d).as_millis()).ok()
}

/// Builds the report of a run.
pub fn report(
    kind: &'static str,
    name: &str,
    namespace: Option<&str>,
    spec: &UpdateRunSpec,
    status: &UpdateRunStatus,
    now: Timestamp,
) -> RunReport {
    let (phase, message) = phase(spec, status);
    let snapshot = status.staged_update_strategy_snapshot.clone().unwrap_or_default();
    let mut summary = Summary::default();
    let mut stages = Vec::new();
    let all = status
        .stages_status
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| (Some(i), s))
        .chain(status.deletion_stage_status.iter().map(|s| (None, s)));
    for (index, stage) in all {
        let clusters: Vec<ClusterReport> = stage.clusters.iter().map(cluster_report).collect();
        for c in &clusters {
            match c.state {
                ClusterState::Waiting => summary.waiting += 1,
                ClusterState::Updating => summary.updating += 1,
                ClusterState::Succeeded => summary.succeeded += 1,
                ClusterState::Failed => summary.failed += 1,
                ClusterState::Skipped => summary.skipped += 1,
            }
        }
        let config = index.and_then(|i| snapshot.stages.get(i));
        let mut tasks = Vec::new();
        for t in stage.before_stage_task_status.iter().flatten() {
            tasks.push(task_report("before", t, None, now));
        }
        for (j, t) in stage.after_stage_task_status.iter().flatten().enumerate() {
            let wait = config
                .and_then(|c| c.after_stage_tasks.as_ref())
                .and_then(|tasks| tasks.get(j))
                .and_then(|t| t.wait_time.as_deref())
                .and_then(duration_ms);
            tasks.push(task_report("after", t, wait, now));
        }
        stages.push(StageReport {
            name: stage.stage_name.clone(),
            state: stage_state(stage),
            clusters,
            unlisted_clusters: stage
                .cluster_summary
                .as_ref()
                .map(|s| s.total - i32::try_from(stage.clusters.len()).unwrap_or(i32::MAX)),
            tasks,
        });
    }
    RunReport {
        kind,
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        placement: spec.placement_name.clone(),
        strategy: spec.staged_rollout_strategy_name.clone(),
        state: format!("{:?}", spec.state),
        resource_snapshot_index: status
            .resource_snapshot_index_used
            .clone()
            .or_else(|| spec.resource_snapshot_index.clone()),
        changes: Vec::new(),
        phase,
        message,
        stages,
        summary,
    }
}
