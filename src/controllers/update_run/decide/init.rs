//! Initialization (§3.3–§3.6) and the checks re-validation repeats (§3.7 steps 1–6).
//!
//! SD-12: states that resolve by themselves (no policy snapshot yet, not scheduled yet, no
//! bindings yet, a binding still on an older policy snapshot, no resource snapshot yet) make
//! initialization *pending*, not failed.

use std::collections::BTreeSet;

use super::arith::canonical_wait_time;
use super::failure::{Category, Failure, validation_abort};
use super::model::{BindingView, Observed, PlacementView, PolicySnapshotView};
use super::outcome::{NAMES_CAP, refresh_counts};
use super::stages::{compute_stages, deletion_stage, unmatched_failure, validate_strategy};
use crate::api::placement::{
    BindingState, PlacementType, RolloutStrategyType, StageTaskType, UnmatchedClusters, UpdateRunStatus,
    UpdateStrategySpec,
};
use crate::conditions::is_true_for;

/// The placement's bindings, split as the run sees them.
#[derive(Debug, Default)]
pub struct Classified<'a> {
    /// Bindings of the latest policy snapshot in state Scheduled or Bound.
    pub selected: Vec<&'a BindingView>,
    /// Unscheduled bindings: their clusters go to the deletion stage.
    pub to_delete: Vec<&'a BindingView>,
}

/// Step 1: the placement exists and is External.
pub fn check_placement(obs: &Observed) -> Result<&PlacementView, Failure> {
    if obs.run.spec.placement_name.is_empty() {
        // Admitted, as upstream admits it; named here so the user knows which field to set.
        return Err(validation_abort(
            Category::User,
            "parent placement not found: spec.placementName is empty; set it to the name of the placement to roll out",
        ));
    }
    let placement = obs
        .placement
        .as_ref()
        .ok_or_else(|| validation_abort(Category::User, "parent placement not found"))?;
    if placement.strategy_type != RolloutStrategyType::External {
        return Err(validation_abort(
            Category::User,
            format!(
                "parent placement does not have an external rollout strategy, current strategy: {:?}",
                placement.strategy_type
            ),
        ));
    }
    Ok(placement)
}

/// Step 2: the one latest policy snapshot, and the number of clusters it asks for (−1 for
/// "count the bindings"). Initialization waits for a snapshot that is missing or not scheduled.
pub fn latest_policy(obs: &Observed) -> Result<(&PolicySnapshotView, i64), Failure> {
    let placement_key = obs.run.key_of(&obs.run.spec.placement_name);
    let snapshot = match obs.policy_snapshots.as_slice() {
        [] => {
            return Err(Failure::Pending(format!(
                "no latest policy snapshot found for placement {placement_key}; waiting for the placement controller to create it"
            )));
        }
        [one] => one,
        many => {
            return Err(Failure::Pending(format!(
                "multiple active policy snapshots found for placement {placement_key} ({}); waiting for the placement controller to settle",
                many.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    };
    let snapshot_key = obs.run.key_of(&snapshot.name);
    if snapshot.policy_index.as_deref().unwrap_or("").is_empty() {
        return Err(validation_abort(
            Category::Internal,
            format!("policy snapshot `{snapshot_key}` does not have a policy index label"),
        ));
    }
    let count = match snapshot.placement_type {
        PlacementType::PickN => snapshot
            .number_of_clusters
            .as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                validation_abort(
                    Category::Internal,
                    format!("policy snapshot `{snapshot_key}` doesn't have valid cluster count annotation"),
                )
            })?,
        // SD-35: a PickFixed policy without cluster names selects nothing, whatever joins.
        PlacementType::PickFixed if snapshot.fixed_cluster_count == 0 => {
            return Err(validation_abort(
                Category::User,
                format!(
                    "placement {placement_key} is PickFixed with no spec.policy.clusterNames, so it selects no cluster; list the clusters to pick"
                ),
            ));
        }
        PlacementType::PickFixed => snapshot.fixed_cluster_count as i64,
        PlacementType::PickAll => -1,
    };
    Ok((snapshot, count))
}

/// The latest policy snapshot must be scheduled.
pub fn require_scheduled(obs: &Observed, snapshot: &PolicySnapshotView) -> Result<(), Failure> {
    if is_true_for(&snapshot.conditions, "Scheduled", snapshot.generation) {
        Ok(())
    } else {
        Err(Failure::Pending(format!(
            "policy snapshot `{}` not fully scheduled yet; waiting for the scheduler",
            obs.run.key_of(&snapshot.name)
        )))
    }
}

/// Step 3: classify the bindings against the latest policy snapshot.
pub fn classify_bindings<'a>(obs: &'a Observed, latest: &PolicySnapshotView) -> Result<Classified<'a>, Failure> {
    let mut out = Classified::default();
    for binding in &obs.bindings {
        let current = binding.spec.scheduling_policy_snapshot_name == latest.name;
        match (current, binding.spec.state) {
            (_, BindingState::Unscheduled) => out.to_delete.push(binding),
            (true, _) => out.selected.push(binding),
            (false, _) => {
                return Err(Failure::Pending(format!(
                    "binding `{}` still refers to the older policy snapshot `{}`; waiting for the scheduler (we might observe a transient state)",
                    obs.run.key_of(&binding.name),
                    binding.spec.scheduling_policy_snapshot_name
                )));
            }
        }
    }
    // SD-21: the policy snapshot and the bindings come from different watches, so the snapshot
    // can say `Scheduled` before every binding the scheduler created has reached the cache. A
    // run that went on would record a partial fleet and fail at the next pass when the rest
    // arrive; it waits for them instead.
    let bound: std::collections::HashSet<&str> = out.selected.iter().map(|b| b.spec.target_cluster.as_str()).collect();
    let missing = latest
        .selected_clusters
        .iter()
        .filter(|cluster| !bound.contains(cluster.as_str()))
        .count();
    // SD-27: past the decisions' limit, the scheduler's count says how many bindings to expect.
    let selected = latest.selected_cluster_count.unwrap_or(latest.selected_clusters.len());
    let missing = missing.max(selected.saturating_sub(bound.len()));
    if missing > 0 {
        return Err(Failure::Pending(format!(
            "{missing} of the {selected} clusters selected by policy snapshot `{}` have no binding observed yet; waiting for the bindings (we might observe a transient state)",
            obs.run.key_of(&latest.name)
        )));
    }
    if out.selected.is_empty() && out.to_delete.is_empty() {
        return Err(Failure::Pending(format!(
            "no scheduled or to-be-deleted bindings found for the latest policy snapshot {}; waiting for the scheduler",
            obs.run.key_of(&latest.name)
        )));
    }
    Ok(out)
}

