//! Admission: the CRD schemas reject bad input with a message that says what to fix, on a real
//! API server. One test per rule; names are unique per test so they run in parallel.

use crate::harness::{TestCluster, hub, test_namespace, unique};

/// Asserts that kubectl failed with a message containing `needle`; `what` names the attempt.
fn assert_rejected(out: std::process::Output, needle: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a rejection containing {needle:?}, but this was accepted: {what}"
    );
    assert!(
        stderr.contains(needle),
        "rejection does not mention {needle:?}:\n{stderr}"
    );
}

/// Applies `yaml` and asserts the API server rejects it with a message containing `needle`.
fn expect_rejected(cluster: &TestCluster, yaml: &str, needle: &str) {
    let out = cluster.kubectl_with_stdin(&["apply", "-f", "-"], Some(yaml));
    assert_rejected(out, needle, yaml);
}

/// Runs a kubectl command that must be rejected with a message containing `needle`.
fn expect_command_rejected(cluster: &TestCluster, args: &[&str], needle: &str) {
    let out = cluster.kubectl(args);
    assert_rejected(out, needle, &format!("kubectl {}", args.join(" ")));
}

fn strategy(name: &str, stages: &str) -> String {
    format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterStagedUpdateStrategy\nmetadata:\n  name: {name}\nspec:\n  stages:\n{stages}"
    )
}

fn stage(name: &str, extra: &str) -> String {
    format!("    - name: {name}\n      labelSelector:\n        matchLabels:\n          environment: canary\n{extra}")
}

fn run(kind: &str, name: &str, namespace: Option<&str>, spec: &str) -> String {
    let ns = namespace.map(|n| format!("\n  namespace: {n}")).unwrap_or_default();
    format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\nspec:\n{spec}"
    )
}

const PATTERN_STAGE_NAME: &str = "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'";
const PATTERN_MAX_CONCURRENCY: &str = "should match '^(100|[1-9][0-9]?)%$'";
const PATTERN_WAIT_TIME: &str = r"should match '^(?:(?:0|[1-9][0-9]*)(\.[0-9]+)?(?:s|m|h))+$'";

#[test]
fn stage_name_with_upper_case_is_rejected() {
    expect_rejected(
        hub(),
        &strategy(&unique("adm-upper"), &stage("Canary", "")),
        PATTERN_STAGE_NAME,
    );
}

#[test]
fn stage_names_with_hyphens_are_accepted_sd7() {
    hub().apply(&strategy(&unique("adm-hyphen"), &stage("prod-clusters", "")));
}

#[test]
fn thirty_two_stages_are_rejected() {
    let stages: String = (0..32).map(|i| stage(&format!("s{i}"), "")).collect();
    expect_rejected(
        hub(),
        &strategy(&unique("adm-32"), &stages),
        "Too many: 32: must have at most 31 items",
    );
}

#[test]
fn empty_strategy_is_rejected_sd14() {
    let yaml = format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterStagedUpdateStrategy\nmetadata:\n  name: {}\nspec:\n  stages: []\n",
        unique("adm-empty")
    );
    expect_rejected(hub(), &yaml, "should have at least 1 items");
}

#[test]
fn duplicate_stage_names_are_rejected_naming_the_duplicate() {
    let stages = format!("{}{}{}", stage("staging", ""), stage("canary", ""), stage("canary", ""));
    expect_rejected(
        hub(),
        &strategy(&unique("adm-dup"), &stages),
        r#"spec.stages[2]: Duplicate value: {"name":"canary"}"#,
    );
}

