//! Re-validation on every pass after initialization (§3.7): the world must still match what
//! the run recorded, and the stage statuses must be consistent. Yields where execution resumes.

use std::collections::{BTreeMap, BTreeSet};

use super::arith::effective_max_concurrency;
use super::compact;
use super::failure::{Category, Failure, abort, validation_abort};
use super::init::{check_placement, classify_bindings, latest_policy, require_scheduled};
use super::model::{BindingView, Observed};
use super::stages::{compute_stages, stage_shape};
use crate::api::placement::{PlacementType, StageUpdatingStatus, UpdateRunStatus};
use crate::conditions::{find, is_false_for, is_true_for};
use crate::controllers::update_run::reasons::types;

/// Where the run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Working on (or about to start) the regular stage with this index.
    Stage(usize),
    /// Working on the deletion stage.
    Deletion,
    /// Everything is done.
    Done,
}

/// The result of re-validation: where to continue and the bindings involved.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Where the run stands.
    pub position: Position,
    /// Selected bindings by target cluster.
    pub selected: BTreeMap<String, &'a BindingView>,
    /// Bindings to delete.
    pub to_delete: Vec<&'a BindingView>,
}

/// Checks the world against the recorded status and finds the position.
///
/// A compact status (SD-22) is compared by its stages' counts and digests and then expanded in
/// place to the full per-cluster shape.
pub fn revalidate<'a>(obs: &'a Observed, status: &mut UpdateRunStatus) -> Result<Plan<'a>, Failure> {
    let placement = check_placement(obs)?;
    if status.applied_strategy.as_ref() != Some(&placement.apply_strategy) {
        return Err(abort(
            Category::User,
            format!(
                "the applyStrategy in the updateRun is outdated, latest: {}, recorded: {}",
                json(&placement.apply_strategy),
                json(&status.applied_strategy)
            ),
        ));
    }
    let (policy, count) = latest_policy(obs).map_err(pending_is_retry)?;
    require_scheduled(obs, policy).map_err(|f| match f {
        Failure::Pending(msg) => validation_abort(Category::Plain, msg.trim_end_matches("; waiting for the scheduler")),
        other => other,
    })?;
    let recorded_index = status.policy_snapshot_index_used.clone().unwrap_or_default();
    let latest_index = policy.policy_index.clone().unwrap_or_default();
    if latest_index != recorded_index {
        return Err(abort(
            Category::Plain,
            format!(
                "the policy snapshot index used in the updateRun is outdated, latest: {latest_index}, recorded: {recorded_index}"
            ),
        ));
    }
    let recorded_count = i64::from(status.policy_observed_cluster_count.unwrap_or(-1));
    if policy.placement_type != PlacementType::PickAll && count != recorded_count {
        return Err(abort(
            Category::Plain,
            format!(
                "the cluster count initialized in the updateRun is outdated, latest: {count}, recorded: {recorded_count}"
            ),
        ));
    }
    let bindings = classify_bindings(obs, policy).map_err(|f| match f {
        Failure::Pending(msg) if msg.contains("transient") => Failure::Retry(msg),
        Failure::Pending(msg) => abort(Category::Plain, msg),
        other => other,
    })?;
    if policy.placement_type != PlacementType::PickAll && bindings.selected.len() as i64 != count {
        return Err(abort(
            Category::Internal,
            format!(
                "the number of selected bindings {} is not equal to the observed cluster count {count}",
                bindings.selected.len()
            ),
        ));
    }

    let snapshot = status
        .staged_update_strategy_snapshot
        .as_ref()
        .ok_or_else(|| abort(Category::Internal, "the updateRun has nil updateStrategySnapshot"))?
        .clone();
    let selected_names: BTreeSet<String> = bindings
        .selected
        .iter()
        .map(|b| b.spec.target_cluster.clone())
        .collect();
    let strategy_key = obs.run.key_of(&obs.run.spec.staged_rollout_strategy_name);
    let fresh = compute_stages(
        &obs.run.name,
        obs.profile,
        &strategy_key,
        &snapshot,
        &selected_names,
        &obs.members,
    )?;
    let selected: BTreeMap<String, &BindingView> = bindings
        .selected
        .iter()
        .map(|b| (b.spec.target_cluster.clone(), *b))
        .collect();
    let recorded = status
        .stages_status
        .as_ref()
        .ok_or_else(|| abort(Category::Internal, "the updateRun has nil stagesStatus"))?;
    if compact::is_compact(status) {
        compare_compact(&fresh, recorded)?;
        let snapshot_name = super::master_snapshot_name(obs, status);
        let applied = status.applied_strategy.clone().unwrap_or_default();
        let rebuild = compact::Rebuild {
            membership: &fresh,
            selected: &selected,
            to_delete: &bindings.to_delete,
            snapshot_name: &snapshot_name,
            applied: &applied,
            generation: obs.run.generation,
            now: obs.now,
        };
        compact::expand(status, &rebuild);
    } else {
        compare_stages(&stage_shape(&fresh), &stage_shape(recorded))?;
    }
    let stages = status
        .stages_status
        .as_ref()
        .ok_or_else(|| abort(Category::Internal, "the updateRun has nil stagesStatus"))?;

    let generation = obs.run.generation;
    let (updating, last_finished) = stage_progress(stages, &snapshot, generation)?;
    let deletion = status
        .deletion_stage_status
        .as_ref()
        .ok_or_else(|| abort(Category::Internal, "the updateRun has nil deletionStageStatus"))?;
    for binding in &bindings.to_delete {
        if !deletion
            .clusters
            .iter()
            .any(|c| c.cluster_name == binding.spec.target_cluster)
        {
            return Err(abort(
                Category::Plain,
                format!(
                    "the cluster `{}` to be deleted is not in the delete stage",
                    binding.spec.target_cluster
                ),
            ));
        }
    }
    let stages_remaining = updating.is_some() || last_finished.map_or(0, |i| i + 1) < stages.len();
    let position = if stages_remaining {
        if is_true_for(&deletion.conditions, types::SUCCEEDED, generation)
            || is_false_for(&deletion.conditions, types::SUCCEEDED, generation)
            || is_true_for(&deletion.conditions, types::PROGRESSING, generation)
        {
            return Err(abort(
                Category::Plain,
                "the delete stage is active, but there are still stages updating",
            ));
        }
        Position::Stage(updating.unwrap_or_else(|| last_finished.map_or(0, |i| i + 1)))
    } else if is_true_for(&deletion.conditions, types::SUCCEEDED, generation) {
        Position::Done
    } else if is_false_for(&deletion.conditions, types::SUCCEEDED, generation) {
        let message = find(&deletion.conditions, types::SUCCEEDED)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        return Err(abort(
            Category::Plain,
            format!("the delete stage has failed, err: {message}"),
        ));
    } else {
        Position::Deletion
    };
    Ok(Plan {
        position,
        selected,
        to_delete: bindings.to_delete,
    })
}

