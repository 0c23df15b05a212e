"""The TypeScript SDK (clients/typescript): `npm ci`, build (types checked against openapi.json), tests against a
real GenPulse (``tests/sdk_server.py``); fails if a test was skipped. Then the README's quickstart, as written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.sdk_server import ROOT, SdkServer, require, run_logged, sdk_server

TS = ROOT / "clients" / "typescript"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[SdkServer]:
    with sdk_server(tmp_path_factory.mktemp("sdk-ts"), tiny_cache) as running:
        yield running


def test_typescript_sdk_builds_and_passes_its_tests_against_genpulse(server: SdkServer) -> None:
    npm = require("npm")
    run_logged([npm, "ci", "--no-audit", "--no-fund"], TS, server.env(), timeout=300)
    run_logged([npm, "run", "build"], TS, server.env(), timeout=180)
    assert (TS / "dist" / "index.js").is_file() and (TS / "dist" / "index.d.ts").is_file()
    _, out = run_logged([npm, "test"], TS, server.env(), timeout=180)
    counts = {k: int(v) for k, v in re.findall(r"(?m)^\S+ (tests|pass|fail|skipped|cancelled|todo) (\d+)$", out)}
    assert counts.get("tests", 0) >= 10 and counts["pass"] == counts["tests"], counts
    assert counts["skipped"] == counts["fail"] == counts["cancelled"] == 0, out[-3000:]
    assert "cancels a long vendor job and retries it" in out


def test_typescript_readme_quickstart_runs(server: SdkServer, tmp_path: Path) -> None:
    assert (TS / "dist" / "index.js").is_file(), "run after the build test (same module)"
    block = (TS / "README.md").read_text().split("## Quickstart", 1)[1].split("```js\n", 1)[1].split("```", 1)[0]
    script = TS / f".quickstart-{tmp_path.name}.mjs"  # inside the package: `import "genpulse"` resolves to itself
    script.write_text(block.replace("http://127.0.0.1:8000", server.url))
    try:
        run_logged([require("node"), str(script)], tmp_path, server.env(), timeout=120)
    finally:
        script.unlink()
    with Image.open(tmp_path / "fox.png") as img:
        assert img.size == (64, 64)
