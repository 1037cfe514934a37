//! How hard the hub's controllers work: set once from `stagehand hub`'s flags (chart values
//! `controllers.*`) before any controller starts, read by every controller when it is built.

use std::sync::OnceLock;

use kube::runtime::controller::Config;

use crate::controllers::update_run::decide::compact::DEFAULT_INLINE_LIMIT;

/// The hub's controller settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Reconciles each controller runs at once (`--concurrent-reconciles`; 0 means no bound).
    pub concurrent_reconciles: u16,
    /// Runs over more clusters than this keep a compact status (`--run-status-inline-limit`,
    /// SD-22).
    pub run_status_inline_limit: usize,
    /// Placements over more clusters than this keep a compact status
    /// (`--placement-status-inline-limit`, SD-23).
    pub placement_status_inline_limit: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            concurrent_reconciles: DEFAULT_CONCURRENT_RECONCILES,
            run_status_inline_limit: DEFAULT_INLINE_LIMIT,
            placement_status_inline_limit: DEFAULT_PLACEMENT_INLINE_LIMIT,
        }
    }
}

/// Default of `--concurrent-reconciles`: upstream's hub agent runs up to 100 placement
/// reconciles at once (`MaxConcurrentClusterPlacement`).
pub const DEFAULT_CONCURRENT_RECONCILES: u16 = 100;

/// Default of `--placement-status-inline-limit`: a cluster's entry in a placement's status takes
/// about 1.4 KB, so 300 of them stay under 512 KiB.
pub const DEFAULT_PLACEMENT_INLINE_LIMIT: usize = 300;

static TUNING: OnceLock<Tuning> = OnceLock::new();

/// Sets the settings; the first call wins (the hub calls it once, at start-up).
pub fn set(tuning: Tuning) {
    let _ = TUNING.set(tuning);
}

/// The settings, or the defaults when none were set (tests that start controllers directly).
pub fn get() -> Tuning {
    TUNING.get().copied().unwrap_or_default()
}

/// The kube-runtime controller configuration every hub controller uses.
pub fn controller_config() -> Config {
    Config::default().concurrency(get().concurrent_reconciles)
}
