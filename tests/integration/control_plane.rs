//! The test control plane itself: a member cluster runs Deployments to Available (controller
//! subset + pod-readiness simulator), deletes namespaces, garbage-collects by owner reference,
//! and a cluster restarted on its data directory keeps its address and its data.

use std::time::Duration;

use crate::harness::{Role, member, start, test_namespace, unique, wait_for};

#[test]
fn member_deployment_becomes_available_and_rolls_to_a_new_image() {
    let member = member();
    println!("kube-apiserver version: {}", member.version);
    let ns = test_namespace(member, "cp-deploy");
    member.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.20",
        "--replicas=2",
        "-n",
        &ns,
    ]);
    member.kubectl_ok(&["rollout", "status", "deployment/web", "-n", &ns, "--timeout=120s"]);
    let available = member.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.availableReplicas}"#,
    ]);
    assert_eq!(available, "True 2");

    member.kubectl_ok(&["set", "image", "deployment/web", "nginx=nginx:1.21", "-n", &ns]);
    member.kubectl_ok(&["rollout", "status", "deployment/web", "-n", &ns, "--timeout=120s"]);
    let image = member.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.status.updatedReplicas} {.status.availableReplicas}",
    ]);
    assert_eq!(image, "nginx:1.21 2 2");
}

#[test]
fn member_namespace_deletion_removes_its_contents() {
    let member = member();
    let ns = test_namespace(member, "cp-nsdel");
    member.kubectl_ok(&["create", "configmap", "data", "--from-literal=key=value1", "-n", &ns]);
    member.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
    wait_for("namespace deletion", Duration::from_secs(90), || {
        let out = member.kubectl(&["get", "namespace", &ns, "--ignore-not-found", "-o", "name"]);
        String::from_utf8_lossy(&out.stdout).trim().is_empty().then_some(())
    });
}

#[test]
fn member_garbage_collects_by_owner_reference() {
    let member = member();
    let ns = test_namespace(member, "cp-gc");
    for policy in ["background", "foreground"] {
        let owner = unique("owner");
        member.kubectl_ok(&["create", "configmap", &owner, "-n", &ns]);
        let uid = member.kubectl_ok(&["get", "configmap", &owner, "-n", &ns, "-o", "jsonpath={.metadata.uid}"]);
        let dependent = unique("dependent");
        member.apply(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {dependent}\n  namespace: {ns}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {uid}\n    blockOwnerDeletion: true\ndata:\n  key: value\n"
        ));
        member.kubectl_ok(&[
            "delete",
            "configmap",
            &owner,
            "-n",
            &ns,
            &format!("--cascade={policy}"),
            "--wait=false",
        ]);
        wait_for(
            &format!("{policy} garbage collection of {dependent}"),
            Duration::from_secs(90),
            || {
                let out = member.kubectl(&[
                    "get",
                    "configmap",
                    &dependent,
                    "-n",
                    &ns,
                    "--ignore-not-found",
                    "-o",
                    "name",
                ]);
                String::from_utf8_lossy(&out.stdout).trim().is_empty().then_some(())
            },
        );
    }
}

#[test]
fn restarted_cluster_keeps_its_address_credentials_and_data() {
    let name = unique("restart");
    let first = start(&name, Role::Hub);
    first.kubectl_ok(&[
        "create",
        "configmap",
        "kept",
        "--from-literal=key=value1",
        "-n",
        "default",
    ]);
    let status = first.stop();
    assert!(status.success(), "testcp did not exit cleanly on SIGTERM: {status}");

    let second = start(&name, Role::Hub);
    assert_eq!(second.server, first.server);
    assert_eq!(second.kubeconfig, first.kubeconfig);
    let value = second.kubectl_ok(&[
        "get",
        "configmap",
        "kept",
        "-n",
        "default",
        "-o",
        "jsonpath={.data.key}",
    ]);
    assert_eq!(value, "value1");
    assert!(second.stop().success());
}
