//! Staged update runs driven by the real controllers (in-process, see `harness::run_hub`)
//! against a real kube-apiserver. The test plays the placement pipeline and the members: it
//! creates the placement, a scheduled policy snapshot, resource snapshots and bindings, and flips
//! binding `Available` conditions where members would.

mod control;
mod failures;
pub mod fixture;
mod flows;

use serde_json::{Value, json};

/// Doc A's strategy, with the staging TimedWait shortened to `wait` (the test says so).
pub fn doc_a_stages(wait: &str) -> Value {
    println!("[update_runs] doc A strategy with the staging TimedWait shortened from 1m to {wait}");
    json!([
        {"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}}, "maxConcurrency": 1,
         "afterStageTasks": [{"type": "TimedWait", "waitTime": wait}]},
        {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}}, "sortingLabelKey": "order",
         "maxConcurrency": 2, "beforeStageTasks": [{"type": "Approval"}], "afterStageTasks": [{"type": "Approval"}]},
    ])
}

/// Doc B's strategy: staging (TimedWait) then canary (after-stage approval only).
pub fn doc_b_stages(wait: &str) -> Value {
    json!([
        {"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}},
         "afterStageTasks": [{"type": "TimedWait", "waitTime": wait}]},
        {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}}, "sortingLabelKey": "order",
         "afterStageTasks": [{"type": "Approval"}]},
    ])
}

/// One stage with every cluster and no tasks, one cluster at a time.
pub fn one_stage_no_tasks() -> Value {
    json!([{"name": "all", "labelSelector": {}, "sortingLabelKey": "order"}])
}
