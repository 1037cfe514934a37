#!/usr/bin/env bash
# The local fleet: a hub and three member clusters, each a real control plane from tools/testcp,
# running on 127.0.0.1 until `fleet.sh down`.
#
#   hack/fleet.sh up       start (or keep) hub, member1, member2, member3; install CRDs; create the
#                          MemberClusters; start `stagehand hub` against the hub and one
#                          `stagehand member` agent per member cluster
#   hack/fleet.sh down     stop them (data is kept; `down --purge` removes it)
#   hack/fleet.sh status   show what runs
#
# FLEET_DIR (default .fleet) holds each cluster's data, logs and the merged kubeconfig
# ($FLEET_DIR/kubeconfig, contexts hub, member1, member2, member3). `stagehand hub` serves its
# health endpoint on 127.0.0.1:${STAGEHAND_HUB_PORT:-18080} and logs to $FLEET_DIR/stagehand-hub.log;
# the agent of memberN serves on 127.0.0.1:$((STAGEHAND_HUB_PORT + N)) and logs to
# $FLEET_DIR/stagehand-memberN.log.
#
# STAGEHAND_BIN uses a prebuilt `stagehand` instead of `cargo build` (the tests pass theirs).
# FLEET_HUB_RBAC=chart runs `stagehand hub` the way the Helm chart does: with nothing but the
# chart's ServiceAccount token (its ClusterRole and Role, rendered by `hack/helm.py rbac`, applied
# in namespace fleet-system) and its Lease in that namespace. The default is the hub's admin
# kubeconfig.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${FLEET_DIR:-$root/.fleet}
members=(member1 member2 member3)
hub_port=${STAGEHAND_HUB_PORT:-18080}
stagehand=${STAGEHAND_BIN:-$root/target/debug/stagehand}
hub_rbac=${FLEET_HUB_RBAC:-admin}
clusters=(hub "${members[@]}")

running() { [ -f "$dir/$1/pid" ] && kill -0 "$(cat "$dir/$1/pid")" 2>/dev/null; }

start_cluster() {
  local name=$1 bin=$2
  mkdir -p "$dir/$name"
  if running "$name"; then
    echo "fleet: $name already running (pid $(cat "$dir/$name/pid"))"
    return
  fi
  local extra=(--controllers)
  [ "$name" != hub ] && extra+=(--simulate-pods)
  rm -f "$dir/$name/ready"
  nohup "$bin" --name "$name" --data-dir "$dir/$name" "${extra[@]}" \
    >"$dir/$name/ready" 2>"$dir/$name/testcp.log" </dev/null &
  echo $! >"$dir/$name/pid"
}

wait_ready() {
  local name=$1 deadline=$((SECONDS + 180))
  until grep -q '^READY ' "$dir/$name/ready" 2>/dev/null; do
    if ! running "$name"; then
      echo "fleet: $name exited; last log lines:" >&2
      tail -20 "$dir/$name/testcp.log" >&2
      exit 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "fleet: $name not ready after 180s (see $dir/$name/testcp.log)" >&2; exit 1; }
    sleep 0.2
  done
}

up() {
  local bin start
  bin=$("$root/hack/testcp-build.sh")
  start=$SECONDS
  for c in "${clusters[@]}"; do start_cluster "$c" "$bin"; done
  for c in "${clusters[@]}"; do wait_ready "$c"; done
  echo "fleet: 4 control planes ready in $((SECONDS - start))s"
  KUBECONFIG=$(printf "$dir/%s/kubeconfig:" "${clusters[@]}") kubectl config view --flatten >"$dir/kubeconfig.tmp"
  mv "$dir/kubeconfig.tmp" "$dir/kubeconfig"
  kubectl --kubeconfig "$dir/kubeconfig" config use-context hub >/dev/null
  local k=(kubectl --kubeconfig "$dir/kubeconfig")
  "${k[@]}" --context hub apply --server-side -f "$root/crds" >/dev/null
  "${k[@]}" --context hub wait --for=condition=Established crd --all --timeout=120s >/dev/null
  for m in "${members[@]}"; do
    "${k[@]}" --context "$m" apply --server-side -f "$root/crds/appliedworks.placement.kubernetes-fleet.io.yaml" >/dev/null
  done
  "${k[@]}" --context hub apply -f "$root/config/samples/memberclusters.yaml" >/dev/null
  echo "fleet: CRDs installed; MemberClusters member1, member2, member3 created on the hub"
  start_stagehand_hub
  local i=0
  for m in "${members[@]}"; do
    i=$((i + 1))
    start_agent "$m" $((hub_port + i))
  done
  wait_joined
  status
  cat <<MSG

Use it:
  export KUBECONFIG=$dir/kubeconfig      # contexts: hub (current), member1, member2, member3
  kubectl get memberclusters --show-labels
MSG
}

