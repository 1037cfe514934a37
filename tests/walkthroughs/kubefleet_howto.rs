//! Doc A, `../shared/seeds/000_...` ("How to Roll Out and Roll Back Changes in Stage", the
//! KubeFleet how-to), replayed command by command. Commands, YAML and tables are copied from the
//! document; every change is a named fix listed in `docs/walkthroughs.md`.

use crate::fixes::{self, AFTER_ONE_MINUTE_WAIT, CANARY, CM_KEY, DEPLOYMENT_IMAGE, MEMBERS};
use crate::runner::{SETTLE, Walkthrough};
use crate::subset::DocYaml;
use crate::table::Table;

const SD3: &str = "SD-3: the run columns are upstream's current RESOURCE-SNAPSHOT-INDEX, POLICY-SNAPSHOT-INDEX, INITIALIZED, PROGRESSING, SUCCEEDED";

/// Doc A's run table with SD-3's column names and the PROGRESSING value of that moment.
fn run_table(doc: &str, progressing: &[&str], why: &str) -> Table {
    Table::doc(doc)
        .rename("RESOURCE-SNAPSHOT", "RESOURCE-SNAPSHOT-INDEX", SD3)
        .rename("POLICY-SNAPSHOT", "POLICY-SNAPSHOT-INDEX", SD3)
        .insert_after("INITIALIZED", "PROGRESSING", progressing, why)
}

/// The Azure document's table for the finished namespaced run (doc A prints none), for `run` on
/// snapshot `index`.
fn azure_run_table(run: &str, index: &str) -> Table {
    let mut table = Table::doc(
        "NAME                     PLACEMENT           RESOURCE-SNAPSHOT-INDEX   POLICY-SNAPSHOT-INDEX   INITIALIZED   SUCCEEDED   AGE
web-app-rollout-v1-21    web-app-placement   1                         0                       True          True        3m15s",
    )
    .insert_after("INITIALIZED", "PROGRESSING", &["False"], "SD-3; a finished run is Progressing=False (spec 3.14)");
    if run != "web-app-rollout-v1-21" {
        table = table
            .with_cell(
                "web-app-rollout-v1-21",
                "RESOURCE-SNAPSHOT-INDEX",
                index,
                "the rollback run uses the older snapshot",
            )
            .with_cell("web-app-rollout-v1-21", "NAME", run, "the rollback run");
    }
    table
}

pub fn replay(w: &mut Walkthrough) {
    cluster_scoped(w);
    namespace_scoped(w);
}

fn cluster_scoped(w: &mut Walkthrough) {
    w.section("Cluster-Scoped Staged Updates / Setup for Cluster-Scoped Updates");
    w.run_prints("kubectl create ns test-namespace", "namespace/test-namespace created");
    w.run_prints(
        "kubectl create cm test-cm --from-literal=key=value1 -n test-namespace",
        "configmap/test-cm created",
    );
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
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
    type: External
EOF"#,
        "clusterresourceplacement.placement.kubernetes-fleet.io/example-placement created",
    );
    w.table(
        "kubectl get crp example-placement",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
example-placement   1     True        1                                           8s",
        ),
        SETTLE,
    );
    w.note("no resource is deployed on the member clusters before a ClusterStagedUpdateRun");
    w.members_print(
        MEMBERS,
        "get namespace test-namespace --ignore-not-found -o name",
        "",
        SETTLE,
    );

    w.section("Check cluster resource snapshot versions");
    w.table(
        "kubectl get clusterresourcesnapshots --show-labels",
        Table::doc(
            "NAME                           GEN   AGE     LABELS
example-placement-0-snapshot   1     7m31s   kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=0",
        ),
        SETTLE,
    );
    fixes::edit_configmap(w);
    w.object(
        "kubectl get configmap test-cm -n test-namespace -o yaml",
        DocYaml::doc(
            "apiVersion: v1
data:
  key: value2     # value updated here, old value: value1
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
example-placement-0-snapshot   1     17m    kubernetes-fleet.io/is-latest-snapshot=false,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=0
example-placement-1-snapshot   1     2m2s   kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=1",
        ),
        SETTLE,
    );
    w.object(
        "kubectl get clusterresourcesnapshots example-placement-1-snapshot -o yaml",
        DocYaml::doc(
            "apiVersion: placement.kubernetes-fleet.io/v1
kind: ClusterResourceSnapshot
metadata:
  ...
  labels:
    kubernetes-fleet.io/is-latest-snapshot: \"true\"
    kubernetes-fleet.io/parent-CRP: example-placement
    kubernetes-fleet.io/resource-index: \"1\"
  name: example-placement-1-snapshot
  ...
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
      namespace: test-namespace",
        ),
        SETTLE,
    );

    w.section("Deploy a ClusterStagedUpdateStrategy");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateStrategy
