//! Unit tests of run control (issue 17): failure budgets (SD-29), progress deadlines (SD-30),
//! retry (SD-31), abort and skips (SD-32), frozen membership (SD-28), the unmatched-cluster
//! policy (SD-33) and the numbers in the status (SD-34). One behaviour each.

use super::*;
use crate::controllers::update_run::reasons::cluster;
use pretty_assertions::assert_eq;

/// A fleet of `n` clusters `c01..` in one stage `all` (maxConcurrency 100%), the given budget and
/// deadline.
fn fleet(n: usize, max_failures: Option<IntOrString>, deadline: Option<&str>) -> World {
    let mut w = World::doc_a();
    let names: Vec<String> = (1..=n).map(|i| format!("c{i:02}")).collect();
    w.obs.members = names
        .iter()
        .map(|name| MemberView {
            name: name.clone(),
            labels: labels(&[("stage", "all")]),
        })
        .collect();
    w.obs.bindings = names
        .iter()
        .map(|c| binding(c, "example-placement-0", BindingState::Scheduled))
        .collect();
    w.obs.strategy = Some(Some(UpdateStrategySpec {
        stages: vec![StageConfig {
            name: "all".into(),
            label_selector: selector(&[("stage", "all")]),
            max_concurrency: Some(IntOrString::String("100%".into())),
            max_failures,
            progress_deadline: deadline.map(String::from),
            ..Default::default()
        }],
        ..Default::default()
    }));
    w
}

/// A member cluster with `labels` joins and the scheduler gives it a Scheduled binding.
fn join(w: &mut World, name: &str, label: (&str, &str)) {
    w.obs.members.push(MemberView {
        name: name.into(),
        labels: labels(&[label]),
    });
    w.obs
        .bindings
        .push(binding(name, "example-placement-0", BindingState::Scheduled));
}

/// What a member reports when it cannot apply the resources.
fn fail_apply(w: &mut World, cluster: &str) {
    let now = w.obs.now;
    let b = w.binding_mut(cluster);
    let g = b.generation;
    set(
        &mut b.conditions,
        types::APPLIED,
        Status::False,
        "ApplyFailed",
        "the object exists and is not managed by Fleet",
        g,
        now,
    );
    b.failed_placements = 1;
}