#[test]
fn duplicate_stage_names_are_rejected_in_namespaced_strategies_too() {
    let hub = hub();
    let ns = test_namespace(hub, "adm-dup-ns");
    let stages = format!("{}{}", stage("canary", ""), stage("canary", ""));
    let yaml = strategy(&unique("adm-dup"), &stages)
        .replace("kind: ClusterStagedUpdateStrategy", "kind: StagedUpdateStrategy")
        .replace("metadata:\n", &format!("metadata:\n  namespace: {ns}\n"));
    expect_rejected(hub, &yaml, r#"spec.stages[1]: Duplicate value: {"name":"canary"}"#);
}

#[test]
fn timed_wait_without_wait_time_is_rejected() {
    let extra = "      afterStageTasks:\n        - type: TimedWait\n";
    expect_rejected(
        hub(),
        &strategy(&unique("adm-tw"), &stage("staging", extra)),
        "AfterStageTaskType is TimedWait, waitTime is required",
    );
}

#[test]
fn approval_with_wait_time_is_rejected() {
    let extra = "      afterStageTasks:\n        - type: Approval\n          waitTime: 1m\n";
    expect_rejected(
        hub(),
        &strategy(&unique("adm-appr"), &stage("staging", extra)),
        "AfterStageTaskType is Approval, waitTime is not allowed",
    );
}

#[test]
fn timed_wait_before_a_stage_is_rejected() {
    let extra = "      beforeStageTasks:\n        - type: TimedWait\n          waitTime: 1m\n";
    expect_rejected(
        hub(),
        &strategy(&unique("adm-before"), &stage("staging", extra)),
        "BeforeStageTaskType cannot be TimedWait",
    );
}

#[test]
fn max_concurrency_zero_is_rejected() {
    let extra = "      maxConcurrency: 0\n";
    expect_rejected(
        hub(),
        &strategy(&unique("adm-mc0"), &stage("staging", extra)),
        "maxConcurrency must be at least 1",
    );
}

#[test]
fn max_concurrency_bad_strings_are_rejected() {
    for value in ["\"0%\"", "\"101%\"", "\"50\""] {
        let extra = format!("      maxConcurrency: {value}\n");
        expect_rejected(
            hub(),
            &strategy(&unique("adm-mcs"), &stage("staging", &extra)),
            PATTERN_MAX_CONCURRENCY,
        );
    }
}

#[test]
fn max_concurrency_defaults_to_one_and_accepts_percentages() {
    let hub = hub();
    let name = unique("adm-mcdef");
    let stages = format!("{}{}", stage("a", ""), stage("b", "      maxConcurrency: 50%\n"));
    hub.apply(&strategy(&name, &stages));
    let got = hub.kubectl_ok(&["get", "csus", &name, "-o", "jsonpath={.spec.stages[*].maxConcurrency}"]);
    assert_eq!(got, "1 50%");
}

#[test]
fn wait_time_with_days_or_milliseconds_is_rejected() {
    for value in ["1d", "500ms"] {
        let extra = format!("      afterStageTasks:\n        - type: TimedWait\n          waitTime: {value}\n");
        expect_rejected(
            hub(),
            &strategy(&unique("adm-wt"), &stage("staging", &extra)),
            PATTERN_WAIT_TIME,
        );
    }
}

#[test]
fn sub_second_wait_time_is_rejected_sd10() {
    let extra = "      afterStageTasks:\n        - type: TimedWait\n          waitTime: 0.5s\n";
    expect_rejected(
        hub(),
        &strategy(&unique("adm-subsec"), &stage("staging", extra)),
        "waitTime must be at least 1s; sub-second waits are not supported",
    );
}

#[test]
fn run_name_of_64_characters_is_rejected() {
    let name = "r".repeat(64);
    let spec = "  placementName: p\n  stagedRolloutStrategyName: s\n";
    expect_rejected(
        hub(),
        &run("ClusterStagedUpdateRun", &name, None, spec),
        "metadata.name max length is 63",
    );
}

#[test]
fn run_without_state_defaults_to_run_sd1() {
    let hub = hub();
    let name = unique("adm-default");
    hub.apply(&run(
        "ClusterStagedUpdateRun",
        &name,
        None,
        "  placementName: p\n  stagedRolloutStrategyName: s\n",
    ));
    assert_eq!(
        hub.kubectl_ok(&["get", "csur", &name, "-o", "jsonpath={.spec.state}"]),
        "Run"
    );
}

#[test]
fn run_state_outside_the_enum_is_rejected() {
    let spec = "  placementName: p\n  stagedRolloutStrategyName: s\n  state: Pause\n";
    expect_rejected(
        hub(),
        &run("ClusterStagedUpdateRun", &unique("adm-enum"), None, spec),
        r#"supported values: "Initialize", "Run", "Stop""#,
    );
}

/// Creates a run with `spec`, then merge-patches its spec with `patch`; the patch must be rejected.
fn expect_run_patch_rejected(kind: &str, namespace: Option<&str>, spec: &str, patch: &str, needle: &str) {
    let hub = hub();
    let name = unique("adm-imm");
    hub.apply(&run(kind, &name, namespace, spec));
    let mut args = vec!["patch", kind, name.as_str(), "--type=merge", "-p", patch];
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    expect_command_rejected(hub, &args, needle);
}

const RUN_SPEC: &str = "  placementName: example-placement\n  resourceSnapshotIndex: \"1\"\n  stagedRolloutStrategyName: example-strategy\n  state: Initialize\n";
const RUN_SPEC_NO_INDEX: &str =
    "  placementName: example-placement\n  stagedRolloutStrategyName: example-strategy\n  state: Initialize\n";

#[test]
fn changing_placement_name_is_rejected() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"placementName":"other"}}"#,
        "placementName is immutable",
    );
}

