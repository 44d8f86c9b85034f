#!/usr/bin/env bash
# Run checkov from its own virtualenv (.tools/checkov), installing it from the hashed lock file first
# when that file changed. Usage: charts/tools/checkov.sh --install-only | <checkov arguments>
# checkov pins versions (packaging, ...) that conflict with the workspace, so it cannot join uv.lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
uv="${UV:-$root/.tools/bin/uv}"
venv="$root/.tools/checkov"
requirements="$root/charts/tools/checkov-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ ! -x "$uv" ]]; then
  echo "checkov.sh: $uv is missing; run 'make install' first" >&2
  exit 2
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  "$uv" venv --quiet --allow-existing --python "$root/.venv/bin/python" "$venv"
  "$uv" pip sync --quiet --require-hashes --python "$venv/bin/python" "$requirements"
  echo "$want" > "$stamp"
fi
if [[ "${1:-}" == "--install-only" ]]; then
  exit 0
fi
exec "$venv/bin/checkov" "$@"
