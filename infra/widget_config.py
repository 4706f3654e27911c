"""The web widget's projects (cdk.json ``projects``), checked at synth.

Each project: ``name`` (lower-case, goes into metric keys and the queue record), ``widgetKey``
(the ``data-key`` of its script tag: not a secret, but unguessable enough that nobody embeds
another project's widget by typo), ``allowedOrigins`` (the pages' origins, exactly as browsers
send them: ``https://host[:port]``, no path; plain http only on the local stage) and
``operatorChatIds`` (its operators' groups, among the stage's ``operatorChatIds``). A stage
without projects has no WebSocket API; Telegram DMs work the same either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_ORIGIN = re.compile(r"^(https?)://[A-Za-z0-9.-]+(:\d{1,5})?$")
_FIELDS = ("name", "widgetKey", "allowedOrigins", "operatorChatIds")


@dataclass(frozen=True)
class WidgetProjectConfig:
    name: str
    widget_key: str
    allowed_origins: tuple[str, ...]
    operator_chat_ids: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "widgetKey": self.widget_key,
            "allowedOrigins": list(self.allowed_origins),
            "operatorChatIds": list(self.operator_chat_ids),
        }


def projects_json(projects: Sequence[WidgetProjectConfig]) -> str:
    """``WIDGET_PROJECTS``: what the functions read (topicdesk.settings.parse_widget_projects)."""
    return json.dumps([project.as_json() for project in projects], separators=(",", ":"))


def parse_projects(
    where: str, value: Any, *, stage: str, operator_chat_ids: Sequence[int]
) -> tuple[WidgetProjectConfig, ...]:
    """Raises ValueError with one line naming the stage, the project and the problem."""
    if value is None or value == []:
        return ()
    try:  # `-c projects='[...]'` arrives as a string
        value = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"{where}: 'projects' must be a JSON list") from None
    if not isinstance(value, list):
        raise ValueError(f"{where}: 'projects' must be a list of objects")
    projects = tuple(
        _project(f"{where}: projects[{index}]", item, stage, operator_chat_ids)
        for index, item in enumerate(value)
    )
    for field in ("name", "widget_key"):
        seen = [getattr(project, field) for project in projects]
        if len(set(seen)) != len(seen):
            raise ValueError(f"{where}: two projects share a {field.replace('_', ' ')}")
    return projects


def _project(where: str, item: Any, stage: str, stage_chats: Sequence[int]) -> WidgetProjectConfig:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be an object with {', '.join(_FIELDS)}")
    missing = [field for field in _FIELDS if field not in item]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    name, key = item["name"], item["widgetKey"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}: 'name' must be lower-case letters, digits and '-' (max 32)")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"{where}: 'widgetKey' must be 16-128 of [A-Za-z0-9_-]")
    origins = item["allowedOrigins"]
    if not isinstance(origins, list) or not origins:
        raise ValueError(f"{where}: 'allowedOrigins' must list at least one origin")
    for origin in origins:
        match = _ORIGIN.match(origin) if isinstance(origin, str) else None
        if match is None:
            raise ValueError(
                f"{where}: {origin!r} is not an origin (scheme://host[:port], no path, no '/')"
            )
        if match.group(1) == "http" and stage != "local":
            raise ValueError(
                f"{where}: {origin!r} must be https outside the local stage (the session token "
                "travels over the page's connection)"
            )
    chats = item["operatorChatIds"]
    if not isinstance(chats, list) or not chats:
        raise ValueError(f"{where}: 'operatorChatIds' must list at least one operators' group")
    strays = [chat for chat in chats if chat not in stage_chats]
    if strays:
        raise ValueError(
            f"{where}: operatorChatIds {strays} are not among the stage's operatorChatIds "
            f"{list(stage_chats)}"
        )
    return WidgetProjectConfig(name, key, tuple(origins), tuple(int(chat) for chat in chats))
