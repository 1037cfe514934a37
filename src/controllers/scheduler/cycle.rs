//! One scheduling cycle for one placement (`placement-pipeline.md` §7.2, §7.5–§7.7): from the
//! latest policy snapshot, the member clusters and the placement's bindings to the binding
//! writes to make and the policy snapshot status to report. Pure: no I/O, `now` is passed in.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use super::eligibility::eligibility;
use super::filters::{affinity_score, filter};
use crate::api::cluster::MemberCluster;
use crate::api::condition::Condition;
use crate::api::placement::{
    BindingState, ClusterDecision, ClusterScore, PlacementPolicy, PlacementType, SchedulingPolicySnapshotStatus,
};
use crate::conditions::{Status, find, set};

/// Upstream reports at most this many clusters that were not picked, and as many filtered out.
const MAX_UNSELECTED_DECISIONS: usize = 20;
/// The policy snapshot condition the scheduler writes.
pub const SCHEDULED: &str = "Scheduled";
/// Reason of a fulfilled policy.
pub const FULFILLED: &str = "SchedulingPolicyFulfilled";
/// Reason of an unfulfilled policy.
pub const UNFULFILLED: &str = "SchedulingPolicyUnfulfilled";

/// The latest policy snapshot as the scheduler reads it.
#[derive(Clone, Debug)]
pub struct PolicyInput<'a> {
    /// Snapshot name.
    pub name: &'a str,
    /// The snapshot's own `metadata.generation`.
    pub generation: i64,
    /// Its `CRP-generation` annotation.
    pub placement_generation: i64,
    /// Its `number-of-clusters` annotation (PickN).
    pub number_of_clusters: Option<usize>,
    /// The policy it records.
    pub policy: Option<&'a PlacementPolicy>,
    /// Its current status.
    pub status: &'a SchedulingPolicySnapshotStatus,
}

/// A binding as the scheduler classifies it.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingView {
    /// Binding name.
    pub name: String,
    /// `spec.state`.
    pub state: BindingState,
    /// `spec.targetCluster`.
    pub target: String,
    /// `spec.schedulingPolicySnapshotName`.
    pub policy_snapshot: String,
    /// Has a deletionTimestamp.
    pub deleting: bool,
    /// Carries `scheduler-crb-cleanup`.
    pub has_finalizer: bool,
    /// Its `previous-binding-state` annotation.
    pub previous_state: Option<BindingState>,
    /// `spec.clusterDecision`.
    pub decision: ClusterDecision,
}

/// A write to a binding.
#[derive(Clone, Debug, PartialEq)]
pub enum BindingAction {
    /// Create a `Scheduled` binding.
    Create {
        /// Binding name.
        name: String,
        /// Target cluster.
        cluster: String,
        /// Decision to record.
        decision: ClusterDecision,
    },
    /// Point a binding at the latest policy snapshot with `state` and a fresh decision, and drop
    /// its `previous-binding-state`.
    Repoint {
        /// Binding name.
        binding: String,
        /// State to have.
        state: BindingState,
        /// Decision to record.
        decision: ClusterDecision,
    },
    /// Mark a binding `Unscheduled`, remembering its state.
    Unschedule {
        /// Binding name.
        binding: String,
        /// State before.
        previous: BindingState,
    },
    /// Remove `scheduler-crb-cleanup` from a deleting binding.
    DropFinalizer {
        /// Binding name.
        binding: String,
    },
}

/// What a cycle decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Binding writes, in order.
    pub actions: Vec<BindingAction>,
    /// New policy snapshot status; `None` when nothing would change.
    pub status: Option<SchedulingPolicySnapshotStatus>,
    /// How many clusters the policy selects when that is more than its decisions can list
    /// ([`DECISION_LIMIT`], SD-27); `None` otherwise, and when nothing was decided.
    pub selected_beyond_limit: Option<usize>,
}

/// Most cluster decisions a policy snapshot's status holds: the API's `maxItems`, as upstream's
/// scheduler keeps them (selected clusters first, then as many not-picked ones as fit).
pub const DECISION_LIMIT: usize = 1000;

