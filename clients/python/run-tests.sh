#!/usr/bin/env bash
# The Python package's tests, against a real authgate the tests start: a venv with the exact
# versions in constraints.txt (from PyPI), the package installed from this directory, pytest.
# The authgate binary: $AUTHGATE_BIN, else ${CARGO_TARGET_DIR:-../../target}/debug/authgate
# (built with `cargo build` first if missing). The venv lives in $CARGO_TARGET_DIR (or target/)
# as python-client-venv, rebuilt when constraints.txt or pyproject.toml change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="${AUTHGATE_PY_VENV:-$target/python-client-venv}"
python="${PYTHON:-python3}"

if [[ -z "${AUTHGATE_BIN:-}" ]]; then
  export AUTHGATE_BIN="$target/debug/authgate"
  if [[ ! -x "$AUTHGATE_BIN" ]]; then
    (cd "$repo" && cargo build --bin authgate)
  fi
fi

stamp="$venv/.constraints.sha256"
want="$(sha256sum "$here/constraints.txt" "$here/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    echo "error: $python has no venv module; install python3-venv" >&2
    exit 1
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$here/constraints.txt" setuptools
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation \
    -c "$here/constraints.txt" -e "$here[test]"
  echo "$want" > "$stamp"
fi
cd "$here"
exec "$venv/bin/python" -m pytest -q "$@"
