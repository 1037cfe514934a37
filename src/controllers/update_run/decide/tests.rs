//! Unit tests of `decide`, one behaviour each, named after the spec's acceptance list (§7).
//!
//! `World` is a small simulator: it applies a decision's status and actions the way the API
//! server and the member side would, so multi-pass flows can be followed without I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;

use super::model::*;
use super::validate::stage_progress;
use super::*;
use crate::api::condition::Condition;
use crate::api::placement::*;
use crate::conditions::{Status, find, set};
use crate::controllers::update_run::reasons::{msg, run, stage, task, types};
use crate::controllers::update_run::report::{failure_type, transitions};

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn selector(pairs: &[(&str, &str)]) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some(labels(pairs)),
        match_expressions: None,
    })
}

fn approval_task() -> StageTask {
    StageTask {
        type_: StageTaskType::Approval,
        wait_time: None,
    }
}

fn timed_wait(wait: &str) -> StageTask {
    StageTask {
        type_: StageTaskType::TimedWait,
        wait_time: Some(wait.into()),
    }
}

/// Doc A's strategy: staging (TimedWait 1m), canary (sorted by `order`, maxConcurrency 2,
/// before- and after-stage approvals).
fn doc_a_strategy() -> UpdateStrategySpec {
    UpdateStrategySpec {
        stages: vec![
            StageConfig {
                name: "staging".into(),
                label_selector: selector(&[("environment", "staging")]),
                max_concurrency: Some(IntOrString::Int(1)),
                after_stage_tasks: Some(vec![timed_wait("1m")]),
                ..Default::default()
            },
            StageConfig {
                name: "canary".into(),
                label_selector: selector(&[("environment", "canary")]),
                sorting_label_key: Some("order".into()),
                max_concurrency: Some(IntOrString::Int(2)),
                before_stage_tasks: Some(vec![approval_task()]),
                after_stage_tasks: Some(vec![approval_task()]),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn binding(cluster: &str, policy: &str, state: BindingState) -> BindingView {
    BindingView {
        name: format!("example-placement-{cluster}-abcd"),
        generation: 1,
        deleting: false,
        resource_version: None,
        spec: BindingSpec {
            state,
            scheduling_policy_snapshot_name: policy.into(),
            target_cluster: cluster.into(),
            ..Default::default()
        },
        conditions: None,
        failed_placements: 0,
    }
}

struct World {
    obs: Observed,
    last: Option<Decision>,
}

impl World {
    /// Doc A's setup: three members with the seed labels, a scheduled PickAll policy snapshot,
    /// three Scheduled bindings, resource snapshot 1, the run in state Run.
    fn doc_a() -> World {
        let mut policy_conditions = None;
        set(
            &mut policy_conditions,
            "Scheduled",
            Status::True,
            "Scheduled",
            "",
            1,
            t0(),
        );
        World {
            obs: Observed {
                now: t0(),
                run: RunView {
                    scope: Scope::Cluster,
                    name: "example-run".into(),
                    namespace: None,
                    generation: 1,
                    deleting: false,
                    has_finalizer: true,
                    spec: UpdateRunSpec {
                        placement_name: "example-placement".into(),
                        resource_snapshot_index: Some("1".into()),
                        staged_rollout_strategy_name: "example-strategy".into(),
                        state: UpdateRunState::Run,
                        ..Default::default()
                    },
                    status: UpdateRunStatus::default(),
                },
                placement: Some(PlacementView {
                    strategy_type: RolloutStrategyType::External,
                    apply_strategy: ApplyStrategy::default().defaulted(),
                }),
                policy_snapshots: vec![PolicySnapshotView {
                    name: "example-placement-0".into(),
                    generation: 1,
                    policy_index: Some("0".into()),
                    placement_type: PlacementType::PickAll,
                    fixed_cluster_count: 0,
                    number_of_clusters: None,
                    conditions: policy_conditions,
                    selected_clusters: vec![],
                    selected_cluster_count: None,
                }],
                bindings: ["member1", "member2", "member3"]
                    .iter()
                    .map(|c| binding(c, "example-placement-0", BindingState::Scheduled))
                    .collect(),
                members: vec![
                    MemberView {
                        name: "member1".into(),
                        labels: labels(&[("environment", "canary"), ("order", "2")]),
                    },
                    MemberView {
                        name: "member2".into(),
                        labels: labels(&[("environment", "staging")]),
                    },
                    MemberView {
                        name: "member3".into(),
                        labels: labels(&[("environment", "canary"), ("order", "1")]),
                    },
                ],
                strategy: Some(Some(doc_a_strategy())),
                resource_snapshots: vec![ResourceSnapshotView {
                    name: "example-placement-1-snapshot".into(),
                    index: Some("1".into()),
                    is_master: true,
                    pending_change: None,
                }],
                approvals: BTreeMap::new(),
                inline_limit: super::compact::DEFAULT_INLINE_LIMIT,
                profile: crate::controllers::compat::Profile::Documents,
            },
            last: None,
        }
    }

    /// One pass: decide, then apply status and actions as the API server would.
    fn pass(&mut self) -> &Decision {
        let decision = decide(&self.obs);
        self.obs.run.status = decision.status.clone();
        let now = self.obs.now;
        for action in &decision.actions {
            match action {
                Action::AddFinalizer => self.obs.run.has_finalizer = true,
                Action::RemoveFinalizer | Action::DeleteApprovals => {}
                Action::CreateApproval { name, stage, .. } => {
                    self.obs.approvals.entry(name.clone()).or_insert(ApprovalView {
                        generation: 1,
                        parent_stage_rollout: self.obs.run.name.clone(),
                        target_stage: stage.clone(),
                        conditions: None,
                    });
                }
                Action::AcceptApproval { name } => {
                    if let Some(a) = self.obs.approvals.get_mut(name) {
                        set(
                            &mut a.conditions,
                            types::APPROVAL_ACCEPTED,
                            Status::True,
                            "ApprovalRequestApprovalAccepted",
                            "",
                            1,
                            now,
                        );
                    }
                }
                Action::StartBinding {
                    binding,
                    target,
                    message,
                } => {
                    let b = self.binding_mut_by_name(binding);
                    if let Some(target) = target {
                        b.spec.resource_snapshot_name = target.resource_snapshot_name.clone();
                        b.spec.apply_strategy = Some(target.apply_strategy.clone());
                    }
                    if b.spec.state != BindingState::Bound || target.is_some() {
                        b.generation += 1;
                    }
                    b.spec.state = BindingState::Bound;
                    crate::conditions::remove(&mut b.conditions, types::ROLLOUT_STARTED);
                    let g = b.generation;
                    set(
                        &mut b.conditions,
                        types::ROLLOUT_STARTED,
                        Status::True,
                        "RolloutStarted",
                        message.clone(),
                        g,
                        now,
                    );
                }
                Action::DeleteBinding { binding } => self.binding_mut_by_name(binding).deleting = true,
                // The placement controller snapshots the pending change as the next index (the
                // first one, 0, when there was none).
                Action::RequestSnapshot => {
                    let next = self
                        .obs
                        .resource_snapshots
                        .first()
                        .and_then(|s| s.index.as_deref())
                        .and_then(|i| i.parse::<u64>().ok())
                        .map_or(0, |i| i + 1);
                    self.obs.resource_snapshots = vec![ResourceSnapshotView {
                        name: format!("example-placement-{next}-snapshot"),
                        index: Some(next.to_string()),
                        is_master: true,
                        pending_change: None,
                    }];
                }
            }
        }
        self.last = Some(decision);
        self.last.as_ref().expect("just set")
    }

    /// The stages of the strategy the run will initialize from.
    fn stages_mut(&mut self) -> &mut Vec<StageConfig> {
        &mut self
            .obs
            .strategy
            .as_mut()
            .and_then(|s| s.as_mut())
            .expect("strategy")
            .stages
    }

    fn binding_mut_by_name(&mut self, name: &str) -> &mut BindingView {
        self.obs
            .bindings
            .iter_mut()
            .find(|b| b.name == name)
            .expect("binding exists")
    }

    fn binding_mut(&mut self, cluster: &str) -> &mut BindingView {
        self.obs
            .bindings
            .iter_mut()
            .find(|b| b.spec.target_cluster == cluster)
            .expect("binding exists")
    }

    fn binding(&self, cluster: &str) -> &BindingView {
        self.obs
            .bindings
            .iter()
            .find(|b| b.spec.target_cluster == cluster)
            .expect("binding exists")
    }

    /// What a member agent would report once the resources are available.
    fn make_available(&mut self, cluster: &str) {
        let now = self.obs.now;
        let b = self.binding_mut(cluster);
        let g = b.generation;
        set(
            &mut b.conditions,
            types::AVAILABLE,
            Status::True,
            "AllWorkAreAvailable",
            "",
            g,
            now,
        );
    }

    fn approve(&mut self, name: &str) {
        let a = self.obs.approvals.get_mut(name).expect("approval exists");
        // Doc A's short patch: no lastTransitionTime, no observedGeneration (SD-8).
        a.conditions.get_or_insert_with(Vec::new).push(Condition {
            type_: types::APPROVED.into(),
            status: "True".into(),
            reason: "lgtm".into(),
            ..Default::default()
        });
    }

    fn advance(&mut self, seconds: i64) {
        self.obs.now += SignedDuration::from_secs(seconds);
    }

    fn set_state(&mut self, state: UpdateRunState) {
        self.obs.run.spec.state = state;
        self.obs.run.generation += 1;
    }

    fn status(&self) -> &UpdateRunStatus {
        &self.obs.run.status
    }

    fn run_condition(&self, type_: &str) -> Option<(String, String)> {
        find(&self.status().conditions, type_).map(|c| (c.status.clone(), c.reason.clone()))
    }

    fn run_message(&self, type_: &str) -> String {
        find(&self.status().conditions, type_)
            .map(|c| c.message.clone())
            .unwrap_or_default()
    }

    fn stage(&self, i: usize) -> &StageUpdatingStatus {
        &self.status().stages_status.as_ref().expect("stages")[i]
    }

    fn stage_condition(&self, i: usize, type_: &str) -> Option<(String, String)> {
        find(&self.stage(i).conditions, type_).map(|c| (c.status.clone(), c.reason.clone()))
    }

    fn cluster_done(&self, stage_index: usize, cluster: &str) -> bool {
        self.stage(stage_index)
            .clusters
            .iter()
            .find(|c| c.cluster_name == cluster)
            .is_some_and(|c| find(&c.conditions, types::SUCCEEDED).is_some_and(|s| s.status == "True"))
    }

    fn next(&self) -> Next {
        self.last.as_ref().expect("a pass ran").next.clone()
    }
}

fn pair(status: &str, reason: &str) -> Option<(String, String)> {
    Some((status.to_string(), reason.to_string()))
}

fn init_message(world: &World) -> String {
    world.run_message(types::INITIALIZED)
}

// ---- Initialization -------------------------------------------------------------------------

#[test]
fn initialization_computes_doc_a_stages_in_label_order() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Initialize;
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
    assert_eq!(init_message(&w), "ClusterStagedUpdateRun initialized successfully");
    let shape: Vec<(String, Vec<String>)> = w
        .status()
        .stages_status
        .iter()
        .flatten()
        .map(|s| {
            (
                s.stage_name.clone(),
                s.clusters.iter().map(|c| c.cluster_name.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("staging".to_string(), vec!["member2".to_string()]),
            ("canary".to_string(), vec!["member3".to_string(), "member1".to_string()]),
        ]
    );
    let canary = w.stage(1);
    assert_eq!(
        canary.before_stage_task_status.as_ref().expect("before")[0]
            .approval_request_name
            .as_deref(),
        Some("example-run-canary-before")
    );
    assert_eq!(
        canary.after_stage_task_status.as_ref().expect("after")[0]
            .approval_request_name
            .as_deref(),
        Some("example-run-canary-after")
    );
    assert_eq!(w.status().policy_snapshot_index_used.as_deref(), Some("0"));
    assert_eq!(w.status().policy_observed_cluster_count, Some(3));
    assert_eq!(w.status().resource_snapshot_index_used.as_deref(), Some("1"));
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion stage");
    assert_eq!(deletion.stage_name, "kubernetes-fleet.io/deleteStage");
    assert!(deletion.clusters.is_empty());
}

#[test]
fn initialize_state_sets_no_progressing_and_touches_no_binding() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Initialize;
    let d = w.pass().clone();
    assert_eq!(w.run_condition(types::PROGRESSING), None);
    assert!(
        w.status()
            .stages_status
            .iter()
            .flatten()
            .all(|s| s.conditions.is_none())
    );
    assert!(!d.actions.iter().any(|a| matches!(a, Action::StartBinding { .. })));
    assert_eq!(d.next, Next::AwaitChange);
}

#[test]
fn strategy_snapshot_uses_go_durations_and_drops_approval_wait_times() {
    let mut w = World::doc_a();
    w.pass();
    let snapshot = w.status().staged_update_strategy_snapshot.as_ref().expect("snapshot");
    assert_eq!(
        snapshot.stages[0].after_stage_tasks.as_ref().expect("tasks")[0]
            .wait_time
            .as_deref(),
        Some("1m0s")
    );
    assert_eq!(snapshot.stages[1].max_concurrency, Some(IntOrString::Int(2)));
}

#[test]
fn applied_strategy_is_the_placements_defaulted_apply_strategy() {
    let mut w = World::doc_a();
    w.pass();
    assert_eq!(w.status().applied_strategy, Some(ApplyStrategy::default().defaulted()));
}

#[test]
fn missing_placement_fails_initialization_as_user_error() {
    let mut w = World::doc_a();
    w.obs.placement = None;
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZE_FAILED)
    );
    assert_eq!(
        init_message(&w),
        "cannot continue the updateRun: failed to validate the updateRun: failed to process the request due to a client error: parent placement not found"
    );
    assert_eq!(
        failure_type(find(&w.status().conditions, types::INITIALIZED)),
        "user_error"
    );
    assert_eq!(w.next(), Next::AwaitChange);
}

#[test]
fn placement_without_external_strategy_fails_initialization() {
    let mut w = World::doc_a();
    w.obs.placement.as_mut().expect("placement").strategy_type = RolloutStrategyType::RollingUpdate;
    w.pass();
    assert!(
        init_message(&w)
            .contains("parent placement does not have an external rollout strategy, current strategy: RollingUpdate")
    );
}

#[test]
fn failed_initialization_is_terminal() {
    let mut w = World::doc_a();
    w.obs.placement = None;
    w.pass();
    let before = w.status().clone();
    w.obs.placement = World::doc_a().obs.placement;
    w.pass();
    assert_eq!(w.status(), &before);
}

#[test]
fn missing_policy_snapshot_keeps_initialization_pending() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots.clear();
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
    assert!(init_message(&w).contains("no latest policy snapshot found for placement /example-placement"));
    assert_eq!(w.next(), Next::After(PENDING_RETRY));
    // SD-12: once the snapshot appears, initialization succeeds.
    w.obs.policy_snapshots = World::doc_a().obs.policy_snapshots;
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
}

#[test]
fn a_selected_cluster_without_an_observed_binding_keeps_initialization_pending() {
    // SD-21: the scheduler decided on member4 but its binding is not in the cache yet.
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].selected_clusters =
        ["member1", "member2", "member3", "member4"].map(String::from).to_vec();
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
    assert!(init_message(&w).contains("1 of the 4 clusters selected by policy snapshot"));
    // Once the binding arrives the run initializes with all four clusters.
    let mut fourth = w.obs.bindings[0].clone();
    fourth.name = "example-placement-member4".into();
    fourth.spec.target_cluster = "member4".into();
    w.obs.bindings.push(fourth);
    let mut member = w.obs.members[0].clone();
    member.name = "member4".into();
    w.obs.members.push(member);
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
}

