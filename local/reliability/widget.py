"""Scenarios for the web widget's path (issue 14): visitors are Python WebSocket clients of the
local stage's API Gateway stand-in (the real edge Lambda behind it), their messages go through
the updates queue into forum topics of the emulated group, operators answer there and the
answers come back over the sockets, or are kept and flushed on the visitor's return.

A visitor's client behaves as ``widget/widget.js`` does: one message in flight, the same id
again after ``rate_limited``/``unavailable`` (after ``retryAfter``), hello again after
``not_ready``, and after a closed connection (a flooding client is closed) a new connection,
hello with its token and the unacknowledged message again. Answers are told apart by their id,
as the widget does; the checker compares their texts, so a second id for one answer would
count as duplicated.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from topicdesk.contract import Env, Output
from topicdesk.domain.relay.visitors import anon_name

from local.reliability.checker import ChatCheck, check_chat, count_notices, mark_of, total
from local.reliability.harness import Harness, Outcome, Row, ScenarioTimeout, scenario

FRAME_TIMEOUT = 60.0
CROWD = 200
CROWD_MESSAGES = 2
CROWD_DEADLINE = 900.0
"""200 topics, cards and messages into one group at its (scaled) pace, then 200 answers, on
a machine the suite shares: more than one scenario's usual deadline."""
KEPT = "📥 "  # the operators' note under an answer kept for an absent visitor


