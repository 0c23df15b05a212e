"""The Kling imitation served over real HTTP (metered), and an in-process runtime (no Ray) pointed at it.

Shared by ``test_reliability.py`` and ``test_worker.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genpulse.core.config import AppArgs
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.vendors.kling import KlingState, build_app
from tests.vendors.metered import Metered
from tests.vendors.server import serve_asgi

AK, SK = "ak-reliability", "sk-reliability"
VIDEO = {"prompt": "a fox running through snow", "duration": 5}


class Vendor:
    def __init__(self, state: KlingState, metered: Metered, url: str) -> None:
        self.state, self.metered, self.url = state, metered, url


def vendor(fault_rate: float = 0.0, queue_s: float = 0.2, run_s: float = 0.6) -> Iterator[Vendor]:
    state = KlingState({AK: SK}, queue_s=queue_s, run_s=run_s)
    metered = Metered(build_app(state), fault_rate=fault_rate)
    with serve_asgi(metered) as url:
        state.base_url = url
        yield Vendor(state, metered, url)


def runtime(tmp_path: Path, url: str, **kling: Any) -> LocalRuntime:
    workers = kling.pop("workers", {})
    args = AppArgs.load(
        {
            "storage": {"path": str(tmp_path / "data")},
            "workers": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, **workers},
            "providers": {"kling": {"base_url": url, "access_key": AK, "secret_key": SK, **kling}},
        }
    )
    return build_local(args)
