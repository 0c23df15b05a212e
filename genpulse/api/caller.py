"""The caller of a request: ``Caller`` (a route parameter) authenticates it once (``genpulse.tenants.auth``).

Routes take ``caller: Caller`` and act as ``caller.tenant()``; admin routes call ``caller.require_admin()``.
The bearer scheme is declared to OpenAPI, so `/docs` has an *Authorize* button.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from genpulse.api.routes import service_of
from genpulse.tenants.auth import Principal, authenticate

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`gp_...`) or, on admin routes, the admin key. Not needed while `auth.mode` is `off`.",
)


async def principal_of(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    svc = service_of(request)
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else request.headers.get("authorization")
    principal = await authenticate(header, svc.args.auth, svc.store)
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(principal_of)]


async def admin_only(caller: Caller) -> None:
    caller.require_admin()
