//! The bad-input catalogue (issue 19, docs/reliability.md): invalid objects of every kind a user
//! writes, each applied with `kubectl` to a real API server and rejected at admission with the
//! message asserted. The rules that `admission.rs` tests one by one (stages, tasks, runs' state
//! transitions and immutable fields, approvals) are not repeated here; the inputs a controller
//! reports instead are in `chaos::bad_input` and `update_runs::failures`.

use serde_json::{Value, json};

use crate::harness::{hub, test_namespace, unique};

const PLACEMENT_API: &str = "placement.kubernetes-fleet.io/v1beta1";
const CLUSTER_API: &str = "cluster.kubernetes-fleet.io/v1beta1";

/// One invalid object and the text its rejection must contain.
struct Case {
    kind: &'static str,
    what: &'static str,
    object: Value,
    message: String,
}

fn case(kind: &'static str, what: &'static str, object: Value, message: &str) -> Case {
    Case {
        kind,
        what,
        object,
        message: message.to_string(),
    }
}

fn member(spec: Value) -> Value {
    json!({"apiVersion": CLUSTER_API, "kind": "MemberCluster", "metadata": {"name": unique("cat-mc")}, "spec": spec})
}

fn member_with_taints(taints: Value) -> Value {
    member(json!({"identity": {"kind": "User", "name": "u"}, "taints": taints}))
}

/// A ClusterResourcePlacement selecting one namespace, with `extra` merged into its spec.
fn crp(extra: Value) -> Value {
    let mut spec = json!({"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": "app"}]});
    merge(&mut spec, extra);
    json!({"apiVersion": PLACEMENT_API, "kind": "ClusterResourcePlacement", "metadata": {"name": unique("cat-crp")}, "spec": spec})
}

