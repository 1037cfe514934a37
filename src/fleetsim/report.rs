//! What a simulated member reports on a Work: the same status fields a real member agent writes
//! (per-manifest `Applied`/`Available` and the Work's own), for the outcome the run asked for.

use jiff::Timestamp;
use serde_json::Value;

use crate::api::condition::Condition;
use crate::api::placement::{ManifestCondition, WorkResourceIdentifier, WorkStatus};
use crate::conditions::{Status, set};

/// What a simulated member does with a Work generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied and available.
    Available,
    /// Every manifest fails to apply.
    ApplyFailed,
    /// Applied, never available.
    NotAvailable,
}

/// The Work status for `manifests` at Work `generation`, keeping `lastTransitionTime` of the
/// conditions in `old` whose status does not change.
pub fn work_status(
    old: Option<&WorkStatus>,
    manifests: &[Value],
    generation: i64,
    outcome: Outcome,
    now: Timestamp,
) -> WorkStatus {
    let manifest_conditions: Vec<ManifestCondition> = manifests
        .iter()
        .enumerate()
        .map(|(ordinal, manifest)| {
            let identifier = identifier(ordinal, manifest);
            let previous = old
                .and_then(|s| s.manifest_conditions.as_ref())
                .and_then(|m| m.iter().find(|m| m.identifier == identifier))
                .map(|m| m.conditions.clone());
            let mut conditions = previous;
            let object_generation = manifest["metadata"]["generation"].as_i64().unwrap_or_default();
            match outcome {
                Outcome::ApplyFailed => {
                    set(
                        &mut conditions,
                        "Applied",
                        Status::False,
                        "ApplyFailed",
                        "simulated apply failure (fleetsim)",
                        0,
                        now,
                    );
                    crate::conditions::remove(&mut conditions, "Available");
                }
                Outcome::Available | Outcome::NotAvailable => {
                    set(
                        &mut conditions,
                        "Applied",
                        Status::True,
                        "Applied",
                        "Manifest has been applied successfully",
                        object_generation,
                        now,
                    );
                    let (status, reason, message) = if outcome == Outcome::Available {
                        (Status::True, "Available", "Manifest is available")
                    } else {
                        (
                            Status::False,
                            "ManifestNotAvailableYet",
                            "Manifest is not available yet",
                        )
                    };
                    set(
                        &mut conditions,
                        "Available",
                        status,
                        reason,
                        message,
                        object_generation,
                        now,
                    );
                }
            }
            ManifestCondition {
                identifier,
                conditions: conditions.unwrap_or_default(),
                drift_details: None,
                diff_details: None,
                back_reported_status: None,
            }
        })
        .collect();
    let mut conditions: Option<Vec<Condition>> = old.map(|s| s.conditions.clone());
    let total = manifests.len();
    match outcome {
        Outcome::ApplyFailed if total > 0 => {
            set(
                &mut conditions,
                "Applied",
                Status::False,
                "SomeManifestsAreNotApplied",
                format!("Failed to apply all manifests (0 of {total} manifests are applied)"),
                generation,
                now,
            );
            crate::conditions::remove(&mut conditions, "Available");
        }
        Outcome::NotAvailable if total > 0 => {
            set(
                &mut conditions,
                "Applied",
                Status::True,
                "AllManifestsApplied",
                "All the specified manifests have been applied",
                generation,
                now,
            );
            set(
                &mut conditions,
                "Available",
                Status::False,
                "SomeManifestsAreNotAvailable",
                format!("Some manifests are not available (0 of {total} manifests are available)"),
                generation,
                now,
            );
        }
        _ => {
            set(
                &mut conditions,
                "Applied",
                Status::True,
                "AllManifestsApplied",
                "All the specified manifests have been applied",
                generation,
                now,
            );
            set(
                &mut conditions,
                "Available",
                Status::True,
                "AllManifestsAvailable",
                "All the specified manifests are available",
                generation,
                now,
            );
        }
    }
    WorkStatus {
        conditions: conditions.unwrap_or_default(),
        manifest_conditions: Some(manifest_conditions),
    }
}

/// Whether `status` already reports `outcome` for `generation` (nothing to write).
pub fn reports(status: Option<&WorkStatus>, generation: i64, outcome: Outcome) -> bool {
    let Some(status) = status else { return false };
    let at = |type_: &str, value: &str| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == value && c.observed_generation == Some(generation))
    };
    match outcome {
        Outcome::Available => at("Applied", "True") && at("Available", "True"),
        Outcome::NotAvailable => at("Applied", "True") && at("Available", "False"),
        Outcome::ApplyFailed => at("Applied", "False"),
    }
}

/// The identifier of a manifest, as a member agent reports it (the resource is the kind's
/// lower-case plural: a simulation has no discovery).
fn identifier(ordinal: usize, manifest: &Value) -> WorkResourceIdentifier {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    };
    let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
    let text = |path: &str| {
        manifest
            .pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    WorkResourceIdentifier {
        ordinal: ordinal as i32,
        group,
        version,
        resource: if kind.is_empty() {
            String::new()
        } else {
            format!("{}s", kind.to_lowercase())
        },
        kind,
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    fn configmap() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}})
    }

    #[test]
    fn an_available_work_reports_every_manifest_applied_and_available_at_its_generation() {
        let status = work_status(None, &[configmap()], 3, Outcome::Available, now());
        assert!(reports(Some(&status), 3, Outcome::Available));
        assert!(!reports(Some(&status), 4, Outcome::Available));
        let manifest = &status.manifest_conditions.as_ref().unwrap()[0];
        assert_eq!(manifest.identifier.resource, "configmaps");
        assert_eq!(manifest.identifier.namespace, "n");
        assert_eq!(manifest.conditions.len(), 2);
    }

    #[test]
    fn a_failed_apply_reports_applied_false_and_no_availability() {
        let status = work_status(None, &[configmap()], 1, Outcome::ApplyFailed, now());
        assert!(reports(Some(&status), 1, Outcome::ApplyFailed));
        assert!(status.conditions.iter().all(|c| c.type_ != "Available"));
        assert_eq!(status.conditions[0].reason, "SomeManifestsAreNotApplied");
    }

    #[test]
    fn a_work_that_never_becomes_available_is_applied_and_unavailable() {
        let status = work_status(None, &[configmap()], 2, Outcome::NotAvailable, now());
        assert!(reports(Some(&status), 2, Outcome::NotAvailable));
        assert!(!reports(Some(&status), 2, Outcome::Available));
    }

    #[test]
    fn transition_times_stay_when_the_status_does_not_change() {
        let first = work_status(None, &[configmap()], 1, Outcome::Available, now());
        let later: Timestamp = "2026-12-01T10:05:00Z".parse().unwrap();
        let second = work_status(Some(&first), &[configmap()], 2, Outcome::Available, later);
        assert_eq!(
            first.conditions[0].last_transition_time,
            second.conditions[0].last_transition_time
        );
        assert_eq!(second.conditions[0].observed_generation, Some(2));
    }
}
