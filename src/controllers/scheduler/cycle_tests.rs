use jiff::{Timestamp, ToSpan};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

use super::*;
use crate::api::cluster::{AgentStatus, AgentType, MemberClusterSpec, MemberClusterStatus};
use crate::api::placement::{
    Affinity, ClusterAffinity, ClusterSelector, ClusterSelectorTerm, PreferredClusterSelector, Taint, TaintEffect,
};

fn now() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn joined(name: &str, labels: &[(&str, &str)]) -> MemberCluster {
    let mut mc = MemberCluster::new(name, MemberClusterSpec::default());
    mc.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let condition = |t: &str| Condition {
        type_: t.into(),
        status: "True".into(),
        reason: "r".into(),
        last_transition_time: Some(Time(now() - 10.minutes())),
        ..Default::default()
    };
    mc.status = Some(MemberClusterStatus {
        agent_status: Some(vec![AgentStatus {
            type_: AgentType::MemberAgent,
            conditions: Some(vec![condition("Joined"), condition("Healthy")]),
            last_received_heartbeat: Some(Time(now() - 30.seconds())),
        }]),
        ..Default::default()
    });
    mc
}

fn not_joined(name: &str) -> MemberCluster {
    MemberCluster::new(name, MemberClusterSpec::default())
}

fn binding(name: &str, cluster: &str, state: BindingState, policy: &str) -> BindingView {
    BindingView {
        name: name.into(),
        state,
        target: cluster.into(),
        policy_snapshot: policy.into(),
        deleting: false,
        has_finalizer: true,
        previous_state: None,
        decision: scored_decision(cluster, 0),
    }
}

fn run(policy: Option<&PlacementPolicy>, clusters: &[MemberCluster], bindings: &[BindingView]) -> Outcome {
    let status = SchedulingPolicySnapshotStatus::default();
    let input = PolicyInput {
        name: "crp-1",
        generation: 1,
        placement_generation: 2,
        number_of_clusters: policy.and_then(|p| p.number_of_clusters).map(|n| n as usize),
        policy,
        status: &status,
    };
    schedule(
        PlacementKey {
            name: "crp",
            namespace: None,
        },
        &input,
        clusters,
        bindings,
        now(),
    )
}

fn created(outcome: &Outcome) -> Vec<String> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            BindingAction::Create { cluster, .. } => Some(cluster.clone()),
            _ => None,
        })
        .collect()
}

fn condition(outcome: &Outcome) -> Condition {
    find(&outcome.status.as_ref().unwrap().conditions, SCHEDULED)
        .unwrap()
        .clone()
}

fn pick_n(n: i32) -> PlacementPolicy {
    PlacementPolicy {
        placement_type: PlacementType::PickN,
        number_of_clusters: Some(n),
        ..Default::default()
    }
}

