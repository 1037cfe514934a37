//! One execution step of a running run (§3.8–§3.13): before-stage approval, cluster updates
//! within `maxConcurrency`, after-stage tasks in parallel, the deletion stage.

use std::time::Duration;

use jiff::Timestamp;

use super::approval::process_approval;
use super::arith::{effective_max_concurrency, parse_wait_time, stuck_cluster_list};
use super::control::Skips;
use super::failure::{Category, Failure, abort};
use super::judge::{Verdict, apply_failed, in_sync, judge, rollout_started};
use super::marks::{self, run_progressing, run_waiting, stage_started, stage_succeeded};
use super::model::{Action, BindingTarget, BindingView, Next, Observed, TaskPosition};
use super::outcome::{Outcome, describe_budget, failure_budget, name_list, outcome};
use super::validate::Plan;
use crate::api::placement::{
    ApplyStrategy, ClusterUpdatingStatus, StageConfig, StageTaskType, StageUpdatingStatus, UpdateRunStatus,
};
use crate::conditions::{Status, find, is_true_for, set, transition_time};
use crate::controllers::update_run::reasons::{cluster as cluster_reason, msg, run, stage, task, types};

/// A started cluster that has not succeeded for this long is reported stuck.
pub const STUCK_THRESHOLD: Duration = Duration::from_secs(5 * 60);
/// Safety-net poll while clusters update or bindings are deleted; watches normally wake the run first.
pub const CLUSTER_POLL: Duration = Duration::from_secs(15);
/// Safety-net poll while waiting for an approval.
pub const APPROVAL_POLL: Duration = Duration::from_secs(60);

/// How a step ended.
#[derive(Debug, PartialEq)]
pub enum StepEnd {
    /// Look again later.
    Continue(Next),
    /// The deletion stage finished: the run is done.
    Finished,
    /// The run cannot go on; the stage being processed (index, or `None` for the deletion stage)
    /// is marked failed with the message.
    Aborted(Option<usize>, String),
    /// More clusters of the stage failed than its `maxFailures` allows (SD-29): the stage and
    /// the run fail, and a retry can resume them (SD-31).
    BudgetExceeded(usize, String),
}

/// What every phase of a step needs.
pub struct Step<'a> {
    /// The world.
    pub obs: &'a Observed,
    /// Where the run is and its bindings.
    pub plan: &'a Plan<'a>,
    /// The run's generation.
    pub generation: i64,
    /// This pass's time.
    pub now: Timestamp,
    /// Master resource snapshot name to put in bindings.
    pub snapshot_name: String,
    /// The run's recorded apply strategy.
    pub applied: ApplyStrategy,
    /// Side effects so far.
    pub actions: Vec<Action>,
    /// The accepted skip lists (SD-32).
    pub skips: Skips,
}

impl Step<'_> {
    /// `RolloutStarted` message (§4.6); prints the spec index as upstream does (Q8).
    pub fn rollout_message(&self) -> String {
        format!(
            "Detected the new changes on the resources and started the rollout process, resourceSnapshotIndex: {}, updateRun: {}",
            self.obs.run.spec.resource_snapshot_index.as_deref().unwrap_or(""),
            self.obs.run.name
        )
    }

    fn elapsed_since(&self, then: Option<Timestamp>) -> Duration {
        then.and_then(|t| self.now.duration_since(t).try_into().ok())
            .unwrap_or_default()
    }

    /// Whether a started, unfinished cluster has been updating for longer than the threshold.
    pub fn is_stuck(&self, cluster: &ClusterUpdatingStatus) -> bool {
        self.elapsed_since(transition_time(&cluster.conditions, types::STARTED)) > STUCK_THRESHOLD
    }
}

