//! Approval tasks (§3.12, SD-2, SD-8): create the request lazily, adopt one that exists, accept an
//! approval once and never revoke it.

use jiff::Timestamp;

use super::failure::{Category, Failure, abort};
use super::model::{Action, ApprovalView, Observed, TaskPosition};
use crate::api::placement::{StageTaskStatus, UpdateRunStatus};
use crate::conditions::{Status, find, is_true_for, set};
use crate::controllers::update_run::reasons::{msg, types};

/// SD-8: `Approved=True` counts when it was set for the request's generation, or carries no
/// generation at all (doc A's short patch).
pub fn is_approved(approval: &ApprovalView) -> bool {
    find(&approval.conditions, types::APPROVED).is_some_and(|c| {
        c.status == "True"
            && match c.observed_generation {
                None | Some(0) => true,
                Some(g) => g == approval.generation,
            }
    })
}

/// Whether the controller already accepted this approval.
pub fn is_accepted(approval: &ApprovalView) -> bool {
    is_true_for(&approval.conditions, types::APPROVAL_ACCEPTED, approval.generation)
}

/// SD-8, "an approval, once accepted, cannot be revoked": a request whose task the run already
/// counts as approved gets its `ApprovalAccepted` back when someone's status patch replaced the
/// condition list (doc A approves the after-stage request twice, the second time from a file).
/// Finished runs do this too.
pub fn keep_accepted(obs: &Observed, status: &UpdateRunStatus) -> Vec<Action> {
    let generation = obs.run.generation;
    let stages = status.stages_status.iter().flatten();
    let tasks = stages.flat_map(|s| {
        let before = s.before_stage_task_status.iter().flatten();
        before.chain(s.after_stage_task_status.iter().flatten())
    });
    tasks
        .filter(|t| is_true_for(&t.conditions, types::APPROVAL_REQUEST_APPROVED, generation))
        .filter_map(|t| t.approval_request_name.as_ref())
        .filter(|name| obs.approvals.get(*name).is_some_and(|a| !is_accepted(a)))
        .map(|name| Action::AcceptApproval { name: name.clone() })
        .collect()
}

/// Processes one approval task; returns whether it is approved. Records actions to create or
/// accept the request.
pub fn process_approval(
    obs: &Observed,
    stage: &str,
    position: TaskPosition,
    task_status: &mut StageTaskStatus,
    now: Timestamp,
    actions: &mut Vec<Action>,
) -> Result<bool, Failure> {
    let generation = obs.run.generation;
    if is_true_for(&task_status.conditions, types::APPROVAL_REQUEST_APPROVED, generation) {
        return Ok(true);
    }
    let name = task_status.approval_request_name.clone().unwrap_or_default();
    let (created_reason, approved_reason) = obs.profile.approval_task_reasons(position);
    let created_message = obs.profile.approval_created_message(obs.run.scope.approval_kind());
    set(
        &mut task_status.conditions,
        types::APPROVAL_REQUEST_CREATED,
        Status::True,
        created_reason,
        created_message,
        generation,
        now,
    );
    let Some(approval) = obs.approvals.get(&name) else {
        actions.push(Action::CreateApproval {
            name,
            stage: stage.to_string(),
            position,
        });
        return Ok(false);
    };
    if approval.target_stage != stage || approval.parent_stage_rollout != obs.run.name {
        return Err(abort(
            Category::Internal,
            format!(
                "the approval request `{}` is targeting run `{}` stage `{}`, not run `{}` stage `{stage}`; delete it so that it can be recreated",
                obs.run.key_of(&name),
                approval.parent_stage_rollout,
                approval.target_stage,
                obs.run.name
            ),
        ));
    }
    let approved = is_approved(approval);
    let accepted = is_accepted(approval);
    if !approved && !accepted {
        return Ok(false);
    }
    if approved && !accepted {
        actions.push(Action::AcceptApproval { name });
    }
    set(
        &mut task_status.conditions,
        types::APPROVAL_REQUEST_APPROVED,
        Status::True,
        approved_reason,
        msg::APPROVAL_APPROVED,
        generation,
        now,
    );
    Ok(true)
}
