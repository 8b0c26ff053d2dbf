#!/usr/bin/env bash
# OpenAPI conformance: run schemathesis (pinned in requirements.txt) with every check against the
# real server (debug build) on a fresh SQLite database, signed in as an admin. Fails on any
# failure schemathesis reports.
#
# schemathesis sends thousands of requests from one address, so the per-IP rate limits and the
# account lockout are off for this run (they have their own API tests). The operations that end
# the session the run is signed in with are excluded, or every later request would be a 401:
#   POST /auth/logout, POST /auth/logout-all   end the admin's session(s)
#   POST /users/me/password                    ends every session of the admin
#   DELETE /users/me/sessions/{id}             the stateful phase feeds it the admin's own
#                                              session id from GET /users/me/sessions
# DELETE /admin/users/{id} and PATCH /admin/users/{id} stay in: the server refuses (422) to let
# an admin delete or deactivate themself. (Until the last-admin rule lands, PATCH can take the
# admin's own roles away; the admin operations after that answer 403, which is documented.)
# tests/schemathesis/schemathesis.toml names the one place where a schema-valid body may
# still be refused.
#
# Needs python3 (3.9 or later) with the venv module and cargo; the venv is kept in
# target/schemathesis-venv and reinstalled when requirements.txt changes.
# Extra arguments are passed on to `st run` (e.g. --max-examples 5 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${CARGO_TARGET_DIR:-target}"
venv="$target/schemathesis-venv"
python="${PYTHON:-python3}"
if ! "$venv/bin/st" --version >/dev/null 2>&1 \
  || ! cmp -s tests/schemathesis/requirements.txt "$venv/requirements.txt"; then
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's python3 leaves the venv module (and ensurepip) to a separate package.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    else
      echo "error: $python has no venv module; install python3-venv" >&2
      exit 1
    fi
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/schemathesis/requirements.txt
  cp tests/schemathesis/requirements.txt "$venv/requirements.txt"
fi

data=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$data"' EXIT
cargo build --quiet --bin authgate
authgate="$(cd "$target/debug" && pwd)/authgate"  # absolute: the run cds into its data dir
RUST_LOG=warn "$authgate" serve --bind 127.0.0.1:0 --data-dir "$data" \
  --login-rate-limit off --register-rate-limit off --refresh-rate-limit off \
  --lockout-threshold 0 --recovery-rate-limit off --access-ttl 1h > "$data/out" 2> "$data/err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$data/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^authgate listening on //p' "$data/out")
[ -n "$base" ] || { cat "$data/err"; exit 1; }

password="schemathesis admin password"
echo "$password" | "$authgate" user create --data-dir "$data" --email st-admin@example.com \
  --username st-admin --role admin --password-stdin > /dev/null
token=$(curl -sf "$base/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"st-admin\",\"password\":\"$password\"}" |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# From the temporary directory, so that schemathesis's cache (.schemathesis/) lands there.
config="$PWD/tests/schemathesis/schemathesis.toml"
st="$(cd "$venv/bin" && pwd)/st"
cd "$data"
status=0
"$st" --config-file "$config" run "$base/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all --max-examples 50 --seed 1 \
  --exclude-path /auth/logout --exclude-path /auth/logout-all \
  --exclude-path /users/me/password --exclude-path '/users/me/sessions/{id}' \
  "$@" || status=$?
# The revocation feed wants a verifier credential, not the admin's token: GET /revocations again
# with one. (GET /revocations/stream is left at the 401s above: its 200 is an endless stream that
# schemathesis cannot finish reading; tests/api/revocation_feed.rs covers it.)
verifier=$("$authgate" verifier create --data-dir "$data" schemathesis)
"$st" --config-file "$config" run "$base/openapi.json" \
  -H "Authorization: Bearer $verifier" \
  --checks all --max-examples 50 --seed 1 --include-path /revocations \
  "$@" || status=$?
if [ "$status" != 0 ] && [ -s "$data/err" ]; then
  echo "--- server log (stderr) ---" >&2
  tail -n 50 "$data/err" >&2
fi
exit "$status"