/// The strategy as the run records it: Go-format wait times (SD-10), no `waitTime` on approvals.
pub fn strategy_snapshot(strategy: &UpdateStrategySpec) -> UpdateStrategySpec {
    let mut snapshot = strategy.clone();
    for stage in &mut snapshot.stages {
        for task in stage
            .before_stage_tasks
            .iter_mut()
            .flatten()
            .chain(stage.after_stage_tasks.iter_mut().flatten())
        {
            match task.type_ {
                StageTaskType::Approval => task.wait_time = None,
                StageTaskType::TimedWait => task.wait_time = task.wait_time.as_deref().map(canonical_wait_time),
            }
        }
    }
    snapshot
}

/// Runs initialization into `status`. Fields computed before a failure stay in `status`, so a
/// failed run still shows what it found.
pub fn initialize(obs: &Observed, status: &mut UpdateRunStatus) -> Result<(), Failure> {
    match initialize_in_order(obs, status) {
        // SD-35: before waiting, a problem no waiting can fix is named and fails the run.
        Err(Failure::Pending(message)) => fatal_before_waiting(obs).and(Err(Failure::Pending(message))),
        other => other,
    }
}

/// Initialization in upstream's order of checks.
fn initialize_in_order(obs: &Observed, status: &mut UpdateRunStatus) -> Result<(), Failure> {
    let placement = check_placement(obs)?;
    status.applied_strategy = Some(placement.apply_strategy.clone());

    let (policy, mut count) = latest_policy(obs)?;
    status.policy_snapshot_index_used = policy.policy_index.clone();
    status.policy_observed_cluster_count = Some(count as i32);
    require_scheduled(obs, policy)?;

    let bindings = classify_bindings(obs, policy)?;
    if count < 0 {
        count = bindings.selected.len() as i64;
        status.policy_observed_cluster_count = Some(count as i32);
    } else if bindings.selected.len() as i64 != count {
        return Err(Failure::Pending(format!(
            "the number of selected bindings {} is not equal to the observed cluster count {count}; waiting for the scheduler",
            bindings.selected.len()
        )));
    }

    let strategy_name = &obs.run.spec.staged_rollout_strategy_name;
    let strategy_key = obs.run.key_of(strategy_name);
    let strategy = match &obs.strategy {
        Some(Some(strategy)) => strategy,
        _ => {
            return Err(validation_abort(
                Category::User,
                format!("referenced updateStrategy not found: `{strategy_key}`"),
            ));
        }
    };
    let snapshot = strategy_snapshot(strategy);
    let selected: BTreeSet<String> = bindings
        .selected
        .iter()
        .map(|b| b.spec.target_cluster.clone())
        .collect();
    let stages = compute_stages(
        &obs.run.name,
        obs.profile,
        &strategy_key,
        &snapshot,
        &selected,
        &obs.members,
    );
    let unmatched_policy = snapshot.unmatched_clusters.unwrap_or_default();
    status.staged_update_strategy_snapshot = Some(snapshot);
    let assignment = stages?;
    if !assignment.unmatched.is_empty() && unmatched_policy == UnmatchedClusters::Fail {
        return Err(unmatched_failure(obs.profile, &assignment.unmatched));
    }
    // SD-33 `Skip`: the clusters are left out and named.
    status.unmatched_clusters =
        (!assignment.unmatched.is_empty()).then(|| assignment.unmatched.iter().take(NAMES_CAP).cloned().collect());
    status.stages_status = Some(assignment.stages);
    refresh_counts(status, assignment.unmatched.len(), obs.run.generation);
    status.deletion_stage_status = Some(deletion_stage(
        bindings.to_delete.iter().map(|b| b.spec.target_cluster.clone()),
    ));

    status.resource_snapshot_index_used = Some(resolve_resource_index(obs)?);
    Ok(())
}

