"""The widget on the local stage: the WebSocket API as deployed to moto, played on loopback by
``devkit.lambda_runtime.websocket``, and the ``widget/`` folder served over HTTP with the demo
page pointing at it.

The demo page's origin must be one of the local project's ``allowedOrigins`` (cdk.json lists
``http://127.0.0.1:8780`` and ``http://localhost:8780``): on another port (``--widget-port 0``
for tests) that origin is added to the first project's list in the functions' environment,
which the ready block says.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from topicdesk.contract import Env, Output

from devkit.lambda_runtime.functions import FunctionPool
from devkit.lambda_runtime.websocket import WebSocketApiServer, WebSocketApiSpec, WebSocketRoute
from devkit.moto import client

WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget"
DEFAULT_SITE_PORT = 8780


def read_websocket_api(endpoint: str, outputs: dict[str, str]) -> WebSocketApiSpec | None:
    """The deployed API (moto's apigatewayv2): its stage, routes and their functions."""
    api_id = outputs.get(Output.WIDGET_API_ID)
    if not api_id:
        return None
    apis = client("apigatewayv2", endpoint)
    api = apis.get_api(ApiId=api_id)
    stages = apis.get_stages(ApiId=api_id)["Items"]
    uris = {
        i["IntegrationId"]: i["IntegrationUri"]
        for i in apis.get_integrations(ApiId=api_id)["Items"]
    }
    routes: dict[str, WebSocketRoute] = {}
    for route in apis.get_routes(ApiId=api_id)["Items"]:
        target = str(route.get("Target", ""))
        uri = uris.get(target.removeprefix("integrations/"), "")
        # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations
        function_arn = uri.split("/functions/", 1)[-1].removesuffix("/invocations")
        routes[route["RouteKey"]] = WebSocketRoute(
            key=route["RouteKey"],
            function=function_arn.rsplit(":", 1)[-1],
            return_response=bool(route.get("RouteResponseSelectionExpression")),
        )
    return WebSocketApiSpec(
        api_id=api_id,
        stage=stages[0]["StageName"],
        route_selection_expression=api.get("RouteSelectionExpression", ""),
        routes=routes,
    )


class WidgetSite:
    """``widget/`` on loopback; ``/`` and ``/demo.html`` with the placeholders filled in."""

    def __init__(self, *, key: str, websocket_url: str, port: int = DEFAULT_SITE_PORT) -> None:
        self._key, self._websocket_url, self._port = key, websocket_url, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.origin = ""

    async def _demo(self, request: web.Request) -> web.Response:
        page = (WIDGET_DIR / "demo.html").read_text(encoding="utf-8")
        page = page.replace("{{WIDGET_KEY}}", self._key).replace(
            "{{WIDGET_URL}}", self._websocket_url
        )
        return web.Response(text=page, content_type="text/html")

    def start(self) -> str:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            app = web.Application()
            app.router.add_get("/", self._demo)
            app.router.add_get("/demo.html", self._demo)
            app.router.add_static("/", WIDGET_DIR, show_index=False)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.origin = f"http://127.0.0.1:{port}"

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="widget-site", daemon=True).start()
        if not ready.wait(30):
            raise RuntimeError("the widget's demo site did not start")
        return f"{self.origin}/demo.html"

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop = None


@dataclass
class LocalWidget:
    api: WebSocketApiServer
    site: WidgetSite
    projects: list[dict[str, Any]]
    demo_url: str
    pools: dict[str, FunctionPool] = field(default_factory=dict)

    @classmethod
    def start(
        cls, endpoint: str, outputs: dict[str, str], *, site_port: int = DEFAULT_SITE_PORT
    ) -> LocalWidget | None:
        spec = read_websocket_api(endpoint, outputs)
        if spec is None:
            return None
        function = client("lambda", endpoint).get_function_configuration(
            FunctionName=outputs[Output.WIDGET_FUNCTION_NAME]
        )
        projects = json.loads(function["Environment"]["Variables"][Env.WIDGET_PROJECTS])
        pools: dict[str, FunctionPool] = {}
        api = WebSocketApiServer(spec, _invoker(pools))
        api.start()
        site = WidgetSite(key=projects[0]["widgetKey"], websocket_url=api.url, port=site_port)
        try:
            demo_url = site.start()
        except BaseException:
            api.stop()
            raise
        if site.origin not in projects[0]["allowedOrigins"]:
            projects[0]["allowedOrigins"].append(site.origin)
        return cls(api, site, projects, demo_url, pools)

    @property
    def environment(self) -> dict[str, str]:
        """For every function: the management API on loopback, the demo page's origin."""
        return {
            Env.WIDGET_CONNECTIONS_URL: self.api.connections_url,
            Env.WIDGET_PROJECTS: json.dumps(self.projects, separators=(",", ":")),
        }

    def attach(self, pools: dict[str, FunctionPool]) -> None:
        """The runtime's functions are ready: route invocations to them."""
        self.pools.update(pools)

    def stop(self) -> None:
        self.site.stop()
        self.api.stop()


def _invoker(pools: dict[str, FunctionPool]) -> Callable[[str, dict[str, Any]], Any]:
    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function not in pools:
            raise RuntimeError(f"function {function} is not running (yet)")
        return pools[function].invoke(event)

    return invoke
