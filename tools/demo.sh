#!/usr/bin/env bash
# The README's main job: install naas_lib and run `naas demo` on embedded SQLite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install-system-packages.sh
bash tools/setup-env.sh
# Guest images (QEMU mode) are cached in the checkout, as the tests cache theirs.
export NAAS_GUEST_CACHE="${NAAS_GUEST_CACHE:-$PWD/.cache/guests}"
exec .venv/bin/naas demo "$@"
