#!/usr/bin/env bash
# A separate venv with real Nova (nova==34.0.0 from PyPI, no system packages)
# and this checkout of naas_lib, for the contract tier (tests/nova). Built once
# and cached under .cache/nova-venv; rebuilt when this script's pins change.
# Prints the venv's python on success.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NOVA_VERSION=34.0.0
VENV=.cache/nova-venv
STAMP="$VENV/.naas-stamp"
WANT="nova==$NOVA_VERSION"
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    rm -rf "$VENV"
    mkdir -p .cache
    "$PY" -m venv "$VENV"
    log=$(mktemp)
    if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "$WANT" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    echo "$WANT" >"$STAMP"
fi
# The library from this checkout, without its dependencies (Nova's cover them;
# a missing one fails the contract tests loudly).
log=$(mktemp)
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e . >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "$PWD/$VENV/bin/python"