fn cluster_condition(w: &World, stage_index: usize, name: &str, type_: &str) -> Option<(String, String)> {
    w.stage(stage_index)
        .clusters
        .iter()
        .find(|c| c.cluster_name == name)
        .and_then(|c| find(&c.conditions, type_))
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn counts(w: &World) -> ClusterCounts {
    w.status().cluster_counts.clone().unwrap_or_default()
}

/// Passes while the run asks to be looked at again at once (a stage finished, the next starts).
fn settle(w: &mut World) {
    for _ in 0..10 {
        w.pass();
        if w.next() != Next::After(Duration::ZERO) {
            return;
        }
    }
}

fn pct(p: &str) -> Option<IntOrString> {
    Some(IntOrString::String(p.into()))
}

// ---- SD-29: failure budgets -------------------------------------------------------------------

#[test]
fn two_failures_within_a_20_percent_budget_of_ten_let_the_run_succeed_and_are_named() {
    let mut w = fleet(10, pct("20%"), None);
    w.pass();
    fail_apply(&mut w, "c03");
    fail_apply(&mut w, "c07");
    for c in ["c01", "c02", "c04", "c05", "c06", "c08", "c09", "c10"] {
        w.make_available(c);
    }
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(
        cluster_condition(&w, 0, "c03", types::SUCCEEDED),
        pair("False", cluster::FAILED)
    );
    assert_eq!(
        counts(&w),
        ClusterCounts {
            failed: 2,
            ..Default::default()
        }
    );
    assert_eq!(w.stage(0).cluster_counts.as_ref().map(|c| c.failed), Some(2));
}

#[test]
fn a_third_failure_exceeds_the_budget_and_fails_the_run_naming_budget_and_clusters() {
    let mut w = fleet(10, pct("20%"), None);
    w.pass();
    for c in ["c02", "c05", "c09"] {
        fail_apply(&mut w, c);
    }
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    assert_eq!(
        w.stage_condition(0, types::SUCCEEDED),
        pair("False", stage::FAILURE_BUDGET_EXCEEDED)
    );
    let message = w.run_message(types::SUCCEEDED);
    assert!(
        message.contains("3 of the 10 clusters in stage `all` failed")
            && message.contains("maxFailures 20% (2 of 10 clusters)")
            && message.contains("c02, c05, c09"),
        "{message}"
    );
    assert_eq!(counts(&w).failed, 3);
}

#[test]
fn without_a_budget_a_reported_failure_is_retried_as_upstream_does() {
    let mut w = fleet(3, None, None);
    w.pass();
    fail_apply(&mut w, "c01");
    w.pass();
    assert!(matches!(w.next(), Next::Retry { .. }));
    assert_eq!(w.run_condition(types::SUCCEEDED), None);
    assert_eq!(w.status().cluster_counts, None, "no numbers without failures");
}

#[test]
fn resources_not_available_yet_are_not_a_failure_even_with_a_budget() {
    let mut w = fleet(2, Some(IntOrString::Int(1)), None);
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("c01");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::APPLIED,
        Status::True,
        "AllWorkHaveBeenApplied",
        "",
        g,
        now,
    );
    set(
        &mut b.conditions,
        types::AVAILABLE,
        Status::False,
        "NotAllWorkAreAvailable",
        "Work object x is not yet available",
        g,
        now,
    );
    b.failed_placements = 1;
    w.pass();
    assert_eq!(cluster_condition(&w, 0, "c01", types::SUCCEEDED), None);
    assert_eq!(w.status().cluster_counts, None);
}

#[test]
fn an_apply_still_in_progress_is_not_a_failure_even_with_a_budget() {
    let mut w = fleet(2, Some(IntOrString::Int(1)), None);
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("c01");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::APPLIED,
        Status::False,
        "NotAllWorkHaveBeenApplied",
        "Work object x has not yet completed the apply op",
        g,
        now,
    );
    w.pass();
    assert_eq!(cluster_condition(&w, 0, "c01", types::SUCCEEDED), None);
}

#[test]
fn a_failed_cluster_frees_its_concurrency_slot() {
    let mut w = fleet(3, Some(IntOrString::Int(1)), None);
    w.stages_mut()[0].max_concurrency = Some(IntOrString::Int(1));
    w.pass();
    fail_apply(&mut w, "c01");
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::STARTED),
        pair("True", cluster::STARTED)
    );
}

// ---- SD-30: progress deadlines ----------------------------------------------------------------

#[test]
fn a_cluster_not_available_by_its_deadline_fails_and_the_run_wakes_at_the_deadline() {
    let mut w = fleet(2, None, Some("30s"));
    w.pass();
    w.make_available("c01");
    w.pass();
    assert!(matches!(w.next(), Next::After(d) if d <= Duration::from_secs(30)));
    w.advance(31);
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::SUCCEEDED),
        pair("False", cluster::DEADLINE_EXCEEDED)
    );
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    assert!(
        w.run_message(types::SUCCEEDED).contains("c02"),
        "{}",
        w.run_message(types::SUCCEEDED)
    );
}

#[test]
fn a_run_waiting_for_a_failing_cluster_still_wakes_at_another_clusters_deadline() {
    // Without a budget, c01's reported failure makes the run wait (back-off up to 30 s); c02's
    // deadline must bound that wait, or the deadline is judged late (CI saw 59 s for 30 s).
    let mut w = fleet(2, None, Some("30s"));
    w.pass();
    fail_apply(&mut w, "c01");
    w.advance(5);
    w.pass();
    match w.next() {
        Next::Retry { at_latest, .. } => {
            assert_eq!(
                at_latest,
                Some(Duration::from_secs(25)),
                "the deadline 25 s ahead bounds the wait"
            )
        }
        other => panic!("expected a wait, got {other:?}"),
    }
    w.advance(26);
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::SUCCEEDED),
        pair("False", cluster::DEADLINE_EXCEEDED)
    );
}

