//! The stop step (§3.16 as changed by SD-15): start nothing new, let what was started settle,
//! then report `UpdateRunStopped`. Succeeded, failed and stuck clusters all count as settled.

use super::execute::{Step, StepEnd, check_deleting_cluster, settle_deleted_clusters};
use super::judge::{Verdict, judge};
use super::marks;
use super::model::Next;
use crate::api::placement::{ClusterUpdatingStatus, UpdateRunStatus};
use crate::conditions::{Status, set};
use crate::controllers::update_run::reasons::{msg, run, stage, types};

use super::execute::CLUSTER_POLL;
use super::failure::{Category, abort};

/// Stops at a regular stage.
pub fn stop_stage(step: &mut Step, status: &mut UpdateRunStatus, index: usize) -> StepEnd {
    let (generation, now) = (step.generation, step.now);
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::Unknown,
        run::STOPPING,
        msg::RUN_STOPPING,
        generation,
        now,
    );
    let Some(stage_status) = status.stages_status.as_mut().and_then(|s| s.get_mut(index)) else {
        return StepEnd::Aborted(Some(index), "stage status missing".into());
    };
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::Unknown,
        stage::STOPPING,
        msg::STAGE_STOPPING,
        generation,
        now,
    );
    let mut converging = 0usize;
    for c in stage_status.clusters.iter_mut().filter(|c| in_flight(c, generation)) {
        let Some(binding) = step.plan.selected.get(&c.cluster_name).copied() else {
            let detail = format!(
                "the binding for cluster `{}` in stage `{}` is not found in the toBeUpdatedBindings map",
                c.cluster_name, stage_status.stage_name
            );
            return StepEnd::Aborted(Some(index), abort_message(Category::Internal, detail));
        };
        match judge(binding) {
            Verdict::Succeeded => {
                marks::cluster_succeeded(c, generation, now);
            }
            // SD-15: a failing cluster has settled; the run reports it again on resume.
            Verdict::Failed(_) => {}
            Verdict::Updating if step.is_stuck(c) => {}
            Verdict::Updating => converging += 1,
        }
    }
    if converging > 0 {
        return StepEnd::Continue(Next::After(CLUSTER_POLL));
    }
    marks::stopped(&mut stage_status.conditions, &mut status.conditions, generation, now);
    StepEnd::Continue(Next::AwaitChange)
}

/// Stops at the deletion stage: no new deletions; bindings already being deleted finish.
pub fn stop_deletion(step: &mut Step, status: &mut UpdateRunStatus) -> StepEnd {
    let (generation, now) = (step.generation, step.now);
    set(
        &mut status.conditions,
        types::PROGRESSING,
        Status::Unknown,
        run::STOPPING,
        msg::RUN_STOPPING,
        generation,
        now,
    );
    let Some(deletion) = status.deletion_stage_status.as_mut() else {
        return StepEnd::Aborted(None, "deletion stage status missing".into());
    };
    set(
        &mut deletion.conditions,
        types::PROGRESSING,
        Status::Unknown,
        stage::STOPPING,
        msg::STAGE_STOPPING,
        generation,
        now,
    );
    for binding in &step.plan.to_delete {
        let name = &binding.spec.target_cluster;
        let Some(c) = deletion.clusters.iter().find(|c| &c.cluster_name == name) else {
            let detail = format!("the cluster `{name}` to be deleted is not in the delete stage");
            return StepEnd::Aborted(None, abort_message(Category::Internal, detail));
        };
        if let Err(message) = check_deleting_cluster(c, binding, generation) {
            return StepEnd::Aborted(None, message);
        }
    }
    settle_deleted_clusters(deletion, &step.plan.to_delete, generation, now);
    if deletion.clusters.iter().any(|c| in_flight(c, generation)) {
        return StepEnd::Continue(Next::After(CLUSTER_POLL));
    }
    marks::stopped(&mut deletion.conditions, &mut status.conditions, generation, now);
    StepEnd::Continue(Next::AwaitChange)
}

fn in_flight(c: &ClusterUpdatingStatus, generation: i64) -> bool {
    super::outcome::outcome(c, generation) == super::outcome::Outcome::Updating
}

fn abort_message(category: Category, detail: String) -> String {
    abort(category, detail).into_message()
}
