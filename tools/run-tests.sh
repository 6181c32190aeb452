#!/usr/bin/env bash
# The README's test command: set up everything and run the whole suite.
# Extra arguments go to pytest (e.g. tools/run-tests.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install-system-packages.sh
bash tools/setup-env.sh test
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -p no:cacheprovider "${@:-tests}"
