#!/usr/bin/env bash
# `make chaos`: the crash and fault matrix (tests/integration/chaos) at full size, one test at a
# time, then the figures. The whole output is kept in target/chaos.log.
set -euo pipefail
cd "$(dirname "$0")/.."
testcp=$(hack/testcp-build.sh)
log=target/chaos.log
mkdir -p target
status=0
STAGEHAND_CHAOS=full STAGEHAND_TESTCP="$testcp" cargo test --test integration chaos:: -- --nocapture --test-threads=1 >"$log" 2>&1 || status=$?
# The figures: each test prints a title line and a table.
grep -E '^(Crash matrix|Faults|Leader handover|Two replicas)|^\|' "$log" || true
grep -E '^test result|panicked' "$log" || true
echo "full output: $log"
exit "$status"
