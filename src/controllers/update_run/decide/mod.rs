//! The pure state machine of a staged update run: `decide(observed) -> Decision`.
//!
//! No I/O and no clock: `observe` passes the time in. The phase is re-derived from the status
//! conditions on every pass (status is the memory), so a restarted or newly elected controller
//! continues correctly.
//!
//! | phase (conditions)                          | pass does                                      |
//! |---------------------------------------------|------------------------------------------------|
//! | being deleted                               | delete approvals, remove finalizer             |
//! | `Initialized` absent or pending (SD-12)     | initialize; pending → retry; abort → failed    |
//! | `Initialized=False` (failed)                | nothing (terminal)                             |
//! | `Succeeded` True or False                   | nothing (terminal)                             |
//! | initialized, state `Initialize`             | re-validate only                               |
//! | initialized, state `Run`                    | re-validate, then one execution step           |
//! | initialized, state `Stop`                   | re-validate, then one stop step (SD-15)        |

mod approval;
pub mod arith;
pub mod compact;
mod control;
mod execute;
pub mod failure;
mod init;
mod judge;
mod marks;
pub mod model;
pub mod outcome;
mod restore;
mod stages;
mod stop;
mod validate;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use approval::{is_accepted, is_approved};
use execute::{Step, StepEnd, run_deletion_stage, run_stage};
use failure::Failure;
pub use judge::{Verdict, judge};
use model::{Action, Decision, Next, Observed};
use validate::{Position, revalidate};

use crate::api::labels::resource_snapshot_name;
use crate::api::placement::{UpdateRunState, UpdateRunStatus};
use crate::conditions::{Status, find, is_false_for, is_true_for, set, stamp_generation};
use crate::controllers::update_run::reasons::{run, stage, types};

/// Retry delay while initialization is pending (SD-12); watches usually wake the run sooner.
pub const PENDING_RETRY: Duration = Duration::from_secs(5);

