#!/usr/bin/env bash
# Runs real Salesforce clients (jsforce, the sf CLI) against an emulated org
# served by `orgsnap dev-org`, per ../../shared/TESTING.md. Not for CI: it
# installs Node 22, jsforce and the sf CLI (~300 MB) into a scratch folder.
#
#   scripts/real-clients.sh            # scratch in /tmp/orgsnap-rc, port 18642
#   SCRATCH=/tmp/x PORT=9000 scripts/real-clients.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-/tmp/orgsnap-rc}
PORT=${PORT:-18642}
RECORDS=${RECORDS:-20000}
mkdir -p "$SCRATCH/home"
cd "$SCRATCH"
if [ ! -x node_modules/node/bin/node ] || [ ! -e node_modules/@salesforce/cli/bin/run.js ]; then
  npm install --no-audit --no-fund --loglevel=error node@22.23.3 @jsforce/jsforce-node@3.12.0 @salesforce/cli@2.150.6
fi
NODE="$SCRATCH/node_modules/node/bin/node"
SF() { "$NODE" "$SCRATCH/node_modules/@salesforce/cli/bin/run.js" "$@"; }
export HOME="$SCRATCH/home" SF_DISABLE_AUTOUPDATE=true SF_AUTOUPDATE_DISABLE=true SF_DISABLE_TELEMETRY=true \
  SF_USE_GENERIC_UNIX_KEYCHAIN=true SF_SKIP_NEW_VERSION_CHECK=true

# The dev org: `orgsnap dev-org` when the CLI registers it, else the
# equivalent scripts/devorg (same engine, sftest.ListenAndServe). Built
# first so that $DEVPID is the server itself.
cd "$ROOT"
if go build -o "$SCRATCH/orgsnap" ./cmd/orgsnap 2>/dev/null && "$SCRATCH/orgsnap" dev-org --help >/dev/null 2>&1; then
  DEVORG=("$SCRATCH/orgsnap" dev-org)
else
  echo "note: orgsnap has no dev-org command yet; using scripts/devorg"
  go build -o "$SCRATCH/devorg" ./scripts/devorg
  DEVORG=("$SCRATCH/devorg")
fi
"${DEVORG[@]}" --records "$RECORDS" --seed 7 --port "$PORT" --bulk-page-size 1000 --verbose >"$SCRATCH/devorg.log" 2>&1 &
DEVPID=$!
trap 'kill $DEVPID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q '^access token:' "$SCRATCH/devorg.log" 2>/dev/null && break
  sleep 0.5
done
URL=http://127.0.0.1:$PORT
TOKEN=$(sed -n 's/^access token: *//p' "$SCRATCH/devorg.log")
[ -n "$TOKEN" ] || { cat "$SCRATCH/devorg.log"; exit 1; }
echo "dev org at $URL"
cd "$SCRATCH"

echo "== jsforce"
cp "$ROOT/scripts/real-clients.mjs" "$SCRATCH/real-clients.mjs"
"$NODE" "$SCRATCH/real-clients.mjs" "$URL" "$TOKEN"

echo "== sf CLI"
SF_ACCESS_TOKEN="$TOKEN" SF org login access-token --instance-url "$URL" --no-prompt --alias emu >/dev/null
SF data query -q "SELECT Id, Name, Industry FROM Account ORDER BY Name LIMIT 5" -o emu
SF data query -q "SELECT COUNT() FROM Contact" -o emu
SF sobject describe --sobject Account -o emu --json | "$NODE" -e '
  let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;
  if(r.name!=="Account")process.exit(1);console.log("ok  sobject describe:",r.fields.length,"fields")})'
rm -f contacts.csv
SF data export bulk -q "SELECT Id, Name, Email, Account.Name FROM Contact" --output-file contacts.csv --result-format csv -o emu --wait 2
want=$(SF data query -q "SELECT COUNT() FROM Contact" -o emu --json | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).result.totalSize))')
got=$(($(wc -l <contacts.csv) - 1))
[ "$got" = "$want" ] || { echo "FAIL: bulk export wrote $got rows, org has $want"; exit 1; }
echo "ok  data export bulk: $got rows over $(( (want + 999) / 1000 )) result pages"

cat >accounts.json <<'JSON'
{"records":[{"attributes":{"type":"Account","referenceId":"AccRef1"},"Name":"Tree Import One","Industry":"Energy"},
            {"attributes":{"type":"Account","referenceId":"AccRef2"},"Name":"Tree Import Two"}]}
JSON
cat >contacts.json <<'JSON'
{"records":[{"attributes":{"type":"Contact","referenceId":"ConRef1"},"LastName":"Planned","AccountId":"@AccRef1"},
            {"attributes":{"type":"Contact","referenceId":"ConRef2"},"LastName":"Planned Too","AccountId":"@AccRef2"}]}
JSON
cat >plan.json <<'JSON'
[{"sobject":"Account","saveRefs":true,"resolveRefs":false,"files":["accounts.json"]},
 {"sobject":"Contact","saveRefs":false,"resolveRefs":true,"files":["contacts.json"]}]
JSON
SF data import tree --plan plan.json -o emu
SF data query -q "SELECT Id, LastName, Account.Name FROM Contact WHERE LastName LIKE 'Planned%'" -o emu
echo "real clients: all checks passed"
