//! The resource snapshot get-or-create decision (§5.1, SD-5): reuse the latest group when the
//! content is unchanged, finish an incomplete group, hold a change back inside the throttling
//! windows, or create the next index (after pruning old groups beyond the history limit).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::api::labels::{
    IS_LATEST_SNAPSHOT, NUMBER_OF_ENVELOPED_OBJECTS, NUMBER_OF_RESOURCE_SNAPSHOTS, PARENT_PLACEMENT, RESOURCE_HASH,
    RESOURCE_INDEX, SUBINDEX_OF_RESOURCE_SNAPSHOT, resource_snapshot_name,
};

/// Largest raw JSON size of one snapshot's resources before the group is split.
pub const MAX_SNAPSHOT_BYTES: usize = 800 * 1024;
/// Groups kept when the placement sets no `revisionHistoryLimit`.
pub const DEFAULT_HISTORY_LIMIT: usize = 10;

/// One existing snapshot of the placement.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingSnapshot {
    /// Name.
    pub name: String,
    /// Label `resource-index`.
    pub index: u64,
    /// Label `is-latest-snapshot=true`.
    pub is_latest: bool,
    /// Annotation `resource-hash` (masters only).
    pub hash: Option<String>,
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// Annotation `next-resource-snapshot-candidate-detection-time`.
    pub change_detected: Option<Timestamp>,
}

/// The two throttling windows (hub options; tests set both to zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Throttle {
    /// `resource-changes-collection-duration`: how long changes are collected after the first one.
    pub collection: Duration,
    /// `resource-snapshot-creation-minimum-interval`: the least time between two snapshots.
    pub minimum_interval: Duration,
}

/// When a placement may take a new snapshot group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// On every content change, once the throttling windows allow (SD-5: every rollout strategy
    /// with the `documents` profile).
    Windows(Throttle),
    /// Only when a staged update run asked for the resources as they are now: `External`
    /// placements with the `upstream` profile (SD-25). `asked` says whether a run's request
    /// covers the current content (made after the change was detected, or made at all while the
    /// placement has no snapshot).
    RunRequest {
        /// A run asked for this content.
        asked: bool,
    },
}

impl From<Throttle> for Trigger {
    fn from(throttle: Throttle) -> Self {
        Trigger::Windows(throttle)
    }
}

/// How long an `External` placement's change waits for a run before it is looked at again; the
/// run's request (an annotation on the placement) wakes the placement sooner.
const AWAIT_RUN: Duration = Duration::from_secs(5 * 60);

/// A snapshot to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSnapshot {
    /// `<placement>-<index>-snapshot` for the master, `<placement>-<index>-<sub>` otherwise.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// `spec.selectedResources`.
    pub resources: Vec<Value>,
}

/// What to do with the placement's snapshots.
#[derive(Clone, Debug, PartialEq)]
pub enum SnapshotPlan {
    /// No snapshot exists and none may be taken yet (SD-25: an `External` placement before a
    /// run asks for one).
    None,
    /// The latest group holds this content: make sure it is labelled latest, create any missing
    /// sub-snapshots.
    Current {
        /// Index of the latest group.
        index: u64,
        /// Master to relabel `is-latest-snapshot=true`, if it is not.
        relabel: Option<String>,
        /// Sub-snapshots still missing from the group.
        missing: Vec<NewSnapshot>,
        /// Master whose detection-time stamp is stale (the change was reverted): remove it.
        unstamp: Option<String>,
    },
    /// The content changed, but a window is still open: keep the latest group and look again.
    Hold {
        /// Index of the latest group, which stays in use.
        index: u64,
        /// Master to stamp with the detection time (the first time the change is seen).
        stamp: Option<(String, Timestamp)>,
        /// When to look again.
        retry_after: Duration,
    },
    /// Create the next group.
    Create {
        /// Its index.
        index: u64,
        /// Master to relabel `is-latest-snapshot=false` first.
        unmark: Option<String>,
        /// Snapshots of old groups to delete (beyond the history limit).
        delete: Vec<String>,
        /// The new group, master first.
        create: Vec<NewSnapshot>,
    },
}

