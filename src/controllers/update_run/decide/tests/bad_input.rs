//! Unit tests of SD-35: a problem no waiting can fix is named before anything initialization
//! waits for, and the fields upstream admits but cannot use are named in the failure.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

/// A hub where the placement has no cluster yet: initialization would wait for the scheduler.
fn no_clusters_yet() -> World {
    let mut w = World::doc_a();
    w.obs.bindings.clear();
    w.obs.members.clear();
    w
}

fn failed(w: &World) -> bool {
    w.run_condition(types::INITIALIZED) == pair("False", run::INITIALIZE_FAILED)
}

#[test]
fn a_missing_strategy_fails_before_waiting_for_clusters() {
    let mut w = no_clusters_yet();
    w.obs.strategy = Some(None);
    w.pass();
    assert!(failed(&w), "{}", init_message(&w));
    assert!(init_message(&w).contains("referenced updateStrategy not found: `/example-strategy`"));
}

#[test]
fn a_bad_or_unknown_index_fails_before_waiting_for_clusters() {
    for (index, expected) in [
        (
            "abc",
            "invalid resource snapshot index `abc` provided, expected an integer >= 0 in spec.resourceSnapshotIndex",
        ),
        ("-1", "invalid resource snapshot index `-1` provided"),
        (
            "99",
            "no resourceSnapshots with index `99` found for placement `/example-placement`",
        ),
    ] {
        let mut w = no_clusters_yet();
        w.obs.run.spec.resource_snapshot_index = Some(index.into());
        if index == "99" {
            w.obs.resource_snapshots.clear();
        }
        w.pass();
        assert!(failed(&w), "{index}: {}", init_message(&w));
        assert!(init_message(&w).contains(expected), "{index}: {}", init_message(&w));
    }
}

#[test]
fn without_a_fatal_problem_a_run_still_waits_for_clusters() {
    let mut w = no_clusters_yet();
    w.pass();
    assert!(!failed(&w));
    assert!(init_message(&w).contains("no scheduled or to-be-deleted bindings found"));
}

#[test]
fn an_empty_placement_name_is_named() {
    let mut w = World::doc_a();
    w.obs.run.spec.placement_name = String::new();
    w.obs.placement = None;
    w.pass();
    assert!(failed(&w));
    assert!(init_message(&w).contains("parent placement not found: spec.placementName is empty"));
}

#[test]
fn pick_fixed_without_cluster_names_fails_naming_the_field() {
    let mut w = no_clusters_yet();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickFixed;
    w.obs.policy_snapshots[0].fixed_cluster_count = 0;
    w.pass();
    assert!(failed(&w));
    assert!(
        init_message(&w).contains("is PickFixed with no spec.policy.clusterNames"),
        "{}",
        init_message(&w)
    );
}

#[test]
fn a_sorting_label_key_no_label_can_have_fails_naming_the_stage() {
    let mut w = World::doc_a();
    w.stages_mut()[1].sorting_label_key = Some("my order".into());
    w.pass();
    assert!(failed(&w));
    assert!(
        init_message(&w).contains(
            "stage `canary` of updateStrategy `/example-strategy`: sortingLabelKey `my order` is not a valid label key"
        ),
        "{}",
        init_message(&w)
    );
}

#[test]
fn an_invalid_stage_selector_fails_before_waiting_for_clusters() {
    let mut w = no_clusters_yet();
    w.stages_mut()[0].label_selector = Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "environment".into(),
            operator: "Sometimes".into(),
            values: Some(vec!["x".into()]),
        }]),
        ..Default::default()
    });
    w.pass();
    assert!(failed(&w), "{}", init_message(&w));
    assert!(
        init_message(&w).contains("the stage label selector is invalid"),
        "{}",
        init_message(&w)
    );
    assert!(init_message(&w).contains("stage: staging"), "{}", init_message(&w));
}
