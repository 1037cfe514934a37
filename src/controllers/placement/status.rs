//! The placement status aggregated from the scheduler's decisions and the bindings
//! (`placement-pipeline.md` §11.2): per-cluster statuses and the placement conditions that
//! `kubectl get crp` / `kubectl get rp` print. Pure: the caller reads the objects.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use crate::api::condition::Condition;
use crate::api::placement::{
    ClusterDecision, ClusterResourceBindingSpec, PerClusterPlacementStatus, PlacementClusterSummary, PlacementStatus,
    PlacementType, ResourceBindingStatus, ResourceIdentifier,
};
use crate::conditions::{Status, find, set};

/// One step of a rollout as bindings and placements report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    RolloutStarted,
    Overridden,
    WorkSynchronized,
    Applied,
    Available,
    DiffReported,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::RolloutStarted => "RolloutStarted",
            Step::Overridden => "Overridden",
            Step::WorkSynchronized => "WorkSynchronized",
            Step::Applied => "Applied",
            Step::Available => "Available",
            Step::DiffReported => "DiffReported",
        }
    }

    /// The per-cluster and placement reason while the step's outcome is not known.
    fn pending(self) -> &'static str {
        match self {
            Step::RolloutStarted => "RolloutStartedUnknown",
            Step::Overridden => "OverriddenPending",
            Step::WorkSynchronized => "WorkSynchronizedUnknown",
            Step::Applied => "ApplyPending",
            Step::Available => "ResourceAvailableUnknown",
            Step::DiffReported => "DiffReportingPending",
        }
    }

    /// The placement reason and message when some cluster reports the step False.
    fn failed(self, count: usize) -> (&'static str, String) {
        match self {
            Step::RolloutStarted => (
                "RolloutNotStartedYet",
                format!("The rollout is being blocked by the rollout strategy in {count} cluster(s)"),
            ),
            Step::Overridden => (
                "OverriddenFailed",
                format!("Failed to override resources in {count} cluster(s)"),
            ),
            Step::WorkSynchronized => (
                "WorkNotSynchronizedYet",
                format!("There are {count} cluster(s) which have not finished creating or updating work(s) yet"),
            ),
            Step::Applied => (
                "ApplyFailed",
                format!("Failed to apply resources to {count} cluster(s), please check the `failedPlacements` status"),
            ),
            Step::Available => (
                "ResourceNotAvailableYet",
                format!("The selected resources in {count} cluster(s) are still not available yet"),
            ),
            Step::DiffReported => (
                "DiffReportingIncompleteOrFailed",
                format!("Diff reporting in {count} cluster(s) is still in progress or has failed"),
            ),
        }
    }

    /// The placement reason and message when every cluster reports the step True.
    fn succeeded(self, count: usize, overrides: bool) -> (&'static str, String) {
        match self {
            Step::RolloutStarted => (
                "RolloutStarted",
                format!("All {count} cluster(s) start rolling out the latest resource"),
            ),
            Step::Overridden if !overrides => (
                "NoOverrideSpecified",
                "No override rules are configured for the selected resources".into(),
            ),
            Step::Overridden => (
                "OverriddenSucceeded",
                format!("The selected resources are successfully overridden in {count} cluster(s)"),
            ),
            Step::WorkSynchronized => (
                "WorkSynchronized",
                format!("All {count} cluster(s) have synchronized their work(s)"),
            ),
            Step::Applied => (
                "ApplySucceeded",
                format!("The selected resources are successfully applied to {count} cluster(s)"),
            ),
            Step::Available => (
                "ResourceAvailable",
                format!("The selected resources in {count} cluster(s) are available now"),
            ),
            Step::DiffReported => (
                "DiffReportingCompleted",
                format!("Diff reporting in {count} cluster(s) has been completed"),
            ),
        }
    }
}

const APPLY_STEPS: [Step; 5] = [
    Step::RolloutStarted,
    Step::Overridden,
    Step::WorkSynchronized,
    Step::Applied,
    Step::Available,
];
const DIFF_STEPS: [Step; 4] = [
    Step::RolloutStarted,
    Step::Overridden,
    Step::WorkSynchronized,
    Step::DiffReported,
];
const ALL_STEPS: [Step; 6] = [
    Step::RolloutStarted,
    Step::Overridden,
    Step::WorkSynchronized,
    Step::Applied,
    Step::Available,
    Step::DiffReported,
];

/// A binding as status aggregation reads it.
#[derive(Clone, Debug, Default)]
pub struct BindingReport {
    /// `metadata.generation`.
    pub generation: i64,
    /// Being deleted.
    pub deleting: bool,
    /// Spec.
    pub spec: ClusterResourceBindingSpec,
    /// Status.
    pub status: ResourceBindingStatus,
}

