"""The broadcast's stage setting: broadcastSelfConfirm (default false: a second admin confirms
when the operators' group has two or more), from cdk.json through synth to the consumer's
environment (and back through its settings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from topicdesk.contract import Env
from topicdesk.settings import ConsumerSettings

from infra.config import ConfigError, load_stage_config
from infra.stack import TopicdeskStack
from tests.infra.infra_synth import Synth, cdk_context

ROOT = Path(__file__).resolve().parents[2]


def context(stage: str = "dev", **changes: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    ctx["topicdesk"]["stages"][stage].update(changes)
    ctx["stage"] = stage
    return ctx


def test_self_confirm_is_off_unless_a_stage_turns_it_on() -> None:
    for stage in ("dev", "prod", "local"):
        assert load_stage_config(context(stage).get).broadcast_self_confirm is False
    assert load_stage_config(context("dev", broadcastSelfConfirm=True).get).broadcast_self_confirm
    # Without the key at all (an older cdk.json): off.
    ctx = context("dev")
    del ctx["topicdesk"]["defaults"]["broadcastSelfConfirm"]
    assert load_stage_config(ctx.get).broadcast_self_confirm is False
    # -c broadcastSelfConfirm=true overrides one deploy.
    ctx = {**context("dev"), "broadcastSelfConfirm": "true"}
    assert load_stage_config(ctx.get).broadcast_self_confirm is True


@pytest.mark.parametrize("bad", ["yes", 1, "on"])
def test_a_self_confirm_setting_that_is_not_a_boolean_stops_synth(bad: Any) -> None:
    with pytest.raises(ConfigError, match="'broadcastSelfConfirm' must be true or false"):
        load_stage_config(context("dev", broadcastSelfConfirm=bad).get)


def test_the_consumer_gets_it_off_by_default(stages: dict[str, Synth]) -> None:
    for synth in stages.values():
        _, consumer = synth.function("consumer")
        env = consumer["Properties"]["Environment"]["Variables"]
        assert env[Env.BROADCAST_SELF_CONFIRM] == "false"


def test_a_stage_that_allows_self_confirm_tells_the_consumer(tmp_path: Path) -> None:
    config = load_stage_config(context("dev", broadcastSelfConfirm=True).get)
    app = cdk.App(context={**cdk_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    template = Template.from_stack(TopicdeskStack(app, config=config)).to_json()
    [env] = [
        resource["Properties"]["Environment"]["Variables"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("FunctionName") == config.name("consumer")
    ]
    assert env[Env.BROADCAST_SELF_CONFIRM] == "true"
    # ... and the consumer reads it back at cold start.
    settings_env = {key: value for key, value in env.items() if isinstance(value, str)}
    assert ConsumerSettings.from_env(
        {
            **settings_env,
            Env.UPDATES_QUEUE_URL: "https://sqs/updates",
            Env.DEAD_LETTER_QUEUE_URL: "https://sqs/dead",
            Env.DATA_TABLE: "data",
            Env.LIMITS_TABLE: "limits",
            Env.IDEMPOTENCY_TABLE: "idempotency",
            Env.BOT_TOKEN_SECRET_NAME: "token",
        }
    ).broadcast_self_confirm