/// Splits resources into chunks of at most [`MAX_SNAPSHOT_BYTES`] (an oversized object gets its
/// own chunk). An empty selection is one empty chunk.
pub fn chunk(resources: &[Value]) -> Vec<Vec<Value>> {
    let mut chunks: Vec<Vec<Value>> = vec![Vec::new()];
    let mut size = 0usize;
    for resource in resources {
        let bytes = serde_json::to_vec(resource).map(|b| b.len()).unwrap_or_default();
        let last_has_items = chunks.last().is_some_and(|c| !c.is_empty());
        if last_has_items && size + bytes > MAX_SNAPSHOT_BYTES {
            chunks.push(Vec::new());
            size = 0;
        }
        size += bytes;
        if let Some(current) = chunks.last_mut() {
            current.push(resource.clone());
        }
    }
    chunks
}

/// The snapshots of group `index` for `resources`.
pub fn group(placement: &str, index: u64, resources: &[Value], hash: &str, envelopes: usize) -> Vec<NewSnapshot> {
    let chunks = chunk(resources);
    let total = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, resources)| {
            let mut labels = BTreeMap::from([
                (PARENT_PLACEMENT.to_string(), placement.to_string()),
                (RESOURCE_INDEX.to_string(), index.to_string()),
            ]);
            let mut annotations = BTreeMap::new();
            let name = if i == 0 {
                labels.insert(IS_LATEST_SNAPSHOT.to_string(), "true".to_string());
                annotations.insert(RESOURCE_HASH.to_string(), hash.to_string());
                annotations.insert(NUMBER_OF_RESOURCE_SNAPSHOTS.to_string(), total.to_string());
                annotations.insert(NUMBER_OF_ENVELOPED_OBJECTS.to_string(), envelopes.to_string());
                resource_snapshot_name(placement, index)
            } else {
                annotations.insert(SUBINDEX_OF_RESOURCE_SNAPSHOT.to_string(), (i - 1).to_string());
                format!("{placement}-{index}-{}", i - 1)
            };
            NewSnapshot {
                name,
                labels,
                annotations,
                resources,
            }
        })
        .collect()
}

/// Inputs of [`plan`] besides the existing snapshots.
pub struct Selection<'a> {
    /// Placement name.
    pub placement: &'a str,
    /// Sanitised, sorted resources.
    pub resources: &'a [Value],
    /// Their content hash.
    pub hash: &'a str,
    /// Envelope objects among them.
    pub envelopes: usize,
}

/// Decides what happens to the placement's snapshots.
pub fn plan(
    selection: &Selection,
    existing: &[ExistingSnapshot],
    now: Timestamp,
    trigger: impl Into<Trigger>,
    history_limit: usize,
) -> SnapshotPlan {
    let trigger = trigger.into();
    let masters = existing
        .iter()
        .filter(|s| s.hash.as_deref().is_some_and(|h| !h.is_empty()));
    let latest = masters
        .clone()
        .find(|s| s.is_latest)
        .or_else(|| masters.clone().max_by_key(|s| s.index));
    let Some(latest) = latest else {
        if trigger == (Trigger::RunRequest { asked: false }) {
            return SnapshotPlan::None;
        }
        return create(selection, existing, 0, None, history_limit);
    };
    if latest.hash.as_deref() == Some(selection.hash) {
        let present: BTreeSet<&str> = existing
            .iter()
            .filter(|s| s.index == latest.index)
            .map(|s| s.name.as_str())
            .collect();
        let missing = group(
            selection.placement,
            latest.index,
            selection.resources,
            selection.hash,
            selection.envelopes,
        )
        .into_iter()
        .filter(|s| !present.contains(s.name.as_str()))
        .collect();
        return SnapshotPlan::Current {
            index: latest.index,
            relabel: (!latest.is_latest).then(|| latest.name.clone()),
            missing,
            unstamp: latest.change_detected.is_some().then(|| latest.name.clone()),
        };
    }
    if latest.is_latest {
        let detected = latest.change_detected.unwrap_or(now);
        let next = match trigger {
            Trigger::Windows(throttle) => {
                (detected + signed(throttle.collection)).max(latest.created + signed(throttle.minimum_interval))
            }
            Trigger::RunRequest { asked: false } => now + signed(AWAIT_RUN),
            Trigger::RunRequest { asked: true } => now,
        };
        if now < next {
            return SnapshotPlan::Hold {
                index: latest.index,
                stamp: latest.change_detected.is_none().then(|| (latest.name.clone(), now)),
                retry_after: next.duration_since(now).try_into().unwrap_or_default(),
            };
        }
    }
    let unmark = latest.is_latest.then(|| latest.name.clone());
    let next_index = existing.iter().map(|s| s.index).max().map_or(0, |i| i + 1);
    create(selection, existing, next_index, unmark, history_limit)
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::ZERO)
}

