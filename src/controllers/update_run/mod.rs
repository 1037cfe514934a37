//! The staged update run controller, one implementation for `ClusterStagedUpdateRun` and
//! `StagedUpdateRun` (spec: `staged-updates.md` §2–§6 with `decisions.md`).
//!
//! Each pass: **observe** (read the run's placement, policy snapshots, bindings, member clusters,
//! strategy, resource snapshots and approval requests from the API server; take `now` once) →
//! **decide** (pure state machine, [`decide::decide`]) → **act** (create/accept approvals, bind or
//! delete bindings, finalizer; all idempotent) → **record** (write the status once if it changed,
//! publish Events for transitions, emit metrics). If an action fails, the status is not written and
//! the pass is retried with back-off; the next pass recomputes the same decision.
//!
//! SD-17: besides its own spec changes, the run is woken by its placement, that placement's
//! bindings and policy snapshots, member clusters and its approval requests, so it advances as soon
//! as a binding becomes Available. Requeues are a safety net and the timer for TimedWait.

mod act;
pub mod decide;
mod kinds;
mod observe;
pub mod reasons;
pub mod report;
mod wiring;

pub use wiring::run_controllers;

/// Controller names (also the Event reporters), as upstream names them.
pub const CLUSTER_CONTROLLER: &str = "clusterstagedupdaterun-controller";
/// Controller name of the namespaced twin.
pub const NAMESPACED_CONTROLLER: &str = "stagedupdaterun-controller";
