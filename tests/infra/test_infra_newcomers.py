"""The new-people guard's stage settings: limits.newTopicsPerHour and newPersonChallenge, from
cdk.json through synth to the consumer's environment (and back through its settings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from topicdesk.contract import Env
from topicdesk.domain.relay.newcomers import LINE_HORIZON_SECONDS
from topicdesk.settings import Limits

from infra.config import ConfigError, load_stage_config
from infra.definitions import UPDATES_QUEUE
from tests.infra.infra_synth import Synth

ROOT = Path(__file__).resolve().parents[2]


def load(stage: str = "dev", limits: dict[str, Any] | None = None, **changes: Any) -> Any:
    ctx: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    ctx["topicdesk"]["stages"][stage].update(changes)
    ctx["topicdesk"]["defaults"]["limits"].update(limits or {})
    ctx["stage"] = stage
    return load_stage_config(ctx.get)


def test_the_defaults_are_a_cap_of_60_and_no_challenge() -> None:
    for stage in ("dev", "prod", "local"):
        config = load(stage)
        assert config.limits.new_topics_per_hour == 60
        assert config.new_person_challenge is False


def test_a_stage_sets_its_cap_and_turns_the_challenge_on() -> None:
    config = load("prod", limits={"newTopicsPerHour": 200}, newPersonChallenge=True)
    assert (config.limits.new_topics_per_hour, config.new_person_challenge) == (200, True)
    # -c newPersonChallenge=true overrides one deploy
    ctx: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    ctx.update(stage="dev", newPersonChallenge=True)
    assert load_stage_config(ctx.get).new_person_challenge is True


@pytest.mark.parametrize("bad", [0, -5, 1201, 2.5, "many", True])
def test_a_cap_outside_1_to_the_groups_hourly_messages_stops_synth(bad: Any) -> None:
    with pytest.raises(ConfigError, match="newTopicsPerHour"):
        load(limits={"newTopicsPerHour": bad})


def test_a_challenge_setting_that_is_not_a_boolean_stops_synth() -> None:
    with pytest.raises(ConfigError, match="newPersonChallenge"):
        load(newPersonChallenge="yes")


def test_the_consumer_gets_both_and_reads_them_back(real: Synth) -> None:
    _, consumer = real.function("consumer")
    env = consumer["Properties"]["Environment"]["Variables"]
    assert env[Env.LIMIT_NEW_TOPICS_PER_HOUR] == "60"
    assert env[Env.NEW_PERSON_CHALLENGE] == "false"
    assert Limits.from_env(env).new_topics_per_hour == 60


def test_nobody_is_held_longer_than_the_updates_queue_keeps_a_message() -> None:
    # A day's margin: the person's first message comes back, and is handled, before SQS
    # would drop it (retention counts from when it was sent, not from its last receive).
    assert UPDATES_QUEUE.retention_seconds >= LINE_HORIZON_SECONDS + 24 * 3600