fn create(
    selection: &Selection,
    existing: &[ExistingSnapshot],
    index: u64,
    unmark: Option<String>,
    history_limit: usize,
) -> SnapshotPlan {
    let limit = if history_limit == 0 {
        DEFAULT_HISTORY_LIMIT
    } else {
        history_limit
    };
    let indexes: BTreeSet<u64> = existing.iter().map(|s| s.index).collect();
    // Keep limit − 1 old groups: with the new one, `limit` remain.
    let kept: BTreeSet<u64> = indexes.iter().rev().take(limit.saturating_sub(1)).copied().collect();
    let delete = existing
        .iter()
        .filter(|s| !kept.contains(&s.index))
        .map(|s| s.name.clone())
        .collect();
    SnapshotPlan::Create {
        index,
        unmark,
        delete,
        create: group(
            selection.placement,
            index,
            selection.resources,
            selection.hash,
            selection.envelopes,
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn master(index: u64, hash: &str, latest: bool) -> ExistingSnapshot {
        ExistingSnapshot {
            name: resource_snapshot_name("example-placement", index),
            index,
            is_latest: latest,
            hash: Some(hash.into()),
            created: at(0),
            change_detected: None,
        }
    }

    fn cm(value: &str) -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm", "namespace": "test-namespace"}, "data": {"key": value}}),
        ]
    }

    fn selection<'a>(resources: &'a [Value], hash: &'a str) -> Selection<'a> {
        Selection {
            placement: "example-placement",
            resources,
            hash,
            envelopes: 0,
        }
    }

    #[test]
    fn first_snapshot_is_index_zero_with_the_three_labels() {
        let resources = cm("value1");
        let SnapshotPlan::Create {
            index,
            create,
            unmark,
            delete,
        } = plan(&selection(&resources, "h1"), &[], at(0), Throttle::default(), 0)
        else {
            panic!("expected a new group");
        };
        assert_eq!((index, unmark, delete), (0, None, vec![]));
        assert_eq!(create.len(), 1);
        assert_eq!(create[0].name, "example-placement-0-snapshot");
        let labels: Vec<(&str, &str)> = create[0].labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            labels,
            vec![
                ("kubernetes-fleet.io/is-latest-snapshot", "true"),
                ("kubernetes-fleet.io/parent-CRP", "example-placement"),
                ("kubernetes-fleet.io/resource-index", "0"),
            ]
        );
        assert_eq!(create[0].annotations[NUMBER_OF_RESOURCE_SNAPSHOTS], "1");
        assert_eq!(create[0].annotations[NUMBER_OF_ENVELOPED_OBJECTS], "0");
        assert_eq!(create[0].annotations[RESOURCE_HASH], "h1");
    }

    #[test]
    fn unchanged_content_reuses_the_latest_group() {
        let resources = cm("value1");
        let got = plan(
            &selection(&resources, "h1"),
            &[master(0, "h1", true)],
            at(5),
            Throttle::default(),
            0,
        );
        assert_eq!(
            got,
            SnapshotPlan::Current {
                index: 0,
                relabel: None,
                missing: vec![],
                unstamp: None,
            }
        );
    }

    #[test]
    fn changed_content_creates_the_next_index_and_unmarks_the_old_one() {
        let resources = cm("value2");
        let got = plan(
            &selection(&resources, "h2"),
            &[master(0, "h1", true)],
            at(5),
            Throttle::default(),
            0,
        );
        let SnapshotPlan::Create {
            index, unmark, create, ..
        } = got
        else {
            panic!("expected a new group")
        };
        assert_eq!(index, 1);
        assert_eq!(unmark.as_deref(), Some("example-placement-0-snapshot"));
        assert_eq!(create[0].name, "example-placement-1-snapshot");
    }

    #[test]
    fn a_change_inside_the_windows_is_held_back_and_stamped() {
        let resources = cm("value2");
        let throttle = Throttle {
            collection: Duration::from_secs(15),
            minimum_interval: Duration::from_secs(30),
        };
        let got = plan(
            &selection(&resources, "h2"),
            &[master(0, "h1", true)],
            at(10),
            throttle,
            0,
        );
        assert_eq!(
            got,
            SnapshotPlan::Hold {
                index: 0,
                stamp: Some(("example-placement-0-snapshot".into(), at(10))),
                retry_after: Duration::from_secs(20),
            }
        );
        let mut stamped = master(0, "h1", true);
        stamped.change_detected = Some(at(10));
        let got = plan(&selection(&resources, "h2"), &[stamped.clone()], at(31), throttle, 0);
        assert!(matches!(got, SnapshotPlan::Create { index: 1, .. }));
    }

    #[test]
    fn a_latest_label_lost_in_a_crash_is_restored() {
        let resources = cm("value1");
        let got = plan(
            &selection(&resources, "h1"),
            &[master(0, "h0", false), master(1, "h1", false)],
            at(0),
            Throttle::default(),
            0,
        );
        assert_eq!(
            got,
            SnapshotPlan::Current {
                index: 1,
                relabel: Some("example-placement-1-snapshot".into()),
                missing: vec![],
                unstamp: None,
            }
        );
    }

    #[test]
    fn history_limit_prunes_the_oldest_groups() {
        let resources = cm("v");
        let existing: Vec<ExistingSnapshot> = (0..3).map(|i| master(i, &format!("h{i}"), i == 2)).collect();
        let SnapshotPlan::Create { index, delete, .. } =
            plan(&selection(&resources, "new"), &existing, at(0), Throttle::default(), 2)
        else {
            panic!("expected a new group");
        };
        assert_eq!(index, 3);
        assert_eq!(
            delete,
            vec!["example-placement-0-snapshot", "example-placement-1-snapshot"]
        );
    }

    #[test]
    fn large_selections_are_split_into_sub_snapshots() {
        let big = "x".repeat(500 * 1024);
        let resources: Vec<Value> = (0..3)
            .map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm{i}")}, "data": {"k": big}}))
            .collect();
        let snapshots = group("p", 4, &resources, "h", 0);
        let names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["p-4-snapshot", "p-4-0", "p-4-1"]);
        assert_eq!(snapshots[0].annotations[NUMBER_OF_RESOURCE_SNAPSHOTS], "3");
        assert_eq!(snapshots[2].annotations[SUBINDEX_OF_RESOURCE_SNAPSHOT], "1");
        assert!(!snapshots[1].labels.contains_key(IS_LATEST_SNAPSHOT));
    }

    #[test]
    fn empty_selection_is_one_empty_master() {
        let snapshots = group("p", 0, &[], "h", 0);
        assert_eq!(snapshots.len(), 1);
        assert!(snapshots[0].resources.is_empty());
    }

    #[test]
    fn a_reverted_change_clears_the_stale_detection_stamp() {
        let resources = cm("value1");
        let mut stamped = master(0, "h1", true);
        stamped.change_detected = Some(at(10));
        let got = plan(&selection(&resources, "h1"), &[stamped], at(12), Throttle::default(), 0);
        assert_eq!(
            got,
            SnapshotPlan::Current {
                index: 0,
                relabel: None,
                missing: vec![],
                unstamp: Some("example-placement-0-snapshot".into()),
            }
        );
    }

    #[test]
    fn sd25_an_external_placement_takes_no_snapshot_until_a_run_asks() {
        let resources = cm("value1");
        let waiting = Trigger::RunRequest { asked: false };
        assert_eq!(
            plan(&selection(&resources, "h1"), &[], at(0), waiting, 0),
            SnapshotPlan::None
        );
        let SnapshotPlan::Create { index, .. } = plan(
            &selection(&resources, "h1"),
            &[],
            at(0),
            Trigger::RunRequest { asked: true },
            0,
        ) else {
            panic!("a run's request takes the first snapshot");
        };
        assert_eq!(index, 0);
    }

    #[test]
    fn sd25_an_external_placements_change_is_held_for_a_run_however_long_it_waits() {
        let resources = cm("value2");
        let waiting = Trigger::RunRequest { asked: false };
        let got = plan(
            &selection(&resources, "h2"),
            &[master(0, "h1", true)],
            at(3600),
            waiting,
            0,
        );
        let SnapshotPlan::Hold { index, stamp, .. } = got else {
            panic!("expected the old group kept, got {got:?}");
        };
        assert_eq!(index, 0);
        assert_eq!(stamp, Some(("example-placement-0-snapshot".into(), at(3600))));
        let mut stamped = master(0, "h1", true);
        stamped.change_detected = Some(at(3600));
        let got = plan(&selection(&resources, "h2"), &[stamped.clone()], at(7200), waiting, 0);
        assert!(matches!(got, SnapshotPlan::Hold { stamp: None, .. }), "{got:?}");
        let got = plan(
            &selection(&resources, "h2"),
            &[stamped],
            at(7200),
            Trigger::RunRequest { asked: true },
            0,
        );
        assert!(matches!(got, SnapshotPlan::Create { index: 1, .. }), "{got:?}");
    }
}