/// Decides one pass.
pub fn decide(obs: &Observed) -> Decision {
    let generation = obs.run.generation;
    let now = obs.now;
    let mut status = normalized(&obs.run.status, generation);
    if obs.run.deleting {
        return Decision {
            status: obs.run.status.clone(),
            actions: vec![Action::DeleteApprovals, Action::RemoveFinalizer],
            next: Next::AwaitChange,
        };
    }
    let mut actions = Vec::new();
    if !obs.run.has_finalizer {
        actions.push(Action::AddFinalizer);
    }
    actions.extend(approval::keep_accepted(obs, &status));
    let finish = |status, mut more: Vec<Action>, next| {
        let mut all = actions.clone();
        all.append(&mut more);
        Decision {
            status,
            actions: all,
            next,
        }
    };

    // SD-32: an aborted run ends at once, wherever it was.
    if control::wants_abort(&obs.run, &status, generation) {
        control::abort_run(&mut status, generation, now);
        return finish(status, vec![], Next::AwaitChange);
    }

    if control::has_ended(&status, generation) {
        // SD-31: a failed run resumes from its failed stage when a retry is asked for.
        match control::pending_retry(&obs.run, &status) {
            Some(asked) if control::can_retry(&status, generation) => {
                control::reset_for_retry(&mut status, asked, generation, now);
            }
            Some(asked) => {
                status.observed_retry_failed_clusters = Some(asked);
                set(
                    &mut status.conditions,
                    types::CONTROL_ACCEPTED,
                    Status::False,
                    run::CONTROL_REJECTED,
                    "spec.retryFailedClusters cannot be acted on: the run did not fail at a stage (it succeeded, was aborted, or failed a consistency check); create a new run",
                    generation,
                    now,
                );
                return finish(status, vec![], Next::AwaitChange);
            }
            None => return finish(status, vec![], Next::AwaitChange),
        }
    }

    if !is_true_for(&status.conditions, types::INITIALIZED, generation) {
        let pending =
            find(&status.conditions, types::INITIALIZED).is_some_and(|c| c.reason == run::INITIALIZATION_PENDING);
        if is_false_for(&status.conditions, types::INITIALIZED, generation) && !pending {
            return finish(status, vec![], Next::AwaitChange);
        }
        let mut fresh = UpdateRunStatus {
            conditions: status.conditions.clone(),
            ..Default::default()
        };
        match init::initialize(obs, &mut fresh) {
            Ok(()) => {
                let message = obs.profile.initialized_message(obs.run.scope.run_kind());
                set(
                    &mut fresh.conditions,
                    types::INITIALIZED,
                    Status::True,
                    run::INITIALIZED,
                    message,
                    generation,
                    now,
                );
                compact::begin(&mut fresh, obs.inline_limit);
                status = fresh;
            }
            Err(Failure::Abort(message)) => {
                set(
                    &mut fresh.conditions,
                    types::INITIALIZED,
                    Status::False,
                    run::INITIALIZE_FAILED,
                    message,
                    generation,
                    now,
                );
                return finish(fresh, vec![], Next::AwaitChange);
            }
            Err(Failure::Pending(message)) => {
                // Keep only the condition: partial results would be recomputed anyway.
                set(
                    &mut status.conditions,
                    types::INITIALIZED,
                    Status::False,
                    run::INITIALIZATION_PENDING,
                    message,
                    generation,
                    now,
                );
                let actions = if init::wants_snapshot(obs) {
                    vec![Action::RequestSnapshot]
                } else {
                    vec![]
                };
                return finish(status, actions, Next::After(PENDING_RETRY));
            }
            Err(Failure::Retry(message)) => return finish(status, vec![], Next::retry(message)),
        }
    }
    // A retry asked for before the run failed (at creation) is not kept for a later failure.
    if let Some(asked) = control::pending_retry(&obs.run, &status) {
        status.observed_retry_failed_clusters = Some(asked);
    }

    let plan = match revalidate(obs, &mut status) {
        Ok(plan) => plan,
        Err(Failure::Abort(message)) => {
            marks::run_failed(&mut status, &message, generation, now);
            return finish(status, vec![], Next::AwaitChange);
        }
        Err(Failure::Retry(message) | Failure::Pending(message)) => {
            return finish(status, vec![], Next::retry(message));
        }
    };
    // SD-22: `revalidate` expanded a compact status; it is compacted again before it is written.
    let compact_mode = compact::is_compact(&status);
    let unmatched_total = plan.unmatched_total;
    let finish = |mut status: UpdateRunStatus, more, next| {
        outcome::refresh_counts(&mut status, unmatched_total, generation);
        if compact_mode {
            compact::compact(&mut status, generation);
        }
        finish(status, more, next)
    };
    let skips = control::accepted_skips(&obs.run, &mut status, generation, now);
    if plan.position == Position::Done {
        marks::run_succeeded(&mut status, generation, now);
        return finish(status, vec![], Next::AwaitChange);
    }
    let mut step = Step {
        obs,
        plan: &plan,
        generation,
        now,
        snapshot_name: master_snapshot_name(obs, &status),
        applied: status.applied_strategy.clone().unwrap_or_default(),
        actions: Vec::new(),
        skips,
    };
    let end = match obs.run.spec.state {
        UpdateRunState::Initialize => return finish(status, vec![], Next::AwaitChange),
        UpdateRunState::Run => {
            let keep = find(&status.conditions, types::PROGRESSING)
                .is_some_and(|c| c.status == "False" && (c.reason == run::WAITING || c.reason == run::STUCK));
            if !keep {
                marks::run_progressing(&mut status, obs.profile, generation, now);
            }
            // SD-39: clusters the run already started get back a binding deleted by hand.
            let through = match plan.position {
                Position::Stage(i) => i,
                _ => usize::MAX,
            };
            restore::restore_recreated(&mut step, &status, through);
            match plan.position {
                Position::Stage(i) => run_stage(&mut step, &mut status, i),
                _ => run_deletion_stage(&mut step, &mut status),
            }
        }
        UpdateRunState::Stop => match plan.position {
            Position::Stage(i) => stop::stop_stage(&mut step, &mut status, i),
            _ => stop::stop_deletion(&mut step, &mut status),
        },
        // Handled before initialization; an aborted run has ended.
        UpdateRunState::Abort => return finish(status, vec![], Next::AwaitChange),
    };
    let step_actions = std::mem::take(&mut step.actions);
    match end {
        StepEnd::Continue(next) => finish(status, step_actions, next),
        StepEnd::Finished => {
            marks::run_succeeded(&mut status, generation, now);
            finish(status, step_actions, Next::AwaitChange)
        }
        StepEnd::BudgetExceeded(index, message) => {
            if let Some(stage_status) = status.stages_status.as_mut().and_then(|s| s.get_mut(index)) {
                marks::stage_failed_for(stage_status, stage::FAILURE_BUDGET_EXCEEDED, &message, generation, now);
            }
            marks::run_failed(&mut status, &message, generation, now);
            finish(status, vec![], Next::AwaitChange)
        }
        StepEnd::Aborted(stage_index, message) => {
            let stage_status = match stage_index {
                Some(i) => status.stages_status.as_mut().and_then(|s| s.get_mut(i)),
                None => status.deletion_stage_status.as_mut(),
            };
            if let Some(stage_status) = stage_status {
                marks::stage_failed(stage_status, &message, generation, now);
            }
            marks::run_failed(&mut status, &message, generation, now);
            // Writes decided before the abort (for example the failed cluster's preemption)
            // are dropped: nothing already rolled out is changed.
            finish(status, vec![], Next::AwaitChange)
        }
    }
}

/// The master resource snapshot the run rolls out (the index it recorded at initialization).
fn master_snapshot_name(obs: &Observed, status: &UpdateRunStatus) -> String {
    let index_used = status
        .resource_snapshot_index_used
        .as_deref()
        .and_then(|i| i.parse::<u64>().ok())
        .unwrap_or_default();
    resource_snapshot_name(&obs.run.spec.placement_name, index_used)
}

/// §3.2 steps 2–3: every condition carries the current generation (so a `state` change keeps
/// progress), and approval tasks carry no `waitTime`.
fn normalized(status: &UpdateRunStatus, generation: i64) -> UpdateRunStatus {
    let mut status = status.clone();
    stamp_generation(&mut status.conditions, generation);
    for stage in status
        .stages_status
        .iter_mut()
        .flatten()
        .chain(status.deletion_stage_status.iter_mut())
    {
        stamp_generation(&mut stage.conditions, generation);
        for c in stage.clusters.iter_mut() {
            stamp_generation(&mut c.conditions, generation);
        }
        for t in stage
            .before_stage_task_status
            .iter_mut()
            .flatten()
            .chain(stage.after_stage_task_status.iter_mut().flatten())
        {
            stamp_generation(&mut t.conditions, generation);
        }
    }
    if let Some(snapshot) = status.staged_update_strategy_snapshot.as_mut() {
        for stage in &mut snapshot.stages {
            for t in stage
                .before_stage_tasks
                .iter_mut()
                .flatten()
                .chain(stage.after_stage_tasks.iter_mut().flatten())
            {
                if t.type_ == crate::api::placement::StageTaskType::Approval {
                    t.wait_time = None;
                }
            }
        }
    }
    status
}