/// The latest policy snapshot as status aggregation reads it.
#[derive(Clone, Debug, Default)]
pub struct PolicyReport {
    /// Snapshot name.
    pub name: String,
    /// Its decisions.
    pub decisions: Vec<ClusterDecision>,
    /// Placement type of the policy.
    pub placement_type: PlacementType,
    /// N (PickN).
    pub number_of_clusters: usize,
    /// Number of names (PickFixed).
    pub cluster_names: usize,
}

/// Everything aggregation needs.
#[derive(Clone, Debug)]
pub struct StatusInput<'a> {
    /// `ClusterResourcePlacement` or `ResourcePlacement` (prefix of the condition types).
    pub kind: &'a str,
    /// Placement generation.
    pub generation: i64,
    /// Rollout strategy is External.
    pub external: bool,
    /// Apply strategy is ReportDiff.
    pub report_diff: bool,
    /// Identifiers of the current selection.
    pub selection: Vec<ResourceIdentifier>,
    /// Latest master resource snapshot: name and index; none for an `External` placement no run
    /// asked to snapshot yet (SD-25 `upstream` profile).
    pub latest_snapshot: Option<(String, u64)>,
    /// Index of every master resource snapshot by name.
    pub snapshot_index: BTreeMap<String, u64>,
    /// Identifiers of every snapshot group by index.
    pub group_resources: BTreeMap<u64, Vec<ResourceIdentifier>>,
    /// Latest policy snapshot, when the scheduler has reported on it (§11.2 step 2 already judged
    /// in the `…Scheduled` condition of `status`).
    pub policy: Option<PolicyReport>,
    /// The placement's bindings.
    pub bindings: &'a [BindingReport],
    /// Placements over more clusters than this keep a compact status (SD-23).
    pub inline_limit: usize,
}

/// At most this many clusters are listed in a compact placement status.
pub const INLINE_CAP: usize = 100;

