"""Which deploy a detached actor belongs to, and replacing the ones a redeploy left behind.

Detached actors (provider workers, limiters) outlive the app, so a redeploy with a rotated vendor key, new
timeouts or new code would never reach them if they were only ever fetched by name. Each is created with
the ``fingerprint`` of its deploy: a hash of the code of ``genpulse`` and ``deployments`` and of the whole
config, secrets included (so rotating a key changes it; the hash reveals nothing). A new ingress replica
replaces every actor whose fingerprint differs (``replace_stale``): it kills the old actor and creates the
new one under the same name. Work is not lost: a worker's tasks keep their lease owner (the actor's name),
so the new worker adopts them at once and resumes from their checkpoints, and a submit that was in flight
is reconciled, never sent twice (docs/reliability.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from genpulse.core.config import AppArgs

log = logging.getLogger("genpulse.deploy")
_ROOTS = (Path(__file__).resolve().parents[1] / "genpulse", Path(__file__).resolve().parent)


@functools.cache
def code_hash() -> str:
    digest = hashlib.sha256()
    for root in _ROOTS:
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(args: AppArgs) -> str:
    def reveal(value: Any) -> Any:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    config = json.dumps(args.model_dump(mode="python"), default=reveal, sort_keys=True)
    return hashlib.sha256(f"{code_hash()}\n{config}".encode()).hexdigest()[:16]


def replace_stale(
    name: str,
    namespace: str,
    wanted: str,
    get_or_create: Callable[[], Any],
    *,
    timeout_s: float = 60.0,
    on_replaced: Callable[[Any], None] | None = None,
) -> Any:
    """The actor ``name`` of fingerprint ``wanted``: an actor of another deploy is killed and made anew
    (``on_replaced`` is then called with the new actor)."""
    import ray

    actor = get_or_create()
    try:
        current = ray.get(actor.fingerprint.remote(), timeout=timeout_s)
    except Exception:  # an actor from before fingerprints (no such method), or one that cannot answer
        current = None
    if current == wanted:
        return actor
    log.info("replacing %s (deploy %s) with deploy %s", name, current, wanted)
    ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # the name is free once the old actor is gone
        try:
            ray.get_actor(name, namespace=namespace)
        except ValueError:
            break
        time.sleep(0.1)
    actor = get_or_create()
    if on_replaced is not None:
        on_replaced(actor)
    return actor