metadata:
  name: example-strategy
spec:
  stages:
    - name: staging
      labelSelector:
        matchLabels:
          environment: staging
      maxConcurrency: 1  # Update clusters sequentially in staging
      afterStageTasks:
        - type: TimedWait
          waitTime: 1m
    - name: canary
      labelSelector:
        matchLabels:
          environment: canary
      sortingLabelKey: order
      maxConcurrency: 2  # Update 2 canary clusters concurrently
      beforeStageTasks:
        - type: Approval  # Require approval before starting canary
      afterStageTasks:
        - type: Approval  # Require approval after canary completes
EOF"#,
        "clusterstagedupdatestrategy.placement.kubernetes-fleet.io/example-strategy created",
    );

    w.section("Deploy a ClusterStagedUpdateRun to rollout latest change");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: example-run
spec:
  placementName: example-placement
  resourceSnapshotIndex: "1"
  stagedRolloutStrategyName: example-strategy
  state: Initialize  # Initialize but don't start execution yet
EOF"#,
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run created",
    );
    w.note("Initialize computes the stages without executing: the document's detailed status, as far as it exists before Run");
    w.object(
        "kubectl get csur example-run -o yaml  # Review computed stages in status",
        DocYaml::doc(
            r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  ...
  name: example-run
  ...
spec:
  placementName: example-placement
  resourceSnapshotIndex: "1"
  stagedRolloutStrategyName: example-strategy
  state: Initialize
status:
  conditions:
  - lastTransitionTime: ...
    message: ClusterStagedUpdateRun initialized successfully
    observedGeneration: 1
    reason: UpdateRunInitializedSuccessfully
    status: "True" # the updateRun is initialized successfully
    type: Initialized
  deletionStageStatus:
    clusters: [] # no clusters need to be cleaned up
    stageName: kubernetes-fleet.io/deleteStage
  policyObservedClusterCount: 3 # number of clusters to be updated
  policySnapshotIndexUsed: "0"
  stagedUpdateStrategySnapshot: # snapshot of the strategy
    stages:
    - afterStageTasks:
      - type: TimedWait
        waitTime: 1m0s
      labelSelector:
        matchLabels:
          environment: staging
      maxConcurrency: 1
      name: staging
    - afterStageTasks:
      - type: Approval
      beforeStageTasks:
      - type: Approval
      labelSelector:
        matchLabels:
          environment: canary
      maxConcurrency: 2
      name: canary
      sortingLabelKey: order
  stagesStatus: # detailed status for each stage
  - clusters:
    - clusterName: member2 # stage staging contains member2 cluster only
    stageName: staging
  - clusters:
    - clusterName: member3 # according the labelSelector and sortingLabelKey, member3 is selected first in this stage
    - clusterName: member1 # member1 is selected after member3 because of order=2 label
    stageName: canary"#,
        ),
        SETTLE,
    );
    w.members_print(
        MEMBERS,
        "get namespace test-namespace --ignore-not-found -o name",
        "",
        SETTLE,
    );
    w.run_prints(
        r#"kubectl patch csur example-run --type='merge' -p '{"spec":{"state":"Run"}}'"#,
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run patched",
    );
    w.note(
        "member2, alone in stage staging, is updated first; then the stage's 1m TimedWait runs in full (not shortened)",
    );
    w.members_print(&["member2"], CM_KEY, "value2", SETTLE);
    w.table(
        "kubectl get csur example-run",
        run_table(
            "NAME          PLACEMENT           RESOURCE-SNAPSHOT   POLICY-SNAPSHOT   INITIALIZED   SUCCEEDED   AGE
example-run   example-placement   1                   0                 True                      44s",
            &["False"],
            "during the staging stage's TimedWait the run waits (Progressing=False, UpdateRunWaiting)",
        ),
        SETTLE,
    );
    w.members_print(CANARY, CM_KEY, "", SETTLE);
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                        UPDATE-RUN    STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-canary-before   example-run   canary                                 15s",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.members_print(CANARY, CM_KEY, "", SETTLE);
    w.note("fix: the approval patch is quoted; unquoted, the shell splits the JSON and strips its quotes");
    w.run_prints(
        r#"kubectl patch clusterapprovalrequests example-run-canary-before --type=merge -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"lgtm","message":"approved to start canary","lastTransitionTime":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","observedGeneration":1}]}}' --subresource=status"#,
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-canary-before patched",
    );
    w.note("with maxConcurrency 2 the canary stage updates member3 and member1");
    w.members_print(CANARY, CM_KEY, "value2", SETTLE);
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                       UPDATE-RUN    STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-canary-after   example-run   canary                                 2m2s",
        )
        .with_row(
            &["example-run-canary-before", "example-run", "canary", "True", "True", ""],
            "the approved before-stage request still exists (the document's next table lists it)",
        ),
        SETTLE,
    );
    w.note("fix: the approval patch is quoted, as above");
    w.run_prints(
        r#"kubectl patch clusterapprovalrequests example-run-canary-after --type=merge -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"lgtm","message":"canary successful","lastTransitionTime":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","observedGeneration":1}]}}' --subresource=status"#,
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-canary-after patched",
    );
    w.note("the document's alternative: the same approval from a patch file");
    w.run(
        r#"cat << EOF > approval.json
"status": {
    "conditions": [
        {
            "lastTransitionTime": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
            "message": "approved",
            "observedGeneration": 1,
            "reason": "approved",
            "status": "True",
            "type": "Approved"
        }
    ]
}
EOF"#,
    );
    w.run_prints(
        "kubectl patch clusterapprovalrequests example-run-canary-after --type='merge' --subresource=status --patch-file approval.json",
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-canary-after patched",
    );
    w.table(
        "kubectl get clusterapprovalrequest",
        Table::doc(
            "NAME                        UPDATE-RUN    STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-canary-before   example-run   canary   True       True               3m15s
example-run-canary-after    example-run   canary   True       True               2m30s",
        ),
        SETTLE,
    );
    w.table(
        "kubectl get csur example-run",
        run_table(
            "NAME          PLACEMENT           RESOURCE-SNAPSHOT   POLICY-SNAPSHOT   INITIALIZED   SUCCEEDED   AGE
example-run   example-placement   1                   0                 True          True        4m22s",
            &["False"],
            "a finished run is Progressing=False, UpdateRunSucceeded (spec 3.14)",
        ),
        SETTLE,
    );
    w.table(
        "kubectl get crp example-placement",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
example-placement   1     True        1               True        1               134m",
        ),
        SETTLE,
    );
    w.note("test-cm is deployed on all 3 member clusters, with the latest data");
    w.members_print(MEMBERS, CM_KEY, "value2", SETTLE);

    w.section("Using Latest Snapshot Automatically");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: example-run-latest