/// Runs one step at a regular stage.
pub fn run_stage(step: &mut Step, status: &mut UpdateRunStatus, index: usize) -> StepEnd {
    let (generation, now) = (step.generation, step.now);
    let config = status
        .staged_update_strategy_snapshot
        .as_ref()
        .and_then(|s| s.stages.get(index))
        .cloned()
        .unwrap_or_default();
    let Some(stage_status) = status.stages_status.as_mut().and_then(|s| s.get_mut(index)) else {
        return StepEnd::Aborted(Some(index), "stage status missing".into());
    };
    let stage_name = stage_status.stage_name.clone();

    if step.skips.stages.contains(&stage_name) {
        marks::stage_skipped_by_request(stage_status, generation, now);
        return StepEnd::Continue(Next::After(Duration::ZERO));
    }

    if stage_status.clusters.is_empty() {
        marks::stage_skipped(stage_status, stage::SKIPPED, msg::STAGE_SKIPPED, generation, now);
        return StepEnd::Continue(Next::After(Duration::ZERO));
    }

    let resuming = find(&stage_status.conditions, types::PROGRESSING).is_some_and(|c| c.reason == stage::STOPPED);
    if resuming {
        resume_timed_waits(stage_status, now);
    }

    match before_stage_approved(step, stage_status) {
        Err(failure) => return failure_end(index, failure),
        Ok(false) => {
            set(
                &mut stage_status.conditions,
                types::PROGRESSING,
                Status::False,
                stage::WAITING,
                msg::STAGE_WAITING_BEFORE,
                generation,
                now,
            );
            run_waiting(status, &stage_name, true, generation, now);
            return StepEnd::Continue(Next::After(APPROVAL_POLL));
        }
        Ok(true) => {}
    }

    let limit = match effective_max_concurrency(config.max_concurrency.as_ref(), stage_status.clusters.len()) {
        Ok(limit) => limit,
        Err(err) => return StepEnd::Aborted(Some(index), abort_text(abort(Category::User, err))),
    };
    let total = stage_status.clusters.len();
    let rules = Rules {
        max_failures: config.max_failures.as_ref(),
        budget: match failure_budget(config.max_failures.as_ref(), total) {
            Ok(budget) => budget,
            Err(err) => return StepEnd::Aborted(Some(index), abort_text(abort(Category::User, err))),
        },
        deadline_ms: config
            .progress_deadline
            .as_deref()
            .and_then(|d| parse_wait_time(d).ok()),
    };
    let walk = walk_clusters(step, stage_status, limit, &rules);

    if !walk.stuck.is_empty() {
        let message = format!(
            "The updateRun is stuck waiting for {} cluster(s) in stage {stage_name} to finish updating, please check placement status for potential errors",
            stuck_cluster_list(&walk.stuck)
        );
        set(
            &mut status.conditions,
            types::PROGRESSING,
            Status::False,
            run::STUCK,
            message,
            generation,
            now,
        );
    } else if walk.finished < walk.total {
        run_progressing(status, step.obs.profile, generation, now);
    }
    if let Some(message) = walk.abort {
        if walk.budget_exceeded {
            return StepEnd::BudgetExceeded(index, message);
        }
        return StepEnd::Aborted(Some(index), message);
    }
    if !walk.retry.is_empty() {
        // A cluster's progress deadline still falls due while the stage waits for another's report.
        return StepEnd::Continue(Next::Retry {
            why: walk.retry.join("; "),
            at_latest: walk.next_deadline,
        });
    }
    if walk.finished < walk.total {
        let poll = walk.next_deadline.map_or(CLUSTER_POLL, |d| d.min(CLUSTER_POLL));
        return StepEnd::Continue(Next::After(poll));
    }
    let Some(stage_status) = status.stages_status.as_mut().and_then(|s| s.get_mut(index)) else {
        return StepEnd::Aborted(Some(index), "stage status missing".into());
    };
    complete_stage(step, stage_status, &config, index, &mut status.conditions)
}

fn failure_end(index: usize, failure: Failure) -> StepEnd {
    match failure {
        Failure::Retry(message) | Failure::Pending(message) => StepEnd::Continue(Next::retry(message)),
        Failure::Abort(message) => StepEnd::Aborted(Some(index), message),
    }
}

fn abort_text(failure: Failure) -> String {
    failure.into_message()
}

