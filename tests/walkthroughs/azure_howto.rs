//! Doc B, `../shared/seeds/001_...` ("Orchestrate staged rollouts across member clusters", the
//! Azure Kubernetes Fleet Manager how-to), replayed in the document's order: its
//! ClusterResourcePlacement and ResourcePlacement tabs alternate, as a reader following both
//! would. The document shows manifests as YAML blocks; the reader applies each with
//! `kubectl apply -f -`. Every change is a named fix listed in `docs/walkthroughs.md`.

use crate::fixes::{self, AFTER_ONE_MINUTE_WAIT, CANARY, CM_KEY, DEPLOYMENT_IMAGE, MEMBERS};
use crate::runner::{SETTLE, Walkthrough};
use crate::subset::DocYaml;
use crate::table::Table;

const SD3: &str = "SD-3: upstream's current run columns include PROGRESSING";

/// The snapshot of the namespace placement this walkthrough adds (see the fix in `prepare`).
const NAMESPACE_SNAPSHOT_ROW: &[&str] = &[
    "my-app-namespace-0-snapshot",
    "1",
    "",
    "kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=my-app-namespace,kubernetes-fleet.io/resource-index=0",
];
const NAMESPACE_SNAPSHOT_WHY: &str =
    "the ClusterResourcePlacement that places my-app-namespace (a fix, see above) has its own snapshot";

/// `kubectl apply -f -` of a YAML block of the document.
fn apply(yaml: &str) -> String {
    format!("kubectl apply -f - << EOF\n{}\nEOF", yaml.trim_end())
}

/// The document's run table with SD-3's PROGRESSING column.
fn run_table(doc: &str, progressing: &[&str], why: &str) -> Table {
    Table::doc(doc).insert_after("INITIALIZED", "PROGRESSING", progressing, &format!("{SD3}; {why}"))
}

const STRATEGY: &str = "apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateStrategy
metadata:
  name: example-strategy
spec:
  stages:
    - name: staging
      labelSelector:
        matchLabels:
          environment: staging
      afterStageTasks:
        - type: TimedWait
          waitTime: 1m
    - name: canary
      labelSelector:
        matchLabels:
          environment: canary
      sortingLabelKey: order
      afterStageTasks:
        - type: Approval";

const APPROVAL_JSON: &str = r#"cat << EOF > approval.json
"status": {
    "conditions": [
        {
            "lastTransitionTime": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
            "message": "lgtm",
            "observedGeneration": 1,
            "reason": "testPassed",
            "status": "True",
            "type": "Approved"
        }
    ]
}
EOF"#;

const APPROVAL_NS_JSON: &str = r#"cat << EOF > approval-ns.json
{
  "status": {
    "conditions": [
      {
        "lastTransitionTime": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        "message": "Approved for production rollout",
        "observedGeneration": 1,
        "reason": "ManualApproval",
        "status": "True",
        "type": "Approved"
      }
    ]
  }
}
EOF"#;

pub fn replay(w: &mut Walkthrough) {
    prepare(w);
    snapshots(w);
    strategies(w);
    runs(w);
    approvals(w);
    verify(w);
    roll_back(w);
    clean_up(w);
}

fn prepare(w: &mut Walkthrough) {
    w.section("Prepare workloads for placement / ClusterResourcePlacement");
    w.run_prints("kubectl create ns test-namespace", "namespace/test-namespace created");
    w.run_prints(
        "kubectl create cm test-cm --from-literal=key=value1 -n test-namespace",
        "configmap/test-cm created",
    );
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: example-placement
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      name: test-namespace
      version: v1
  policy:
    placementType: PickAll
  strategy:
    type: External"#,
        ),
        "clusterresourceplacement.placement.kubernetes-fleet.io/example-placement created",
    );
    w.table(
        "kubectl get crp example-placement",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
example-placement   1     True        1                                           51s",
        ),
        SETTLE,
    );
    w.note("no resources are deployed on the member clusters before a ClusterStagedUpdateRun");
    w.members_print(
        MEMBERS,
        "get namespace test-namespace --ignore-not-found -o name",
        "",
        SETTLE,
    );

    w.section("Prepare workloads for placement / ResourcePlacement");
    w.run_prints(
        "kubectl create ns my-app-namespace",
        "namespace/my-app-namespace created",
    );
    w.run_prints(
        "kubectl create deployment web-app --image=nginx:1.20 --replicas=3 -n my-app-namespace",
        "deployment.apps/web-app created",
    );
    w.run_prints(
        "kubectl expose deployment web-app --port=80 --target-port=80 -n my-app-namespace",
        "service/web-app exposed",
    );
    fixes::place_app_namespace(w);
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ResourcePlacement
metadata:
  name: web-app-placement
  namespace: my-app-namespace
