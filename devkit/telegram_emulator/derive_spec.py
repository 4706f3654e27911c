"""Derive the emulator's compact Bot API facts file from a machine-readable spec.

Usage (from the repository root)::

    python -m devkit.telegram_emulator.derive_spec \
        [--source ../shared/telegram-bot-api/api.json] \
        [--output devkit/telegram_emulator/botapi_spec.json]

The source is PaulSonOfLars/telegram-bot-api-spec's ``api.json`` (MIT). The output
keeps only facts: for every method its parameters with their types and required
flags and its return type; for every type its fields (same shape) or its subtypes;
the constant discriminator of each subtype (``"type": "photo"``); and a few value
lists the emulator checks (reaction emoji, forum topic icon colours, chat actions,
message entity types, update types). No documentation prose is copied.

Only this script reads the shared folder; the emulator reads the generated file.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

SOURCE_REPOSITORY = "PaulSonOfLars/telegram-bot-api-spec"
SOURCE_COMMIT = "160fd99"
SOURCE_LICENCE = "MIT"

_HERE = Path(__file__).resolve().parent
_DEFAULT_SOURCE = _HERE.parents[2] / "shared" / "telegram-bot-api" / "api.json"
_DEFAULT_OUTPUT = _HERE / "botapi_spec.json"

_CONST_RE = re.compile(r'(?:always|must be)\s+["\u201c]?([a-z_]+)["\u201d]?')
_QUOTED_RE = re.compile(r'"([^"]+)"')
_COLOR_RE = re.compile(r"\b(\d{6,8}) \(0x[0-9A-Fa-f]{6}\)")
_ACTION_RE = re.compile(r"\b(typing|[a-z]+_[a-z_]+)\b")
_ENTITY_RE = re.compile(r'"([a-z_]+)" \(')


def _fields(raw: list[dict[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    fields = {f["name"]: list(f["types"]) for f in raw}
    required = [f["name"] for f in raw if f.get("required")]
    return fields, required


def _field_description(entry: dict[str, Any], name: str) -> str:
    for f in entry.get("fields", []):
        if f["name"] == name:
            return str(f.get("description", ""))
    raise KeyError(name)


def derive(api: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    for name, entry in sorted(api["methods"].items()):
        params, required = _fields(entry.get("fields", []))
        methods[name] = {"params": params, "required": required, "returns": entry["returns"]}

    types: dict[str, Any] = {}
    for name, entry in sorted(api["types"].items()):
        out: dict[str, Any] = {}
        if entry.get("subtypes"):
            out["subtypes"] = list(entry["subtypes"])
        if "fields" in entry:
            fields, required = _fields(entry["fields"])
            out["fields"] = fields
            out["required"] = required
        types[name] = out

    # Constant discriminators of subtypes ("type": "photo", "status": "creator", ...).
    for entry in types.values():
        for sub in entry.get("subtypes", []):
            raw = api["types"].get(sub)
            if not raw or not raw.get("fields"):
                continue
            first = raw["fields"][0]
            if first["types"] != ["String"]:
                continue
            match = _CONST_RE.search(first.get("description", ""))
            if match:
                types[sub]["const"] = {first["name"]: match.group(1)}

    t, m = api["types"], api["methods"]
    enums = {
        "reaction_emoji": _QUOTED_RE.findall(_field_description(t["ReactionTypeEmoji"], "emoji")),
        "forum_topic_icon_colors": [
            int(c)
            for c in _COLOR_RE.findall(_field_description(m["createForumTopic"], "icon_color"))
        ],
        "chat_actions": _ACTION_RE.findall(_field_description(m["sendChatAction"], "action")),
        "message_entity_types": _ENTITY_RE.findall(_field_description(t["MessageEntity"], "type")),
        "update_types": [f["name"] for f in t["Update"]["fields"] if f["name"] != "update_id"],
    }
    return {
        "source": {
            "repository": SOURCE_REPOSITORY,
            "commit": SOURCE_COMMIT,
            "licence": SOURCE_LICENCE,
            "api_version": api["version"],
            "release_date": api["release_date"],
        },
        "enums": enums,
        "methods": methods,
        "types": types,
    }


def render(spec: dict[str, Any]) -> str:
    """One method / type per line: compact, yet reviewable in a diff."""
    lines = ["{"]
    lines.append(f' "source": {json.dumps(spec["source"], sort_keys=True)},')
    lines.append(f' "enums": {json.dumps(spec["enums"], ensure_ascii=False, sort_keys=True)},')
    for section in ("methods", "types"):
        lines.append(f' "{section}": {{')
        items = list(spec[section].items())
        for i, (name, entry) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            lines.append(f"  {json.dumps(name)}: {json.dumps(entry, ensure_ascii=False)}{comma}")
        lines.append(" }," if section == "methods" else " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=_DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=_DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    api = json.loads(args.source.read_text(encoding="utf-8"))
    spec = derive(api)
    text = render(spec)
    json.loads(text)  # the hand-rolled layout must stay valid JSON
    args.output.write_text(text, encoding="utf-8")
    print(
        f"wrote {args.output}: {len(spec['methods'])} methods, {len(spec['types'])} types, "
        f"{spec['source']['api_version']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
