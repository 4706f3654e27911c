"""The scripted demo of `make local`: two people write, an operator answers, one person blocks
the bot, a topic is deleted and recreated, and a web visitor talks through the widget. The
terminal shows it as a live transcript, read from the emulator's chats as the real pipeline
(webhook -> SQS -> consumer) produces it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from devkit.telegram_emulator import EmulatorClient

if TYPE_CHECKING:
    from local.stage import RunningStage

STEP_TIMEOUT_SECONDS = 60.0
VISITOR_EMAIL = "visitor@example.com"
VISITOR_TEXT = "Hi! Is there a free trial?"
VISITOR_ANSWER = "Yes: 14 days, no card needed."


class DemoFailed(RuntimeError):
    pass


def _text(message: dict[str, Any]) -> str:
    text = message.get("text") or message.get("caption")
    if text:
        return str(text).replace("\n", " ⏎ ")
    for kind in ("photo", "document", "sticker", "voice", "video", "forum_topic_created"):
        if kind in message:
            return f"<{kind.replace('_', ' ')}>"
    return "<service message>"


class Transcript:
    """Prints every new message in the watched chats, oldest first, once."""

    def __init__(self, client: EmulatorClient, bot_id: int, operator_chat_id: int) -> None:
        self._client = client
        self._bot_id = bot_id
        self._group = operator_chat_id
        self._people: dict[int, str] = {}
        self._seen: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def watch_person(self, user_id: int, name: str) -> None:
        self._people[user_id] = name

    def topic_names(self) -> dict[int, str]:
        return {
            int(t["message_thread_id"]): str(t["name"]) for t in self._client.topics(self._group)
        }

    def refresh(self) -> None:
        with self._lock:
            lines: list[tuple[int, str]] = []
            for user_id, name in self._people.items():
                for message in self._client.transcript(user_id):
                    key = (user_id, int(message["message_id"]))
                    if key in self._seen:
                        continue
                    self._seen.add(key)
                    from_bot = message.get("from", {}).get("id") == self._bot_id
                    arrow = f"bot → {name}" if from_bot else f"{name} → bot"
                    lines.append((int(message["date"]), f"  💬 [{arrow}] {_text(message)}"))
            topics = self.topic_names()
            for message in self._client.transcript(self._group):
                key = (self._group, int(message["message_id"]))
                if key in self._seen:
                    continue
                self._seen.add(key)
                thread = message.get("message_thread_id")
                if not thread and _text(message) == "<service message>":
                    continue  # the group's own creation notices, not part of the story
                topic = topics.get(int(thread), "General") if thread else "General"
                sender = message.get("from", {})
                who = "bot" if sender.get("id") == self._bot_id else sender.get("first_name", "?")
                lines.append(
                    (int(message["date"]), f"  🗂  [topic “{topic}” · {who}] {_text(message)}")
                )
            for _, line in sorted(lines, key=lambda item: item[0]):
                print(line, flush=True)


def _wait_for(
    what: str, check: Callable[[], bool], transcript: Transcript, stop: threading.Event
) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not stop.is_set():
        transcript.refresh()
        if check():
            return
        time.sleep(0.3)
    if not stop.is_set():
        raise DemoFailed(f"demo: {what} did not happen within {STEP_TIMEOUT_SECONDS:.0f} s")


def run_demo(stage: RunningStage, stop: threading.Event) -> dict[str, Any]:
    """Play the scenario; returns the ids involved (the e2e test reads them)."""
    emulator = stage.telegram.emulator
    assert emulator is not None
    client = EmulatorClient(emulator.base_url, emulator.token)
    group = stage.operator_chat_ids[0]
    operator = stage.emulated_operator(client)
    anna = int(client.create_user("Anna", "Schmidt", "anna_s", language_code="de")["user_id"])
    ben = int(client.create_user("Ben", username="ben_k")["user_id"])
    transcript = Transcript(client, emulator.bot_id, group)
    transcript.watch_person(anna, "Anna")
    transcript.watch_person(ben, "Ben")

    def topic_of(name: str) -> int | None:
        found = [t for t, n in transcript.topic_names().items() if n.startswith(name)]
        return found[-1] if found else None

    def topic_has(name: str, text: str) -> bool:
        thread = topic_of(name)
        return thread is not None and any(
            m.get("text") == text for m in client.transcript(group, thread)
        )

    def chat_has(user_id: int, text: str) -> bool:
        return any(m.get("text") == text for m in client.transcript(user_id))

    print("\n▶ Demo: two people write to the bot", flush=True)
    client.send_as_user(anna, "/start")
    client.send_as_user(anna, "Hi! My order #1042 has not arrived yet.")
    client.send_as_user(ben, "Hello, how do I reset my password?")
    _wait_for(
        "Anna's topic",
        lambda: topic_has("Anna", "Hi! My order #1042 has not arrived yet."),
        transcript,
        stop,
    )
    _wait_for(
        "Ben's topic",
        lambda: topic_has("Ben", "Hello, how do I reset my password?"),
        transcript,
        stop,
    )

    print("\n▶ Demo: an operator answers Anna in her topic", flush=True)
    anna_topic = topic_of("Anna")
    assert anna_topic is not None
    client.send_as_operator(group, anna_topic, operator, "Sorry, Anna! It ships tomorrow.")
    _wait_for(
        "the answer reaching Anna",
        lambda: chat_has(anna, "Sorry, Anna! It ships tomorrow."),
        transcript,
        stop,
    )

    print("\n▶ Demo: Ben blocks the bot; the operator's answer cannot be delivered", flush=True)
    client.block_bot(ben)
    ben_topic = topic_of("Ben")
    assert ben_topic is not None
    # The block and the answer travel in different queue groups (Ben's chat, his topic), and
    # the block's note is paced like everything Ben causes: the operator answers once the
    # topic says he blocked the bot, so the story reads the same every run.

    def ben_topic_says(fragment: str) -> bool:
        return any(fragment in (m.get("text") or "") for m in client.transcript(group, ben_topic))

    _wait_for("the block's note", lambda: ben_topic_says("blocked the bot"), transcript, stop)
    client.send_as_operator(group, ben_topic, operator, "Use the 'Forgot password' link.")
    _wait_for("the 'not delivered' note", lambda: ben_topic_says("Not delivered"), transcript, stop)

    print("\n▶ Demo: Anna's topic is deleted, then Anna writes again", flush=True)
    client.delete_topic(group, anna_topic)
    client.send_as_user(anna, "Thanks! And can I change the address?")
    _wait_for(
        "a new topic for Anna",
        lambda: (
            topic_has("Anna", "Thanks! And can I change the address?")
            and topic_of("Anna") != anna_topic
        ),
        transcript,
        stop,
    )
    visitor_topic = _visitor_talks(stage, client, operator, transcript, stop)
    transcript.refresh()
    print("\n✔ Demo finished: the pipeline is yours to play with.", flush=True)
    return {
        "anna": anna,
        "ben": ben,
        "operator": operator,
        "group": group,
        "old_topic": anna_topic,
        "new_topic": topic_of("Anna"),
        "visitor_topic": visitor_topic,
    }


def _visitor_talks(
    stage: RunningStage,
    client: EmulatorClient,
    operator: int,
    transcript: Transcript,
    stop: threading.Event,
) -> int | None:
    """A web visitor (a WebSocket client, as the widget is) writes with an e-mail, an operator
    answers in the visitor's topic and the answer is pushed back over the open socket."""
    widget = stage.widget
    if widget is None:
        return None  # a stage without widget projects has no visitors
    # The reliability suite's visitor behaves as widget.js does; the demo reuses it.
    from local.reliability.harness import ScenarioTimeout
    from local.reliability.widget import Visitor

    group = stage.operator_chat_ids[0]
    url = f"{widget.api.url}?key={widget.projects[0]['widgetKey']}"

    def visitor_topic() -> int | None:
        found = [t for t, n in transcript.topic_names().items() if n == VISITOR_EMAIL]
        return found[-1] if found else None

    def topic_holds(*fragments: str) -> bool:
        thread = visitor_topic()
        if thread is None:
            return False
        said = [m.get("text") or "" for m in client.transcript(group, thread)]
        return all(any(fragment in text for text in said) for fragment in fragments)

    async def talk() -> int:
        async with aiohttp.ClientSession() as http:
            visitor = Visitor("visitor", http, url, widget.site.origin, page_path="/pricing")
            print("\n▶ Demo: a web visitor says hello through the widget", flush=True)
            await visitor.connect()
            print(f"\n▶ Demo: the visitor asks, leaving {VISITOR_EMAIL}", flush=True)
            await visitor.send(VISITOR_TEXT, email=VISITOR_EMAIL)  # until acknowledged
            print(f"  🌐 [visitor → widget] {VISITOR_TEXT}", flush=True)
            await asyncio.to_thread(
                _wait_for,
                "the visitor's topic and card",
                lambda: topic_holds(VISITOR_TEXT, f"{VISITOR_EMAIL}"),
                transcript,
                stop,
            )
            thread = visitor_topic()
            assert thread is not None
            print("\n▶ Demo: an operator answers the visitor in their topic", flush=True)
            await asyncio.to_thread(
                client.send_as_operator, group, thread, operator, VISITOR_ANSWER
            )
            await asyncio.to_thread(
                _wait_for,
                "the answer reaching the visitor",
                lambda: VISITOR_ANSWER in visitor.answers.values(),
                transcript,
                stop,
            )
            if VISITOR_ANSWER in visitor.answers.values():
                print(f"  🌐 [widget → visitor] {VISITOR_ANSWER}", flush=True)
            await visitor.leave()
            return thread

    try:
        return asyncio.run(talk())
    except ScenarioTimeout as error:
        raise DemoFailed(f"demo: the visitor's widget: {error}") from None