/// Fills `status` (which already carries the `…Scheduled` condition of this pass) from steps 1
/// and 3–10 of §11.2.
pub fn aggregate(status: &mut PlacementStatus, input: &StatusInput, now: Timestamp) {
    let scheduled_type = format!("{}Scheduled", input.kind);
    status.selected_resources = Some(input.selection.clone());
    status.observed_resource_index = input.latest_snapshot.as_ref().map(|(_, index)| index.to_string());
    // Set again below only when this pass lists a compact placement.
    status.cluster_summary = None;
    let scheduled = find(&status.conditions, &scheduled_type).map(|c| c.status.clone());
    let Some(policy) = input
        .policy
        .as_ref()
        .filter(|_| scheduled.as_deref().is_some_and(|s| s != "Unknown"))
    else {
        status.placement_statuses = None;
        return;
    };
    let steps: &[Step] = if input.report_diff { &DIFF_STEPS } else { &APPLY_STEPS };
    let (selected, unselected): (Vec<&ClusterDecision>, Vec<&ClusterDecision>) =
        policy.decisions.iter().partition(|d| d.selected);
    let wanted = match policy.placement_type {
        PlacementType::PickAll => 0,
        PlacementType::PickN => policy.number_of_clusters,
        PlacementType::PickFixed => policy.cluster_names,
    };
    let failed_to_schedule = wanted.saturating_sub(selected.len()).min(unselected.len());

    // Keyed once: per-cluster lookups in lists would cost O(fleet²) per pass.
    let mut old: HashMap<String, PerClusterPlacementStatus> = status
        .placement_statuses
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.cluster_name.is_empty())
        .map(|c| (c.cluster_name.clone(), c))
        .collect();
    let current_bindings: HashMap<&str, &BindingReport> = input
        .bindings
        .iter()
        .filter(|b| {
            !b.deleting && !b.spec.target_cluster.is_empty() && b.spec.scheduling_policy_snapshot_name == policy.name
        })
        .map(|b| (b.spec.target_cluster.as_str(), b))
        .collect();
    let mut clusters = Vec::new();
    for decision in &selected {
        let mut cluster = old.remove(&decision.cluster_name).unwrap_or_default();
        cluster.cluster_name = decision.cluster_name.clone();
        cluster.observed_resource_index = None;
        cluster.applicable_cluster_resource_overrides = None;
        cluster.applicable_resource_overrides = None;
        cluster.failed_placements = None;
        cluster.drifted_placements = None;
        cluster.diffed_placements = None;
        let mut conditions = cluster.conditions.take();
        let mut touched = vec!["Scheduled"];
        set(
            &mut conditions,
            "Scheduled",
            Status::True,
            "Scheduled",
            decision.reason.clone(),
            input.generation,
            now,
        );
        let binding = current_bindings.get(decision.cluster_name.as_str()).copied();
        match binding {
            None => {
                set(
                    &mut conditions,
                    Step::RolloutStarted.name(),
                    Status::Unknown,
                    Step::RolloutStarted.pending(),
                    "",
                    input.generation,
                    now,
                );
                touched.push(Step::RolloutStarted.name());
            }
            Some(binding) if input.external => {
                // Upstream omits an empty index.
                cluster.observed_resource_index = input
                    .snapshot_index
                    .get(&binding.spec.resource_snapshot_name)
                    .map(u64::to_string);
                copy_steps(
                    &mut cluster,
                    &mut conditions,
                    &mut touched,
                    binding,
                    steps,
                    input.generation,
                    now,
                );
            }
            Some(binding) => {
                let latest = input.latest_snapshot.as_ref();
                cluster.observed_resource_index = latest.map(|(_, index)| index.to_string());
                if latest.is_none_or(|(name, _)| binding.spec.resource_snapshot_name != *name) {
                    let fresh_false = find(&binding.status.conditions, "RolloutStarted")
                        .is_some_and(|c| c.status == "False" && c.observed_generation == Some(binding.generation));
                    let (s, reason, message) = if fresh_false {
                        (
                            Status::False,
                            "RolloutNotStartedYet",
                            "The rollout is being blocked by the rollout strategy",
                        )
                    } else {
                        (Status::Unknown, Step::RolloutStarted.pending(), "")
                    };
                    set(
                        &mut conditions,
                        "RolloutStarted",
                        s,
                        reason,
                        message,
                        input.generation,
                        now,
                    );
                    touched.push("RolloutStarted");
                } else {
                    copy_steps(
                        &mut cluster,
                        &mut conditions,
                        &mut touched,
                        binding,
                        steps,
                        input.generation,
                        now,
                    );
                }
            }
        }
        if let Some(list) = conditions.as_mut() {
            list.retain(|c| touched.contains(&c.type_.as_str()));
        }
        cluster.conditions = conditions;
        clusters.push(cluster);
    }
    for decision in unselected.iter().take(failed_to_schedule) {
        let mut conditions = None;
        set(
            &mut conditions,
            "Scheduled",
            Status::False,
            "ScheduleFailed",
            decision.reason.clone(),
            input.generation,
            now,
        );
        clusters.push(PerClusterPlacementStatus {
            conditions,
            ..Default::default()
        });
    }
    let selected_count = selected.len();
    let per_cluster: Vec<PerClusterPlacementStatus> = clusters.iter().take(selected_count).cloned().collect();
    if clusters.len() > input.inline_limit {
        compact(status, &mut clusters);
    }
    status.placement_statuses = (!clusters.is_empty()).then_some(clusters);
    if selected_count == 0 {
        keep_only(&mut status.conditions, &[scheduled_type.as_str()]);
        return;
    }
    let placement_type = |step: Step| format!("{}{}", input.kind, step.name());
    if input.external {
        let indexes: Vec<&str> = per_cluster
            .iter()
            .map(|c| c.observed_resource_index.as_deref().unwrap_or_default())
            .collect();
        let first = indexes[0];
        let external_unknown = |status: &mut PlacementStatus, message: String| {
            set(
                &mut status.conditions,
                &placement_type(Step::RolloutStarted),
                Status::Unknown,
                "RolloutControlledByExternalController",
                message,
                input.generation,
                now,
            );
            keep_only(
                &mut status.conditions,
                &[scheduled_type.as_str(), placement_type(Step::RolloutStarted).as_str()],
            );
        };
        let unobserved = if indexes.iter().any(|i| *i != first) {
            Some("Rollout is controlled by an external controller and different resource snapshot versions are observed across clusters".to_string())
        } else if first.is_empty() {
            Some(format!(
                "Rollout is controlled by an external controller and no resource snapshot name is observed across clusters, probably rollout has not started yet; check the {} objects",
                if input.kind == "ClusterResourcePlacement" {
                    "ClusterStagedUpdateRun"
                } else {
                    "StagedUpdateRun"
                }
            ))
        } else {
            None
        };
        if let Some(message) = unobserved {
            status.observed_resource_index = None;
            status.selected_resources = None;
            external_unknown(status, message);
            return;
        }
        let index: u64 = first.parse().unwrap_or_default();
        status.observed_resource_index = Some(first.to_string());
        status.selected_resources = Some(input.group_resources.get(&index).cloned().unwrap_or_default());
        let not_started = per_cluster
            .iter()
            .find(|c| find(&c.conditions, "RolloutStarted").is_none_or(|r| r.status == "Unknown"));
        if let Some(cluster) = not_started {
            external_unknown(
                status,
                format!(
                    "Rollout is controlled by an external controller and cluster {} is in RolloutStarted Unknown state",
                    cluster.cluster_name
                ),
            );
            return;
        }
    }
    let overrides = per_cluster.iter().any(|c| {
        c.applicable_cluster_resource_overrides
            .as_ref()
            .is_some_and(|o| !o.is_empty())
            || c.applicable_resource_overrides.as_ref().is_some_and(|o| !o.is_empty())
    });
    let mut keep = vec![scheduled_type.clone()];
    for step in steps {
        let count = |s: &str| {
            per_cluster
                .iter()
                .filter(|c| find(&c.conditions, step.name()).map_or("Unknown", |x| x.status.as_str()) == s)
                .count()
        };
        let (unknown, failed) = (count("Unknown"), count("False"));
        let (s, reason, message) = if unknown > 0 {
            (
                Status::Unknown,
                step.pending(),
                format!(
                    "There are still {unknown} cluster(s) in the process of deciding whether to {}",
                    step.name()
                ),
            )
        } else if failed > 0 {
            let (reason, message) = step.failed(failed);
            (Status::False, reason, message)
        } else {
            let (reason, message) = step.succeeded(selected_count, overrides);
            (Status::True, reason, message)
        };
        set(
            &mut status.conditions,
            &placement_type(*step),
            s,
            reason,
            message,
            input.generation,
            now,
        );
        keep.push(placement_type(*step));
        if s != Status::True {
            break;
        }
    }
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    keep_only(&mut status.conditions, &keep);
}