#[test]
fn two_latest_policy_snapshots_keep_initialization_pending() {
    let mut w = World::doc_a();
    let mut second = w.obs.policy_snapshots[0].clone();
    second.name = "example-placement-1".into();
    w.obs.policy_snapshots.push(second);
    w.pass();
    assert!(init_message(&w).contains("multiple active policy snapshots found"));
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
}

#[test]
fn policy_snapshot_without_index_label_fails_initialization() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].policy_index = None;
    w.pass();
    assert!(init_message(&w).contains("does not have a policy index label"));
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZE_FAILED)
    );
}

#[test]
fn pick_n_with_bad_count_annotation_fails_initialization() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickN;
    w.obs.policy_snapshots[0].number_of_clusters = Some("three".into());
    w.pass();
    assert!(init_message(&w).contains("doesn't have valid cluster count annotation"));
}

#[test]
fn unscheduled_policy_snapshot_keeps_initialization_pending() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].conditions = None;
    w.pass();
    assert!(init_message(&w).contains("not fully scheduled yet"));
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
}

#[test]
fn cluster_counts_come_from_pick_n_pick_fixed_and_bindings() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickN;
    w.obs.policy_snapshots[0].number_of_clusters = Some("3".into());
    w.pass();
    assert_eq!(w.status().policy_observed_cluster_count, Some(3));

    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickFixed;
    w.obs.policy_snapshots[0].fixed_cluster_count = 3;
    w.pass();
    assert_eq!(w.status().policy_observed_cluster_count, Some(3));
}

