"""The web chat widget in a real browser (issue 14): Debian's chromium, driven by Playwright,
loads the demo page that the whole `local` stage serves (moto, cdk deploy, the local runtime
playing API Gateway's WebSocket API and Lambda, the Bot API emulator) and talks through the
real pipeline to the operators' forum topic and back.

Chromium is the distribution's (`apt-get install chromium`; .ci/run installs it): Playwright
cannot download browsers here, so it launches /usr/bin/chromium with a fresh profile per test.
Everything listens on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from devkit.telegram_emulator import EmulatorClient
from tests.support.local_stage import stage_environment

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 300.0
PIPELINE_MS = 90_000  # the queue, the consumer and Telegram between the page and the topic
SCREENSHOT = os.environ.get("WIDGET_SCREENSHOT")  # e.g. docs/widget-demo.png, to refresh it

pytestmark = pytest.mark.slow


@dataclass
class Stage:
    client: EmulatorClient
    group: int
    operator: int
    demo_url: str
    widget_js: str
    key: str
    websocket_url: str

    def topics(self) -> list[dict[str, Any]]:
        return self.client.topics(self.group)

    def texts(self, thread: int) -> list[str]:
        """The topic's texts, oldest first (service messages have none)."""
        messages = self.client.transcript(self.group, thread)
        return [str(m["text"]) for m in messages if m.get("text")]

    def topic_with(self, text: str) -> int | None:
        """The topic where ``text`` was relayed (topics are named after the visitor)."""
        for topic in self.topics():
            thread = int(topic["message_thread_id"])
            if not topic.get("deleted") and any(text in t for t in self.texts(thread)):
                return thread
        return None


def wait_for(what: str, value: Callable[[], Any], timeout: float = PIPELINE_MS / 1000) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = value()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    state_dir = tmp_path_factory.mktemp("widget-stage")
    stage_file = state_dir / "stage.json"
    terminal = state_dir / "terminal.txt"
    environment = stage_environment(state_dir)
    with terminal.open("w") as sink:
        process = subprocess.Popen(
            # Any free port for the demo page: the stage adds its origin to the allowed ones.
            [sys.executable, "-m", "local.stage", "--no-demo", "--widget-port", "0"],
            cwd=ROOT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            "the local stage",
            lambda: stage_file.exists() or process.poll() is not None,
            START_TIMEOUT,
        )
        assert process.poll() is None, terminal.read_text()[-3000:]
        description = json.loads(stage_file.read_text())
        client = EmulatorClient(description["telegram_api_url"])
        group = int(description["operator_chat_ids"][0])
        admins = client.bot_api("getChatAdministrators", chat_id=group)
        operator = next(int(m["user"]["id"]) for m in admins if not m["user"]["is_bot"])
        demo_url = description["widget_demo_url"]
        with urllib.request.urlopen(demo_url, timeout=30) as response:
            page = response.read().decode()
        # The stage filled in the demo's placeholders: the key and the API it was deployed with.
        key = re.search(r'data-key="([^"]+)"', page)
        url = re.search(r'data-url="([^"]+)"', page)
        assert key and url, page
        yield Stage(
            client,
            group,
            operator,
            demo_url,
            urljoin(demo_url, "widget.js"),
            key.group(1),
            url.group(1),
        )
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a developer stops the stage; killed if it is not down within a minute."""
    process.send_signal(signal.SIGINT)  # a no-op once it has exited
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(60)
    process.kill()
    process.wait(10)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install chromium (.ci/run does)"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh profile: a new visitor, with no session in localStorage."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 720},
    )
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


class OtherOrigin:
    """A page on a loopback origin the project does not allow, with the right key."""

    def __init__(self, stage: Stage) -> None:
        page = (
            "<!doctype html><html lang='en'><title>Someone else's shop</title>"
            "<h1>Someone else's shop</h1>"
            f'<script src="{stage.widget_js}" data-key="{stage.key}"'
            f' data-url="{stage.websocket_url}"></script></html>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/shop.html"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtherOrigin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the page's side


def widget(page: Page) -> Any:
    return page.locator("topicdesk-chat")


def conversation(page: Page) -> Any:
    return page.get_by_role("log", name="Conversation")


def open_chat(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^Chat with us")).click()
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()


def write(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.keyboard.press("Enter")


def bubbles(page: Page, who: str) -> list[str]:
    texts = conversation(page).locator(f"li.{who} > span:nth-child(2)").all_inner_texts()
    return [t.strip() for t in texts]


def accepted(page: Page, text: str) -> None:
    """The server acknowledged the visitor's message (the bubble loses "sending…")."""
    bubble = conversation(page).locator("li.visitor", has_text=text)
    expect(bubble).to_have_attribute("data-state", "delivered", timeout=PIPELINE_MS)