#[test]
fn a_deadline_failure_counts_against_the_budget() {
    let mut w = fleet(2, Some(IntOrString::Int(1)), Some("30s"));
    w.pass();
    w.make_available("c01");
    w.advance(31);
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(counts(&w).failed, 1);
}

// ---- SD-31: retry -----------------------------------------------------------------------------

fn failed_over_budget() -> World {
    let mut w = fleet(3, Some(IntOrString::Int(0)), None);
    w.pass();
    w.make_available("c01");
    w.make_available("c02");
    fail_apply(&mut w, "c03");
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    w
}

#[test]
fn retry_restarts_only_the_failed_clusters_and_the_run_resumes() {
    let mut w = failed_over_budget();
    let c01_before = w.stage(0).clusters[0].clone();
    w.advance(60);
    w.obs.run.spec.retry_failed_clusters = Some(1);
    w.obs.run.generation += 1;
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), None);
    assert_eq!(
        cluster_condition(&w, 0, "c03", types::STARTED),
        pair("True", cluster::STARTED)
    );
    assert_eq!(w.status().observed_retry_failed_clusters, Some(1));
    // The others keep their conditions (only the generation stamp follows the spec).
    let c01_after = &w.stage(0).clusters[0];
    assert_eq!(
        find(&c01_after.conditions, types::SUCCEEDED).map(|c| c.last_transition_time.clone()),
        find(&c01_before.conditions, types::SUCCEEDED).map(|c| c.last_transition_time.clone())
    );
    // The failure reported before the retry is not counted again; a fresh success finishes it.
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), None);
    let now = w.obs.now;
    let b = w.binding_mut("c03");
    crate::conditions::remove(&mut b.conditions, types::APPLIED);
    let g = b.generation;
    set(
        &mut b.conditions,
        types::AVAILABLE,
        Status::True,
        "Available",
        "",
        g,
        now,
    );
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn a_retried_cluster_that_fails_again_fails_the_run_again() {
    let mut w = failed_over_budget();
    w.obs.run.spec.retry_failed_clusters = Some(1);
    w.obs.run.generation += 1;
    w.pass();
    w.advance(5);
    fail_apply(&mut w, "c03");
    let b = w.binding_mut("c03");
    // A new report: the member tried again and failed again.
    if let Some(c) = b
        .conditions
        .as_mut()
        .and_then(|c| c.iter_mut().find(|c| c.type_ == types::APPLIED))
    {
        c.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            t0() + SignedDuration::from_secs(5),
        ));
    }
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
}

#[test]
fn retry_of_a_run_that_did_not_fail_at_a_stage_is_rejected_with_a_message() {
    let mut w = World::doc_a();
    w.set_state(UpdateRunState::Abort);
    w.pass();
    w.obs.run.spec.retry_failed_clusters = Some(1);
    w.obs.run.generation += 1;
    w.pass();
    assert_eq!(
        w.run_condition(types::CONTROL_ACCEPTED),
        pair("False", run::CONTROL_REJECTED)
    );
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::ABORTED));
}

#[test]
fn a_retry_set_at_creation_is_not_kept_for_a_later_failure() {
    let mut w = fleet(1, Some(IntOrString::Int(0)), None);
    w.obs.run.spec.retry_failed_clusters = Some(1);
    w.pass();
    assert_eq!(w.status().observed_retry_failed_clusters, Some(1));
    fail_apply(&mut w, "c01");
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
}