#[test]
fn no_bindings_keep_initialization_pending() {
    let mut w = World::doc_a();
    w.obs.bindings.clear();
    w.pass();
    assert!(init_message(&w).contains("no scheduled or to-be-deleted bindings found"));
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
}

#[test]
fn pick_n_count_mismatch_keeps_initialization_pending() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickN;
    w.obs.policy_snapshots[0].number_of_clusters = Some("10".into());
    w.pass();
    assert!(
        init_message(&w).contains("the number of selected bindings 3 is not equal to the observed cluster count 10")
    );
}

#[test]
fn binding_on_older_policy_snapshot_keeps_initialization_pending() {
    let mut w = World::doc_a();
    w.obs.bindings[0].spec.scheduling_policy_snapshot_name = "example-placement-old".into();
    w.pass();
    assert!(init_message(&w).contains("transient state"));
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
}

#[test]
fn unscheduled_bindings_go_to_the_deletion_stage() {
    let mut w = World::doc_a();
    w.obs
        .bindings
        .push(binding("member9", "example-placement-0", BindingState::Unscheduled));
    w.pass();
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert_eq!(deletion.clusters[0].cluster_name, "member9");
    assert_eq!(w.status().policy_observed_cluster_count, Some(3));
}

#[test]
fn missing_strategy_fails_initialization() {
    let mut w = World::doc_a();
    w.obs.strategy = Some(None);
    w.pass();
    assert!(init_message(&w).contains("referenced updateStrategy not found: `/example-strategy`"));
}

#[test]
fn two_timed_waits_after_a_stage_fail_initialization() {
    let mut w = World::doc_a();
    w.stages_mut()[0].after_stage_tasks = Some(vec![timed_wait("1m"), timed_wait("2m")]);
    w.pass();
    assert!(init_message(&w).contains("afterStageTasks cannot have two tasks of the same type: TimedWait"));
}

#[test]
fn cluster_without_sorting_label_sorts_last() {
    let mut w = World::doc_a();
    w.obs.members[2].labels.remove("order");
    w.pass();
    let names: Vec<&str> = w.stage(1).clusters.iter().map(|c| c.cluster_name.as_str()).collect();
    assert_eq!(names, vec!["member1", "member3"]);
}

#[test]
fn non_integer_sorting_label_fails_initialization_naming_the_cluster() {
    let mut w = World::doc_a();
    w.obs.members[0].labels.insert("order".into(), "first".into());
    w.pass();
    assert!(init_message(&w).contains("the sorting label `order:first` on cluster `member1` is not valid"));
}

#[test]
fn cluster_in_two_stages_fails_initialization() {
    let mut w = World::doc_a();
    w.stages_mut()[1].label_selector = Some(LabelSelector::default());
    w.pass();
    assert!(init_message(&w).contains("appears in more than one stages"));
}

#[test]
fn cluster_in_no_stage_fails_initialization() {
    let mut w = World::doc_a();
    w.stages_mut().truncate(1);
    w.pass();
    assert!(
        init_message(&w)
            .contains("some clusters are not placed in any stage, total 2, showing up to 10: member1, member3")
    );
}

#[test]
fn empty_selector_takes_all_and_absent_selector_takes_none() {
    let mut w = World::doc_a();
    let stages = w.stages_mut();
    stages[0].label_selector = Some(LabelSelector::default());
    stages[0].sorting_label_key = None;
    stages[1].label_selector = None;
    w.pass();
    assert_eq!(w.stage(0).clusters.len(), 3);
    assert!(w.stage(1).clusters.is_empty());
}

#[test]
fn invalid_resource_snapshot_index_fails_initialization() {
    for index in ["invalid-index", "-1"] {
        let mut w = World::doc_a();
        w.obs.run.spec.resource_snapshot_index = Some(index.into());
        w.pass();
        assert!(init_message(&w).contains(&format!("invalid resource snapshot index `{index}` provided")));
    }
}

#[test]
fn unknown_resource_snapshot_index_fails_initialization() {
    let mut w = World::doc_a();
    w.obs.run.spec.resource_snapshot_index = Some("7".into());
    w.obs.resource_snapshots.clear();
    w.pass();
    assert!(init_message(&w).contains("no resourceSnapshots with index `7` found for placement `/example-placement`"));
}

#[test]
fn snapshot_without_hash_is_not_a_master() {
    let mut w = World::doc_a();
    w.obs.resource_snapshots[0].is_master = false;
    w.pass();
    assert!(init_message(&w).contains("no master resourceSnapshot found for placement"));
}

#[test]
fn run_without_index_uses_the_latest_snapshot() {
    let mut w = World::doc_a();
    w.obs.run.spec.resource_snapshot_index = None;
    w.pass();
    assert_eq!(w.status().resource_snapshot_index_used.as_deref(), Some("1"));
    assert_eq!(
        w.binding("member2").spec.resource_snapshot_name,
        "example-placement-1-snapshot"
    );
}

#[test]
fn run_without_index_waits_for_a_first_snapshot() {
    let mut w = World::doc_a();
    w.obs.run.spec.resource_snapshot_index = None;
    w.obs.resource_snapshots.clear();
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
}

#[test]
fn run_without_index_first_has_a_detected_change_snapshotted() {
    let mut w = World::doc_a();
    w.obs.run.spec.resource_snapshot_index = None;
    w.obs.resource_snapshots[0].pending_change = Some("2026-01-01T00:00:05Z".into());
    let first = w.pass().clone();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
    assert!(
        init_message(&w).contains("resource change detected at 2026-01-01T00:00:05Z that is not in a snapshot yet")
    );
    assert_eq!(first.actions, [Action::RequestSnapshot]);
    // The simulated placement controller made snapshot 2; the run now uses it.
    w.pass();
    assert_eq!(w.status().resource_snapshot_index_used.as_deref(), Some("2"));
}

#[test]
fn run_with_an_index_ignores_a_pending_change() {
    let mut w = World::doc_a();
    w.obs.resource_snapshots[0].pending_change = Some("2026-01-01T00:00:05Z".into());
    let d = w.pass().clone();
    assert!(!d.actions.contains(&Action::RequestSnapshot));
    assert_eq!(w.status().resource_snapshot_index_used.as_deref(), Some("1"));
}

// ---- Execution -----------------------------------------------------------------------------

/// Drives doc A to the point where canary waits for its before-stage approval.
fn through_staging(w: &mut World) {
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(61);
    w.pass();
    w.pass();
}

