"""Building the built-in random-weight models into the cache dir, once, atomically, deterministically.

Each built-in (``tiny``, ``tiny-video``) is made from config with a fixed torch seed, saved with
``save_pretrained`` beside its target and renamed into place, so concurrent replicas never load half a model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = "1"
_SEED = 0


def _builders() -> dict[str, Callable[[Path], Any]]:
    from genpulse.diffusion.tiny import build_tiny
    from genpulse.diffusion.tiny_video import build_tiny_video

    return {"tiny": build_tiny, "tiny-video": build_tiny_video}


def build(name: str, target: Path) -> None:
    """Build built-in ``name`` and save it to ``target`` (built aside, then renamed)."""
    import torch

    builder = _builders()[name]
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-build-", dir=target.parent))
    try:
        torch.manual_seed(_SEED)
        pipe = builder(work)
        out = work / "model"
        pipe.save_pretrained(out, safe_serialization=True)
        (out / "genpulse-tiny.json").write_text(json.dumps({"version": VERSION, "seed": _SEED, "name": name}))
        try:
            os.replace(out, target)
        except OSError:
            if not is_built(target):  # another process won the race with a complete build: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def is_built(path: Path) -> bool:
    marker = path / "genpulse-tiny.json"
    try:
        return json.loads(marker.read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


def ensure_builtin(name: str, cache_dir: Path) -> Path:
    """Path of built-in ``name``'s directory, building it on first use."""
    path = cache_dir / f"{name}-v{VERSION}"
    if not is_built(path):
        build(name, path)
    return path
