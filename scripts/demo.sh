#!/usr/bin/env bash
# Install, start GenPulse (local Ray + Serve, tiny CPU model), generate one 64x64 image, stop everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled} RAY_USAGE_STATS_ENABLED=0
PORT=${GENPULSE_PORT:-8000}
LOG=$(mktemp -t genpulse-serve.XXXXXX.log)
genpulse serve --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -INT $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
echo "starting GenPulse on 127.0.0.1:$PORT (log: $LOG) ..."
for _ in $(seq 1 240); do
  python3 -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/health/ready').status_code != 200)" \
    >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { tail -n 40 "$LOG"; exit 1; }
  sleep 1
done
genpulse submit --url "http://127.0.0.1:$PORT" -p prompt="a red fox" -p width=64 -p height=64 -o genpulse-output