fn pending_is_retry(failure: Failure) -> Failure {
    match failure {
        Failure::Pending(msg) => Failure::Retry(msg),
        other => other,
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn compare_stages(fresh: &[(String, Vec<String>)], recorded: &[(String, Vec<String>)]) -> Result<(), Failure> {
    if fresh.len() != recorded.len() {
        return Err(abort(
            Category::Plain,
            format!(
                "the number of stages in the updateRun has changed, new: {}, existing: {}",
                fresh.len(),
                recorded.len()
            ),
        ));
    }
    for (i, ((new_name, new_clusters), (old_name, old_clusters))) in fresh.iter().zip(recorded).enumerate() {
        if new_name != old_name {
            return Err(abort(
                Category::Plain,
                format!("index `{i}` stage name in the updateRun has changed, new: {new_name}, existing: {old_name}"),
            ));
        }
        if new_clusters.len() != old_clusters.len() {
            return Err(abort(
                Category::Plain,
                format!(
                    "the number of clusters in index `{i}` stage has changed, new: {}, existing: {}",
                    new_clusters.len(),
                    old_clusters.len()
                ),
            ));
        }
        for (j, (new_cluster, old_cluster)) in new_clusters.iter().zip(old_clusters).enumerate() {
            if new_cluster != old_cluster {
                return Err(abort(
                    Category::Plain,
                    format!(
                        "the `{j}` cluster in the `{i}` stage has changed, new: {new_cluster}, existing: {old_cluster}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// SD-22: a compact run's stages are compared by count (upstream's message) and by digest.
fn compare_compact(fresh: &[StageUpdatingStatus], recorded: &[StageUpdatingStatus]) -> Result<(), Failure> {
    let names = |stages: &[StageUpdatingStatus]| -> Vec<(String, Vec<String>)> {
        stages.iter().map(|s| (s.stage_name.clone(), Vec::new())).collect()
    };
    compare_stages(&names(fresh), &names(recorded))?;
    for (i, (new, old)) in fresh.iter().zip(recorded).enumerate() {
        let summary = old.cluster_summary.clone().unwrap_or_default();
        if i64::try_from(new.clusters.len()).unwrap_or(i64::MAX) != i64::from(summary.total) {
            return Err(abort(
                Category::Plain,
                format!(
                    "the number of clusters in index `{i}` stage has changed, new: {}, existing: {}",
                    new.clusters.len(),
                    summary.total
                ),
            ));
        }
        let digest = compact::digest(new.clusters.iter().map(|c| c.cluster_name.as_str()));
        if digest != summary.clusters_digest {
            return Err(abort(
                Category::Plain,
                format!(
                    "the clusters in index `{i}` stage have changed: same number ({}), but other clusters or another order (digest new: {digest}, existing: {})",
                    summary.total, summary.clusters_digest
                ),
            ));
        }
    }
    Ok(())
}

/// §3.7 step 8: the updating stage and the last finished stage, checking their consistency.
pub fn stage_progress(
    stages: &[StageUpdatingStatus],
    snapshot: &crate::api::placement::UpdateStrategySpec,
    generation: i64,
) -> Result<(Option<usize>, Option<usize>), Failure> {
    let mut updating: Option<usize> = None;
    let mut last_finished: Option<usize> = None;
    let next_after = |last: Option<usize>| last.map_or(0, |i| i + 1);
    for (i, stage) in stages.iter().enumerate() {
        let name = &stage.stage_name;
        if is_true_for(&stage.conditions, types::SUCCEEDED, generation) {
            if let Some(u) = updating {
                return Err(abort(
                    Category::Internal,
                    format!(
                        "the finished stage `{name}` is after the updating stage `{}`",
                        stages[u].stage_name
                    ),
                ));
            }
            if let Some(c) = stage
                .clusters
                .iter()
                .find(|c| !is_true_for(&c.conditions, types::SUCCEEDED, generation))
            {
                return Err(abort(
                    Category::Internal,
                    format!(
                        "cluster `{}` in the finished stage `{name}` has not succeeded",
                        c.cluster_name
                    ),
                ));
            }
            if i != next_after(last_finished) {
                return Err(abort(
                    Category::Internal,
                    format!(
                        "the finished stage `{name}` is not right after the last finished stage with index {last_finished:?}"
                    ),
                ));
            }
            last_finished = Some(i);
        } else if is_false_for(&stage.conditions, types::SUCCEEDED, generation) {
            let message = find(&stage.conditions, types::SUCCEEDED)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            return Err(abort(
                Category::Plain,
                format!("the stage `{name}` has failed, err: {message}"),
            ));
        } else if find(&stage.conditions, types::PROGRESSING).is_some() {
            if let Some(u) = updating {
                return Err(abort(
                    Category::Internal,
                    format!("the stage `{name}` is updating, but there is already a stage with index {u} updating"),
                ));
            }
            if i != next_after(last_finished) {
                return Err(abort(
                    Category::Internal,
                    format!(
                        "the updating stage `{name}` is not right after the last finished stage with index {last_finished:?}"
                    ),
                ));
            }
            updating = Some(i);
            let in_flight = stage
                .clusters
                .iter()
                .filter(|c| {
                    is_true_for(&c.conditions, types::STARTED, generation)
                        && !is_true_for(&c.conditions, types::SUCCEEDED, generation)
                })
                .count();
            let limit = snapshot
                .stages
                .get(i)
                .map(|s| effective_max_concurrency(s.max_concurrency.as_ref(), stage.clusters.len()))
                .transpose()
                .map_err(|e| abort(Category::Internal, e))?
                .unwrap_or(1);
            if in_flight > limit {
                return Err(abort(
                    Category::Internal,
                    format!(
                        "the number of updating clusters `{in_flight}` in the updating stage `{name}` exceeds maxConcurrency `{limit}`"
                    ),
                ));
            }
        }
    }
    Ok((updating, last_finished))
}