# ---------------------------------------------------------------- the scenarios


def test_a_visitor_writes_and_the_operator_answers_from_the_topic(
    stage: Stage, browser: BrowserContext
) -> None:
    page = browser.new_page()
    page.goto(stage.demo_url)
    # Keyboard only: the launcher is a button, opening the panel puts the focus in the text box.
    launcher = page.get_by_role("button", name=re.compile("^Chat with us"))
    launcher.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Your message")).to_be_focused()
    page.get_by_label("E-mail (optional").fill("anna@example.com")
    page.get_by_label("Your message").fill("Hi! Has order #1042 shipped?")
    page.keyboard.press("Enter")
    accepted(page, "Hi! Has order #1042 shipped?")

    # A topic named after the e-mail, opened by the contact card, then the message.
    thread = wait_for("the visitor's topic", lambda: stage.topic_with("order #1042"))
    [topic] = [t for t in stage.topics() if t["message_thread_id"] == thread]
    assert "anna@example.com" in topic["name"]
    card, *rest = stage.texts(thread)
    assert stage.demo_url in card
    assert "anna@example.com" in card
    assert "Hi! Has order #1042 shipped?" in rest

    stage.client.send_as_operator(stage.group, thread, stage.operator, "Yes, it ships today!")
    expect(conversation(page)).to_contain_text("Yes, it ships today!", timeout=PIPELINE_MS)
    assert bubbles(page, "operator") == ["Yes, it ships today!"]
    if SCREENSHOT:
        page.screenshot(path=str(ROOT / SCREENSHOT))

    # A reload keeps the session (localStorage) and the whole conversation (welcome).
    page.reload()
    expect(conversation(page)).to_contain_text("Yes, it ships today!", timeout=PIPELINE_MS)
    assert bubbles(page, "visitor") == ["Hi! Has order #1042 shipped?"]
    assert bubbles(page, "operator") == ["Yes, it ships today!"]
    # Esc closes the panel and gives the focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_answers_written_while_the_page_was_closed_arrive_in_order(
    stage: Stage, browser: BrowserContext
) -> None:
    page = browser.new_page()
    page.goto(stage.demo_url)
    open_chat(page)
    write(page, "Is anyone there? (closing the tab now)")
    accepted(page, "Is anyone there?")
    thread = wait_for("the visitor's topic", lambda: stage.topic_with("closing the tab now"))
    page.close()

    answers = ["First answer", "Second answer", "Third answer"]
    sent = [
        stage.client.send_as_operator(stage.group, thread, stage.operator, answer)
        for answer in answers
    ]

    # The relay has handled the last answer when the bot's note under it says it was kept.
    def told() -> bool:
        last = sent[-1]["message_id"]
        return any(
            m["from"]["is_bot"] and (m.get("reply_to_message") or {}).get("message_id") == last
            for m in stage.client.transcript(stage.group, thread)
        )

    wait_for("the note that the answers were kept", told)

    page = browser.new_page()
    page.goto(stage.demo_url)
    # The returning visitor's widget connects at once and counts the unread answers.
    expect(page.locator("topicdesk-chat .badge")).to_have_text("3", timeout=PIPELINE_MS)
    open_chat(page)
    assert bubbles(page, "operator") == answers