// ---- SD-32: abort and skips -------------------------------------------------------------------

#[test]
fn abort_ends_the_run_at_once_and_touches_no_binding() {
    let mut w = World::doc_a();
    w.pass();
    let bindings_before = w.obs.bindings.clone();
    w.set_state(UpdateRunState::Abort);
    let decision = w.pass().clone();
    assert!(
        !decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartBinding { .. } | Action::DeleteBinding { .. }))
    );
    assert_eq!(w.obs.bindings, bindings_before);
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::ABORTED));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::ABORTED));
    assert_eq!(w.stage_condition(0, types::PROGRESSING), pair("False", stage::ABORTED));
    // It cannot be resumed: a later Run (the API rejects it; here the controller ignores it).
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::ABORTED));
}

#[test]
fn abort_before_initialization_ends_the_run() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Abort;
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::ABORTED));
    assert_eq!(w.status().stages_status, None);
}

#[test]
fn a_skipped_cluster_is_not_started_and_the_run_succeeds_without_it() {
    let mut w = fleet(3, None, None);
    w.stages_mut()[0].max_concurrency = Some(IntOrString::Int(1));
    w.obs.run.spec.skip_clusters = Some(vec!["c02".into()]);
    w.pass();
    w.make_available("c01");
    w.pass();
    w.make_available("c03");
    w.pass();
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::SKIPPED),
        pair("True", cluster::SKIPPED_BY_REQUEST)
    );
    assert_eq!(cluster_condition(&w, 0, "c02", types::STARTED), None);
    assert_eq!(w.binding("c02").spec.state, BindingState::Scheduled);
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(counts(&w).skipped, 1);
    assert_eq!(
        w.run_condition(types::CONTROL_ACCEPTED),
        pair("True", run::CONTROL_ACCEPTED)
    );
}

#[test]
fn a_skipped_stage_starts_none_of_its_clusters_and_waits_for_none_of_its_tasks() {
    let mut w = World::doc_a();
    w.obs.run.spec.skip_stages = Some(vec!["canary".into()]);
    through_staging(&mut w);
    w.pass();
    assert_eq!(
        w.stage_condition(1, types::SUCCEEDED),
        pair("True", stage::SKIPPED_BY_REQUEST)
    );
    assert!(w.obs.approvals.is_empty(), "no approval request for a skipped stage");
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(counts(&w).skipped, 2);
}

#[test]
fn a_skip_list_naming_an_unknown_cluster_is_rejected_whole_and_nothing_is_skipped() {
    let mut w = fleet(2, None, None);
    w.obs.run.spec.skip_clusters = Some(vec!["c02".into(), "nope".into()]);
    w.pass();
    assert_eq!(
        w.run_condition(types::CONTROL_ACCEPTED),
        pair("False", run::CONTROL_REJECTED)
    );
    assert!(w.run_message(types::CONTROL_ACCEPTED).contains("nope"));
    assert_eq!(cluster_condition(&w, 0, "c02", types::SKIPPED), None);
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::STARTED),
        pair("True", cluster::STARTED)
    );
}

#[test]
fn stopping_does_not_wait_for_a_skipped_cluster() {
    let mut w = fleet(2, None, None);
    w.pass();
    w.make_available("c01");
    w.obs.run.spec.skip_clusters = Some(vec!["c02".into()]);
    w.obs.run.generation += 1;
    w.pass();
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_ne!(w.run_condition(types::PROGRESSING), pair("Unknown", run::STOPPING));
}

// ---- SD-28: frozen membership -----------------------------------------------------------------

fn frozen(n: usize) -> World {
    let mut w = fleet(n, None, None);
    w.obs
        .strategy
        .as_mut()
        .and_then(|s| s.as_mut())
        .expect("strategy")
        .membership_changes = Some(MembershipChanges::Freeze);
    w
}

