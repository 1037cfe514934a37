//! The placement pipeline's building blocks (`placement-pipeline.md` §4–§5, SD-5): what a
//! placement's selected resources look like once sanitised, their stable order and hash, and the
//! plan for the placement's resource snapshot groups.
//!
//! These are pure functions; the controller that observes placements and hub resources and acts
//! on these plans is not part of `stagehand hub` yet (see the README's status table).

pub mod cache;
pub mod catalog;
pub mod controller;
pub mod policy_snapshot;
pub mod resources;
pub mod select;
pub mod snapshot_plan;
pub mod status;
