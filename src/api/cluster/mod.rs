//! `cluster.kubernetes-fleet.io/v1beta1`: member clusters.

mod member_cluster;

pub use member_cluster::*;
