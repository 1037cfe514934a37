//! The invariants of a staged rollout, checked from the members' side over a record (what each
//! member was asked to apply and when): the crash and fault matrix (issue 19) and the fleet-scale
//! scenario judge runs by them, not by what the hub says about itself.
//!
//! For one run, over the entries of its placement between its start and its end:
//! - every cluster of its stages got the run's index exactly once (not twice, not skipped);
//! - no cluster got another index of that placement (no stale snapshot; a rollback run applies
//!   nothing but its index);
//! - a stage started only after the stage before it finished and that stage's after-tasks
//!   passed;
//! - at no instant were more clusters of a stage applying (seen, not yet reported) than its
//!   `maxConcurrency` allows;
//! - the clusters of the deletion stage had the placement's Works removed and got nothing new;
//! - no cluster started while the run was stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::record::{Entry, Step};

/// One stage as the run should have rolled it out.
#[derive(Clone, Debug, Default)]
pub struct StageExpectation {
    /// Stage name (for messages).
    pub name: String,
    /// Its clusters.
    pub clusters: BTreeSet<String>,
    /// Clusters it may have applying at once (`maxConcurrency` resolved against the stage size).
    pub max_concurrency: usize,
    /// When the gates before it opened (the previous stage's after-tasks, its own before-tasks),
    /// in ms since the epoch: no cluster of the stage may start earlier.
    pub gate_ms: Option<i64>,
}

/// One run as it should have happened.
#[derive(Clone, Debug, Default)]
pub struct RunExpectation {
    /// Run name (for messages).
    pub run: String,
    /// Placement the run rolls out (`kubernetes-fleet.io/parent-CRP` of its Works).
    pub placement: String,
    /// Resource snapshot index the run rolls out.
    pub index: String,
    /// Stages in order.
    pub stages: Vec<StageExpectation>,
    /// Clusters of the deletion stage.
    pub deleted: BTreeSet<String>,
    /// The run's life, in ms since the epoch: entries outside it belong to other runs.
    pub from_ms: i64,
    /// See `from_ms`.
    pub to_ms: i64,
    /// Spans (ms since the epoch) in which the run was stopped: no cluster may start in them.
    pub stopped: Vec<(i64, i64)>,
}

/// What went wrong in one run, by invariant. Empty when the run was correct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations {
    /// Clusters that got the run's index more than once, with how often.
    pub updated_twice: Vec<(String, usize)>,
    /// Clusters of the run's stages that never got its index.
    pub skipped: Vec<String>,
    /// Clusters that got an index other than the run's, with that index.
    pub stale: Vec<(String, String)>,
    /// Stages that started too early, with why.
    pub out_of_order: Vec<String>,
    /// Stages that had too many clusters applying at once: (stage, most, allowed).
    pub over_concurrency: Vec<(String, usize, usize)>,
    /// Deletion-stage clusters whose Works were not removed, or that got something new.
    pub deletion: Vec<String>,
    /// Clusters started while the run was stopped, with when.
    pub while_stopped: Vec<(String, i64)>,
}

