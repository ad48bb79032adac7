#!/usr/bin/env bash
# `orgsnap export --format tree` read by the real sf CLI: a snapshot of one
# emulated org (orgsnap demo) is exported as sObject Tree JSON with a plan,
# then `sf data import tree --plan` inserts it into an empty emulated org
# (orgsnap dev-org --records 0), and the counts and relationships are
# checked with `sf data query`. Per ../../shared/TESTING.md; not for CI (it
# installs Node 22 and the sf CLI into the scratch folder shared with
# scripts/real-clients.sh).
#
#   scripts/real-export-tree.sh            # scratch in /tmp/orgsnap-rc, port 18643
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-/tmp/orgsnap-rc}
PORT=${PORT:-18643}
mkdir -p "$SCRATCH/home"
cd "$SCRATCH"
if [ ! -x node_modules/node/bin/node ] || [ ! -e node_modules/@salesforce/cli/bin/run.js ]; then
  npm install --no-audit --no-fund --loglevel=error node@22.23.3 @salesforce/cli@2.150.6
fi
NODE="$SCRATCH/node_modules/node/bin/node"
SF() { "$NODE" "$SCRATCH/node_modules/@salesforce/cli/bin/run.js" "$@"; }
export HOME="$SCRATCH/home" SF_DISABLE_AUTOUPDATE=true SF_AUTOUPDATE_DISABLE=true SF_DISABLE_TELEMETRY=true \
  SF_USE_GENERIC_UNIX_KEYCHAIN=true SF_SKIP_NEW_VERSION_CHECK=true
json() { "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(eval("JSON.parse(s)."+process.argv[1])))' "$1"; }

(cd "$ROOT" && go build -o "$SCRATCH/orgsnap" ./cmd/orgsnap)
O="$SCRATCH/orgsnap"

echo "== a snapshot to export"
rm -rf "$SCRATCH/exrepo" "$SCRATCH/tree"
"$O" demo --records 2000 --seed 3 --keep "$SCRATCH/exrepo" >/dev/null
export ORGSNAP_REPO="$SCRATCH/exrepo" ORGSNAP_PASSWORD=demo
"$O" export --format tree --object Account --object Contact --where "Id != null" --to "$SCRATCH/tree"
accounts=$("$O" --json export --format tree -o Account --to "$SCRATCH/tree-a" | json 'objects[0].records')
contacts=$("$O" --json export --format tree -o Contact --to "$SCRATCH/tree-c" | json 'objects[0].records')
with_account=$("$O" --json find -o Contact -w "AccountId != null" -f Id | wc -l)

echo "== into an empty org"
"$O" dev-org --records 0 --seed 9 --port "$PORT" >"$SCRATCH/devorg-tree.log" 2>&1 &
DEVPID=$!
trap 'kill $DEVPID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q '^access token:' "$SCRATCH/devorg-tree.log" 2>/dev/null && break
  sleep 0.5
done
TOKEN=$(sed -n 's/^access token: *//p' "$SCRATCH/devorg-tree.log")
[ -n "$TOKEN" ] || { cat "$SCRATCH/devorg-tree.log"; exit 1; }
cd "$SCRATCH/tree"
before=$(SF_ACCESS_TOKEN="$TOKEN" SF org login access-token --instance-url "http://127.0.0.1:$PORT" --no-prompt --alias emutree >/dev/null &&
  SF data query -q "SELECT COUNT() FROM Account" -o emutree --json | json 'result.totalSize')
SF data import tree --plan plan.json -o emutree --json >"$SCRATCH/import-tree.json" || { head -c 2000 "$SCRATCH/import-tree.json"; exit 1; }
got_a=$(SF data query -q "SELECT COUNT() FROM Account" -o emutree --json | json 'result.totalSize')
got_c=$(SF data query -q "SELECT COUNT() FROM Contact" -o emutree --json | json 'result.totalSize')
got_linked=$(SF data query -q "SELECT COUNT() FROM Contact WHERE AccountId != null" -o emutree --json | json 'result.totalSize')
echo "exported $accounts Accounts, $contacts Contacts ($with_account with an Account)"
echo "imported $((got_a - before)) Accounts, $got_c Contacts ($got_linked with an Account)"
[ "$((got_a - before))" = "$accounts" ] && [ "$got_c" = "$contacts" ] && [ "$got_linked" = "$with_account" ] ||
  { echo "FAIL: the import does not match the export"; exit 1; }
SF data query -q "SELECT LastName, Account.Name FROM Contact WHERE AccountId != null ORDER BY LastName LIMIT 3" -o emutree
echo "real export tree: all checks passed"
