"""``genpulse tenants|keys|credits``: the admin API and a tenant's account from the command line.

They talk to a running server (``--url``, default ``$GENPULSE_URL``): admin commands with the admin key
(``--admin-key``, default ``$GENPULSE_AUTH__ADMIN_KEY``, the server's own setting), ``credits show|ledger`` with a
tenant's key (``--api-key``, default ``$GENPULSE_API_KEY``). Output is JSON; a created key's secret is printed once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import httpx


def _call(ns: argparse.Namespace, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=ns.url, timeout=30, headers=headers) as client:
        response = client.request(method, path, **kwargs)
    body = response.json()
    if response.status_code >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise SystemExit(f"genpulse: {response.status_code} {err.get('type')}: {err.get('message')}")
    return body


def _admin(ns: argparse.Namespace, method: str, path: str, **kwargs: Any) -> int:
    print(json.dumps(_call(ns, method, path, ns.admin_key, **kwargs), indent=2))
    return 0


def _tenant(ns: argparse.Namespace, path: str, **kwargs: Any) -> int:
    print(json.dumps(_call(ns, "GET", path, ns.api_key, **kwargs), indent=2))
    return 0


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def cmd_tenants(ns: argparse.Namespace) -> int:
    if ns.action == "create":
        return _admin(ns, "POST", "/v1/admin/tenants", json={"name": ns.name, "credits": ns.credits})
    if ns.action == "list":
        return _admin(ns, "GET", "/v1/admin/tenants", params={"limit": 200})
    return _admin(ns, "GET", f"/v1/admin/tenants/{ns.tenant_id}")


def cmd_keys(ns: argparse.Namespace) -> int:
    if ns.action == "create":
        body = {
            "name": ns.name,
            "expires_at": time.time() + ns.expires_in if ns.expires_in else None,
            "scopes": {"providers": _csv(ns.providers), "task_types": _csv(ns.task_types)},
            "limits": {"requests_per_s": ns.rps, "max_concurrent_tasks": ns.max_concurrent},
        }
        return _admin(ns, "POST", f"/v1/admin/tenants/{ns.tenant_id}/keys", json=body)
    if ns.action == "list":
        return _admin(ns, "GET", f"/v1/admin/tenants/{ns.tenant_id}/keys")
    return _admin(ns, "DELETE", f"/v1/admin/keys/{ns.key_id}")


def cmd_credits(ns: argparse.Namespace) -> int:
    if ns.action == "add":
        body = {"amount": ns.amount, "note": ns.note}
        return _admin(ns, "POST", f"/v1/admin/tenants/{ns.tenant_id}/credits", json=body)
    if ns.action == "show":
        return _tenant(ns, "/v1/me")
    if ns.action == "usage":
        return _tenant(ns, "/v1/usage")
    return _tenant(ns, "/v1/ledger", params={"limit": ns.limit})


def register(sub: Any, default_url: str) -> None:
    """Add the ``tenants``, ``keys`` and ``credits`` commands to ``genpulse``'s subparsers."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=default_url)
        p.add_argument("--admin-key", default=os.environ.get("GENPULSE_AUTH__ADMIN_KEY"))
        p.add_argument("--api-key", default=os.environ.get("GENPULSE_API_KEY"))

    tenants = sub.add_parser("tenants", help="create, list or show tenants (admin key)")
    tsub = tenants.add_subparsers(dest="action", required=True)
    p = tsub.add_parser("create")
    p.add_argument("name")
    p.add_argument("--credits", type=int, default=0)
    common(p)
    common(tsub.add_parser("list"))
    p = tsub.add_parser("show")
    p.add_argument("tenant_id")
    common(p)
    tenants.set_defaults(func=cmd_tenants)

    keys = sub.add_parser("keys", help="create, list or revoke a tenant's API keys (admin key)")
    ksub = keys.add_subparsers(dest="action", required=True)
    p = ksub.add_parser("create")
    p.add_argument("tenant_id")
    p.add_argument("--name")
    p.add_argument("--expires-in", type=float, help="seconds from now")
    p.add_argument("--providers", help="comma-separated providers the key may use (default: all)")
    p.add_argument("--task-types", help="comma-separated task types the key may submit (default: all)")
    p.add_argument("--rps", type=float, help="requests per second")
    p.add_argument("--max-concurrent", type=int, help="queued + running tasks at once")
    common(p)
    p = ksub.add_parser("list")
    p.add_argument("tenant_id")
    common(p)
    p = ksub.add_parser("revoke")
    p.add_argument("key_id")
    common(p)
    keys.set_defaults(func=cmd_keys)

    credits = sub.add_parser("credits", help="top up or adjust (admin key); show, ledger, usage (a tenant's key)")
    csub = credits.add_subparsers(dest="action", required=True)
    p = csub.add_parser("add")
    p.add_argument("tenant_id")
    p.add_argument("amount", type=int, help="positive: top-up; negative: adjustment")
    p.add_argument("--note")
    common(p)
    common(csub.add_parser("show"))
    common(csub.add_parser("usage"))
    p = csub.add_parser("ledger")
    p.add_argument("--limit", type=int, default=50)
    common(p)
    credits.set_defaults(func=cmd_credits)


if __name__ == "__main__":  # pragma: no cover - use ``genpulse``
    sys.exit("use: genpulse tenants|keys|credits ...")
