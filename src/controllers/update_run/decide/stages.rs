//! Stage computation (§3.4, SD-13) and the deletion stage (§3.5).

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

use super::arith::parse_wait_time;
use super::failure::{Category, Failure, validation_abort};
use super::model::{MemberView, TaskPosition};
use super::outcome::name_list;
use crate::api::labels::DELETE_STAGE_NAME;
use crate::api::labels::label_key_problem;
use crate::api::placement::{
    ClusterUpdatingStatus, StageConfig, StageTask, StageTaskStatus, StageTaskType, StageUpdatingStatus,
    UnmatchedClusters, UpdateStrategySpec,
};
use crate::controllers::compat::Profile;

/// Name of the last stage `unmatchedClusters: FinalStage` adds (SD-33).
pub const FINAL_STAGE_NAME: &str = "unmatched-clusters";

/// The stages' clusters and the selected clusters that no stage picks.
#[derive(Debug)]
pub struct Assignment {
    /// Every stage's status entry, in order (with the `FinalStage` stage last when asked for).
    pub stages: Vec<StageUpdatingStatus>,
    /// Selected clusters that no stage picks (none under `FinalStage`), by name.
    pub unmatched: Vec<String>,
}

/// Computes every stage's clusters (in execution order) and task entries.
///
/// `selected` are the target clusters of the selected bindings; clusters matched by a stage but not
/// selected are ignored. A selected cluster that no stage picks goes to the `unmatched-clusters`
/// stage under `unmatchedClusters: FinalStage`, and is returned as unmatched otherwise: the
/// caller fails the run on it ([`unmatched_failure`]) unless the strategy says `Skip` (SD-33).
pub fn compute_stages(
    run: &str,
    profile: Profile,
    strategy_key: &str,
    strategy: &UpdateStrategySpec,
    selected: &BTreeSet<String>,
    members: &[MemberView],
) -> Result<Assignment, Failure> {
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut stages = Vec::with_capacity(strategy.stages.len());
    for stage in &strategy.stages {
        let selector = checked_stage(strategy_key, stage)?;
        let mut clusters: Vec<(&MemberView, Option<i64>)> = Vec::new();
        for member in members {
            if !selected.contains(&member.name) || !selector.as_ref().is_some_and(|s| s.matches(&member.labels)) {
                continue;
            }
            if !placed.insert(&member.name) {
                return Err(validation_abort(
                    Category::User,
                    format!("cluster `{}` appears in more than one stages", member.name),
                ));
            }
            clusters.push((member, sorting_value(stage, member, profile)?));
        }
        // SD-13: labelled clusters by value then name; unlabelled ones after them, by name.
        clusters.sort_by(|(a, av), (b, bv)| match (av, bv) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| a.name.cmp(&b.name)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name.cmp(&b.name),
        });
        stages.push(stage_status(
            run,
            profile,
            stage,
            clusters.iter().map(|(m, _)| m.name.clone()),
        ));
    }
    let unmatched: Vec<String> = selected
        .iter()
        .filter(|c| !placed.contains(c.as_str()))
        .cloned()
        .collect();
    if strategy.unmatched_clusters == Some(UnmatchedClusters::FinalStage) {
        let last = StageConfig {
            name: FINAL_STAGE_NAME.into(),
            ..Default::default()
        };
        stages.push(stage_status(run, profile, &last, unmatched.into_iter()));
        return Ok(Assignment {
            stages,
            unmatched: Vec::new(),
        });
    }
    Ok(Assignment { stages, unmatched })
}

/// The checks of every stage that need no cluster (SD-35: named before a run waits for
/// clusters).
pub fn validate_strategy(strategy_key: &str, strategy: &UpdateStrategySpec) -> Result<(), Failure> {
    for stage in &strategy.stages {
        checked_stage(strategy_key, stage)?;
    }
    Ok(())
}

/// A stage's checks that need no cluster, in upstream's order: its tasks, its label selector (the
/// parsed selector is returned), and its `sortingLabelKey`.
fn checked_stage(strategy_key: &str, stage: &StageConfig) -> Result<Option<Selector>, Failure> {
    validate_tasks(strategy_key, stage)?;
    let selector = stage_selector(strategy_key, stage)?;
    check_sorting_key(strategy_key, stage)?;
    Ok(selector)
}

/// Initialization fails on selected clusters that no stage picks (`unmatchedClusters` absent or
/// `Fail`). Upstream's message names the first ten; past ten, this one names every cluster while
/// the text stays short (SD-33), except under the `upstream` profile.
pub fn unmatched_failure(profile: Profile, unmatched: &[String]) -> Failure {
    let detail = if profile == Profile::Upstream || unmatched.len() <= 10 {
        format!(
            "some clusters are not placed in any stage, total {}, showing up to 10: {}",
            unmatched.len(),
            unmatched.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        )
    } else {
        format!(
            "some clusters are not placed in any stage, total {}: {}; add a stage whose labelSelector matches them, or set the strategy's unmatchedClusters to Skip or FinalStage",
            unmatched.len(),
            name_list(unmatched)
        )
    };
    validation_abort(Category::User, detail)
}

/// The deletion stage: the clusters of the to-be-deleted bindings, sorted.
pub fn deletion_stage(clusters: impl IntoIterator<Item = String>) -> StageUpdatingStatus {
    let sorted: BTreeSet<String> = clusters.into_iter().collect();
    StageUpdatingStatus {
        stage_name: DELETE_STAGE_NAME.to_string(),
        clusters: sorted.into_iter().map(cluster_entry).collect(),
        ..Default::default()
    }
}

/// A cluster's entry before anything happened to it.
pub fn cluster_entry(name: String) -> ClusterUpdatingStatus {
    ClusterUpdatingStatus {
        cluster_name: name,
        ..Default::default()
    }
}