#[test]
fn changing_strategy_name_is_rejected() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"stagedRolloutStrategyName":"other"}}"#,
        "stagedRolloutStrategyName is immutable",
    );
}

#[test]
fn changing_resource_snapshot_index_is_rejected() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"resourceSnapshotIndex":"0"}}"#,
        "resourceSnapshotIndex is immutable",
    );
}

#[test]
fn adding_resource_snapshot_index_after_creation_is_rejected_sd14() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC_NO_INDEX,
        r#"{"spec":{"resourceSnapshotIndex":"1"}}"#,
        "resourceSnapshotIndex is immutable",
    );
}

#[test]
fn removing_resource_snapshot_index_is_rejected_sd14() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"resourceSnapshotIndex":null}}"#,
        "resourceSnapshotIndex is immutable",
    );
}

#[test]
fn state_initialize_to_stop_is_rejected() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"state":"Stop"}}"#,
        "invalid state transition: cannot transition from Initialize to Stop",
    );
}

#[test]
fn state_run_to_initialize_is_rejected() {
    let spec = RUN_SPEC.replace("state: Initialize", "state: Run");
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        &spec,
        r#"{"spec":{"state":"Initialize"}}"#,
        "invalid state transition: cannot transition from Run to Initialize",
    );
}

#[test]
fn state_stop_to_initialize_is_rejected() {
    let spec = RUN_SPEC.replace("state: Initialize", "state: Stop");
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        &spec,
        r#"{"spec":{"state":"Initialize"}}"#,
        "invalid state transition: cannot transition from Stop to Initialize",
    );
}

#[test]
fn allowed_state_transitions_are_accepted() {
    let hub = hub();
    let name = unique("adm-trans");
    hub.apply(&run("ClusterStagedUpdateRun", &name, None, RUN_SPEC));
    for state in ["Run", "Stop", "Run"] {
        hub.kubectl_ok(&[
            "patch",
            "csur",
            &name,
            "--type=merge",
            "-p",
            &format!(r#"{{"spec":{{"state":"{state}"}}}}"#),
        ]);
    }
}

#[test]
fn namespaced_runs_have_the_same_rules() {
    let ns = test_namespace(hub(), "adm-sur");
    expect_run_patch_rejected(
        "StagedUpdateRun",
        Some(&ns),
        RUN_SPEC,
        r#"{"spec":{"state":"Stop"}}"#,
        "invalid state transition: cannot transition from Initialize to Stop",
    );
    expect_run_patch_rejected(
        "StagedUpdateRun",
        Some(&ns),
        RUN_SPEC_NO_INDEX,
        r#"{"spec":{"resourceSnapshotIndex":"1"}}"#,
        "resourceSnapshotIndex is immutable",
    );
    let spec = "  placementName: p\n  stagedRolloutStrategyName: s\n";
    expect_rejected(
        hub(),
        &run("StagedUpdateRun", &"r".repeat(64), Some(&ns), spec),
        "metadata.name max length is 63",
    );
}

#[test]
fn approval_request_spec_change_is_rejected() {
    let hub = hub();
    let name = unique("adm-careq");
    hub.apply(&format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterApprovalRequest\nmetadata:\n  name: {name}\nspec:\n  parentStageRollout: example-run\n  targetStage: canary\n"
    ));
    expect_command_rejected(
        hub,
        &[
            "patch",
            "careq",
            &name,
            "--type=merge",
            "-p",
            r#"{"spec":{"targetStage":"staging"}}"#,
        ],
        "The spec field is immutable",
    );
}

