#!/usr/bin/env bash
# Install GenPulse and everything its tests need (idempotent). CPU torch first: a bare `torch` would pull CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q -e ".[gpu,s3,test]"
# System packages the tests need: redis-server; Maven + a JDK and Node.js + npm for the SDKs in clients/; Debian's
# chromium for the console's browser tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
