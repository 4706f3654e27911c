"""Every shared fact is spelled once, in ``topicdesk.contract`` (a grep over the tree's Python).

Rules, each over the string constants of every tracked (or new, not ignored) ``.py`` file
outside ``functions/topicdesk/contract.py``:

- ``env``: a string equal to an environment variable name of ``Env``.
- ``output``: a string equal to a stack output name of ``Output``.
- ``allowed-updates``: a list, tuple or set literal, or a comma-separated string, holding
  every ``ALLOWED_UPDATES`` value (the list written again, in any order).
- ``key-layout``: a table's keys given by hand: ``partition_key=``/``sort_key=``/
  ``ttl_attribute=``/``time_to_live_attribute=`` with a string, a dict literal with an
  ``"AttributeName"`` string (KeySchema, AttributeDefinitions, TTL specifications), a
  ``(name, "HASH"|"RANGE")`` tuple.
- ``key-literal``: a string equal to a key or TTL attribute name of a table layout
  (the idempotency table's ``id`` excepted: everybody's word, and Powertools owns its items).

Exceptions (few, each with its reason): ``functions/topicdesk/adapters/`` may spell key
attribute names (item keys such as ``Key={"pk": ...}`` are the adapters' own use of the
layout), `SAME_SPELLING` lists strings that are spelled like an output but mean something
else, and `PENDING` lists files owned by changes in flight: each must still have findings
(so the list can only shrink), every other file none. Prose (docstrings, docs/, Makefile,
cdk.json) is not scanned: only string constants that equal a name exactly.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from topicdesk.contract import (
    ALLOWED_UPDATES,
    DATA_TABLE,
    IDEMPOTENCY_TABLE,
    LIMITS_TABLE,
    Env,
    Output,
)

from tests.support import ROOT

CONTRACT = "functions/topicdesk/contract.py"

ENV_NAMES = frozenset(value for name, value in vars(Env).items() if name.isupper())
OUTPUT_NAMES = frozenset(value for name, value in vars(Output).items() if name.isupper())
LAYOUTS = (DATA_TABLE, LIMITS_TABLE, IDEMPOTENCY_TABLE)
KEY_ATTRIBUTES = frozenset(
    name for layout in LAYOUTS for name in (*layout.keys, layout.ttl_attribute)
) - {IDEMPOTENCY_TABLE.partition_key}
LAYOUT_KEYWORDS = frozenset(
    {"partition_key", "sort_key", "ttl_attribute", "time_to_live_attribute"}
)
KEY_TYPES = frozenset({"HASH", "RANGE"})
_SKIP_DIRS = frozenset({".venv", "node_modules", "cdk.out", ".cache", ".local", ".git"})

# Directories whose files may spell key attribute names (rule key-literal only).
ITEM_KEY_OWNERS = {
    "functions/topicdesk/adapters/": "the DynamoDB adapters build item keys from the layout "
    "(Key={'pk': f'PERSON#...'}); that is the layout's use, not a second definition",
}

# (path, string): the same spelling, another meaning.
SAME_SPELLING = {
    ("functions/topicdesk/handlers/webhook_registration.py", Output.WEBHOOK_URL): (
        "the custom resource's property name (Property.WEBHOOK_URL), defined there once"
    ),
    ("tests/infra/test_infra_monitoring.py", Output.DASHBOARD_NAME): (
        "AWS::CloudWatch::Dashboard's own property, looked up in the template"
    ),
}

# Files owned by changes in flight that still spell names (each must still have findings, so
# the list only shrinks; a stale entry fails). Empty since issue 12: keep it that way.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text!r}"


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def scan_source(source: str, path: str) -> list[Finding]:
    """Every spelling of a contract name in one file's string constants."""
    found: list[Finding] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        line = getattr(node, "lineno", 0)
        text = _string(node)
        if text is not None:
            if text in ENV_NAMES:
                found.append(Finding(path, line, "env", text))
            if text in OUTPUT_NAMES:
                found.append(Finding(path, line, "output", text))
            if text in KEY_ATTRIBUTES:
                found.append(Finding(path, line, "key-literal", text))
            if set(ALLOWED_UPDATES) <= {part.strip() for part in text.split(",")}:
                found.append(Finding(path, line, "allowed-updates", text))
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            values = [_string(element) for element in node.elts]
            if set(ALLOWED_UPDATES) <= set(values):
                found.append(Finding(path, line, "allowed-updates", ",".join(map(str, values))))
            if len(values) == 2 and values[1] in KEY_TYPES and values[0] not in (None, *KEY_TYPES):
                found.append(Finding(path, line, "key-layout", f"({values[0]}, {values[1]})"))
        elif isinstance(node, ast.keyword) and node.arg in LAYOUT_KEYWORDS:
            value = _string(node.value)
            if value is not None:
                found.append(Finding(path, line, "key-layout", f"{node.arg}={value}"))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                name = _string(value)
                if _string(key) == "AttributeName" and name is not None:
                    found.append(Finding(path, line, "key-layout", f"AttributeName={name}"))
    return found