#[test]
fn first_pass_binds_the_first_staging_cluster() {
    let mut w = World::doc_a();
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("True", run::STARTED));
    assert_eq!(w.stage_condition(0, types::PROGRESSING), pair("True", stage::STARTED));
    assert!(w.stage(0).start_time.is_some());
    let b = w.binding("member2");
    assert_eq!(b.spec.state, BindingState::Bound);
    assert_eq!(b.spec.resource_snapshot_name, "example-placement-1-snapshot");
    assert_eq!(b.spec.apply_strategy, Some(ApplyStrategy::default().defaulted()));
    let rollout = find(&b.conditions, types::ROLLOUT_STARTED).expect("RolloutStarted");
    assert_eq!(rollout.observed_generation, Some(b.generation));
    assert_eq!(
        rollout.message,
        "Detected the new changes on the resources and started the rollout process, resourceSnapshotIndex: 1, updateRun: example-run"
    );
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
}

#[test]
fn available_binding_completes_the_cluster_and_starts_the_timed_wait() {
    let mut w = World::doc_a();
    w.pass();
    w.make_available("member2");
    w.pass();
    assert!(w.cluster_done(0, "member2"));
    assert_eq!(w.stage_condition(0, types::PROGRESSING), pair("False", stage::WAITING));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::WAITING));
    assert_eq!(
        w.run_message(types::PROGRESSING),
        "The updateRun is waiting for after-stage tasks in stage staging to complete"
    );
    // SD-16: the wait is visible, and the run is requeued for exactly the time left.
    let wait = &w.stage(0).after_stage_task_status.as_ref().expect("tasks")[0];
    let elapsed = find(&wait.conditions, types::WAIT_TIME_ELAPSED).expect("WaitTimeElapsed");
    assert_eq!(
        (elapsed.status.as_str(), elapsed.reason.as_str()),
        ("False", task::WAIT_TIME_PENDING)
    );
    assert!(elapsed.message.contains("1m0s"));
    assert_eq!(w.next(), Next::After(Duration::from_secs(60)));
}

#[test]
fn timed_wait_completes_the_stage_after_its_duration() {
    let mut w = World::doc_a();
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(30);
    w.pass();
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), None);
    assert_eq!(w.next(), Next::After(Duration::from_secs(30)));
    w.advance(30);
    w.pass();
    assert_eq!(
        w.stage_condition(0, types::PROGRESSING),
        pair("False", stage::SUCCEEDED)
    );
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), pair("True", stage::SUCCEEDED));
    assert!(w.stage(0).end_time.is_some());
    let wait = &w.stage(0).after_stage_task_status.as_ref().expect("tasks")[0];
    let elapsed = find(&wait.conditions, types::WAIT_TIME_ELAPSED).expect("WaitTimeElapsed");
    assert_eq!(
        (elapsed.status.as_str(), elapsed.reason.as_str()),
        ("True", task::WAIT_TIME_ELAPSED)
    );
    assert_eq!(w.next(), Next::After(Duration::ZERO));
}

#[test]
fn before_stage_approval_is_requested_and_nothing_starts_until_approved() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    assert!(w.obs.approvals.contains_key("example-run-canary-before"));
    assert_eq!(w.stage_condition(1, types::PROGRESSING), pair("False", stage::WAITING));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::WAITING));
    assert_eq!(
        w.run_message(types::PROGRESSING),
        "The updateRun is waiting for before-stage tasks in stage canary to complete"
    );
    assert!(w.stage(1).start_time.is_none());
    let task_status = &w.stage(1).before_stage_task_status.as_ref().expect("before")[0];
    let created = find(&task_status.conditions, types::APPROVAL_REQUEST_CREATED).expect("created");
    assert_eq!(created.reason, task::BEFORE_APPROVAL_CREATED);
    assert_eq!(created.message, "ClusterApprovalRequest is created");
    assert_eq!(w.binding("member3").spec.state, BindingState::Scheduled);
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Scheduled);
}

#[test]
fn approving_with_the_short_patch_is_accepted_and_starts_two_canary_clusters() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    let d = w.pass().clone();
    assert!(d.actions.contains(&Action::AcceptApproval {
        name: "example-run-canary-before".into()
    }));
    let task_status = &w.stage(1).before_stage_task_status.as_ref().expect("before")[0];
    let approved = find(&task_status.conditions, types::APPROVAL_REQUEST_APPROVED).expect("approved");
    assert_eq!(approved.reason, task::BEFORE_APPROVAL_APPROVED);
    // maxConcurrency 2: member3 (order 1) and member1 (order 2) start together.
    assert_eq!(w.binding("member3").spec.state, BindingState::Bound);
    assert_eq!(w.binding("member1").spec.state, BindingState::Bound);
    assert_eq!(w.run_condition(types::PROGRESSING), pair("True", run::STARTED));
}

#[test]
fn approval_with_another_generation_does_not_count() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    let a = w.obs.approvals.get_mut("example-run-canary-before").expect("approval");
    a.conditions = Some(vec![Condition {
        type_: types::APPROVED.into(),
        status: "True".into(),
        observed_generation: Some(2),
        reason: "lgtm".into(),
        ..Default::default()
    }]);
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Scheduled);
}

/// Drives doc A through staging and the canary updates, up to the after-stage approval.
fn through_canary(w: &mut World) {
    through_staging(w);
    w.approve("example-run-canary-before");
    w.pass();
    w.make_available("member3");
    w.make_available("member1");
    w.pass();
}

#[test]
fn doc_a_flow_runs_to_success_with_after_stage_approval() {
    let mut w = World::doc_a();
    through_canary(&mut w);
    assert!(w.obs.approvals.contains_key("example-run-canary-after"));
    assert_eq!(w.stage_condition(1, types::PROGRESSING), pair("False", stage::WAITING));
    w.approve("example-run-canary-after");
    w.pass();
    assert_eq!(w.stage_condition(1, types::SUCCEEDED), pair("True", stage::SUCCEEDED));
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::SUCCEEDED));
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert_eq!(
        find(&deletion.conditions, types::SUCCEEDED).map(|c| c.reason.as_str()),
        Some(stage::SUCCEEDED)
    );
    // Terminal: another pass changes nothing.
    let done = w.status().clone();
    w.pass();
    assert_eq!(w.status(), &done);
}

#[test]
fn doc_b_after_stage_approval_is_named_run_dash_stage() {
    let mut w = World::doc_a();
    w.stages_mut()[1].before_stage_tasks = None;
    w.pass();
    let after = &w.stage(1).after_stage_task_status.as_ref().expect("after")[0];
    assert_eq!(after.approval_request_name.as_deref(), Some("example-run-canary"));
}

#[test]
fn max_concurrency_one_starts_the_next_cluster_in_the_same_pass() {
    let mut w = World::doc_a();
    w.stages_mut()[1].max_concurrency = Some(IntOrString::Int(1));
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Bound);
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
    w.make_available("member3");
    w.pass();
    assert!(w.cluster_done(1, "member3"));
    assert_eq!(w.binding("member1").spec.state, BindingState::Bound);
}

#[test]
fn cluster_already_delivered_succeeds_on_first_visit() {
    let mut w = World::doc_a();
    w.pass();
    w.make_available("member2");
    // A second run with the same version finds the binding in sync, Bound and Available.
    let binding = w.binding("member2").clone();
    let mut second = World::doc_a();
    second.obs.run.name = "example-run-2".into();
    *second.binding_mut("member2") = binding;
    second.pass();
    assert!(second.cluster_done(0, "member2"));
}

