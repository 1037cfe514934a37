//! The rollout controller (`placement-pipeline.md` §9): for placements with the default
//! `RollingUpdate` strategy, binds the scheduled clusters and moves bound clusters to the latest
//! resource snapshot a few at a time (`maxUnavailable`, `maxSurge`, `unavailablePeriodSeconds`).
//! For `External` placements it does nothing: staged update runs own their bindings.
//!
//! `plan` is one pure pass; `wiring` runs it against the API server.

pub mod plan;
pub mod wiring;