spec:
  placementName: example-placement
  # resourceSnapshotIndex omitted - uses latest automatically
  stagedRolloutStrategyName: example-strategy
  state: Run  # Start immediately
EOF"#,
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run-latest created",
    );
    w.prints_eventually(
        "kubectl get csur example-run-latest -o jsonpath='{.status.resourceSnapshotIndexUsed}'",
        "1",
        SETTLE,
    );

    w.section("Pausing and Resuming a Rollout");
    w.note(
        "fix: the document pauses example-run, which has already succeeded and stays succeeded (a finished run is terminal, spec 3.2); \
         the test pauses example-run-latest, the rollout in progress that the previous section started",
    );
    w.run_prints(
        "# Pause the rollout\nkubectl patch csur example-run-latest --type='merge' -p '{\"spec\":{\"state\":\"Stop\"}}'",
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run-latest patched",
    );
    w.table(
        "kubectl get csur example-run-latest",
        Table::doc(
            "NAME          PLACEMENT           RESOURCE-SNAPSHOT   POLICY-SNAPSHOT   INITIALIZED   PROGRESSING   SUCCEEDED   AGE
example-run   example-placement   1                   0                 True          False                     8m",
        )
        .rename("RESOURCE-SNAPSHOT", "RESOURCE-SNAPSHOT-INDEX", SD3)
        .rename("POLICY-SNAPSHOT", "POLICY-SNAPSHOT-INDEX", SD3)
        .with_cell("example-run", "NAME", "example-run-latest", "the paused run (see the fix above)"),
        SETTLE,
    );
    w.prints_eventually(
        r#"kubectl get csur example-run-latest -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}'"#,
        "UpdateRunStopped",
        SETTLE,
    );
    w.run_prints(
        "# Resume the rollout\nkubectl patch csur example-run-latest --type='merge' -p '{\"spec\":{\"state\":\"Run\"}}'",
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run-latest patched",
    );
    w.note("the rollout continues where it was paused: the rest of the staging TimedWait, then the canary approval");
    w.prints_eventually(
        r#"kubectl get csur example-run-latest -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}'"#,
        "UpdateRunWaiting",
        SETTLE,
    );

    w.section("Deploy a second ClusterStagedUpdateRun to rollback to a previous version");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: example-run-2