#[test]
fn failing_binding_is_retried_then_reported_stuck() {
    let mut w = World::doc_a();
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("member2");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::APPLIED,
        Status::False,
        "ApplyFailed",
        "bad field",
        g,
        now,
    );
    w.pass();
    assert!(
        matches!(w.next(), Next::Retry { why: m, .. } if m.contains("cluster updating encountered an error at stage `staging`"))
    );
    w.advance(301);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STUCK));
    assert_eq!(
        w.run_message(types::PROGRESSING),
        "The updateRun is stuck waiting for member2 cluster(s) in stage staging to finish updating, please check placement status for potential errors"
    );
    assert_eq!(
        failure_type(find(&w.status().conditions, types::PROGRESSING)),
        "internal_error"
    );
}

#[test]
fn in_progress_binding_reasons_are_not_failures() {
    let mut w = World::doc_a();
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("member2");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::WORK_SYNCHRONIZED,
        Status::False,
        "WorkNotSynchronizedYet",
        "",
        g,
        now,
    );
    set(
        &mut b.conditions,
        types::AVAILABLE,
        Status::False,
        "ResourceNotAvailableYet",
        "",
        g,
        now,
    );
    w.pass();
    assert_eq!(w.next(), Next::After(super::execute::CLUSTER_POLL));
}

#[test]
fn diff_reported_counts_as_success() {
    let mut w = World::doc_a();
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("member2");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::DIFF_REPORTED,
        Status::True,
        "DiffReported",
        "",
        g,
        now,
    );
    w.pass();
    assert!(w.cluster_done(0, "member2"));
}

#[test]
fn preempted_binding_fails_cluster_stage_and_run() {
    let mut w = World::doc_a();
    w.pass();
    // Another run points member2's binding at another snapshot.
    w.binding_mut("member2").spec.resource_snapshot_name = "example-placement-0-snapshot".into();
    w.binding_mut("member2").generation += 1;
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::FAILED));
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), pair("False", stage::FAILED));
    assert_eq!(w.stage_condition(0, types::PROGRESSING), pair("False", stage::FAILED));
    let cluster = &w.stage(0).clusters[0];
    let failed = find(&cluster.conditions, types::SUCCEEDED).expect("cluster failed");
    assert_eq!(failed.reason, "ClusterUpdatingFailed");
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("concurrent updateRun referencing the same placement")
    );
    assert_eq!(
        failure_type(find(&w.status().conditions, types::SUCCEEDED)),
        "user_error"
    );
}

#[test]
fn empty_stage_is_skipped_without_tasks() {
    let mut w = World::doc_a();
    w.stages_mut()[1].label_selector = selector(&[("environment", "nowhere")]);
    w.obs.bindings.retain(|b| b.spec.target_cluster == "member2");
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(60);
    w.pass();
    w.pass();
    assert_eq!(w.stage_condition(1, types::SUCCEEDED), pair("True", stage::SKIPPED));
    assert_eq!(w.stage_condition(1, types::PROGRESSING), pair("False", stage::SKIPPED));
    assert!(w.stage(1).start_time.is_some() && w.stage(1).end_time.is_some());
    assert!(w.obs.approvals.is_empty());
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn deletion_stage_deletes_unscheduled_bindings_then_succeeds() {
    let mut w = World::doc_a();
    w.stages_mut().truncate(1);
    w.obs.bindings.retain(|b| b.spec.target_cluster == "member2");
    w.obs
        .bindings
        .push(binding("member1", "example-placement-0", BindingState::Unscheduled));
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(60);
    w.pass();
    let d = w.pass().clone();
    assert!(d.actions.contains(&Action::DeleteBinding {
        binding: "example-placement-member1-abcd".into()
    }));
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert_eq!(
        find(&deletion.conditions, types::PROGRESSING).map(|c| c.status.as_str()),
        Some("True")
    );
    w.obs.bindings.retain(|b| b.spec.target_cluster != "member1");
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert!(find(&deletion.clusters[0].conditions, types::SUCCEEDED).is_some());
}

#[test]
fn deleted_pending_approval_is_recreated_but_not_after_acceptance() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.obs.approvals.remove("example-run-canary-before");
    let d = w.pass().clone();
    assert!(
        d.actions
            .iter()
            .any(|a| matches!(a, Action::CreateApproval { name, .. } if name == "example-run-canary-before"))
    );
    w.approve("example-run-canary-before");
    w.pass();
    w.obs.approvals.remove("example-run-canary-before");
    let d = w.pass().clone();
    assert!(!d.actions.iter().any(|a| matches!(a, Action::CreateApproval { .. })));
}

#[test]
fn accepted_approval_cannot_be_revoked() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    w.pass();
    let a = w.obs.approvals.get_mut("example-run-canary-before").expect("approval");
    for c in a.conditions.iter_mut().flatten().filter(|c| c.type_ == types::APPROVED) {
        c.status = "False".into();
    }
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Bound);
    assert!(w.run_condition(types::SUCCEEDED).is_none());
}

#[test]
fn a_status_patch_that_drops_approval_accepted_gets_it_back_even_after_the_run_finished() {
    let mut w = World::doc_a();
    through_canary(&mut w);
    w.approve("example-run-canary-after");
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    // Doc A's second approval (from approval.json) replaces the whole condition list.
    let a = w.obs.approvals.get_mut("example-run-canary-after").expect("approval");
    a.conditions = Some(vec![Condition {
        type_: types::APPROVED.into(),
        status: "True".into(),
        observed_generation: Some(1),
        reason: "approved".into(),
        ..Default::default()
    }]);
    let done = w.status().clone();
    let d = w.pass().clone();
    assert_eq!(
        d.actions,
        vec![Action::AcceptApproval {
            name: "example-run-canary-after".into()
        }]
    );
    assert!(is_accepted(&w.obs.approvals["example-run-canary-after"]));
    assert_eq!(w.status(), &done);
    // Nothing left to restore.
    assert!(w.pass().actions.is_empty());
}

#[test]
fn approval_for_another_stage_aborts() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.obs
        .approvals
        .get_mut("example-run-canary-before")
        .expect("approval")
        .target_stage = "staging".into();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    assert!(w.run_message(types::SUCCEEDED).contains("is targeting run"));
}

#[test]
fn initialize_then_run_starts_execution_with_the_new_generation() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Initialize;
    w.pass();
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.binding("member2").spec.state, BindingState::Bound);
    let progressing = find(&w.status().conditions, types::PROGRESSING).expect("progressing");
    assert_eq!(progressing.observed_generation, Some(2));
    let initialized = find(&w.status().conditions, types::INITIALIZED).expect("initialized");
    assert_eq!(initialized.observed_generation, Some(2));
}

// ---- Re-validation ------------------------------------------------------------------------

#[test]
fn placement_deleted_mid_run_fails_the_run_and_keeps_stage_status() {
    let mut w = World::doc_a();
    w.pass();
    let stages = w.status().stages_status.clone();
    w.obs.placement = None;
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("False", run::FAILED));
    assert!(w.run_message(types::SUCCEEDED).contains("parent placement not found"));
    assert_eq!(w.status().stages_status, stages);
}

#[test]
fn apply_strategy_change_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.placement.as_mut().expect("placement").apply_strategy.type_ = Some(ApplyStrategyType::ServerSideApply);
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the applyStrategy in the updateRun is outdated")
    );
}

#[test]
fn new_policy_snapshot_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.policy_snapshots[0].policy_index = Some("1".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the policy snapshot index used in the updateRun is outdated, latest: 1, recorded: 0")
    );
}

#[test]
fn pick_n_count_change_fails_the_run() {
    let mut w = World::doc_a();
    w.obs.policy_snapshots[0].placement_type = PlacementType::PickN;
    w.obs.policy_snapshots[0].number_of_clusters = Some("3".into());
    w.pass();
    w.obs.policy_snapshots[0].number_of_clusters = Some("2".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the cluster count initialized in the updateRun is outdated")
    );
}

#[test]
fn cluster_leaving_the_selection_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.members[0].labels.insert("environment".into(), "staging".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the number of clusters in index `0` stage has changed")
    );
}

#[test]
fn swapped_sorting_values_fail_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.members[0].labels.insert("order".into(), "0".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the `0` cluster in the `1` stage has changed")
    );
}

