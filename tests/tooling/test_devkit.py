"""The proving ground (devkit/) stands apart from the product, and its moto patches stop on a
moto they were not written for."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from devkit.moto import SUPPORTED_VERSION, MotoVersionError, check_version
from devkit.moto.patches import next_change

ROOT = Path(__file__).resolve().parents[2]
DEVKIT = ROOT / "devkit"
PRODUCT = frozenset({"topicdesk", "infra", "local", "ops", "bench", "tests", "app"})


def product_imports(path: Path) -> list[str]:
    """The product modules ``path`` imports (absolute imports; devkit uses no relative ones
    that could leave it)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
            if node.level > 1:
                names = ["(relative import leaving its package)"]
        else:
            continue
        found.extend(n for n in names if n.split(".")[0] in PRODUCT or n.startswith("("))
    return found


def test_devkit_imports_no_product_code() -> None:
    offenders = {
        str(path.relative_to(ROOT)): imports
        for path in sorted(DEVKIT.rglob("*.py"))
        if (imports := product_imports(path))
    }
    assert offenders == {}


def test_the_import_check_can_fail(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text(
        "import os\nfrom topicdesk.contract import Env\nimport infra.stack\n"
        "from local import stage\nfrom . import sibling\nfrom .. import parent\n"
    )
    assert product_imports(stray) == [
        "topicdesk.contract",
        "infra.stack",
        "local",
        "(relative import leaving its package)",
    ]


def test_the_moto_guard_stops_with_one_clear_line_on_another_version() -> None:
    with pytest.raises(MotoVersionError) as raised:
        check_version("5.3.0")
    message = str(raised.value)
    assert "\n" not in message
    assert f"moto {SUPPORTED_VERSION}" in message and "moto 5.3.0 is installed" in message


def test_the_moto_guard_passes_the_pinned_and_installed_moto() -> None:
    check_version(SUPPORTED_VERSION)
    check_version()  # the suite runs on the pinned moto


def test_the_guard_knows_the_pinned_moto() -> None:
    pinned = re.search(r"^moto\[server\]==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.M)
    assert pinned is not None and pinned.group(1) == SUPPORTED_VERSION


def test_long_polls_wake_for_the_next_message_to_become_receivable() -> None:
    assert next_change([900.0, 1500.0, 1200.0], [0.0], now=1000.0) == 200.0
    assert next_change([0.0], [1300.0], now=1000.0) == 300.0
    assert next_change([500.0], [0.0], now=1000.0) is None
