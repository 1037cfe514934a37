//! Label, annotation and finalizer keys shared with KubeFleet (prefix `kubernetes-fleet.io/`),
//! and the names of objects the hub derives from others.

/// Prefix of every fleet label, annotation and finalizer.
pub const FLEET_PREFIX: &str = "kubernetes-fleet.io/";

/// Placement that owns a snapshot, binding or work (same key for ResourcePlacements).
pub const PARENT_PLACEMENT: &str = "kubernetes-fleet.io/parent-CRP";
/// `"true"` on the latest policy snapshot and latest master resource snapshot.
pub const IS_LATEST_SNAPSHOT: &str = "kubernetes-fleet.io/is-latest-snapshot";
/// Decimal index of a resource snapshot group.
pub const RESOURCE_INDEX: &str = "kubernetes-fleet.io/resource-index";
/// Decimal index of a policy snapshot.
pub const POLICY_INDEX: &str = "kubernetes-fleet.io/policy-index";
/// sha256 of a master resource snapshot's selected resources.
pub const RESOURCE_HASH: &str = "kubernetes-fleet.io/resource-hash";
/// Number of snapshots in a resource snapshot group.
pub const NUMBER_OF_RESOURCE_SNAPSHOTS: &str = "kubernetes-fleet.io/number-of-resource-snapshots";
/// Number of envelope objects selected into a resource snapshot group.
pub const NUMBER_OF_ENVELOPED_OBJECTS: &str = "kubernetes-fleet.io/number-of-enveloped-object";
/// Sub index of a non-master resource snapshot.
pub const SUBINDEX_OF_RESOURCE_SNAPSHOT: &str = "kubernetes-fleet.io/subindex-of-resource-snapshot";
/// Time a pending resource change was first seen (throttling of new snapshots).
pub const NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME: &str =
    "kubernetes-fleet.io/next-resource-snapshot-candidate-detection-time";
/// Placement generation a policy snapshot reflects (mixed case, as upstream).
pub const PLACEMENT_GENERATION: &str = "kubernetes-fleet.io/CRP-generation";
/// N of a PickN policy snapshot.
pub const NUMBER_OF_CLUSTERS: &str = "kubernetes-fleet.io/number-of-clusters";
/// Binding a Work was generated from.
pub const PARENT_RESOURCE_BINDING: &str = "kubernetes-fleet.io/parent-resource-binding";
/// Namespace of the ResourcePlacement a Work was generated for.
pub const PARENT_PLACEMENT_NAMESPACE: &str = "kubernetes-fleet.io/parent-placement-namespace";
/// Resource index a Work's manifests come from.
pub const PARENT_RESOURCE_SNAPSHOT_INDEX: &str = "kubernetes-fleet.io/parent-resource-snapshot-index";
/// Master resource snapshot name a Work's manifests come from.
pub const PARENT_RESOURCE_SNAPSHOT_NAME: &str = "kubernetes-fleet.io/parent-resource-snapshot-name";
/// State a binding had before it was unscheduled.
pub const PREVIOUS_BINDING_STATE: &str = "kubernetes-fleet.io/previous-binding-state";
/// A MemberCluster's own name.
pub const MEMBER_NAME: &str = "kubernetes-fleet.io/member-name";
/// Marks the hub namespaces `fleet-member-<name>`.
pub const IS_FLEET_RESOURCE: &str = "kubernetes-fleet.io/is-fleet-resource";

/// Stagehand's own annotation on a placement: the time a staged update run without a resource
/// index asked for the pending resource change to be snapshotted now, inside the throttling
/// windows (SD-11).
pub const SNAPSHOT_REQUESTED_AT: &str = "stagehand.kubernetes-fleet.io/snapshot-requested-at";

/// Stagehand's own annotation on a policy snapshot that selects more clusters than its
/// decisions can list (SD-27): how many it selects, so that a run knows how many bindings to
/// wait for.
pub const SELECTED_CLUSTER_COUNT: &str = "stagehand.kubernetes-fleet.io/selected-cluster-count";

