#!/usr/bin/env bash
# Install, lint and run the whole test suite: the command README and CI use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest -q -p no:cacheprovider "$@"
