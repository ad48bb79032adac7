#!/usr/bin/env bash
# `orgsnap export --format tree` read by the real sf CLI: a snapshot of one
# emulated org (orgsnap demo) is exported as sObject Tree JSON with a plan,
# then `sf data import tree --plan` inserts it into an empty emulated org
# (orgsnap dev-org --records 0), and the counts and relationships are
# checked with `sf data query`; then a `restore --to-dir` set (Accounts with
# their children, Attachment bodies inline) goes the same way into another
# empty org. Per ../../shared/TESTING.md; not for CI (it
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

echo "== restore --to-dir, imported by the sf CLI into another empty org"
# Two Accounts that have Attachments, with their children: the tree files
# carry the Attachment bodies inline.
ids=$("$O" find -o Attachment -w "ParentId LIKE '001%'" -f ParentId --csv | tail -n +2 | cut -d, -f2 | sort -u | head -2 | paste -sd,)
rm -rf "$SCRATCH/rset"
"$O" restore latest --object Account --id "$ids" --with-children --to-dir "$SCRATCH/rset"
want_att=$(($(wc -l <"$SCRATCH/rset/csv/Attachment.csv") - 1))
want_bytes=$(cat "$SCRATCH"/rset/csv/files/Attachment/*/* | wc -c)
"$O" dev-org --records 0 --seed 10 --port "$((PORT + 1))" >"$SCRATCH/devorg-rset.log" 2>&1 &
DEVPID2=$!
trap 'kill $DEVPID 2>/dev/null || true; kill $DEVPID2 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q '^access token:' "$SCRATCH/devorg-rset.log" 2>/dev/null && break
  sleep 0.5
done
TOKEN2=$(sed -n 's/^access token: *//p' "$SCRATCH/devorg-rset.log")
SF_ACCESS_TOKEN="$TOKEN2" SF org login access-token --instance-url "http://127.0.0.1:$((PORT + 1))" --no-prompt --alias emurset >/dev/null
(cd "$SCRATCH/rset/tree" && SF data import tree --plan plan.json -o emurset --json >"$SCRATCH/import-rset.json") ||
  { head -c 2000 "$SCRATCH/import-rset.json"; exit 1; }
got_att=$(SF data query -q "SELECT COUNT() FROM Attachment" -o emurset --json | json 'result.totalSize')
got_bytes=$(SF data query -q "SELECT BodyLength FROM Attachment" -o emurset --json | json 'result.records.reduce((n,r)=>n+r.BodyLength,0)')
got_parented=$(SF data query -q "SELECT COUNT() FROM Attachment WHERE ParentId LIKE '001%'" -o emurset --json | json 'result.totalSize')
echo "restore set: $want_att Attachments ($want_bytes bytes); imported $got_att ($got_bytes bytes, $got_parented under an Account)"
[ "$got_att" = "$want_att" ] && [ "$got_bytes" = "$want_bytes" ] && [ "$got_parented" = "$want_att" ] && [ "$got_att" -gt 0 ] ||
  { echo "FAIL: the restore set's Attachments did not import whole"; exit 1; }
echo "real export tree: all checks passed"
