//! The hub's controllers.

pub mod placement;
pub mod update_run;