def test_a_lost_acknowledgement_is_resent_with_the_same_id_and_relayed_once(
    stage: Stage, browser: BrowserContext
) -> None:
    page = browser.new_page()
    dropped: list[str] = []

    def flaky(route: Any) -> None:
        server = route.connect_to_server()

        def to_page(frame: str | bytes) -> None:
            if not dropped and '"ack"' in str(frame):
                dropped.append(str(frame))
                route.close()  # the ack is lost with the connection
                return
            route.send(frame)

        server.on_message(to_page)

    page.route_web_socket(re.compile("^wss?://"), flaky)
    page.clock.install()  # reconnects wait on the page's timers: the test moves them on
    page.goto(stage.demo_url)
    open_chat(page)
    write(page, "Resend me, please")
    expect(page.get_by_role("status")).to_contain_text("Connection lost", timeout=PIPELINE_MS)
    assert len(dropped) == 1
    page.clock.run_for(2_000)  # at most 1 s of backoff
    accepted(page, "Resend me, please")
    # The session's messages are relayed in order: once this one is there, a second copy of
    # the resent one would already have been relayed.
    write(page, "And this comes after")
    accepted(page, "And this comes after")
    thread = wait_for("the visitor's topic", lambda: stage.topic_with("Resend me, please"))
    wait_for("the later message", lambda: "And this comes after" in stage.texts(thread))
    assert stage.texts(thread).count("Resend me, please") == 1


@pytest.mark.parametrize("refusal", ["wrong key", "wrong origin"])
def test_a_refused_handshake_shows_chat_unavailable_without_a_reconnect_loop(
    stage: Stage, browser: BrowserContext, refusal: str
) -> None:
    page = browser.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.clock.install()
    with OtherOrigin(stage) as other:
        if refusal == "wrong key":
            # The real demo page, on its allowed origin, with another key in its script tag
            # (changed before the async script runs).
            page.add_init_script(
                "new MutationObserver((records, observer) => { for (const r of records)"
                " for (const n of r.addedNodes) if (n.dataset && n.dataset.key) {"
                " n.dataset.key = 'not-a-widget-key'; observer.disconnect(); } })"
                ".observe(document, {childList: true, subtree: true});"
            )
            page.goto(stage.demo_url)
        else:
            page.goto(other.url)
        open_chat(page)
        expect(widget(page)).to_have_attribute("data-state", "unavailable", timeout=30_000)
    expect(page.get_by_role("status")).to_contain_text("Chat is unavailable")
    expect(page.get_by_label("Your message")).to_be_disabled()
    expect(page.get_by_role("button", name="Try again")).to_be_focused()
    assert len(sockets) == 1
    assert ("key=not-a-widget-key" in sockets[0]) == (refusal == "wrong key")
    # No tight loop: nothing for the next 10 s, then one slow retry (30 s backoff, jittered).
    page.clock.run_for(10_000)
    assert len(sockets) == 1
    with page.expect_websocket():
        page.clock.run_for(30_000)
    assert len(sockets) == 2


def test_the_panel_fills_a_phone_screen_and_the_page_css_cannot_reach_it(
    stage: Stage, browser: BrowserContext
) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 375, "height": 667})
    page.goto(stage.demo_url)
    open_chat(page)
    box = page.get_by_role("dialog", name="Chat with us").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 667}
    # The demo page styles every button with a dashed border and every element in Georgia.
    launcher = page.get_by_role("button", name=re.compile("^Chat with us"))
    border, font = launcher.evaluate(
        "e => [getComputedStyle(e).borderStyle, getComputedStyle(e).fontFamily]"
    )
    assert border == "none"
    assert "Georgia" not in font
