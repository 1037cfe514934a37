//! Integration tests against real kube-apiservers started from `tools/testcp`.
//! One test binary (link time on 2 cores); see `harness` for how clusters are shared.

mod admission;
mod bad_input_catalogue;
mod chaos;
mod chart_rbac;
mod compat;
mod control_plane;
mod crds;
mod delivery;
mod fleet_scale;
mod harness;
mod hub;
mod pipeline;
mod placements;
mod plugin;
mod run_control;
mod seeds;
mod update_runs;
