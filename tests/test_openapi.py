"""``openapi.json`` at the repo root is the running app's spec (regenerate: ``python scripts/export_openapi.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from genpulse.api.app import create_api
from tests.vendors.server import serve_asgi

ROOT = Path(__file__).resolve().parent.parent


def test_committed_spec_matches_the_running_app() -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    app = create_api()
    assert committed == json.loads(json.dumps(app.openapi())), "openapi.json is stale: run scripts/export_openapi.py"
    with serve_asgi(app) as url:
        served = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert served == committed
    paths = committed["paths"]
    assert "text/event-stream" in paths["/v1/tasks/{task_id}/events"]["get"]["responses"]["200"]["content"]
    assert {"/v1/tasks/{task_id}/webhooks", "/v1/tasks/{task_id}/webhooks/redeliver"} <= set(paths)


def test_export_script_check_mode(tmp_path: Path) -> None:
    script = str(ROOT / "scripts" / "export_openapi.py")
    stale = tmp_path / "openapi.json"
    stale.write_text("{}")
    assert subprocess.run([sys.executable, script, "--check", "--out", str(stale)], capture_output=True).returncode == 1
    assert subprocess.run([sys.executable, script, "--out", str(stale)], capture_output=True).returncode == 0
    assert subprocess.run([sys.executable, script, "--check", "--out", str(stale)], capture_output=True).returncode == 0
