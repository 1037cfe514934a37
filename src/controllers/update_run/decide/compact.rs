//! SD-22: a run's status that does not grow with the fleet.
//!
//! A run over at most `limit` clusters (1,000 by default) keeps upstream's shape exactly: one
//! entry per cluster in every stage. A bigger run records per stage a `clusterSummary` (counts and
//! a digest of the stage's clusters in order) and lists inline only the clusters updating or
//! failed, at most [`INLINE_CAP`]. The bindings carry each cluster's detail (`RolloutStarted` with
//! the run's name, `Available`), so nothing is lost.
//!
//! Each pass [`expand`]s the stored status back to the full per-cluster shape, from the stage
//! membership it recomputes anyway (upstream's re-validation does the same) and the bindings, runs
//! the unchanged state machine on it, and [`compact`]s the result before it is written. Stages
//! that finished stay empty: nothing reads their clusters again.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::judge::{Verdict, in_sync, judge, rollout_started};
use super::marks::{cluster_started, cluster_succeeded};
use super::model::BindingView;
use super::stages::cluster_entry;
use crate::api::placement::{
    ApplyStrategy, BindingState, ClusterUpdatingStatus, StageClusterSummary, StageUpdatingStatus, UpdateRunStatus,
};
use crate::conditions::{find, is_false_for, is_true_for};
use crate::controllers::update_run::reasons::types;

/// Runs over more clusters than this are compact unless the hub is told otherwise
/// (`--run-status-inline-limit`).
pub const DEFAULT_INLINE_LIMIT: usize = 1000;
/// At most this many clusters of one stage are listed inline in a compact run.
pub const INLINE_CAP: usize = 100;

/// Whether the run's status is compact (decided once, at initialization).
pub fn is_compact(status: &UpdateRunStatus) -> bool {
    all_stages(status).any(|s| s.cluster_summary.is_some())
}

fn all_stages(status: &UpdateRunStatus) -> impl Iterator<Item = &StageUpdatingStatus> {
    status
        .stages_status
        .iter()
        .flatten()
        .chain(status.deletion_stage_status.iter())
}

/// The digest of a stage's cluster names in execution order.
pub fn digest<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
    }
    let bytes = hasher.finalize();
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Right after initialization: a run over more than `limit` clusters becomes compact. Its
/// stages still list every cluster until the pass ends with [`compact`].
pub fn begin(status: &mut UpdateRunStatus, limit: usize) {
    let total: usize = all_stages(status).map(|s| s.clusters.len()).sum();
    if total <= limit {
        return;
    }
    for stage in status.stages_status.iter_mut().flatten() {
        stage.cluster_summary = Some(StageClusterSummary {
            total: count(stage.clusters.len()),
            clusters_digest: digest(stage.clusters.iter().map(|c| c.cluster_name.as_str())),
            ..Default::default()
        });
    }
    if let Some(deletion) = status.deletion_stage_status.as_mut() {
        deletion.cluster_summary = Some(StageClusterSummary {
            total: count(deletion.clusters.len()),
            ..Default::default()
        });
    }
}

/// Whether a stage has finished (its clusters are no longer all listed in a compact status).
pub fn is_finished(stage: &StageUpdatingStatus, generation: i64) -> bool {
    is_true_for(&stage.conditions, types::SUCCEEDED, generation)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What a pass knows to rebuild a compact status.
pub struct Rebuild<'a> {
    /// The stages' clusters in execution order, as this pass computed them.
    pub membership: &'a [StageUpdatingStatus],
    /// Selected bindings by target cluster.
    pub selected: &'a BTreeMap<String, &'a BindingView>,
    /// Bindings the deletion stage removes.
    pub to_delete: &'a [&'a BindingView],
    /// The run's master resource snapshot name.
    pub snapshot_name: &'a str,
    /// The run's apply strategy.
    pub applied: &'a ApplyStrategy,
    /// The run's generation.
    pub generation: i64,
    /// This pass's time.
    pub now: Timestamp,
}

