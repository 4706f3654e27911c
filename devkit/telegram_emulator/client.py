"""A small synchronous client of the emulator's control API (standard library only).

Usable from tests, from other processes and from other threads than the
server's. Every method returns the JSON ``result`` of the matching
``/_emulator/...`` endpoint and raises ``EmulatorError`` on a refused action.
``bot_api`` calls the Bot API itself (handy for synchronous tests).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

JSON = dict[str, Any]


def _body(scope: JSON, *in_path: str) -> JSON:
    """A client method's arguments (its ``locals()``) as a request body, less ``self`` and
    those already in the URL: each argument is named once, in the method's signature
    (``_request`` drops the ones left at ``None``)."""
    skip = {"self", *in_path}
    return {name: value for name, value in scope.items() if name not in skip}


class EmulatorError(Exception):
    """The emulator refused a control action (``status`` is the HTTP status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class BotApiError(Exception):
    """A Bot API error answer as returned by ``EmulatorClient.bot_api``."""

    def __init__(self, payload: JSON) -> None:
        super().__init__(f"{payload.get('error_code')}: {payload.get('description')}")
        self.error_code = int(payload.get("error_code", 0))
        self.description = str(payload.get("description", ""))
        self.parameters: JSON = payload.get("parameters") or {}


class EmulatorClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    # ------------------------------------------------------------ transport

    def _open(self, request: urllib.request.Request) -> Any:
        if not request.full_url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {request.full_url}")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def _request(
        self, method: str, path: str, body: JSON | None = None, query: JSON | None = None
    ) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        if query:
            clean = {k: v for k, v in query.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        data = None
        headers = {}
        if body is not None:
            data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - http(s) only, see _open
            url, data=data, method=method, headers=headers
        )
        try:
            payload = self._open(request)
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read())
            except ValueError:
                raise EmulatorError(exc.code, exc.reason) from None
            raise EmulatorError(exc.code, str(payload.get("error", payload))) from None
        return payload["result"]

    def _post(self, path: str, **body: Any) -> JSON:
        result: JSON = self._request("POST", path, body)
        return result

    def _get(self, path: str, **query: Any) -> JSON:
        result: JSON = self._request("GET", path, None, query)
        return result

    # ------------------------------------------------------------ Bot API

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = str(self.info()["token"])
        return self._token

    def bot_api(self, method: str, token: str | None = None, **params: Any) -> Any:
        """Call a Bot API method with a JSON body; return ``result`` or raise ``BotApiError``."""
        url = f"{self.base_url}/bot{token or self.token}/{method}"
        data = json.dumps({k: v for k, v in params.items() if v is not None}).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, see _open
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            payload = self._open(request)
        except urllib.error.HTTPError as exc:
            raise BotApiError(json.loads(exc.read())) from None
        return payload["result"]

    # ------------------------------------------------------------ setup

    def info(self) -> JSON:
        return self._get("/info")

    def reset(self) -> None:
        self._post("/reset")

    def create_bot(
        self, token: str, username: str | None = None, first_name: str | None = None
    ) -> JSON:
        return self._post("/bots", token=token, username=username, first_name=first_name)

    def create_user(
        self,
        first_name: str = "Person",
        last_name: str | None = None,
        username: str | None = None,
        *,
        language_code: str | None = "en",
        is_premium: bool = False,
        started: bool = False,
        hide_forwards: bool = False,
        user_id: int | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        """A user and their private chat with the bot; ``started=True``: they pressed Start."""
        return self._post("/users", **_body(locals()))

    def create_forum_group(
        self,
        title: str = "Operators",
        operators: list[int] | None = None,
        *,
        operator_names: list[str] | None = None,
        operators_admin: bool = True,
        members: list[int] | None = None,
        bot_admin: bool = True,
        bot_can_manage_topics: bool = True,
        bot_can_delete_messages: bool = True,
        forum: bool = True,
        supergroup: bool = True,
        username: str | None = None,
        chat_id: int | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        """A forum supergroup (or, ``supergroup=False``, a basic group) with bot and operators.

        The first operator is the creator; with ``operators_admin`` the others are
        administrators. ``operator_names`` creates operator users on the fly.
        """
        return self._post("/groups", **_body(locals()))

    def create_group(
        self, title: str = "Group", operators: list[int] | None = None, **kwargs: Any
    ) -> JSON:
        """A basic (non-super) group, e.g. to test migration."""
        return self.create_forum_group(title, operators, supergroup=False, forum=False, **kwargs)

    def set_member(
        self, chat_id: int, user_id: int, status: str | None = None, rights: JSON | None = None
    ) -> JSON:
        """Change a member's status/rights, e.g. ``rights={"can_manage_topics": False}``."""
        return self._post(f"/groups/{chat_id}/members", **_body(locals(), "chat_id"))

    def migrate_group(self, chat_id: int, forum: bool = False) -> JSON:
        return self._post(f"/groups/{chat_id}/migrate", forum=forum)

    # ------------------------------------------------------------ people

    def send_as_user(
        self,
        user_id: int,
        text: str | None = None,
        *,
        photo: bool | str | JSON | None = None,
        document: bool | str | JSON | None = None,
        video: bool | str | JSON | None = None,
        voice: bool | str | JSON | None = None,
        audio: bool | str | JSON | None = None,
        animation: bool | str | JSON | None = None,
        sticker: bool | str | JSON | None = None,
        video_note: bool | str | JSON | None = None,
        location: JSON | None = None,
        contact: JSON | None = None,
        caption: str | None = None,
        entities: list[JSON] | None = None,
        parse_mode: str | None = None,
        reply_to_message_id: int | None = None,
        forward_origin: JSON | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        """A person writes to the bot. Media: ``True`` (a new file), a file_id, or attributes.

        Returns ``{"message": Message, "message_id": int}``.
        """
        return self._post(f"/users/{user_id}/messages", **_body(locals(), "user_id"))

    def send_album(
        self,
        user_id: int,
        items: list[JSON] | int = 2,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        """An album: ``items`` like ``[{"type": "photo", "caption": "x"}]``, or a photo count."""
        if isinstance(items, int):
            items = [{"type": "photo"} for _ in range(items)]
        return self._post(f"/users/{user_id}/albums", **_body(locals(), "user_id"))

    def edit_as_user(
        self,
        user_id: int,
        message_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        return self._post(f"/users/{user_id}/edit", **_body(locals(), "user_id"))

    def react_as_user(
        self,
        user_id: int,
        message_id: int,
        emoji: str | None,
        *,
        chat_id: int | None = None,
        bot_id: int | None = None,
    ) -> JSON:
        return self._post(f"/users/{user_id}/react", **_body(locals(), "user_id"))

    def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str | None = None,
        *,
        text: str | None = None,
        bot_id: int | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        """A person taps an inline button (by ``data``, or its label ``text``) under the bot's
        message (in their private chat, or in group ``chat_id``): the bot gets a
        ``callback_query``. Returns the query (``id``, ...)."""
        return self._post(f"/users/{user_id}/press", **_body(locals(), "user_id"))

    def callback_query(self, query_id: str) -> JSON:
        """A pressed button's query: ``answered``, the bot's ``answer``, ``refused`` answers."""
        return self._get(f"/callbacks/{query_id}")

    def block_bot(self, user_id: int, bot_id: int | None = None) -> JSON:
        return self._post(f"/users/{user_id}/block", bot_id=bot_id)

    def unblock_bot(self, user_id: int, bot_id: int | None = None) -> JSON:
        return self._post(f"/users/{user_id}/unblock", bot_id=bot_id)

    def delete_as_user(self, user_id: int, message_id: int, bot_id: int | None = None) -> JSON:
        """A person deletes their message; the bot is not told (as on Telegram)."""
        return self._post(f"/users/{user_id}/delete", message_id=message_id, bot_id=bot_id)

    def delete_as_operator(self, chat_id: int, user_id: int, message_id: int) -> JSON:
        return self._post(f"/chats/{chat_id}/delete", user_id=user_id, message_id=message_id)

    def deactivate_user(self, user_id: int) -> JSON:
        return self._post(f"/users/{user_id}/deactivate")

    # ------------------------------------------------------------ operators

    def send_as_operator(
        self,
        chat_id: int,
        thread_id: int | None,
        user_id: int,
        text: str | None = None,
        reply_to_message_id: int | None = None,
        **media: Any,
    ) -> JSON:
        """An operator writes in a topic (``thread_id`` None or 1: General).

        ``media`` takes the same media keywords as ``send_as_user`` (``photo=True``...).
        """
        return self._post(
            f"/chats/{chat_id}/messages", **_body(locals(), "chat_id", "media"), **media
        )

    def edit_as_operator(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
    ) -> JSON:
        return self._post(f"/chats/{chat_id}/edit", **_body(locals(), "chat_id"))

    def create_topic(
        self, chat_id: int, name: str, user_id: int | None = None, icon_color: int | None = None
    ) -> JSON:
        return self._post(f"/chats/{chat_id}/topics", **_body(locals(), "chat_id"))

    def topics(self, chat_id: int) -> list[JSON]:
        result: list[JSON] = self._get(f"/chats/{chat_id}/topics")["topics"]
        return result

    def close_topic(self, chat_id: int, thread_id: int, user_id: int | None = None) -> JSON:
        return self._post(f"/chats/{chat_id}/topics/{thread_id}/close", user_id=user_id)

    def reopen_topic(self, chat_id: int, thread_id: int, user_id: int | None = None) -> JSON:
        return self._post(f"/chats/{chat_id}/topics/{thread_id}/reopen", user_id=user_id)

    def delete_topic(self, chat_id: int, thread_id: int) -> JSON:
        return self._post(f"/chats/{chat_id}/topics/{thread_id}/delete")

    # ------------------------------------------------------------ inspection

    def transcript(
        self,
        chat_id: int,
        thread_id: int | None = None,
        *,
        include_deleted: bool = False,
        bot_id: int | None = None,
    ) -> list[JSON]:
        """The chat's messages as Bot API ``Message`` objects (``thread_id`` 1: General)."""
        result: list[JSON] = self._get(
            f"/chats/{chat_id}/transcript",
            thread_id=thread_id,
            include_deleted="true" if include_deleted else None,
            bot_id=bot_id,
        )["messages"]
        return result

    def calls(self, method: str | None = None) -> list[JSON]:
        result: list[JSON] = self._get("/calls", method=method)["calls"]
        return result

    def violations(self) -> list[JSON]:
        result: list[JSON] = self._get("/violations")["violations"]
        return result

    def stats(self) -> JSON:
        return self._get("/stats")

    def pending_updates(self, bot_id: int | None = None) -> list[JSON]:
        result: list[JSON] = self._get("/updates", bot_id=bot_id)["updates"]
        return result

    def deliveries(self, bot_id: int | None = None) -> list[JSON]:
        result: list[JSON] = self._get("/deliveries", bot_id=bot_id)["deliveries"]
        return result

    # ------------------------------------------------------------ faults and limits

    def set_fault(
        self,
        method: str | None = None,
        *,
        status: int | None = None,
        description: str | None = None,
        hang: float | None = None,
        latency: float | None = None,
        times: int | None = None,
        duplicate_deliveries: int | None = None,
        reorder_across_chats: bool | None = None,
        webhook_latency: float | None = None,
    ) -> JSON:
        """Switch faults on.

        * ``set_fault("sendMessage", status=500, times=2)``: the next 2 calls answer 500;
        * ``set_fault("copyMessage", hang=3)``: the next call hangs 3 s, then runs;
        * ``set_fault(latency=0.05)``: every call is 50 ms slower until cleared;
        * ``set_fault(duplicate_deliveries=2)``: the next 2 webhook updates arrive twice;
        * ``set_fault(reorder_across_chats=True)``: webhook serves newest chats first.
        """
        return self._post("/faults", **_body(locals()))

    def clear_faults(self) -> JSON:
        result: JSON = self._request("DELETE", "/faults")
        return result

    def limits(self) -> JSON:
        return self._get("/limits")

    def set_limits(self, **limits: Any) -> JSON:
        """E.g. ``set_limits(scale=10)``, ``set_limits(enabled=False)``, or
        ``set_limits(count_each_message=False)`` (one message per call, topics free)."""
        return self._post("/limits", **limits)

    def advance_clock(self, seconds: float) -> float:
        """Move the server's ``ManualClock`` (flood limits) forward."""
        return float(self._post("/clock/advance", seconds=seconds)["now"])