fn before_stage_approved(step: &mut Step, stage_status: &mut StageUpdatingStatus) -> Result<bool, Failure> {
    let stage_name = stage_status.stage_name.clone();
    for task_status in stage_status.before_stage_task_status.iter_mut().flatten() {
        if task_status.type_ == StageTaskType::TimedWait {
            return Err(abort(
                Category::User,
                "found unsupported task type in before stage tasks: TimedWait",
            ));
        }
        if !process_approval(
            step.obs,
            &stage_name,
            TaskPosition::Before,
            task_status,
            step.now,
            &mut step.actions,
        )? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Counters of one walk over a stage's clusters.
#[derive(Default)]
struct Walk {
    total: usize,
    finished: usize,
    stuck: Vec<String>,
    retry: Vec<String>,
    abort: Option<String>,
    /// The earliest progress deadline still ahead (SD-30).
    next_deadline: Option<Duration>,
    /// More clusters failed than the stage's budget allows (SD-29).
    budget_exceeded: bool,
}

/// The stage's failure rules (SD-29, SD-30).
struct Rules<'c> {
    /// `maxFailures` as configured.
    max_failures: Option<&'c k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
    /// Failures tolerated; `None` when the stage has no budget (upstream's behaviour).
    budget: Option<usize>,
    /// `progressDeadline` in milliseconds.
    deadline_ms: Option<u64>,
}

/// §3.9.2: start clusters up to the limit, check the started ones. Clusters that succeeded,
/// failed or were skipped hold no slot (SD-29, SD-32).
fn walk_clusters(step: &mut Step, stage_status: &mut StageUpdatingStatus, limit: usize, rules: &Rules) -> Walk {
    let (generation, now) = (step.generation, step.now);
    let stage_name = stage_status.stage_name.clone();
    let mut walk = Walk {
        total: stage_status.clusters.len(),
        ..Default::default()
    };
    let mut updating = 0usize;
    let mut aborts = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut stage_started_now = false;
    for cluster in stage_status.clusters.iter_mut() {
        let name = cluster.cluster_name.clone();
        match outcome(cluster, generation) {
            Outcome::Succeeded | Outcome::Skipped => {
                walk.finished += 1;
                continue;
            }
            Outcome::Failed => {
                walk.finished += 1;
                failed.push(name);
                continue;
            }
            Outcome::Waiting | Outcome::Updating => {}
        }
        if step.skips.clusters.contains(&name) {
            marks::cluster_skipped(
                cluster,
                cluster_reason::SKIPPED_BY_REQUEST,
                msg::CLUSTER_SKIPPED_BY_NAME,
                generation,
                now,
            );
            walk.finished += 1;
            continue;
        }
        if updating >= limit {
            continue;
        }
        updating += 1;
        let Some(binding) = step.plan.selected.get(&name).copied() else {
            aborts.push(abort(
                Category::Internal,
                format!("the binding for cluster `{name}` in stage `{stage_name}` is not found in the toBeUpdatedBindings map"),
            ));
            continue;
        };
        if !is_true_for(&cluster.conditions, types::STARTED, generation) {
            // SD-31: a retried cluster starts even while its binding still shows the old failure;
            // only a failure reported after the restart counts.
            let retrying = find(&cluster.conditions, types::STARTED).is_some_and(|c| c.status == "False");
            // With failure rules (SD-29, SD-30), a cluster whose binding already reports a failure
            // starts anyway, so that its failure or its deadline can be judged.
            let judged = rules.budget.is_some() || rules.deadline_ms.is_some();
            match start_cluster(step, binding, &stage_name) {
                Err(message) if !retrying && !judged => {
                    walk.retry.push(message);
                    continue;
                }
                result => {
                    let failing = result.is_err();
                    let already_done = result.unwrap_or(false);
                    marks::cluster_started(cluster, generation, now);
                    if retrying {
                        marks::cluster_restarted(cluster, generation, now);
                    }
                    stage_started_now = true;
                    if already_done {
                        marks::cluster_succeeded(cluster, generation, now);
                        walk.finished += 1;
                        updating -= 1;
                    }
                    if !failing {
                        continue;
                    }
                }
            }
        }
        // SD-39: a binding deleted by hand and re-created is being given its snapshot back
        // (`restore`), not taken by another run.
        let preempted = !super::restore::recreated(binding)
            && (!in_sync(binding, &step.snapshot_name, &step.applied)
                || !rollout_started(binding)
                || binding.spec.state != crate::api::placement::BindingState::Bound);
        if preempted {
            let message = format!(
                "the binding of the updating cluster `{name}` in the stage `{stage_name}` is not up-to-date with the desired status, please check the status of binding `{}` and see if there is a concurrent updateRun referencing the same placement and updating the same cluster",
                step.obs.run.key_of(&binding.name)
            );
            marks::cluster_failed(cluster, cluster_reason::FAILED, message.clone(), generation, now);
            aborts.push(abort(Category::User, message));
            continue;
        }
        let verdict = judge(binding);
        if verdict == Verdict::Succeeded {
            marks::cluster_succeeded(cluster, generation, now);
            walk.finished += 1;
            updating -= 1;
            continue;
        }
        // SD-30: past its deadline, a cluster that is not available has failed.
        let started = transition_time(&cluster.conditions, types::STARTED).unwrap_or(now);
        if let Some(deadline_ms) = rules.deadline_ms {
            let deadline = started + jiff::SignedDuration::from_millis(deadline_ms as i64);
            if now >= deadline {
                let detail = match &verdict {
                    Verdict::Failed(detail) => format!("; last failure: {detail}"),
                    _ => String::new(),
                };
                let message = format!(
                    "cluster `{name}` did not become available within the stage's progressDeadline {} (started at {}){detail}",
                    super::arith::format_go_duration(deadline_ms),
                    started.round(jiff::Unit::Second).unwrap_or(started)
                );
                marks::cluster_failed(cluster, cluster_reason::DEADLINE_EXCEEDED, message, generation, now);
                failed.push(name);
                walk.finished += 1;
                updating -= 1;
                continue;
            }
            let left: Duration = deadline.duration_since(now).try_into().unwrap_or_default();
            walk.next_deadline = Some(walk.next_deadline.map_or(left, |d| d.min(left)));
        }
        match verdict {
            // SD-29: with a budget, a failure to apply fails the cluster at once.
            Verdict::Failed(detail)
                if rules.budget.is_some() && apply_failed(binding) && failure_is_fresh(cluster, binding) =>
            {
                let message = format!("cluster `{name}` failed in stage `{stage_name}`: {detail}");
                marks::cluster_failed(cluster, cluster_reason::FAILED, message, generation, now);
                failed.push(name);
                walk.finished += 1;
                updating -= 1;
            }
            Verdict::Failed(detail) => {
                walk.retry.push(format!(
                    "the cluster updating encountered an error at stage `{stage_name}`, updateRun := `{}`: cluster `{name}`: {detail}",
                    step.obs.run.name
                ));
                if step.is_stuck(cluster) {
                    walk.stuck.push(name);
                }
            }
            _ => {
                if step.is_stuck(cluster) {
                    walk.stuck.push(name);
                }
            }
        }
    }
    if stage_started_now {
        stage_started(stage_status, generation, now);
    }
    let allowed = rules.budget.unwrap_or(0);
    if failed.len() > allowed {
        aborts.push(if rules.budget.is_none() && rules.deadline_ms.is_none() {
            abort(
                Category::Plain,
                format!("the cluster `{}` in the stage {stage_name} has failed", failed[0]),
            )
        } else {
            walk.budget_exceeded = true;
            abort(
                Category::Plain,
                format!(
                    "{} of the {} clusters in stage `{stage_name}` failed, more than its failure budget maxFailures {} allows: {}",
                    failed.len(),
                    walk.total,
                    describe_budget(rules.max_failures, allowed, walk.total),
                    name_list(&failed)
                ),
            )
        });
    }
    if !aborts.is_empty() {
        let texts: Vec<String> = aborts.into_iter().map(abort_text).collect();
        walk.abort = Some(if texts.len() == 1 {
            texts.into_iter().next().unwrap_or_default()
        } else {
            format!("[{}]", texts.join(", "))
        });
    }
    walk
}

/// A failure a retried cluster's binding reported before the retry is not counted again: the run
/// waits for a new report, the cluster's availability or its deadline (SD-31).
fn failure_is_fresh(cluster: &ClusterUpdatingStatus, binding: &BindingView) -> bool {
    let retried = find(&cluster.conditions, types::STARTED).is_some_and(|c| c.message == msg::CLUSTER_RETRIED);
    if !retried {
        return true;
    }
    let started = transition_time(&cluster.conditions, types::STARTED);
    let reported = binding
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status == "False")
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .max();
    matches!((started, reported), (Some(s), Some(r)) if r > s)
}