/// SD-35: problems no waiting can fix, checked when initialization would otherwise wait (for a
/// policy snapshot, the scheduler, bindings). Upstream checks them after the bindings, so on a
/// hub whose placement has no cluster yet a run with a missing strategy or a bad index only said
/// it was waiting for the scheduler, for ever. The messages are the ones the later checks give.
fn fatal_before_waiting(obs: &Observed) -> Result<(), Failure> {
    let strategy_key = obs.run.key_of(&obs.run.spec.staged_rollout_strategy_name);
    match &obs.strategy {
        Some(None) => {
            return Err(validation_abort(
                Category::User,
                format!("referenced updateStrategy not found: `{strategy_key}`"),
            ));
        }
        Some(Some(strategy)) => validate_strategy(&strategy_key, strategy)?,
        None => {}
    }
    if !names_no_index(obs) {
        resolve_resource_index(obs)?;
    }
    Ok(())
}

/// Whether the run rolls out the latest resources (no `resourceSnapshotIndex`).
fn names_no_index(obs: &Observed) -> bool {
    obs.run
        .spec
        .resource_snapshot_index
        .as_deref()
        .is_none_or(str::is_empty)
}

/// SD-11: when the run names no index and the placement's latest snapshot is older than a change
/// already detected, the detection time of that change.
pub fn unsnapshotted_change(obs: &Observed) -> Option<&str> {
    if !names_no_index(obs) {
        return None;
    }
    obs.resource_snapshots
        .iter()
        .find(|s| s.is_master)
        .and_then(|s| s.pending_change.as_deref())
}

/// Whether this pending run asks the placement controller for a snapshot of the resources as they
/// are now: a change is detected but not snapshotted (SD-11), or, with the `upstream` profile,
/// the placement has no snapshot yet because `External` placements get them only on request
/// (SD-25).
pub fn wants_snapshot(obs: &Observed) -> bool {
    unsnapshotted_change(obs).is_some()
        || (names_no_index(obs) && obs.profile.external_snapshots_on_request() && obs.resource_snapshots.is_empty())
}

/// §3.6: the master resource snapshot's index, for the given index or the latest.
fn resolve_resource_index(obs: &Observed) -> Result<String, Failure> {
    let placement_key = obs.run.key_of(&obs.run.spec.placement_name);
    let requested = obs
        .run
        .spec
        .resource_snapshot_index
        .as_deref()
        .filter(|s| !s.is_empty());
    if let Some(text) = requested {
        let index = text.parse::<i64>().ok().filter(|i| *i >= 0).ok_or_else(|| {
            validation_abort(
                Category::User,
                format!(
                    "invalid resource snapshot index `{text}` provided, expected an integer >= 0 in spec.resourceSnapshotIndex"
                ),
            )
        })?;
        if obs.resource_snapshots.is_empty() {
            return Err(validation_abort(
                Category::User,
                format!(
                    "no resourceSnapshots with index `{index}` found for placement `{placement_key}`; use an index that exists for this placement"
                ),
            ));
        }
    } else if obs.resource_snapshots.is_empty() {
        return Err(Failure::Pending(format!(
            "no resource snapshot found for placement `{placement_key}` yet; waiting for the placement controller to create one"
        )));
    } else if let Some(detected) = unsnapshotted_change(obs) {
        return Err(Failure::Pending(format!(
            "placement `{placement_key}` has a resource change detected at {detected} that is not in a snapshot yet; waiting for the placement controller to snapshot it so this run rolls out the resources as they are now (SD-11)"
        )));
    }
    obs.resource_snapshots
        .iter()
        .find(|s| s.is_master)
        .and_then(|s| s.index.clone())
        .ok_or_else(|| {
            validation_abort(
                Category::Internal,
                format!("no master resourceSnapshot found for placement {placement_key}"),
            )
        })
}