impl Violations {
    /// Whether every invariant held.
    pub fn is_empty(&self) -> bool {
        *self == Violations::default()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "no violation");
        }
        let mut parts = Vec::new();
        if !self.updated_twice.is_empty() {
            parts.push(format!("updated more than once: {:?}", self.updated_twice));
        }
        if !self.skipped.is_empty() {
            parts.push(format!("skipped: {:?}", self.skipped));
        }
        if !self.stale.is_empty() {
            parts.push(format!("got another index: {:?}", self.stale));
        }
        if !self.out_of_order.is_empty() {
            parts.push(format!("out of stage order: {:?}", self.out_of_order));
        }
        if !self.over_concurrency.is_empty() {
            parts.push(format!(
                "over maxConcurrency (stage, most, allowed): {:?}",
                self.over_concurrency
            ));
        }
        if !self.deletion.is_empty() {
            parts.push(format!("deletion stage: {:?}", self.deletion));
        }
        if !self.while_stopped.is_empty() {
            parts.push(format!("started while stopped: {:?}", self.while_stopped));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Checks one run against the record.
pub fn check(entries: &[Entry], run: &RunExpectation) -> Violations {
    let mine: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.placement == run.placement && e.at_ms >= run.from_ms && e.at_ms <= run.to_ms)
        .collect();
    let mut out = Violations::default();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for e in mine.iter().filter(|e| e.step == Step::Seen) {
        if e.index == run.index {
            *seen.entry(&e.cluster).or_default() += 1;
        } else {
            out.stale.push((e.cluster.clone(), e.index.clone()));
        }
    }
    out.updated_twice = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(c, n)| (c.to_string(), *n))
        .collect();
    out.skipped = run
        .stages
        .iter()
        .flat_map(|s| &s.clusters)
        .filter(|c| !seen.contains_key(c.as_str()))
        .cloned()
        .collect();
    let mut previous_end: Option<(&str, i64)> = None;
    for stage in &run.stages {
        let ours: Vec<&&Entry> = mine
            .iter()
            .filter(|e| e.index == run.index && stage.clusters.contains(&e.cluster))
            .collect();
        let first_seen = ours.iter().filter(|e| e.step == Step::Seen).map(|e| e.at_ms).min();
        if let (Some(start), Some((before, end))) = (first_seen, previous_end)
            && start < end
        {
            out.out_of_order.push(format!(
                "stage `{}` started at {start} before stage `{before}` finished at {end}",
                stage.name
            ));
        }
        if let (Some(start), Some(gate)) = (first_seen, stage.gate_ms)
            && start < gate
        {
            out.out_of_order.push(format!(
                "stage `{}` started at {start} before its gate opened at {gate}",
                stage.name
            ));
        }
        let most = most_at_once(&ours);
        if most > stage.max_concurrency {
            out.over_concurrency
                .push((stage.name.clone(), most, stage.max_concurrency));
        }
        let last_reported = ours.iter().filter(|e| e.step == Step::Reported).map(|e| e.at_ms).max();
        if let Some(end) = last_reported {
            previous_end = Some((&stage.name, end));
        }
    }
    out.while_stopped = mine
        .iter()
        .filter(|e| e.step == Step::Seen)
        .filter(|e| run.stopped.iter().any(|(from, to)| e.at_ms > *from && e.at_ms < *to))
        .map(|e| (e.cluster.clone(), e.at_ms))
        .collect();
    for cluster in &run.deleted {
        let removed = mine.iter().any(|e| &e.cluster == cluster && e.step == Step::Removed);
        let got = mine.iter().any(|e| &e.cluster == cluster && e.step == Step::Seen);
        if !removed {
            out.deletion.push(format!("`{cluster}` kept the placement's Works"));
        }
        if got {
            out.deletion.push(format!("`{cluster}` was given something to apply"));
        }
    }
    out
}

/// The most clusters applying at once: a cluster applies from its first `seen` to its last
/// `reported` (a report at the same instant as a start counts first: the hub starts the next
/// cluster after it).
fn most_at_once(entries: &[&&Entry]) -> usize {
    let mut windows: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for e in entries {
        let window = windows.entry(&e.cluster).or_insert((i64::MAX, i64::MIN));
        match e.step {
            Step::Seen => window.0 = window.0.min(e.at_ms),
            Step::Reported => window.1 = window.1.max(e.at_ms),
            Step::Removed => {}
        }
    }
    let mut timeline: Vec<(i64, i32)> = Vec::new();
    for (start, end) in windows.values() {
        if *start == i64::MAX {
            continue;
        }
        timeline.push((*start, 1));
        // Never reported: applying until the end of the record.
        timeline.push((if *end == i64::MIN { i64::MAX } else { *end }, -1));
    }
    timeline.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in timeline {
        now += delta;
        most = most.max(now);
    }
    most as usize
}

/// Figures over many runs, for the matrix's table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Runs checked.
    pub runs: usize,
    /// Runs with no violation.
    pub correct: usize,
    /// Clusters updated more than once, over all runs.
    pub updated_twice: usize,
    /// Clusters skipped, over all runs.
    pub skipped: usize,
    /// Clusters given a stale index, over all runs.
    pub stale: usize,
    /// Stages started out of order, over all runs.
    pub out_of_order: usize,
    /// Stages over `maxConcurrency`, over all runs.
    pub over_concurrency: usize,
    /// Deletion-stage problems, over all runs.
    pub deletion: usize,
    /// Clusters started while their run was stopped, over all runs.
    pub while_stopped: usize,
}