/// Rebuilds every unfinished stage's full cluster list from the membership, the listed entries
/// and the bindings.
pub fn expand(status: &mut UpdateRunStatus, rebuild: &Rebuild) {
    let generation = rebuild.generation;
    for (stage, members) in status.stages_status.iter_mut().flatten().zip(rebuild.membership) {
        if is_true_for(&stage.conditions, types::SUCCEEDED, generation) {
            continue;
        }
        let mut listed: HashMap<String, ClusterUpdatingStatus> = std::mem::take(&mut stage.clusters)
            .into_iter()
            .map(|c| (c.cluster_name.clone(), c))
            .collect();
        stage.clusters = members
            .clusters
            .iter()
            .map(|m| {
                listed
                    .remove(&m.cluster_name)
                    .unwrap_or_else(|| from_binding(&m.cluster_name, rebuild))
            })
            .collect();
    }
    if let Some(deletion) = status.deletion_stage_status.as_mut()
        && !is_true_for(&deletion.conditions, types::SUCCEEDED, generation)
    {
        let mut listed: BTreeMap<String, ClusterUpdatingStatus> = std::mem::take(&mut deletion.clusters)
            .into_iter()
            .map(|c| (c.cluster_name.clone(), c))
            .collect();
        for binding in rebuild.to_delete {
            let name = &binding.spec.target_cluster;
            if listed.contains_key(name) {
                continue;
            }
            let mut entry = cluster_entry(name.clone());
            if binding.deleting {
                cluster_started(&mut entry, generation, rebuild.now);
            }
            listed.insert(name.clone(), entry);
        }
        deletion.clusters = listed.into_values().collect();
    }
}

/// A cluster not listed inline: started when its binding carries this run's version and
/// `RolloutStarted`, succeeded when the binding is also available; times from the binding.
fn from_binding(name: &str, rebuild: &Rebuild) -> ClusterUpdatingStatus {
    let mut entry = cluster_entry(name.to_string());
    let Some(binding) = rebuild.selected.get(name) else {
        return entry;
    };
    let started = binding.spec.state == BindingState::Bound
        && rollout_started(binding)
        && in_sync(binding, rebuild.snapshot_name, rebuild.applied);
    if !started {
        return entry;
    }
    let time_of = |type_: &str| {
        find(&binding.conditions, type_)
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or(rebuild.now, |t| t.0)
    };
    let started_at = time_of(types::ROLLOUT_STARTED);
    cluster_started(&mut entry, rebuild.generation, started_at);
    if judge(binding) == Verdict::Succeeded {
        cluster_succeeded(
            &mut entry,
            rebuild.generation,
            time_of(types::AVAILABLE).max(started_at),
        );
    }
    entry
}

/// Brings an expanded status back to its compact form: counts in each stage's summary, inline
/// only the clusters started and not succeeded or failed, at most [`INLINE_CAP`] per stage.
pub fn compact(status: &mut UpdateRunStatus, generation: i64) {
    for stage in status.stages_status.iter_mut().flatten() {
        compact_stage(stage, generation, false);
    }
    if let Some(deletion) = status.deletion_stage_status.as_mut() {
        compact_stage(deletion, generation, true);
    }
}

