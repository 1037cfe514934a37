//! The hub's controllers.

pub mod update_run;
