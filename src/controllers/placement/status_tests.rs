use super::*;
use crate::api::placement::BindingState;

fn now() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn decision(cluster: &str) -> ClusterDecision {
    ClusterDecision {
        cluster_name: cluster.into(),
        selected: true,
        cluster_score: None,
        reason: format!("picked {cluster}"),
    }
}

fn condition(t: &str, status: &str, reason: &str, generation: i64) -> Condition {
    Condition {
        type_: t.into(),
        status: status.into(),
        reason: reason.into(),
        observed_generation: Some(generation),
        ..Default::default()
    }
}

/// A binding bound to `snapshot` with the listed conditions True at its generation.
fn binding(cluster: &str, snapshot: &str, true_steps: &[&str]) -> BindingReport {
    BindingReport {
        generation: 2,
        deleting: false,
        spec: ClusterResourceBindingSpec {
            state: if snapshot.is_empty() {
                BindingState::Scheduled
            } else {
                BindingState::Bound
            },
            resource_snapshot_name: snapshot.into(),
            scheduling_policy_snapshot_name: "crp-0".into(),
            target_cluster: cluster.into(),
            cluster_decision: decision(cluster),
            ..Default::default()
        },
        status: ResourceBindingStatus {
            conditions: Some(
                true_steps
                    .iter()
                    .map(|t| condition(t, "True", &format!("{t}Reason"), 2))
                    .collect(),
            ),
            ..Default::default()
        },
    }
}

const ALL_TRUE: [&str; 5] = [
    "RolloutStarted",
    "Overridden",
    "WorkSynchronized",
    "Applied",
    "Available",
];

fn input<'a>(external: bool, bindings: &'a [BindingReport]) -> StatusInput<'a> {
    StatusInput {
        kind: "ClusterResourcePlacement",
        generation: 1,
        external,
        report_diff: false,
        selection: vec![ResourceIdentifier {
            kind: "Namespace".into(),
            version: "v1".into(),
            name: "now".into(),
            ..Default::default()
        }],
        latest_snapshot: Some(("crp-1-snapshot".into(), 1)),
        snapshot_index: [("crp-0-snapshot".to_string(), 0), ("crp-1-snapshot".to_string(), 1)].into(),
        group_resources: [(
            0,
            vec![ResourceIdentifier {
                kind: "Namespace".into(),
                version: "v1".into(),
                name: "zero".into(),
                ..Default::default()
            }],
        )]
        .into(),
        policy: Some(PolicyReport {
            name: "crp-0".into(),
            decisions: vec![decision("member1"), decision("member2"), decision("member3")],
            ..Default::default()
        }),
        bindings,
        inline_limit: 1000,
    }
}

fn scheduled_status() -> PlacementStatus {
    let mut status = PlacementStatus::default();
    set(
        &mut status.conditions,
        "ClusterResourcePlacementScheduled",
        Status::True,
        "SchedulingPolicyFulfilled",
        "found all cluster needed as specified by the scheduling policy, found 3 cluster(s)",
        1,
        now(),
    );
    status
}

fn placement_condition(status: &PlacementStatus, step: &str) -> Option<(String, String)> {
    find(&status.conditions, &format!("ClusterResourcePlacement{step}")).map(|c| (c.status.clone(), c.reason.clone()))
}

#[test]
fn external_placement_before_any_run_matches_the_documented_status() {
    let bindings: Vec<_> = ["member1", "member2", "member3"]
        .iter()
        .map(|c| binding(c, "", &[]))
        .collect();
    let mut status = scheduled_status();
    aggregate(&mut status, &input(true, &bindings), now());
    assert_eq!(status.observed_resource_index, None);
    assert_eq!(status.selected_resources, None);
    assert_eq!(
        placement_condition(&status, "RolloutStarted"),
        Some(("Unknown".into(), "RolloutControlledByExternalController".into()))
    );
    assert_eq!(placement_condition(&status, "Available"), None);
    let clusters = status.placement_statuses.unwrap();
    assert_eq!(clusters.len(), 3);
    let types: Vec<(String, String, String)> = clusters[0]
        .conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("Scheduled".into(), "True".into(), "Scheduled".into()),
            (
                "RolloutStarted".into(),
                "Unknown".into(),
                "RolloutStartedUnknown".into()
            )
        ]
    );
}