/// What the placement is: its name and, for a ResourcePlacement, its namespace.
#[derive(Clone, Copy, Debug)]
pub struct PlacementKey<'a> {
    /// Name.
    pub name: &'a str,
    /// Namespace of a ResourcePlacement.
    pub namespace: Option<&'a str>,
}

enum Class {
    Deleting,
    Unscheduled,
    Dangling,
    Obsolete,
    Current,
}

/// Runs one cycle.
pub fn schedule<C: Borrow<MemberCluster>>(
    placement: PlacementKey,
    policy: &PolicyInput,
    clusters: &[C],
    bindings: &[BindingView],
    now: Timestamp,
) -> Outcome {
    let live: BTreeMap<String, &MemberCluster> = clusters
        .iter()
        .map(Borrow::borrow)
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .map(|c| (c.name_any(), c))
        .collect();
    let mut actions = Vec::new();
    let mut current = Vec::new();
    let mut obsolete = Vec::new();
    let mut unscheduled = Vec::new();
    for binding in bindings {
        let class = if binding.deleting {
            Class::Deleting
        } else if binding.state == BindingState::Unscheduled {
            Class::Unscheduled
        } else if !live.contains_key(&binding.target) {
            Class::Dangling
        } else if binding.policy_snapshot != policy.name {
            Class::Obsolete
        } else {
            Class::Current
        };
        match class {
            Class::Deleting if binding.has_finalizer => actions.push(BindingAction::DropFinalizer {
                binding: binding.name.clone(),
            }),
            Class::Deleting => {}
            Class::Unscheduled => unscheduled.push(binding),
            Class::Dangling => actions.push(unschedule(binding)),
            Class::Obsolete => obsolete.push(binding),
            Class::Current => current.push(binding),
        }
    }
    let mut cycle = Cycle {
        placement,
        policy,
        live,
        current,
        obsolete,
        unscheduled,
        actions,
        now,
    };
    // SD-41: an invalid selector schedules nothing new and unschedules nothing.
    if let Some(problem) = policy.policy.and_then(super::filters::selector_problem) {
        return Outcome {
            status: report_invalid(policy, &problem, now),
            actions: cycle.actions,
            selected_beyond_limit: None,
        };
    }
    let kind = policy.policy.map(|p| p.placement_type).unwrap_or_default();
    let (selected, unselected, fulfilled) = match kind {
        PlacementType::PickAll => cycle.pick_all(),
        PlacementType::PickN => cycle.pick_n(),
        PlacementType::PickFixed => match cycle.pick_fixed() {
            Some(result) => result,
            None => {
                return Outcome {
                    actions: cycle.actions,
                    status: None,
                    selected_beyond_limit: None,
                };
            }
        },
    };
    let selected_beyond_limit = (selected.len() > DECISION_LIMIT).then_some(selected.len());
    let status = report(policy, selected, unselected, fulfilled, now);
    Outcome {
        actions: cycle.actions,
        status,
        selected_beyond_limit,
    }
}

struct Cycle<'a> {
    placement: PlacementKey<'a>,
    policy: &'a PolicyInput<'a>,
    live: BTreeMap<String, &'a MemberCluster>,
    current: Vec<&'a BindingView>,
    obsolete: Vec<&'a BindingView>,
    unscheduled: Vec<&'a BindingView>,
    actions: Vec<BindingAction>,
    now: Timestamp,
}

/// A cluster that passed the filters, with its affinity score.
struct Candidate {
    cluster: String,
    score: i32,
}

type Picked = (Vec<ClusterDecision>, Vec<ClusterDecision>, bool);

