//! Run control (issue 17) against real API servers: simulated members with injected failures
//! (`simulated`) and real members joined by real agents (`real`).

mod real;
mod simulated;

/// The custom-columns view of a run's numbers that docs/staged-updates.md shows (SD-34).
pub const COUNT_COLUMNS: &str = "custom-columns=NAME:.metadata.name,FAILED:.status.clusterCounts.failed,SKIPPED:.status.clusterCounts.skipped,EXCLUDED:.status.clusterCounts.excluded";
