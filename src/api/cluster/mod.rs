//! `cluster.kubernetes-fleet.io/v1beta1`: member clusters.

mod agent_report;
mod member_cluster;

pub use agent_report::{report_joined, report_left};
pub use member_cluster::*;
