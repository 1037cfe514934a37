//! Run control (SD-31, SD-32): `state: Abort`, `retryFailedClusters`, `skipClusters` and
//! `skipStages`. Pure rules over the status; `decide` calls them in order.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::outcome::{Outcome, name_list, outcome};
use crate::api::placement::{UpdateRunState, UpdateRunStatus};
use crate::conditions::{Status, find, is_false_for, is_true_for, remove, set};
use crate::controllers::update_run::reasons::{msg, run, stage, types};

use super::model::RunView;

/// Whether the run has ended (`Succeeded` True or False).
pub fn has_ended(status: &UpdateRunStatus, generation: i64) -> bool {
    is_true_for(&status.conditions, types::SUCCEEDED, generation)
        || is_false_for(&status.conditions, types::SUCCEEDED, generation)
}

/// Whether the run asks to be aborted and has not ended yet (a run whose initialization failed
/// has ended too).
pub fn wants_abort(run_view: &RunView, status: &UpdateRunStatus, generation: i64) -> bool {
    let init_failed = find(&status.conditions, types::INITIALIZED)
        .is_some_and(|c| c.status == "False" && c.reason == run::INITIALIZE_FAILED);
    run_view.spec.state == UpdateRunState::Abort && !has_ended(status, generation) && !init_failed
}

/// SD-32: ends the run for good. Nothing is rolled back or waited for; the stage being worked on
/// says it was aborted.
pub fn abort_run(status: &mut UpdateRunStatus, generation: i64, now: Timestamp) {
    for stage_status in status
        .stages_status
        .iter_mut()
        .flatten()
        .chain(status.deletion_stage_status.iter_mut())
    {
        let working = find(&stage_status.conditions, types::PROGRESSING).is_some()
            && find(&stage_status.conditions, types::SUCCEEDED).is_none();
        if working {
            set(
                &mut stage_status.conditions,
                types::PROGRESSING,
                Status::False,
                stage::ABORTED,
                msg::STAGE_ABORTED_BY_REQUEST,
                generation,
                now,
            );
        }
    }
    super::marks::run_ended_false(
        status,
        run::ABORTED,
        msg::RUN_ABORTED_BY_REQUEST,
        msg::RUN_ABORTED_BY_REQUEST,
        generation,
        now,
    );
}

/// The retry the spec asks for and the status has not acted on yet.
pub fn pending_retry(run_view: &RunView, status: &UpdateRunStatus) -> Option<i32> {
    let asked = run_view.spec.retry_failed_clusters?;
    (asked > status.observed_retry_failed_clusters.unwrap_or(0)).then_some(asked)
}

/// Whether the run failed in a way a retry can resume: a stage failed (not an abort, not a
/// failed initialization).
pub fn can_retry(status: &UpdateRunStatus, generation: i64) -> bool {
    let failed_run = find(&status.conditions, types::SUCCEEDED)
        .is_some_and(|c| c.status == "False" && c.reason == run::FAILED)
        && is_false_for(&status.conditions, types::SUCCEEDED, generation);
    failed_run && failed_stage(status, generation).is_some()
}

fn failed_stage(status: &UpdateRunStatus, generation: i64) -> Option<usize> {
    status
        .stages_status
        .iter()
        .flatten()
        .position(|s| is_false_for(&s.conditions, types::SUCCEEDED, generation))
}

/// SD-31: reopens the stage that failed and clears its failed clusters, so that the next step
/// starts them again with the same snapshot; the run is no longer failed. Clusters that
/// succeeded, and failures tolerated in earlier stages, are left as they are. Returns the
/// clusters to retry.
pub fn reset_for_retry(status: &mut UpdateRunStatus, asked: i32, generation: i64, now: Timestamp) -> Vec<String> {
    status.observed_retry_failed_clusters = Some(asked);
    let Some(index) = failed_stage(status, generation) else {
        return Vec::new();
    };
    let mut retried = Vec::new();
    if let Some(stage_status) = status.stages_status.as_mut().and_then(|s| s.get_mut(index)) {
        remove(&mut stage_status.conditions, types::SUCCEEDED);
        remove(&mut stage_status.conditions, types::PROGRESSING);
        stage_status.end_time = None;
        for c in stage_status.clusters.iter_mut() {
            if outcome(c, generation) == Outcome::Failed {
                remove(&mut c.conditions, types::SUCCEEDED);
                super::marks::cluster_retry_pending(c, generation, now);
                retried.push(c.cluster_name.clone());
            }
        }
    }
    remove(&mut status.conditions, types::SUCCEEDED);
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::True,
        run::STARTED,
        msg::RUN_PROGRESSING,
        generation,
        now,
    );
    retried
}

/// The skip lists as sets.
#[derive(Debug, Default, Clone)]
pub struct Skips {
    /// `spec.skipClusters`.
    pub clusters: BTreeSet<String>,
    /// `spec.skipStages`.
    pub stages: BTreeSet<String>,
}

/// SD-32: the skip lists, once every name in them is a cluster or stage of the run. A list that
/// names something else is rejected as a whole (`ControlAccepted=False`, naming what to fix) and
/// nothing of it is applied, so a typo never skips the wrong thing. Writes `ControlAccepted` only
/// on runs that use a control field.
pub fn accepted_skips(run_view: &RunView, status: &mut UpdateRunStatus, generation: i64, now: Timestamp) -> Skips {
    let spec = &run_view.spec;
    let uses_control =
        spec.skip_clusters.is_some() || spec.skip_stages.is_some() || spec.retry_failed_clusters.is_some();
    if !uses_control {
        return Skips::default();
    }
    let stages = status.stages_status.as_deref().unwrap_or_default();
    let known_stage = |name: &str| stages.iter().any(|s| s.stage_name == name);
    let known_cluster = |name: &str| stages.iter().any(|s| s.clusters.iter().any(|c| c.cluster_name == name));
    let unknown_stages: Vec<String> = spec
        .skip_stages
        .iter()
        .flatten()
        .filter(|s| !known_stage(s))
        .cloned()
        .collect();
    let unknown_clusters: Vec<String> = spec
        .skip_clusters
        .iter()
        .flatten()
        .filter(|c| !known_cluster(c))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    if !unknown_clusters.is_empty() {
        problems.push(format!(
            "spec.skipClusters names clusters that are not in this run's stages: {}",
            name_list(&unknown_clusters)
        ));
    }
    if !unknown_stages.is_empty() {
        problems.push(format!(
            "spec.skipStages names stages this run does not have: {}",
            name_list(&unknown_stages)
        ));
    }
    if !problems.is_empty() {
        set(
            &mut status.conditions,
            types::CONTROL_ACCEPTED,
            Status::False,
            run::CONTROL_REJECTED,
            format!(
                "{}; no skip is applied until the lists name only this run's clusters and stages",
                problems.join("; ")
            ),
            generation,
            now,
        );
        return Skips::default();
    }
    set(
        &mut status.conditions,
        types::CONTROL_ACCEPTED,
        Status::True,
        run::CONTROL_ACCEPTED,
        msg::CONTROL_ACCEPTED,
        generation,
        now,
    );
    Skips {
        clusters: spec.skip_clusters.iter().flatten().cloned().collect(),
        stages: spec.skip_stages.iter().flatten().cloned().collect(),
    }
}