start_stagehand_hub() {
  if running stagehand-hub; then
    echo "fleet: stagehand hub already running (pid $(cat "$dir/stagehand-hub/pid"))"
    return
  fi
  [ -n "${STAGEHAND_BIN:-}" ] || (cd "$root" && cargo build --quiet --bin stagehand)
  mkdir -p "$dir/stagehand-hub"
  local kubeconfig="$dir/hub/kubeconfig" args=()
  case "$hub_rbac" in
    admin) ;;
    chart)
      kubeconfig=$(chart_rbac_kubeconfig)
      args=(--leader-election-namespace fleet-system)
      echo "fleet: stagehand hub runs with the chart's RBAC (ServiceAccount fleet-system/stagehand-hub)"
      ;;
    *) echo "fleet: FLEET_HUB_RBAC must be admin or chart, not $hub_rbac" >&2; exit 2 ;;
  esac
  KUBECONFIG="$kubeconfig" nohup "$stagehand" hub --http-addr "127.0.0.1:$hub_port" "${args[@]}" \
    >"$dir/stagehand-hub.log" 2>&1 </dev/null &
  echo $! >"$dir/stagehand-hub/pid"
  local deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$hub_port" && printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3 && grep -q '^ok' <&3) 2>/dev/null; do
    if ! running stagehand-hub || [ $SECONDS -ge $deadline ]; then
      echo "fleet: stagehand hub did not become ready; see $dir/stagehand-hub.log:" >&2
      tail -5 "$dir/stagehand-hub.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "fleet: stagehand hub ready (health on http://127.0.0.1:$hub_port/readyz, log $dir/stagehand-hub.log)"
}

