"""A Ray job that fans out text-to-image tasks to a running GenPulse app through its DeploymentHandle.

    ray job submit --working-dir . -- python examples/incluster_job.py --app genpulse --n 4

The tasks are ordinary GenPulse tasks (same records, validation, limits and idempotency as over HTTP): they
show up in ``GET /v1/tasks``, stream over SSE and fire their webhooks.
"""

from __future__ import annotations

import argparse
import asyncio

import ray

from deployments.incluster import get_client
from genpulse.client import TaskFailed


async def main(app: str, n: int, prompt: str) -> None:
    gp = get_client(app)
    bodies = [
        {
            "provider": "diffusers",
            "task_type": "text-to-image",
            "params": {"prompt": prompt, "width": 256, "height": 256, "seed": seed},
            "metadata": {"job": "incluster-example"},
        }
        for seed in range(n)
    ]
    results = await asyncio.gather(*(gp.run(b, timeout=900) for b in bodies), return_exceptions=True)
    for body, result in zip(bodies, results, strict=True):
        seed = body["params"]["seed"]
        if isinstance(result, TaskFailed):
            print(f"seed {seed}: {result}")
        elif isinstance(result, BaseException):
            raise result
        else:
            print(f"seed {seed}: {result.id} -> {result.result['assets'][0]['url']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="genpulse", help="Serve application name")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--prompt", default="a lighthouse at dusk, oil painting")
    opts = parser.parse_args()
    ray.init(address="auto")
    asyncio.run(main(opts.app, opts.n, opts.prompt))