/// Starts one cluster: returns whether it is already done (its binding was already delivered
/// and is Available), or a retriable error when its binding reports a failure.
fn start_cluster(step: &mut Step, binding: &BindingView, stage_name: &str) -> Result<bool, String> {
    let bound = binding.spec.state == crate::api::placement::BindingState::Bound;
    let target = (!in_sync(binding, &step.snapshot_name, &step.applied)).then(|| BindingTarget {
        resource_snapshot_name: step.snapshot_name.clone(),
        apply_strategy: step.applied.clone(),
    });
    if target.is_some() || !bound || !rollout_started(binding) {
        step.actions.push(Action::StartBinding {
            binding: binding.name.clone(),
            target,
            message: step.rollout_message(),
        });
        return Ok(false);
    }
    match judge(binding) {
        Verdict::Succeeded => Ok(true),
        Verdict::Updating => Ok(false),
        Verdict::Failed(detail) => Err(format!(
            "the cluster updating encountered an error at stage `{stage_name}`, updateRun := `{}`: cluster `{}`: {detail}",
            step.obs.run.name, binding.spec.target_cluster
        )),
    }
}

/// §3.11: every cluster succeeded; evaluate the after-stage tasks in parallel.
fn complete_stage(
    step: &mut Step,
    stage_status: &mut StageUpdatingStatus,
    config: &StageConfig,
    index: usize,
    run_conditions: &mut Option<Vec<crate::api::condition::Condition>>,
) -> StepEnd {
    let (generation, now) = (step.generation, step.now);
    let stage_name = stage_status.stage_name.clone();
    set(
        &mut stage_status.conditions,
        types::PROGRESSING,
        Status::False,
        stage::WAITING,
        msg::STAGE_WAITING_AFTER,
        generation,
        now,
    );
    let mut all_done = true;
    let mut next_wait: Option<Duration> = None;
    let configs = config.after_stage_tasks.clone().unwrap_or_default();
    for (i, task_status) in stage_status.after_stage_task_status.iter_mut().flatten().enumerate() {
        match task_status.type_ {
            StageTaskType::TimedWait => {
                if is_true_for(&task_status.conditions, types::WAIT_TIME_ELAPSED, generation) {
                    continue;
                }
                let wait_ms = configs
                    .get(i)
                    .and_then(|c| c.wait_time.as_deref())
                    .and_then(|w| parse_wait_time(w).ok())
                    .unwrap_or(0);
                // The wait starts the first time the stage is found complete (this pass, normally
                // the one in which its last cluster succeeded); see `resume_timed_waits` for stops.
                let started = transition_time(&task_status.conditions, types::WAIT_TIME_ELAPSED).unwrap_or(now);
                let deadline = started + jiff::SignedDuration::from_millis(wait_ms as i64);
                if now >= deadline {
                    set(
                        &mut task_status.conditions,
                        types::WAIT_TIME_ELAPSED,
                        Status::True,
                        task::WAIT_TIME_ELAPSED,
                        msg::WAIT_TIME_ELAPSED,
                        generation,
                        now,
                    );
                    continue;
                }
                all_done = false;
                let left: Duration = deadline.duration_since(now).try_into().unwrap_or_default();
                // SD-16: keep the start as the condition's transition time; say when it ends.
                let message = format!(
                    "Waiting {} after the stage's clusters finished; the wait ends at {}",
                    super::arith::format_go_duration(wait_ms),
                    deadline.round(jiff::Unit::Second).unwrap_or(deadline)
                );
                set(
                    &mut task_status.conditions,
                    types::WAIT_TIME_ELAPSED,
                    Status::False,
                    task::WAIT_TIME_PENDING,
                    message,
                    generation,
                    started,
                );
                next_wait = Some(next_wait.map_or(left, |w: Duration| w.min(left)));
            }
            StageTaskType::Approval => {
                match process_approval(
                    step.obs,
                    &stage_name,
                    TaskPosition::After,
                    task_status,
                    now,
                    &mut step.actions,
                ) {
                    Ok(true) => {}
                    Ok(false) => all_done = false,
                    Err(failure) => return failure_end(index, failure),
                }
            }
        }
    }
    if all_done {
        set(
            run_conditions,
            types::PROGRESSING,
            Status::True,
            step.obs.profile.run_progressing_reason(),
            msg::RUN_PROGRESSING,
            generation,
            now,
        );
        stage_succeeded(stage_status, generation, now);
        return StepEnd::Continue(Next::After(Duration::ZERO));
    }
    let message = format!("The updateRun is waiting for after-stage tasks in stage {stage_name} to complete");
    set(
        run_conditions,
        types::PROGRESSING,
        Status::False,
        run::WAITING,
        message,
        generation,
        now,
    );
    StepEnd::Continue(Next::After(next_wait.map_or(APPROVAL_POLL, |w| w.min(APPROVAL_POLL))))
}

