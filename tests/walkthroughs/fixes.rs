//! What both documents share: the fleet's members and the objects they check on them, and the
//! fixes both need (each prints a `note: fix:` line; `docs/walkthroughs.md` lists them).

use std::time::Duration;

use crate::runner::{SETTLE, Walkthrough};

pub const MEMBERS: &[&str] = &["member1", "member2", "member3"];
/// The canary stage's members in the order the `order` label sorts them.
pub const CANARY: &[&str] = &["member3", "member1"];
/// A step that waits for a one-minute TimedWait to run in full allows this much.
pub const AFTER_ONE_MINUTE_WAIT: Duration = Duration::from_secs(150);
/// `test-cm`'s `key` on a member (blank when it is not there).
pub const CM_KEY: &str = "get configmap test-cm -n test-namespace --ignore-not-found -o jsonpath={.data.key}";
/// `web-app`'s image on a member (blank when it is not there).
pub const DEPLOYMENT_IMAGE: &str = "get deployment web-app -n my-app-namespace --ignore-not-found -o jsonpath={.spec.template.spec.containers[0].image}";

/// `kubectl edit cm test-cm -n test-namespace`, with the reader's edit made by a sed.
pub fn edit_configmap(w: &mut Walkthrough) {
    w.note("fix: `kubectl edit` runs with KUBE_EDITOR set to a sed that changes value1 to value2, as the reader does in the editor");
    w.run_prints(
        "KUBE_EDITOR='sed -i s/value1/value2/' kubectl edit cm test-cm -n test-namespace",
        "configmap/test-cm edited",
    );
}

/// `kubectl set image deployment/web-app web-app=nginx:1.21`, with the container's real name.
pub fn set_image(w: &mut Walkthrough) {
    w.note("fix: the container is `nginx` (kubectl create deployment names it after the image), so `web-app=` becomes `nginx=`");
    w.run_prints(
        "kubectl set image deployment/web-app nginx=nginx:1.21 -n my-app-namespace",
        "deployment.apps/web-app image updated",
    );
}

/// Places `my-app-namespace` (and nothing in it) on every member, which neither document does.
pub fn place_app_namespace(w: &mut Walkthrough) {
    w.note(
        "fix: nothing in the document places my-app-namespace on the member clusters, and a ResourcePlacement only places \
         namespaced objects into namespaces that exist; a ClusterResourcePlacement with selectionScope NamespaceOnly places the namespace alone",
    );
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: my-app-namespace
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      name: my-app-namespace
      version: v1
      selectionScope: NamespaceOnly
  policy:
    placementType: PickAll
EOF"#,
        "clusterresourceplacement.placement.kubernetes-fleet.io/my-app-namespace created",
    );
    w.members_print(
        MEMBERS,
        "get namespace my-app-namespace -o name",
        "namespace/my-app-namespace",
        SETTLE,
    );
}
