#!/usr/bin/env bash
# Browser checks in headless Chromium: /docs (start the real server, debug build, on a fresh
# SQLite database, create a user, drive Swagger UI: swagger.mjs), then the mailed links, the
# hosted pages, the admin console and the pages' passkeys (each script starts its own server).
# Needs /usr/bin/chromium and node; .ci/run installs both if they are missing.
set -euo pipefail
cd "$(dirname "$0")"
for dep in playwright-core axe-core otpauth; do
  [ -d "node_modules/$dep" ] || { npm ci --no-audit --no-fund --silent; break; }
done
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
cargo build --quiet --bin authgate
../../target/debug/authgate serve --bind 127.0.0.1:0 --data-dir "$data" > "$data/out" 2> "$data/err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$data/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^authgate listening on //p' "$data/out")
[ -n "$base" ] || { cat "$data/err"; exit 1; }
curl -sf "$base/auth/register" -H 'content-type: application/json' \
  -d '{"email":"swagger@example.com","username":"swagger","password":"swagger ui password"}' > /dev/null
node swagger.mjs "$base" swagger "swagger ui password" "${SCREENSHOT_DIR:-$data}"

# The mailed links: verification and password reset through authgate's own pages, with the mail
# read off a real SMTP receiver (tests/browser/recovery.mjs starts both it and the server).
node recovery.mjs ../../target/debug/authgate "${SCREENSHOT_DIR:-$data}"

# The hosted pages: sign up → verify from the mail → sign in → enrol TOTP → sign out → sign in
# with password + code; a cross-origin form refused; nothing loaded from outside; axe-core clean.
node journey.mjs ../../target/debug/authgate "${SCREENSHOT_DIR:-$data}"

# The admin console: as an admin, find a user, deactivate them, see it in the audit log, and see
# their next API call refused; axe-core clean, nothing loaded from outside.
node admin.mjs ../../target/debug/authgate "${SCREENSHOT_DIR:-$data}"

# The pages' passkeys with Chromium's virtual authenticator: add one on /account, rename it,
# sign out, sign in with it, remove it; axe-core clean, nothing loaded from outside.
node passkeys.mjs ../../target/debug/authgate "${SCREENSHOT_DIR:-$data}"
