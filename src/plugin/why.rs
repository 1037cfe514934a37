//! `kubectl stagehand why`: the one thing that blocks a run now, in one sentence, and the command
//! that unblocks it when there is one. Pure over the run's report and what the bindings of its
//! updating clusters say.

use super::report::{ClusterState, Phase, RunReport};

/// The sentence for `report`; `ns` is the ` -n NS` of suggested commands; `problems` are the
/// updating clusters whose bindings report something, with what they report.
pub fn sentence(report: &RunReport, ns: &str, problems: &[(String, String)]) -> String {
    let run = &report.name;
    match report.phase {
        Phase::Succeeded => return format!("Nothing blocks {run}: it succeeded."),
        Phase::Aborted => return format!("{run} was aborted and cannot go on; start a new run."),
        Phase::Failed => {
            let retry = report.message.contains("failure budget") || report.stages.iter().any(|s| s.state == "failed");
            let hint = if retry {
                format!(" Fix the failed clusters, then retry them: kubectl stagehand retry {run}{ns}")
            } else {
                " Start a new run.".to_string()
            };
            return format!("{run} failed: {}.{hint}", report.message.trim_end_matches('.'));
        }
        Phase::InitializationFailed => {
            return format!(
                "{run} could not initialize: {}. Fix it and create a new run.",
                report.message.trim_end_matches('.')
            );
        }
        Phase::Pending | Phase::Initializing => {
            return format!(
                "{run} is initializing: {}",
                if report.message.is_empty() {
                    "it has not been picked up yet"
                } else {
                    &report.message
                }
            );
        }
        Phase::Initialized => {
            return format!(
                "{run} is initialized but not started (state Initialize). Start it: kubectl stagehand resume {run}{ns}"
            );
        }
        Phase::Stopped | Phase::Stopping => {
            return format!("{run} is stopped. Resume it: kubectl stagehand resume {run}{ns}");
        }
        Phase::Running | Phase::Waiting | Phase::Stuck => {}
    }
    for stage in &report.stages {
        if matches!(stage.state, "succeeded" | "skipped") {
            continue;
        }
        for task in &stage.tasks {
            match (task.type_, task.state) {
                ("Approval", "pending") => {
                    let position = if task.position == "before" {
                        "--before"
                    } else {
                        "--after"
                    };
                    return format!(
                        "{run} waits for the {}-stage approval of stage {}. Approve it: kubectl stagehand approve {run} {} {position}{ns}",
                        task.position, stage.name, stage.name
                    );
                }
                ("TimedWait", "pending") => {
                    return format!(
                        "{run} waits {} s more: the TimedWait after stage {} ends then.",
                        task.seconds_left.unwrap_or(0),
                        stage.name
                    );
                }
                _ => {}
            }
        }
        if let Some((cluster, problem)) = problems.first() {
            return format!(
                "{run} waits for cluster {cluster} in stage {}, which is not available: {problem}. Fix it on {cluster}, or skip it: kubectl stagehand skip {run} --cluster {cluster}{ns}",
                stage.name
            );
        }
        let updating: Vec<&str> = stage
            .clusters
            .iter()
            .filter(|c| c.state == ClusterState::Updating)
            .map(|c| c.name.as_str())
            .collect();
        if !updating.is_empty() {
            return format!(
                "{run} waits for {} in stage {} to become available.",
                updating.join(", "),
                stage.name
            );
        }
        return format!("{run} is working on stage {}.", stage.name);
    }
    format!("{run} is finishing (its deletion stage).")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::report::{ClusterReport, StageReport, Summary, TaskReport};

    fn report(phase: Phase, message: &str, stages: Vec<StageReport>) -> RunReport {
        RunReport {
            kind: "ClusterStagedUpdateRun",
            name: "example-run".into(),
            namespace: None,
            placement: "example-placement".into(),
            strategy: "example-strategy".into(),
            state: "Run".into(),
            resource_snapshot_index: Some("1".into()),
            changes: Vec::new(),
            phase,
            message: message.into(),
            stages,
            summary: Summary::default(),
        }
    }

    fn stage(name: &str, state: &'static str, clusters: Vec<ClusterReport>, tasks: Vec<TaskReport>) -> StageReport {
        StageReport {
            name: name.into(),
            state,
            clusters,
            unlisted_clusters: None,
            tasks,
        }
    }

    fn updating(name: &str) -> ClusterReport {
        ClusterReport {
            name: name.into(),
            state: ClusterState::Updating,
            detail: None,
        }
    }

    #[test]
    fn a_running_timed_wait_says_how_many_seconds_are_left() {
        let wait = TaskReport {
            position: "after",
            type_: "TimedWait",
            state: "pending",
            approval_request: None,
            seconds_left: Some(42),
        };
        let r = report(
            Phase::Waiting,
            "",
            vec![stage("staging", "waiting", vec![], vec![wait])],
        );
        assert_eq!(
            sentence(&r, "", &[]),
            "example-run waits 42 s more: the TimedWait after stage staging ends then."
        );
    }

    #[test]
    fn a_pending_approval_gives_the_approve_command() {
        let approval = TaskReport {
            position: "before",
            type_: "Approval",
            state: "pending",
            approval_request: Some("example-run-canary-before".into()),
            seconds_left: None,
        };
        let r = report(
            Phase::Waiting,
            "",
            vec![
                stage("staging", "succeeded", vec![], vec![]),
                stage("canary", "waiting", vec![], vec![approval]),
            ],
        );
        assert_eq!(
            sentence(&r, " -n ns", &[]),
            "example-run waits for the before-stage approval of stage canary. Approve it: kubectl stagehand approve example-run canary --before -n ns"
        );
    }

    #[test]
    fn a_cluster_that_is_not_available_is_named_with_what_its_work_reports() {
        let r = report(
            Phase::Running,
            "",
            vec![stage("staging", "updating", vec![updating("member2")], vec![])],
        );
        let problems = [(
            "member2".to_string(),
            "ConfigMap test-cm reports: the object is not managed by Fleet".to_string(),
        )];
        assert!(sentence(&r, "", &problems).starts_with(
            "example-run waits for cluster member2 in stage staging, which is not available: ConfigMap test-cm reports: the object is not managed by Fleet."
        ));
    }

    #[test]
    fn stopped_failed_initialization_and_finished_runs_say_so() {
        assert_eq!(
            sentence(&report(Phase::Stopped, "", vec![]), "", &[]),
            "example-run is stopped. Resume it: kubectl stagehand resume example-run"
        );
        assert_eq!(
            sentence(&report(Phase::InitializationFailed, "no strategy", vec![]), "", &[]),
            "example-run could not initialize: no strategy. Fix it and create a new run."
        );
        assert_eq!(
            sentence(&report(Phase::Succeeded, "", vec![]), "", &[]),
            "Nothing blocks example-run: it succeeded."
        );
    }
}