spec:
  resourceSelectors:
    - group: "apps"
      kind: Deployment
      name: web-app
      version: v1
    - group: ""
      kind: Service
      name: web-app
      version: v1
  policy:
    placementType: PickAll
  strategy:
    type: External"#,
        ),
        "resourceplacement.placement.kubernetes-fleet.io/web-app-placement created",
    );
    w.table(
        "kubectl get rp web-app-placement -n my-app-namespace",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
web-app-placement   1     True        1                                           45s",
        ),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "", SETTLE);
}

fn snapshots(w: &mut Walkthrough) {
    w.section("Work with resource snapshots / Check current resource snapshots");
    w.table(
        "kubectl get clusterresourcesnapshots --show-labels",
        Table::doc(
            "NAME                           GEN   AGE   LABELS
example-placement-0-snapshot   1     60s   kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=0",
        )
        .with_row(NAMESPACE_SNAPSHOT_ROW, NAMESPACE_SNAPSHOT_WHY),
        SETTLE,
    );
    w.table(
        "kubectl get resourcesnapshots -n my-app-namespace --show-labels",
        Table::doc(
            "NAME                           GEN   AGE   LABELS
web-app-placement-0-snapshot   1     63s   kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=0",
        ),
        SETTLE,
    );

    w.section("Create a new resource snapshot / ClusterResourcePlacement");
    fixes::edit_configmap(w);
    w.object(
        "kubectl get configmap test-cm -n test-namespace -o yaml",
        DocYaml::doc(
            "apiVersion: v1
data:
  key: value2 # value updated here, old value: value1
kind: ConfigMap
metadata:
  creationTimestamp: ...
  name: test-cm
  namespace: test-namespace
  resourceVersion: ...
  uid: ...",
        ),
        SETTLE,
    );
    w.table(
        "kubectl get clusterresourcesnapshots --show-labels",
        Table::doc(
            "NAME                           GEN   AGE    LABELS
example-placement-0-snapshot   1     2m6s   kubernetes-fleet.io/is-latest-snapshot=false,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=0
example-placement-1-snapshot   1     10s    kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=1",
        )
        .with_row(NAMESPACE_SNAPSHOT_ROW, NAMESPACE_SNAPSHOT_WHY),
        SETTLE,
    );
    w.object(
        "kubectl get clusterresourcesnapshots example-placement-1-snapshot -o yaml",
        DocYaml::doc(
            r#"apiVersion: placement.kubernetes-fleet.io/v1
kind: ClusterResourceSnapshot
metadata:
  annotations:
    kubernetes-fleet.io/number-of-enveloped-object: "0"
    kubernetes-fleet.io/number-of-resource-snapshots: "1"
    kubernetes-fleet.io/resource-hash: 10dd7a3d1e5f9849afe956cfbac080a60671ad771e9bda7dd34415f867c75648
  creationTimestamp: "2025-07-22T21:26:54Z"
  generation: 1
  labels:
    kubernetes-fleet.io/is-latest-snapshot: "true"
    kubernetes-fleet.io/parent-CRP: example-placement
    kubernetes-fleet.io/resource-index: "1"
  name: example-placement-1-snapshot
  ownerReferences:
  - apiVersion: placement.kubernetes-fleet.io/v1beta1
    blockOwnerDeletion: true
    controller: true
    kind: ClusterResourcePlacement
    name: example-placement
    uid: e7d59513-b3b6-4904-864a-c70678fd6f65
  resourceVersion: "19994"
  uid: 79ca0bdc-0b0a-4c40-b136-7f701e85cdb6
spec:
  selectedResources:
  - apiVersion: v1
    kind: Namespace
    metadata:
      labels:
        kubernetes.io/metadata.name: test-namespace
      name: test-namespace
    spec:
      finalizers:
      - kubernetes
  - apiVersion: v1
    data:
      key: value2 # latest value: value2, old value: value1
    kind: ConfigMap
    metadata:
      name: test-cm
      namespace: test-namespace"#,
        ),
        SETTLE,
    );
}

