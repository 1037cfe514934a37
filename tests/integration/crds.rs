//! The shipped CRDs install on a real API server.

use stagehand::api::all_crds;

use crate::harness::hub;

#[test]
fn every_crd_is_established_on_a_real_api_server() {
    let hub = hub();
    println!("kube-apiserver version: {}", hub.version);
    for crd in all_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let established = hub.kubectl_ok(&[
            "get",
            "crd",
            &name,
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Established")].status}"#,
        ]);
        assert_eq!(established, "True", "CRD {name} is not Established");
    }
}

#[test]
fn served_versions_follow_sd9() {
    let hub = hub();
    let versions = |crd: &str| hub.kubectl_ok(&["get", "crd", crd, "-o", "jsonpath={.spec.versions[*].name}"]);
    assert_eq!(
        versions("clusterstagedupdateruns.placement.kubernetes-fleet.io"),
        "v1beta1"
    );
    assert_eq!(
        versions("clusterapprovalrequests.placement.kubernetes-fleet.io"),
        "v1beta1"
    );
    assert_eq!(
        versions("clusterresourcesnapshots.placement.kubernetes-fleet.io"),
        "v1 v1beta1"
    );
}

#[test]
fn short_names_and_categories_resolve() {
    let hub = hub();
    let out = hub.kubectl_ok(&[
        "api-resources",
        "--api-group=placement.kubernetes-fleet.io",
        "-o",
        "name",
    ]);
    assert!(
        out.contains("clusterstagedupdateruns.placement.kubernetes-fleet.io"),
        "{out}"
    );
    for short in ["crp", "csur", "csus", "careq", "crs", "csps", "crb"] {
        hub.kubectl_ok(&["get", short]);
    }
    let ns = crate::harness::test_namespace(hub, "shortnames");
    for short in ["rp", "sur", "sus", "areq", "rs", "sps", "rb", "imc"] {
        hub.kubectl_ok(&["get", short, "-n", &ns]);
    }
    hub.kubectl_ok(&["get", "memberclusters"]);
    hub.kubectl_ok(&["get", "fleet"]);
}

/// Our Rust types and the served schema agree: a typed object written with kube-rs reads back
/// equal, with the API server's defaults filled in.
#[tokio::test]
async fn typed_objects_round_trip_through_the_api_server() {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use kube::api::{Api, PostParams};
    use stagehand::api::placement::{
        ClusterStagedUpdateStrategy, ClusterStagedUpdateStrategySpec, StageConfig, StageTask, StageTaskType,
    };

    let client = hub().client().await;
    let api: Api<ClusterStagedUpdateStrategy> = Api::all(client);
    let name = crate::harness::unique("typed-strategy");
    let stage = StageConfig {
        name: "canary".into(),
        sorting_label_key: Some("order".into()),
        after_stage_tasks: Some(vec![StageTask {
            type_: StageTaskType::TimedWait,
            wait_time: Some("1m".into()),
        }]),
        ..Default::default()
    };
    let strategy = ClusterStagedUpdateStrategy::new(
        &name,
        ClusterStagedUpdateStrategySpec {
            stages: vec![stage.clone()],
            ..Default::default()
        },
    );
    let created = api.create(&PostParams::default(), &strategy).await.expect("create");
    let read = api.get(&name).await.expect("get");
    assert_eq!(read.spec, created.spec);
    let expected = StageConfig {
        max_concurrency: Some(IntOrString::Int(1)),
        ..stage
    };
    assert_eq!(read.spec.stages, vec![expected]);
}
