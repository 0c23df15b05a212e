"""The production Dockerfile, parsed (Docker cannot run here): multi-stage, non-root, versions pinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def global_args() -> dict[str, str]:
    args = {}
    for word, rest in instructions():
        if word == "FROM":
            break
        if word == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            args[key] = value
    return args


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_ray_version_is_the_pyproject_pin() -> None:
    (ray_dep,) = [d for d in pyproject()["dependencies"] if d.startswith("ray[")]
    pinned = ray_dep.split("==")[1]
    assert global_args()["RAY_VERSION"] == pinned
    runs = " ".join(rest for word, rest in stages()[0] if word == "RUN")
    assert '"ray[serve,default]==${RAY_VERSION}"' in runs
    assert "ray.__version__ != '${RAY_VERSION}'" in runs  # the build fails if pip resolved another Ray


def test_base_images_are_pinned_and_match_requires_python() -> None:
    version = global_args()["PYTHON_VERSION"]
    assert re.fullmatch(r"3\.\d+\.\d+", version), "pin the full Python version"
    minimum = pyproject()["requires-python"].removeprefix(">=")
    assert tuple(map(int, version.split(".")[:2])) >= tuple(map(int, minimum.split(".")))
    for stage in stages():
        image = stage[0][1].split()[0]
        assert image == "python:${PYTHON_VERSION}-slim-bookworm", image


def test_multi_stage_and_runtime_is_non_root() -> None:
    build, runtime = stages()
    assert build[0][1].endswith("AS build") and runtime[0][1].endswith("AS runtime")
    assert any(w == "COPY" and r.startswith("--from=build /opt/genpulse") for w, r in runtime)
    assert not any(w == "RUN" and "pip install" in r for w, r in runtime), "install in the build stage only"
    users = [r for w, r in runtime if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    uid = users[-1].split(":")[0]
    assert any(w == "RUN" and f"useradd --uid {uid}" in r for w, r in runtime)
    last_user = max(i for i, (w, _) in enumerate(runtime) if w == "USER")
    assert all(w != "RUN" for w, _ in runtime[last_user:]), "nothing runs as root after USER"


def test_dockerignore_keeps_secrets_and_tests_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "tests", "cluster", ".venv*"):
        assert entry in ignored