fn strategies(w: &mut Walkthrough) {
    w.section("Deploy a ClusterStagedUpdateStrategy");
    w.run_prints(
        &apply(STRATEGY),
        "clusterstagedupdatestrategy.placement.kubernetes-fleet.io/example-strategy created",
    );

    w.section("Deploy a ClusterStagedUpdateRun to roll out latest change / ResourcePlacement");
    fixes::set_image(w);
    w.table(
        "kubectl get resourcesnapshots -n my-app-namespace --show-labels",
        Table::doc(
            "NAME                           GEN   AGE    LABELS
web-app-placement-0-snapshot   1     4m3s   kubernetes-fleet.io/is-latest-snapshot=false,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=0
web-app-placement-1-snapshot   1     23s    kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=1",
        ),
        SETTLE,
    );

    w.section("Deploy a staged update strategy");
    w.note(
        "the document shows the ClusterStagedUpdateStrategy a second time; applying it again succeeds and changes nothing \
         (kubectl may say `configured`: the stages list it sends lacks the defaulted maxConcurrency)",
    );
    w.run(&apply(STRATEGY));
    w.prints_eventually(
        "kubectl get csus example-strategy -o jsonpath='{.metadata.generation}'",
        "1",
        SETTLE,
    );
    w.run_prints(
        &apply(
            "apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateStrategy
metadata:
  name: app-rollout-strategy
  namespace: my-app-namespace
spec:
  stages:
    - name: staging
      labelSelector:
        matchLabels:
          environment: staging
      afterStageTasks:
        - type: TimedWait
          waitTime: 30s
    - name: canary
      labelSelector:
        matchLabels:
          environment: canary
      sortingLabelKey: order
      afterStageTasks:
        - type: Approval",
        ),
        "stagedupdatestrategy.placement.kubernetes-fleet.io/app-rollout-strategy created",
    );
}

fn runs(w: &mut Walkthrough) {
    w.section("Deploy a staged update run to roll out latest change / ClusterResourcePlacement");
    w.note("SD-1: the document's runs have no spec.state; absent means Run");
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: example-run
spec:
  placementName: example-placement
  resourceSnapshotIndex: "1"
  stagedRolloutStrategyName: example-strategy"#,
        ),
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run created",
    );
    w.members_print(&["member2"], CM_KEY, "value2", SETTLE);
    w.table(
        "kubectl get csur example-run",
        run_table(
            "NAME          PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
example-run   example-placement   1                         0                       True                      7s",
            &["False"],
            "during the staging stage's TimedWait the run waits (UpdateRunWaiting)",
        ),
        SETTLE,
    );
    w.members_print(CANARY, CM_KEY, "", SETTLE);
    w.note("the staging stage's 1m TimedWait runs in full (not shortened); then canary updates member3 and member1 and waits for approval");
    w.object(
        "kubectl get csur example-run -o yaml",
        DocYaml::doc(EXAMPLE_RUN_WAITING),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.members_print(CANARY, CM_KEY, "value2", SETTLE);
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                 UPDATE-RUN    STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-canary   example-run   canary                                 2m39s",
        ),
        SETTLE,
    );

    w.section("Deploy a staged update run to roll out latest change / ResourcePlacement");
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateRun
metadata:
  name: web-app-rollout-v1-21
  namespace: my-app-namespace
