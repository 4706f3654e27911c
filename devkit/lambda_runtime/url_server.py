"""A Function URL on localhost: HTTP request -> payload 2.0 event -> function -> HTTP answer."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from aiohttp import web

from devkit.lambda_runtime.events import function_url_event
from devkit.lambda_runtime.functions import FunctionError, FunctionPool

logger = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


def _response(result: Any) -> web.Response:
    """Function URL response rules: a dict with statusCode is used as is; anything else is
    a 200 with the value as JSON."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return web.Response(status=int(result["statusCode"]), body=raw, headers=headers)
    return web.json_response(result)


class FunctionUrlServer:
    def __init__(self, function: FunctionPool, host: str = "127.0.0.1", port: int = 0) -> None:
        self._function = function
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = function_url_event(
            method=request.method,
            body=body,
            headers=dict(request.headers),
            path=request.path,
            query=request.query_string,
            source_ip=request.remote or "127.0.0.1",
            domain=request.host,
        )
        try:
            result = await asyncio.to_thread(self._function.invoke, event)
        except FunctionError as error:
            logger.warning("function URL invocation failed: %s", error)
            return web.json_response({"Message": "Internal Server Error"}, status=502)
        return _response(result)

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self._host}:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
