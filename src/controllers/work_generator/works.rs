//! The Works a binding should have (§10 step 6). Pure.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::labels::{
    PARENT_PLACEMENT, PARENT_PLACEMENT_NAMESPACE, PARENT_RESOURCE_BINDING, PARENT_RESOURCE_SNAPSHOT_INDEX,
    PARENT_RESOURCE_SNAPSHOT_NAME,
};
use crate::api::placement::ApplyStrategy;

/// Annotation: hash of the binding's ResourceOverride snapshot list.
pub const OVERRIDE_HASH: &str = "kubernetes-fleet.io/parent-resource-override-snapshot-hash";
/// Annotation: hash of the binding's ClusterResourceOverride snapshot list.
pub const CLUSTER_OVERRIDE_HASH: &str = "kubernetes-fleet.io/parent-cluster-resource-override-snapshot-hash";

/// sha256 (hex) of the JSON of an override list; Stagehand serves no overrides, so the list is
/// always empty and serialises as `null`, as upstream hashes an empty list.
pub fn override_hash() -> String {
    hex::encode(Sha256::digest(b"null"))
}

/// Which binding the Works are for.
#[derive(Clone, Debug)]
pub struct BindingRef<'a> {
    /// Binding name.
    pub name: &'a str,
    /// Placement name.
    pub placement: &'a str,
    /// Namespace of a ResourcePlacement's binding.
    pub namespace: Option<&'a str>,
    /// `spec.resourceSnapshotName` (master snapshot of the group).
    pub snapshot: &'a str,
    /// Index of that group.
    pub index: u64,
    /// `spec.applyStrategy`.
    pub apply_strategy: Option<&'a ApplyStrategy>,
}

/// One snapshot of a group: its sub-index (`None` for the master) and manifests.
#[derive(Clone, Debug)]
pub struct SnapshotPart {
    /// Sub-index; `None` for the master snapshot.
    pub subindex: Option<u64>,
    /// `spec.selectedResources`.
    pub manifests: Vec<Value>,
}

/// A Work as it should be.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredWork {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Manifests.
    pub manifests: Vec<Value>,
}

/// A Work that exists, as far as syncing cares.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingWork {
    /// Name.
    pub name: String,
    /// Its `parent-resource-snapshot-index` label.
    pub index: Option<String>,
    /// Its two override-hash annotations.
    pub override_hashes: (Option<String>, Option<String>),
    /// Its `spec.applyStrategy`.
    pub apply_strategy: Option<ApplyStrategy>,
}

/// Writes that bring the Works to the desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkSync {
    /// Works to create.
    pub create: Vec<DesiredWork>,
    /// Works to overwrite (labels, annotations, manifests and apply strategy).
    pub update: Vec<DesiredWork>,
    /// Works whose apply strategy alone is stale.
    pub restrategize: Vec<String>,
    /// Works of the binding that are no longer wanted.
    pub delete: Vec<String>,
}

impl WorkSync {
    /// Whether any Work is created, overwritten or deleted (then the binding reports the apply
    /// as in progress).
    pub fn changes_works(&self) -> bool {
        !(self.create.is_empty() && self.update.is_empty() && self.delete.is_empty())
    }
}

/// Name of the Work for a snapshot of the group: `<placement>-work` for the master,
/// `<placement>-<subindex>` for the others, prefixed `<namespace>.` for a ResourcePlacement.
pub fn work_name(binding: &BindingRef, subindex: Option<u64>) -> String {
    let base = match subindex {
        None => format!("{}-work", binding.placement),
        Some(i) => format!("{}-{i}", binding.placement),
    };
    match binding.namespace {
        Some(ns) => format!("{ns}.{base}"),
        None => base,
    }
}

/// One Work per snapshot of the group, even without manifests.
pub fn desired(binding: &BindingRef, group: &[SnapshotPart]) -> Vec<DesiredWork> {
    group
        .iter()
        .map(|part| {
            let mut labels = BTreeMap::from([
                (PARENT_RESOURCE_BINDING.to_string(), binding.name.to_string()),
                (PARENT_PLACEMENT.to_string(), binding.placement.to_string()),
                (PARENT_RESOURCE_SNAPSHOT_INDEX.to_string(), binding.index.to_string()),
            ]);
            if let Some(ns) = binding.namespace {
                labels.insert(PARENT_PLACEMENT_NAMESPACE.to_string(), ns.to_string());
            }
            let annotations = BTreeMap::from([
                (PARENT_RESOURCE_SNAPSHOT_NAME.to_string(), binding.snapshot.to_string()),
                (OVERRIDE_HASH.to_string(), override_hash()),
                (CLUSTER_OVERRIDE_HASH.to_string(), override_hash()),
            ]);
            DesiredWork {
                name: work_name(binding, part.subindex),
                labels,
                annotations,
                manifests: part.manifests.clone(),
            }
        })
        .collect()
}