impl Tally {
    /// Adds one run's result.
    pub fn add(&mut self, v: &Violations) {
        self.runs += 1;
        self.correct += usize::from(v.is_empty());
        self.updated_twice += v.updated_twice.len();
        self.skipped += v.skipped.len();
        self.stale += v.stale.len();
        self.out_of_order += v.out_of_order.len();
        self.over_concurrency += v.over_concurrency.len();
        self.deletion += v.deletion.len();
        self.while_stopped += v.while_stopped.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(at_ms: i64, cluster: &str, step: Step, index: &str) -> Entry {
        Entry {
            at_ms,
            cluster: cluster.into(),
            step,
            work: format!("p-work-{cluster}"),
            placement: "p".into(),
            index: index.into(),
            generation: 1,
            outcome: None,
        }
    }

    fn two_stages() -> RunExpectation {
        RunExpectation {
            run: "r".into(),
            placement: "p".into(),
            index: "1".into(),
            stages: vec![
                StageExpectation {
                    name: "a".into(),
                    clusters: ["a1", "a2"].map(String::from).into(),
                    max_concurrency: 1,
                    gate_ms: None,
                },
                StageExpectation {
                    name: "b".into(),
                    clusters: ["b1"].map(String::from).into(),
                    max_concurrency: 1,
                    gate_ms: Some(50),
                },
            ],
            deleted: ["gone"].map(String::from).into(),
            from_ms: 0,
            to_ms: 1000,
            stopped: vec![],
        }
    }

    fn good() -> Vec<Entry> {
        vec![
            e(10, "a1", Step::Seen, "1"),
            e(20, "a1", Step::Reported, "1"),
            e(20, "a2", Step::Seen, "1"),
            e(30, "a2", Step::Reported, "1"),
            e(60, "b1", Step::Seen, "1"),
            e(70, "b1", Step::Reported, "1"),
            e(80, "gone", Step::Removed, "0"),
        ]
    }

    #[test]
    fn a_correct_run_has_no_violation() {
        let v = check(&good(), &two_stages());
        assert!(v.is_empty(), "{v}");
    }

    #[test]
    fn each_broken_invariant_is_named() {
        let run = two_stages();
        let mut twice = good();
        twice.push(e(75, "b1", Step::Seen, "1"));
        assert_eq!(check(&twice, &run).updated_twice, vec![("b1".to_string(), 2)]);

        let skipped: Vec<Entry> = good().into_iter().filter(|x| x.cluster != "a2").collect();
        assert_eq!(check(&skipped, &run).skipped, vec!["a2".to_string()]);

        let mut stale = good();
        stale.push(e(65, "b1", Step::Seen, "0"));
        assert_eq!(check(&stale, &run).stale, vec![("b1".to_string(), "0".to_string())]);

        let mut early = good();
        early[4].at_ms = 25;
        let v = check(&early, &run);
        assert_eq!(v.out_of_order.len(), 2, "{v}");

        let mut crowded = good();
        crowded[2].at_ms = 15;
        assert_eq!(check(&crowded, &run).over_concurrency, vec![("a".to_string(), 2, 1)]);

        let kept: Vec<Entry> = good().into_iter().filter(|x| x.step != Step::Removed).collect();
        assert_eq!(check(&kept, &run).deletion.len(), 1);

        let mut paused = run.clone();
        paused.stopped = vec![(40, 65)];
        assert_eq!(check(&good(), &paused).while_stopped, vec![("b1".to_string(), 60)]);
    }

    #[test]
    fn entries_outside_the_run_or_of_other_placements_do_not_count() {
        let run = two_stages();
        let mut entries = good();
        entries.push(e(2000, "a1", Step::Seen, "1"));
        let mut other = e(40, "a1", Step::Seen, "7");
        other.placement = "q".into();
        entries.push(other);
        assert!(check(&entries, &run).is_empty());
    }

    #[test]
    fn the_tally_counts_correct_runs_and_each_kind_of_violation() {
        let run = two_stages();
        let mut tally = Tally::default();
        tally.add(&check(&good(), &run));
        let mut twice = good();
        twice.push(e(75, "b1", Step::Seen, "1"));
        tally.add(&check(&twice, &run));
        assert_eq!((tally.runs, tally.correct, tally.updated_twice), (2, 1, 1));
    }
}