#[test]
fn approval_without_transition_time_or_generation_is_accepted_sd8() {
    let hub = hub();
    let ns = test_namespace(hub, "adm-areq");
    let name = unique("adm-areq");
    hub.apply(&format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ApprovalRequest\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  parentStageRollout: web-app-rollout-v1-21\n  targetStage: prod-clusters\n"
    ));
    hub.kubectl_ok(&[
        "patch",
        "approvalrequests",
        &name,
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved to start prod"}]}}"#,
        "--subresource=status",
    ]);
    let approved = hub.kubectl_ok(&[
        "get",
        "areq",
        &name,
        "-n",
        &ns,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Approved")].status}"#,
    ]);
    assert_eq!(approved, "True");
}

#[test]
fn condition_with_invalid_reason_is_rejected() {
    let hub = hub();
    let name = unique("adm-reason");
    hub.apply(&format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterApprovalRequest\nmetadata:\n  name: {name}\nspec:\n  parentStageRollout: r\n  targetStage: s\n"
    ));
    expect_command_rejected(
        hub,
        &[
            "patch",
            "careq",
            &name,
            "--type=merge",
            "--subresource=status",
            "-p",
            r#"{"status":{"conditions":[{"type":"Approved","status":"Yes","reason":"looks good","message":""}]}}"#,
        ],
        "Unsupported value: \"Yes\"",
    );
}

fn placement(name: &str, selectors: &str, policy: &str, strategy: &str) -> String {
    format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterResourcePlacement\nmetadata:\n  name: {name}\nspec:\n  resourceSelectors:\n{selectors}{policy}{strategy}"
    )
}

const NS_SELECTOR: &str = "    - group: \"\"\n      kind: Namespace\n      name: test-namespace\n      version: v1\n";

#[test]
fn placement_selector_with_name_and_label_selector_is_rejected() {
    let selectors = "    - group: \"\"\n      kind: Namespace\n      name: a\n      version: v1\n      labelSelector:\n        matchLabels:\n          team: blue\n";
    expect_rejected(
        hub(),
        &placement(&unique("adm-crp"), selectors, "", ""),
        "name and labelSelector are mutually exclusive in a resource selector",
    );
}

#[test]
fn pick_n_without_number_of_clusters_is_rejected() {
    expect_rejected(
        hub(),
        &placement(
            &unique("adm-pickn"),
            NS_SELECTOR,
            "  policy:\n    placementType: PickN\n",
            "",
        ),
        "clusterNames cannot be set and numberOfClusters must be set when placementType is PickN",
    );
}

#[test]
fn external_strategy_cannot_go_back_to_rolling_update() {
    let hub = hub();
    let name = unique("adm-ext");
    hub.apply(&placement(
        &name,
        NS_SELECTOR,
        "  policy:\n    placementType: PickAll\n",
        "  strategy:\n    type: External\n",
    ));
    expect_command_rejected(
        hub,
        &[
            "patch",
            "crp",
            &name,
            "--type=merge",
            "-p",
            r#"{"spec":{"strategy":{"type":"RollingUpdate"}}}"#,
        ],
        "cannot change rollout strategy type from 'External' to other types",
    );
}

#[test]
fn placement_defaults_are_filled_by_the_api_server() {
    let hub = hub();
    let name = unique("adm-crpdef");
    hub.apply(&placement(
        &name,
        NS_SELECTOR,
        "  policy:\n    placementType: PickAll\n",
        "  strategy:\n    type: External\n",
    ));
    let spec = hub.kubectl_ok(&[
        "get",
        "crp",
        &name,
        "-o",
        "jsonpath={.spec.revisionHistoryLimit} {.spec.statusReportingScope} {.spec.resourceSelectors[0].selectionScope}",
    ]);
    assert_eq!(spec, "10 ClusterScopeOnly NamespaceWithResources");
}

// ---- Run control (issue 17): every new field is checked at admission, naming the field ------

#[test]
fn max_failures_must_be_zero_or_more_or_a_percentage_sd29() {
    expect_rejected(
        hub(),
        &strategy(&unique("adm-mf"), &stage("canary", "      maxFailures: -1\n")),
        "maxFailures must be 0 or more, or a percentage such as 20%",
    );
    expect_rejected(
        hub(),
        &strategy(&unique("adm-mf"), &stage("canary", "      maxFailures: \"two\"\n")),
        "spec.stages[0].maxFailures: Invalid value: \"two\"",
    );
    hub().apply(&strategy(
        &unique("adm-mf"),
        &stage("canary", "      maxFailures: \"20%\"\n      progressDeadline: 10m\n"),
    ));
}

