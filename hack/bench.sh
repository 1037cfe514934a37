#!/usr/bin/env bash
# Benchmarks of the local fleet, printed as a table (never asserted by a test):
# start-up time of 4 control planes started together, their RSS, and CRD installation time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/hack/testcp-build.sh")
dir=$(mktemp -d)
clusters=(hub member1 member2 member3)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

now() { date +%s.%N; }
t0=$(now)
for c in "${clusters[@]}"; do
  mkdir -p "$dir/$c"
  extra=(--controllers); [ "$c" != hub ] && extra+=(--simulate-pods)
  "$bin" --name "$c" --data-dir "$dir/$c" "${extra[@]}" >"$dir/$c/ready" 2>"$dir/$c/log" </dev/null &
  pids+=($!)
done
declare -A ready_at
pending=("${clusters[@]}")
deadline=$(( $(date +%s) + 180 ))
while [ ${#pending[@]} -gt 0 ]; do
  next=()
  for c in "${pending[@]}"; do
    if grep -q '^READY ' "$dir/$c/ready"; then ready_at[$c]=$(now); else next+=("$c"); fi
  done
  pending=("${next[@]+"${next[@]}"}")
  [ "$(date +%s)" -lt $deadline ] || { echo "bench: clusters not ready after 180s: ${pending[*]}" >&2; exit 1; }
  sleep 0.05
done
t_all=$(now)
t1=$(now)
kubectl --kubeconfig "$dir/hub/kubeconfig" apply --server-side -f "$root/crds" >/dev/null
kubectl --kubeconfig "$dir/hub/kubeconfig" wait --for=condition=Established crd --all --timeout=120s >/dev/null
t_crds=$(now)
sleep 2
version=$(sed -n 's/.* version=\([^ ]*\).*/\1/p' "$dir/hub/ready")

echo
echo "Local fleet benchmark (kube-apiserver $version, $(nproc) cores)"
printf '%-22s %12s %10s\n' "cluster" "ready (s)" "RSS (MiB)"
i=0
for c in "${clusters[@]}"; do
  rss=$(awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/${pids[$i]}/status")
  printf '%-22s %12.2f %10s\n' "$c" "$(awk "BEGIN{print ${ready_at[$c]} - $t0}")" "$rss"
  i=$((i + 1))
done
printf '%-22s %12.2f\n' "all 4 clusters ready" "$(awk "BEGIN{print $t_all - $t0}")"
printf '%-22s %12.2f\n' "18 CRDs Established" "$(awk "BEGIN{print $t_crds - $t1}")"
