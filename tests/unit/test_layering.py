"""The domain imports neither boto3 nor telegram; the webhook path imports no Telegram library."""

from __future__ import annotations

import ast
from pathlib import Path

from devkit.processes import run_python

FUNCTIONS = Path(__file__).parents[2] / "functions"
FORBIDDEN_IN_DOMAIN = ("boto3", "botocore", "telegram", "aws_lambda_powertools")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_has_no_aws_or_telegram_imports() -> None:
    offenders = {
        str(path.relative_to(FUNCTIONS)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN_IN_DOMAIN
        )
        for path in (FUNCTIONS / "topicdesk" / "domain").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_webhook_handler_never_loads_python_telegram_bot() -> None:
    code = (
        "import sys; import topicdesk.handlers.webhook; "
        "print(any(m == 'telegram' or m.startswith('telegram.') for m in sys.modules))"
    )
    result = run_python(
        "-c", code, cwd=FUNCTIONS, env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_webhooks_cold_import_loads_only_what_it_uses() -> None:
    """Issue 16: no boto3 (s3transfer), no X-Ray SDK, no Powertools data classes or parameters,
    no settings or domain modules of other functions (broadcast, limiter, inbox, widget)."""
    unwanted = (
        "boto3",
        "s3transfer",
        "aws_xray_sdk",
        "aws_lambda_powertools.utilities.data_classes",
        "aws_lambda_powertools.utilities.parameters",
        "topicdesk.settings",
        "topicdesk.domain.broadcast",
        "topicdesk.domain.limiter",
        "topicdesk.domain.inbox",
        "topicdesk.domain.widget_edge",
    )
    code = (
        "import sys; import topicdesk.handlers.webhook; "
        f"print(sorted(m for m in sys.modules for u in {unwanted!r} "
        "if m == u or m.startswith(u + '.')))"
    )
    result = run_python(
        "-c", code, cwd=FUNCTIONS, env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}, check=True
    )
    assert result.stdout.strip() == "[]"
