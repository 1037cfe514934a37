//! Stagehand: a Kubernetes hub controller manager, API-compatible with KubeFleet, that rolls
//! changes out to a fleet of member clusters stage by stage and rolls them back.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod conditions;
pub mod controllers;
pub mod fleetsim;
pub mod hub;
pub mod member;
pub mod ops;
pub mod plugin;
