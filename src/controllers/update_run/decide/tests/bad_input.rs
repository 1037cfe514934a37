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

/// Fuzzed spec values (issue 19): whatever admission lets through, or a hand-edited object
/// carries, a pass never panics and a run never wedges. Each variant runs passes with every
/// binding made available between them: the run must end (succeeded or failed with a message)
/// within a bounded number of passes. (Admission allows at most 31 stages; the decision logic is
/// checked far beyond.)
#[test]
fn fuzzed_spec_values_never_panic_and_every_run_ends() {
    let long = "x".repeat(300);
    let unicode = "stage-ünïcödé-名前-🚀".to_string();
    let max_concurrency = [
        Some(IntOrString::Int(i32::MAX)),
        Some(IntOrString::Int(0)),
        Some(IntOrString::Int(-7)),
        Some(IntOrString::String("100%".into())),
        Some(IntOrString::String("1000%".into())),
        Some(IntOrString::String("18446744073709551615%".into())),
        Some(IntOrString::String("%".into())),
        Some(IntOrString::String("abc".into())),
        None,
    ];
    let mut variants: Vec<(String, World)> = Vec::new();
    for (i, max) in max_concurrency.iter().enumerate() {
        let mut w = World::doc_a();
        for stage in w.stages_mut() {
            stage.max_concurrency = max.clone();
        }
        variants.push((format!("maxConcurrency #{i} {max:?}"), w));
    }
    for name in [long.clone(), unicode.clone(), String::new()] {
        let mut w = World::doc_a();
        w.stages_mut()[0].name = name.clone();
        variants.push((format!("stage name {name:?}"), w));
        let mut w = World::doc_a();
        w.obs.run.name = name.clone();
        variants.push((format!("run name {name:?}"), w));
        let mut w = World::doc_a();
        w.stages_mut()[1].sorting_label_key = Some(name.clone());
        variants.push((format!("sortingLabelKey {name:?}"), w));
    }
    // Hundreds of stages, most empty; thousands of selector terms.
    let mut w = World::doc_a();
    let template = w.stages_mut()[0].clone();
    for i in 0..400 {
        let mut stage = template.clone();
        stage.name = format!("s{i}");
        stage.after_stage_tasks = None;
        stage.label_selector = Some(LabelSelector {
            match_labels: Some([(format!("nobody-{i}"), "x".to_string())].into()),
            ..Default::default()
        });
        w.stages_mut().push(stage);
    }
    variants.push(("400 more stages".into(), w));
    let mut w = World::doc_a();
    w.stages_mut()[0].label_selector = Some(LabelSelector {
        match_expressions: Some(
            (0..3000)
                .map(|i| LabelSelectorRequirement {
                    key: format!("k{i}"),
                    operator: if i % 2 == 0 {
                        "DoesNotExist".into()
                    } else {
                        "NotIn".into()
                    },
                    values: (i % 2 == 1).then(|| vec![unicode.clone(), long.clone()]),
                })
                .collect(),
        ),
        match_labels: Some([("environment".to_string(), "staging".to_string())].into()),
    });
    variants.push(("3,000 selector terms".into(), w));

    for (what, mut w) in variants {
        let mut ended = false;
        // An empty stage is skipped in a pass of its own: allow a few passes per stage.
        let passes = 60 + 2 * w.stages_mut().len();
        for _ in 0..passes {
            w.pass();
            for binding in w.obs.bindings.clone() {
                if binding.spec.state == BindingState::Bound {
                    w.make_available(&binding.spec.target_cluster);
                }
            }
            for approval in w.obs.approvals.values_mut() {
                set(
                    &mut approval.conditions,
                    types::APPROVED,
                    Status::True,
                    "ok",
                    "",
                    1,
                    w.obs.now,
                );
            }
            w.obs.now += SignedDuration::from_mins(2);
            let succeeded = crate::conditions::find(&w.status().conditions, types::SUCCEEDED).is_some();
            let init_failed = w.run_condition(types::INITIALIZED) == pair("False", run::INITIALIZE_FAILED);
            if succeeded || init_failed {
                ended = true;
                break;
            }
        }
        assert!(ended, "{what}: the run did not end: {:?}", w.status().conditions);
    }
}