/// Compares desired and existing Works: create the missing, overwrite those on another index or
/// override hash, refresh stale apply strategies, delete the unwanted.
pub fn sync(desired: Vec<DesiredWork>, existing: &[ExistingWork], apply_strategy: Option<&ApplyStrategy>) -> WorkSync {
    let mut plan = WorkSync::default();
    for work in &desired {
        match existing.iter().find(|e| e.name == work.name) {
            None => plan.create.push(work.clone()),
            Some(e) => {
                let index = work.labels.get(PARENT_RESOURCE_SNAPSHOT_INDEX);
                let hashes = (
                    work.annotations.get(OVERRIDE_HASH).cloned(),
                    work.annotations.get(CLUSTER_OVERRIDE_HASH).cloned(),
                );
                if e.index.as_ref() != index || e.override_hashes != hashes {
                    plan.update.push(work.clone());
                } else if e.apply_strategy.as_ref() != apply_strategy {
                    plan.restrategize.push(e.name.clone());
                }
            }
        }
    }
    plan.delete = existing
        .iter()
        .filter(|e| !desired.iter().any(|d| d.name == e.name))
        .map(|e| e.name.clone())
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn binding<'a>(namespace: Option<&'a str>, index: u64, snapshot: &'a str) -> BindingRef<'a> {
        BindingRef {
            name: "example-placement-member1-3f2a9c1d",
            placement: "example-placement",
            namespace,
            snapshot,
            index,
            apply_strategy: None,
        }
    }

    fn existing(name: &str, index: &str) -> ExistingWork {
        ExistingWork {
            name: name.into(),
            index: Some(index.into()),
            override_hashes: (Some(override_hash()), Some(override_hash())),
            apply_strategy: None,
        }
    }

    #[test]
    fn works_are_named_and_labelled_as_upstream() {
        let b = binding(None, 1, "example-placement-1-snapshot");
        let works = desired(
            &b,
            &[SnapshotPart {
                subindex: None,
                manifests: vec![json!({"kind": "Namespace"})],
            }],
        );
        assert_eq!(works[0].name, "example-placement-work");
        assert_eq!(works[0].labels[PARENT_RESOURCE_SNAPSHOT_INDEX], "1");
        assert_eq!(
            works[0].labels[PARENT_RESOURCE_BINDING],
            "example-placement-member1-3f2a9c1d"
        );
        assert_eq!(
            works[0].annotations[PARENT_RESOURCE_SNAPSHOT_NAME],
            "example-placement-1-snapshot"
        );
        assert_eq!(
            override_hash(),
            "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
        );
        let rp = BindingRef {
            placement: "web-app-placement",
            ..binding(Some("my-app-namespace"), 0, "web-app-placement-0-snapshot")
        };
        let works = desired(
            &rp,
            &[
                SnapshotPart {
                    subindex: None,
                    manifests: vec![],
                },
                SnapshotPart {
                    subindex: Some(0),
                    manifests: vec![],
                },
            ],
        );
        assert_eq!(works[0].name, "my-app-namespace.web-app-placement-work");
        assert_eq!(works[1].name, "my-app-namespace.web-app-placement-0");
        assert_eq!(works[0].labels[PARENT_PLACEMENT_NAMESPACE], "my-app-namespace");
    }

    #[test]
    fn a_rollback_overwrites_the_same_work_and_nothing_else_changes_it() {
        let b = binding(None, 0, "example-placement-0-snapshot");
        let want = desired(
            &b,
            &[SnapshotPart {
                subindex: None,
                manifests: vec![],
            }],
        );
        let plan = sync(want.clone(), &[existing("example-placement-work", "1")], None);
        assert_eq!(plan.update, want);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        let plan = sync(want, &[existing("example-placement-work", "0")], None);
        assert_eq!(plan, WorkSync::default());
    }

    #[test]
    fn leftover_works_are_deleted_and_stale_strategies_refreshed() {
        let b = binding(None, 0, "example-placement-0-snapshot");
        let want = desired(
            &b,
            &[SnapshotPart {
                subindex: None,
                manifests: vec![],
            }],
        );
        let strategy = ApplyStrategy::default().defaulted();
        let plan = sync(
            want,
            &[
                existing("example-placement-work", "0"),
                existing("example-placement-0", "0"),
            ],
            Some(&strategy),
        );
        assert_eq!(plan.delete, ["example-placement-0"]);
        assert_eq!(plan.restrategize, ["example-placement-work"]);
        assert!(!plan.update.is_empty() || !plan.changes_works() || !plan.delete.is_empty());
    }
}
