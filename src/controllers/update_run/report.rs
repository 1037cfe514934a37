//! What a pass reports besides its status: Kubernetes Events for transitions and metric samples
//! (§6). Pure: both are computed from the status before and after the pass.

use jiff::Timestamp;

use super::decide::failure::CLIENT_ERROR;
use super::decide::model::Scope;
use super::decide::outcome::name_list;
use super::reasons::{cluster, msg, run, stage, types};
use crate::api::condition::Condition;
use crate::api::placement::{StageTaskType, StageUpdatingStatus, UpdateRunStatus};
use crate::conditions::find;

/// One event to publish on the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Short CamelCase reason.
    pub reason: &'static str,
    /// What happened, with names.
    pub message: String,
    /// Warning rather than Normal.
    pub warning: bool,
    /// The member cluster the event is about, if one (the Event's `related` object, which also
    /// keeps the events of two clusters from being merged into one series).
    pub cluster: Option<String>,
}

fn became(
    old: &Option<Vec<Condition>>,
    new: &Option<Vec<Condition>>,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> Option<Condition> {
    let matches = |c: &Condition| c.status == status && reason.is_none_or(|r| c.reason == r);
    let now = find(new, type_).filter(|c| matches(c))?;
    match find(old, type_) {
        Some(before) if matches(before) => None,
        _ => Some(now.clone()),
    }
}

fn note(reason: &'static str, message: String, warning: bool) -> Note {
    Note {
        reason,
        message,
        warning,
        cluster: None,
    }
}

fn cluster_note(reason: &'static str, message: String, warning: bool, cluster: &str) -> Note {
    Note {
        cluster: Some(cluster.to_string()),
        ..note(reason, message, warning)
    }
}

/// Events for every transition between `old` and `new`.
pub fn transitions(scope: Scope, old: &UpdateRunStatus, new: &UpdateRunStatus) -> Vec<Note> {
    let mut notes = Vec::new();
    let (o, n) = (&old.conditions, &new.conditions);
    if became(o, n, types::INITIALIZED, "True", None).is_some() {
        notes.push(note(
            "Initialized",
            format!(
                "Initialized: {} stages, resource snapshot index {}, policy snapshot index {}",
                new.stages_status.as_ref().map_or(0, |s| s.len()),
                new.resource_snapshot_index_used.as_deref().unwrap_or("?"),
                new.policy_snapshot_index_used.as_deref().unwrap_or("?"),
            ),
            false,
        ));
    }
    if let Some(c) = became(o, n, types::INITIALIZED, "False", Some(run::INITIALIZE_FAILED)) {
        notes.push(note("InitializationFailed", c.message, true));
    }
    if let Some(c) = became(o, n, types::INITIALIZED, "False", Some(run::INITIALIZATION_PENDING)) {
        notes.push(note("InitializationPending", c.message, false));
    }
    if became(o, n, types::SUCCEEDED, "True", None).is_some() {
        notes.push(note("Succeeded", "All stages are completed successfully".into(), false));
    }
    if let Some(c) = became(o, n, types::SUCCEEDED, "False", None) {
        if c.reason == run::ABORTED {
            notes.push(note("Aborted", c.message, false));
        } else {
            notes.push(note("Failed", c.message, true));
        }
    }
    if let Some(c) = became(o, n, types::CONTROL_ACCEPTED, "False", None) {
        notes.push(note("ControlRejected", c.message, true));
    }
    let retried = old.observed_retry_failed_clusters != new.observed_retry_failed_clusters
        && find(o, types::SUCCEEDED).is_some_and(|c| c.status == "False")
        && find(n, types::SUCCEEDED).is_none();
    if retried {
        let names: Vec<String> = new
            .stages_status
            .iter()
            .flatten()
            .flat_map(|s| s.clusters.iter())
            .filter(|c| {
                find(&c.conditions, types::STARTED)
                    .is_some_and(|s| s.reason == cluster::RETRYING || s.message == msg::CLUSTER_RETRIED)
            })
            .map(|c| c.cluster_name.clone())
            .collect();
        notes.push(note(
            "RetryStarted",
            format!(
                "Retrying {} failed cluster(s) with the same resource snapshot (spec.retryFailedClusters {}): {}",
                names.len(),
                new.observed_retry_failed_clusters.unwrap_or_default(),
                name_list(&names)
            ),
            false,
        ));
    }
    if became(o, n, types::PROGRESSING, "False", Some(run::STOPPED)).is_some() {
        notes.push(note(
            "Stopped",
            "The run is stopped; set spec.state to Run to resume".into(),
            false,
        ));
    }
    if let Some(c) = became(o, n, types::PROGRESSING, "False", Some(run::STUCK)) {
        notes.push(note("Stuck", c.message, true));
    }
    let empty = StageUpdatingStatus::default();
    let new_stages = new
        .stages_status
        .iter()
        .flatten()
        .chain(new.deletion_stage_status.iter());
    let old_stages: Vec<&StageUpdatingStatus> = old
        .stages_status
        .iter()
        .flatten()
        .chain(old.deletion_stage_status.iter())
        .collect();
    for new_stage in new_stages {
        let old_stage = old_stages
            .iter()
            .find(|s| s.stage_name == new_stage.stage_name)
            .copied()
            .unwrap_or(&empty);
        stage_notes(scope, old_stage, new_stage, &mut notes);
    }
    notes
}

fn stage_notes(scope: Scope, old: &StageUpdatingStatus, new: &StageUpdatingStatus, notes: &mut Vec<Note>) {
    let name = &new.stage_name;
    let (o, n) = (&old.conditions, &new.conditions);
    if became(o, n, types::PROGRESSING, "True", Some(stage::STARTED)).is_some() {
        notes.push(note(
            "StageStarted",
            format!("Stage {name} started updating clusters"),
            false,
        ));
    }
    if let Some(c) = became(o, n, types::PROGRESSING, "False", Some(stage::WAITING)) {
        notes.push(note("StageWaiting", format!("Stage {name}: {}", c.message), false));
    }
    if let Some(c) = became(o, n, types::SUCCEEDED, "True", None) {
        notes.push(note("StageSucceeded", format!("Stage {name}: {}", c.message), false));
    }
    for c in &new.clusters {
        let before = old
            .clusters
            .iter()
            .find(|b| b.cluster_name == c.cluster_name)
            .and_then(|b| b.conditions.clone());
        if let Some(failed) = became(&before, &c.conditions, types::SUCCEEDED, "False", None) {
            notes.push(cluster_note(
                "ClusterFailed",
                format!("Stage {name}: {}", failed.message),
                true,
                &c.cluster_name,
            ));
        }
        if let Some(skipped) = became(&before, &c.conditions, types::SKIPPED, "True", None) {
            notes.push(cluster_note(
                "ClusterSkipped",
                format!("Stage {name}: cluster {}: {}", c.cluster_name, skipped.message),
                false,
                &c.cluster_name,
            ));
        }
    }
    let excluded = |s: &StageUpdatingStatus| s.cluster_counts.as_ref().map_or(0, |c| c.excluded);
    if excluded(new) > excluded(old) {
        notes.push(note(
            "ClustersExcluded",
            format!(
                "Stage {name}: {} cluster(s) joined during the run and are left for the next run: {}",
                excluded(new),
                name_list(new.excluded_clusters.as_deref().unwrap_or_default())
            ),
            false,
        ));
    }
    let tasks = |s: &StageUpdatingStatus| {
        s.before_stage_task_status
            .iter()
            .flatten()
            .chain(s.after_stage_task_status.iter().flatten())
            .cloned()
            .collect::<Vec<_>>()
    };
    let old_tasks = tasks(old);
    for (i, task) in tasks(new).iter().enumerate() {
        if task.type_ != StageTaskType::Approval {
            continue;
        }
        let before = old_tasks.get(i).and_then(|t| t.conditions.clone());
        let approval = task.approval_request_name.as_deref().unwrap_or("");
        if became(&before, &task.conditions, types::APPROVAL_REQUEST_CREATED, "True", None).is_some() {
            notes.push(note(
                "ApprovalRequested",
                format!(
                    "Stage {name} waits for approval: set condition Approved=True on {} {approval}",
                    scope.approval_kind()
                ),
                false,
            ));
        }
        if became(
            &before,
            &task.conditions,
            types::APPROVAL_REQUEST_APPROVED,
            "True",
            None,
        )
        .is_some()
        {
            notes.push(note(
                "ApprovalAccepted",
                format!("{} {approval} for stage {name} was approved", scope.approval_kind()),
                false,
            ));
        }
    }
}

/// The condition the status metric reports: `Succeeded`, else `Progressing`, else `Initialized`.
pub fn status_metric_condition(status: &UpdateRunStatus, generation: i64) -> Option<&Condition> {
    let current = |t| find(&status.conditions, t).filter(|c| c.observed_generation == Some(generation));
    current(types::SUCCEEDED)
        .or_else(|| current(types::PROGRESSING))
        .or_else(|| find(&status.conditions, types::INITIALIZED))
}

/// `failureType` of the status metric (§6.2).
pub fn failure_type(condition: Option<&Condition>) -> &'static str {
    let Some(c) = condition else { return "none" };
    if c.status != "False" {
        return "none";
    }
    match c.reason.as_str() {
        r if r == run::STUCK => "internal_error",
        r if r == run::FAILED || r == run::INITIALIZE_FAILED => {
            if c.message.contains(CLIENT_ERROR.trim_end_matches(": ")) {
                "user_error"
            } else {
                "internal_error"
            }
        }
        _ => "none",
    }
}