impl Cycle<'_> {
    fn already_selected(&self) -> BTreeSet<&str> {
        self.current.iter().map(|b| b.target.as_str()).collect()
    }

    /// Filters every live cluster not already selected: passed candidates (by name) and the
    /// filtered-out decisions (by name).
    fn run_filters(&self) -> (Vec<Candidate>, Vec<ClusterDecision>) {
        let selected = self.already_selected();
        let mut passed = Vec::new();
        let mut filtered = Vec::new();
        for (name, cluster) in &self.live {
            if selected.contains(name.as_str()) {
                continue;
            }
            match filter(cluster, self.policy.policy, self.placement.namespace, self.now) {
                Ok(()) => passed.push(Candidate {
                    cluster: name.clone(),
                    score: affinity_score(cluster, self.policy.policy),
                }),
                Err(reason) => filtered.push(ClusterDecision {
                    cluster_name: name.clone(),
                    selected: false,
                    cluster_score: None,
                    reason,
                }),
            }
        }
        (passed, filtered)
    }

    fn pick_all(&mut self) -> Picked {
        let (passed, filtered) = self.run_filters();
        let picked: Vec<(String, ClusterDecision)> = passed
            .into_iter()
            .map(|c| (c.cluster.clone(), scored_decision(&c.cluster, c.score)))
            .collect();
        // A cluster already picked stays picked when it stops being eligible (no heartbeat, its
        // agent or API server down): a run in progress waits for it rather than losing it (SD-38).
        let mut selected = self.current_decisions();
        selected.extend(self.cross_reference(picked));
        (selected, truncate(filtered), true)
    }

    fn pick_n(&mut self) -> Picked {
        let n = self
            .policy
            .number_of_clusters
            .or_else(|| {
                self.policy
                    .policy
                    .and_then(|p| p.number_of_clusters)
                    .and_then(|n| usize::try_from(n).ok())
            })
            .unwrap_or_default();
        let have = self.current.len();
        if have > n || (have == n && !self.obsolete.is_empty()) {
            for binding in std::mem::take(&mut self.obsolete) {
                self.actions.push(unschedule(binding));
            }
            let mut by_rank: Vec<&BindingView> = self.current.clone();
            by_rank.sort_by(|a, b| {
                let bound = |x: &BindingView| x.state == BindingState::Bound;
                (bound(a), score_of(a), &a.target).cmp(&(bound(b), score_of(b), &b.target))
            });
            let excess = have.saturating_sub(n);
            let removed: BTreeSet<String> = by_rank.iter().take(excess).map(|b| b.name.clone()).collect();
            for binding in by_rank.iter().take(excess) {
                self.actions.push(unschedule(binding));
            }
            self.current.retain(|b| !removed.contains(&b.name));
            return (self.current_decisions(), Vec::new(), true);
        }
        if have == n {
            return (self.current_decisions(), Vec::new(), true);
        }
        let desired = n - have;
        let (mut passed, filtered) = self.run_filters();
        passed.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| b.cluster.cmp(&a.cluster)));
        let rest = passed.split_off(desired.min(passed.len()));
        let picked: Vec<(String, ClusterDecision)> = passed
            .into_iter()
            .map(|c| (c.cluster.clone(), scored_decision(&c.cluster, c.score)))
            .collect();
        let mut selected = self.current_decisions();
        selected.extend(self.cross_reference(picked));
        let fulfilled = selected.len() >= n;
        let mut unselected: Vec<ClusterDecision> = rest
            .into_iter()
            .take(MAX_UNSELECTED_DECISIONS)
            .map(|c| ClusterDecision {
                reason: format!(
                    "Cluster {:?} does not score high enough (affinity score: {}, topology spread score: 0)",
                    c.cluster, c.score
                ),
                cluster_name: c.cluster,
                selected: false,
                cluster_score: Some(ClusterScore {
                    affinity_score: Some(c.score),
                    priority_score: Some(0),
                }),
            })
            .collect();
        unselected.extend(truncate(filtered));
        (selected, unselected, fulfilled)
    }

    /// `None` when `clusterNames` is empty: upstream then does nothing at all.
    fn pick_fixed(&mut self) -> Option<Picked> {
        let names: Vec<String> = self
            .policy
            .policy
            .and_then(|p| p.cluster_names.clone())
            .unwrap_or_default();
        if names.is_empty() {
            return None;
        }
        let selected_now = self
            .already_selected()
            .into_iter()
            .map(str::to_string)
            .collect::<BTreeSet<_>>();
        let mut picked = Vec::new();
        let mut unselected = Vec::new();
        for name in names.iter().collect::<BTreeSet<_>>() {
            match self.live.get(name) {
                None => unselected.push(ClusterDecision {
                    cluster_name: name.clone(),
                    selected: false,
                    cluster_score: None,
                    reason: format!("Specified cluster {name:?} is not found"),
                }),
                Some(cluster) => match eligibility(cluster, self.now) {
                    Err(reason) => unselected.push(ClusterDecision {
                        cluster_name: name.clone(),
                        selected: false,
                        cluster_score: None,
                        reason: format!("Cluster {name:?} is not eligible for resource placement yet: {reason}"),
                    }),
                    Ok(()) if selected_now.contains(name) => {}
                    Ok(()) => picked.push((
                        name.clone(),
                        ClusterDecision {
                            cluster_name: name.clone(),
                            selected: true,
                            cluster_score: None,
                            reason: format!(
                                "Successfully scheduled resources for placement in {name:?}: picked by scheduling policy"
                            ),
                        },
                    )),
                },
            }
        }
        let fulfilled = unselected.is_empty();
        let mut selected = self.current_decisions();
        selected.extend(self.cross_reference(picked));
        Some((selected, unselected, fulfilled))
    }

    fn current_decisions(&self) -> Vec<ClusterDecision> {
        self.current.iter().map(|b| b.decision.clone()).collect()
    }

    /// Gives every picked cluster a binding (reusing an obsolete or unscheduled one), unschedules
    /// obsolete bindings whose cluster was not picked, and returns the picked decisions.
    fn cross_reference(&mut self, picked: Vec<(String, ClusterDecision)>) -> Vec<ClusterDecision> {
        let mut decisions = Vec::new();
        let mut reused = BTreeSet::new();
        for (cluster, decision) in picked {
            let obsolete = self.obsolete.iter().find(|b| b.target == cluster);
            let unscheduled = self.unscheduled.iter().find(|b| b.target == cluster);
            let action = match (obsolete, unscheduled) {
                (Some(b), _) => {
                    reused.insert(b.name.clone());
                    BindingAction::Repoint {
                        binding: b.name.clone(),
                        state: b.state,
                        decision: decision.clone(),
                    }
                }
                (None, Some(b)) => BindingAction::Repoint {
                    binding: b.name.clone(),
                    state: b.previous_state.unwrap_or(BindingState::Scheduled),
                    decision: decision.clone(),
                },
                (None, None) => BindingAction::Create {
                    name: binding_name(self.placement.name, &cluster, self.now),
                    cluster: cluster.clone(),
                    decision: decision.clone(),
                },
            };
            self.actions.push(action);
            decisions.push(decision);
        }
        for binding in std::mem::take(&mut self.obsolete) {
            if !reused.contains(&binding.name) {
                self.actions.push(unschedule(binding));
            }
        }
        decisions
    }
}

