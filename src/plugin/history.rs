//! `kubectl stagehand history`: a placement's resource snapshot indexes, what changed between
//! them (objects added, removed, changed, by kind and name), and which runs rolled each out where.
//! Pure over the snapshots' selected resources and the runs.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One resource snapshot index.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The index.
    pub index: u64,
    /// When its master snapshot was created.
    pub created: String,
    /// The selected resources of every snapshot of the index.
    pub resources: Vec<Value>,
}

/// A run of the placement.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOf {
    /// Run name.
    pub name: String,
    /// The index it rolled out (`status.resourceSnapshotIndexUsed`).
    pub index: Option<u64>,
    /// Its phase.
    pub phase: String,
    /// The clusters it updated.
    pub clusters: Vec<String>,
}

/// One row of the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The index.
    pub index: u64,
    /// When it was snapshotted.
    pub created: String,
    /// Changes against the previous index: `+ Kind ns/name`, `- ...`, `~ ...`.
    pub changes: Vec<String>,
    /// Runs of this index: `name (phase: clusters)`.
    pub runs: Vec<String>,
}

fn key(resource: &Value) -> String {
    let kind = resource["kind"].as_str().unwrap_or("?");
    let name = resource["metadata"]["name"].as_str().unwrap_or("?");
    match resource["metadata"]["namespace"].as_str() {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

/// The rows, oldest index first.
pub fn rows(mut snapshots: Vec<Snapshot>, runs: &[RunOf]) -> Vec<Row> {
    snapshots.sort_by_key(|s| s.index);
    let mut previous: BTreeMap<String, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for snapshot in &snapshots {
        let now: BTreeMap<String, Value> = snapshot.resources.iter().map(|r| (key(r), r.clone())).collect();
        let mut changes = Vec::new();
        for (k, v) in &now {
            match previous.get(k) {
                None => changes.push(format!("+ {k}")),
                Some(old) if old != v => changes.push(format!("~ {k}")),
                Some(_) => {}
            }
        }
        for k in previous.keys().filter(|k| !now.contains_key(*k)) {
            changes.push(format!("- {k}"));
        }
        let runs_of: Vec<String> = runs
            .iter()
            .filter(|r| r.index == Some(snapshot.index))
            .map(|r| {
                if r.clusters.is_empty() {
                    format!("{} ({})", r.name, r.phase)
                } else {
                    format!("{} ({}: {})", r.name, r.phase, r.clusters.join(", "))
                }
            })
            .collect();
        out.push(Row {
            index: snapshot.index,
            created: snapshot.created.clone(),
            changes,
            runs: runs_of,
        });
        previous = now;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm", "namespace": "test-namespace"}, "data": {"key": value}})
    }

    fn ns() -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test-namespace"}})
    }

    #[test]
    fn changes_between_indexes_and_the_runs_of_each_are_listed() {
        let snapshots = vec![
            Snapshot {
                index: 1,
                created: "t1".into(),
                resources: vec![ns(), cm("value2")],
            },
            Snapshot {
                index: 0,
                created: "t0".into(),
                resources: vec![ns(), cm("value1")],
            },
            Snapshot {
                index: 2,
                created: "t2".into(),
                resources: vec![ns()],
            },
        ];
        let runs = vec![RunOf {
            name: "example-run".into(),
            index: Some(1),
            phase: "Succeeded".into(),
            clusters: vec!["member1".into(), "member2".into()],
        }];
        let rows = rows(snapshots, &runs);
        assert_eq!(
            rows[0].changes,
            ["+ ConfigMap test-namespace/test-cm", "+ Namespace test-namespace"]
        );
        assert_eq!(rows[1].changes, ["~ ConfigMap test-namespace/test-cm"]);
        assert_eq!(rows[1].runs, ["example-run (Succeeded: member1, member2)"]);
        assert_eq!(rows[2].changes, ["- ConfigMap test-namespace/test-cm"]);
    }
}
