//! The KubeFleet APIs Stagehand serves, as Rust types. Types only: serde and schema, no client
//! calls. [`all_crds`] is the one list of CRDs used by `stagehand crdgen`, the tests and the dev
//! setup.

// kube's `#[kube(printcolumn(type_ = "string", ...), printcolumn(type_ = "string", ...))]` repeats
// keys in separate column groups, which this lint takes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Declares the spec structs of twin kinds (cluster-scoped and namespaced) of
/// `placement.kubernetes-fleet.io/v1beta1`, categories `fleet` and `fleet-placement`. Each struct
/// derives `CustomResource`, serde (camelCase) and `JsonSchema`. What the twins share is written
/// once: extra outer attributes (`attrs`), further `#[kube(...)]` arguments (`kube`, each ending
/// with a comma) and fields (`fields`). Each kind adds its doc and attributes, its own `#[kube]`
/// arguments in `[...]` and extra fields in `{...}`.
macro_rules! twin_kinds {
    (attrs: $attrs:tt, kube: $kube:tt, fields: $fields:tt, kinds: { $( $(#[$meta:meta])* $name:ident $own:tt $extra:tt )+ } $(,)?) => {
        $( twin_kinds!(@one $attrs $kube $fields [$(#[$meta])*] $name $own $extra); )+
    };
    (@one { $($attrs:tt)* } { $($kube:tt)* } { $($fields:tt)* } [$($meta:tt)*] $name:ident [ $($own:tt)* ] { $($extra:tt)* }) => {
        #[derive(kube::CustomResource, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        $($attrs)*
        $($meta)*
        #[kube(
            group = "placement.kubernetes-fleet.io",
            version = "v1beta1",
            category = "fleet",
            category = "fleet-placement",
            $($kube)*
            $($own)*
        )]
        pub struct $name { $($fields)* $($extra)* }
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
    let crds = vec![
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
    ];
    crds.into_iter().map(reflow_descriptions).collect()
}

/// Joins the lines of each paragraph of every schema description: doc comments wrap at 100
/// columns, and `kubectl explain` wraps again, so kept line breaks land mid-sentence.
fn reflow_descriptions(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match child {
                        serde_json::Value::String(text) if key == "description" => *text = reflow(text),
                        _ => walk(child),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    fn reflow(text: &str) -> String {
        text.split("\n\n")
            .map(|paragraph| paragraph.lines().map(str::trim).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n")
    }
    let mut value = match serde_json::to_value(&crd) {
        Ok(value) => value,
        Err(_) => return crd,
    };
    walk(&mut value);
    serde_json::from_value(value).unwrap_or(crd)
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `crds/` holds exactly what the Rust types generate.
    #[test]
    fn crds_are_up_to_date() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        let mut expected: Vec<String> = Vec::new();
        for crd in all_crds() {
            let file = crd_file_name(&crd);
            expected.push(file.clone());
            let on_disk = std::fs::read_to_string(dir.join(&file)).unwrap_or_default();
            let generated = crd_yaml(&crd).expect("CRD renders as YAML");
            assert!(on_disk == generated, "crds/{file} is stale or missing: run `make crds`");
        }
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .expect("crds/ exists")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(present, expected, "crds/ has files no type generates: run `make crds`");
    }

    #[test]
    fn every_crd_has_a_description_on_every_spec_field() {
        fn check(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (name, prop) in props {
                    let here = format!("{path}.{name}");
                    let embedded = prop.get("x-kubernetes-embedded-resource").is_some();
                    if prop.get("description").is_none() && !matches!(name.as_str(), "metadata" | "apiVersion" | "kind")
                    {
                        missing.push(here.clone());
                    }
                    if !embedded {
                        check(&here, prop, missing);
                    }
                }
            }
            if let Some(items) = schema.get("items") {
                check(&format!("{path}[]"), items, missing);
            }
        }
        let mut missing = Vec::new();
        for crd in all_crds() {
            for version in &crd.spec.versions {
                let schema = serde_json::to_value(&version.schema).expect("schema as JSON");
                check(&crd.spec.names.kind, &schema["openAPIV3Schema"], &mut missing);
            }
        }
        assert!(
            missing.is_empty(),
            "fields without a description (kubectl explain shows nothing): {missing:#?}"
        );
    }
}