#[test]
fn external_placement_after_a_finished_run_is_available_on_that_index() {
    let bindings: Vec<_> = ["member1", "member2", "member3"]
        .iter()
        .map(|c| binding(c, "crp-0-snapshot", &ALL_TRUE))
        .collect();
    let mut status = scheduled_status();
    aggregate(&mut status, &input(true, &bindings), now());
    assert_eq!(status.observed_resource_index.as_deref(), Some("0"));
    assert_eq!(status.selected_resources.as_ref().unwrap()[0].name, "zero");
    for step in ALL_TRUE {
        assert_eq!(placement_condition(&status, step).unwrap().0, "True", "{step}");
    }
    let available = find(&status.conditions, "ClusterResourcePlacementAvailable").unwrap();
    assert_eq!(
        available.message,
        "The selected resources in 3 cluster(s) are available now"
    );
    assert_eq!(available.observed_generation, Some(1));
    let cluster = &status.placement_statuses.unwrap()[0];
    assert_eq!(cluster.observed_resource_index.as_deref(), Some("0"));
    assert_eq!(cluster.conditions.as_ref().unwrap().len(), 6);
}

#[test]
fn external_rollout_across_indexes_leaves_available_blank() {
    let bindings = vec![
        binding("member1", "crp-1-snapshot", &ALL_TRUE),
        binding("member2", "crp-0-snapshot", &ALL_TRUE),
        binding("member3", "crp-0-snapshot", &ALL_TRUE),
    ];
    let mut status = scheduled_status();
    aggregate(&mut status, &input(true, &bindings), now());
    let rollout = find(&status.conditions, "ClusterResourcePlacementRolloutStarted").unwrap();
    assert_eq!(rollout.status, "Unknown");
    assert!(rollout.message.contains("different resource snapshot versions"));
    assert_eq!(placement_condition(&status, "Available"), None);
    assert_eq!(status.observed_resource_index, None);
}

#[test]
fn not_yet_available_cluster_makes_available_false() {
    let mut bindings: Vec<_> = ["member1", "member2"]
        .iter()
        .map(|c| binding(c, "crp-0-snapshot", &ALL_TRUE))
        .collect();
    let mut slow = binding("member3", "crp-0-snapshot", &ALL_TRUE[..4]);
    slow.status
        .conditions
        .as_mut()
        .unwrap()
        .push(condition("Available", "False", "NotAllWorkAreAvailable", 2));
    bindings.push(slow);
    let mut status = scheduled_status();
    aggregate(&mut status, &input(true, &bindings), now());
    assert_eq!(
        placement_condition(&status, "Available"),
        Some(("False".into(), "ResourceNotAvailableYet".into()))
    );
    assert_eq!(placement_condition(&status, "Applied").unwrap().0, "True");
}

#[test]
fn rolling_update_cluster_on_an_older_snapshot_has_not_started() {
    let bindings = vec![
        binding("member1", "crp-1-snapshot", &ALL_TRUE),
        binding("member2", "crp-0-snapshot", &ALL_TRUE),
        binding("member3", "crp-1-snapshot", &ALL_TRUE),
    ];
    let mut status = scheduled_status();
    aggregate(&mut status, &input(false, &bindings), now());
    assert_eq!(status.observed_resource_index.as_deref(), Some("1"));
    assert_eq!(status.selected_resources.as_ref().unwrap()[0].name, "now");
    assert_eq!(
        placement_condition(&status, "RolloutStarted"),
        Some(("Unknown".into(), "RolloutStartedUnknown".into()))
    );
    assert_eq!(placement_condition(&status, "Available"), None);
}

