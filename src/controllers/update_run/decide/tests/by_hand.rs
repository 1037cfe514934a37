//! Unit tests of SD-39: a binding deleted by hand under a running run and re-created by the
//! scheduler gets the run's snapshot back when the run had already started its cluster.

use super::*;
use pretty_assertions::assert_eq;

/// The scheduler's fresh binding for `cluster` after the old one was deleted by hand.
fn recreate_binding(w: &mut World, cluster: &str) -> String {
    w.obs.bindings.retain(|b| b.spec.target_cluster != cluster);
    let mut fresh = binding(cluster, "example-placement-0", BindingState::Scheduled);
    fresh.name = format!("example-placement-{cluster}-new1");
    let name = fresh.name.clone();
    w.obs.bindings.push(fresh);
    name
}

fn restores_of(w: &World) -> Vec<(String, String)> {
    w.last
        .as_ref()
        .expect("a pass")
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::StartBinding {
                binding,
                target: Some(target),
                ..
            } => Some((binding.clone(), target.resource_snapshot_name.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_finished_clusters_recreated_binding_gets_the_runs_snapshot_back_while_the_run_waits() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    assert!(w.cluster_done(0, "member2"));
    let fresh = recreate_binding(&mut w, "member2");
    w.pass();
    assert_eq!(
        restores_of(&w),
        [(fresh, "example-placement-1-snapshot".to_string())],
        "the run waits for the canary approval and restores member2 meanwhile"
    );
    assert_eq!(w.binding("member2").spec.state, BindingState::Bound);
    assert!(w.cluster_done(0, "member2"), "member2 stays succeeded");
    w.pass();
    assert_eq!(restores_of(&w), [], "restored once");
}

#[test]
fn an_updating_clusters_recreated_binding_is_restarted_not_taken_for_another_run() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    w.pass();
    let fresh = recreate_binding(&mut w, "member3");
    w.pass();
    assert_eq!(
        w.run_condition(types::SUCCEEDED),
        None,
        "{}",
        w.run_message(types::SUCCEEDED)
    );
    assert_eq!(restores_of(&w), [(fresh, "example-placement-1-snapshot".to_string())]);
    w.make_available("member3");
    w.make_available("member1");
    w.pass();
    assert!(w.cluster_done(1, "member3"));
}

#[test]
fn a_stopped_run_restores_nothing_until_it_runs_again() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    recreate_binding(&mut w, "member2");
    w.pass();
    assert_eq!(restores_of(&w), []);
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(restores_of(&w).len(), 1);
}

#[test]
fn a_cluster_not_started_yet_is_left_to_the_stage_walk() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    recreate_binding(&mut w, "member1");
    w.pass();
    assert_eq!(restores_of(&w), [], "member1's stage waits for its approval");
}