/// Copies the binding's conditions in step order until one is not known or False (§11.2 step 6).
fn copy_steps(
    cluster: &mut PerClusterPlacementStatus,
    conditions: &mut Option<Vec<Condition>>,
    touched: &mut Vec<&'static str>,
    binding: &BindingReport,
    steps: &[Step],
    generation: i64,
    now: Timestamp,
) {
    for step in steps {
        touched.push(step.name());
        let fresh = find(&binding.status.conditions, step.name())
            .filter(|c| c.observed_generation == Some(binding.generation) && c.status != "Unknown");
        let Some(c) = fresh else {
            set(
                conditions,
                step.name(),
                Status::Unknown,
                step.pending(),
                "",
                generation,
                now,
            );
            return;
        };
        let s = if c.status == "True" {
            Status::True
        } else {
            Status::False
        };
        set(
            conditions,
            step.name(),
            s,
            &c.reason,
            c.message.clone(),
            generation,
            now,
        );
        match step {
            Step::RolloutStarted if s == Status::True => {
                cluster.applicable_cluster_resource_overrides =
                    binding.spec.cluster_resource_override_snapshots.clone();
                cluster.applicable_resource_overrides = binding.spec.resource_override_snapshots.clone();
            }
            Step::Applied | Step::Available => {
                if s == Status::False {
                    cluster.failed_placements = binding.status.failed_placements.clone();
                    cluster.diffed_placements = binding.status.diffed_placements.clone();
                }
                cluster.drifted_placements = binding.status.drifted_placements.clone();
            }
            Step::DiffReported if s == Status::True => {
                cluster.diffed_placements = binding.status.diffed_placements.clone();
            }
            _ => {}
        }
        if s == Status::False {
            return;
        }
    }
}

fn keep_only(conditions: &mut Option<Vec<Condition>>, types: &[&str]) {
    if let Some(list) = conditions.as_mut() {
        list.retain(|c| types.contains(&c.type_.as_str()) || !ALL_STEPS.iter().any(|s| c.type_.ends_with(s.name())));
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;

/// SD-23: keeps only the clusters with a condition that is not True, at most [`INLINE_CAP`], and
/// counts the rest.
fn compact(status: &mut PlacementStatus, clusters: &mut Vec<PerClusterPlacementStatus>) {
    let total = clusters.len();
    let done = |c: &PerClusterPlacementStatus| {
        c.conditions
            .as_ref()
            .is_some_and(|list| !list.is_empty() && list.iter().all(|x| x.status == "True"))
    };
    clusters.retain(|c| !done(c));
    let pending = clusters.len();
    clusters.truncate(INLINE_CAP);
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    status.cluster_summary = Some(PlacementClusterSummary {
        total: count(total),
        done_unlisted: count(total - pending),
        pending_unlisted: count(pending - clusters.len()),
    });
}
