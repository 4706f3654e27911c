"""A fault-injecting proxy in front of moto, for one AWS service at a time.

The functions' ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_SQS`` point here; by default
every request passes through to moto untouched. A scenario can make a share of chosen
operations fail the way AWS fails them: DynamoDB throttling
(``ProvisionedThroughputExceededException``), a 500 from SQS.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

THROTTLED = (
    400,
    '{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    '"message":"The level of configured provisioned throughput for the table was exceeded."}',
)
INTERNAL = (500, '{"__type":"InternalError","message":"We encountered an internal error."}')


@dataclass
class FaultRule:
    operations: frozenset[str]
    """X-Amz-Target suffixes (``UpdateItem``, ``SendMessage``...); empty: every operation."""
    share: float
    answer: tuple[int, str]
    injected: int = 0


@dataclass
class FaultProxy:
    name: str
    upstream: str = ""
    rules: list[FaultRule] = field(default_factory=list)
    passed: int = 0
    url: str = ""
    _random: random.Random = field(default_factory=lambda: random.Random(7))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, share: float, *operations: str, answer: tuple[int, str] = INTERNAL) -> FaultRule:
        rule = FaultRule(frozenset(operations), share, answer)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _choose(self, operation: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if (not rule.operations or operation in rule.operations) and (
                    self._random.random() < rule.share
                ):
                    rule.injected += 1
                    return rule
            self.passed += 1
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        rule = self._choose(operation)
        if rule is not None:
            status, text = rule.answer
            return web.Response(status=status, text=text, content_type="application/x-amz-json-1.0")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as answer,
        ):
            payload = await answer.read()
            out = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
            return web.Response(status=answer.status, body=payload, headers=out)


class FaultProxies:
    """The proxies of a run, on one event loop in a thread; loopback only."""

    def __init__(self, *names: str) -> None:
        self.proxies = {name: FaultProxy(name) for name in names}
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        for proxy in self.proxies.values():
            future = asyncio.run_coroutine_threadsafe(self._serve(proxy), self._loop)
            proxy.url = future.result(10)

    async def _serve(self, proxy: FaultProxy) -> str:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", proxy._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        async def cleanup() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