#[test]
fn a_newcomer_under_freeze_is_excluded_named_and_left_alone() {
    let mut w = frozen(2);
    w.pass();
    join(&mut w, "c03", ("stage", "all"));
    w.make_available("c01");
    w.make_available("c02");
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(w.stage(0).excluded_clusters, Some(vec!["c03".to_string()]));
    assert_eq!(counts(&w).excluded, 1);
    assert_eq!(w.binding("c03").spec.state, BindingState::Scheduled);
}

#[test]
fn a_departed_cluster_under_freeze_is_skipped_with_a_reason_and_the_run_completes() {
    let mut w = frozen(3);
    w.stages_mut()[0].max_concurrency = Some(IntOrString::Int(1));
    w.pass();
    w.make_available("c01");
    // c03 leaves: its binding is unscheduled.
    w.binding_mut("c03").spec.state = BindingState::Unscheduled;
    w.pass();
    w.make_available("c02");
    w.pass();
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c03", types::SKIPPED),
        pair("True", cluster::SKIPPED_DEPARTED)
    );
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert!(!w.binding("c03").deleting, "the next run deletes it");
    assert_eq!(counts(&w).skipped, 1);
}

#[test]
fn without_freeze_a_newcomer_still_fails_the_run_as_upstream_does() {
    let mut w = fleet(2, None, None);
    w.pass();
    join(&mut w, "c03", ("stage", "all"));
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
}

// ---- SD-33: unmatched clusters ----------------------------------------------------------------

fn with_unmatched(n_unmatched: usize, policy: Option<UnmatchedClusters>) -> World {
    let mut w = fleet(2, None, None);
    for i in 1..=n_unmatched {
        let name = format!("x{i:02}");
        join(&mut w, &name, ("stage", "none"));
    }
    w.obs
        .strategy
        .as_mut()
        .and_then(|s| s.as_mut())
        .expect("strategy")
        .unmatched_clusters = policy;
    w
}

#[test]
fn twenty_five_unmatched_clusters_are_all_named_in_the_initialization_error() {
    let mut w = with_unmatched(25, None);
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZE_FAILED)
    );
    let message = init_message(&w);
    for i in 1..=25 {
        assert!(message.contains(&format!("x{i:02}")), "{message}");
    }
    assert!(message.contains("total 25"), "{message}");
}

#[test]
fn up_to_ten_unmatched_clusters_keep_upstreams_message() {
    let mut w = with_unmatched(2, None);
    w.pass();
    assert!(
        init_message(&w).contains("some clusters are not placed in any stage, total 2, showing up to 10: x01, x02"),
        "{}",
        init_message(&w)
    );
}

#[test]
fn the_upstream_profile_names_only_ten() {
    let mut w = with_unmatched(25, None);
    w.obs.profile = crate::controllers::compat::Profile::Upstream;
    w.pass();
    assert!(init_message(&w).contains("showing up to 10"));
    assert!(!init_message(&w).contains("x11"));
}

#[test]
fn unmatched_clusters_with_skip_are_left_out_named_and_counted() {
    let mut w = with_unmatched(3, Some(UnmatchedClusters::Skip));
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
    assert_eq!(
        w.status().unmatched_clusters,
        Some(vec!["x01".into(), "x02".into(), "x03".into()])
    );
    w.make_available("c01");
    w.make_available("c02");
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(counts(&w).excluded, 3);
    assert_eq!(w.binding("x01").spec.state, BindingState::Scheduled);
}

