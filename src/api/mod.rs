//! The KubeFleet APIs Stagehand serves, as Rust types. Types only: serde and schema, no client
//! calls. [`all_crds`] is the one list of CRDs used by `stagehand crdgen`, the tests and the dev
//! setup.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Declares the spec structs of twin kinds (cluster-scoped and namespaced) that have the same
/// fields: the field list is written once, each struct gets its own derive and `#[kube]`
/// attributes.
macro_rules! twin_specs {
    ($body:tt; $( $(#[$meta:meta])* $name:ident; )+) => {
        $( $(#[$meta])* pub struct $name $body )+
    };
}

pub mod cluster;
pub mod condition;
pub mod labels;
pub mod placement;
pub mod schema;

use cluster::{InternalMemberCluster, MemberCluster};
use placement::*;

/// Every CRD Stagehand installs on a hub (and `AppliedWork`, which members need), in the form
/// the API server receives them.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        ClusterResourcePlacement::crd(),
        ResourcePlacement::crd(),
        also_served_as_v1(ClusterResourceSnapshot::crd()),
        ResourceSnapshot::crd(),
        ClusterSchedulingPolicySnapshot::crd(),
        SchedulingPolicySnapshot::crd(),
        ClusterResourceBinding::crd(),
        ResourceBinding::crd(),
        Work::crd(),
        AppliedWork::crd(),
        ClusterStagedUpdateStrategy::crd(),
        StagedUpdateStrategy::crd(),
        ClusterStagedUpdateRun::crd(),
        StagedUpdateRun::crd(),
        ClusterApprovalRequest::crd(),
        ApprovalRequest::crd(),
        MemberCluster::crd(),
        InternalMemberCluster::crd(),
    ]
}

/// Adds a `v1` version with the same schema to a `v1beta1` CRD (SD-9). `v1beta1` stays the
/// storage version; with conversion `None` the server converts by relabelling the apiVersion.
/// Kubernetes prefers `v1`, so `kubectl get -o yaml` prints `placement.kubernetes-fleet.io/v1`,
/// as the seed documents show for ClusterResourceSnapshot.
fn also_served_as_v1(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    if let Some(beta) = crd.spec.versions.first().cloned() {
        let mut v1 = beta;
        v1.name = "v1".into();
        v1.storage = false;
        crd.spec.versions.insert(0, v1);
    }
    crd
}

/// File name of a CRD under `crds/`: `<plural>.<group>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.clone().unwrap_or_default())
}

/// The YAML text `stagehand crdgen` writes for a CRD.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(crd, options)
}