/// SD-15: on resume, a pending TimedWait keeps the time it had already waited before the stop.
fn resume_timed_waits(stage_status: &mut StageUpdatingStatus, now: Timestamp) {
    let Some(stopped_at) = transition_time(&stage_status.conditions, types::PROGRESSING) else {
        return;
    };
    for task_status in stage_status.after_stage_task_status.iter_mut().flatten() {
        let Some(cond) = task_status
            .conditions
            .iter_mut()
            .flatten()
            .find(|c| c.type_ == types::WAIT_TIME_ELAPSED && c.status == "False")
        else {
            continue;
        };
        let Some(started) = cond.last_transition_time.as_ref().map(|t| t.0) else {
            continue;
        };
        let waited = stopped_at.duration_since(started);
        cond.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now - waited));
    }
}

/// §3.13: delete the bindings of clusters that left; the run finishes when none is left.
pub fn run_deletion_stage(step: &mut Step, status: &mut UpdateRunStatus) -> StepEnd {
    let (generation, now) = (step.generation, step.now);
    let Some(deletion) = status.deletion_stage_status.as_mut() else {
        return StepEnd::Aborted(None, "deletion stage status missing".into());
    };
    stage_started(deletion, generation, now);
    let had_bindings = !step.plan.to_delete.is_empty();
    for binding in &step.plan.to_delete {
        let name = &binding.spec.target_cluster;
        let Some(cluster) = deletion.clusters.iter_mut().find(|c| &c.cluster_name == name) else {
            return StepEnd::Aborted(
                None,
                abort_text(abort(
                    Category::Internal,
                    format!("the cluster `{name}` to be deleted is not in the delete stage"),
                )),
            );
        };
        if let Err(message) = check_deleting_cluster(cluster, binding, generation) {
            return StepEnd::Aborted(None, message);
        }
        if !is_true_for(&cluster.conditions, types::STARTED, generation) {
            step.actions.push(Action::DeleteBinding {
                binding: binding.name.clone(),
            });
            marks::cluster_started(cluster, generation, now);
        }
    }
    settle_deleted_clusters(deletion, &step.plan.to_delete, generation, now);
    if had_bindings {
        return StepEnd::Continue(Next::After(CLUSTER_POLL));
    }
    stage_succeeded(deletion, generation, now);
    StepEnd::Finished
}