fn score_of(binding: &BindingView) -> i32 {
    binding
        .decision
        .cluster_score
        .as_ref()
        .and_then(|s| s.affinity_score)
        .unwrap_or_default()
}

fn unschedule(binding: &BindingView) -> BindingAction {
    BindingAction::Unschedule {
        binding: binding.name.clone(),
        previous: binding.state,
    }
}

fn truncate(mut decisions: Vec<ClusterDecision>) -> Vec<ClusterDecision> {
    decisions.truncate(MAX_UNSELECTED_DECISIONS);
    decisions
}

/// The decision for a cluster picked with a score.
pub fn scored_decision(cluster: &str, affinity: i32) -> ClusterDecision {
    ClusterDecision {
        cluster_name: cluster.to_string(),
        selected: true,
        cluster_score: Some(ClusterScore {
            affinity_score: Some(affinity),
            priority_score: Some(0),
        }),
        reason: format!(
            "Successfully scheduled resources for placement in {cluster:?} (affinity score: {affinity}, topology spread score: 0): picked by scheduling policy"
        ),
    }
}

/// `<placement[:26]>-<cluster[:27]>-<8 hex>`, a DNS-1123 label (§2.3). The suffix is derived from
/// the time so a binding recreated after a deletion gets a new name.
pub fn binding_name(placement: &str, cluster: &str, now: Timestamp) -> String {
    fn part(text: &str, max: usize) -> String {
        let cut: String = text.chars().take(max).map(|c| if c == '.' { '-' } else { c }).collect();
        cut.trim_end_matches('-').to_string()
    }
    let digest = Sha256::digest(format!("{placement}/{cluster}/{}", now.as_nanosecond()));
    let suffix = hex::encode(&digest[..4]);
    format!("{}-{}-{suffix}", part(placement, 26), part(cluster, 27))
}

