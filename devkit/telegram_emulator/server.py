"""The HTTP server: the Bot API at ``/bot<token>/<method>``, the control API at ``/_emulator``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from aiohttp import web

from .control import ROUTES, Control, ControlError
from .delivery import BotUpdates, DeliveryOptions
from .errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request
from .faults import Faults
from .limits import Clock, FloodControl, Limits
from .methods import BotApi, Call
from .spec import Spec, UploadedFile, load_spec
from .state import BotAccount, World

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-token"  # noqa: S105 - a test token, not a secret
DEFAULT_BOT_USERNAME = "topicdesk_test_bot"
DEFAULT_BOT_NAME = "Topicdesk Test Bot"

_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
_MAX_BODY = 50 * 1024 * 1024

log = logging.getLogger("devkit.telegram_emulator")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EmulatorServer:
    """A Telegram Bot API emulator on 127.0.0.1.

    Use ``await start()`` / ``await stop()`` inside an event loop, or
    ``start_in_thread()`` / ``stop_thread()`` from synchronous code (the server
    then owns an event loop in a daemon thread). The state lives on that loop:
    from other threads, drive it through ``EmulatorClient`` or ``run_sync``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits | None = None,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = DEFAULT_BOT_NAME,
        clock: Clock | None = None,
        wall_clock: Callable[[], float] = time.time,
        seed: int = 0,
        delivery: DeliveryOptions | None = None,
        validate_answers: bool = True,
        bot_can_read_all_group_messages: bool = False,
        max_call_log: int = 100_000,
        limits_scale: float | None = None,
    ) -> None:
        if host not in _LOOPBACK_HOSTS:
            raise ValueError("the emulator listens on the loopback interface only")
        if not _TOKEN_RE.match(token):
            raise ValueError(f"malformed bot token {token!r}")
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.token = token
        self.clock: Clock = clock or time.monotonic
        self.delivery_options = delivery or DeliveryOptions()
        self.validate_answers = validate_answers
        self.max_call_log = max_call_log
        self._limits = limits or Limits()
        if limits_scale is not None:
            self._limits = self._limits.scaled(limits_scale)
        self._seed = seed
        self._wall = wall_clock
        self._bot_args = (bot_username, bot_first_name, bot_can_read_all_group_messages)
        self.spec: Spec = load_spec()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._build_state()

    # ------------------------------------------------------------ state

    def _build_state(self) -> None:
        self.world = World(seed=self._seed, wall_clock=self._wall)
        self.faults = Faults()
        self.flood = FloodControl(limits=self._limits, clock=self.clock)
        self.updates: dict[int, BotUpdates] = {}
        self.world.emitters = [self._on_update]
        self.api = BotApi(self.world, self.spec, self.flood, self.updates_for)
        self.control = Control(self)
        self.call_log: list[JSON] = []
        self.internal_errors: list[str] = []
        self._seq = 0
        username, first_name, read_all = self._bot_args
        self.bot: BotAccount = self.world.add_bot(
            self.token,
            username=username,
            first_name=first_name,
            can_read_all_group_messages=read_all,
        )

    def add_bot(self, token: str, *, username: str, first_name: str) -> BotAccount:
        if not _TOKEN_RE.match(token):
            raise ControlError(f"malformed bot token {token!r}")
        try:
            return self.world.add_bot(token, username=username, first_name=first_name)
        except ValueError as exc:
            raise ControlError(str(exc)) from None

    def updates_for(self, bot_id: int) -> BotUpdates:
        updates = self.updates.get(bot_id)
        if updates is None:
            updates = BotUpdates(
                bot_id,
                self.spec.enums["update_types"],
                self.delivery_options,
                self.faults,
                wall_clock=self._wall,
            )
            self.updates[bot_id] = updates
        return updates

    def _on_update(self, bot_id: int, kind: str, payload: JSON, chat_id: int) -> None:
        if self.validate_answers:
            problems = self.spec.check_value(["Update"], {"update_id": 1, kind: payload})
            if problems:
                self.internal_errors.append(f"{kind} update does not match the spec: {problems}")
                log.error("emulator bug: %s update does not match the spec: %s", kind, problems)
        self.updates_for(bot_id).enqueue(kind, payload, chat_id)

    async def reset(self) -> None:
        """Forget everything (people, chats, updates, calls, faults); keep the bot and limits."""
        for updates in self.updates.values():
            await updates.close()
        self._limits = self.flood.limits
        self._build_state()

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    def api_url(self, token: str | None = None) -> str:
        """The Bot API root of one bot: ``{base_url}/bot{token}``."""
        return f"{self.base_url}/bot{token or self.token}"

    @property
    def bot_id(self) -> int:
        return self.bot.id

    async def start(self) -> None:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        for route in ROUTES:
            app.router.add_route(
                route.method, "/_emulator" + route.path, self._control_handler(route.action)
            )
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        for updates in self.updates.values():
            await updates.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def start_in_thread(self, timeout: float = 10.0) -> EmulatorServer:
        """Start on an event loop of its own in a daemon thread; returns ``self``."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="telegram-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the emulator did not start in time")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.stop(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    def run_sync(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the server's loop (thread-safe) and return its result."""
        loop = self._loop
        if loop is None or self._thread is None or threading.current_thread() is self._thread:
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    # ------------------------------------------------------------ seeding (sync)

    def create_user(self, first_name: str = "Person", **kwargs: Any) -> JSON:
        """A user and their private chat with the bot (``started=True`` to open it)."""
        return self.run_sync(lambda: self.control.create_user({"first_name": first_name, **kwargs}))

    def create_person(self, first_name: str = "Person", **kwargs: Any) -> JSON:
        """A user who has started the bot (``/start`` was pressed)."""
        return self.create_user(first_name, started=True, **kwargs)

    def create_forum_group(self, title: str = "Operators", **kwargs: Any) -> JSON:
        """A forum supergroup with the bot as admin (``bot_can_manage_topics``) and operators."""
        return self.run_sync(lambda: self.control.create_group({"title": title, **kwargs}))

    def info(self) -> JSON:
        return {
            "base_url": self.base_url,
            "api_url": self.api_url(),
            "token": self.token,
            "bot": self.bot.get_me(),
            "bots": [b.get_me() for b in self.world.bots.values()],
            "limits": self.flood.limits.to_json(),
            "api_version": self.spec.api_version,
            "spec_source": self.spec.source,
        }

    def stats(self) -> JSON:
        by_method: dict[str, int] = {}
        for call in self.call_log:
            by_method[call["method"]] = by_method.get(call["method"], 0) + 1
        return {
            "calls": len(self.call_log),
            "calls_by_method": by_method,
            "errors_by_code": _count(c["status"] for c in self.call_log if c["ok"] is False),
            "rejected_429": self.flood.total_rejected(),
            "rejected_429_by_scope": dict(self.flood.rejected),
            "violations": len(self.flood.violations),
            "internal_errors": len(self.internal_errors),
            "updates": {str(k): v.stats() for k, v in self.updates.items()},
        }

    # ------------------------------------------------------------ Bot API

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        name = request.match_info["method"]
        self._seq += 1
        entry: JSON = {
            "seq": self._seq,
            "at": self.clock(),
            "method": name,
            "http": request.method,
            "content_type": request.content_type if request.can_read_body else None,
            "status": None,  # still running (a long poll, a hang)
            "ok": None,
        }
        if len(self.call_log) < self.max_call_log:
            self.call_log.append(entry)
        call: Call | None = None
        try:
            if not _TOKEN_RE.match(token):
                raise NOT_FOUND
            bot = self.world.bots_by_token.get(token)
            if bot is None:
                raise UNAUTHORIZED
            entry["bot_id"] = bot.id
            method = self.spec.method(name)
            if method is None:
                raise NOT_FOUND
            entry["method"] = method.name
            raw, files = await _read_params(request)
            entry["params"] = _loggable(raw, files)
            latency, fault = self.faults.take(method.name)
            delay = latency + (fault.hang if fault else 0.0)
            if delay:
                await asyncio.sleep(delay)
            if fault is not None and fault.status is not None:
                raise ApiError(fault.status, fault.description or _phrase(fault.status))
            params = self.spec.validate_call(method, raw, files)
            if not self.api.implemented(method.name):
                raise bad_request(f"method {method.name} is not implemented by the emulator")
            call = Call(bot, method.name, params, files)
            result = await self.api.dispatch(call)
            if self.validate_answers:
                problems = self.spec.check_value(method.returns, result)
                if problems:
                    raise _Internal(f"{method.name} answer does not match the spec: {problems[:5]}")
            body: JSON = {"ok": True, "result": result}
            if call.description:
                body["description"] = call.description
            status = 200
        except ApiError as exc:
            body, status = exc.payload(), exc.code
        except _Internal as exc:
            self.internal_errors.append(str(exc))
            log.error("emulator bug: %s", exc)
            body, status = _internal_body(str(exc)), 500
        except Exception as exc:
            self.internal_errors.append(traceback.format_exc())
            log.exception("emulator bug in %s", name)
            body, status = _internal_body(f"{exc.__class__.__name__}: {exc}"), 500
        entry.update(
            status=status,
            ok=body["ok"],
            description=body.get("description"),
            result=body.get("result"),
            parameters=body.get("parameters"),
        )
        if request.transport is None or request.transport.is_closing():
            # The caller went away before its answer (its timeout, a crash): the method ran,
            # the bot cannot know. Logged so a test tells an in-doubt duplicate from a real one.
            entry["answer_dropped"] = True
        return web.Response(text=_dumps(body), status=status, content_type="application/json")

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        bot = self.world.bots_by_token.get(request.match_info["token"])
        record = self.world.files_by_path.get(request.match_info["path"])
        if bot is None or record is None:
            return _json_response(NOT_FOUND.payload(), 404)
        data = record.data if record.data is not None else bytes(min(record.file_size, 1 << 20))
        return web.Response(body=data, content_type="application/octet-stream")

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return _json_response(NOT_FOUND.payload(), 404)

    # ------------------------------------------------------------ control API

    def _control_handler(self, action: str) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            args: JSON = dict(request.query)
            if request.can_read_body:
                try:
                    body = await request.json()
                except ValueError:
                    return _json_response({"ok": False, "error": "the body must be JSON"}, 400)
                if isinstance(body, dict):
                    args.update(body)
            args.update(request.match_info)
            try:
                if action == "reset":
                    await self.reset()
                    result: JSON = {"reset": True}
                else:
                    result = getattr(self.control, action)(args)
            except ApiError as exc:
                return _json_response({"ok": False, "error": exc.description}, exc.code)
            except KeyError as exc:
                return _json_response({"ok": False, "error": f"missing argument {exc}"}, 400)
            return _json_response({"ok": True, "result": result}, 200)

        return handle


class _Internal(Exception):
    pass


def _internal_body(detail: str) -> JSON:
    return {
        "ok": False,
        "error_code": 500,
        "description": f"Internal Server Error: emulator bug: {detail}",
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_response(body: JSON, status: int) -> web.Response:
    return web.Response(text=_dumps(body), status=status, content_type="application/json")


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """Query string plus body (JSON, urlencoded or multipart), like the Bot API reads them."""
    raw: JSON = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return raw, files
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        raw.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(
                    key, value.filename or "", value.content_type or "", value.file.read()
                )
            else:
                raw[key] = value if isinstance(value, str) else bytes(value).decode()
    return raw, files


def _loggable(raw: JSON, files: dict[str, UploadedFile]) -> JSON:
    out = dict(raw)
    for key, upload in files.items():
        out[key] = {"upload": upload.filename, "size": len(upload.data)}
    return out
