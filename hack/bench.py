#!/usr/bin/env python3
"""Fleet-scale benchmark of Stagehand's hub against simulated members (fleetsim).

Each scenario starts a fresh hub control plane (tools/testcp), installs crds/, starts
`fleetsim` (the simulated members) and `stagehand hub` (release builds), drives the scenario
with kubectl as a user would, and prints one table. Numbers come from one run on this machine;
nothing here is asserted.

  hack/bench.py                      # 100 and 1,000 clusters, 100 parallel runs over 1,000,
                                     # a hub restart with 1,000 placements and 100 runs in flight
  hack/bench.py --scenarios single --sizes 10000   # make bench-10k
  hack/bench.py --sizes 100 --scenarios single     # a quick look
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
STAGES = [("one", 20), ("two", 30), ("three", 50)]


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """A hub control plane, and the processes started against it."""

    def __init__(self, testcp, workdir):
        self.dir = os.path.join(workdir, "hub")
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []
        self.cp = subprocess.Popen(
            [testcp, "--name", "hub", "--data-dir", self.dir, "--controllers", "--exit-with-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "testcp.log"), "w"),
            text=True)
        deadline = time.time() + 180
        while True:
            line = self.cp.stdout.readline()
            if line.startswith("READY "):
                break
            if not line and self.cp.poll() is not None or time.time() > deadline:
                raise SystemExit(f"bench: the hub control plane did not start; see {self.dir}/testcp.log")
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.kubeconfig = fields["kubeconfig"]
        self.version = fields.get("version", "?")
        self.kubectl("apply", "--server-side", "-f", os.path.join(ROOT, "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")

    def kubectl(self, *args, stdin=None, check=True):
        out = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], input=stdin,
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            raise SystemExit(f"bench: kubectl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def get_json(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def start(self, name, argv, env=None):
        log_path = os.path.join(self.dir, f"{name}.log")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(log_path + ".out", "w"),
                                stderr=open(log_path, "w"),
                                env={**os.environ, "KUBECONFIG": self.kubeconfig, **(env or {})})
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.cp.stdin.close()
        try:
            self.cp.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.cp.kill()


class Usage:
    """CPU seconds and peak RSS of one process, from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def cpu_seconds(self):
        fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def peak_rss_mib(self):
        for line in open(f"/proc/{self.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def wait_until(what, timeout, check, every=1.0):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise TimeoutError(f"{what}: not after {timeout}s")
        time.sleep(every)


def metrics(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    except OSError:
        return ""


def metric_sums(text, name):
    """Series of a counter, by their label sets."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + "_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels[labels.index("{"):]] = out.get(labels[labels.index("{"):], 0) + float(value)
    return out


def labels_of(series):
    return dict(re.findall(r'(\w+)="([^"]*)"', series))


class Fleet:
    """A hub with N simulated members and `stagehand hub` running."""

    def __init__(self, args, workdir, clusters, groups=1, latency=None):
        self.hub = Hub(args.testcp, workdir)
        self.clusters = clusters
        self.record = os.path.join(self.hub.dir, "members.jsonl")
        split = "bench-stage=" + ",".join(f"{v}:{p}" for v, p in STAGES)
        sim = [args.fleetsim, "--clusters", str(clusters), "--create-member-clusters", "--split", split,
               "--heartbeat-period", str(args.heartbeat), "--latency", latency or args.latency,
               "--record", self.record]
        if groups > 1:
            sim += ["--spread", "bench-group=" + ",".join(f"g{i}" for i in range(groups))]
        self.sim = self.hub.start("fleetsim", sim)
        self.port = free_port()
        hub = [args.stagehand, "hub", "--leader-elect=false", "--http-addr", f"127.0.0.1:{self.port}",
               "--resource-snapshot-creation-minimum-interval", "0s", "--resource-changes-collection-duration", "0s"]
        self.hub_argv = hub
        self.stagehand = self.hub.start("stagehand-hub", hub, env={"RUST_LOG": "info,kube=warn"})
        self.usage = Usage(self.stagehand.pid)
        if args.perf:
            self.hub.start("perf", ["perf", "record", "-F", "49", "--call-graph", "dwarf,16384", "-p", str(self.stagehand.pid),
                                    "-o", os.path.join(self.hub.dir, "perf.data")])
        started = time.time()
        # Listing every MemberCluster is itself load on a 2-core hub: poll a big fleet less often.
        wait_until(f"{clusters} member clusters joined", 120 + clusters * 0.2, self.all_joined,
                   every=max(2, clusters / 500))
        self.join_seconds = time.time() - started
        log(f"{clusters} clusters joined in {self.join_seconds:.1f}s")

    def all_joined(self):
        members = self.hub.get_json("memberclusters")["items"]
        joined = sum(1 for m in members
                     for c in m.get("status", {}).get("conditions", []) if c["type"] == "Joined" and c["status"] == "True")
        return joined >= self.clusters

    def place(self, name, namespace, group=None, value="v0"):
        """A namespace with a ConfigMap, placed by an External CRP on every cluster (of a group)."""
        self.hub.kubectl("apply", "-f", "-", stdin=self.placement_yaml(name, namespace, group, value))

    def place_many(self, placements, batch=100):
        """Several placements (name, namespace, group), one kubectl call per batch."""
        for start in range(0, len(placements), batch):
            docs = "---".join(self.placement_yaml(*p) for p in placements[start:start + batch])
            self.hub.kubectl("apply", "-f", "-", stdin=docs)

    def placement_yaml(self, name, namespace, group=None, value="v0"):
        affinity = ""
        if group is not None:
            affinity = f"""
    affinity:
      clusterAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          clusterSelectorTerms:
            - labelSelector:
                matchLabels:
                  bench-group: {group}"""
        return f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: bench
  namespace: {namespace}
data:
  key: {value}
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: {name}
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      version: v1
      name: {namespace}
  policy:
    placementType: PickAll{affinity}
  strategy:
    type: External
"""

    def strategy(self, name="bench-3-stages"):
        stages = "".join(f"""
    - name: {value}
      maxConcurrency: 50%
      labelSelector:
        matchLabels:
          bench-stage: {value}""" for value, _ in STAGES)
        self.hub.kubectl("apply", "-f", "-", stdin=f"""
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateStrategy
metadata:
  name: {name}
spec:
  stages:{stages}
""")
        return name

    def run_yaml(self, run, placement, index, strategy="bench-3-stages"):
        return f"""
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterStagedUpdateRun
metadata:
  name: {run}
spec:
  placementName: {placement}
  resourceSnapshotIndex: "{index}"
  stagedRolloutStrategyName: {strategy}
  state: Run
"""

    def bindings(self, placement):
        out = self.hub.kubectl("get", "clusterresourcebindings", "-l", f"kubernetes-fleet.io/parent-CRP={placement}",
                               "-o", "name")
        return len(out.split())

    def snapshot_exists(self, placement, index):
        return bool(self.hub.kubectl("get", "clusterresourcesnapshots", "--ignore-not-found", "-o", "name",
                                     f"{placement}-{index}-snapshot").strip())

    def timed_run(self, run, placement, index, timeout):
        started = time.time()
        self.hub.kubectl("apply", "-f", "-", stdin=self.run_yaml(run, placement, index))
        out = subprocess.run(["kubectl", "--kubeconfig", self.hub.kubeconfig, "wait", "--for=condition=Succeeded",
                              f"clusterstagedupdaterun/{run}", f"--timeout={timeout}s"], capture_output=True, text=True)
        elapsed = time.time() - started
        if out.returncode != 0:
            log(f"run {run} did not succeed within {timeout}s")
            return None
        log(f"run {run} (index {index}) succeeded in {elapsed:.1f}s")
        return elapsed

    def largest_objects(self):
        sizes = {}
        for kind, label in [("clusterstagedupdaterun", "run"), ("clusterresourcebinding", "binding"),
                            ("work", "Work"), ("clusterresourcesnapshot", "snapshot"),
                            ("clusterresourceplacement", "placement"),
                            ("clusterschedulingpolicysnapshot", "policy snapshot"), ("membercluster", "member")]:
            items = self.hub.get_json(kind, "-A")["items"]
            sizes[label] = max((len(json.dumps(i, separators=(",", ":"))) for i in items), default=0)
        return sizes

    def api_requests(self):
        series = metric_sums(metrics(self.port), "stagehand_hub_api_requests")
        out = {}
        for labels, value in series.items():
            l = labels_of(labels)
            key = (l.get("verb", "?"), l.get("resource", "?"), l.get("manager", ""))
            out[key] = out.get(key, 0) + value
        return out

    def reconcile_errors(self):
        series = metric_sums(metrics(self.port), "stagehand_reconciliations")
        return sum(v for k, v in series.items() if 'result="success"' not in k)

    def restart_hub(self):
        """Stops `stagehand hub` (SIGTERM, as a rolling update does) and starts a new one."""
        self.stagehand.terminate()
        self.stagehand.wait(timeout=30)
        self.stagehand = self.hub.start("stagehand-hub-2", self.hub_argv, env={"RUST_LOG": "info,kube=warn"})
        self.usage = Usage(self.stagehand.pid)

    def close(self):
        self.hub.stop()


def writes(requests):
    return sum(v for (verb, _, _), v in requests.items() if verb in ("create", "update", "patch", "delete"))


def fmt_requests(requests, top=10):
    """The most frequent requests, each with the controller (field manager) that sent it."""
    ranked = sorted(requests.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{verb} {res}{f' ({manager})' if manager else ''} {int(n)}"
                     for (verb, res, manager), n in ranked)


def scenario_single(args, workdir, n, results):
    """One 3-stage run over N clusters, a run after a content change, and a rollback."""
    fleet = Fleet(args, workdir, n)
    try:
        start_cpu = fleet.usage.cpu_seconds()
        placement = "bench"
        t0 = time.time()
        fleet.strategy()
        fleet.place(placement, "bench-ns")
        wait_until(f"{n} bindings", 900, lambda: fleet.bindings(placement) >= n, every=1)
        scheduled = time.time() - t0
        log(f"{n} bindings scheduled in {scheduled:.1f}s")
        wait_until("snapshot 0", 120, lambda: fleet.snapshot_exists(placement, 0))
        req0 = fleet.api_requests()
        first = fleet.timed_run("bench-run-0", placement, 0, args.timeout)
        req1 = fleet.api_requests()
        second = rollback = None
        if args.runs > 1:
            fleet.hub.kubectl("patch", "configmap", "bench", "-n", "bench-ns", "--type", "merge", "-p",
                              '{"data":{"key":"v1"}}')
            wait_until("snapshot 1", 120, lambda: fleet.snapshot_exists(placement, 1), every=0.5)
            second = fleet.timed_run("bench-run-1", placement, 1, args.timeout)
        if args.runs > 2:
            rollback = fleet.timed_run("bench-run-2", placement, 0, args.timeout)
        cpu = fleet.usage.cpu_seconds() - start_cpu
        requests = fleet.api_requests()
        run_requests = {k: v - req0.get(k, 0) for k, v in req1.items()}
        results.append({
            "scenario": f"{n} clusters: 3-stage run", "n": n, "first": first, "content": second,
            "rollback": rollback, "scheduled": scheduled, "join": fleet.join_seconds,
            "cpu": cpu, "rss": fleet.usage.peak_rss_mib(), "requests": requests,
            "writes_per_cluster_run": writes(run_requests) / n,
            "largest": fleet.largest_objects(), "errors": fleet.reconcile_errors(),
        })
    finally:
        fleet.close()


def scenario_parallel(args, workdir, members, placements, results):
    """`placements` placements of members/10 clusters each (10 label groups), one run each, all at once."""
    groups = 10
    fleet = Fleet(args, workdir, members, groups=groups)
    try:
        start_cpu = fleet.usage.cpu_seconds()
        fleet.strategy()
        per_group = members // groups
        fleet.place_many([(f"bench-{p}", f"bench-ns-{p}", f"g{p % groups}") for p in range(placements)])
        wait_until("every placement's bindings", 900,
                   lambda: len(fleet.hub.kubectl("get", "clusterresourcebindings", "-o", "name").split())
                   >= placements * per_group, every=2)
        wait_until("every placement's snapshot", 300,
                   lambda: len(fleet.hub.kubectl("get", "clusterresourcesnapshots", "-o", "name").split()) >= placements)
        yaml = "---".join(fleet.run_yaml(f"bench-par-{p}", f"bench-{p}", 0) for p in range(placements))
        started = time.time()
        fleet.hub.kubectl("apply", "-f", "-", stdin=yaml)

        def done():
            runs = fleet.hub.get_json("clusterstagedupdaterun")["items"]
            finished = [r for r in runs if any(c["type"] == "Succeeded" and c["status"] != "Unknown"
                                               for c in r.get("status", {}).get("conditions", []))]
            return len(finished) >= placements and runs

        runs = wait_until(f"{placements} runs finished", args.timeout, done, every=2)
        wall = time.time() - started
        durations = []
        for r in runs:
            created = r["metadata"]["creationTimestamp"]
            end = next(c["lastTransitionTime"] for c in r["status"]["conditions"] if c["type"] == "Succeeded")
            durations.append(iso(end) - iso(created))
        durations.sort()
        results.append({
            "scenario": f"{members} members, {placements} runs of {per_group} clusters in parallel", "n": members,
            "p50": statistics.median(durations), "p90": durations[int(len(durations) * 0.9) - 1], "wall": wall,
            "failed": sum(1 for r in runs for c in r["status"]["conditions"]
                          if c["type"] == "Succeeded" and c["status"] == "False"),
            "cpu": fleet.usage.cpu_seconds() - start_cpu, "rss": fleet.usage.peak_rss_mib(),
            "requests": fleet.api_requests(), "largest": fleet.largest_objects(),
            "errors": fleet.reconcile_errors(),
        })
    finally:
        fleet.close()


def scenario_restart(args, workdir, members, placements, runs, results):
    """`placements` placements over `members` members (groups of 10), `runs` of them with a run in
    flight (members answer after a 5 s latency); the hub restarts; how long until every run moves."""
    groups = members // 10
    fleet = Fleet(args, workdir, members, groups=groups, latency="5s")
    try:
        fleet.strategy()
        fleet.place_many([(f"bench-{p}", f"bench-ns-{p}", f"g{p % groups}") for p in range(placements)])
        wait_until(f"{placements} placements snapshotted", 1800,
                   lambda: len(fleet.hub.kubectl("get", "clusterresourcesnapshots", "-o", "name").split()) >= placements,
                   every=5)
        wait_until("every placement's bindings", 1800,
                   lambda: len(fleet.hub.kubectl("get", "clusterresourcebindings", "-o", "name").split())
                   >= placements * 10, every=5)
        log(f"{placements} placements scheduled")
        docs = "---".join(fleet.run_yaml(f"bench-rs-{p}", f"bench-{p}", 0) for p in range(runs))
        fleet.hub.kubectl("apply", "-f", "-", stdin=docs)

        def versions():
            items = fleet.hub.get_json("clusterstagedupdaterun")["items"]
            return {r["metadata"]["name"]: (r["metadata"]["resourceVersion"],
                                            any(c["type"] == "Succeeded" and c["status"] != "Unknown"
                                                for c in r.get("status", {}).get("conditions", [])))
                    for r in items}

        # Every run started (a cluster updating) and none finished: the runs are in flight.
        wait_until(f"{runs} runs in flight", 600, lambda: sum(
            1 for r in fleet.hub.get_json("clusterstagedupdaterun")["items"]
            if any(c["type"] == "Progressing" for c in r.get("status", {}).get("conditions", []))) >= runs, every=2)
        before = versions()
        fleet.restart_hub()
        restarted = time.time()
        moved = {}
        deadline = restarted + args.timeout
        while len(moved) < runs and time.time() < deadline:
            for name, (version, finished) in versions().items():
                if name not in moved and (version != before[name][0] or finished):
                    moved[name] = time.time() - restarted
            time.sleep(0.5)
        waits = sorted(moved.values())
        log(f"{len(moved)} of {runs} runs moved after the restart; the last after {waits[-1] if waits else 0:.1f}s")
        results.append({
            "scenario": f"hub restart: {placements} placements over {members} members, {runs} runs in flight",
            "n": members, "restart_all": waits[-1] if len(moved) == runs else None,
            "restart_p50": statistics.median(waits) if waits else None, "moved": len(moved), "runs": runs,
            "cpu": fleet.usage.cpu_seconds(), "rss": fleet.usage.peak_rss_mib(),
            "requests": fleet.api_requests(), "largest": fleet.largest_objects(),
            "errors": fleet.reconcile_errors(),
        })
    finally:
        fleet.close()


def iso(text):
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def secs(value):
    return "not done" if value is None else f"{value:.1f} s"


def print_table(results, args):
    cores = os.cpu_count()
    print()
    print(f"Stagehand fleet benchmark ({cores} cores, fleetsim latency {args.latency}, heartbeat {args.heartbeat}s)")
    print()
    print("| scenario | measure | value |")
    print("|---|---|---|")
    for r in results:
        print_rows(r)
    print()


def print_rows(r):
    """The table rows of one scenario's result."""
    if True:
        s = r["scenario"]
        rows = []
        if "restart_all" in r:
            rows += [("every run moving again after the restart", secs(r["restart_all"])),
                     ("runs moving again: p50 / how many", f"{secs(r['restart_p50'])} / {r['moved']} of {r['runs']}")]
        elif "first" in r:
            rows += [("first run, create → Succeeded", secs(r["first"])),
                     ("run after a content change", secs(r["content"])),
                     ("rollback run to index 0", secs(r["rollback"])),
                     ("members joined in / bindings scheduled in", f"{r['join']:.1f} s / {r['scheduled']:.1f} s"),
                     ("hub writes per cluster per run (first run)", f"{r['writes_per_cluster_run']:.1f}")]
        else:
            rows += [("run time p50 / p90", f"{r['p50']:.0f} s / {r['p90']:.0f} s"),
                     ("all runs done (wall)", f"{r['wall']:.1f} s"), ("runs failed", str(r["failed"]))]
        cpu_label = "new hub CPU-seconds / peak RSS" if "restart_all" in r else "hub CPU-seconds / peak RSS"
        rows += [(cpu_label, f"{r['cpu']:.1f} / {r['rss']:.0f} MiB"),
                 ("hub reconcile errors", f"{r['errors']:.0f}"),
                 ("hub API requests (top)", fmt_requests(r["requests"]) or "n/a"),
                 ("largest object written (bytes)",
                  ", ".join(f"{k} {v}" for k, v in sorted(r["largest"].items(), key=lambda kv: -kv[1])))]
        for measure, value in rows:
            print(f"| {s} | {measure} | {value} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000", help="cluster counts of the single-run scenario")
    parser.add_argument("--scenarios", default="single,parallel,restart", help="single, parallel, restart")
    parser.add_argument("--parallel", default="1000x100", help="members x placements of the parallel scenario")
    parser.add_argument("--restart", default="1000x1000x100",
                        help="members x placements x runs in flight of the restart scenario")
    parser.add_argument("--latency", default="0s", help="fleetsim apply latency")
    parser.add_argument("--heartbeat", type=int, default=60, help="heartbeat period of the simulated members (s)")
    parser.add_argument("--timeout", type=int, default=900, help="longest wait for one run (s)")
    parser.add_argument("--runs", type=int, default=3, choices=[1, 2, 3],
                        help="runs of the single-run scenario: first, + content change, + rollback")
    parser.add_argument("--perf", action="store_true", help="record a CPU profile of the hub (perf.data in the work directory)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, record)")
    args = parser.parse_args()
    args.testcp = subprocess.run([os.path.join(ROOT, "hack/testcp-build.sh")], capture_output=True, text=True,
                                 check=True).stdout.strip()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    args.stagehand = os.path.join(ROOT, "target/release/stagehand")
    args.fleetsim = os.path.join(ROOT, "target/release/fleetsim")
    results = []
    scenarios = args.scenarios.split(",")
    for n in [int(s) for s in args.sizes.split(",") if s] if "single" in scenarios else []:
        workdir = tempfile.mkdtemp(prefix=f"bench-{n}-")
        log(f"scenario: one run over {n} clusters ({workdir})")
        scenario_single(args, workdir, n, results)
        log("result so far:")
        print_rows(results[-1])
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if "parallel" in scenarios:
        members, placements = (int(x) for x in args.parallel.split("x"))
        workdir = tempfile.mkdtemp(prefix="bench-par-")
        log(f"scenario: {placements} runs in parallel over {members} members ({workdir})")
        try:
            scenario_parallel(args, workdir, members, placements, results)
        except TimeoutError as error:
            log(f"parallel scenario not finished: {error}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if "restart" in scenarios:
        members, placements, runs = (int(x) for x in args.restart.split("x"))
        workdir = tempfile.mkdtemp(prefix="bench-restart-")
        log(f"scenario: hub restart with {placements} placements and {runs} runs in flight ({workdir})")
        try:
            scenario_restart(args, workdir, members, placements, runs, results)
            print_rows(results[-1])
        except TimeoutError as error:
            log(f"restart scenario not finished: {error}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results, args)


if __name__ == "__main__":
    main()
