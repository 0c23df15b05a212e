"""AiohttpTransport: the vendor clients' httpx API over aiohttp keeps httpx's meaning of every outcome (the
"never sent" errors above all: a submit is repeated only after one of those), against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from genpulse.core.aiohttp_transport import AiohttpTransport
from genpulse.providers.http import transport_error


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"method": request.method, "body": body.decode(), "headers": dict(request.headers)})

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"ok": true}'), headers={"Content-Encoding": "gzip"})

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def cut(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse(headers={"Content-Length": "1000"})
        await reply.prepare(request)
        await reply.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return reply

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/moved", moved)
    app.router.add_get("/slow", slow)
    app.router.add_get("/cut", cut)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def client(**kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(8), follow_redirects=True, **kwargs)  # type: ignore[arg-type]


async def test_requests_go_out_as_httpx_built_them_and_replies_come_back_decoded(server: str) -> None:
    async with client() as http:
        signed = {"X-Signature": "sig", "Authorization": "Bearer t"}
        r = await http.post(f"{server}/echo", json={"a": 1}, headers=signed)
        assert r.status_code == 200
        got = r.json()
        assert got["method"] == "POST" and json.loads(got["body"]) == {"a": 1}
        assert got["headers"]["X-Signature"] == "sig" and got["headers"]["Authorization"] == "Bearer t"
        assert got["headers"]["Content-Type"] == "application/json"
        assert (await http.get(f"{server}/gzip")).json() == {"ok": True}  # httpx decodes Content-Encoding
        moved = await http.get(f"{server}/moved")  # httpx follows the redirect, one request per hop
        assert moved.json()["method"] == "GET" and len(moved.history) == 1
        async with http.stream("GET", f"{server}/echo") as streamed:
            assert b"".join([chunk async for chunk in streamed.aiter_bytes()]).startswith(b"{")


async def test_a_connection_never_made_is_a_connect_error_so_the_request_was_never_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(f"http://127.0.0.1:{port}/submit", json={})
    error = transport_error("v", "POST", f"http://127.0.0.1:{port}/submit", caught.value)
    assert error.details == {"request_sent": False, "refused": True}


async def test_a_reply_too_slow_or_cut_off_may_have_been_received(server: str) -> None:
    async with client(timeout=httpx.Timeout(0.5, connect=2)) as http:
        with pytest.raises(httpx.ReadTimeout) as slow:
            await http.get(f"{server}/slow")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as cut:
            await http.get(f"{server}/cut")
    for caught in (slow.value, cut.value):
        error = transport_error("v", "GET", f"{server}/x", caught)
        assert error.details == {"request_sent": True, "refused": False}
