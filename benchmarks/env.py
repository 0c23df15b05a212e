"""Where the shared bench lives, the baseline's venv, free ports, private temp dirs and process-group cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# ../shared/bench: fakevendor.py, load.py and celery_ref/ (the baseline; never modified from here)
BENCH_DIR = Path(os.environ.get("GENPULSE_BENCH_DIR", REPO.parent / "shared" / "bench")).resolve()
# The baseline's own venv (celery, gevent; pinned in BENCH_DIR/requirements.txt), created on first use.
BENCH_VENV = Path(os.environ.get("GENPULSE_BENCH_VENV", REPO.parent / ".venv-bench")).resolve()
RESULTS_DIR = REPO / "benchmarks" / "results"
VENDOR_AK, VENDOR_SK = "bench-ak", "bench-secret-key-000000000000000000"  # fakevendor.py's defaults

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_available() -> bool:
    return (BENCH_DIR / "fakevendor.py").is_file() and (BENCH_DIR / "load.py").is_file()


def baseline_python() -> Path:
    """The bench venv's python, created (``pip install -r requirements.txt``) when missing."""
    py = BENCH_VENV / "bin" / "python"
    if py.exists() and subprocess.run([py, "-c", "import celery, gevent"], capture_output=True).returncode == 0:
        return py
    print(f"creating the baseline venv {BENCH_VENV} (a few minutes, once)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "-r", str(BENCH_DIR / "requirements.txt")], check=True)
    return py


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group we started (``start_new_session=True``), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
