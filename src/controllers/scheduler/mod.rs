//! The scheduler (`placement-pipeline.md` §7): for each placement's latest scheduling policy
//! snapshot, picks member clusters (PickAll, PickN, PickFixed), keeps one binding per picked
//! cluster and reports its decisions on the policy snapshot.
//!
//! `eligibility` and `filters` judge one cluster, `cycle` is one pure scheduling pass, `wiring`
//! runs it for ClusterResourcePlacements and ResourcePlacements against the API server.

pub mod cycle;
pub mod eligibility;
pub mod filters;
pub mod wiring;
