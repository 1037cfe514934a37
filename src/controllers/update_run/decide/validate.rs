//! Re-validation on every pass after initialization (§3.7): the world must still match what
//! the run recorded, and the stage statuses must be consistent. Yields where execution resumes.

use std::collections::{BTreeMap, BTreeSet};

use super::arith::effective_max_concurrency;
use super::compact;
use super::failure::{Category, Failure, abort, validation_abort};
use super::init::{check_placement, classify_bindings, latest_policy, require_scheduled};
use super::model::{BindingView, Observed};
use super::outcome::{NAMES_CAP, Outcome, outcome, set_excluded};
use super::stages::{compute_stages, stage_shape, unmatched_failure};
use crate::api::placement::{
    MembershipChanges, PlacementType, StageUpdatingStatus, UnmatchedClusters, UpdateRunStatus,
};
use crate::conditions::{find, is_false_for, is_true_for};
use crate::controllers::update_run::reasons::{cluster, msg, types};

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
    /// Selected clusters no stage picks, left out of the run (SD-33, SD-28).
    pub unmatched_total: usize,
}

/// SD-28: the recorded stages stay as they are. A recorded cluster whose binding is no longer
/// selected and that has not finished is skipped; selected clusters the run does not know are
/// newcomers, named as excluded in the stage they match.
fn freeze_membership(
    status: &mut UpdateRunStatus,
    fresh: &[StageUpdatingStatus],
    selected: &BTreeMap<String, &BindingView>,
    known: &BTreeSet<String>,
    generation: i64,
    now: jiff::Timestamp,
) {
    let Some(stages) = status.stages_status.as_mut() else {
        return;
    };
    for (stage, fresh_stage) in stages.iter_mut().zip(fresh) {
        for c in stage.clusters.iter_mut() {
            if !selected.contains_key(&c.cluster_name) && !outcome(c, generation).is_final() {
                super::marks::cluster_skipped(c, cluster::SKIPPED_DEPARTED, msg::CLUSTER_DEPARTED, generation, now);
            }
        }
        let newcomers: Vec<String> = fresh_stage
            .clusters
            .iter()
            .map(|c| c.cluster_name.clone())
            .filter(|name| !known.contains(name))
            .collect();
        set_excluded(stage, &newcomers);
    }
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
    // SD-28: a `Freeze` run keeps the clusters it started with. A compact run (SD-22) stores no
    // list to keep, so it keeps upstream's behaviour.
    let freeze = snapshot.membership_changes == Some(MembershipChanges::Freeze) && !compact::is_compact(status);
    if !freeze
        && !fresh.unmatched.is_empty()
        && snapshot.unmatched_clusters.unwrap_or_default() == UnmatchedClusters::Fail
    {
        return Err(unmatched_failure(obs.profile, &fresh.unmatched));
    }
    // Under `Freeze`, a cluster the run already has stays in its stage even when its labels no
    // longer match one: only newcomers count as unmatched.
    let known: BTreeSet<String> = if freeze {
        status
            .stages_status
            .iter()
            .flatten()
            .flat_map(|s| s.clusters.iter().map(|c| c.cluster_name.clone()))
            .collect()
    } else {
        BTreeSet::new()
    };
    let mut unmatched = fresh.unmatched.clone();
    unmatched.retain(|c| !known.contains(c));
    status.unmatched_clusters = (!unmatched.is_empty()).then(|| unmatched.iter().take(NAMES_CAP).cloned().collect());
    let selected: BTreeMap<String, &BindingView> = bindings
        .selected
        .iter()
        .map(|b| (b.spec.target_cluster.clone(), *b))
        .collect();
    let recorded = status
        .stages_status
        .as_ref()
        .ok_or_else(|| abort(Category::Internal, "the updateRun has nil stagesStatus"))?;
    if freeze {
        let names = |stages: &[StageUpdatingStatus]| -> Vec<(String, Vec<String>)> {
            stages.iter().map(|s| (s.stage_name.clone(), Vec::new())).collect()
        };
        compare_stages(&names(&fresh.stages), &names(recorded))?;
        freeze_membership(status, &fresh.stages, &selected, &known, obs.run.generation, obs.now);
    } else if compact::is_compact(status) {
        compare_compact(&fresh.stages, recorded)?;
        let snapshot_name = super::master_snapshot_name(obs, status);
        let applied = status.applied_strategy.clone().unwrap_or_default();
        let rebuild = compact::Rebuild {
            membership: &fresh.stages,
            selected: &selected,
            to_delete: &bindings.to_delete,
            snapshot_name: &snapshot_name,
            applied: &applied,
            generation: obs.run.generation,
            now: obs.now,
        };
        compact::expand(status, &rebuild);
    } else {
        compare_stages(&stage_shape(&fresh.stages), &stage_shape(recorded))?;
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
    let mut to_delete = bindings.to_delete;
    if freeze {
        // SD-28: bindings unscheduled after initialization are the next run's to delete.
        to_delete.retain(|b| {
            deletion
                .clusters
                .iter()
                .any(|c| c.cluster_name == b.spec.target_cluster)
        });
    }
    for binding in &to_delete {
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
        to_delete,
        unmatched_total: unmatched.len(),
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
            // Failed clusters within the stage's budget (SD-29) and skipped ones (SD-32) are final too.
            if let Some(c) = stage.clusters.iter().find(|c| !outcome(c, generation).is_final()) {
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
                .filter(|c| outcome(c, generation) == Outcome::Updating)
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