spec:
  placementName: web-app-placement
  resourceSnapshotIndex: "1"
  stagedRolloutStrategyName: app-rollout-strategy"#,
        ),
        "stagedupdaterun.placement.kubernetes-fleet.io/web-app-rollout-v1-21 created",
    );
    w.members_print(&["member2"], DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);
    w.table(
        "kubectl get sur web-app-rollout-v1-21 -n my-app-namespace",
        run_table(
            "NAME                     PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
web-app-rollout-v1-21    web-app-placement   1                         0                       True                      12s",
            &["False"],
            "during the staging stage's TimedWait the run waits (UpdateRunWaiting)",
        ),
        SETTLE,
    );
    w.note("the 30s TimedWait runs in full (not shortened)");
    w.table(
        "kubectl get approvalrequests -n my-app-namespace",
        Table::doc(
            "NAME                             STAGED-UPDATE-RUN        STAGE    APPROVED   APPROVALACCEPTED   AGE
web-app-rollout-v1-21-canary     web-app-rollout-v1-21    canary                                 45s",
        )
        .rename(
            "STAGED-UPDATE-RUN",
            "UPDATE-RUN",
            "SD-4: both approval kinds print UPDATE-RUN",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.members_print(CANARY, DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);
}

fn approvals(w: &mut Walkthrough) {
    w.section("Approve the staged update run / ClusterResourcePlacement");
    w.run(APPROVAL_JSON);
    w.run_prints(
        "kubectl patch clusterapprovalrequests example-run-canary --type='merge' --subresource=status --patch-file approval.json",
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-canary patched",
    );
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                 UPDATE-RUN    STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-canary   example-run   canary   True       True               3m35s",
        ),
        SETTLE,
    );
    w.table(
        "kubectl get csur example-run",
        run_table(
            "NAME          PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
example-run   example-placement   1                         0                       True          True        5m28s",
            &["False"],
            "a finished run is Progressing=False, UpdateRunSucceeded (spec 3.14)",
        ),
        SETTLE,
    );

    w.section("Approve the staged update run / ResourcePlacement");
    w.run_prints(
        &format!(
            "{APPROVAL_NS_JSON}\n\nkubectl patch approvalrequests web-app-rollout-v1-21-canary -n my-app-namespace \\\n  --type='merge' --subresource=status --patch-file approval-ns.json"
        ),
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollout-v1-21-canary patched",
    );
    w.table(
        "kubectl get sur web-app-rollout-v1-21 -n my-app-namespace",
        run_table(
            "NAME                     PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
web-app-rollout-v1-21    web-app-placement   1                         0                       True          True        3m15s",
            &["False"],
            "a finished run is Progressing=False, UpdateRunSucceeded (spec 3.14)",
        ),
        SETTLE,
    );
}

fn verify(w: &mut Walkthrough) {
    w.section("Verify the rollout completion / ClusterResourcePlacement");
    w.table(
        "kubectl get crp example-placement",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
example-placement   1     True        1               True        1               8m55s",
        ),
        SETTLE,
    );
    w.note("test-cm is deployed on all three member clusters, with the latest data");
    w.members_print(MEMBERS, CM_KEY, "value2", SETTLE);

    w.section("Verify the rollout completion / ResourcePlacement");
    w.table(
        "kubectl get rp web-app-placement -n my-app-namespace",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
web-app-placement   1     True        1               True        1               6m22s",
        ),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);
    w.members_print(
        MEMBERS,
        "get deployment web-app -n my-app-namespace -o jsonpath={.status.availableReplicas}",
        "3",
        SETTLE,
    );
}

