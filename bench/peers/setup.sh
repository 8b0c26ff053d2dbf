#!/usr/bin/env bash
# The peers' Python environments for `authgate-bench --peers`: one venv per peer (the tutorial
# pins pydantic 1 and SQLAlchemy 1.4, fastapi-users needs pydantic 2 and SQLAlchemy 2), each
# with the exact versions of its requirements.txt from PyPI, under one directory:
#   $1 (default: ${CARGO_TARGET_DIR:-<repo>/target}/bench-peers-venv)/{tutorial,fastapi_users}
# Idempotent: a venv is rebuilt only when its requirements.txt changed (a hash stamp), so once
# created it needs no network. Exit 3 (and a message) when python3 or its venv module is missing:
# the harness then skips the peers instead of failing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
root="${1:-${CARGO_TARGET_DIR:-$repo/target}/bench-peers-venv}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "no $python on PATH: install Python 3.11 or newer to benchmark the peers" >&2
  exit 3
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "$python has no venv module: install python3-venv to benchmark the peers" >&2
  exit 3
fi

mkdir -p "$root"
for peer in tutorial fastapi_users; do
  venv="$root/$peer"
  reqs="$here/$peer/requirements.txt"
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$reqs" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    continue
  fi
  echo "bench/peers: creating the $peer venv in $venv (pinned, from PyPI)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs" >&2
  echo "$want" > "$stamp"
done
echo "$root"