fn stage_status(
    run: &str,
    profile: Profile,
    stage: &StageConfig,
    clusters: impl Iterator<Item = String>,
) -> StageUpdatingStatus {
    let has_before_approval = stage
        .before_stage_tasks
        .iter()
        .flatten()
        .any(|t| t.type_ == StageTaskType::Approval);
    let task = |t: &StageTask, name: Option<String>| StageTaskStatus {
        type_: t.type_,
        approval_request_name: if t.type_ == StageTaskType::Approval { name } else { None },
        conditions: None,
    };
    StageUpdatingStatus {
        stage_name: stage.name.clone(),
        clusters: clusters.map(cluster_entry).collect(),
        before_stage_task_status: stage
            .before_stage_tasks
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|tasks| {
                tasks
                    .iter()
                    .map(|t| {
                        task(
                            t,
                            Some(profile.approval_request_name(
                                run,
                                &stage.name,
                                TaskPosition::Before,
                                has_before_approval,
                            )),
                        )
                    })
                    .collect()
            }),
        after_stage_task_status: stage.after_stage_tasks.as_ref().filter(|t| !t.is_empty()).map(|tasks| {
            tasks
                .iter()
                .map(|t| {
                    task(
                        t,
                        Some(profile.approval_request_name(run, &stage.name, TaskPosition::After, has_before_approval)),
                    )
                })
                .collect()
        }),
        ..Default::default()
    }
}

fn validate_tasks(strategy_key: &str, stage: &StageConfig) -> Result<(), Failure> {
    let before = stage.before_stage_tasks.as_deref().unwrap_or_default();
    let before_error = if before.len() > 1 {
        Some("there can only be one before stage task".to_string())
    } else {
        before.iter().find_map(|t| match (t.type_, &t.wait_time) {
            (StageTaskType::TimedWait, _) => {
                Some("found unsupported task type in before stage tasks: TimedWait".into())
            }
            (StageTaskType::Approval, Some(_)) => Some("approval task cannot have a wait time".into()),
            _ => None,
        })
    };
    if let Some(err) = before_error {
        return Err(validation_abort(
            Category::User,
            format!(
                "the before stage tasks are invalid, updateStrategy: `{strategy_key}`, stage: {}, err: {err}",
                stage.name
            ),
        ));
    }
    let after = stage.after_stage_tasks.as_deref().unwrap_or_default();
    let mut after_error = None;
    if after.len() == 2 && after[0].type_ == after[1].type_ {
        after_error = Some(format!(
            "afterStageTasks cannot have two tasks of the same type: {:?}",
            after[0].type_
        ));
    }
    for (i, t) in after.iter().enumerate() {
        if after_error.is_some() || t.type_ != StageTaskType::TimedWait {
            continue;
        }
        after_error = match t.wait_time.as_deref().map(parse_wait_time) {
            None => Some(format!("task {i} of type TimedWait has wait duration set to nil")),
            Some(Ok(0)) | Some(Err(_)) => Some(format!("task {i} of type TimedWait has wait duration <= 0")),
            Some(Ok(_)) => None,
        };
    }
    match after_error {
        Some(err) => Err(validation_abort(
            Category::User,
            format!(
                "the after stage tasks are invalid, updateStrategy: `{strategy_key}`, stage: {}, err: {err}",
                stage.name
            ),
        )),
        None => Ok(()),
    }
}

/// Absent selects nothing; `{}` selects everything.
fn stage_selector(strategy_key: &str, stage: &StageConfig) -> Result<Option<Selector>, Failure> {
    let Some(selector) = &stage.label_selector else {
        return Ok(None);
    };
    Selector::try_from(LabelSelector::clone(selector))
        .map(Some)
        .map_err(|err| {
            validation_abort(
                Category::User,
                format!(
                    "the stage label selector is invalid, updateStrategy: `{strategy_key}`, stage: {}, err: {err}",
                    stage.name
                ),
            )
        })
}

/// SD-35: a `sortingLabelKey` no label can have would leave the stage unordered without a word
/// (upstream admits it); the run fails naming the field instead.
fn check_sorting_key(strategy_key: &str, stage: &StageConfig) -> Result<(), Failure> {
    let Some(key) = &stage.sorting_label_key else {
        return Ok(());
    };
    match label_key_problem(key) {
        None => Ok(()),
        Some(problem) => Err(validation_abort(
            Category::User,
            format!(
                "stage `{}` of updateStrategy `{strategy_key}`: sortingLabelKey `{key}` is not a valid label key: {problem}",
                stage.name
            ),
        )),
    }
}

fn sorting_value(stage: &StageConfig, member: &MemberView, profile: Profile) -> Result<Option<i64>, Failure> {
    let Some(key) = &stage.sorting_label_key else {
        return Ok(None);
    };
    let value = match member.labels.get(key) {
        Some(value) => value,
        None if profile.missing_sorting_label_sorts_last() => return Ok(None),
        // Upstream parses the absent label as an empty string and fails the run.
        None => "",
    };
    value.parse::<i64>().map(Some).map_err(|err| {
        validation_abort(
            Category::User,
            format!(
                "the sorting label `{key}:{value}` on cluster `{}` is not valid: {err}; set it to an integer",
                member.name
            ),
        )
    })
}

/// Clusters of each stage by name, for comparisons.
pub fn stage_shape(stages: &[StageUpdatingStatus]) -> Vec<(String, Vec<String>)> {
    stages
        .iter()
        .map(|s| {
            (
                s.stage_name.clone(),
                s.clusters.iter().map(|c| c.cluster_name.clone()).collect(),
            )
        })
        .collect()
}