@dataclass
class Visitor:
    """One browser tab of the widget."""

    name: str
    http: aiohttp.ClientSession
    url: str
    origin: str
    token: str | None = None
    page_path: str = "/reliability"
    """Where on the site the visitor is (their contact card shows it)."""
    sent: list[str] = field(default_factory=list)
    """Marks the visitor wrote, in order (expected in their topic)."""
    answers: dict[str, str] = field(default_factory=dict)
    """Operators' answers by id, in the order the visitor first saw them."""
    live_repeats: int = 0
    """An answer id pushed again to an open page (the widget shows it once)."""
    welcomes: list[list[dict[str, Any]]] = field(default_factory=list)
    reconnects: int = 0
    refusals: int = 0
    _socket: aiohttp.ClientWebSocketResponse | None = None
    _replies: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None

    @property
    def session_id(self) -> str:
        assert self.token, f"{self.name} has no session"
        return self.token.split(".", 1)[0]

    @property
    def topic_name(self) -> str:
        return anon_name(self.session_id)

    async def connect(self) -> None:
        """A connection and its hello (a new session the first time, then the same one)."""
        await self.leave()
        self._socket = await self.http.ws_connect(
            self.url, origin=self.origin, timeout=aiohttp.ClientWSTimeout(ws_close=10)
        )
        self._replies = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(self._socket, self._replies))
        page = {"url": f"{self.origin}{self.page_path}", "language": "en", "userAgent": self.name}
        welcome = await self._ask({"action": "hello", "session": self.token, "page": page})
        if welcome.get("type") != "welcome":
            raise ScenarioTimeout(f"{self.name}: hello answered {welcome}")
        self.token = str(welcome["session"])
        self.welcomes.append(list(welcome["messages"]))
        for message in welcome["messages"]:
            if message.get("from") == "operator":
                self.answers.setdefault(str(message["id"]), str(message["text"]))

    async def leave(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
        if self._reader is not None:
            await self._reader
            self._reader = None

    async def _read(
        self, socket: aiohttp.ClientWebSocketResponse, replies: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        """Pushed answers are kept; every other frame is a reply; None: the socket closed."""
        async for raw in socket:
            if raw.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(raw.data)
            if frame.get("type") == "message":
                if str(frame["id"]) in self.answers:
                    self.live_repeats += 1
                self.answers.setdefault(str(frame["id"]), str(frame["text"]))
            else:
                replies.put_nowait(frame)
        replies.put_nowait(None)

    async def _ask(self, frame: dict[str, Any]) -> dict[str, Any]:
        assert self._socket is not None
        await self._socket.send_json(frame)
        try:
            reply = await asyncio.wait_for(self._replies.get(), FRAME_TIMEOUT)
        except TimeoutError:
            raise ScenarioTimeout(f"{self.name}: no answer to {frame['action']}") from None
        return reply or {"type": "closed"}

    async def twice(self, frame: dict[str, Any]) -> int:
        """The same frame twice, without waiting in between; how many were acknowledged."""
        assert self._socket is not None
        await self._socket.send_json(frame)
        first = await self._ask(frame)
        if first.get("type") == "closed":
            return 0
        second = await asyncio.wait_for(self._replies.get(), FRAME_TIMEOUT) or {}
        return sum(reply.get("type") == "ack" for reply in (first, second))

    async def send(self, mark: str, client_id: str | None = None, email: str | None = None) -> None:
        """Until acknowledged, as the widget does; ``client_id`` given: a resend."""
        if client_id is None:
            client_id = f"c{len(self.sent) + 1}"
            self.sent.append(mark)
        for _ in range(60):  # bounded: a scenario always ends
            if self._socket is None or self._socket.closed:
                self.reconnects += 1
                await self.connect()
            frame = {"action": "send", "id": client_id, "text": mark}
            reply = await self._ask({**frame, "email": email} if email else frame)
            if reply.get("type") == "ack" and reply.get("id") == client_id:
                return
            code = reply.get("code")
            if reply.get("type") == "closed":
                await self.leave()
            elif code in ("rate_limited", "unavailable"):
                self.refusals += 1
                await asyncio.sleep(float(reply.get("retryAfter") or 1))
            elif code == "not_ready":
                await self.connect()
            else:
                raise ScenarioTimeout(f"{self.name}: {client_id} refused: {reply}")
        raise ScenarioTimeout(f"{self.name}: {client_id} never acknowledged")


def _run(
    h: Harness,
    body: Callable[[aiohttp.ClientSession, str, str], Awaitable[Any]],
    deadline: float | None = None,
) -> Any:
    deadline = deadline or h.deadline_seconds
    widget = h.stage.widget
    if widget is None:
        raise ScenarioTimeout("the local stage serves no widget")
    url = f"{widget.api.url}?key={widget.projects[0]['widgetKey']}"

    async def main() -> Any:
        # No connection limit: every visitor holds one socket for the whole scenario.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            return await asyncio.wait_for(body(http, url, widget.site.origin), deadline)

    try:
        return asyncio.run(main())
    except TimeoutError:
        raise ScenarioTimeout(f"not within {deadline:.0f} s") from None


def _topic(h: Harness, visitor: Visitor) -> tuple[int, list[dict[str, Any]]]:
    for topic in h.client.topics(h.group):
        if topic["name"] == visitor.topic_name:
            thread = int(topic["message_thread_id"])
            return thread, h.client.transcript(h.group, thread)
    raise ScenarioTimeout(f"no topic for {visitor.name} ({visitor.topic_name})")


async def _answer(h: Harness, visitor: Visitor, marks: list[str]) -> None:
    """Operators answer in the visitor's topic (through Telegram, the webhook, the queue)."""
    thread, _ = await asyncio.to_thread(_topic, h, visitor)
    for mark in marks:
        await asyncio.to_thread(h.client.send_as_operator, h.group, thread, h.operator, mark)
        h.updates_in += 1


async def _quiet(h: Harness, within: float | None = None) -> None:
    await asyncio.to_thread(h.wait_quiet, within)


async def _until(visitor: Visitor, expected: list[str]) -> None:
    """The pushed answers have left the consumer when the pipeline is quiet; wait (bounded)
    until the socket has handed them over."""
    for _ in range(100):
        if set(expected) <= set(visitor.answers.values()):
            return
        await asyncio.sleep(0.1)


def _check(
    h: Harness, visitors: list[Visitor], answers: dict[str, list[str]]
) -> tuple[ChatCheck, int]:
    """Both directions per visitor: their marks in their topic, the answers on their page;
    plus the pushes of an answer a page already had."""
    checks = []
    for visitor in visitors:
        _, topic = _topic(h, visitor)
        checks.append(check_chat(visitor.sent, [mark_of(m) for m in topic]))
        checks.append(check_chat(answers.get(visitor.name, []), list(visitor.answers.values())))
    return total(checks), sum(v.live_repeats for v in visitors)


class _Checked:
    """A widget scenario: the harness's ``scenario`` bookkeeping (clock, dead letters, notes),
    with the per-visitor check's delivered and reordered counts added to its row."""

    def __init__(self, title: str, body: Callable[[Harness], tuple[ChatCheck, Outcome]]) -> None:
        self._last = ChatCheck(0, 0, 0, 0, 0)

        def keep(h: Harness) -> Outcome:
            self._last, outcome = body(h)
            return outcome

        self._run = scenario(title)(keep)

    def __call__(self, h: Harness) -> Row:
        row = self._run(h)
        row.delivered += self._last.delivered
        row.reordered += self._last.reordered
        row.in_doubt += self._last.in_doubt
        return row


def _outcome(check: ChatCheck, repeats: int, notes: str, **extra: int) -> tuple[ChatCheck, Outcome]:
    lost, duplicated = check.lost + extra.get("lost", 0), check.duplicated + repeats
    outcome = Outcome([], notes, lost=lost, duplicated=duplicated + extra.get("duplicated", 0))
    return check, outcome


# ---------------------------------------------------------------------- the scenarios


def disconnect_mid_conversation(h: Harness) -> tuple[ChatCheck, Outcome]:
    """Writes, gets an answer live, leaves; three answers are kept (a note each in the topic);
    comes back: they arrive in order, once; writes again in the same topic."""
    away = ["to-Wleave1-a2", "to-Wleave1-a3", "to-Wleave1-a4"]

    async def body(http: aiohttp.ClientSession, url: str, origin: str) -> Visitor:
        visitor = Visitor("Wleave1", http, url, origin)
        await visitor.connect()
        for n in (1, 2):
            await visitor.send(f"Wleave1-m{n}")
            h.updates_in += 1
        await _quiet(h)
        await _answer(h, visitor, ["to-Wleave1-a1"])
        await _quiet(h)
        await _until(visitor, ["to-Wleave1-a1"])
        await visitor.leave()
        await _answer(h, visitor, away)
        await _quiet(h)
        await visitor.connect()  # the kept answers come with the welcome
        await visitor.send("Wleave1-m3")
        h.updates_in += 1
        await _quiet(h)
        await visitor.leave()
        return visitor

    visitor = _run(h, body)
    expected = ["to-Wleave1-a1", *away]
    check, repeats = _check(h, [visitor], {visitor.name: expected})
    flushed = [m["text"] for m in visitor.welcomes[-1] if m.get("from") == "operator"]
    # The welcome on return holds each answer once, in order (the history, kept ones last).
    welcome = check_chat(expected, flushed)
    kept_notes = count_notices(_topic(h, visitor)[1], KEPT)
    lost = welcome.lost + max(0, len(away) - kept_notes)
    duplicated = welcome.duplicated + max(0, kept_notes - len(away))
    notes = (
        f"3 answers kept while away, {kept_notes} kept-notes; welcome on return: "
        f"{flushed[-len(away) :]}"
    )
    check = total([check, ChatCheck(0, 0, 0, 0, welcome.reordered)])
    return _outcome(check, repeats, notes, lost=lost, duplicated=duplicated)


def resending_client(h: Harness) -> tuple[ChatCheck, Outcome]:
    """Every message sent twice back to back, again after an ack, and all of them once more
    from a second connection of the same session: each relayed once, in order."""
    count = 6

    async def body(http: aiohttp.ClientSession, url: str, origin: str) -> tuple[Visitor, int]:
        visitor = Visitor("Wresend1", http, url, origin)
        await visitor.connect()
        doubled = 0
        for n in range(1, count + 1):
            mark, client_id = f"Wresend1-m{n}", f"c{n}"
            visitor.sent.append(mark)
            h.updates_in += 1
            doubled += await visitor.twice({"action": "send", "id": client_id, "text": mark})
            await visitor.send(mark, client_id)  # and once more after the ack
        await visitor.leave()
        again = Visitor("Wresend1", http, url, origin, token=visitor.token)
        await again.connect()
        for n in range(1, count + 1):
            await again.send(f"Wresend1-m{n}", f"c{n}")
        await _quiet(h)
        await again.leave()
        return visitor, doubled

    visitor, doubled = _run(h, body)
    check, repeats = _check(h, [visitor], {})
    notes = f"{count} messages x4 sends each ({doubled} of {2 * count} doubled sends acked)"
    return _outcome(check, repeats, notes)


def crowd(h: Harness) -> tuple[ChatCheck, Outcome]:
    """200 visitors connect and write at once, then each gets one answer live."""

    async def body(http: aiohttp.ClientSession, url: str, origin: str) -> list[Visitor]:
        visitors = [Visitor(f"Wcrowd{n}", http, url, origin) for n in range(1, CROWD + 1)]

        async def talk(visitor: Visitor) -> None:
            await visitor.connect()
            for n in range(1, CROWD_MESSAGES + 1):
                await visitor.send(f"{visitor.name}-m{n}")
                h.updates_in += 1

        started = time.monotonic()
        await asyncio.gather(*(talk(v) for v in visitors))
        phases.append(time.monotonic() - started)
        await _quiet(h, CROWD_DEADLINE)
        phases.append(time.monotonic() - started)
        for visitor in visitors:
            await _answer(h, visitor, [f"to-{visitor.name}-a1"])
        await _quiet(h, CROWD_DEADLINE)
        for visitor in visitors:
            await _until(visitor, [f"to-{visitor.name}-a1"])
        phases.append(time.monotonic() - started)
        await asyncio.gather(*(v.leave() for v in visitors))
        return visitors

    phases: list[float] = []
    visitors = _run(h, body, CROWD_DEADLINE)
    answers = {v.name: [f"to-{v.name}-a1"] for v in visitors}
    check, repeats = _check(h, visitors, answers)
    topics = {t["name"] for t in h.client.topics(h.group)}
    made = sum(v.topic_name in topics for v in visitors)
    consumer = h.stage.runtime.pools[h.stage.outputs[Output.CONSUMER_FUNCTION_NAME]]
    env = consumer.spec.environment
    cap = env.get(Env.LIMIT_NEW_TOPICS_PER_HOUR, "as shipped")
    notes = (
        f"{CROWD} visitors x {CROWD_MESSAGES} messages at once; {made} topics (new-topics cap "
        f"{cap}/h); rate-limited and resent {sum(v.refusals for v in visitors)}, "
        f"reconnected {sum(v.reconnects for v in visitors)}; all acked {phases[0]:.0f}s, "
        f"in topics {phases[1]:.0f}s, answered {phases[2]:.0f}s"
    )
    return _outcome(check, repeats, notes, lost=CROWD - made)


SCENARIOS: dict[str, Callable[[Harness], Row]] = {
    "widget-disconnect": _Checked(
        "widget: visitor leaves mid-conversation", disconnect_mid_conversation
    ),
    "widget-resends": _Checked("widget: a client resends every message", resending_client),
    "widget-crowd": _Checked(f"widget: {CROWD} visitors at once", crowd),
}