spec:
  placementName: example-placement
  resourceSnapshotIndex: "0"  # Rollback to previous version
  stagedRolloutStrategyName: example-strategy
  state: Run  # Start rollback immediately
EOF"#,
        "clusterstagedupdaterun.placement.kubernetes-fleet.io/example-run-2 created",
    );
    w.note("following the same steps as the first run: member2 first, the 1m TimedWait in full, then both canary approvals");
    w.members_print(&["member2"], CM_KEY, "value1", SETTLE);
    w.table(
        "kubectl get clusterapprovalrequest example-run-2-canary-before",
        Table::doc(
            "NAME                          UPDATE-RUN      STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-2-canary-before   example-run-2   canary                                 15s",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.run_prints(
        r#"kubectl patch clusterapprovalrequests example-run-2-canary-before --type=merge -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"lgtm","message":"approved to start canary","lastTransitionTime":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","observedGeneration":1}]}}' --subresource=status"#,
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-2-canary-before patched",
    );
    w.table(
        "kubectl get clusterapprovalrequest example-run-2-canary-after",
        Table::doc(
            "NAME                         UPDATE-RUN      STAGE    APPROVED   APPROVALACCEPTED   AGE
example-run-2-canary-after   example-run-2   canary                                 2m2s",
        ),
        SETTLE,
    );
    w.run_prints(
        "kubectl patch clusterapprovalrequests example-run-2-canary-after --type='merge' --subresource=status --patch-file approval.json",
        "clusterapprovalrequest.placement.kubernetes-fleet.io/example-run-2-canary-after patched",
    );
    w.object(
        "kubectl get csur example-run-2 -o yaml",
        DocYaml::doc(EXAMPLE_RUN_2)
            .replace(
                "    message: \"\"\n    observedGeneration: 1\n    reason: UpdateRunStarted\n    status: \"True\"\n    type: Progressing",
                "    message: All stages are completed\n    observedGeneration: 1\n    reason: UpdateRunSucceeded\n    status: \"False\"\n    type: Progressing",
                "a finished run is Progressing=False, UpdateRunSucceeded (spec 3.14); the document's own table above shows it finished",
            )
            .replace(
                "      message: \"\"\n      observedGeneration: 1\n      reason: StageUpdatingWaiting\n",
                "      message: \"\"\n      observedGeneration: 1\n      reason: StageUpdatingSucceeded\n",
                "SD-6: a completed stage is Progressing=False with StageUpdatingSucceeded, as the Azure document's real output shows",
            )
            .replace(
                "      reason: StageUpdatingStarted\n      status: \"True\"\n      type: Progressing",
                "      reason: StageUpdatingSucceeded\n      status: \"False\"\n      type: Progressing",
                "SD-6: the completed deletion stage looks like every completed stage (Progressing=False, StageUpdatingSucceeded)",
            )
            .without_lines(
                "message: \"\"",
                "doc A prints every message as \"\" (a placeholder); SD-6 takes the messages from the Azure document and upstream",
            ),
        SETTLE,
    );
    w.note("test-cm is back to value1 on all 3 member clusters");
    w.members_print(MEMBERS, CM_KEY, "value1", SETTLE);
}

fn namespace_scoped(w: &mut Walkthrough) {
    w.section("Namespace-Scoped Staged Updates / Setup for Namespace-Scoped Updates");
    w.run_prints(
        "kubectl create ns my-app-namespace",
        "namespace/my-app-namespace created",
    );
    w.run_prints(
        "kubectl create deployment web-app --image=nginx:1.20 --port=80 -n my-app-namespace",
        "deployment.apps/web-app created",
    );
    w.run_prints(
        "kubectl expose deployment web-app --port=80 --target-port=80 -n my-app-namespace",
        "service/web-app exposed",
    );
    fixes::place_app_namespace(w);
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
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
    type: External # enables namespace-scoped staged updates
EOF"#,
        "resourceplacement.placement.kubernetes-fleet.io/web-app-placement created",
    );

    w.section("Check namespace-scoped resource snapshots");
    w.note("fix: `--show-labels` added; the document's table has the LABELS column, which kubectl prints only with it");
    w.table(
        "kubectl get resourcesnapshots -n my-app-namespace --show-labels",
        Table::doc(
            "NAME                         GEN    AGE    LABELS  
web-app-placement-0-snapshot  1     63s    kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=0",
        ),
        SETTLE,
    );
    fixes::set_image(w);
    w.table(
        "kubectl get resourcesnapshots -n my-app-namespace --show-labels",
        Table::doc(
            "NAME                         GEN    AGE    LABELS  
web-app-placement-0-snapshot  1     263s   kubernetes-fleet.io/is-latest-snapshot=false,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=0
web-app-placement-1-snapshot  1     23s    kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=1",
        ),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "", SETTLE);

    w.section("Deploy a StagedUpdateStrategy");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateStrategy
metadata:
  name: app-rollout-strategy
  namespace: my-app-namespace
spec:
  stages:
    - name: dev-clusters
      labelSelector:
        matchLabels:
          environment: staging
      maxConcurrency: 2  # Update 2 dev clusters concurrently
      afterStageTasks:
        - type: TimedWait
          waitTime: 30s
    - name: prod-clusters
      labelSelector:
        matchLabels:
          environment: canary
      sortingLabelKey: order
      maxConcurrency: 1  # Sequential production updates
      beforeStageTasks:
        - type: Approval  # Require approval before production
      afterStageTasks:
        - type: Approval  # Require approval after production
EOF"#,
        "stagedupdatestrategy.placement.kubernetes-fleet.io/app-rollout-strategy created",
    );

    w.section("Deploy a StagedUpdateRun");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateRun
metadata:
  name: web-app-rollout-v1-21
  namespace: my-app-namespace
spec:
  placementName: web-app-placement
  resourceSnapshotIndex: "1"  # Latest snapshot with nginx:1.21
  stagedRolloutStrategyName: app-rollout-strategy
  state: Run  # Start rollout immediately
EOF"#,
        "stagedupdaterun.placement.kubernetes-fleet.io/web-app-rollout-v1-21 created",
    );

    w.section("Monitor namespace-scoped staged rollout");
    let describe = w.run("kubectl describe sur web-app-rollout-v1-21 -n my-app-namespace");
    for shown in [
        "web-app-rollout-v1-21",
        "dev-clusters",
        "prod-clusters",
        "UpdateRunInitializedSuccessfully",
    ] {
        assert!(
            describe.contains(shown),
            "kubectl describe sur does not show {shown}:\n{describe}"
        );
    }
    w.note("dev-clusters (member2) first, then its 30s TimedWait in full (not shortened)");
    w.members_print(&["member2"], DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);
    w.table(
        "kubectl get approvalrequests -n my-app-namespace",
        Table::doc(
            "NAME                                      UPDATE-RUN               STAGE          APPROVED   APPROVALACCEPTED   AGE
web-app-rollout-v1-21-prod-clusters-before web-app-rollout-v1-21   prod-clusters                                15s",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.members_print(CANARY, DEPLOYMENT_IMAGE, "", SETTLE);
    w.run_prints(
        r#"kubectl patch approvalrequests web-app-rollout-v1-21-prod-clusters-before -n my-app-namespace --type='merge' \
  -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved to start prod"}]}}' \
  --subresource=status"#,
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollout-v1-21-prod-clusters-before patched",
    );
    w.note("prod-clusters updates member3, then member1 (maxConcurrency 1, sorted by order)");
    w.members_print(CANARY, DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);
    w.table(
        "kubectl get approvalrequests -n my-app-namespace",
        Table::doc(
            "NAME                                     UPDATE-RUN               STAGE          APPROVED   APPROVALACCEPTED   AGE
web-app-rollout-v1-21-prod-clusters-after web-app-rollout-v1-21   prod-clusters                                2m",
        )
        .with_row(
            &["web-app-rollout-v1-21-prod-clusters-before", "web-app-rollout-v1-21", "prod-clusters", "True", "True", ""],
            "the approved before-stage request still exists",
        ),
        SETTLE,
    );
    w.run_prints(
        r#"kubectl patch approvalrequests web-app-rollout-v1-21-prod-clusters-after -n my-app-namespace --type='merge' \
  -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"prod rollout successful"}]}}' \
  --subresource=status"#,
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollout-v1-21-prod-clusters-after patched",
    );
    w.note("the document prints no tables here; the Azure document's for the same commands apply");
    w.table(
        "kubectl get sur web-app-rollout-v1-21 -n my-app-namespace",
        azure_run_table("web-app-rollout-v1-21", "1"),
        SETTLE,
    );
    w.table(
        "kubectl get resourceplacement web-app-placement -n my-app-namespace",
        Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
web-app-placement   1     True        1               True        1               6m22s",
        ),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "nginx:1.21", SETTLE);

    w.section("Rollback with namespace-scoped staged updates");
    w.run_prints(
        r#"kubectl apply -f - << EOF
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: StagedUpdateRun
metadata:
  name: web-app-rollback-v1-20
  namespace: my-app-namespace
spec:
  placementName: web-app-placement
  resourceSnapshotIndex: "0"  # Previous snapshot with nginx:1.20
  stagedRolloutStrategyName: app-rollout-strategy
  state: Run  # Start rollback immediately
EOF"#,
        "stagedupdaterun.placement.kubernetes-fleet.io/web-app-rollback-v1-20 created",
    );
    w.note("the same monitoring and approval process: member2, the 30s TimedWait, both prod-clusters approvals");
    w.members_print(&["member2"], DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
    w.table(
        "kubectl get approvalrequests web-app-rollback-v1-20-prod-clusters-before -n my-app-namespace",
        Table::doc(
            "NAME                                          UPDATE-RUN               STAGE           APPROVED   APPROVALACCEPTED   AGE
web-app-rollback-v1-20-prod-clusters-before   web-app-rollback-v1-20   prod-clusters                                 15s",
        ),
        AFTER_ONE_MINUTE_WAIT,
    );
    w.run_prints(
        r#"kubectl patch approvalrequests web-app-rollback-v1-20-prod-clusters-before -n my-app-namespace --type='merge' \
  -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved to start prod"}]}}' \
  --subresource=status"#,
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollback-v1-20-prod-clusters-before patched",
    );
    w.members_print(CANARY, DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
    w.table(
        "kubectl get approvalrequests web-app-rollback-v1-20-prod-clusters-after -n my-app-namespace",
        Table::doc(
            "NAME                                         UPDATE-RUN               STAGE           APPROVED   APPROVALACCEPTED   AGE
web-app-rollback-v1-20-prod-clusters-after   web-app-rollback-v1-20   prod-clusters                                 2m",
        ),
        SETTLE,
    );
    w.run_prints(
        r#"kubectl patch approvalrequests web-app-rollback-v1-20-prod-clusters-after -n my-app-namespace --type='merge' \
  -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"prod rollout successful"}]}}' \
  --subresource=status"#,
        "approvalrequest.placement.kubernetes-fleet.io/web-app-rollback-v1-20-prod-clusters-after patched",
    );
    w.table(
        "kubectl get sur web-app-rollback-v1-20 -n my-app-namespace",
        azure_run_table("web-app-rollback-v1-20", "0"),
        SETTLE,
    );
    w.members_print(MEMBERS, DEPLOYMENT_IMAGE, "nginx:1.20", SETTLE);
}