fn rp(namespace: &str, extra: Value) -> Value {
    let mut spec = json!({"resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "app"}]});
    merge(&mut spec, extra);
    json!({"apiVersion": PLACEMENT_API, "kind": "ResourcePlacement",
        "metadata": {"name": unique("cat-rp"), "namespace": namespace}, "spec": spec})
}

fn policy(policy: Value) -> Value {
    crp(json!({"policy": policy}))
}

fn tolerations(tolerations: Value) -> Value {
    policy(json!({"placementType": "PickAll", "tolerations": tolerations}))
}

fn rolling(config: Value) -> Value {
    crp(json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": config}}))
}

fn strategy(kind: &str, namespace: Option<&str>, stages: Value) -> Value {
    let mut metadata = json!({"name": unique("cat-sus")});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": PLACEMENT_API, "kind": kind, "metadata": metadata, "spec": {"stages": stages}})
}

fn one_stage(extra: Value) -> Value {
    let mut stage = json!({"name": "canary", "labelSelector": {}});
    merge(&mut stage, extra);
    strategy("ClusterStagedUpdateStrategy", None, json!([stage]))
}

fn run(kind: &str, namespace: Option<&str>, spec: Value) -> Value {
    let mut metadata = json!({"name": unique("cat-run")});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": PLACEMENT_API, "kind": kind, "metadata": metadata, "spec": spec})
}

fn approval(kind: &str, namespace: Option<&str>, spec: Value) -> Value {
    let mut metadata = json!({"name": unique("cat-approval")});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": PLACEMENT_API, "kind": kind, "metadata": metadata, "spec": spec})
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

const TOLERATION_KEY: &str = "toleration key must be a qualified name such as example.com/my-key";
const TOLERATION_VALUE: &str = "toleration value must be a label value";

fn catalogue(ns: &str) -> Vec<Case> {
    let long = "a".repeat(64);
    vec![
        // ---- MemberCluster --------------------------------------------------------------------
        case(
            "MemberCluster",
            "no identity",
            member(json!({"heartbeatPeriodSeconds": 60})),
            "spec.identity: Required value",
        ),
        case(
            "MemberCluster",
            "identity without a name",
            member(json!({"identity": {"kind": "User"}})),
            "spec.identity.name: Required value",
        ),
        case(
            "MemberCluster",
            "heartbeat period 0",
            member(json!({"identity": {"kind": "User", "name": "u"}, "heartbeatPeriodSeconds": 0})),
            "spec.heartbeatPeriodSeconds in body should be greater than or equal to 1",
        ),
        case(
            "MemberCluster",
            "heartbeat period 601 s",
            member(json!({"identity": {"kind": "User", "name": "u"}, "heartbeatPeriodSeconds": 601})),
            "spec.heartbeatPeriodSeconds in body should be less than or equal to 600",
        ),
        case(
            "MemberCluster",
            "taint effect NoExecute",
            member_with_taints(json!([{"key": "k", "effect": "NoExecute"}])),
            r#"spec.taints[0].effect: Unsupported value: "NoExecute": supported values: "NoSchedule""#,
        ),
        case(
            "MemberCluster",
            "taint key with a space (SD-40)",
            member_with_taints(json!([{"key": "bad key", "effect": "NoSchedule"}])),
            "spec.taints[0].key: Invalid value: \"bad key\": taint key must be a qualified name",
        ),
        case(
            "MemberCluster",
            "taint value with a '!' (SD-40)",
            member_with_taints(json!([{"key": "k", "value": "no!", "effect": "NoSchedule"}])),
            "spec.taints[0].value: Invalid value: \"no!\": taint value must be a label value",
        ),
        case(
            "MemberCluster",
            "the same taint twice (SD-40)",
            member_with_taints(
                json!([{"key": "k", "value": "v", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]),
            ),
            "spec.taints: Invalid value: taints must be unique",
        ),
        case(
            "MemberCluster",
            "101 taints",
            member_with_taints(Value::Array(
                (0..101)
                    .map(|i| json!({"key": format!("k{i}"), "effect": "NoSchedule"}))
                    .collect(),
            )),
            "spec.taints: Too many: 101: must have at most 100 items",
        ),
        case(
            "MemberCluster",
            "deleteOptions.validationMode Sometimes",
            member(
                json!({"identity": {"kind": "User", "name": "u"}, "deleteOptions": {"validationMode": "Sometimes"}}),
            ),
            r#"spec.deleteOptions.validationMode: Unsupported value: "Sometimes": supported values: "Strict", "Skip""#,
        ),
        case(
            "MemberCluster",
            "an upper-case name",
            json!({"apiVersion": CLUSTER_API, "kind": "MemberCluster", "metadata": {"name": "Member1"}, "spec": {"identity": {"kind": "User", "name": "u"}}}),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
        ),
        case(
            "MemberCluster",
            "a 64-character name",
            json!({"apiVersion": CLUSTER_API, "kind": "MemberCluster", "metadata": {"name": long}, "spec": {"identity": {"kind": "User", "name": "u"}}}),
            "metadata.name max length is 63",
        ),
        // ---- ClusterResourcePlacement: selectors -------------------------------------------------
        case(
            "ClusterResourcePlacement",
            "no resource selector",
            json!({"apiVersion": PLACEMENT_API, "kind": "ClusterResourcePlacement", "metadata": {"name": unique("cat-crp")}, "spec": {"resourceSelectors": []}}),
            "spec.resourceSelectors in body should have at least 1 items",
        ),
        case(
            "ClusterResourcePlacement",
            "a selector without a kind",
            crp(json!({"resourceSelectors": [{"group": "", "version": "v1", "name": "app"}]})),
            "spec.resourceSelectors[0].kind: Required value",
        ),
        // ---- ClusterResourcePlacement: policy -----------------------------------------------------
        case(
            "ClusterResourcePlacement",
            "placementType PickSome",
            policy(json!({"placementType": "PickSome"})),
            r#"spec.policy.placementType: Unsupported value: "PickSome": supported values: "PickAll", "PickN", "PickFixed""#,
        ),
        case(
            "ClusterResourcePlacement",
            "PickN with -1 clusters",
            policy(json!({"placementType": "PickN", "numberOfClusters": -1})),
            "spec.policy.numberOfClusters in body should be greater than or equal to 0",
        ),
        case(
            "ClusterResourcePlacement",
            "PickAll with numberOfClusters",
            policy(json!({"placementType": "PickAll", "numberOfClusters": 2})),
            "clusterNames, numberOfClusters, and topologySpreadConstraints cannot be set when placementType is PickAll",
        ),
        case(
            "ClusterResourcePlacement",
            "PickAll with a topology spread constraint",
            policy(json!({"placementType": "PickAll", "topologySpreadConstraints": [{"topologyKey": "zone"}]})),
            "clusterNames, numberOfClusters, and topologySpreadConstraints cannot be set when placementType is PickAll",
        ),
        case(
            "ClusterResourcePlacement",
            "PickFixed with tolerations",
            policy(
                json!({"placementType": "PickFixed", "clusterNames": ["member1"], "tolerations": [{"key": "k", "operator": "Exists"}]}),
            ),
            "affinity, numberOfClusters, topologySpreadConstraints, and tolerations cannot be set when placementType is PickFixed",
        ),
        case(
            "ClusterResourcePlacement",
            "PickFixed naming a cluster twice (SD-40)",
            policy(json!({"placementType": "PickFixed", "clusterNames": ["member1", "member1"]})),
            "spec.policy.clusterNames: Invalid value: cluster names must be unique for policy type PickFixed",
        ),
        case(
            "ClusterResourcePlacement",
            "PickFixed naming Member_1 (SD-40)",
            policy(json!({"placementType": "PickFixed", "clusterNames": ["Member_1"]})),
            "each cluster name must be a member cluster name",
        ),
        case(
            "ClusterResourcePlacement",
            "PickFixed naming a 64-character cluster",
            policy(json!({"placementType": "PickFixed", "clusterNames": [long]})),
            "spec.policy.clusterNames[0]: Too long: may not be more than 63 bytes",
        ),
        case(
            "ClusterResourcePlacement",
            "whenUnsatisfiable Maybe",
            policy(
                json!({"placementType": "PickN", "numberOfClusters": 1, "topologySpreadConstraints": [{"topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]}),
            ),
            r#"supported values: "DoNotSchedule", "ScheduleAnyway""#,
        ),
        case(
            "ClusterResourcePlacement",
            "maxSkew 0",
            policy(
                json!({"placementType": "PickN", "numberOfClusters": 1, "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 0}]}),
            ),
            "maxSkew in body should be greater than or equal to 1",
        ),
        case(
            "ClusterResourcePlacement",
            "a preference of weight 101",
            policy(
                json!({"placementType": "PickN", "numberOfClusters": 1, "affinity": {"clusterAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 101, "preference": {"labelSelector": {"matchLabels": {"a": "b"}}}}]}}}),
            ),
            "weight in body should be less than or equal to 100",
        ),
        case(
            "ClusterResourcePlacement",
            "a toleration with operator Exists and a value",
            tolerations(json!([{"key": "k", "operator": "Exists", "value": "v"}])),
            "spec.policy.tolerations[0]: Invalid value: value must be empty when operator is Exists",
        ),
        case(
            "ClusterResourcePlacement",
            "a toleration Equal without a key (SD-40)",
            tolerations(json!([{"operator": "Equal", "value": "v"}])),
            "spec.policy.tolerations[0]: Invalid value: toleration key cannot be empty when operator is Equal",
        ),
        case(
            "ClusterResourcePlacement",
            "a toleration key with a space (SD-40)",
            tolerations(json!([{"key": "bad key", "operator": "Exists"}])),
            TOLERATION_KEY,
        ),
        case(
            "ClusterResourcePlacement",
            "a toleration value with a '!' (SD-40)",
            tolerations(json!([{"key": "k", "value": "no!"}])),
            TOLERATION_VALUE,
        ),
        case(
            "ClusterResourcePlacement",
            "the same toleration twice (SD-40)",
            tolerations(json!([{"key": "k", "operator": "Exists"}, {"key": "k", "operator": "Exists"}])),
            "spec.policy.tolerations: Invalid value: tolerations must be unique",
        ),
        case(
            "ClusterResourcePlacement",
            "toleration operator Matches",
            tolerations(json!([{"key": "k", "operator": "Matches"}])),
            r#"supported values: "Equal", "Exists""#,
        ),
        // ---- ClusterResourcePlacement: strategy and history -------------------------------------
        case(
            "ClusterResourcePlacement",
            "strategy type Canary",
            crp(json!({"strategy": {"type": "Canary"}})),
            r#"spec.strategy.type: Unsupported value: "Canary": supported values: "RollingUpdate", "External""#,
        ),
        case(
            "ClusterResourcePlacement",
            "maxUnavailable -1 (SD-40)",
            rolling(json!({"maxUnavailable": -1})),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: maxUnavailable must be greater than or equal to 0",
        ),
        case(
            "ClusterResourcePlacement",
            "maxSurge -2 (SD-40)",
            rolling(json!({"maxSurge": -2})),
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: -2: maxSurge must be greater than or equal to 0",
        ),
        case(
            "ClusterResourcePlacement",
            "maxUnavailable 150%",
            rolling(json!({"maxUnavailable": "150%"})),
            "spec.strategy.rollingUpdate.maxUnavailable in body should match",
        ),
        case(
            "ClusterResourcePlacement",
            "unavailablePeriodSeconds -1",
            rolling(json!({"unavailablePeriodSeconds": -1})),
            "spec.strategy.rollingUpdate.unavailablePeriodSeconds in body should be greater than or equal to 0",
        ),
        case(
            "ClusterResourcePlacement",
            "revisionHistoryLimit 0",
            crp(json!({"revisionHistoryLimit": 0})),
            "spec.revisionHistoryLimit in body should be greater than or equal to 1",
        ),
        case(
            "ClusterResourcePlacement",
            "revisionHistoryLimit 1001",
            crp(json!({"revisionHistoryLimit": 1001})),
            "spec.revisionHistoryLimit in body should be less than or equal to 1000",
        ),
        case(
            "ClusterResourcePlacement",
            "an unknown field",
            crp(json!({"applyStrategy": {"type": "ClientSideApply"}})),
            r#"strict decoding error: unknown field "spec.applyStrategy""#,
        ),
        // ---- ResourcePlacement --------------------------------------------------------------------
        case(
            "ResourcePlacement",
            "PickN without numberOfClusters",
            rp(ns, json!({"policy": {"placementType": "PickN"}})),
            "clusterNames cannot be set and numberOfClusters must be set when placementType is PickN",
        ),
        case(
            "ResourcePlacement",
            "a selector with a name and a label selector",
            rp(
                ns,
                json!({"resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "a", "labelSelector": {"matchLabels": {"a": "b"}}}]}),
            ),
            "name and labelSelector are mutually exclusive in a resource selector",
        ),
        case(
            "ResourcePlacement",
            "PickFixed naming a cluster twice (SD-40)",
            rp(
                ns,
                json!({"policy": {"placementType": "PickFixed", "clusterNames": ["m", "m"]}}),
            ),
            "cluster names must be unique for policy type PickFixed",
        ),
        case(
            "ResourcePlacement",
            "a toleration Equal without a key (SD-40)",
            rp(
                ns,
                json!({"policy": {"placementType": "PickAll", "tolerations": [{"value": "v"}]}}),
            ),
            "toleration key cannot be empty when operator is Equal",
        ),
        // ---- Strategies ---------------------------------------------------------------------------
        case(
            "ClusterStagedUpdateStrategy",
            "a stage without a name",
            strategy("ClusterStagedUpdateStrategy", None, json!([{"labelSelector": {}}])),
            "spec.stages[0].name: Required value",
        ),
        case(
            "ClusterStagedUpdateStrategy",
            "a 64-character stage name",
            strategy(
                "ClusterStagedUpdateStrategy",
                None,
                json!([{"name": long, "labelSelector": {}}]),
            ),
            "spec.stages[0].name: Too long: may not be more than 63 bytes",
        ),
        case(
            "ClusterStagedUpdateStrategy",
            "task type Wait",
            one_stage(json!({"afterStageTasks": [{"type": "Wait"}]})),
            r#"spec.stages[0].afterStageTasks[0].type: Unsupported value: "Wait": supported values: "TimedWait", "Approval""#,
        ),
        case(
            "ClusterStagedUpdateStrategy",
            "three after-stage tasks",
            one_stage(
                json!({"afterStageTasks": [{"type": "TimedWait", "waitTime": "1m"}, {"type": "TimedWait", "waitTime": "2m"}, {"type": "Approval"}]}),
            ),
            "spec.stages[0].afterStageTasks: Too many: 3: must have at most 2 items",
        ),
        case(
            "ClusterStagedUpdateStrategy",
            "two before-stage approvals",
            one_stage(json!({"beforeStageTasks": [{"type": "Approval"}, {"type": "Approval"}]})),
            "spec.stages[0].beforeStageTasks: Too many: 2: must have at most 1 item",
        ),
        case(
            "StagedUpdateStrategy",
            "maxConcurrency 0%",
            strategy(
                "StagedUpdateStrategy",
                Some(ns),
                json!([{"name": "a", "labelSelector": {}, "maxConcurrency": "0%"}]),
            ),
            "spec.stages[0].maxConcurrency in body should match '^(100|[1-9][0-9]?)%$'",
        ),
        case(
            "StagedUpdateStrategy",
            "a TimedWait of 1 day",
            strategy(
                "StagedUpdateStrategy",
                Some(ns),
                json!([{"name": "a", "labelSelector": {}, "afterStageTasks": [{"type": "TimedWait", "waitTime": "1d"}]}]),
            ),
            "spec.stages[0].afterStageTasks[0].waitTime in body should match",
        ),
        // ---- Runs -----------------------------------------------------------------------------------
        case(
            "ClusterStagedUpdateRun",
            "no placementName",
            run(
                "ClusterStagedUpdateRun",
                None,
                json!({"stagedRolloutStrategyName": "s"}),
            ),
            "spec.placementName: Required value",
        ),
        case(
            "ClusterStagedUpdateRun",
            "an unknown field maxConcurrency",
            run(
                "ClusterStagedUpdateRun",
                None,
                json!({"placementName": "p", "stagedRolloutStrategyName": "s", "maxConcurrency": 1}),
            ),
            r#"strict decoding error: unknown field "spec.maxConcurrency""#,
        ),
        case(
            "StagedUpdateRun",
            "state Pause",
            run(
                "StagedUpdateRun",
                Some(ns),
                json!({"placementName": "p", "stagedRolloutStrategyName": "s", "state": "Pause"}),
            ),
            r#"spec.state: Unsupported value: "Pause""#,
        ),
        case(
            "StagedUpdateRun",
            "retryFailedClusters -1",
            run(
                "StagedUpdateRun",
                Some(ns),
                json!({"placementName": "p", "stagedRolloutStrategyName": "s", "retryFailedClusters": -1}),
            ),
            "spec.retryFailedClusters: Invalid value: -1",
        ),
        // ---- Approval requests ------------------------------------------------------------------
        case(
            "ClusterApprovalRequest",
            "no targetStage",
            approval("ClusterApprovalRequest", None, json!({"parentStageRollout": "r"})),
            "spec.targetStage: Required value",
        ),
        case(
            "ApprovalRequest",
            "no parentStageRollout",
            approval("ApprovalRequest", Some(ns), json!({"targetStage": "s"})),
            "spec.parentStageRollout: Required value",
        ),
    ]
}

/// Every catalogued object is refused by the API server, and the refusal says what is wrong.
/// Prints the catalogue as a table (kind, case, message) for docs/reliability.md.
#[test]
fn every_catalogued_bad_object_is_rejected_at_admission_with_its_message() {
    let hub = hub();
    let ns = test_namespace(hub, "cat");
    let cases = catalogue(&ns);
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for c in &cases {
        let out = hub.kubectl_with_stdin(&["apply", "-f", "-"], Some(&c.object.to_string()));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.success() {
            failures.push(format!("{} / {}: accepted", c.kind, c.what));
        } else if !stderr.contains(&c.message) {
            failures.push(format!(
                "{} / {}: expected {:?} in:\n{stderr}",
                c.kind, c.what, c.message
            ));
        }
        rows.push(format!(
            "| {} | {} | {} |",
            c.kind,
            c.what,
            c.message.replace('|', "\\|")
        ));
    }
    println!(
        "| kind | bad input | message (part) |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    println!("[catalogue] {} cases, {} wrong", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