# Writes to `$1` a kubeconfig for the local hub whose only user is `$2` with the credentials `$3`
# (a YAML flow map: a token, or a client certificate and key).
hub_kubeconfig_for() {
  local out=$1 user=$2 credentials=$3 k=(kubectl --kubeconfig "$dir/hub/kubeconfig") server ca
  server=$("${k[@]}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$("${k[@]}" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  cat >"$out" <<CONFIG
apiVersion: v1
kind: Config
current-context: hub
clusters: [{name: hub, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: $user, user: $credentials}]
contexts: [{name: hub, context: {cluster: hub, user: $user}}]
CONFIG
}

# Applies the chart's ServiceAccount and RBAC to the hub and prints the path of a kubeconfig that
# holds only that ServiceAccount's token.
chart_rbac_kubeconfig() {
  local k=(kubectl --kubeconfig "$dir/hub/kubeconfig") python out="$dir/stagehand-hub/kubeconfig"
  python=$("$root/hack/python-tools.sh")
  "${k[@]}" create namespace fleet-system --dry-run=client -o yaml | "${k[@]}" apply -f - >/dev/null
  "$python" "$root/hack/helm.py" rbac fleet-system 2>/dev/null | "${k[@]}" apply -f - >/dev/null
  hub_kubeconfig_for "$out" stagehand-hub "{token: \"$("${k[@]}" create token stagehand-hub -n fleet-system --duration=24h)\"}"
  echo "$out"
}

# Prints the path of a hub kubeconfig for member `$1`'s own identity: a client certificate for
# the user named in its MemberCluster's spec.identity (config/samples: the member's name), signed
# by the hub's CA. The agent can then do on the hub only what the hub grants that identity (its
# own namespace), not what the admin kubeconfig could.
agent_kubeconfig() {
  local m=$1 out="$dir/agent-$m"
  local pki="$dir/hub/pki"
  if [ ! -s "$out/kubeconfig" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/client.key" 2>/dev/null
    openssl req -new -key "$out/client.key" -subj "/CN=$m" -out "$out/client.csr" 2>/dev/null
    # rustls accepts only X.509 v3 certificates: the extensions make it one.
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$out/client.ext"
    openssl x509 -req -in "$out/client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -extfile "$out/client.ext" \
      -set_serial "0x$(openssl rand -hex 8)" -days 365 -out "$out/client.crt" 2>/dev/null
    hub_kubeconfig_for "$out/kubeconfig" "$m" \
      "{client-certificate-data: \"$(base64 -w0 <"$out/client.crt")\", client-key-data: \"$(base64 -w0 <"$out/client.key")\"}"
  fi
  echo "$out/kubeconfig"
}

# One member agent: joins `$1` to the hub under its own identity and applies its Works to the
# member cluster.
start_agent() {
  local m=$1 port=$2
  if running "agent-$m"; then
    echo "fleet: agent of $m already running (pid $(cat "$dir/agent-$m/pid"))"
    return
  fi
  mkdir -p "$dir/agent-$m"
  local hub_kubeconfig
  hub_kubeconfig=$(agent_kubeconfig "$m")
  MEMBER_CLUSTER_NAME=$m HUB_KUBECONFIG="$hub_kubeconfig" KUBECONFIG="$dir/$m/kubeconfig" \
    nohup "$stagehand" member --http-addr "127.0.0.1:$port" \
    >"$dir/stagehand-$m.log" 2>&1 </dev/null &
  echo $! >"$dir/agent-$m/pid"
}

wait_joined() {
  local deadline=$((SECONDS + 60))
  until [ "$(kubectl --kubeconfig "$dir/kubeconfig" --context hub get memberclusters \
      -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Joined")].status}{" "}{end}')" = "True True True " ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "fleet: member clusters did not join within 60s; see $dir/stagehand-member*.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "fleet: member1, member2, member3 joined (agents log to $dir/stagehand-member*.log)"
}

down() {
  for m in "${members[@]}"; do
    if running "agent-$m"; then
      kill -TERM "$(cat "$dir/agent-$m/pid")"
      rm -f "$dir/agent-$m/pid"
    fi
  done
  if running stagehand-hub; then
    kill -TERM "$(cat "$dir/stagehand-hub/pid")"
    rm -f "$dir/stagehand-hub/pid"
  fi
  for c in "${clusters[@]}"; do
    if running "$c"; then
      kill -TERM "$(cat "$dir/$c/pid")"
    fi
  done
  for c in "${clusters[@]}"; do
    local deadline=$((SECONDS + 30))
    while running "$c" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    rm -f "$dir/$c/pid"
  done
  echo "fleet: stopped"
  if [ "${1:-}" = "--purge" ]; then rm -rf "$dir"; echo "fleet: removed $dir"; fi
}

status() {
  printf '%-8s %-8s %-10s %s\n' CLUSTER PID RSS SERVER
  for c in "${clusters[@]}"; do
    if running "$c"; then
      local pid rss server
      pid=$(cat "$dir/$c/pid")
      rss=$(awk '/VmRSS/ {printf "%dMi", $2/1024}' "/proc/$pid/status")
      server=$(sed -n 's/.* server=\([^ ]*\).*/\1/p' "$dir/$c/ready")
      printf '%-8s %-8s %-10s %s\n' "$c" "$pid" "$rss" "$server"
    else
      printf '%-8s %-8s %-10s %s\n' "$c" - - stopped
    fi
  done
  if running stagehand-hub; then
    echo "stagehand hub: pid $(cat "$dir/stagehand-hub/pid"), health http://127.0.0.1:$hub_port/readyz"
  else
    echo "stagehand hub: stopped"
  fi
  for m in "${members[@]}"; do
    if running "agent-$m"; then
      echo "agent $m: pid $(cat "$dir/agent-$m/pid")"
    else
      echo "agent $m: stopped"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) shift; down "${1:-}" ;;
  status) status ;;
  *) echo "usage: $0 up|down [--purge]|status" >&2; exit 2 ;;
esac
