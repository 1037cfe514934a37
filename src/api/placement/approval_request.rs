//! `ClusterApprovalRequest` and `ApprovalRequest`: a gate of a run's stage that a person approves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::condition::{Condition, approval_conditions_schema};

twin_kinds! {
    attrs: {
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "The spec field is immutable"}]))]
    },
    kube: {
        status = "ApprovalRequestStatus",
        printcolumn(name = "Update-Run", type_ = "string", json_path = ".spec.parentStageRollout"),
        printcolumn(name = "Stage", type_ = "string", json_path = ".spec.targetStage"),
        printcolumn(name = "Approved", type_ = "string", json_path = r#".status.conditions[?(@.type=="Approved")].status"#),
        printcolumn(name = "ApprovalAccepted", type_ = "string", json_path = r#".status.conditions[?(@.type=="ApprovalAccepted")].status"#),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    },
    fields: {
        /// Name of the run the request belongs to.
        pub parent_stage_rollout: String,
        /// Name of the stage it gates.
        pub target_stage: String,
    },
    kinds: {
        /// Spec of a `ClusterApprovalRequest`; immutable.
        ClusterApprovalRequestSpec [
            kind = "ClusterApprovalRequest",
            plural = "clusterapprovalrequests",
            shortname = "careq",
            doc = "ClusterApprovalRequest gates a stage of a ClusterStagedUpdateRun until someone sets its Approved condition to True."
        ] {}
        /// Spec of an `ApprovalRequest`; immutable.
        ApprovalRequestSpec [
            kind = "ApprovalRequest",
            plural = "approvalrequests",
            namespaced,
            shortname = "areq",
            doc = "ApprovalRequest gates a stage of a StagedUpdateRun until someone sets its Approved condition to True."
        ] {}
    },
}

/// Approval state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequestStatus {
    /// `Approved` (written by a person; `lastTransitionTime` and `observedGeneration` may be
    /// left out, SD-8) and `ApprovalAccepted` (written by the controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "approval_conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}
