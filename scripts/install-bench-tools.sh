#!/usr/bin/env bash
# Installs the third-party tools the comparison benchmark runs
# (backup/backupbench): restic, built from source through the Go module
# proxy. Idempotent: an installed binary of the pinned version is kept.
# Prints the tools directory; use it as
#
#   export PATH="$(scripts/install-bench-tools.sh):$PATH"   # or RESTIC=<dir>/restic
#
# git and zstd come from the system. Nothing is added to this module's
# go.mod: restic is built as its own module, from the module cache.
set -euo pipefail
RESTIC_VERSION=${RESTIC_VERSION:-v0.18.1}
TOOLS=${ORGSNAP_BENCH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/orgsnap/bench-tools}
mkdir -p "$TOOLS"
want=${RESTIC_VERSION#v}
if [ -x "$TOOLS/restic" ] && "$TOOLS/restic" version 2>/dev/null | grep -q "restic $want "; then
  :
else
  echo "installing restic $RESTIC_VERSION into $TOOLS" >&2
  # Built inside restic's own module (its go.mod and go.sum pin every
  # dependency), so this repository's go.mod is never consulted. Not
  # `go install pkg@version`: that also asks the proxy for the module's
  # version list (deprecation check), which the proxy may refuse.
  src=$(cd / && go mod download -json "github.com/restic/restic@$RESTIC_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "could not download restic $RESTIC_VERSION" >&2; exit 1; }
  (cd "$src" && GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly" CGO_ENABLED=0 \
    go build -trimpath -o "$TOOLS/restic.tmp" ./cmd/restic >&2)
  mv "$TOOLS/restic.tmp" "$TOOLS/restic"
  "$TOOLS/restic" version >&2
fi
command -v git >/dev/null || echo "warning: git not found (apt-get install git)" >&2
echo "$TOOLS"