#[test]
fn missing_stage_status_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.run.status.stages_status = None;
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the updateRun has nil stagesStatus")
    );
}

#[test]
fn stage_progress_rejects_inconsistent_stages() {
    let strategy = doc_a_strategy();
    let mut stages = vec![
        StageUpdatingStatus {
            stage_name: "staging".into(),
            ..Default::default()
        },
        StageUpdatingStatus {
            stage_name: "canary".into(),
            ..Default::default()
        },
    ];
    assert_eq!(stage_progress(&stages, &strategy, 1), Ok((None, None)));
    // A finished stage after a not-finished one.
    set(
        &mut stages[1].conditions,
        types::SUCCEEDED,
        Status::True,
        stage::SUCCEEDED,
        "",
        1,
        t0(),
    );
    assert!(stage_progress(&stages, &strategy, 1).is_err());
    stages[1].conditions = None;
    set(
        &mut stages[0].conditions,
        types::PROGRESSING,
        Status::True,
        stage::STARTED,
        "",
        1,
        t0(),
    );
    assert_eq!(stage_progress(&stages, &strategy, 1), Ok((Some(0), None)));
    set(
        &mut stages[1].conditions,
        types::PROGRESSING,
        Status::True,
        stage::STARTED,
        "",
        1,
        t0(),
    );
    assert!(stage_progress(&stages, &strategy, 1).is_err());
}

// ---- Stop and resume (SD-15) ----------------------------------------------------------------

#[test]
fn stop_while_waiting_for_approval_stops_at_once_and_approval_is_not_consumed() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_eq!(w.stage_condition(1, types::PROGRESSING), pair("False", stage::STOPPED));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    w.approve("example-run-canary-before");
    let d = w.pass().clone();
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::AcceptApproval { .. } | Action::StartBinding { .. }))
    );
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Bound);
}

#[test]
fn stop_mid_stage_waits_for_the_started_cluster_then_resumes() {
    let mut w = World::doc_a();
    w.stages_mut()[1].max_concurrency = Some(IntOrString::Int(1));
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    w.pass();
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("Unknown", run::STOPPING));
    assert_eq!(
        w.stage_condition(1, types::PROGRESSING),
        pair("Unknown", stage::STOPPING)
    );
    w.make_available("member3");
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.binding("member1").spec.state, BindingState::Bound);
    assert_eq!(w.run_condition(types::PROGRESSING), pair("True", run::STARTED));
}

#[test]
fn stuck_cluster_counts_as_settled_when_stopping() {
    let mut w = World::doc_a();
    w.pass();
    w.advance(301);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
}

#[test]
fn timed_wait_resumes_with_the_time_it_had_left() {
    let mut w = World::doc_a();
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(20);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    w.advance(600);
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.next(), Next::After(Duration::from_secs(40)));
    w.advance(40);
    w.pass();
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), pair("True", stage::SUCCEEDED));
}

#[test]
fn run_created_stopped_initializes_then_stops() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Stop;
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    assert_eq!(w.binding("member2").spec.state, BindingState::Scheduled);
}

// ---- Deletion, idempotence, events, metrics ---------------------------------------------------

#[test]
fn deleting_run_deletes_approvals_and_removes_finalizer() {
    let mut w = World::doc_a();
    w.obs.run.deleting = true;
    let d = w.pass().clone();
    assert_eq!(d.actions, vec![Action::DeleteApprovals, Action::RemoveFinalizer]);
}

#[test]
fn new_run_gets_the_finalizer() {
    let mut w = World::doc_a();
    w.obs.run.has_finalizer = false;
    let d = w.pass().clone();
    assert_eq!(d.actions.first(), Some(&Action::AddFinalizer));
}

#[test]
fn feeding_the_result_back_yields_no_new_actions() {
    let mut w = World::doc_a();
    w.pass();
    let d = w.pass().clone();
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    let status = w.status().clone();
    w.pass();
    assert_eq!(w.status(), &status);
}

#[test]
fn transitions_name_stage_starts_and_approval_requests() {
    let mut w = World::doc_a();
    let before = w.status().clone();
    w.pass();
    let reasons: Vec<&str> = transitions(Scope::Cluster, &before, w.status())
        .iter()
        .map(|n| n.reason)
        .collect();
    assert_eq!(reasons, vec!["Initialized", "StageStarted"]);
    w.make_available("member2");
    w.pass();
    w.advance(60);
    w.pass();
    let before = w.status().clone();
    w.pass();
    let notes = transitions(Scope::Cluster, &before, w.status());
    assert!(
        notes
            .iter()
            .any(|n| n.reason == "ApprovalRequested" && n.message.contains("example-run-canary-before"))
    );
}

#[test]
fn failure_type_classifies_terminal_reasons() {
    let cond = |status: &str, reason: &str, message: &str| Condition {
        type_: "Progressing".into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        ..Default::default()
    };
    assert_eq!(failure_type(None), "none");
    assert_eq!(failure_type(Some(&cond("True", run::SUCCEEDED, ""))), "none");
    assert_eq!(failure_type(Some(&cond("False", run::STUCK, ""))), "internal_error");
    assert_eq!(failure_type(Some(&cond("False", run::WAITING, ""))), "none");
    assert_eq!(failure_type(Some(&cond("False", run::STOPPED, ""))), "none");
    assert_eq!(failure_type(Some(&cond("Unknown", run::STOPPING, ""))), "none");
    assert_eq!(
        failure_type(Some(&cond(
            "False",
            run::FAILED,
            "x: failed to process the request due to a client error: y"
        ))),
        "user_error"
    );
    assert_eq!(
        failure_type(Some(&cond("False", run::FAILED, "other"))),
        "internal_error"
    );
    assert_eq!(
        failure_type(Some(&cond("False", run::INITIALIZE_FAILED, "other"))),
        "internal_error"
    );
}

#[test]
fn judge_reads_binding_conditions() {
    let mut b = binding("member1", "p-0", BindingState::Bound);
    assert_eq!(judge(&b), Verdict::Updating);
    set(
        &mut b.conditions,
        types::OVERRIDDEN,
        Status::False,
        "OverriddenFailed",
        "",
        1,
        t0(),
    );
    assert!(matches!(judge(&b), Verdict::Failed(_)));
    b.conditions = None;
    set(
        &mut b.conditions,
        types::WORK_SYNCHRONIZED,
        Status::False,
        "SyncWorkFailed",
        "",
        1,
        t0(),
    );
    assert!(matches!(judge(&b), Verdict::Failed(_)));
    b.conditions = None;
    set(
        &mut b.conditions,
        types::AVAILABLE,
        Status::True,
        "Available",
        "",
        2,
        t0(),
    );
    assert_eq!(
        judge(&b),
        Verdict::Updating,
        "an old generation's Available does not count"
    );
    b.generation = 2;
    assert_eq!(judge(&b), Verdict::Succeeded);
    let _ = msg::RUN_PROGRESSING;
}

// ---- More acceptance rows ------------------------------------------------------------------

#[test]
fn failed_initialization_still_shows_the_computed_stages() {
    let mut w = World::doc_a();
    w.obs.run.spec.resource_snapshot_index = Some("9".into());
    w.obs.resource_snapshots.clear();
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZE_FAILED)
    );
    assert_eq!(w.status().stages_status.as_ref().map(|s| s.len()), Some(2));
    assert!(w.status().applied_strategy.is_some());
}

#[test]
fn missing_snapshot_or_deletion_stage_in_status_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    w.obs.run.status.staged_update_strategy_snapshot = None;
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the updateRun has nil updateStrategySnapshot")
    );

    let mut w = World::doc_a();
    w.pass();
    w.obs.run.status.deletion_stage_status = None;
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the updateRun has nil deletionStageStatus")
    );
}