/// The status to write, or `None` when decisions, condition and observed generation are as
/// they were (§7.6 last paragraph).
fn report(
    policy: &PolicyInput,
    mut selected: Vec<ClusterDecision>,
    unselected: Vec<ClusterDecision>,
    fulfilled: bool,
    now: Timestamp,
) -> Option<SchedulingPolicySnapshotStatus> {
    let found = selected.len();
    let (status, reason, message) = if fulfilled {
        (
            Status::True,
            FULFILLED,
            format!("found all cluster needed as specified by the scheduling policy, found {found} cluster(s)"),
        )
    } else {
        (
            Status::False,
            UNFULFILLED,
            format!(
                "could not find all clusters needed as specified by the scheduling policy, found {found} cluster(s) instead"
            ),
        )
    };
    selected.extend(unselected);
    selected.truncate(DECISION_LIMIT);
    let new = scheduled_status(policy, status, reason, message, Some(selected), now);
    (!unchanged(policy.status, &new)).then_some(new)
}

/// The policy snapshot's status with `Scheduled` set and `target_clusters` as given.
fn scheduled_status(
    policy: &PolicyInput,
    status: Status,
    reason: &str,
    message: String,
    target_clusters: Option<Vec<ClusterDecision>>,
    now: Timestamp,
) -> SchedulingPolicySnapshotStatus {
    let mut conditions = policy.status.conditions.clone();
    set(
        &mut conditions,
        SCHEDULED,
        status,
        reason,
        message,
        policy.generation,
        now,
    );
    SchedulingPolicySnapshotStatus {
        observed_crp_generation: policy.placement_generation,
        conditions,
        target_clusters,
    }
}

/// Upstream's test for skipping the write: an equal `Scheduled` condition, the same decision per
/// cluster and the same placement generation.
fn unchanged(old: &SchedulingPolicySnapshotStatus, new: &SchedulingPolicySnapshotStatus) -> bool {
    equal_condition(find(&old.conditions, SCHEDULED), find(&new.conditions, SCHEDULED))
        && by_cluster(old.target_clusters.as_deref()) == by_cluster(new.target_clusters.as_deref())
        && old.observed_crp_generation == new.observed_crp_generation
}

/// `Scheduled=False` naming the invalid field; the recorded decisions stay as they are.
fn report_invalid(policy: &PolicyInput, problem: &str, now: Timestamp) -> Option<SchedulingPolicySnapshotStatus> {
    let old = policy.status;
    let message = format!(
        "the scheduling policy is not applied, fix it to schedule again (the clusters already picked keep their resources): {problem}"
    );
    let new = scheduled_status(
        policy,
        Status::False,
        UNFULFILLED,
        message,
        old.target_clusters.clone(),
        now,
    );
    // The message names the field, so a different problem is written even under an equal condition.
    let same_message =
        find(&old.conditions, SCHEDULED).map(|c| &c.message) == find(&new.conditions, SCHEDULED).map(|c| &c.message);
    (!(same_message && unchanged(old, &new))).then_some(new)
}

fn by_cluster(decisions: Option<&[ClusterDecision]>) -> BTreeMap<&str, &ClusterDecision> {
    decisions
        .unwrap_or_default()
        .iter()
        .map(|d| (d.cluster_name.as_str(), d))
        .collect()
}

/// Upstream's "equal condition": type, status and reason equal, and not older.
fn equal_condition(old: Option<&Condition>, new: Option<&Condition>) -> bool {
    match (old, new) {
        (Some(o), Some(n)) => {
            o.type_ == n.type_
                && o.status == n.status
                && o.reason == n.reason
                && o.observed_generation.unwrap_or_default() >= n.observed_generation.unwrap_or_default()
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "cycle_tests.rs"]
mod tests;
