//! Status marks shared by the phases: run succeeded or failed, stage failed, stage times.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::condition::Condition;
use crate::api::placement::{ClusterUpdatingStatus, StageUpdatingStatus, UpdateRunStatus};
use crate::conditions::{Status, set};
use crate::controllers::compat::Profile;
use crate::controllers::update_run::reasons::{cluster, msg, run, stage, types};

/// §3.14: the run is done.
pub fn run_succeeded(status: &mut UpdateRunStatus, generation: i64, now: Timestamp) {
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::False,
        run::SUCCEEDED,
        msg::RUN_COMPLETED,
        generation,
        now,
    );
    set(
        &mut status.conditions,
        types::SUCCEEDED,
        Status::True,
        run::SUCCEEDED,
        msg::RUN_SUCCEEDED,
        generation,
        now,
    );
}

/// §3.15: the run failed for good.
pub fn run_failed(status: &mut UpdateRunStatus, message: &str, generation: i64, now: Timestamp) {
    run_ended_false(status, run::FAILED, msg::RUN_ABORTED, message, generation, now);
}

/// The run ended without success, for `reason` (a failure, or `UpdateRunAborted`, SD-32):
/// `Progressing=False` with `progressing_message`, `Succeeded=False` with `message`.
pub fn run_ended_false(
    status: &mut UpdateRunStatus,
    reason: &str,
    progressing_message: &str,
    message: &str,
    generation: i64,
    now: Timestamp,
) {
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::False,
        reason,
        progressing_message,
        generation,
        now,
    );
    set(
        &mut status.conditions,
        types::SUCCEEDED,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
}

/// §3.15: the stage being worked on failed.
pub fn stage_failed(stage_status: &mut StageUpdatingStatus, message: &str, generation: i64, now: Timestamp) {
    stage_failed_for(stage_status, stage::FAILED, message, generation, now);
}

/// The stage failed for the given reason (SD-29: its failure budget was exceeded).
pub fn stage_failed_for(
    stage_status: &mut StageUpdatingStatus,
    reason: &str,
    message: &str,
    generation: i64,
    now: Timestamp,
) {
    mark_end(stage_status, now);
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::False,
        stage::FAILED,
        msg::STAGE_ABORTED,
        generation,
        now,
    );
    set(
        &mut stage_status.conditions,
        types::SUCCEEDED,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
}

/// The stage is done (§3.11 step 4, §3.13 step 4).
pub fn stage_succeeded(stage_status: &mut StageUpdatingStatus, generation: i64, now: Timestamp) {
    mark_end(stage_status, now);
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::False,
        stage::SUCCEEDED,
        msg::STAGE_DONE,
        generation,
        now,
    );
    set(
        &mut stage_status.conditions,
        types::SUCCEEDED,
        Status::True,
        stage::SUCCEEDED,
        msg::STAGE_SUCCEEDED,
        generation,
        now,
    );
}

/// A stage started (a cluster was started, or the deletion stage runs).
pub fn stage_started(stage_status: &mut StageUpdatingStatus, generation: i64, now: Timestamp) {
    mark_start(stage_status, now);
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::True,
        stage::STARTED,
        msg::STAGE_STARTED,
        generation,
        now,
    );
}

/// Sets `startTime` once.
pub fn mark_start(stage_status: &mut StageUpdatingStatus, now: Timestamp) {
    stage_status.start_time.get_or_insert(Time(now));
}

/// Sets `endTime` once.
pub fn mark_end(stage_status: &mut StageUpdatingStatus, now: Timestamp) {
    stage_status.end_time.get_or_insert(Time(now));
}

/// Run `Progressing=True` while executing (SD-6 reason `UpdateRunStarted`, or upstream's with the
/// SD-25 `upstream` profile).
pub fn run_progressing(status: &mut UpdateRunStatus, profile: Profile, generation: i64, now: Timestamp) {
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::True,
        profile.run_progressing_reason(),
        msg::RUN_PROGRESSING,
        generation,
        now,
    );
}

