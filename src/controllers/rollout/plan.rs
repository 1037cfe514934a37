//! One rolling-update pass over a placement's bindings (§9.2). Pure.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::condition::Condition;
use crate::api::placement::{ApplyStrategy, BindingState, RollingUpdateConfig};
use crate::conditions::{find, is_false_for, is_true_for};

/// Binding condition reasons that mean "not finished yet" rather than "failed" (§8).
const IN_PROGRESS_REASONS: [&str; 4] = [
    "OverriddenPending",
    "WorkNotSynchronizedYet",
    "ApplyPending",
    "ResourceNotAvailableYet",
];
/// Reason of an `Available` that the member agent could not track.
const UNTRACKABLE: &str = "NotAllWorkAreAvailabilityTrackable";
/// How long to wait while a cluster has a binding being deleted next to a live one.
const DELETING_WAIT: Duration = Duration::from_secs(5);

/// A binding as the rollout controller reads it.
#[derive(Clone, Debug, Default)]
pub struct RolloutBinding {
    /// Name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `spec.state`.
    pub state: BindingState,
    /// Being deleted.
    pub deleting: bool,
    /// `spec.targetCluster`.
    pub cluster: String,
    /// `spec.resourceSnapshotName`.
    pub snapshot: String,
    /// `spec.applyStrategy`.
    pub apply_strategy: Option<ApplyStrategy>,
    /// `previous-binding-state` annotation (Unscheduled bindings).
    pub previous_state: Option<BindingState>,
    /// `status.conditions`.
    pub conditions: Option<Vec<Condition>>,
}

/// What the placement asks for.
#[derive(Clone, Debug)]
pub struct RolloutInput<'a> {
    /// Rolling update parameters as written (defaults applied here).
    pub config: RollingUpdateConfig,
    /// The placement's apply strategy with defaults.
    pub apply_strategy: ApplyStrategy,
    /// Name of the latest master resource snapshot.
    pub latest_snapshot: &'a str,
    /// Clusters the policy targets: N for PickN, the names for PickFixed, `None` for PickAll
    /// (then the scheduled and bound bindings count).
    pub target: Option<usize>,
    /// The placement's bindings.
    pub bindings: &'a [RolloutBinding],
}

/// A write the pass makes.
#[derive(Clone, Debug, PartialEq)]
pub enum RolloutAction {
    /// Replace the binding's apply strategy with the placement's.
    PushApplyStrategy {
        /// Binding.
        binding: String,
    },
    /// Bind to the latest snapshot, then set `RolloutStarted` True.
    Bind {
        /// Binding.
        binding: String,
    },
    /// Delete an Unscheduled binding.
    Delete {
        /// Binding.
        binding: String,
    },
    /// Set `RolloutStarted` True (up to date) or False (held back by the strategy).
    MarkStarted {
        /// Binding.
        binding: String,
        /// True or False.
        started: bool,
    },
}

/// The pass's writes and when to look again.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutPlan {
    /// Writes, in order.
    pub actions: Vec<RolloutAction>,
    /// Look again after this long even without a change.
    pub requeue_after: Option<Duration>,
}