/// Approval latencies (seconds) of tasks approved in this pass, by task type label.
pub fn approval_latencies(old: &UpdateRunStatus, new: &UpdateRunStatus) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    let old_stages: Vec<&StageUpdatingStatus> = old.stages_status.iter().flatten().collect();
    for (si, stage) in new.stages_status.iter().flatten().enumerate() {
        for (label, tasks, old_tasks) in [
            (
                "beforeStage",
                &stage.before_stage_task_status,
                old_stages.get(si).and_then(|s| s.before_stage_task_status.as_ref()),
            ),
            (
                "afterStage",
                &stage.after_stage_task_status,
                old_stages.get(si).and_then(|s| s.after_stage_task_status.as_ref()),
            ),
        ] {
            for (ti, task) in tasks.iter().flatten().enumerate() {
                let before = old_tasks.and_then(|t| t.get(ti)).and_then(|t| t.conditions.clone());
                let Some(approved) = became(
                    &before,
                    &task.conditions,
                    types::APPROVAL_REQUEST_APPROVED,
                    "True",
                    None,
                ) else {
                    continue;
                };
                let created = find(&task.conditions, types::APPROVAL_REQUEST_CREATED).filter(|c| c.status == "True");
                if let (Some(c), Some(a)) = (
                    created.and_then(|c| c.last_transition_time.clone()),
                    approved.last_transition_time,
                ) {
                    out.push((label, seconds_between(c.0, a.0)));
                }
            }
        }
    }
    out
}

/// Durations (seconds) of stages whose clusters all finished in this pass.
pub fn finished_stage_durations(old: &UpdateRunStatus, new: &UpdateRunStatus, now: Timestamp) -> Vec<f64> {
    let old_stages: Vec<&StageUpdatingStatus> = old.stages_status.iter().flatten().collect();
    new.stages_status
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, stage_status)| {
            let was_started = old_stages
                .get(i)
                .and_then(|s| find(&s.conditions, types::PROGRESSING))
                .is_some_and(|c| c.reason == stage::STARTED);
            let now_done = find(&stage_status.conditions, types::PROGRESSING)
                .is_some_and(|c| c.reason == stage::WAITING || c.reason == stage::SUCCEEDED);
            if was_started && now_done {
                stage_status.start_time.as_ref().map(|t| seconds_between(t.0, now))
            } else {
                None
            }
        })
        .collect()
}

fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64().max(0.0)
}