fn compact_stage(stage: &mut StageUpdatingStatus, generation: i64, deletion: bool) {
    let Some(mut summary) = stage.cluster_summary.take() else {
        return;
    };
    let succeeded = |c: &ClusterUpdatingStatus| is_true_for(&c.conditions, types::SUCCEEDED, generation);
    let started = |c: &ClusterUpdatingStatus| is_true_for(&c.conditions, types::STARTED, generation);
    // Failed (SD-29) and skipped (SD-32) clusters stay listed, so that they remain named.
    let failed = |c: &ClusterUpdatingStatus| {
        is_false_for(&c.conditions, types::SUCCEEDED, generation)
            || is_true_for(&c.conditions, types::SKIPPED, generation)
    };
    if is_true_for(&stage.conditions, types::SUCCEEDED, generation) {
        let succeeded = stage.clusters.iter().filter(|c| succeeded(c)).count();
        let listed = stage.clusters.len();
        stage.clusters.retain(|c| failed(c));
        stage.clusters.truncate(INLINE_CAP);
        // A finished stage lists no cluster that succeeded: those not listed count as succeeded.
        let not_succeeded = listed.saturating_sub(succeeded);
        summary.succeeded = summary.total.saturating_sub(count(not_succeeded)).max(0);
        summary.updating = 0;
        summary.unlisted = 0;
    } else {
        let unfinished = stage.clusters.iter().filter(|c| !succeeded(c)).count();
        summary.succeeded = if deletion {
            // A finished deletion leaves no binding behind, so it is counted by what remains.
            summary.total.saturating_sub(count(unfinished)).max(0)
        } else {
            count(stage.clusters.iter().filter(|c| succeeded(c)).count())
        };
        let (mut kept, mut updating) = (Vec::new(), 0usize);
        for c in std::mem::take(&mut stage.clusters) {
            if failed(&c) {
                kept.push(c);
            } else if started(&c) && !succeeded(&c) {
                updating += 1;
                kept.push(c);
            }
        }
        // Failed clusters first, so the cap never hides one.
        kept.sort_by_key(|c| !failed(c));
        let listed_updating = kept.iter().take(INLINE_CAP).filter(|c| !failed(c)).count();
        kept.truncate(INLINE_CAP);
        summary.updating = count(updating);
        summary.unlisted = count(updating - listed_updating);
        stage.clusters = kept;
    }
    stage.cluster_summary = Some(summary);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{Status, set};
    use crate::controllers::update_run::reasons::cluster;

    #[test]
    fn the_digest_depends_on_names_and_their_order() {
        assert_eq!(digest(["a", "b"]), digest(["a", "b"]));
        assert_ne!(digest(["a", "b"]), digest(["b", "a"]));
        assert_ne!(digest(["ab"]), digest(["a", "b"]));
        assert_eq!(digest(["a"]).len(), 16);
    }

    fn stage_of(n: usize) -> StageUpdatingStatus {
        StageUpdatingStatus {
            stage_name: "s".into(),
            clusters: (0..n).map(|i| cluster_entry(format!("c{i:05}"))).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_run_at_the_limit_keeps_upstreams_shape() {
        let mut status = UpdateRunStatus {
            stages_status: Some(vec![stage_of(600), stage_of(400)]),
            deletion_stage_status: Some(stage_of(0)),
            ..Default::default()
        };
        begin(&mut status, 1000);
        assert!(!is_compact(&status));
        status.deletion_stage_status = Some(stage_of(1));
        begin(&mut status, 1000);
        assert!(is_compact(&status));
        let summary = status.stages_status.as_ref().unwrap()[0]
            .cluster_summary
            .clone()
            .unwrap();
        assert_eq!(summary.total, 600);
        assert_eq!(
            summary.clusters_digest,
            digest(
                status.stages_status.as_ref().unwrap()[0]
                    .clusters
                    .iter()
                    .map(|c| c.cluster_name.as_str())
            )
        );
    }

    #[test]
    fn compacting_lists_failed_then_updating_clusters_up_to_the_cap_and_counts_the_rest() {
        let now = Timestamp::UNIX_EPOCH;
        let mut stage = stage_of(300);
        stage.cluster_summary = Some(StageClusterSummary {
            total: 300,
            ..Default::default()
        });
        for (i, c) in stage.clusters.iter_mut().enumerate() {
            if i < 250 {
                set(
                    &mut c.conditions,
                    types::STARTED,
                    Status::True,
                    cluster::STARTED,
                    "",
                    1,
                    now,
                );
            }
            if i < 100 {
                set(
                    &mut c.conditions,
                    types::SUCCEEDED,
                    Status::True,
                    cluster::SUCCEEDED,
                    "",
                    1,
                    now,
                );
            }
            if i == 299 {
                set(
                    &mut c.conditions,
                    types::SUCCEEDED,
                    Status::False,
                    cluster::FAILED,
                    "",
                    1,
                    now,
                );
            }
        }
        let mut status = UpdateRunStatus {
            stages_status: Some(vec![stage]),
            ..Default::default()
        };
        compact(&mut status, 1);
        let stage = &status.stages_status.as_ref().unwrap()[0];
        let summary = stage.cluster_summary.clone().unwrap();
        assert_eq!((summary.total, summary.succeeded, summary.updating), (300, 100, 150));
        assert_eq!(stage.clusters.len(), INLINE_CAP);
        assert_eq!(stage.clusters[0].cluster_name, "c00299");
        assert_eq!(summary.unlisted, 150 - 99);
    }
}
