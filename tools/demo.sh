#!/usr/bin/env bash
# The README's main job: install naas_lib and run `naas demo` on embedded SQLite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install-system-packages.sh
bash tools/setup-env.sh
exec .venv/bin/naas demo "$@"
