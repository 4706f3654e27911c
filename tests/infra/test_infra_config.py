"""cdk.json stages: what parses, and the one-line errors that stop synth."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devkit.processes import run_python
from infra.config import ConfigError, load_stage_config

ROOT = Path(__file__).resolve().parents[2]


def context(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    base.update(changes)
    return base


def load(ctx: dict[str, Any]) -> Any:
    return load_stage_config(ctx.get)


def test_every_stage_in_cdk_json_parses() -> None:
    for stage in ("dev", "prod", "local"):
        config = load(context(stage=stage))
        assert config.stage == stage
        assert config.stack_name == f"topicdesk-{stage}"
        assert config.name("data") == f"topicdesk-{stage}-data"
        assert config.fifo_name("updates") == f"topicdesk-{stage}-updates.fifo"
        assert config.metrics_namespace == f"Topicdesk/{stage}"
        assert all(str(chat).startswith("-100") for chat in config.operator_chat_ids)


def test_prod_protects_data_and_dev_does_not() -> None:
    assert load(context(stage="prod")).protect_data is True
    assert load(context(stage="dev")).protect_data is False


def test_only_local_skips_webhook_registration_and_bootstrap() -> None:
    local = load(context(stage="local"))
    assert (local.register_webhook, local.assets_bucket) == (False, "topicdesk-local-cdk-assets")
    for stage in ("dev", "prod"):
        config = load(context(stage=stage))
        assert (config.register_webhook, config.assets_bucket) == (True, None)


def test_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as error:
        load(context(stage="staging-typo"))
    assert str(error.value) == "unknown stage 'staging-typo': cdk.json defines dev, local, prod"


def test_missing_stage() -> None:
    with pytest.raises(ConfigError, match=r"no stage given: pass -c stage=NAME"):
        load(context())


def test_missing_required_value_names_stage_and_setting() -> None:
    ctx = context(stage="dev")
    del ctx["topicdesk"]["stages"]["dev"]["alarmEmail"]
    with pytest.raises(ConfigError) as error:
        load(ctx)
    assert str(error.value) == "stage 'dev': missing required setting 'alarmEmail' in cdk.json"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ([-1001000000001, -4012345], "'operatorChatIds'[1] = -4012345"),
        (["-100abc"], "'operatorChatIds'[0] = '-100abc'"),
        ([1001000000001], "'operatorChatIds'[0] = 1001000000001"),
        ("-1001000000001,12", "'operatorChatIds'[1] = '12'"),
    ],
)
def test_malformed_operator_chat_id(value: Any, shown: str) -> None:
    ctx = context(stage="prod")
    ctx["topicdesk"]["stages"]["prod"]["operatorChatIds"] = value
    with pytest.raises(ConfigError) as error:
        load(ctx)
    message = str(error.value)
    assert message.startswith(f"stage 'prod': {shown} is not a forum supergroup id")
    assert "\n" not in message


def test_chat_ids_from_the_command_line_override_the_stage() -> None:
    config = load(context(stage="dev", operatorChatIds="-1001000000009, -1002000000009"))
    assert config.operator_chat_ids == (-1001000000009, -1002000000009)


def test_duplicate_chat_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="same chat twice"):
        load(context(stage="dev", operatorChatIds="-1001000000009,-1001000000009"))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("logRetentionDays", 13, "must be one of CloudWatch's periods"),
        ("consumerMaxConcurrency", 1, "must be between 2 and 1000"),
        ("webhookMaxConnections", 101, "must be between 1 and 100"),
        ("webhookMaxConnections", 6, "must not exceed 'webhookReservedConcurrency' (5)"),
        ("telegramApiUrl", "http://bot-api.internal", "must be https outside the local stage"),
        ("alarmEmail", "on-call", "must be an e-mail address"),
        ("telegramApiUrl", "api.telegram.org", "must be an http(s) URL"),
        ("maxReceiveCount", 4, "must be between 5 and 1000"),
        ("maxReceiveCount", 9, "must be at least twice 'limits.maxAttempts' (5)"),
        ("registerWebhook", "maybe", "must be true or false"),
    ],
)
def test_bad_values_are_named(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(context(stage="dev", **{key: value}))
    assert f"stage 'dev': '{key}'" in str(error.value)
    assert message in str(error.value)


def test_command_line_strings_are_converted() -> None:
    config = load(context(stage="dev", consumerMaxConcurrency="7", registerWebhook="false"))
    assert (config.consumer_max_concurrency, config.register_webhook) == (7, False)


def _run_app(stage: str, **changes: Any) -> subprocess.CompletedProcess[str]:
    ctx = context(stage=stage, **changes)
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(ctx),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return run_python("app.py", cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize(
    ("stage", "changes", "line"),
    [
        ("nope", {}, "topicdesk: unknown stage 'nope': cdk.json defines dev, local, prod"),
        (
            "dev",
            {"operatorChatIds": "12345"},
            "topicdesk: stage 'dev': 'operatorChatIds'[0] = '12345' is not a forum supergroup id "
            "(a negative integer starting with -100, e.g. -1001234567890)",
        ),
    ],
)
def test_app_stops_with_one_clear_line(stage: str, changes: dict[str, Any], line: str) -> None:
    result = _run_app(stage, **changes)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [line]
    assert "Traceback" not in result.stderr
