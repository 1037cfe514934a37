#!/usr/bin/env python3
"""Lints, renders and checks the hub's Helm chart (deploy/charts/stagehand) with helm-python-sdk.

    hack/helm.py lint              helm lint; fails on errors
    hack/helm.py template [ns]     prints the rendered manifests (CRDs first), as `helm template`
    hack/helm.py rbac [ns]         prints only the rendered ServiceAccount and RBAC objects
    hack/helm.py check             lint + render + the chart's promises (below); fails loudly

The promises checked on the rendered chart: a non-root Deployment with a read-only root
filesystem, resource requests and probes on /healthz and /readyz; the leader election Lease RBAC;
no `*` verb anywhere; a `*` resource only in the read-only rule of the dynamic resource watcher;
status and finalizer subresources named; every CRD of crds/ shipped; the `compat` value renders
the hub's `--compat` flag (SD-25), `documents` by default.
"""
import os
import sys

import helm_python as helm
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "deploy", "charts", "stagehand")
helm.disable_logging()


def lint():
    result = helm.lint(CHART)
    for message in result["messages"]:
        print(f"lint: {message['path']}: {message['error']}", file=sys.stderr)
    if result["errors"]:
        sys.exit(f"helm lint failed: {result['errors']}")


def render(namespace="fleet-system", values=None):
    chart = helm.Chart.load(CHART)
    rendered = chart.render(values or {}, name="stagehand", namespace=namespace)
    docs = []
    for crd in chart.crds:
        text = crd["data"] if isinstance(crd, dict) else crd
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    for path in sorted(rendered):
        docs.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    return docs


def fail(message):
    sys.exit(f"chart check failed: {message}")


def check():
    lint()
    docs = render()
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    shipped = {d["metadata"]["name"] for d in by_kind.get("CustomResourceDefinition", [])}
    wanted = {f[:-5] for f in os.listdir(os.path.join(ROOT, "crds")) if f.endswith(".yaml")}
    if shipped != wanted:
        fail(f"CRDs differ from crds/: missing {wanted - shipped}, extra {shipped - wanted}")
    [deployment] = by_kind["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    if not pod["securityContext"].get("runAsNonRoot"):
        fail("the pod must run as non-root")
    [container] = pod["containers"]
    if not container["securityContext"].get("readOnlyRootFilesystem"):
        fail("the root filesystem must be read-only")
    if not container.get("resources", {}).get("requests"):
        fail("resource requests are missing")
    probes = (container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"])
    if probes != ("/healthz", "/readyz"):
        fail(f"probes must be /healthz and /readyz, not {probes}")
    rules = [r for kind in ("ClusterRole", "Role") for doc in by_kind.get(kind, []) for r in doc["rules"]]
    for rule in rules:
        if "*" in rule["verbs"]:
            fail(f"a `*` verb: {rule}")
        if "*" in rule.get("resources", []) and set(rule["verbs"]) - {"get", "list", "watch"}:
            fail(f"a `*` resource beyond the read-only watcher rule: {rule}")
    named = {res for rule in rules for res in rule.get("resources", [])}
    for needed in ("clusterstagedupdateruns/status", "clusterresourcebindings/status", "memberclusters/status",
                   "clusterresourceplacements/finalizers", "leases"):
        if needed not in named:
            fail(f"no rule names {needed}")
    args = container["args"]
    if "--compat=documents" not in args:
        fail(f"the default compatibility profile must be `documents` (SD-25): {args}")
    [upstream] = [d for d in render(values={"compat": "upstream"}) if d["kind"] == "Deployment"]
    if "--compat=upstream" not in upstream["spec"]["template"]["spec"]["containers"][0]["args"]:
        fail("the chart value compat=upstream does not reach the hub's --compat flag")
    print(f"chart ok: {len(docs)} objects ({len(shipped)} CRDs), {len(rules)} RBAC rules")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "lint":
        lint()
    elif command == "template":
        print(yaml.safe_dump_all(render(*sys.argv[2:3]), sort_keys=False), end="")
    elif command == "rbac":
        kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
        docs = [d for d in render(*sys.argv[2:3]) if d["kind"] in kinds]
        print(yaml.safe_dump_all(docs, sort_keys=False), end="")
    elif command == "check":
        check()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