#[test]
fn progress_deadline_must_be_a_duration_between_1s_and_24h_sd30() {
    for bad in ["0s", "25h"] {
        expect_rejected(
            hub(),
            &strategy(
                &unique("adm-pd"),
                &stage("canary", &format!("      progressDeadline: {bad}\n")),
            ),
            "progressDeadline must be between 1s and 24h, such as 30s or 10m",
        );
    }
    expect_rejected(
        hub(),
        &strategy(&unique("adm-pd"), &stage("canary", "      progressDeadline: \"30\"\n")),
        "spec.stages[0].progressDeadline: Invalid value: \"30\"",
    );
}

#[test]
fn membership_and_unmatched_policies_are_enums_and_the_final_stage_name_is_free_sd28_sd33() {
    let with = |extra: &str| format!("{}  {extra}\n", strategy(&unique("adm-pol"), &stage("canary", "")));
    expect_rejected(
        hub(),
        &with("membershipChanges: Sometimes"),
        r#"supported values: "Fail", "Freeze""#,
    );
    expect_rejected(
        hub(),
        &with("unmatchedClusters: Ignore"),
        r#"supported values: "Fail", "Skip", "FinalStage""#,
    );
    expect_rejected(
        hub(),
        &format!(
            "{}  unmatchedClusters: FinalStage\n",
            strategy(&unique("adm-pol"), &stage("unmatched-clusters", ""))
        ),
        "unmatchedClusters: FinalStage adds a stage named unmatched-clusters",
    );
}

#[test]
fn retry_must_be_at_least_one_only_rises_and_cannot_be_removed_sd31() {
    let hub = hub();
    expect_rejected(
        hub,
        &run(
            "ClusterStagedUpdateRun",
            &unique("adm-retry"),
            None,
            &format!("{RUN_SPEC}  retryFailedClusters: 0\n"),
        ),
        "spec.retryFailedClusters: Invalid value: 0",
    );
    let spec = format!("{RUN_SPEC}  retryFailedClusters: 2\n");
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        &spec,
        r#"{"spec":{"retryFailedClusters":1}}"#,
        "retryFailedClusters can only be raised",
    );
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        &spec,
        r#"{"spec":{"retryFailedClusters":null}}"#,
        "retryFailedClusters cannot be removed",
    );
}

#[test]
fn retry_on_a_run_that_has_not_failed_is_rejected_sd31() {
    expect_run_patch_rejected(
        "ClusterStagedUpdateRun",
        None,
        RUN_SPEC,
        r#"{"spec":{"retryFailedClusters":1}}"#,
        "spec.retryFailedClusters can be raised only on a run that failed (Succeeded=False, reason UpdateRunFailed)",
    );
}

#[test]
fn an_aborted_run_cannot_be_resumed_sd32() {
    let hub = hub();
    let name = unique("adm-abort");
    hub.apply(&run("ClusterStagedUpdateRun", &name, None, RUN_SPEC));
    hub.kubectl_ok(&[
        "patch",
        "csur",
        &name,
        "--type=merge",
        "-p",
        r#"{"spec":{"state":"Abort"}}"#,
    ]);
    for state in ["Run", "Stop"] {
        expect_command_rejected(
            hub,
            &[
                "patch",
                "csur",
                &name,
                "--type=merge",
                "-p",
                &format!(r#"{{"spec":{{"state":"{state}"}}}}"#),
            ],
            "invalid state transition: an aborted run cannot be resumed; create a new run",
        );
    }
}

#[test]
fn skip_lists_are_sets_of_names_sd32() {
    expect_rejected(
        hub(),
        &run(
            "ClusterStagedUpdateRun",
            &unique("adm-skip"),
            None,
            &format!("{RUN_SPEC}  skipClusters: [member1, member1]\n"),
        ),
        "spec.skipClusters[1]: Duplicate value",
    );
    expect_rejected(
        hub(),
        &run(
            "ClusterStagedUpdateRun",
            &unique("adm-skip"),
            None,
            &format!("{RUN_SPEC}  skipStages: [{}]\n", "s".repeat(64)),
        ),
        "spec.skipStages[0]: Too long",
    );
}
