"""The Java SDK (clients/java): built offline with Maven, its JUnit tests run against a real GenPulse.

One in-process GenPulse (tiny model, slow fake vendor: ``tests/sdk_server.py``) serves ``mvn -o test``; the test
fails if any JUnit test was skipped or failed. The README's quickstart is then compiled and run as written.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.sdk_server import ROOT, SdkServer, require, run_logged, sdk_server

JAVA = ROOT / "clients" / "java"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[SdkServer]:
    with sdk_server(tmp_path_factory.mktemp("sdk-java"), tiny_cache) as running:
        yield running


def _jackson_classpath() -> list[Path]:
    version = re.search(r"<jackson.version>([^<]+)<", (JAVA / "pom.xml").read_text())
    assert version, "pom.xml has no jackson.version"
    repo = Path.home() / ".m2" / "repository" / "com" / "fasterxml" / "jackson" / "core"
    jars = [
        repo / a / version[1] / f"{a}-{version[1]}.jar"
        for a in ("jackson-databind", "jackson-core", "jackson-annotations")
    ]
    assert all(j.is_file() for j in jars), f"missing from ~/.m2: {[str(j) for j in jars if not j.is_file()]}"
    return jars


def test_java_sdk_builds_offline_and_passes_its_tests_against_genpulse(server: SdkServer) -> None:
    mvn = require("mvn")
    shutil.rmtree(JAVA / "target" / "surefire-reports", ignore_errors=True)  # count this run's reports only
    seconds, _ = run_logged([mvn, "-o", "-B", "-q", "package"], JAVA, server.env(), timeout=300)
    suites = [ET.parse(p).getroot() for p in sorted((JAVA / "target" / "surefire-reports").glob("TEST-*.xml"))]
    counts = {
        s.get("name"): {k: int(s.get(k, "0")) for k in ("tests", "skipped", "failures", "errors")} for s in suites
    }
    assert counts.get("io.genpulse.client.LiveServerTest", {}).get("tests", 0) >= 6, counts
    assert all(c["skipped"] == c["failures"] == c["errors"] == 0 for c in counts.values()), counts
    assert (JAVA / "target" / "genpulse-client-0.1.0.jar").is_file()
    print(f"mvn -o package (build + {sum(c['tests'] for c in counts.values())} tests): {seconds:.1f}s")


def test_java_readme_quickstart_runs(server: SdkServer, tmp_path: Path) -> None:
    jar = JAVA / "target" / "genpulse-client-0.1.0.jar"
    assert jar.is_file(), "run after the build test (same module)"
    block = (JAVA / "README.md").read_text().split("## Quickstart", 1)[1].split("```java\n", 1)[1].split("```", 1)[0]
    (tmp_path / "Quickstart.java").write_text(block.replace("http://127.0.0.1:8000", server.url))
    classpath = ":".join(str(p) for p in [jar, *_jackson_classpath()])
    run_logged([require("java"), "-cp", classpath, "Quickstart.java"], tmp_path, server.env(), timeout=120)
    with Image.open(tmp_path / "fox.png") as img:
        assert img.size == (64, 64)
