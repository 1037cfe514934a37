//! What became of a cluster of a stage, the stage's failure budget, and the failed / skipped /
//! excluded numbers a run reports (SD-29, SD-32, SD-34).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::compact;
use crate::api::placement::{ClusterCounts, ClusterUpdatingStatus, StageUpdatingStatus, UpdateRunStatus};
use crate::conditions::{is_false_for, is_true_for};
use crate::controllers::update_run::reasons::types;

/// Where one cluster of a stage stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not started.
    Waiting,
    /// Started, not finished.
    Updating,
    /// Its update succeeded.
    Succeeded,
    /// Its update failed (`Succeeded=False`).
    Failed,
    /// The run left it out (`Skipped=True`).
    Skipped,
}

impl Outcome {
    /// Succeeded, failed or skipped: the run no longer waits for it.
    pub fn is_final(self) -> bool {
        matches!(self, Outcome::Succeeded | Outcome::Failed | Outcome::Skipped)
    }
}

/// Where `c` stands at the run's `generation`.
pub fn outcome(c: &ClusterUpdatingStatus, generation: i64) -> Outcome {
    if is_true_for(&c.conditions, types::SKIPPED, generation) {
        Outcome::Skipped
    } else if is_true_for(&c.conditions, types::SUCCEEDED, generation) {
        Outcome::Succeeded
    } else if is_false_for(&c.conditions, types::SUCCEEDED, generation) {
        Outcome::Failed
    } else if is_true_for(&c.conditions, types::STARTED, generation) {
        Outcome::Updating
    } else {
        Outcome::Waiting
    }
}

/// A stage's failure budget (SD-29): how many of its `total` clusters may fail. `None` when the
/// stage has no `maxFailures` (no failure is tolerated and failures are retried, as upstream).
pub fn failure_budget(max_failures: Option<&IntOrString>, total: usize) -> Result<Option<usize>, String> {
    match max_failures {
        None => Ok(None),
        Some(IntOrString::Int(n)) if *n >= 0 => Ok(Some(*n as usize)),
        Some(IntOrString::Int(n)) => Err(format!("maxFailures {n} is negative")),
        Some(IntOrString::String(text)) => {
            let percent: usize = text
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .filter(|p| *p <= 100)
                .ok_or_else(|| format!("maxFailures {text:?} is neither a number nor a percentage such as 20%"))?;
            Ok(Some(total * percent / 100))
        }
    }
}

/// How the budget reads in messages: `20% (2 of 10 clusters)` or `2`.
pub fn describe_budget(max_failures: Option<&IntOrString>, allowed: usize, total: usize) -> String {
    match max_failures {
        Some(IntOrString::String(text)) => format!("{text} ({allowed} of {total} clusters)"),
        _ => allowed.to_string(),
    }
}

/// Names in a message: all of them while the text stays short, then how many more.
pub fn name_list(names: &[String]) -> String {
    const MAX_CHARS: usize = 4000;
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if out.len() + name.len() > MAX_CHARS {
            out.push_str(&format!(" and {} more", names.len() - i));
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
    }
    out
}

/// At most this many names of excluded or unmatched clusters are listed in the status.
pub const NAMES_CAP: usize = 100;

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Recomputes each stage's and the run's failed / skipped / excluded numbers. A stage whose
/// clusters a compact status (SD-22) no longer lists keeps the numbers it had. The numbers are
/// written only once one of them is not zero, so a run without failures, skips or exclusions
/// keeps upstream's status shape.
pub fn refresh_counts(status: &mut UpdateRunStatus, unmatched_total: usize, generation: i64) {
    let mut run = ClusterCounts {
        excluded: count(unmatched_total),
        ..Default::default()
    };
    for stage in status.stages_status.iter_mut().flatten() {
        let stage_counts = stage_counts(stage, generation);
        run.failed += stage_counts.failed;
        run.skipped += stage_counts.skipped;
        run.excluded += stage_counts.excluded;
        stage.cluster_counts = nonzero(stage_counts);
    }
    status.cluster_counts = nonzero(run);
}

fn stage_counts(stage: &StageUpdatingStatus, generation: i64) -> ClusterCounts {
    let excluded = stage.cluster_counts.as_ref().map_or(0, |c| c.excluded);
    let listed_only = stage.cluster_summary.is_some() && compact::is_finished(stage, generation);
    if listed_only {
        return ClusterCounts {
            excluded,
            ..stage.cluster_counts.clone().unwrap_or_default()
        };
    }
    let tally = |wanted: Outcome| {
        count(
            stage
                .clusters
                .iter()
                .filter(|c| outcome(c, generation) == wanted)
                .count(),
        )
    };
    ClusterCounts {
        failed: tally(Outcome::Failed),
        skipped: tally(Outcome::Skipped),
        excluded,
    }
}

fn nonzero(counts: ClusterCounts) -> Option<ClusterCounts> {
    (counts != ClusterCounts::default()).then_some(counts)
}

/// Records the newcomers of a stage (SD-28): the exact number and at most [`NAMES_CAP`] names.
pub fn set_excluded(stage: &mut StageUpdatingStatus, newcomers: &[String]) {
    let counts = stage.cluster_counts.get_or_insert_with(ClusterCounts::default);
    counts.excluded = count(newcomers.len());
    stage.excluded_clusters = (!newcomers.is_empty()).then(|| newcomers.iter().take(NAMES_CAP).cloned().collect());
    if stage.cluster_counts.as_ref() == Some(&ClusterCounts::default()) {
        stage.cluster_counts = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_budget_rounds_down_and_a_number_is_taken_as_is() {
        let pct = |p: &str| IntOrString::String(p.into());
        assert_eq!(failure_budget(Some(&pct("20%")), 10), Ok(Some(2)));
        assert_eq!(failure_budget(Some(&pct("25%")), 10), Ok(Some(2)));
        assert_eq!(failure_budget(Some(&pct("0%")), 10), Ok(Some(0)));
        assert_eq!(failure_budget(Some(&IntOrString::Int(3)), 10), Ok(Some(3)));
        assert_eq!(failure_budget(None, 10), Ok(None));
        assert!(failure_budget(Some(&pct("abc")), 10).is_err());
    }

    #[test]
    fn a_name_list_names_everyone_until_it_gets_long() {
        let names: Vec<String> = (1..=25).map(|i| format!("member-{i:02}")).collect();
        let text = name_list(&names);
        assert!(names.iter().all(|n| text.contains(n.as_str())), "{text}");
        let many: Vec<String> = (1..=2000).map(|i| format!("member-{i:05}")).collect();
        let text = name_list(&many);
        assert!(text.len() < 4100);
        assert!(text.ends_with("more"), "{text}");
    }
}
