//! Scheduling policy snapshots (§6): one per distinct policy, the latest labelled, carrying the
//! placement generation it reflects.

use std::collections::BTreeMap;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::api::labels::{
    IS_LATEST_SNAPSHOT, NUMBER_OF_CLUSTERS, PARENT_PLACEMENT, PLACEMENT_GENERATION, POLICY_INDEX,
};
use crate::api::placement::{PlacementPolicy, PlacementType};

/// One existing policy snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingPolicy {
    /// Name.
    pub name: String,
    /// Label `policy-index`.
    pub index: u64,
    /// Label `is-latest-snapshot=true`.
    pub is_latest: bool,
    /// `spec.policyHash` as stored (base64).
    pub hash: String,
    /// Labels and annotations as stored.
    pub labels: BTreeMap<String, String>,
    /// Annotations as stored.
    pub annotations: BTreeMap<String, String>,
}

/// What to do with the policy snapshots.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyPlan {
    /// The latest snapshot holds this policy; set these labels and annotations if they differ.
    Current {
        /// Its name.
        name: String,
        /// Labels it must carry.
        labels: BTreeMap<String, String>,
        /// Annotations it must carry.
        annotations: BTreeMap<String, String>,
        /// Whether they differ from what it has.
        changed: bool,
    },
    /// A new policy: create the next snapshot.
    Create {
        /// Name `<placement>-<index>`.
        name: String,
        /// Labels.
        labels: BTreeMap<String, String>,
        /// Annotations.
        annotations: BTreeMap<String, String>,
        /// `spec.policyHash` (base64 of the hex digest).
        hash: String,
        /// Latest snapshot to relabel `is-latest-snapshot=false` first.
        unmark: Option<String>,
        /// Old snapshots beyond the history limit.
        delete: Vec<String>,
    },
}

/// `policyHash`: sha256 of the policy without `numberOfClusters`, as hex, base64-encoded the way
/// Go encodes `[]byte` in JSON.
pub fn policy_hash(policy: Option<&PlacementPolicy>) -> String {
    let cleared = policy.map(|p| PlacementPolicy {
        number_of_clusters: None,
        ..p.clone()
    });
    let json = serde_json::to_vec(&cleared).unwrap_or_default();
    let hex_digest = hex::encode(Sha256::digest(&json));
    base64::engine::general_purpose::STANDARD.encode(hex_digest.as_bytes())
}

/// Decides what happens to the placement's policy snapshots.
pub fn plan(
    placement: &str,
    generation: i64,
    policy: Option<&PlacementPolicy>,
    existing: &[ExistingPolicy],
    history_limit: usize,
) -> PolicyPlan {
    let hash = policy_hash(policy);
    let latest = existing
        .iter()
        .find(|s| s.is_latest)
        .or_else(|| existing.iter().max_by_key(|s| s.index));
    let mut annotations = BTreeMap::from([(PLACEMENT_GENERATION.to_string(), generation.to_string())]);
    if let Some(p) = policy.filter(|p| p.placement_type == PlacementType::PickN) {
        annotations.insert(
            NUMBER_OF_CLUSTERS.to_string(),
            p.number_of_clusters.unwrap_or(0).to_string(),
        );
    }
    let labels_for = |index: u64| {
        BTreeMap::from([
            (PARENT_PLACEMENT.to_string(), placement.to_string()),
            (IS_LATEST_SNAPSHOT.to_string(), "true".to_string()),
            (POLICY_INDEX.to_string(), index.to_string()),
        ])
    };
    if let Some(latest) = latest.filter(|l| l.hash == hash) {
        let labels = labels_for(latest.index);
        let changed = labels.iter().any(|(k, v)| latest.labels.get(k) != Some(v))
            || annotations.iter().any(|(k, v)| latest.annotations.get(k) != Some(v));
        return PolicyPlan::Current {
            name: latest.name.clone(),
            labels,
            annotations,
            changed,
        };
    }
    let index = existing.iter().map(|s| s.index).max().map_or(0, |i| i + 1);
    let limit = if history_limit == 0 { 10 } else { history_limit };
    let mut by_age: Vec<&ExistingPolicy> = existing.iter().collect();
    by_age.sort_by_key(|s| std::cmp::Reverse(s.index));
    let delete = by_age
        .iter()
        .skip(limit.saturating_sub(1))
        .map(|s| s.name.clone())
        .collect();
    PolicyPlan::Create {
        name: format!("{placement}-{index}"),
        labels: labels_for(index),
        annotations,
        hash,
        unmark: latest.filter(|l| l.is_latest).map(|l| l.name.clone()),
        delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick_n(n: i32) -> PlacementPolicy {
        PlacementPolicy {
            placement_type: PlacementType::PickN,
            number_of_clusters: Some(n),
            ..Default::default()
        }
    }

    #[test]
    fn first_policy_snapshot_is_index_zero() {
        let PolicyPlan::Create {
            name,
            labels,
            annotations,
            unmark,
            ..
        } = plan("p", 1, None, &[], 0)
        else {
            panic!("expected a new snapshot");
        };
        assert_eq!(name, "p-0");
        assert_eq!(labels[POLICY_INDEX], "0");
        assert_eq!(annotations[PLACEMENT_GENERATION], "1");
        assert_eq!(unmark, None);
    }

    #[test]
    fn changing_only_the_cluster_count_keeps_the_snapshot() {
        assert_eq!(policy_hash(Some(&pick_n(1))), policy_hash(Some(&pick_n(3))));
        let existing = ExistingPolicy {
            name: "p-0".into(),
            index: 0,
            is_latest: true,
            hash: policy_hash(Some(&pick_n(1))),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        };
        let PolicyPlan::Current {
            name,
            annotations,
            changed,
            ..
        } = plan("p", 2, Some(&pick_n(3)), &[existing], 0)
        else {
            panic!("expected the same snapshot");
        };
        assert_eq!(name, "p-0");
        assert_eq!(annotations[NUMBER_OF_CLUSTERS], "3");
        assert!(changed);
    }

    #[test]
    fn a_new_policy_creates_the_next_snapshot() {
        let existing = ExistingPolicy {
            name: "p-0".into(),
            index: 0,
            is_latest: true,
            hash: policy_hash(None),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        };
        let PolicyPlan::Create { name, unmark, .. } = plan("p", 2, Some(&pick_n(2)), &[existing], 0) else {
            panic!("expected a new snapshot");
        };
        assert_eq!(name, "p-1");
        assert_eq!(unmark.as_deref(), Some("p-0"));
    }
}
