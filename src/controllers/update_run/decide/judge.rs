//! Judging one cluster from its binding's conditions (§3.9.3), and binding sync checks.

use super::model::BindingView;
use crate::api::placement::ApplyStrategy;
use crate::conditions::{find, is_false_for, is_true_for};
use crate::controllers::update_run::reasons::{IN_PROGRESS_BINDING_REASONS, types};

/// What a binding says about its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `Available` (or `DiffReported`) is True for the binding's generation.
    Succeeded,
    /// A condition reports a failure; the text says which.
    Failed(String),
    /// Still working.
    Updating,
}

/// §3.9.3.
pub fn judge(binding: &BindingView) -> Verdict {
    let generation = binding.generation;
    if is_true_for(&binding.conditions, types::AVAILABLE, generation)
        || is_true_for(&binding.conditions, types::DIFF_REPORTED, generation)
    {
        return Verdict::Succeeded;
    }
    for type_ in [
        types::OVERRIDDEN,
        types::WORK_SYNCHRONIZED,
        types::APPLIED,
        types::AVAILABLE,
    ] {
        if is_false_for(&binding.conditions, type_, generation)
            && let Some(c) = find(&binding.conditions, type_)
            && !IN_PROGRESS_BINDING_REASONS.contains(&c.reason.as_str())
        {
            return Verdict::Failed(format!("{type_}=False ({}): {}", c.reason, c.message));
        }
    }
    if is_false_for(&binding.conditions, types::DIFF_REPORTED, generation)
        && let Some(c) = find(&binding.conditions, types::DIFF_REPORTED)
    {
        return Verdict::Failed(format!("DiffReported=False ({}): {}", c.reason, c.message));
    }
    Verdict::Updating
}

/// SD-29: the member reported that it could not apply some of the resources: `Applied` is False
/// for the binding's generation and `failedPlacements` names them. An apply still in progress and
/// resources not yet available are not failures; only a stage's `progressDeadline` ends those.
pub fn apply_failed(binding: &BindingView) -> bool {
    is_false_for(&binding.conditions, types::APPLIED, binding.generation) && binding.failed_placements > 0
}

/// The binding carries exactly the run's version: snapshot name, no overrides (Stagehand serves no
/// override APIs), and the run's apply strategy.
pub fn in_sync(binding: &BindingView, snapshot_name: &str, applied: &ApplyStrategy) -> bool {
    binding.spec.resource_snapshot_name == snapshot_name
        && binding
            .spec
            .resource_override_snapshots
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        && binding
            .spec
            .cluster_resource_override_snapshots
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        && binding.spec.apply_strategy.as_ref() == Some(applied)
}

/// `RolloutStarted` is True for the binding's generation.
pub fn rollout_started(binding: &BindingView) -> bool {
    is_true_for(&binding.conditions, types::ROLLOUT_STARTED, binding.generation)
}
