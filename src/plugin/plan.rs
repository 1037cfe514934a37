//! `kubectl stagehand plan`: what a run would do, without creating it. Pure over the strategy, the
//! clusters the placement has picked and their labels: stages and clusters in the order a run
//! takes them (SD-13: by the sorting label's integer value, then by name; clusters without the
//! label last), `maxConcurrency` batches, tasks, and a duration estimate.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Selector, SelectorExt};
use serde::Serialize;

use crate::api::placement::{StageConfig, StageTaskType, UnmatchedClusters, UpdateStrategySpec};

/// One stage of the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStage {
    /// Stage name.
    pub name: String,
    /// Its clusters in batches of at most `maxConcurrency`, in order.
    pub batches: Vec<Vec<String>>,
    /// Tasks, as `before: Approval`, `after: TimedWait 1m`.
    pub tasks: Vec<String>,
    /// Seconds of TimedWaits after the stage.
    pub wait_seconds: u64,
    /// Approvals the stage needs.
    pub approvals: usize,
}

/// What a run would do.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Stages in order.
    pub stages: Vec<PlannedStage>,
    /// Picked clusters no stage selects.
    pub unmatched: Vec<String>,
    /// What happens to them (`Fail` fails the run's initialization).
    pub unmatched_policy: String,
    /// Estimated seconds: batches × the time a cluster takes, plus the TimedWaits; approvals are
    /// not in it.
    pub estimate_seconds: u64,
    /// Approvals the run needs.
    pub approvals: usize,
}

/// How many clusters a stage updates at once: a number, or a percentage of its clusters rounded
/// down, at least 1 (absent: 1).
pub fn concurrency(max: Option<&IntOrString>, total: usize) -> usize {
    match max {
        None => 1,
        Some(IntOrString::Int(n)) => usize::try_from(*n).unwrap_or(1).max(1),
        Some(IntOrString::String(p)) => {
            let percent: usize = p.trim_end_matches('%').parse().unwrap_or(100);
            (total * percent / 100).max(1)
        }
    }
}

fn seconds(wait: &str) -> u64 {
    wait.parse::<kube::core::Duration>()
        .map(|d| std::time::Duration::from(d).as_secs())
        .unwrap_or(0)
}

fn tasks(stage: &StageConfig) -> (Vec<String>, u64, usize) {
    let mut out = Vec::new();
    let (mut wait, mut approvals) = (0, 0);
    for (position, list) in [
        ("before", &stage.before_stage_tasks),
        ("after", &stage.after_stage_tasks),
    ] {
        for task in list.iter().flatten() {
            match task.type_ {
                StageTaskType::Approval => {
                    approvals += 1;
                    out.push(format!("{position}: Approval"));
                }
                StageTaskType::TimedWait => {
                    let w = task.wait_time.as_deref().unwrap_or("0s");
                    wait += seconds(w);
                    out.push(format!("{position}: TimedWait {w}"));
                }
            }
        }
    }
    (out, wait, approvals)
}

/// Plans a run of `strategy` over the `picked` clusters (name → labels); `cluster_seconds` is
/// what one cluster's update is assumed to take.
pub fn plan(
    strategy: &UpdateStrategySpec,
    picked: &BTreeMap<String, BTreeMap<String, String>>,
    cluster_seconds: u64,
) -> Result<Plan, String> {
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut stages = Vec::new();
    let mut estimate = 0u64;
    let mut approvals = 0usize;
    for stage in &strategy.stages {
        let selector = match &stage.label_selector {
            Some(s) => Some(
                Selector::try_from(LabelSelector::clone(s))
                    .map_err(|e| format!("stage {}: invalid labelSelector: {e}", stage.name))?,
            ),
            None => None,
        };
        let mut members: Vec<(&str, Option<i64>)> = picked
            .iter()
            .filter(|(name, labels)| {
                !placed.contains(name.as_str()) && selector.as_ref().is_some_and(|s| s.matches(labels))
            })
            .map(|(name, labels)| {
                let order = stage
                    .sorting_label_key
                    .as_ref()
                    .and_then(|k| labels.get(k))
                    .and_then(|v| v.parse().ok());
                (name.as_str(), order)
            })
            .collect();
        members.sort_by(|(a, av), (b, bv)| match (av, bv) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| a.cmp(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(b),
        });
        placed.extend(members.iter().map(|(n, _)| *n));
        let size = concurrency(stage.max_concurrency.as_ref(), members.len());
        let batches: Vec<Vec<String>> = members
            .chunks(size)
            .map(|c| c.iter().map(|(n, _)| n.to_string()).collect())
            .collect();
        let (task_list, wait, stage_approvals) = tasks(stage);
        estimate += batches.len() as u64 * cluster_seconds + wait;
        approvals += stage_approvals;
        stages.push(PlannedStage {
            name: stage.name.clone(),
            batches,
            tasks: task_list,
            wait_seconds: wait,
            approvals: stage_approvals,
        });
    }
    let unmatched: Vec<String> = picked
        .keys()
        .filter(|n| !placed.contains(n.as_str()))
        .cloned()
        .collect();
    let policy = strategy.unmatched_clusters.unwrap_or_default();
    if policy == UnmatchedClusters::FinalStage {
        estimate += unmatched.len() as u64 * cluster_seconds;
        stages.push(PlannedStage {
            name: "unmatched-clusters".into(),
            batches: unmatched.iter().map(|n| vec![n.clone()]).collect(),
            tasks: Vec::new(),
            wait_seconds: 0,
            approvals: 0,
        });
    }
    Ok(Plan {
        stages,
        unmatched: if policy == UnmatchedClusters::FinalStage {
            Vec::new()
        } else {
            unmatched
        },
        unmatched_policy: format!("{policy:?}"),
        estimate_seconds: estimate,
        approvals,
    })
}

