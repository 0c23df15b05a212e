"""The Kling imitation, metered, as its own process: what a vendor sees, timed by a clock we don't share a GIL
with. ``GET /__meter`` returns the call times (monotonic), the jobs and the injected faults.

    python -m tests.vendors.standalone --port 9100 --queue-s 0.2 --run-s 0.6 --fault-rate 0.2
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.vendors.kling import KlingState, build_app
from tests.vendors.metered import Metered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", default="{}", help="JSON {access_key: secret_key}")
    parser.add_argument("--queue-s", type=float, default=0.2)
    parser.add_argument("--run-s", type=float, default=0.6)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    ns = parser.parse_args()
    state = KlingState(json.loads(ns.keys), queue_s=ns.queue_s, run_s=ns.run_s)
    state.base_url = f"http://127.0.0.1:{ns.port}"
    app = build_app(state)
    metered = Metered(app, fault_rate=ns.fault_rate)

    async def meter(_: Request) -> JSONResponse:
        jobs = {j.id: j.created for j in state.jobs.values()}
        return JSONResponse({"calls": metered.calls, "jobs": jobs, "injected": metered.injected})

    app.add_route("/__meter", meter, methods=["GET"])
    uvicorn.run(metered, host="127.0.0.1", port=ns.port, log_level="warning")


if __name__ == "__main__":
    main()
