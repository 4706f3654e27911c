"""The inbox's stage setting (issue 15): ``inbox`` in cdk.json, on by default, through synth
to the consumer's environment and back through its settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from topicdesk.contract import Env
from topicdesk.settings import ConsumerSettings

from infra.config import ConfigError, load_stage_config
from tests.infra.infra_synth import Synth

ROOT = Path(__file__).resolve().parents[2]


def load(stage: str = "dev", **changes: Any) -> Any:
    ctx: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    ctx["topicdesk"]["stages"][stage].update(changes)
    ctx["stage"] = stage
    return load_stage_config(ctx.get)


def test_real_stages_keep_the_inbox_unless_they_turn_it_off() -> None:
    assert all(load(stage).inbox is True for stage in ("dev", "prod"))
    assert load("prod", inbox=False).inbox is False
    # The local stage's demo, e2e tests and reliability scenarios expect plain topic names
    # and no Queue topic; -c inbox=true (or the stage's setting) shows it there.
    assert load("local").inbox is False
    assert load("local", inbox=True).inbox is True


@pytest.mark.parametrize("bad", ["yes", 1, [True]])
def test_an_inbox_setting_that_is_not_a_boolean_stops_synth(bad: Any) -> None:
    with pytest.raises(ConfigError, match="inbox"):
        load(inbox=bad)


def test_the_consumer_gets_it_and_reads_it_back(real: Synth) -> None:
    synthesized = real.function("consumer")[1]["Properties"]["Environment"]["Variables"]
    assert synthesized[Env.INBOX] == "true"
    # Names CloudFormation fills in at deploy time stand in as plain text here.
    env = {name: v if isinstance(v, str) else "resolved" for name, v in synthesized.items()}
    assert ConsumerSettings.from_env(env).inbox is True
    assert ConsumerSettings.from_env({**env, Env.INBOX: "false"}).inbox is False
