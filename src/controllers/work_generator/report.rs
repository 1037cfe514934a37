//! The binding's conditions from its Works (§10 step 7). Pure.

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::condition::Condition;
use crate::api::placement::{FailedResourcePlacement, ResourceIdentifier, Work};
use crate::conditions::{Status, find, set};

/// The binding status fields the work generator owns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BindingReport {
    /// Conditions, `RolloutStarted` kept as it was.
    pub conditions: Option<Vec<Condition>>,
    /// Manifests that failed to apply or are not available (at most 100).
    pub failed: Option<Vec<FailedResourcePlacement>>,
}

/// What this pass of the work generator did.
#[derive(Clone, Debug)]
pub struct Outcome<'a> {
    /// The binding's generation.
    pub generation: i64,
    /// The apply strategy is ReportDiff.
    pub report_diff: bool,
    /// Why the Works could not be synchronized, if they could not.
    pub sync_error: Option<String>,
    /// Works were created, overwritten or deleted this pass.
    pub changed: bool,
    /// The binding's Works as they are now.
    pub works: &'a [Work],
}

/// Step types written here, in order.
pub const OWNED: [&str; 5] = ["Overridden", "WorkSynchronized", "Applied", "Available", "DiffReported"];
/// At most this many failed placements are reported.
const MAX_FAILED: usize = 100;

/// The binding's new status, from its previous conditions and this pass.
pub fn report(old: &Option<Vec<Condition>>, outcome: &Outcome, now: Timestamp) -> BindingReport {
    let mut conditions = old.clone();
    let generation = outcome.generation;
    let mut written = vec![];
    let mut put =
        |conditions: &mut Option<Vec<Condition>>, t: &'static str, s: Status, reason: &str, message: String| {
            set(conditions, t, s, reason, message, generation, now);
            written.push(t);
        };
    put(
        &mut conditions,
        "Overridden",
        Status::True,
        "NoOverrideSpecified",
        "No override rules are configured for the selected resources".into(),
    );
    let mut failed = None;
    if let Some(error) = &outcome.sync_error {
        put(
            &mut conditions,
            "WorkSynchronized",
            Status::False,
            "SyncWorkFailed",
            format!("Failed to synchronize the work to the latest: {error}"),
        );
    } else {
        put(
            &mut conditions,
            "WorkSynchronized",
            Status::True,
            "AllWorkSynced",
            "All of the works are synchronized to the latest".into(),
        );
        if outcome.changed {
            if outcome.report_diff {
                put(
                    &mut conditions,
                    "DiffReported",
                    Status::False,
                    "DiffReportInProgress",
                    "Works need to be synchronized by the member agent before diffs are reported".into(),
                );
            } else {
                put(
                    &mut conditions,
                    "Applied",
                    Status::False,
                    "ApplyInProgress",
                    "Works were just created or updated; waiting for the member agent to apply them".into(),
                );
            }
        } else if outcome.report_diff {
            let (s, reason, message) = match first_not(outcome.works, "DiffReported") {
                None => (
                    Status::True,
                    "AllWorkHaveDiffReported",
                    "All works have reported diffs".to_string(),
                ),
                Some((work, _)) => (
                    Status::False,
                    "NotAllWorkHaveDiffReported",
                    format!("Work object {work} has not yet reported diffs"),
                ),
            };
            put(&mut conditions, "DiffReported", s, reason, message);
        } else {
            let applied = first_not(outcome.works, "Applied");
            // Right after this controller wrote the Works the binding says `ApplyInProgress`;
            // until the member reports on them that is still true, and rewording it would cost
            // every binding one more status write per rollout.
            let still_in_progress = find(old, "Applied").filter(|c| {
                c.reason == "ApplyInProgress" && c.status == "False" && c.observed_generation == Some(generation)
            });
            let (s, reason, message) = match (&applied, still_in_progress) {
                (None, _) => (
                    Status::True,
                    "AllWorkHaveBeenApplied",
                    "All corresponding work objects are applied".to_string(),
                ),
                (Some((work, false)), _) => (
                    Status::False,
                    "NotAllWorkHaveBeenApplied",
                    format!("Work object {work} has failed to apply"),
                ),
                (Some((_, true)), Some(kept)) => (Status::False, "ApplyInProgress", kept.message.clone()),
                (Some((work, true)), None) => (
                    Status::False,
                    "NotAllWorkHaveBeenApplied",
                    format!("Work object {work} has not yet completed the apply op"),
                ),
            };
            put(&mut conditions, "Applied", s, reason, message);
            if applied.is_none() {
                let (s, reason, message) = match first_not(outcome.works, "Available") {
                    Some((work, _)) => (
                        Status::False,
                        "NotAllWorkAreAvailable",
                        format!("Work object {work} is not yet available"),
                    ),
                    None => match outcome.works.iter().find(|w| untrackable(w)) {
                        Some(work) => (
                            Status::True,
                            "NotAllWorkAreAvailabilityTrackable",
                            format!("The availability of work object {} is not trackable", work.name_any()),
                        ),
                        None => (
                            Status::True,
                            "AllWorkAreAvailable",
                            "All corresponding work objects are available".to_string(),
                        ),
                    },
                };
                put(&mut conditions, "Available", s, reason, message);
                if s == Status::False {
                    failed = Some(failed_manifests(outcome.works));
                }
            } else {
                failed = Some(failed_manifests(outcome.works));
            }
        }
    }
    if let Some(list) = conditions.as_mut() {
        list.retain(|c| !OWNED.contains(&c.type_.as_str()) || written.contains(&c.type_.as_str()));
    }
    BindingReport {
        conditions,
        failed: failed.filter(|f| !f.is_empty()),
    }
}