#[test]
fn unscheduled_placement_has_no_cluster_statuses() {
    let mut status = PlacementStatus::default();
    set(
        &mut status.conditions,
        "ClusterResourcePlacementScheduled",
        Status::Unknown,
        "SchedulePending",
        "Scheduling has not completed",
        1,
        now(),
    );
    aggregate(&mut status, &input(true, &[]), now());
    assert_eq!(status.placement_statuses, None);
    assert_eq!(status.observed_resource_index.as_deref(), Some("1"));
}

#[test]
fn pick_n_short_of_clusters_lists_the_failures() {
    let mut i = input(true, &[]);
    let policy = i.policy.as_mut().unwrap();
    policy.placement_type = PlacementType::PickN;
    policy.number_of_clusters = 3;
    policy.decisions = vec![
        decision("member1"),
        ClusterDecision {
            cluster_name: "member2".into(),
            selected: false,
            cluster_score: None,
            reason: "ClusterUnschedulable, not joined".into(),
        },
    ];
    let mut status = scheduled_status();
    aggregate(&mut status, &i, now());
    let clusters = status.placement_statuses.unwrap();
    assert_eq!(clusters.len(), 2);
    let failed = find(&clusters[1].conditions, "Scheduled").unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.reason.as_str()),
        ("False", "ScheduleFailed")
    );
    assert_eq!(clusters[1].cluster_name, "");
}

#[test]
fn a_placement_over_the_inline_limit_lists_only_clusters_not_done_and_counts_them() {
    // SD-23: member1 and member2 are done; member3 has not started.
    let bindings = vec![
        binding("member1", "crp-0-snapshot", &ALL_TRUE),
        binding("member2", "crp-0-snapshot", &ALL_TRUE),
        binding("member3", "", &[]),
    ];
    let mut full = scheduled_status();
    aggregate(&mut full, &input(true, &bindings), now());
    let mut compact = scheduled_status();
    let mut small = input(true, &bindings);
    small.inline_limit = 2;
    aggregate(&mut compact, &small, now());
    // The placement's own conditions are computed from every cluster, as upstream does.
    assert_eq!(full.conditions, compact.conditions);
    let listed: Vec<String> = compact
        .placement_statuses
        .iter()
        .flatten()
        .map(|c| c.cluster_name.clone())
        .collect();
    assert_eq!(listed, ["member3"]);
    assert_eq!(
        compact.cluster_summary,
        Some(PlacementClusterSummary {
            total: 3,
            done_unlisted: 2,
            pending_unlisted: 0
        })
    );
    assert_eq!(full.cluster_summary, None);
    assert_eq!(full.placement_statuses.map(|c| c.len()), Some(3));
}

#[test]
fn a_compact_placement_caps_the_clusters_it_lists() {
    let names: Vec<String> = (0..250).map(|i| format!("member{i:03}")).collect();
    let bindings: Vec<_> = names.iter().map(|c| binding(c, "", &[])).collect();
    let mut small = input(true, &bindings);
    small.policy.as_mut().unwrap().decisions = names.iter().map(|c| decision(c)).collect();
    small.inline_limit = 10;
    let mut status = scheduled_status();
    aggregate(&mut status, &small, now());
    assert_eq!(status.placement_statuses.map(|c| c.len()), Some(INLINE_CAP));
    let summary = status.cluster_summary.unwrap();
    assert_eq!(
        (summary.total, summary.done_unlisted, summary.pending_unlisted),
        (250, 0, 150)
    );
}

#[test]
fn a_compact_placement_that_is_no_longer_scheduled_drops_its_summary() {
    let bindings: Vec<_> = ["member1", "member2", "member3"]
        .iter()
        .map(|c| binding(c, "", &[]))
        .collect();
    let mut small = input(true, &bindings);
    small.inline_limit = 2;
    let mut status = scheduled_status();
    aggregate(&mut status, &small, now());
    assert!(status.cluster_summary.is_some());
    small.policy = None;
    aggregate(&mut status, &small, now());
    assert_eq!(status.placement_statuses, None);
    assert_eq!(status.cluster_summary, None);
}