fn roll_back(w: &mut Walkthrough) {
    w.section("Deploy a second staged update run to roll back / ClusterResourcePlacement");
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: example-run-2
spec:
  placementName: example-placement
  resourceSnapshotIndex: "0"
  stagedRolloutStrategyName: example-strategy"#,
        ),
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run-2 created",
    );
    w.table(
        "kubectl get csur",
        run_table(
            "NAME            PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
example-run     example-placement   1                         0                       True          True        13m
example-run-2   example-placement   0                         0                       True                      9s",
            &["False", "False"],
            "example-run is finished; example-run-2 waits in the staging stage's TimedWait",
        ),
        SETTLE,
    );
    w.members_print(&["member2"], CM_KEY, "value1", SETTLE);
    w.note("the 1m TimedWait runs in full again");
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                   UPDATE-RUN      STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-2-canary   example-run-2   canary                                 75s
example-run-canary     example-run     canary   True       True               14m",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.run_prints(
        "kubectl patch clusterapprovalrequests example-run-2-canary --type='merge' --subresource=status --patch-file approval.json",
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-2-canary patched",
    );
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                   UPDATE-RUN      STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-2-canary   example-run-2   canary   True       True               2m7s
example-run-canary     example-run     canary   True       True               15m",
        ),
        SETTLE,
    );
    w.note("test-cm is back to value1 on all three member clusters");
    w.members_print(MEMBERS, CM_KEY, "value1", SETTLE);

    w.section("Deploy a second staged update run to roll back / ResourcePlacement");
    w.run_prints(
        &apply(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateRun
metadata:
  name: web-app-rollback-v1-20
  namespace: my-app-namespace
spec:
  placementName: web-app-placement
  resourceSnapshotIndex: "0"
  stagedRolloutStrategyName: app-rollout-strategy"#,
        ),
        "stagedupdaterun.placement.kubernetes-fleet.io/web-app-rollback-v1-20 created",
    );
    w.note("\"follow the same monitoring and approval process\": member2, the 30s TimedWait, the canary approval from approval-ns.json");
    w.members_print(&["member2"], DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
    w.table(
        "kubectl get approvalrequests web-app-rollback-v1-20-canary -n my-app-namespace",
        Table::doc(
            "NAME                            UPDATE-RUN               STAGE    APPROVED   APPROVALACCEPTED   AGE
web-app-rollback-v1-20-canary   web-app-rollback-v1-20   canary                                 45s",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.members_print(CANARY, DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
    w.run_prints(
        "kubectl patch approvalrequests web-app-rollback-v1-20-canary -n my-app-namespace \\\n  --type='merge' --subresource=status --patch-file approval-ns.json",
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollback-v1-20-canary patched",
    );
    w.table(
        "kubectl get sur -n my-app-namespace",
        run_table(
            "NAME                     PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
web-app-rollout-v1-21    web-app-placement   1                         0                       True          True        3m15s",
            &["False"],
            "a finished run is Progressing=False (spec 3.14)",
        )
        .with_row(
            &["web-app-rollback-v1-20", "web-app-placement", "0", "0", "True", "False", "True", ""],
            "the rollback run, finished the same way",
        ),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
}

fn clean_up(w: &mut Walkthrough) {
    w.section("Clean up resources");
    w.run("# Clean up cluster-scoped resources\nkubectl delete csur example-run example-run-2");
    w.run("kubectl delete csus example-strategy");
    w.run("kubectl delete crp example-placement");
    w.run("kubectl delete namespace test-namespace");
    w.run("# Clean up namespace-scoped resources\nkubectl delete sur web-app-rollout-v1-21 web-app-rollback-v1-20 -n my-app-namespace");
    w.run("kubectl delete sus app-rollout-strategy -n my-app-namespace");
    w.run("kubectl delete rp web-app-placement -n my-app-namespace");
    w.run("kubectl delete namespace my-app-namespace");
    w.note("fix: the namespace placement this walkthrough added is deleted too");
    w.run("kubectl delete crp my-app-namespace");
    w.note("the placed objects leave the member clusters");
    w.members_print(
        MEMBERS,
        "get namespace test-namespace --ignore-not-found -o name",
        "",
        SETTLE,
    );
    w.members_print(
        MEMBERS,
        "get namespace my-app-namespace --ignore-not-found -o name",
        "",
        SETTLE,
    );
    w.prints_eventually(
        "kubectl get clusterapprovalrequests,approvalrequests -A --ignore-not-found -o name",
        "",
        SETTLE,
    );
}

/// The document's `kubectl get csur example-run -o yaml` once the TimedWait has elapsed and the
/// canary stage waits for its approval (real output: messages and all).
const EXAMPLE_RUN_WAITING: &str = r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  ...
  name: example-run
  ...
spec:
  placementName: example-placement
  resourceSnapshotIndex: "1"
  stagedRolloutStrategyName: example-strategy
status:
  conditions:
  - lastTransitionTime: "2025-07-22T21:28:08Z"
    message: ClusterStagedUpdateRun initialized successfully
    observedGeneration: 1
    reason: UpdateRunInitializedSuccessfully
    status: "True" # the updateRun is initialized successfully
    type: Initialized
  - lastTransitionTime: "2025-07-22T21:29:53Z"
    message: The updateRun is waiting for after-stage tasks in stage canary to complete
    observedGeneration: 1
    reason: UpdateRunWaiting
    status: "False" # the updateRun is still progressing and waiting for approval
    type: Progressing
  deletionStageStatus:
    clusters: [] # no clusters need to be cleaned up
    stageName: kubernetes-fleet.io/deleteStage
  policyObservedClusterCount: 3 # number of clusters to be updated
  policySnapshotIndexUsed: "0"
  stagedUpdateStrategySnapshot: # snapshot of the strategy used for this update run
    stages:
    - afterStageTasks:
      - type: TimedWait
        waitTime: 1m0s
      labelSelector:
        matchLabels:
          environment: staging
      name: staging
    - afterStageTasks:
      - type: Approval
      labelSelector:
        matchLabels:
          environment: canary
      name: canary
      sortingLabelKey: order
  stagesStatus: # detailed status for each stage
  - afterStageTaskStatus:
    - conditions:
      - lastTransitionTime: "2025-07-22T21:29:23Z"
        message: Wait time elapsed
        observedGeneration: 1
        reason: AfterStageTaskWaitTimeElapsed
        status: "True" # the wait after-stage task has completed
        type: WaitTimeElapsed
      type: TimedWait
    clusters:
    - clusterName: member2 # stage staging contains member2 cluster only
      conditions:
      - lastTransitionTime: "2025-07-22T21:28:08Z"
        message: Cluster update started
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: "2025-07-22T21:28:23Z"
        message: Cluster update completed successfully
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True" # member2 is updated successfully
        type: Succeeded
    conditions:
    - lastTransitionTime: "2025-07-22T21:28:23Z"
      message: All clusters in the stage are updated and after-stage tasks are completed
      observedGeneration: 1
      reason: StageUpdatingSucceeded
      status: "False"
      type: Progressing
    - lastTransitionTime: "2025-07-22T21:29:23Z"
      message: Stage update completed successfully
      observedGeneration: 1
      reason: StageUpdatingSucceeded
      status: "True" # stage staging has completed successfully
      type: Succeeded
    endTime: "2025-07-22T21:29:23Z"
    stageName: staging
    startTime: "2025-07-22T21:28:08Z"
  - afterStageTaskStatus:
    - approvalRequestName: example-run-canary # ClusterApprovalRequest name for this stage
      conditions:
      - lastTransitionTime: "2025-07-22T21:29:53Z"
        message: ClusterApprovalRequest is created
        observedGeneration: 1
        reason: AfterStageTaskApprovalRequestCreated
        status: "True"
        type: ApprovalRequestCreated
      type: Approval
    clusters:
    - clusterName: member3 # according to the labelSelector and sortingLabelKey, member3 is selected first in this stage
      conditions:
      - lastTransitionTime: "2025-07-22T21:29:23Z"
        message: Cluster update started
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: "2025-07-22T21:29:38Z"
        message: Cluster update completed successfully
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True" # member3 update is completed
        type: Succeeded
    - clusterName: member1 # member1 is selected after member3 because of order=2 label
      conditions:
      - lastTransitionTime: "2025-07-22T21:29:38Z"
        message: Cluster update started
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: "2025-07-22T21:29:53Z"
        message: Cluster update completed successfully
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True" # member1 update is completed
        type: Succeeded
    conditions:
    - lastTransitionTime: "2025-07-22T21:29:53Z"
      message: All clusters in the stage are updated, waiting for after-stage tasks
        to complete
      observedGeneration: 1
      reason: StageUpdatingWaiting
      status: "False" # stage canary is waiting for approval task completion
      type: Progressing
    stageName: canary
    startTime: "2025-07-22T21:29:23Z"
"#;