/// §3.13 step 2 consistency checks for one to-be-deleted binding.
pub fn check_deleting_cluster(
    cluster: &ClusterUpdatingStatus,
    binding: &BindingView,
    generation: i64,
) -> Result<(), String> {
    let name = &cluster.cluster_name;
    if is_true_for(&cluster.conditions, types::SUCCEEDED, generation) {
        return Err(abort_text(abort(
            Category::Internal,
            format!("the deleted cluster `{name}` in the deleting stage still has a binding"),
        )));
    }
    if is_true_for(&cluster.conditions, types::STARTED, generation) && !binding.deleting {
        return Err(abort_text(abort(
            Category::Internal,
            format!(
                "the cluster `{name}` in the deleting stage is marked as deleting but its corresponding binding is not deleting"
            ),
        )));
    }
    Ok(())
}

/// Deletion-stage clusters whose binding is gone are done.
pub fn settle_deleted_clusters(
    deletion: &mut StageUpdatingStatus,
    remaining: &[&BindingView],
    generation: i64,
    now: Timestamp,
) {
    for cluster in deletion.clusters.iter_mut() {
        if remaining.iter().any(|b| b.spec.target_cluster == cluster.cluster_name) {
            continue;
        }
        if !is_true_for(&cluster.conditions, types::STARTED, generation) {
            marks::cluster_started(cluster, generation, now);
        }
        marks::cluster_succeeded(cluster, generation, now);
    }
}