#[test]
fn edited_stage_list_in_status_fails_the_run() {
    let mut w = World::doc_a();
    w.pass();
    if let Some(stages) = w.obs.run.status.stages_status.as_mut() {
        stages[0].stage_name = "renamed".into();
    }
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("index `0` stage name in the updateRun has changed")
    );

    let mut w = World::doc_a();
    w.pass();
    if let Some(snapshot) = w.obs.run.status.staged_update_strategy_snapshot.as_mut() {
        let mut extra = snapshot.stages[0].clone();
        extra.name = "extra".into();
        extra.label_selector = None;
        snapshot.stages.push(extra);
    }
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the number of stages in the updateRun has changed")
    );
}

/// One stage with all three clusters (no sorting label: by name) and the given after-stage tasks.
fn single_stage(tasks: Option<Vec<StageTask>>) -> World {
    let mut w = World::doc_a();
    w.obs.strategy = Some(Some(UpdateStrategySpec {
        stages: vec![StageConfig {
            name: "all".into(),
            label_selector: Some(LabelSelector::default()),
            max_concurrency: Some(IntOrString::String("100%".into())),
            after_stage_tasks: tasks,
            ..Default::default()
        }],
        ..Default::default()
    }));
    w
}

fn finish_all_clusters(w: &mut World) {
    w.pass();
    for c in ["member1", "member2", "member3"] {
        w.make_available(c);
    }
    w.pass();
}

#[test]
fn single_stage_without_tasks_completes_with_its_last_cluster() {
    let mut w = single_stage(None);
    finish_all_clusters(&mut w);
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), pair("True", stage::SUCCEEDED));
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn single_stage_with_only_a_timed_wait_waits_its_full_duration() {
    let mut w = single_stage(Some(vec![timed_wait("90s")]));
    finish_all_clusters(&mut w);
    assert_eq!(
        w.next(),
        Next::After(Duration::from_secs(60)),
        "capped at the approval poll"
    );
    w.advance(89);
    w.pass();
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), None);
    assert_eq!(w.next(), Next::After(Duration::from_secs(1)));
    w.advance(1);
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn single_stage_with_only_an_after_approval_needs_it() {
    let mut w = single_stage(Some(vec![approval_task()]));
    finish_all_clusters(&mut w);
    assert!(w.obs.approvals.contains_key("example-run-all"));
    let task_status = &w.stage(0).after_stage_task_status.as_ref().expect("after")[0];
    let created = find(&task_status.conditions, types::APPROVAL_REQUEST_CREATED).expect("created");
    assert_eq!(created.reason, task::AFTER_APPROVAL_CREATED);
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), None);
    w.approve("example-run-all");
    w.pass();
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn approval_and_timed_wait_after_a_stage_run_in_parallel() {
    let mut w = single_stage(Some(vec![approval_task(), timed_wait("30s")]));
    finish_all_clusters(&mut w);
    // The approval request exists before the wait is over.
    assert!(w.obs.approvals.contains_key("example-run-all"));
    w.approve("example-run-all");
    w.pass();
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), None, "the wait is not over yet");
    w.advance(30);
    w.pass();
    assert_eq!(w.stage_condition(0, types::SUCCEEDED), pair("True", stage::SUCCEEDED));
}

#[test]
fn report_diff_failure_becomes_stuck() {
    let mut w = single_stage(None);
    w.pass();
    let now = w.obs.now;
    let b = w.binding_mut("member1");
    let g = b.generation;
    set(
        &mut b.conditions,
        types::DIFF_REPORTED,
        Status::False,
        "DiffReportFailed",
        "",
        g,
        now,
    );
    w.advance(301);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STUCK));
}

#[test]
fn stop_during_deletion_waits_for_deleting_bindings() {
    let mut w = single_stage(None);
    w.obs
        .bindings
        .push(binding("member9", "example-placement-0", BindingState::Unscheduled));
    finish_all_clusters(&mut w);
    w.pass();
    // The deletion pass issued the delete; the binding is held by a finalizer.
    assert!(w.binding("member9").deleting);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("Unknown", run::STOPPING));
    w.obs.bindings.retain(|b| b.spec.target_cluster != "member9");
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert_eq!(
        find(&deletion.conditions, types::PROGRESSING).map(|c| c.reason.as_str()),
        Some(stage::STOPPED)
    );
    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
}

#[test]
fn stop_before_any_deletion_stops_at_once() {
    let mut w = single_stage(None);
    w.obs
        .bindings
        .push(binding("member9", "example-placement-0", BindingState::Unscheduled));
    finish_all_clusters(&mut w);
    w.set_state(UpdateRunState::Stop);
    w.pass();
    // SD-15 (upstream Q4 differs): nothing was started, so the run is stopped.
    assert_eq!(w.run_condition(types::PROGRESSING), pair("False", run::STOPPED));
    assert!(!w.binding("member9").deleting);
}

#[test]
fn deleting_binding_not_marked_deleting_aborts_the_deletion_stage() {
    let mut w = single_stage(None);
    w.obs
        .bindings
        .push(binding("member9", "example-placement-0", BindingState::Unscheduled));
    finish_all_clusters(&mut w);
    w.pass();
    // Someone removed the deletion timestamp (impossible in a real API server; the check holds).
    w.binding_mut("member9").deleting = false;
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("is marked as deleting but its corresponding binding is not deleting")
    );
    let deletion = w.status().deletion_stage_status.as_ref().expect("deletion");
    assert_eq!(
        find(&deletion.conditions, types::SUCCEEDED).map(|c| c.reason.as_str()),
        Some(stage::FAILED)
    );
}

#[test]
fn before_stage_timed_wait_in_status_aborts() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    if let Some(stages) = w.obs.run.status.stages_status.as_mut() {
        stages[1].before_stage_task_status = Some(vec![StageTaskStatus {
            type_: StageTaskType::TimedWait,
            ..Default::default()
        }]);
    }
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("found unsupported task type in before stage tasks: TimedWait")
    );
}

#[test]
fn waiting_run_does_not_flap_its_transition_time() {
    let mut w = World::doc_a();
    through_staging(&mut w);
    let before = find(&w.status().conditions, types::PROGRESSING).cloned();
    w.advance(120);
    w.pass();
    assert_eq!(find(&w.status().conditions, types::PROGRESSING).cloned(), before);
}

// ---- Compact status (SD-22) ---------------------------------------------------------------

/// Doc A with the inline limit below its three clusters, so the run's status is compact.
fn compact_doc_a() -> World {
    let mut w = World::doc_a();
    w.obs.inline_limit = 2;
    w
}

fn summary(w: &World, i: usize) -> crate::api::placement::StageClusterSummary {
    w.stage(i)
        .cluster_summary
        .clone()
        .expect("a compact stage has a summary")
}

#[test]
fn a_run_within_the_inline_limit_has_no_summaries() {
    let mut w = World::doc_a();
    w.obs.inline_limit = 3;
    w.pass();
    assert!(
        w.status()
            .stages_status
            .iter()
            .flatten()
            .all(|s| s.cluster_summary.is_none())
    );
    assert_eq!(w.stage(1).clusters.len(), 2);
}

#[test]
fn a_compact_run_lists_only_updating_clusters_and_counts_the_rest() {
    let mut w = compact_doc_a();
    w.pass();
    // Staging's one cluster started: it is listed; canary's two have not started: not listed.
    assert_eq!(w.stage(0).clusters.len(), 1);
    assert_eq!(w.stage(0).clusters[0].cluster_name, "member2");
    let s = summary(&w, 0);
    assert_eq!((s.total, s.succeeded, s.updating, s.unlisted), (1, 0, 1, 0));
    assert!(w.stage(1).clusters.is_empty());
    assert_eq!(summary(&w, 1).total, 2);
    assert_eq!(
        summary(&w, 1).clusters_digest,
        super::compact::digest(["member3", "member1"])
    );
    w.make_available("member2");
    w.pass();
    assert!(w.stage(0).clusters.is_empty());
    assert_eq!((summary(&w, 0).succeeded, summary(&w, 0).updating), (1, 0));
}

