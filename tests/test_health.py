"""``/health/ready`` follows the store: 503 with details while Redis is down, 503 saying it lost its data when it
comes back empty (for ``store.data_loss_alert_s``), then 200 (no Ray)."""

from __future__ import annotations

from pathlib import Path

import httpx

from genpulse.tasks.redis_store import RedisTaskStore
from tests.conftest import wait_for
from tests.harness import local_args, running_app
from tests.support.redis_process import RedisProcess


def test_ready_is_503_while_the_store_is_down(tmp_path: Path, redis_proc: RedisProcess) -> None:
    args = local_args(tmp_path, store={"data_loss_alert_s": 1})
    store = RedisTaskStore(f"redis://127.0.0.1:{redis_proc.port}/0")
    with running_app(args, store=store) as app, httpx.Client(base_url=app.url, timeout=30) as client:
        up = client.get("/health/ready")
        assert up.status_code == 200 and up.json()["checks"]["store"] == "ok", up.text

        redis_proc.stop()
        down = client.get("/health/ready")
        assert down.status_code == 503 and down.headers["retry-after"], down.text
        error = down.json()["error"]
        assert error["type"] == "service_unavailable"
        assert error["details"]["store"] != "ok" and error["details"]["storage"] == "ok"
        assert "genpulse_store_up 0.0" in client.get("/metrics").text

        redis_proc.start()  # without persistence: it comes back empty, and readiness says so for a while
        lost = client.get("/health/ready")
        assert lost.status_code == 503 and "lost its data" in lost.json()["error"]["details"]["store"], lost.text
        wait_for(lambda: client.get("/health/ready").status_code == 200, 20, message="ready again")
        assert "genpulse_store_up 1.0" in client.get("/metrics").text
