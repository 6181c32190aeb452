#!/usr/bin/env bash
# Create .venv and install naas_lib with the extras named in $1 (e.g. "test").
# Run by the README's commands; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# pip's and setuptools' chatter goes to a log shown only when something fails.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
pip_install() {
  if ! .venv/bin/python -m pip install -q "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup-env: pip install $* failed" >&2
    exit 1
  fi
}
echo "setting up .venv with naas_lib${extras:+[$extras]} ..." >&2
pip_install --upgrade pip
if [ -n "$extras" ]; then
  pip_install -e ".[$extras]"
else
  pip_install -e .
fi