/// Run `Progressing=False`, waiting for a stage's tasks.
pub fn run_waiting(status: &mut UpdateRunStatus, stage_name: &str, before: bool, generation: i64, now: Timestamp) {
    let which = if before { "before-stage" } else { "after-stage" };
    let message = format!("The updateRun is waiting for {which} tasks in stage {stage_name} to complete");
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::False,
        run::WAITING,
        message,
        generation,
        now,
    );
}

/// A cluster's update was started (or, in the deletion stage, its binding delete issued).
pub fn cluster_started(c: &mut ClusterUpdatingStatus, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::STARTED,
        Status::True,
        cluster::STARTED,
        msg::CLUSTER_STARTED,
        generation,
        now,
    );
}

/// A cluster's update finished.
pub fn cluster_succeeded(c: &mut ClusterUpdatingStatus, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::SUCCEEDED,
        Status::True,
        cluster::SUCCEEDED,
        msg::CLUSTER_SUCCEEDED,
        generation,
        now,
    );
}

/// A retried cluster was started again (SD-31).
pub fn cluster_restarted(c: &mut ClusterUpdatingStatus, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::STARTED,
        Status::True,
        cluster::STARTED,
        msg::CLUSTER_RETRIED,
        generation,
        now,
    );
}

/// A failed cluster waits to be started again (SD-31).
pub fn cluster_retry_pending(c: &mut ClusterUpdatingStatus, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::STARTED,
        Status::False,
        cluster::RETRYING,
        msg::CLUSTER_RETRY_PENDING,
        generation,
        now,
    );
}

/// SD-32: a stage named in `spec.skipStages`: its clusters not finished are skipped, its tasks
/// are not waited for.
pub fn stage_skipped_by_request(stage_status: &mut StageUpdatingStatus, generation: i64, now: Timestamp) {
    for c in stage_status.clusters.iter_mut() {
        if !super::outcome::outcome(c, generation).is_final() {
            cluster_skipped(
                c,
                cluster::SKIPPED_BY_REQUEST,
                msg::CLUSTER_SKIPPED_BY_STAGE,
                generation,
                now,
            );
        }
    }
    stage_skipped(
        stage_status,
        stage::SKIPPED_BY_REQUEST,
        msg::STAGE_SKIPPED_BY_REQUEST,
        generation,
        now,
    );
}

/// A stage that is passed over (no clusters, or `skipStages`): started and ended now,
/// `Progressing=False` and `Succeeded=True` for `reason`.
pub fn stage_skipped(
    stage_status: &mut StageUpdatingStatus,
    reason: &str,
    message: &str,
    generation: i64,
    now: Timestamp,
) {
    mark_start(stage_status, now);
    mark_end(stage_status, now);
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
    set(
        &mut stage_status.conditions,
        types::SUCCEEDED,
        Status::True,
        reason,
        message,
        generation,
        now,
    );
}

/// A cluster's update failed, for `reason` (SD-29, SD-30, or upstream's preemption).
pub fn cluster_failed(c: &mut ClusterUpdatingStatus, reason: &str, message: String, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::SUCCEEDED,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
}

/// The run left a cluster out (SD-28, SD-32).
pub fn cluster_skipped(c: &mut ClusterUpdatingStatus, reason: &str, message: &str, generation: i64, now: Timestamp) {
    set(
        &mut c.conditions,
        types::SKIPPED,
        Status::True,
        reason,
        message,
        generation,
        now,
    );
}

/// The stage (regular or deletion) and the run are stopped (SD-15).
pub fn stopped(
    stage_conditions: &mut Option<Vec<Condition>>,
    run_conditions: &mut Option<Vec<Condition>>,
    generation: i64,
    now: Timestamp,
) {
    set(
        stage_conditions,
        types::PROGRESSING,
        Status::False,
        stage::STOPPED,
        msg::STAGE_STOPPED,
        generation,
        now,
    );
    set(
        run_conditions,
        types::PROGRESSING,
        Status::False,
        run::STOPPED,
        msg::RUN_STOPPED,
        generation,
        now,
    );
}