def allowed(finding: Finding) -> bool:
    if finding.path == CONTRACT:
        return True
    if finding.rule == "key-literal" and any(
        finding.path.startswith(owner) for owner in ITEM_KEY_OWNERS
    ):
        return True
    return (finding.path, finding.text) in SAME_SPELLING


def python_files(root: Path = ROOT) -> Iterator[str]:
    """Tracked and new (not ignored) .py files; without git, the tree minus tool dirs."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.py"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        listed = [
            path.relative_to(root).as_posix()
            for path in root.rglob("*.py")
            if not _SKIP_DIRS & set(path.relative_to(root).parts)
        ]
    for name in sorted(set(listed)):
        if (root / name).is_file():  # a file deleted in the work tree is still in the index
            yield name


def scan_tree(root: Path = ROOT) -> list[Finding]:
    found: list[Finding] = []
    for name in python_files(root):
        found.extend(f for f in scan_source((root / name).read_text(), name) if not allowed(f))
    return found


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return scan_tree()


def test_each_name_is_spelled_only_in_the_contract(findings: list[Finding]) -> None:
    stray = [str(f) for f in findings if f.path not in PENDING]
    assert not stray, "spell these with topicdesk.contract (or infra.definitions):\n" + "\n".join(
        stray
    )


def test_pending_files_still_need_the_contract(findings: list[Finding]) -> None:
    """A file migrated since must leave PENDING (the exceptions only shrink)."""
    with_findings = {f.path for f in findings}
    done = sorted(path for path in PENDING if path not in with_findings)
    assert not done, f"no longer spells contract names, remove from PENDING: {done}"


# ----------------------------------------------------------------------------- self-check

_PK, _SK = DATA_TABLE.partition_key, DATA_TABLE.sort_key
FORBIDDEN = {
    "env": f'os.environ["{Env.LIMITS_TABLE}"]\n',
    "output": f'outputs["{Output.DATA_TABLE_NAME}"]\n',
    "allowed-updates": (
        f"UPDATES = {list(reversed(ALLOWED_UPDATES))!r}\nQUERY = {','.join(ALLOWED_UPDATES)!r}\n"
    ),
    "key-layout": (
        f'Table(partition_key="{_PK}")\n'
        f'KeySchema = [{{"AttributeName": "{_PK}", "KeyType": "HASH"}}]\n'
        f'keys = [("{_PK}", "HASH"), ("{_SK}", "RANGE")]\n'
    ),
    "key-literal": f'table.get_item(Key={{"{_PK}": "x"}})\n',
}
CLEAN = (
    "from topicdesk.contract import ALLOWED_UPDATES, DATA_TABLE, Env, Output\n"
    "os.environ[Env.LIMITS_TABLE]\n"
    "outputs[Output.DATA_TABLE_NAME]\n"
    "UPDATES = list(ALLOWED_UPDATES)\n"
    "Table(partition_key=DATA_TABLE.partition_key)\n"
    "table.get_item(Key={DATA_TABLE.partition_key: 'x'})\n"
    "messages = ['message', 'edited_message', 'photo']\n"
    "schema = zip(DATA_TABLE.keys, ('HASH', 'RANGE'))\n"
)


@pytest.mark.parametrize("rule", sorted(FORBIDDEN))
def test_the_scanner_reports_a_forbidden_spelling(rule: str, tmp_path: Path) -> None:
    """The test can fail: a file with one spelling of each kind is reported."""
    (tmp_path / "stray.py").write_text(FORBIDDEN[rule])
    found = [f for f in scan_tree(tmp_path) if f.rule == rule]
    assert found and {f.path for f in found} == {"stray.py"}
    if rule == "key-layout":
        assert len(found) == 4  # the keyword, the KeySchema entry and both tuples
    if rule == "allowed-updates":
        assert len(found) == 2  # the list (reordered) and the comma-separated string


def test_the_scanner_passes_the_contracts_own_names(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    assert scan_tree(tmp_path) == []


def test_exceptions_are_narrow() -> None:
    """The contract itself, adapters' item keys and the listed same spellings only."""
    item_key = Finding("functions/topicdesk/adapters/dynamodb.py", 1, "key-literal", _PK)
    assert allowed(item_key)
    assert not allowed(Finding(item_key.path, 1, "key-layout", f"partition_key={_PK}"))
    assert not allowed(Finding(item_key.path, 1, "env", Env.DATA_TABLE))
    assert not allowed(Finding("bench/world.py", 1, "key-literal", _PK))
    assert allowed(Finding(CONTRACT, 1, "env", Env.DATA_TABLE))