fn label_term(key: &str, value: &str) -> ClusterSelectorTerm {
    ClusterSelectorTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some([(key.to_string(), value.to_string())].into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn pick_all_binds_every_joined_cluster_and_reports_fulfilled() {
    let clusters = [joined("member1", &[]), joined("member2", &[]), joined("member3", &[])];
    let outcome = run(None, &clusters, &[]);
    assert_eq!(created(&outcome), ["member1", "member2", "member3"]);
    let c = condition(&outcome);
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", FULFILLED));
    assert_eq!(
        c.message,
        "found all cluster needed as specified by the scheduling policy, found 3 cluster(s)"
    );
    assert_eq!(c.observed_generation, Some(1));
    let status = outcome.status.unwrap();
    assert_eq!(status.observed_crp_generation, 2);
    let first = &status.target_clusters.unwrap()[0];
    assert_eq!(
        first.reason,
        "Successfully scheduled resources for placement in \"member1\" (affinity score: 0, topology spread score: 0): picked by scheduling policy"
    );
}

#[test]
fn pick_all_leaves_out_clusters_that_have_not_joined_and_says_why() {
    let clusters = [joined("member1", &[]), not_joined("member2")];
    let outcome = run(None, &clusters, &[]);
    assert_eq!(created(&outcome), ["member1"]);
    let decisions = outcome.status.unwrap().target_clusters.unwrap();
    let member2 = decisions.iter().find(|d| d.cluster_name == "member2").unwrap();
    assert!(!member2.selected);
    assert_eq!(
        member2.reason,
        "ClusterUnschedulable, cluster is not connected to the fleet: member agent not online yet"
    );
}

#[test]
fn a_cycle_over_a_settled_placement_changes_nothing() {
    let clusters = [joined("member1", &[])];
    let first = run(None, &clusters, &[]);
    let written = first.status.unwrap();
    let bindings = [binding("b1", "member1", BindingState::Scheduled, "crp-1")];
    let input = PolicyInput {
        name: "crp-1",
        generation: 1,
        placement_generation: 2,
        number_of_clusters: None,
        policy: None,
        status: &written,
    };
    let key = PlacementKey {
        name: "crp",
        namespace: None,
    };
    let again = schedule(key, &input, &clusters, &bindings, now() + 1.minute());
    assert_eq!(again, Outcome::default());
}

#[test]
fn pick_n_breaks_ties_by_descending_cluster_name() {
    let clusters: Vec<_> = (1..=7).map(|i| joined(&format!("member-{i}"), &[])).collect();
    let outcome = run(Some(&pick_n(3)), &clusters, &[]);
    let mut picks = created(&outcome);
    picks.sort();
    assert_eq!(picks, ["member-5", "member-6", "member-7"]);
    let decisions = outcome.status.unwrap().target_clusters.unwrap();
    let not_picked = decisions.iter().find(|d| d.cluster_name == "member-4").unwrap();
    assert_eq!(
        not_picked.reason,
        "Cluster \"member-4\" does not score high enough (affinity score: 0, topology spread score: 0)"
    );
}

#[test]
fn pick_n_prefers_higher_affinity_score_and_respects_required_terms() {
    let clusters = [
        joined("a", &[("env", "prod"), ("tier", "gold")]),
        joined("b", &[("env", "prod")]),
        joined("c", &[("env", "dev"), ("tier", "gold")]),
    ];
    let policy = PlacementPolicy {
        affinity: Some(Affinity {
            cluster_affinity: Some(ClusterAffinity {
                required_during_scheduling_ignored_during_execution: Some(ClusterSelector {
                    cluster_selector_terms: vec![label_term("env", "prod")],
                }),
                preferred_during_scheduling_ignored_during_execution: Some(vec![PreferredClusterSelector {
                    weight: 20,
                    preference: label_term("tier", "gold"),
                }]),
            }),
        }),
        ..pick_n(1)
    };
    let outcome = run(Some(&policy), &clusters, &[]);
    assert_eq!(created(&outcome), ["a"]);
    let decisions = outcome.status.unwrap().target_clusters.unwrap();
    assert_eq!(decisions[0].cluster_score.as_ref().unwrap().affinity_score, Some(20));
    let c = decisions.iter().find(|d| d.cluster_name == "c").unwrap();
    assert_eq!(
        c.reason,
        "ClusterUnschedulable, cluster does not match with any of the required cluster affinity terms"
    );
}

#[test]
fn pick_n_short_of_clusters_is_unfulfilled() {
    let clusters = [joined("a", &[])];
    let outcome = run(Some(&pick_n(2)), &clusters, &[]);
    let c = condition(&outcome);
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", UNFULFILLED));
    assert_eq!(
        c.message,
        "could not find all clusters needed as specified by the scheduling policy, found 1 cluster(s) instead"
    );
}

#[test]
fn pick_n_scaling_down_unschedules_scheduled_before_bound_lowest_name_first() {
    let clusters = [joined("a", &[]), joined("b", &[]), joined("c", &[])];
    let bindings = [
        binding("ba", "a", BindingState::Bound, "crp-1"),
        binding("bb", "b", BindingState::Scheduled, "crp-1"),
        binding("bc", "c", BindingState::Bound, "crp-1"),
    ];
    let outcome = run(Some(&pick_n(1)), &clusters, &bindings);
    assert_eq!(
        outcome.actions,
        [
            BindingAction::Unschedule {
                binding: "bb".into(),
                previous: BindingState::Scheduled
            },
            BindingAction::Unschedule {
                binding: "ba".into(),
                previous: BindingState::Bound
            },
        ]
    );
}

#[test]
fn pick_fixed_binds_named_clusters_and_reports_missing_ones() {
    let clusters = [joined("member1", &[]), not_joined("member2")];
    let policy = PlacementPolicy {
        placement_type: PlacementType::PickFixed,
        cluster_names: Some(vec!["member1".into(), "member2".into(), "ghost".into()]),
        ..Default::default()
    };
    let outcome = run(Some(&policy), &clusters, &[]);
    assert_eq!(created(&outcome), ["member1"]);
    let c = condition(&outcome);
    assert_eq!(c.status, "False");
    let decisions = outcome.status.unwrap().target_clusters.unwrap();
    let reason = |name: &str| {
        decisions
            .iter()
            .find(|d| d.cluster_name == name)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason("member1"),
        "Successfully scheduled resources for placement in \"member1\": picked by scheduling policy"
    );
    assert_eq!(reason("ghost"), "Specified cluster \"ghost\" is not found");
    assert_eq!(
        reason("member2"),
        "Cluster \"member2\" is not eligible for resource placement yet: cluster is not connected to the fleet: member agent not online yet"
    );
}

#[test]
fn pick_fixed_with_no_names_does_nothing() {
    let policy = PlacementPolicy {
        placement_type: PlacementType::PickFixed,
        cluster_names: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(run(Some(&policy), &[joined("a", &[])], &[]), Outcome::default());
}

#[test]
fn a_new_policy_repoints_kept_clusters_and_unschedules_dropped_ones() {
    let clusters = [joined("a", &[("env", "prod")]), joined("b", &[("env", "dev")])];
    let bindings = [
        binding("ba", "a", BindingState::Bound, "crp-0"),
        binding("bb", "b", BindingState::Bound, "crp-0"),
    ];
    let policy = PlacementPolicy {
        affinity: Some(Affinity {
            cluster_affinity: Some(ClusterAffinity {
                required_during_scheduling_ignored_during_execution: Some(ClusterSelector {
                    cluster_selector_terms: vec![label_term("env", "prod")],
                }),
                preferred_during_scheduling_ignored_during_execution: None,
            }),
        }),
        ..Default::default()
    };
    let outcome = run(Some(&policy), &clusters, &bindings);
    assert_eq!(
        outcome.actions,
        [
            BindingAction::Repoint {
                binding: "ba".into(),
                state: BindingState::Bound,
                decision: scored_decision("a", 0)
            },
            BindingAction::Unschedule {
                binding: "bb".into(),
                previous: BindingState::Bound
            },
        ]
    );
}

#[test]
fn a_returning_cluster_gets_its_unscheduled_binding_back_in_its_old_state() {
    let mut old = binding("ba", "a", BindingState::Unscheduled, "crp-1");
    old.previous_state = Some(BindingState::Bound);
    let outcome = run(None, &[joined("a", &[])], &[old]);
    assert_eq!(
        outcome.actions,
        [BindingAction::Repoint {
            binding: "ba".into(),
            state: BindingState::Bound,
            decision: scored_decision("a", 0)
        }]
    );
}

#[test]
fn a_deleted_member_cluster_unschedules_its_binding() {
    let outcome = run(None, &[], &[binding("ba", "gone", BindingState::Bound, "crp-1")]);
    assert_eq!(
        outcome.actions,
        [BindingAction::Unschedule {
            binding: "ba".into(),
            previous: BindingState::Bound
        }]
    );
}

#[test]
fn a_deleting_binding_loses_the_scheduler_finalizer() {
    let mut b = binding("ba", "a", BindingState::Unscheduled, "crp-1");
    b.deleting = true;
    let outcome = run(None, &[joined("a", &[])], &[b]);
    assert_eq!(
        outcome.actions[0],
        BindingAction::DropFinalizer { binding: "ba".into() }
    );
    assert_eq!(created(&outcome), ["a"]);
}

#[test]
fn tainted_clusters_are_skipped_unless_tolerated() {
    let mut tainted = joined("a", &[]);
    tainted.spec.taints = Some(vec![Taint {
        key: "maintenance".into(),
        value: Some("true".into()),
        effect: TaintEffect::NoSchedule,
    }]);
    let outcome = run(None, &[tainted], &[]);
    assert!(created(&outcome).is_empty());
    let decisions = outcome.status.unwrap().target_clusters.unwrap();
    assert_eq!(
        decisions[0].reason,
        "ClusterUnschedulable, cluster has an untolerated taint maintenance=true:NoSchedule"
    );
}

#[test]
fn binding_names_are_dns_labels_in_upstreams_shape() {
    let name = binding_name("example-placement", "member1", now());
    let (prefix, suffix) = name.rsplit_once('-').unwrap();
    assert_eq!(prefix, "example-placement-member1");
    assert_eq!(suffix.len(), 8);
    let long = binding_name(&"p".repeat(60), &"c".repeat(60), now());
    assert!(long.len() <= 63, "{long}");
    assert_ne!(
        binding_name("a", "b", now()),
        binding_name("a", "b", now() + 1.second())
    );
}

#[test]
fn sd27_decisions_past_the_api_limit_are_capped_and_the_selected_count_is_reported() {
    let clusters: Vec<MemberCluster> = (0..DECISION_LIMIT + 5)
        .map(|i| joined(&format!("c{i:05}"), &[]))
        .collect();
    let outcome = run(None, &clusters, &[]);
    assert_eq!(
        created(&outcome).len(),
        DECISION_LIMIT + 5,
        "every cluster gets its binding"
    );
    let decisions = outcome
        .status
        .as_ref()
        .and_then(|s| s.target_clusters.as_ref())
        .expect("decisions");
    assert_eq!(decisions.len(), DECISION_LIMIT);
    assert!(decisions.iter().all(|d| d.selected));
    assert_eq!(outcome.selected_beyond_limit, Some(DECISION_LIMIT + 5));

    let few = run(None, &clusters[..3], &[]);
    assert_eq!(few.selected_beyond_limit, None);
}

#[test]
fn an_invalid_affinity_selector_unschedules_nothing_and_names_the_field_sd41() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    let bad = ClusterSelectorTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "Sometimes".into(),
                values: Some(vec!["x".into()]),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let policy = PlacementPolicy {
        affinity: Some(Affinity {
            cluster_affinity: Some(ClusterAffinity {
                required_during_scheduling_ignored_during_execution: Some(ClusterSelector {
                    cluster_selector_terms: vec![label_term("env", "prod"), bad],
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let clusters = [joined("a", &[("env", "prod")]), joined("b", &[("env", "prod")])];
    let bindings = [
        binding("crp-a", "a", BindingState::Bound, "crp-1"),
        binding("crp-b", "b", BindingState::Bound, "crp-1"),
    ];
    let outcome = run(Some(&policy), &clusters, &bindings);
    assert!(outcome.actions.is_empty(), "{:?}", outcome.actions);
    let c = condition(&outcome);
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", UNFULFILLED));
    assert!(
        c.message.contains(
            "spec.policy.affinity.clusterAffinity.requiredDuringSchedulingIgnoredDuringExecution.clusterSelectorTerms[1].labelSelector is invalid"
        ),
        "{}",
        c.message
    );
}
