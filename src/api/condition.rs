//! The Kubernetes `Condition` as these APIs carry it.
//!
//! Our own type rather than k8s-openapi's `meta::v1::Condition` because one kind needs a looser
//! shape: an approval written by a person may leave out `lastTransitionTime` and
//! `observedGeneration` (SD-8), and k8s-openapi makes `lastTransitionTime` mandatory.
//! The wire format is identical to `metav1.Condition`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// One aspect of an object's current state (`metav1.Condition`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition in CamelCase, e.g. `Initialized`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: `True`, `False` or `Unknown`.
    pub status: String,
    /// The `metadata.generation` of the object this condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Last time the condition's status changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason for the last transition.
    pub reason: String,
    /// Human-readable message about the transition; may be empty.
    #[serde(default)]
    pub message: String,
}

/// Upstream's condition fields, with `lastTransitionTime` required or not.
fn condition_item(require_transition_time: bool) -> serde_json::Value {
    let mut required = vec!["type", "status", "reason", "message"];
    if require_transition_time {
        required.insert(2, "lastTransitionTime");
    }
    serde_json::json!({
        "type": "object",
        "description": "Condition contains details for one aspect of the current state of this API Resource.",
        "required": required,
        "properties": {
            "type": {
                "type": "string",
                "description": "type of condition in CamelCase or in foo.example.com/CamelCase.",
                "maxLength": 316,
                "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
            },
            "status": {
                "type": "string",
                "description": "status of the condition, one of True, False, Unknown.",
                "enum": ["True", "False", "Unknown"]
            },
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "description": "observedGeneration represents the .metadata.generation that the condition was set based upon."
            },
            "lastTransitionTime": {
                "type": "string",
                "format": "date-time",
                "description": "lastTransitionTime is the last time the condition transitioned from one status to another."
            },
            "reason": {
                "type": "string",
                "description": "reason contains a programmatic identifier indicating the reason for the condition's last transition.",
                "maxLength": 1024,
                "minLength": 1,
                "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
            },
            "message": {
                "type": "string",
                "description": "message is a human readable message indicating details about the transition. This may be an empty string.",
                "maxLength": 32768
            }
        }
    })
}

fn conditions_list(require_transition_time: bool) -> Schema {
    json_schema!({
        "type": "array",
        "items": condition_item(require_transition_time),
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"]
    })
}

/// Schema of a `conditions` list: upstream's `metav1.Condition` validation, merged by `type`
/// under server-side apply.
pub fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    conditions_list(true)
}

/// Like [`conditions_schema`], but `lastTransitionTime` may be left out (SD-8: approvals
/// written by hand).
pub fn approval_conditions_schema(_: &mut SchemaGenerator) -> Schema {
    conditions_list(false)
}

impl JsonSchema for Condition {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::try_from(condition_item(true)).unwrap_or_default()
    }
}
