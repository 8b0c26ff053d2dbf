#!/bin/bash
# Count the SQL statements each request sends to PostgreSQL, from the server's statement log.

BIN=${AUTHGATE_BIN:-target/debug/authgate}
DB=authgate_count_$$
PG=postgres://postgres@127.0.0.1:5432
LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
psql $PG/test -qc "CREATE DATABASE $DB"
psql $PG/test -qc "ALTER DATABASE $DB SET log_statement = 'all'"
DIR=$(mktemp -d)
export AUTHGATE_DATA_DIR=$DIR DATABASE_URL=$PG/$DB AUTHGATE_ISSUER=http://authgate.test AUTHGATE_LOG_FORMAT=json
$BIN serve --bind 127.0.0.1:18931 >/dev/null 2>&1 &
PID=$!
sleep 2
B=http://127.0.0.1:18931
curl -s -o /dev/null -XPOST $B/auth/register -H 'content-type: application/json' -d '{"email":"c@example.com","password":"a long password 1"}'
sleep 4  # let start-up and the first polls pass
mark() { sleep 0.5; psql $PG/$DB -qAtc "SELECT 'mark-$1'" >/dev/null; sleep 0.2; }
count() { # name, mark before, mark after
  local lines; lines=$(grep "@$DB " $LOG | grep -E "LOG:  (statement|execute)" | sed -n "/mark-$2/,/mark-$3/p" | grep -v "mark-" | grep -v "revocations WHERE expires_at > \$1 AND seq > \$2\|signing_keys WHERE alg\|LISTEN\|audit_held\|SELECT 1$" || true)
  local n w; n=$(echo -n "$lines" | grep -c . || true); w=$(echo "$lines" | grep -ciE "(statement|execute [^:]*): *(INSERT|UPDATE|DELETE)|ON CONFLICT" || true)
  echo "$1: $n statements, $w writing"; echo "$lines" | sed 's/.*\(statement\|execute [^:]*\): //' | cut -c1-110 | sed 's/^/    /'
}
mark a
TOK=$(curl -s -XPOST $B/auth/login -H 'content-type: application/json' -d '{"username":"c@example.com","password":"a long password 1"}')
mark b
ACC=$(echo "$TOK" | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
REF=$(echo "$TOK" | python3 -c 'import sys,json;print(json.load(sys.stdin)["refresh_token"])')
curl -s -o /dev/null $B/users/me -H "authorization: Bearer $ACC"
mark c
curl -s -o /dev/null $B/admin/users -H "authorization: Bearer $ACC"
mark d
NEW=$(curl -s -XPOST $B/auth/refresh -H 'content-type: application/json' -d "{\"refresh_token\":\"$REF\"}")
mark e
ACC2=$(echo "$NEW" | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
curl -s -o /dev/null -w '%{http_code}\n' -XPOST $B/auth/logout -H "authorization: Bearer $ACC2" -H 'content-type: application/json' -d '{}'
mark f
count "login" a b; count "GET /users/me" b c; count "protected route, no DB read (403 /admin/users)" c d; count "refresh" d e; count "logout" e f
kill $PID; wait $PID 2>/dev/null || true
psql $PG/test -qc "DROP DATABASE $DB WITH (FORCE)"
rm -rf $DIR
