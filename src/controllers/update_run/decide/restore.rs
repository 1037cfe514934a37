//! SD-39: a binding deleted by hand under a running run. The binding is what delivers the
//! resources, so its Works go and the member removes them; the scheduler then creates a fresh
//! binding (`Scheduled`, no resource snapshot). Upstream leaves such a cluster empty until the
//! next run, although the run reports it updated. A running Stagehand run gives every cluster
//! it has already started its snapshot back, so that what it rolled out is not silently lost.

use super::execute::Step;
use super::model::{Action, BindingTarget, BindingView};
use super::outcome::{Outcome, outcome};
use crate::api::placement::{BindingState, UpdateRunStatus};

/// A binding the scheduler created anew for a cluster: scheduled, carrying no snapshot.
pub fn recreated(binding: &BindingView) -> bool {
    binding.spec.state == BindingState::Scheduled && binding.spec.resource_snapshot_name.is_empty()
}

/// Re-binds, with the run's snapshot, every cluster of stages `0..=through` that the run started
/// (updating or succeeded) and whose binding was re-created since. Clusters it did not start yet
/// are the stage walk's to start; failed and skipped ones are left as they are.
pub fn restore_recreated(step: &mut Step, status: &UpdateRunStatus, through: usize) {
    let generation = step.generation;
    let started = status
        .stages_status
        .iter()
        .flatten()
        .take(through.saturating_add(1))
        .flat_map(|stage| stage.clusters.iter())
        .filter(|c| matches!(outcome(c, generation), Outcome::Updating | Outcome::Succeeded));
    let mut restores = Vec::new();
    for cluster in started {
        let Some(binding) = step.plan.selected.get(&cluster.cluster_name) else {
            continue;
        };
        if recreated(binding) {
            restores.push(Action::StartBinding {
                binding: binding.name.clone(),
                target: Some(BindingTarget {
                    resource_snapshot_name: step.snapshot_name.clone(),
                    apply_strategy: step.applied.clone(),
                }),
                message: step.rollout_message(),
            });
        }
    }
    step.actions.extend(restores);
}