/// Run an approval request belongs to.
pub const TARGET_UPDATE_RUN: &str = "kubernetes-fleet.io/targetUpdateRun";
/// Stage an approval request belongs to.
pub const TARGET_UPDATING_STAGE: &str = "kubernetes-fleet.io/targetUpdatingStage";
/// `beforeStage` or `afterStage`.
pub const TASK_TYPE: &str = "kubernetes-fleet.io/taskType";
/// Always `"true"` on approval requests the controller creates.
pub const IS_LATEST_UPDATE_RUN_APPROVAL: &str = "kubernetes-fleet.io/isLatestUpdateRunApproval";

/// Finalizer on update runs: deletes their approval requests.
pub const STAGED_UPDATE_RUN_FINALIZER: &str = "kubernetes-fleet.io/stagedupdaterun-finalizer";
/// Finalizer on placements: snapshot cleanup.
pub const PLACEMENT_CLEANUP_FINALIZER: &str = "kubernetes-fleet.io/crp-cleanup";
/// Finalizer on placements: binding cleanup by the scheduler.
pub const SCHEDULER_CLEANUP_FINALIZER: &str = "kubernetes-fleet.io/scheduler-cleanup";
/// Finalizer on bindings (scheduler).
pub const SCHEDULER_BINDING_CLEANUP_FINALIZER: &str = "kubernetes-fleet.io/scheduler-crb-cleanup";
/// Finalizer on bindings (work generator) and Works (member agent).
pub const WORK_CLEANUP_FINALIZER: &str = "kubernetes-fleet.io/work-cleanup";
/// Finalizer on MemberClusters.
pub const MEMBER_CLUSTER_FINALIZER: &str = "kubernetes-fleet.io/membercluster-finalizer";

/// Name of the extra final stage of an update run that removes clusters left behind.
pub const DELETE_STAGE_NAME: &str = "kubernetes-fleet.io/deleteStage";

/// Hub namespace that holds a member cluster's Works and InternalMemberCluster.
pub fn member_namespace(cluster: &str) -> String {
    format!("fleet-member-{cluster}")
}

/// Name of the master resource snapshot of a group.
pub fn resource_snapshot_name(placement: &str, index: u64) -> String {
    format!("{placement}-{index}-snapshot")
}

/// Name of a scheduling policy snapshot.
pub fn policy_snapshot_name(placement: &str, index: u64) -> String {
    format!("{placement}-{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_follow_upstream() {
        assert_eq!(member_namespace("member1"), "fleet-member-member1");
        assert_eq!(
            resource_snapshot_name("example-placement", 1),
            "example-placement-1-snapshot"
        );
        assert_eq!(policy_snapshot_name("example-placement", 0), "example-placement-0");
    }
}

/// Whether `text` is a non-empty Kubernetes label value: at most 63 characters, letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit. A label key's name part follows
/// the same rule.
pub fn is_label_value(text: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edge_ok(text.chars().next())
        && edge_ok(text.chars().last())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Why `key` cannot be a Kubernetes label key (an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters: letters, digits, `-`, `_`, `.`, starting and ending with a
/// letter or digit), or `None` when it can.
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if let Some(prefix) = prefix {
        let label_ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 63
                && alnum(part.chars().next())
                && alnum(part.chars().last())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Some(format!(
                "the prefix `{prefix}` must be a DNS subdomain (lower-case letters, digits, `-` and `.`)"
            ));
        }
    }
    if name.is_empty() || name.len() > 63 {
        return Some("the name part must be 1 to 63 characters".into());
    }
    (!is_label_value(name)).then(|| {
        "the name part may hold only letters, digits, `-`, `_` and `.`, and must start and end with a letter or digit"
            .into()
    })
}

#[cfg(test)]
mod label_key_tests {
    use super::label_key_problem;

    #[test]
    fn label_keys_are_checked_as_kubernetes_checks_them() {
        for good in ["order", "kubernetes-fleet.io/order", "a.b_c-d", "x/y", "A9"] {
            assert_eq!(label_key_problem(good), None, "{good}");
        }
        for bad in [
            "my order",
            "",
            "-order",
            "order-",
            "Bad_Prefix/x",
            "a/",
            "/x",
            &"k".repeat(64),
        ] {
            assert!(label_key_problem(bad).is_some(), "{bad:?} passed");
        }
    }
}