#[test]
fn unmatched_clusters_with_final_stage_are_updated_last_one_at_a_time() {
    let mut w = with_unmatched(2, Some(UnmatchedClusters::FinalStage));
    w.pass();
    let names: Vec<&str> = w
        .status()
        .stages_status
        .iter()
        .flatten()
        .map(|s| s.stage_name.as_str())
        .collect();
    assert_eq!(names, ["all", "unmatched-clusters"]);
    w.make_available("c01");
    w.make_available("c02");
    settle(&mut w);
    assert_eq!(
        cluster_condition(&w, 1, "x01", types::STARTED),
        pair("True", cluster::STARTED)
    );
    assert_eq!(cluster_condition(&w, 1, "x02", types::STARTED), None);
    w.make_available("x01");
    w.pass();
    w.make_available("x02");
    settle(&mut w);
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn a_final_stage_with_no_unmatched_cluster_is_skipped_as_empty() {
    let mut w = with_unmatched(0, Some(UnmatchedClusters::FinalStage));
    w.pass();
    w.make_available("c01");
    w.make_available("c02");
    settle(&mut w);
    assert_eq!(w.stage_condition(1, types::SUCCEEDED), pair("True", stage::SKIPPED));
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

// ---- Events for each new transition -----------------------------------------------------------

/// The reasons of the Events one pass publishes.
fn events_of_pass(w: &mut World) -> Vec<&'static str> {
    let old = w.status().clone();
    w.pass();
    transitions(Scope::Cluster, &old, w.status())
        .into_iter()
        .map(|n| n.reason)
        .collect()
}

#[test]
fn each_new_transition_publishes_an_event() {
    let mut w = fleet(3, Some(IntOrString::Int(0)), None);
    w.obs.run.spec.skip_clusters = Some(vec!["c02".into()]);
    let first = events_of_pass(&mut w);
    assert!(first.contains(&"ClusterSkipped"), "{first:?}");
    w.make_available("c01");
    fail_apply(&mut w, "c03");
    let failing = events_of_pass(&mut w);
    assert!(
        failing.contains(&"ClusterFailed") && failing.contains(&"Failed"),
        "{failing:?}"
    );
    w.advance(60);
    w.obs.run.spec.retry_failed_clusters = Some(1);
    w.obs.run.generation += 1;
    assert!(events_of_pass(&mut w).contains(&"RetryStarted"));
    w.obs.run.spec.skip_stages = Some(vec!["nope".into()]);
    w.obs.run.generation += 1;
    assert!(events_of_pass(&mut w).contains(&"ControlRejected"));
    w.set_state(UpdateRunState::Abort);
    assert!(events_of_pass(&mut w).contains(&"Aborted"));
}

#[test]
fn a_newcomer_publishes_a_clusters_excluded_event() {
    let mut w = frozen(1);
    w.pass();
    join(&mut w, "c02", ("stage", "all"));
    assert!(events_of_pass(&mut w).contains(&"ClustersExcluded"));
}

#[test]
fn a_frozen_cluster_whose_labels_change_stays_in_its_stage_and_is_not_counted_as_excluded() {
    let mut w = frozen(2);
    w.pass();
    w.obs.members[1].labels = labels(&[("stage", "elsewhere")]);
    w.make_available("c01");
    w.make_available("c02");
    settle(&mut w);
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(w.status().unmatched_clusters, None);
    assert_eq!(w.status().cluster_counts, None);
}

#[test]
fn a_cluster_whose_binding_already_failed_to_apply_fails_at_its_start_with_a_budget() {
    let mut w = fleet(2, Some(IntOrString::Int(0)), None);
    // Another run already pointed c02's binding at this version, and its member could not apply it.
    let snapshot = "example-placement-1-snapshot".to_string();
    let applied = ApplyStrategy::default().defaulted();
    let b = w.binding_mut("c02");
    b.spec.resource_snapshot_name = snapshot;
    b.spec.apply_strategy = Some(applied);
    b.spec.state = BindingState::Bound;
    set(
        &mut b.conditions,
        types::ROLLOUT_STARTED,
        Status::True,
        "RolloutStarted",
        "",
        1,
        t0(),
    );
    fail_apply(&mut w, "c02");
    w.pass();
    assert_eq!(
        cluster_condition(&w, 0, "c02", types::SUCCEEDED),
        pair("False", cluster::FAILED)
    );
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
}