/// Plans one pass.
pub fn plan(input: &RolloutInput, now: Timestamp) -> RolloutPlan {
    let mut result = RolloutPlan::default();
    let live: Vec<&RolloutBinding> = input.bindings.iter().filter(|b| !b.deleting).collect();
    for binding in &live {
        if binding.state != BindingState::Unscheduled && binding.apply_strategy.as_ref() != Some(&input.apply_strategy)
        {
            result.actions.push(RolloutAction::PushApplyStrategy {
                binding: binding.name.clone(),
            });
        }
    }
    if !result.actions.is_empty() {
        return result;
    }
    let period =
        Duration::from_secs(u64::try_from(input.config.unavailable_period_seconds.unwrap_or(60)).unwrap_or(60));
    // A cluster whose old binding is still being deleted waits for it to go.
    let waiting: Vec<&str> = input
        .bindings
        .iter()
        .filter(|b| b.deleting)
        .map(|b| b.cluster.as_str())
        .filter(|c| live.iter().any(|b| b.cluster == *c))
        .collect();
    if !waiting.is_empty() {
        result.requeue_after = Some(DELETING_WAIT);
    }
    let considered: Vec<&RolloutBinding> = live
        .into_iter()
        .filter(|b| !waiting.contains(&b.cluster.as_str()))
        .collect();

    let mut removals = Vec::new();
    let mut free_removals = Vec::new();
    let mut bindable = Vec::new();
    let mut updates = Vec::new();
    let mut failed_updates = Vec::new();
    let mut current = Vec::new();
    let mut ready = 0usize;
    let mut can_be_ready = 0usize;
    for binding in &considered {
        let (is_ready, wait) = readiness(binding, period, now);
        if let Some(wait) = wait {
            result.requeue_after = Some(result.requeue_after.map_or(wait, |w| w.min(wait)));
        }
        match binding.state {
            BindingState::Unscheduled if binding.previous_state == Some(BindingState::Bound) => {
                ready += usize::from(is_ready);
                can_be_ready += 1;
                removals.push(*binding);
            }
            BindingState::Unscheduled => free_removals.push(*binding),
            BindingState::Scheduled => bindable.push(*binding),
            BindingState::Bound => {
                ready += usize::from(is_ready);
                can_be_ready += 1;
                if binding.snapshot == input.latest_snapshot {
                    current.push(*binding);
                } else if has_failed(binding) {
                    failed_updates.push(*binding);
                } else {
                    updates.push(*binding);
                }
            }
        }
    }
    let target = input.target.unwrap_or_else(|| {
        considered
            .iter()
            .filter(|b| b.state != BindingState::Unscheduled)
            .count()
    });
    let max_unavailable = scaled(input.config.max_unavailable.as_ref(), target);
    let max_surge = scaled(input.config.max_surge.as_ref(), target);
    let mut to_remove = i64::try_from(ready).unwrap_or_default()
        - i64::try_from(target.saturating_sub(max_unavailable)).unwrap_or_default();
    let mut to_add =
        i64::try_from(target + max_surge).unwrap_or_default() - i64::try_from(can_be_ready).unwrap_or_default();

    for binding in free_removals {
        result.actions.push(RolloutAction::Delete {
            binding: binding.name.clone(),
        });
    }
    for binding in &failed_updates {
        result.actions.push(RolloutAction::Bind {
            binding: binding.name.clone(),
        });
    }
    for binding in removals {
        if to_remove > 0 {
            to_remove -= 1;
            result.actions.push(RolloutAction::Delete {
                binding: binding.name.clone(),
            });
        }
    }
    for binding in updates {
        if to_remove > 0 {
            to_remove -= 1;
            result.actions.push(RolloutAction::Bind {
                binding: binding.name.clone(),
            });
        } else {
            mark(&mut result, binding, false);
        }
    }
    for binding in bindable {
        if to_add > 0 {
            to_add -= 1;
            result.actions.push(RolloutAction::Bind {
                binding: binding.name.clone(),
            });
        } else {
            mark(&mut result, binding, false);
        }
    }
    for binding in current {
        mark(&mut result, binding, true);
    }
    result
}

fn mark(result: &mut RolloutPlan, binding: &RolloutBinding, started: bool) {
    let already = if started {
        is_true_for(&binding.conditions, "RolloutStarted", binding.generation)
    } else {
        is_false_for(&binding.conditions, "RolloutStarted", binding.generation)
    };
    if !already {
        result.actions.push(RolloutAction::MarkStarted {
            binding: binding.name.clone(),
            started,
        });
    }
}

/// Whether the binding counts as ready, and how long until an untrackable one will.
fn readiness(binding: &RolloutBinding, period: Duration, now: Timestamp) -> (bool, Option<Duration>) {
    if is_true_for(&binding.conditions, "DiffReported", binding.generation) {
        return (true, None);
    }
    if !is_true_for(&binding.conditions, "Available", binding.generation) {
        return (false, None);
    }
    let available = find(&binding.conditions, "Available").expect("checked above");
    if available.reason != UNTRACKABLE {
        return (true, None);
    }
    let since = available.last_transition_time.as_ref().map_or(now, |t| t.0);
    let elapsed = now.duration_since(since).unsigned_abs();
    if elapsed >= period {
        (true, None)
    } else {
        (false, Some(period - elapsed))
    }
}

/// §8 "has failed": a step False at the current generation for a reason other than progress.
fn has_failed(binding: &RolloutBinding) -> bool {
    ["Overridden", "WorkSynchronized", "Applied", "Available"]
        .iter()
        .any(|t| {
            find(&binding.conditions, t).is_some_and(|c| {
                c.status == "False"
                    && c.observed_generation == Some(binding.generation)
                    && !IN_PROGRESS_REASONS.contains(&c.reason.as_str())
            })
        })
}