/// The first Work whose condition `t` is not True for its generation, and whether it is merely
/// missing or stale (`true`) rather than False (`false`).
fn first_not(works: &[Work], t: &str) -> Option<(String, bool)> {
    works.iter().find_map(|w| {
        let generation = w.metadata.generation.unwrap_or_default();
        let conditions = w.status.as_ref().map(|s| s.conditions.clone());
        match find(&conditions, t) {
            Some(c) if c.observed_generation == Some(generation) && c.status == "True" => None,
            Some(c) if c.observed_generation == Some(generation) && c.status == "False" => Some((w.name_any(), false)),
            _ => Some((w.name_any(), true)),
        }
    })
}

fn untrackable(work: &Work) -> bool {
    let conditions = work.status.as_ref().map(|s| s.conditions.clone());
    find(&conditions, "Available")
        .is_some_and(|c| c.reason == "WorkNotTrackable" || c.reason == "SomeManifestsAreNotAvailabilityTrackable")
}

/// Per manifest: its `Applied` False condition, else its `Available` False condition.
fn failed_manifests(works: &[Work]) -> Vec<FailedResourcePlacement> {
    let mut out = Vec::new();
    for work in works {
        for manifest in work.status.iter().flat_map(|s| s.manifest_conditions.iter().flatten()) {
            let failing = manifest
                .conditions
                .iter()
                .find(|c| c.type_ == "Applied" && c.status == "False")
                .or_else(|| {
                    manifest
                        .conditions
                        .iter()
                        .find(|c| c.type_ == "Available" && c.status == "False")
                });
            if let Some(condition) = failing {
                let id = &manifest.identifier;
                out.push(FailedResourcePlacement {
                    resource: ResourceIdentifier {
                        group: id.group.clone(),
                        version: id.version.clone(),
                        kind: id.kind.clone(),
                        name: id.name.clone(),
                        namespace: id.namespace.clone(),
                        envelope: None,
                    },
                    condition: condition.clone(),
                });
            }
        }
    }
    out.truncate(MAX_FAILED);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::placement::{ManifestCondition, WorkResourceIdentifier, WorkSpec, WorkStatus};

    fn now() -> Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    fn cond(t: &str, status: &str, reason: &str, generation: i64) -> Condition {
        Condition {
            type_: t.into(),
            status: status.into(),
            reason: reason.into(),
            observed_generation: Some(generation),
            ..Default::default()
        }
    }

    fn work(conditions: Vec<Condition>, manifests: Vec<ManifestCondition>) -> Work {
        let mut w = Work::new("example-placement-work", WorkSpec::default());
        w.metadata.generation = Some(2);
        w.status = Some(WorkStatus {
            conditions,
            manifest_conditions: Some(manifests),
        });
        w
    }

    fn outcome(works: &[Work], changed: bool) -> Outcome<'_> {
        Outcome {
            generation: 5,
            report_diff: false,
            sync_error: None,
            changed,
            works,
        }
    }

    fn reasons(r: &BindingReport) -> Vec<(String, String, String)> {
        r.conditions
            .iter()
            .flatten()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect()
    }

    fn triple(t: &str, s: &str, r: &str) -> (String, String, String) {
        (t.into(), s.into(), r.into())
    }

    #[test]
    fn fresh_works_report_apply_in_progress_and_keep_rollout_started() {
        let old = Some(vec![cond("RolloutStarted", "True", "RolloutStarted", 5)]);
        let r = report(&old, &outcome(&[], true), now());
        assert_eq!(
            reasons(&r),
            [
                triple("RolloutStarted", "True", "RolloutStarted"),
                triple("Overridden", "True", "NoOverrideSpecified"),
                triple("WorkSynchronized", "True", "AllWorkSynced"),
                triple("Applied", "False", "ApplyInProgress"),
            ]
        );
        assert!(r.conditions.unwrap().iter().all(|c| c.observed_generation == Some(5)));
    }

    #[test]
    fn applied_and_available_works_make_the_binding_available() {
        let works = [work(
            vec![
                cond("Applied", "True", "WorkAppliedCompleted", 2),
                cond("Available", "True", "AllManifestsAvailable", 2),
            ],
            vec![],
        )];
        let r = report(&None, &outcome(&works, false), now());
        assert!(reasons(&r).contains(&triple("Applied", "True", "AllWorkHaveBeenApplied")));
        assert!(reasons(&r).contains(&triple("Available", "True", "AllWorkAreAvailable")));
    }

    #[test]
    fn a_failed_manifest_is_listed_with_the_members_error() {
        let failing = ManifestCondition {
            identifier: WorkResourceIdentifier {
                ordinal: 1,
                version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "test-cm".into(),
                namespace: "test-namespace".into(),
                ..Default::default()
            },
            conditions: vec![Condition {
                message: "Failed to apply the manifest (error: bad field)".into(),
                ..cond("Applied", "False", "ManifestApplyFailed", 2)
            }],
            drift_details: None,
            diff_details: None,
            back_reported_status: None,
        };
        let works = [work(
            vec![cond("Applied", "False", "WorkAppliedFailed", 2)],
            vec![failing],
        )];
        let r = report(&None, &outcome(&works, false), now());
        assert!(reasons(&r).contains(&triple("Applied", "False", "NotAllWorkHaveBeenApplied")));
        assert!(!reasons(&r).iter().any(|c| c.0 == "Available"));
        let failed = r.failed.unwrap();
        assert_eq!(failed[0].resource.name, "test-cm");
        assert!(failed[0].condition.message.contains("bad field"));
    }

    #[test]
    fn stale_work_status_is_not_applied_yet() {
        let works = [work(vec![cond("Applied", "True", "WorkAppliedCompleted", 1)], vec![])];
        let r = report(&None, &outcome(&works, false), now());
        let applied = find(&r.conditions, "Applied").unwrap();
        assert_eq!(
            applied.message,
            "Work object example-placement-work has not yet completed the apply op"
        );
    }

    #[test]
    fn works_not_reported_yet_keep_apply_in_progress_so_the_binding_is_not_written_again() {
        let old = Some(vec![cond("RolloutStarted", "True", "RolloutStarted", 5)]);
        let first = report(&old, &outcome(&[], true), now());
        let works = [work(vec![cond("Applied", "True", "WorkAppliedCompleted", 1)], vec![])];
        let second = report(&first.conditions, &outcome(&works, false), now());
        assert_eq!(second.conditions, first.conditions);
        // A failure the member reports still replaces it.
        let failed = [work(vec![cond("Applied", "False", "WorkAppliedFailed", 2)], vec![])];
        let third = report(&second.conditions, &outcome(&failed, false), now());
        assert!(reasons(&third).contains(&triple("Applied", "False", "NotAllWorkHaveBeenApplied")));
    }

    #[test]
    fn a_sync_error_is_reported_as_work_not_synchronized() {
        let o = Outcome {
            sync_error: Some("resource snapshot x not found".into()),
            ..outcome(&[], false)
        };
        let r = report(&None, &o, now());
        let c = find(&r.conditions, "WorkSynchronized").unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "SyncWorkFailed"));
        assert!(c.message.ends_with("resource snapshot x not found"));
    }
}