#[test]
fn a_compact_run_reaches_the_same_end_as_upstreams_shape() {
    let mut full = World::doc_a();
    let mut compact = compact_doc_a();
    for w in [&mut full, &mut compact] {
        through_canary(w);
        w.approve("example-run-canary-after");
        w.pass();
        w.pass();
    }
    assert_eq!(compact.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    assert_eq!(full.status().conditions, compact.status().conditions);
    for i in 0..2 {
        assert_eq!(full.stage(i).conditions, compact.stage(i).conditions);
        assert!(compact.stage(i).clusters.is_empty());
        let s = summary(&compact, i);
        assert_eq!(s.succeeded, s.total);
    }
    for name in ["member1", "member2", "member3"] {
        assert_eq!(full.binding(name), compact.binding(name));
    }
    // Terminal: another pass changes nothing.
    let done = compact.status().clone();
    compact.pass();
    assert_eq!(compact.status(), &done);
}

#[test]
fn a_compact_run_respects_max_concurrency_from_the_bindings() {
    let mut w = compact_doc_a();
    w.stages_mut()[1].max_concurrency = Some(IntOrString::Int(1));
    through_staging(&mut w);
    w.approve("example-run-canary-before");
    w.pass();
    assert_eq!(w.binding("member3").spec.state, BindingState::Bound);
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
    // Another pass with nothing new starts nothing more: member3 is updating per its binding.
    w.pass();
    assert_eq!(w.binding("member1").spec.state, BindingState::Scheduled);
    assert_eq!(summary(&w, 1).updating, 1);
    w.make_available("member3");
    w.pass();
    assert_eq!(w.binding("member1").spec.state, BindingState::Bound);
    assert_eq!((summary(&w, 1).succeeded, summary(&w, 1).updating), (1, 1));
}

#[test]
fn a_compact_run_fails_when_a_stage_changes_its_clusters() {
    let mut w = compact_doc_a();
    w.pass();
    w.obs.members[0].labels.insert("environment".into(), "staging".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the number of clusters in index `0` stage has changed")
    );
    let mut w = compact_doc_a();
    w.pass();
    w.obs.members[0].labels.insert("order".into(), "0".into());
    w.pass();
    assert!(
        w.run_message(types::SUCCEEDED)
            .contains("the clusters in index `1` stage have changed: same number (2)")
    );
}

#[test]
fn a_compact_deletion_stage_counts_deleted_bindings() {
    let mut w = compact_doc_a();
    w.stages_mut().truncate(1);
    w.obs.bindings.retain(|b| b.spec.target_cluster == "member2");
    for cluster in ["member1", "member3"] {
        w.obs
            .bindings
            .push(binding(cluster, "example-placement-0", BindingState::Unscheduled));
    }
    w.pass();
    w.make_available("member2");
    w.pass();
    w.advance(60);
    w.pass();
    w.pass();
    let deletion = w.status().deletion_stage_status.clone().expect("deletion");
    let s = deletion.cluster_summary.expect("summary");
    assert_eq!((s.total, s.succeeded, s.updating), (2, 0, 2));
    w.obs.bindings.retain(|b| b.spec.target_cluster != "member1");
    w.pass();
    let s = w
        .status()
        .deletion_stage_status
        .clone()
        .expect("deletion")
        .cluster_summary
        .expect("summary");
    assert_eq!((s.total, s.succeeded, s.updating), (2, 1, 1));
    w.obs.bindings.retain(|b| b.spec.target_cluster != "member3");
    w.pass();
    assert_eq!(w.run_condition(types::SUCCEEDED), pair("True", run::SUCCEEDED));
    let s = w
        .status()
        .deletion_stage_status
        .clone()
        .expect("deletion")
        .cluster_summary
        .expect("summary");
    assert_eq!((s.total, s.succeeded, s.updating), (2, 2, 0));
}

// ---- SD-25: the `upstream` compatibility profile ------------------------------------------

#[test]
fn sd25_upstream_profile_names_approvals_and_reasons_as_upstreams_code() {
    let mut w = World::doc_a();
    w.obs.profile = crate::controllers::compat::Profile::Upstream;
    w.obs.run.spec.state = UpdateRunState::Initialize;
    w.pass();
    assert_eq!(init_message(&w), "The UpdateRun initialized successfully");
    let canary = w.stage(1);
    let before = &canary.before_stage_task_status.as_ref().expect("before")[0];
    assert_eq!(
        before.approval_request_name.as_deref(),
        Some("example-run-before-canary")
    );
    let after = canary.after_stage_task_status.as_ref().expect("after");
    let after_names: Vec<_> = after
        .iter()
        .filter_map(|t| t.approval_request_name.as_deref())
        .collect();
    assert_eq!(after_names, vec!["example-run-after-canary"]);

    w.set_state(UpdateRunState::Run);
    w.pass();
    assert_eq!(w.run_condition(types::PROGRESSING), pair("True", run::PROGRESSING));
    w.make_available("member2");
    w.pass();
    w.advance(61);
    w.pass();
    w.pass();
    assert!(w.obs.approvals.contains_key("example-run-before-canary"));
    let task_status = &w.stage(1).before_stage_task_status.as_ref().expect("before")[0];
    let created = find(&task_status.conditions, types::APPROVAL_REQUEST_CREATED).expect("created");
    assert_eq!(created.reason, task::APPROVAL_CREATED);
    assert_eq!(created.message, "ApprovalRequest object is created");
    w.approve("example-run-before-canary");
    w.pass();
    let task_status = &w.stage(1).before_stage_task_status.as_ref().expect("before")[0];
    let approved = find(&task_status.conditions, types::APPROVAL_REQUEST_APPROVED).expect("approved");
    assert_eq!(approved.reason, task::APPROVAL_APPROVED);
    assert_eq!(w.run_condition(types::PROGRESSING), pair("True", run::PROGRESSING));
}

#[test]
fn sd25_upstream_profile_asks_for_the_first_snapshot_of_an_external_placement() {
    // A run without an index on a placement with no snapshot yet: its first pass.
    let first_pass = |profile| {
        let mut w = World::doc_a();
        w.obs.profile = profile;
        w.obs.run.spec.resource_snapshot_index = None;
        w.obs.resource_snapshots.clear();
        let d = w.pass().clone();
        assert_eq!(
            w.run_condition(types::INITIALIZED),
            pair("False", run::INITIALIZATION_PENDING)
        );
        (w, d)
    };
    let (_, d) = first_pass(crate::controllers::compat::Profile::Documents);
    assert!(
        !d.actions.contains(&Action::RequestSnapshot),
        "documents: the placement snapshots by itself"
    );

    let (mut w, d) = first_pass(crate::controllers::compat::Profile::Upstream);
    assert!(d.actions.contains(&Action::RequestSnapshot));
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
    assert_eq!(w.status().resource_snapshot_index_used.as_deref(), Some("0"));
}

#[test]
fn sd25_upstream_profile_fails_a_cluster_without_the_sorting_label_as_upstream_does() {
    let mut w = World::doc_a();
    w.obs.profile = crate::controllers::compat::Profile::Upstream;
    w.obs.members[2].labels.remove("order");
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZE_FAILED)
    );
    assert!(init_message(&w).contains("the sorting label `order:` on cluster `member3` is not valid"));
}

#[test]
fn sd27_a_run_waits_for_as_many_bindings_as_the_scheduler_counted_past_the_decision_limit() {
    let mut w = World::doc_a();
    w.obs.run.spec.state = UpdateRunState::Initialize;
    w.obs.policy_snapshots[0].selected_cluster_count = Some(4);
    w.pass();
    assert_eq!(
        w.run_condition(types::INITIALIZED),
        pair("False", run::INITIALIZATION_PENDING)
    );
    assert!(
        init_message(&w).starts_with("1 of the 4 clusters selected by policy snapshot"),
        "{}",
        init_message(&w)
    );
    w.obs.policy_snapshots[0].selected_cluster_count = Some(3);
    w.pass();
    assert_eq!(w.run_condition(types::INITIALIZED), pair("True", run::INITIALIZED));
}

mod bad_input;
mod by_hand;
mod run_control;