/// The document's "complete status" of the rollback run.
const EXAMPLE_RUN_2: &str = r#"apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  ...
  name: example-run-2
  ...
spec:
  placementName: example-placement
  resourceSnapshotIndex: "0"
  stagedRolloutStrategyName: example-strategy
status:
  conditions:
  - lastTransitionTime: ...
    message: ClusterStagedUpdateRun initialized successfully
    observedGeneration: 1
    reason: UpdateRunInitializedSuccessfully
    status: "True"
    type: Initialized
  - lastTransitionTime: ...
    message: ""
    observedGeneration: 1
    reason: UpdateRunStarted
    status: "True"
    type: Progressing
  - lastTransitionTime: ...
    message: ""
    observedGeneration: 1
    reason: UpdateRunSucceeded # updateRun succeeded 
    status: "True"
    type: Succeeded
  deletionStageStatus:
    clusters: []
    conditions:
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingStarted
      status: "True"
      type: Progressing
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingSucceeded
      status: "True" # no clusters in the deletion stage, it completes directly
      type: Succeeded
    endTime: ...
    stageName: kubernetes-fleet.io/deleteStage
    startTime: ...
  policyObservedClusterCount: 3
  policySnapshotIndexUsed: "0"
  stagedUpdateStrategySnapshot:
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
  stagesStatus:
  - afterStageTaskStatus:
    - conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: AfterStageTaskWaitTimeElapsed
        status: "True"
        type: WaitTimeElapsed
      type: TimedWait
    clusters:
    - clusterName: member2
      conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True"
        type: Succeeded
    conditions:
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingWaiting
      status: "False"
      type: Progressing
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingSucceeded
      status: "True"
      type: Succeeded
    endTime: ...
    stageName: staging
    startTime: ...
  - beforeStageTaskStatus:
    - approvalRequestName: example-run-2-canary-before
      conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: BeforeStageTaskApprovalRequestCreated
        status: "True"
        type: ApprovalRequestCreated
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: BeforeStageTaskApprovalRequestApproved
        status: "True"
        type: ApprovalRequestApproved
      type: Approval
    afterStageTaskStatus:
    - approvalRequestName: example-run-2-canary-after
      conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: AfterStageTaskApprovalRequestCreated
        status: "True"
        type: ApprovalRequestCreated
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: AfterStageTaskApprovalRequestApproved
        status: "True"
        type: ApprovalRequestApproved
      type: Approval
    clusters:
    - clusterName: member3
      conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True"
        type: Succeeded
    - clusterName: member1
      conditions:
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingStarted
        status: "True"
        type: Started
      - lastTransitionTime: ...
        message: ""
        observedGeneration: 1
        reason: ClusterUpdatingSucceeded
        status: "True"
        type: Succeeded
    conditions:
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingWaiting
      status: "False"
      type: Progressing
    - lastTransitionTime: ...
      message: ""
      observedGeneration: 1
      reason: StageUpdatingSucceeded
      status: "True"
      type: Succeeded
    endTime: ...
    stageName: canary
    startTime: ...
"#;