/// A count or percentage of `target`, rounded up; 25% when absent.
fn scaled(value: Option<&IntOrString>, target: usize) -> usize {
    match value {
        Some(IntOrString::Int(n)) => usize::try_from(*n).unwrap_or_default(),
        Some(IntOrString::String(text)) => {
            let percent: usize = text.trim_end_matches('%').parse().unwrap_or(25);
            (target * percent).div_ceil(100)
        }
        None => (target * 25).div_ceil(100),
    }
}

#[cfg(test)]
mod tests {
    use jiff::ToSpan;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn now() -> Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    fn binding(name: &str, state: BindingState, snapshot: &str, available: Option<&str>) -> RolloutBinding {
        RolloutBinding {
            name: name.into(),
            generation: 1,
            state,
            cluster: format!("cluster-{name}"),
            snapshot: snapshot.into(),
            apply_strategy: Some(ApplyStrategy::default().defaulted()),
            conditions: available.map(|reason| {
                vec![Condition {
                    type_: "Available".into(),
                    status: "True".into(),
                    reason: reason.into(),
                    observed_generation: Some(1),
                    last_transition_time: Some(Time(now() - 30.seconds())),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }
    }

    fn run(bindings: &[RolloutBinding]) -> RolloutPlan {
        plan(
            &RolloutInput {
                config: RollingUpdateConfig::default(),
                apply_strategy: ApplyStrategy::default().defaulted(),
                latest_snapshot: "crp-1-snapshot",
                target: None,
                bindings,
            },
            now(),
        )
    }

    fn bound(plan: &RolloutPlan) -> Vec<&str> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                RolloutAction::Bind { binding } => Some(binding.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn scheduled_clusters_are_all_bound_at_once_on_a_new_placement() {
        let bindings = [
            binding("a", BindingState::Scheduled, "", None),
            binding("b", BindingState::Scheduled, "", None),
            binding("c", BindingState::Scheduled, "", None),
        ];
        assert_eq!(bound(&run(&bindings)), ["a", "b", "c"]);
    }

    #[test]
    fn a_new_snapshot_updates_one_available_cluster_at_a_time() {
        let bindings = [
            binding("a", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
            binding("b", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
            binding("c", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
            binding("d", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
        ];
        let plan = run(&bindings);
        assert_eq!(bound(&plan), ["a"]);
        assert!(plan.actions.contains(&RolloutAction::MarkStarted {
            binding: "b".into(),
            started: false
        }));
    }

    #[test]
    fn nothing_moves_while_too_few_clusters_are_available() {
        let bindings = [
            binding("a", BindingState::Bound, "crp-1-snapshot", None),
            binding("b", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
            binding("c", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
            binding("d", BindingState::Bound, "crp-0-snapshot", Some("AllWorkAreAvailable")),
        ];
        assert!(bound(&run(&bindings)).is_empty());
    }

    #[test]
    fn untrackable_clusters_count_as_ready_after_the_unavailable_period() {
        let mut untrackable = binding("a", BindingState::Bound, "crp-1-snapshot", Some(UNTRACKABLE));
        untrackable.cluster = "x".into();
        let (ready, wait) = readiness(&untrackable, Duration::from_secs(60), now());
        assert!(!ready);
        assert_eq!(wait, Some(Duration::from_secs(30)));
        assert!(readiness(&untrackable, Duration::from_secs(20), now()).0);
    }

    #[test]
    fn never_bound_unscheduled_bindings_are_deleted_freely() {
        let mut gone = binding("a", BindingState::Unscheduled, "", None);
        gone.previous_state = Some(BindingState::Scheduled);
        assert_eq!(run(&[gone]).actions, [RolloutAction::Delete { binding: "a".into() }]);
    }

    #[test]
    fn a_changed_apply_strategy_is_pushed_first() {
        let mut stale = binding("a", BindingState::Bound, "crp-1-snapshot", None);
        stale.apply_strategy = None;
        assert_eq!(
            run(&[stale]).actions,
            [RolloutAction::PushApplyStrategy { binding: "a".into() }]
        );
    }

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(Some(&IntOrString::String("25%".into())), 3), 1);
        assert_eq!(scaled(Some(&IntOrString::String("50%".into())), 3), 2);
        assert_eq!(scaled(Some(&IntOrString::Int(2)), 3), 2);
        assert_eq!(scaled(None, 8), 2);
    }
}