/// The plan as text.
pub fn text(plan: &Plan, placement: &str, strategy: &str, index: &str) -> String {
    let mut out =
        format!("Plan of a run of placement {placement} with strategy {strategy}, resource snapshot index {index}:\n");
    for (i, stage) in plan.stages.iter().enumerate() {
        out.push_str(&format!("{}. stage {}", i + 1, stage.name));
        if stage.batches.is_empty() {
            out.push_str(": no clusters (skipped)\n");
        } else {
            out.push('\n');
        }
        for task in stage.tasks.iter().filter(|t| t.starts_with("before")) {
            out.push_str(&format!("   {task}\n"));
        }
        for (b, batch) in stage.batches.iter().enumerate() {
            out.push_str(&format!("   batch {}: {}\n", b + 1, batch.join(", ")));
        }
        for task in stage.tasks.iter().filter(|t| t.starts_with("after")) {
            out.push_str(&format!("   {task}\n"));
        }
    }
    if !plan.unmatched.is_empty() {
        let what = if plan.unmatched_policy == "Skip" {
            "left out (unmatchedClusters: Skip)"
        } else {
            "match no stage: the run would fail to initialize (unmatchedClusters: Fail)"
        };
        out.push_str(&format!("Clusters that {what}: {}\n", plan.unmatched.join(", ")));
    }
    out.push_str(&format!(
        "Estimate: {} s{}\n",
        plan.estimate_seconds,
        if plan.approvals > 0 {
            format!(" plus the time {} approval(s) take", plan.approvals)
        } else {
            String::new()
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::placement::StageTask;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn doc_a() -> UpdateStrategySpec {
        let selector = |env: &str| {
            Some(LabelSelector {
                match_labels: Some(labels(&[("environment", env)])),
                match_expressions: None,
            })
        };
        UpdateStrategySpec {
            stages: vec![
                StageConfig {
                    name: "staging".into(),
                    label_selector: selector("staging"),
                    max_concurrency: Some(IntOrString::Int(1)),
                    after_stage_tasks: Some(vec![StageTask {
                        type_: StageTaskType::TimedWait,
                        wait_time: Some("1m".into()),
                    }]),
                    ..Default::default()
                },
                StageConfig {
                    name: "canary".into(),
                    label_selector: selector("canary"),
                    sorting_label_key: Some("order".into()),
                    max_concurrency: Some(IntOrString::Int(2)),
                    before_stage_tasks: Some(vec![StageTask {
                        type_: StageTaskType::Approval,
                        wait_time: None,
                    }]),
                    after_stage_tasks: Some(vec![StageTask {
                        type_: StageTaskType::Approval,
                        wait_time: None,
                    }]),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn doc_as_strategy_plans_staging_then_canary_in_label_order_with_batches_and_waits() {
        let picked: BTreeMap<String, BTreeMap<String, String>> = [
            ("member1", labels(&[("environment", "canary"), ("order", "2")])),
            ("member2", labels(&[("environment", "staging")])),
            ("member3", labels(&[("environment", "canary"), ("order", "1")])),
            ("member4", labels(&[("environment", "none")])),
        ]
        .into_iter()
        .map(|(n, l)| (n.to_string(), l))
        .collect();
        let plan = plan(&doc_a(), &picked, 30).expect("plan");
        assert_eq!(plan.stages[0].batches, [vec!["member2".to_string()]]);
        assert_eq!(
            plan.stages[1].batches,
            [vec!["member3".to_string(), "member1".to_string()]]
        );
        assert_eq!(plan.unmatched, ["member4"]);
        assert_eq!(plan.estimate_seconds, 30 + 60 + 30);
        assert_eq!(plan.approvals, 2);
        let text = text(&plan, "p", "s", "1");
        assert!(text.contains("   batch 1: member3, member1\n"), "{text}");
        assert!(text.contains("the run would fail to initialize"), "{text}");
    }

    #[test]
    fn a_percentage_concurrency_rounds_down_to_at_least_one() {
        assert_eq!(concurrency(Some(&IntOrString::String("50%".into())), 5), 2);
        assert_eq!(concurrency(Some(&IntOrString::String("10%".into())), 3), 1);
        assert_eq!(concurrency(None, 9), 1);
    }
}
