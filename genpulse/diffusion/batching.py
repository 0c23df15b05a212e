"""Requests to pipeline calls: validate, group compatible requests, run each group in one call.

A request is ``{"task_type": ..., **params}`` (no ``task_type``: text-to-image). Requests share a call when
they name the same model and task type and the same shape (size, steps, guidance, strength, frames);
image-to-video never shares one. Each request keeps its own seeded generator, so its noise is the same alone
or batched. Each result carries ``batch_size``: how many requests its call carried. A failed call fails only
the requests it carried, as ``{"error": {...}}`` (``GenPulseError.to_dict``); a batch that ran out of memory
is retried one request at a time before its requests fail with ``resource_exhausted``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from genpulse.core.errors import GenPulseError, InvalidRequest, ResourceExhausted
from genpulse.diffusion.diffusers_provider import BASES, _Common


@dataclass(frozen=True)
class Job:
    index: int  # position in the incoming list
    task_type: str
    model: str
    params: _Common
    seed: int


class Model(Protocol):
    def run(self, jobs: list[Job]) -> list[dict[str, Any]]:
        """One pipeline call for ``jobs`` (one group); one output dict per job."""
        ...


def parse(index: int, request: dict[str, Any], default_model: Callable[[str | None, str], str]) -> Job:
    """``default_model(name, task_type)`` -> the model name to use (raises ``InvalidRequest``)."""
    params = dict(request)
    task_type = str(params.pop("task_type", "text-to-image"))
    base = BASES.get(task_type)
    if base is None:
        raise InvalidRequest(f"unknown task type {task_type!r}", details={"valid": sorted(BASES)})
    try:
        p = base.model_validate(params)
    except ValidationError as exc:
        raise InvalidRequest(f"invalid params: {exc.errors()[0]['msg']}") from None
    seed = p.seed if p.seed is not None else random.randrange(2**63)
    return Job(index, task_type, default_model(p.model, task_type), p, seed)


def group_key(job: Job) -> tuple[Any, ...]:
    p = job.params
    if job.task_type == "image-to-video":
        return (job.model, job.task_type, uuid.uuid4().hex)  # runs alone (see genpulse.diffusion.pipelines)
    shape = (p.width, p.height, p.num_inference_steps, p.guidance_scale)
    return (job.model, job.task_type, *shape, getattr(p, "strength", None), getattr(p, "num_frames", None))


def plan(jobs: list[Job], max_batch: int) -> list[list[Job]]:
    """Compatible jobs together, at most ``max_batch`` a group, in arrival order."""
    groups: dict[tuple[Any, ...], list[list[Job]]] = {}
    for job in jobs:
        chunks = groups.setdefault(group_key(job), [[]])
        if len(chunks[-1]) >= max_batch:
            chunks.append([])
        chunks[-1].append(job)
    return [chunk for chunks in groups.values() for chunk in chunks]


def run_group(model: Model, group: list[Job]) -> list[dict[str, Any]]:
    """Results of one group, each with ``batch_size`` (or an ``error``)."""
    try:
        outputs = model.run(group)
    except ResourceExhausted as exc:
        if len(group) == 1:
            return [{"error": exc.to_dict()}]
        return [r for job in group for r in run_group(model, [job])]  # smaller calls may fit
    except GenPulseError as exc:
        return [{"error": exc.to_dict()} for _ in group]
    return [
        {**out, "seed": job.seed, "model": job.model, "batch_size": len(group)}
        for job, out in zip(group, outputs, strict=True)
    ]
